"""builtin:shapes follows its prompts: the effects promptlang's language promises, seen
in the pixels of a real (tiny, trained) model on a CPU. Weights, negatives, prompt edits,
blends and walks each move the picture the way the prompt says, measured with
promptlang.shapes.check. Marked `shapes` (`pytest -m shapes`); a few seconds each."""
from __future__ import annotations

import numpy as np
import pytest

import promptlang
from promptlang.shapes import check

pytestmark = pytest.mark.shapes

SEEDS = (1, 2, 3, 4)
STEPS = 12


@pytest.fixture(scope="module")
def shapes():
    from promptlang.diffusion.models import load_pipeline

    return load_pipeline("builtin:shapes", "cpu")


def renders(shapes, body: str, seeds=SEEDS, steps=STEPS, **settings):
    """The images of one prompt (its slots in ``body``) for each seed."""
    (prompt,) = promptlang.compile("prompt p {\n" + body + "\n}")
    return [promptlang.render(prompt, pipe=shapes, model="builtin:shapes", seed=s, steps=steps, **settings)[0].image
            for s in seeds]


def share(images, colour: str) -> float:
    """The mean share of pixels nearest ``colour`` over the images."""
    return float(np.mean([check.colour_shares(im)[colour] for im in images]))


def tint(images, colour: str) -> float:
    """How much of ``colour`` the images hold: each pixel's colour (its RGB less its grey)
    projected on the direction of ``colour``'s, averaged over all pixels. Unlike the share
    of pixels nearest a colour, it sees a red turn deeper or paler."""
    from promptlang.shapes.world import COLOURS

    d = np.asarray(COLOURS[colour], dtype=np.float32)
    d = (d - d.mean()) / np.linalg.norm(d - d.mean())
    return float(np.mean([((a - a.mean(-1, keepdims=True)) @ d).mean()
                          for a in (np.asarray(im, dtype=np.float32) for im in images)]))


def redness(images) -> float:
    """Mean red minus blue channel, over all pixels of all images (red high, blue low)."""
    return float(np.mean([np.asarray(im, dtype=np.float32)[..., 0] - np.asarray(im, dtype=np.float32)[..., 2]
                          for im in images]))


def test_loads_as_a_trained_model_at_its_own_size(shapes):
    from promptlang.diffusion.models import is_test_model, wrap

    model = wrap(shapes, "builtin:shapes")
    assert not is_test_model(shapes) and model.native == 32
    (image,) = [r.image for r in promptlang.render(promptlang.compile('prompt p { subject "a red circle" }')[0],
                                                   pipe=shapes, model="builtin:shapes", seed=1, steps=4)]
    assert image.size == (32, 32)


def test_renders_what_the_prompt_says(shapes):
    for colour, shape, bg in (("red", "circle", "white"), ("blue", "square", "yellow"), ("white", "star", "green")):
        images = renders(shapes, f'subject "a {colour} {shape} on a {bg} background"', seeds=(1, 2, 3))
        readings = [check.read(im) for im in images]
        assert sum(r.colour == colour for r in readings) >= 2, (colour, readings)
        assert sum(r.background == bg for r in readings) >= 2, (bg, readings)


@pytest.mark.parametrize("colour, background", [("red", "white"), ("blue", "yellow")])
def test_a_higher_weight_on_a_colour_word_raises_that_colour(shapes, colour, background):
    """Each step up in weight deepens the colour; above 1 it can only stay (or grow) where the
    model already draws the colour as fully as it can (red on white: 1.6 changes little)."""
    seeds = range(1, 9)
    low, mid, plain, high = (tint(renders(shapes, f'subject "a" "{colour}"{w} "circle on a {background} background"',
                                          seeds=seeds), colour) for w in (":0.4", ":0.7", "", ":1.6"))
    assert low < mid < plain, (low, mid, plain)
    assert high >= plain - 0.05 * (plain - low), (plain, high)  # no fading back


def test_a_negative_lowers_a_colour(shapes):
    """The colour the model gives "a circle" most often, named in the negative, fades."""
    from promptlang.shapes.world import COLOURS

    seeds = range(1, 9)
    plain = renders(shapes, 'subject "a circle on a white background"', seeds=seeds)
    colour = max((c for c in COLOURS if c != "white"), key=lambda c: share(plain, c))
    assert share(plain, colour) > 0.05, colour  # there is some to take away
    avoided = renders(shapes, f'subject "a circle on a white background"\nnegative "{colour}"', seeds=seeds)
    assert share(avoided, colour) < 0.5 * share(plain, colour), (colour, share(avoided, colour), share(plain, colour))


def test_an_edit_halfway_lands_between_the_plain_renders(shapes):
    red = redness(renders(shapes, 'subject "a red square on a white background"'))
    blue = redness(renders(shapes, 'subject "a blue square on a white background"'))
    edit = redness(renders(shapes, 'subject "a" "red" -> "blue" at 0.5 "square on a white background"'))
    assert blue < edit < red, (blue, edit, red)


def test_a_blend_is_nearer_its_heavier_part(shapes):
    red = redness(renders(shapes, 'subject "a red circle on a white background"'))
    blue = redness(renders(shapes, 'subject "a blue circle on a white background"'))
    mostly_red = redness(renders(shapes, 'subject blend "a red circle on a white background":0.8, '
                                         '"a blue circle on a white background":0.2'))
    mostly_blue = redness(renders(shapes, 'subject blend "a red circle on a white background":0.2, '
                                          '"a blue circle on a white background":0.8'))
    assert abs(mostly_red - red) < abs(mostly_red - blue), (red, mostly_red, blue)
    assert abs(mostly_blue - blue) < abs(mostly_blue - red), (red, mostly_blue, blue)


