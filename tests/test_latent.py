"""Latent walks and grids on CPU with the tiny test model: interpolation, exact endpoints, files, errors."""
import json

import numpy as np
import pytest
from PIL import Image

import promptlang
from promptlang import latent
from promptlang.errors import PromptError
from promptlang.render import effective

torch = pytest.importorskip("torch")

from conftest import LATENT_SRC  # noqa: E402

SRC = LATENT_SRC


@pytest.fixture(scope="module")
def compiled():
    return promptlang.compile_source(SRC)


@pytest.fixture(scope="module")
def plain(tiny, compiled):
    """name -> pixels of a plain render."""
    out = {}
    for p in compiled.prompts:
        out[p.name] = np.asarray(promptlang.render(p, pipe=tiny, model="builtin:tiny")[0].image)
    return out


def eff(compiled, name):
    return effective(compiled.prompt(name), model="builtin:tiny")


@pytest.fixture
def cli(tiny_cli, in_tmp):
    """Run `promptlang walk|sheet ...` in-process on w.prompt; the tiny pipeline is built once."""
    (in_tmp / "w.prompt").write_text(SRC, encoding="utf-8")
    return tiny_cli


# --------------------------------------------------------------------------- lerp / slerp

def _gauss(seed, shape=(1, 4, 8, 8)):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


CASES = {
    "independent": lambda: (_gauss(1), _gauss(2)),
    "parallel": lambda: (_gauss(1), _gauss(1) * 2.0),
    "identical": lambda: (_gauss(1), _gauss(1)),
    "opposite": lambda: (_gauss(1), -_gauss(1)),
    "nearly opposite": lambda: (_gauss(1), -_gauss(1) + 1e-6 * _gauss(3)),
    "zero": lambda: (torch.zeros(1, 4, 8, 8), _gauss(2)),
    "batch of two": lambda: (torch.cat([_gauss(1), _gauss(5)]), torch.cat([_gauss(2), -_gauss(5)])),
    "float16": lambda: (_gauss(1).half(), _gauss(2).half()),
}


@pytest.mark.parametrize("fn", [latent.lerp, latent.slerp], ids=["lerp", "slerp"])
@pytest.mark.parametrize("case", list(CASES))
def test_endpoints_exact_and_never_nan(fn, case):
    a, b = CASES[case]()
    assert torch.equal(fn(a, b, 0), a) and torch.equal(fn(a, b, 1.0), b)
    for t in (0.001, 0.25, 0.5, 0.75, 0.999):
        mid = fn(a, b, t)
        assert mid.shape == a.shape and mid.dtype == a.dtype
        assert torch.isfinite(mid).all(), (case, t)


def test_slerp_keeps_the_norm_of_noise_where_lerp_shrinks_it():
    a, b = _gauss(1, (1, 4, 64, 64)), _gauss(2, (1, 4, 64, 64))
    norm = a.norm()
    for t in (0.25, 0.5, 0.75):
        assert abs(latent.slerp(a, b, t).norm() / norm - 1) < 0.03
    assert latent.lerp(a, b, 0.5).norm() / norm < 0.75  # ~1/sqrt(2) for independent noise
    assert torch.allclose(latent.lerp(a, b, 0.5), (a + b) / 2, atol=1e-6)


def test_slerp_of_opposite_vectors_turns_through_an_orthogonal_direction():
    a = _gauss(1)
    mid = latent.slerp(a, -a, 0.5)
    assert abs(float(mid.norm() / a.norm()) - 1) < 1e-4  # does not collapse through zero as lerp would
    assert abs(float((mid.flatten() @ a.flatten()) / (mid.norm() * a.norm()))) < 1e-4
    assert torch.allclose(latent.slerp(a, 2 * a, 0.5), 1.5 * a, atol=1e-5)  # parallel: lerp


def test_slerp_is_per_sample_and_checks_shapes():
    a, b = torch.cat([_gauss(1), _gauss(3)]), torch.cat([_gauss(2), _gauss(4)])
    both = latent.slerp(a, b, 0.3)
    assert torch.allclose(both[1:], latent.slerp(a[1:], b[1:], 0.3))
    with pytest.raises(ValueError, match="shapes"):
        latent.slerp(_gauss(1), _gauss(1, (1, 4, 8, 16)), 0.5)


def test_noise_is_what_the_pipeline_draws(tiny):
    n = latent.noise(tiny, 7, 64, 96)
    assert n.shape == (1, 4, 12, 8) and n.dtype == tiny.unet.dtype
    assert torch.equal(n, latent.noise(tiny, 7, 64, 96)) and not torch.equal(n, latent.noise(tiny, 8, 64, 96))


