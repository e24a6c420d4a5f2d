"""The shapes world (promptlang.shapes.world) and its checker (promptlang.shapes.check):
pictures and captions are deterministic from a seed, say what the scene holds, and the
checker reads the world's own pictures back right (no model involved; no torch)."""
from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest

from promptlang.shapes import check, world


def test_same_seed_same_picture_and_caption():
    a, b, c = world.sample(5), world.sample(5), world.sample(6)
    assert np.array_equal(a[0], b[0]) and a[1] == b[1] and a[2] == b[2]
    assert not np.array_equal(a[0], c[0])
    assert a[0].shape == (32, 32, 3) and a[0].dtype == np.uint8


def test_every_field_varies_over_seeds():
    scenes = [world.scene(s) for s in range(400)]
    assert {s.shape for s in scenes} == set(world.SHAPES)
    assert {s.colour for s in scenes} == set(world.COLOURS)
    assert {s.format for s in scenes} == set(world.FORMATS)
    assert {s.size for s in scenes} == set(world.SIZES)
    assert all(s.colour != s.background for s in scenes)
    assert len({(round(s.x), round(s.y)) for s in scenes}) > 50


def test_caption_says_the_scene():
    sc = world.scene(0, shape="star", colour="red", background="blue", size="medium", format="pixel")
    assert world.caption(sc) == "a red star on a blue background, pixel art"
    sc = world.scene(0, shape="circle", colour="yellow", background="black", size="large", format="photo")
    assert world.caption(sc) == "a large yellow circle on a black background, photo"
    for seed in range(200):  # varied captions still name the colour and shape, and drop only extras
        sc = world.scene(seed)
        text = world.caption(sc, random.Random(seed))
        assert f"{sc.colour} {sc.shape}" in text
        assert sc.background not in text or f"{sc.background} background" in text


def test_fixed_fields_and_article():
    sc = world.scene(3, colour="yellow", shape="square", size="small")
    assert (sc.colour, sc.shape, sc.size) == ("yellow", "square", "small")
    assert world.subject(world.scene(1, colour="red", size="medium", background="white")).startswith("a red ")


def test_formats_look_different():
    base = dict(shape="square", colour="red", background="blue", size="large", x=16.0, y=16.0)
    flat = world.draw(world.scene(0, format="flat", **base)).astype(int)
    outline = world.draw(world.scene(0, format="outline", **base)).astype(int)
    photo = world.draw(world.scene(0, format="photo", **base), seed=1).astype(int)
    assert np.array_equal(flat[16, 16], world.COLOURS["red"])  # filled
    assert np.array_equal(outline[16, 16], world.COLOURS["blue"])  # hollow
    assert np.abs(photo - flat).mean() > 5  # noise and light


@pytest.mark.parametrize("fmt", world.FORMATS)
def test_checker_reads_a_clear_picture_of_each_format(fmt):
    for shape in world.SHAPES:
        sc = world.scene(1, shape=shape, colour="red", background="white", size="large", format=fmt,
                         x=15.7, y=16.3)
        got = check.read(world.draw(sc, 1))
        assert (got.colour, got.background, got.shape, got.format) == ("red", "white", shape, fmt)


def test_checker_on_the_worlds_own_pictures():
    n, hits = 300, Counter()
    for seed in range(n):
        sc = world.scene(seed)
        hits.update(k for k, ok in check.matches(check.read(world.draw(sc, seed)), sc).items() if ok)
    assert hits["colour"] / n >= 0.98 and hits["background"] / n >= 0.98
    assert hits["shape"] / n >= 0.93 and hits["format"] / n >= 0.95


def test_colour_shares_follow_the_picture():
    sc = world.scene(0, shape="square", colour="red", background="blue", size="large", format="flat")
    shares = check.colour_shares(world.draw(sc))
    assert shares["red"] + shares["blue"] > 0.9 and 0.2 < shares["red"] < 0.6
    assert abs(sum(shares.values()) - 1) < 1e-6


def test_checker_takes_pil_images_of_any_size():
    from PIL import Image

    sc = world.scene(2, shape="circle", colour="green", background="purple", size="large", format="flat")
    big = Image.fromarray(world.draw(sc)).resize((64, 64), Image.Resampling.NEAREST)
    got = check.read(big)
    assert (got.colour, got.background, got.shape) == ("green", "purple", "circle")


def test_blank_picture_has_no_shape():
    got = check.read(np.full((32, 32, 3), 200, dtype=np.uint8))
    assert got.colour is None and got.shape is None