def test_a_walks_middle_frames_move_monotonically(shapes, monkeypatch, tmp_path):
    import promptlang.diffusion.models
    from PIL import Image

    from promptlang.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(promptlang.diffusion.models, "load_pipeline", lambda model, device="cpu", **kw: shapes)
    (tmp_path / "w.prompt").write_text(
        'defaults {\n  model "builtin:shapes"\n  seed 3\n}\n'
        'prompt red { subject "a red circle on a white background" }\n'
        'prompt blue { subject "a blue circle on a white background" }\n', encoding="utf-8")
    assert main(["walk", "w.prompt", "--from", "red", "--to", "blue", "--frames", "6", "-o", "walks",
                 "--steps", str(STEPS), "-q"]) == 0
    frames = sorted((tmp_path / "walks").glob("walk-red-blue-0*.png"))
    assert len(frames) == 6
    values = [redness([Image.open(f).convert("RGB")]) for f in frames]
    span = values[0] - values[-1]
    assert span > 50, values  # the walk goes from red to blue
    # every step goes the same way, give or take 5 % of the whole way (sampling is not linear)
    assert all(b <= a + 0.05 * span for a, b in zip(values, values[1:])), values
    assert values[1] > values[-1] and values[-2] < values[0]


def test_an_unknown_builtin_suggests_the_nearest():
    from promptlang.diffusion.models import locate
    from promptlang.errors import PromptError

    with pytest.raises(PromptError, match="did you mean `builtin:shapes`"):
        locate("builtin:shape")
    assert locate("builtin:shapes") == ("builtin", None)


def test_the_command_line_renders_it_at_32_without_the_noise_note(shapes, monkeypatch, tmp_path, capsys):
    import promptlang.diffusion.models
    from PIL import Image

    from promptlang.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(promptlang.diffusion.models, "load_pipeline", lambda model, device="cpu", **kw: shapes)
    (tmp_path / "s.prompt").write_text('use shapes\nprompt p {\n  subject "a red circle on a white background"\n'
                                       '  format pixel_art\n  seed 1\n  steps 4\n}\n', encoding="utf-8")
    assert main(["render", "s.prompt", "--model", "builtin:shapes", "-o", "out"]) == 0
    err = capsys.readouterr().err
    assert "renders noise" not in err
    (png,) = (tmp_path / "out").rglob("p-1.png")
    assert Image.open(png).size == (32, 32)
    # a second run with --resume finds the finished render (its size is the model's own)
    before = png.stat().st_mtime_ns
    assert main(["render", "s.prompt", "--model", "builtin:shapes", "-o", "out", "--resume"]) == 0
    assert "1 of 1 images are already there" in capsys.readouterr().out
    assert png.stat().st_mtime_ns == before


def test_the_shapes_captioner_names_the_worlds_own_pictures():
    """builtin:shapes' zero-shot captioner (its CLIP choosing among the world's 504 subjects)
    reads the world's pictures right: a floor for what it can do on renders."""
    from PIL import Image

    from promptlang.diffusion.caption import load_captioner
    from promptlang.shapes import world

    scenes = [world.scene(50_000 + i) for i in range(60)]
    captions = load_captioner("builtin:shapes", "cpu").caption(
        [Image.fromarray(world.draw(sc, 50_000 + i)) for i, sc in enumerate(scenes)])
    right = sum(f"{sc.colour} {sc.shape} on" in c and f"on a {sc.background} " in c.replace("an ", "a ")
                for sc, c in zip(scenes, captions))
    assert right >= 0.7 * len(scenes), list(zip(captions, scenes))


def test_describe_names_the_colour_and_shape_of_a_render(shapes, in_tmp):
    """`promptlang describe` on this model's renders (saved without provenance, so they are
    ranked, not read back): its first candidate's subject has the right colour and shape,
    for the renders that do show their prompt (as promptlang.shapes.check reads them)."""
    from promptlang.cli import main
    from promptlang.compiler import compile_file
    from promptlang.targets import plain

    cases = [("red", "circle", "white"), ("blue", "square", "yellow"), ("green", "star", "black"),
             ("yellow", "triangle", "blue"), ("white", "circle", "purple"), ("purple", "square", "green"),
             ("black", "star", "yellow"), ("red", "triangle", "green")]
    files = []
    for colour, shape, background in cases:
        for seed, image in zip((1, 2), renders(shapes, f'subject "a {colour} {shape} on a {background} background"',
                                                seeds=(1, 2), steps=20)):
            reading = check.read(image)
            if (reading.colour, reading.shape) == (colour, shape):
                files.append(in_tmp / f"{colour}-{shape}-{seed}.png")
                image.save(files[-1])  # a plain PNG: no provenance
    assert len(files) >= 8, len(files)  # the model mostly renders what it is told (bench/shapes_adherence.py)
    assert main(["describe", *map(str, files), "--model", "builtin:shapes", "--caption-model", "builtin:shapes",
                 "-u", "shapes", "-c", "1", "-o", "described", "-q"]) == 0
    said = {}
    for path in files:
        (prompt,) = compile_file(in_tmp / "described" / f"{path.stem}-1.prompt").prompts
        said[path.stem] = plain.emit(prompt)
    right = [stem for stem, text in said.items() if " ".join(stem.split("-")[:2]) in text]
    assert len(right) >= 0.6 * len(files), said  # chance: 1 in 28 (7 colours x 4 shapes)


def test_an_unknown_builtin_captioner_suggests_the_nearest():
    from promptlang.diffusion.caption import locate_captioner
    from promptlang.diffusion.clip import shapes_folder
    from promptlang.errors import PromptError

    with pytest.raises(PromptError, match="did you mean `builtin:shapes`"):
        locate_captioner("builtin:shape")
    assert locate_captioner("builtin:shapes") == shapes_folder()