# --------------------------------------------------------------------------- walks and grids

def test_walk_endpoints_are_the_plain_renders(tiny, compiled, plain):
    frames = latent.walk_frames(tiny, eff(compiled, "cat"), eff(compiled, "dog"), 4)
    pixels = [np.asarray(f.image) for f in frames]
    assert [f.t for f in frames] == [0, 1 / 3, 2 / 3, 1]
    assert np.array_equal(pixels[0], plain["cat"]) and np.array_equal(pixels[-1], plain["dog"])
    assert not np.array_equal(pixels[1], pixels[0]) and not np.array_equal(pixels[1], pixels[2])
    assert frames[0].endpoint.name == "cat" and frames[1].endpoint is None and frames[1].weights == \
        {"cat": pytest.approx(2 / 3, abs=1e-6), "dog": pytest.approx(1 / 3, abs=1e-6)}
    again = latent.walk_frames(tiny, eff(compiled, "cat"), eff(compiled, "dog"), 4)
    assert all(np.array_equal(np.asarray(f.image), p) for f, p in zip(again, pixels))  # reproducible


def test_walk_endpoints_are_exact_with_an_ancestral_scheduler(tiny, compiled):
    a = effective(compiled.prompt("cat"), model="builtin:tiny", scheduler="euler_a")
    b = effective(compiled.prompt("fruit"), model="builtin:tiny", scheduler="euler_a")
    frames = latent.walk_frames(tiny, a, b, 2)
    assert np.array_equal(np.asarray(frames[0].image), np.asarray(promptlang.render(a, pipe=tiny)[0].image))
    assert np.array_equal(np.asarray(frames[1].image), np.asarray(promptlang.render(b, pipe=tiny)[0].image))


def test_grid_corners_are_the_four_plain_renders(tiny, compiled, plain):
    names = ["cat", "dog", "fruit", "tower"]
    frames = latent.grid_frames(tiny, *(eff(compiled, n) for n in names), 3)
    assert len(frames) == 9 and all(f.image.size == (64, 64) for f in frames)
    corners = {0: "cat", 2: "dog", 6: "fruit", 8: "tower"}
    for index, name in corners.items():
        assert np.array_equal(np.asarray(frames[index].image), plain[name]), name
    centre = frames[4]
    assert (centre.row, centre.col, centre.u, centre.v) == (1, 1, 0.5, 0.5)
    assert centre.weights == {n: 0.25 for n in names}


def test_walk_warns_when_settings_differ(tiny, compiled):
    warnings = []
    b = effective(compiled.prompt("dog"), model="builtin:tiny", steps=3)
    latent.walk_frames(tiny, eff(compiled, "cat"), b, 2, warnings=warnings)
    assert warnings and "steps 3 (not 2)" in warnings[0] and "`cat`'s settings" in warnings[0]


@pytest.mark.parametrize("call, message", [
    (lambda t, c: latent.walk_frames(t, c[0], c[1], 1), "at least 2 frames"),
    (lambda t, c: latent.grid_frames(t, *c, 1), "at least 2"),
])
def test_frame_counts_are_checked(tiny, compiled, call, message):
    prompts = [eff(compiled, n) for n in ("cat", "dog", "fruit", "tower")]
    with pytest.raises(PromptError, match=message):
        call(tiny, prompts)


# --------------------------------------------------------------------------- the command

def test_walk_command_writes_frames_animation_and_sheet(cli, in_tmp, plain, capsys):
    assert cli("walk", "w.prompt", "--from", "cat", "--to", "dog", "--frames", "3", "-o", "out",
               "--model", "builtin:tiny", "--no-cache") == 0
    names = sorted(p.name for p in (in_tmp / "out").iterdir())
    assert names == ["walk-cat-dog-000.png", "walk-cat-dog-001.png", "walk-cat-dog-002.png",
                     "walk-cat-dog-sheet.png", "walk-cat-dog.gif"]
    out = in_tmp / "out"
    assert np.array_equal(np.asarray(Image.open(out / "walk-cat-dog-000.png").convert("RGB")), plain["cat"])
    assert np.array_equal(np.asarray(Image.open(out / "walk-cat-dog-002.png").convert("RGB")), plain["dog"])
    gif = Image.open(out / "walk-cat-dog.gif")
    assert gif.n_frames == 3 and gif.size == (64, 64)
    # provenance: every frame has the walk record; endpoint frames are also ordinary renders
    middle = latent.read_record(out / "walk-cat-dog-001.png")
    assert middle["kind"] == "walk" and middle["t"] == 0.5 and [e["seed"] for e in middle["endpoints"]] == [1, 2]
    assert middle["source"] == SRC and middle["model"] == "builtin:tiny"
    info, _ = promptlang.provenance.read(out / "walk-cat-dog-002.png")
    assert info["prompt"] == "dog" and info["seed"] == 2
    with pytest.raises(PromptError, match="no promptlang provenance"):
        promptlang.provenance.read(out / "walk-cat-dog-001.png")
    # any frame renders again, pixel for pixel, from its PNG alone
    again = latent.reproduce(out / "walk-cat-dog-001.png", pipe=promptlang.models.load_pipeline("builtin:tiny"))
    assert np.array_equal(np.asarray(again), np.asarray(Image.open(out / "walk-cat-dog-001.png").convert("RGB")))
    sheet = Image.open(out / "walk-cat-dog-sheet.png")
    record = json.loads(sheet.text["promptlang-sheet"])
    lay = record["layout"]
    assert sheet.size == (3 * 64, lay["top"] + 64 + lay["caption"]) and lay["top"] > 0 and lay["caption"] > 0
    assert record["t"] == [0, 0.5, 1]
    # a second run refuses to overwrite, and writes nothing
    before = {p: p.stat().st_mtime_ns for p in out.iterdir()}
    assert cli("walk", "w.prompt", "--from", "cat", "--to", "dog", "--frames", "3", "-o", "out",
               "--model", "builtin:tiny") == 1
    assert "already exists" in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in out.iterdir()} == before


def test_grid_command_writes_tiles_and_a_labelled_grid(cli, in_tmp, plain):
    assert cli("walk", "w.prompt", "--grid", "cat", "dog", "fruit", "tower", "--tiles", "2", "-o", "g",
               "--model", "builtin:tiny", "--no-cache") == 0
    out = in_tmp / "g"
    stem = "grid-cat-dog-fruit-tower"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{stem}.png"] + [f"{stem}-r{r:02d}-c{c:02d}.png" for r in range(2) for c in range(2)])
    for (r, c), name in {(0, 0): "cat", (0, 1): "dog", (1, 0): "fruit", (1, 1): "tower"}.items():
        tile = np.asarray(Image.open(out / f"{stem}-r{r:02d}-c{c:02d}.png").convert("RGB"))
        assert np.array_equal(tile, plain[name]), name
    grid = Image.open(out / f"{stem}.png")
    lay = json.loads(grid.text["promptlang-sheet"])["layout"]
    assert lay["left"] > 0 and lay["top"] > 0
    assert grid.size == (lay["left"] + 2 * 64, lay["top"] + 2 * (64 + lay["caption"]))
    corner = np.asarray(grid.convert("RGB"))[lay["top"]:lay["top"] + 64, lay["left"]:lay["left"] + 64]
    assert np.array_equal(corner, plain["cat"])


@pytest.mark.parametrize("argv, message", [
    (["--from", "cat", "--to", "dgo"], "no prompt named `dgo`.*did you mean `dog`"),
    (["--grid", "cat", "dog", "fruit", "tower", "--frames", "3"], "a grid's side is --tiles K"),
    (["--grid", "cat", "dog", "fruit", "towr"], "did you mean `tower`"),
    (["--grid", "cat", "dog", "fruit", "tower", "--from", "cat"], "not both"),
    (["--from", "cat"], "needs --from A --to B"),
    (["--from", "cat", "--to", "dog", "--tiles", "3"], "--image-size"),
])
def test_walk_errors_are_clear_and_write_nothing(cli, in_tmp, capsys, argv, message):
    assert cli("walk", "w.prompt", "-o", "out", "--model", "builtin:tiny", *argv) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert __import__("re").search(message, err), err
    assert not (in_tmp / "out").exists()


def test_sdxl_walk_endpoints_are_the_plain_renders(compiled):
    from promptlang.models import load_pipeline

    xl = load_pipeline("builtin:tiny-sdxl", "cpu")
    a = effective(compiled.prompt("cat"), model="builtin:tiny-sdxl")  # a negative: pooled negatives differ
    b = effective(compiled.prompt("fruit"), model="builtin:tiny-sdxl")  # no negative: zeros (SDXL config)
    frames = latent.walk_frames(xl, a, b, 3)
    assert np.array_equal(np.asarray(frames[0].image), np.asarray(promptlang.render(a, pipe=xl)[0].image))
    assert np.array_equal(np.asarray(frames[2].image), np.asarray(promptlang.render(b, pipe=xl)[0].image))
