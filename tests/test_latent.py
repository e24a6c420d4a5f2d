"""Latent walks and grids on CPU with the tiny test model: interpolation, exact endpoints, files, errors."""
import json

import numpy as np
import pytest
from PIL import Image

import promptlang
from promptlang.artifacts import records
from promptlang.diffusion import interpolate as latent
from promptlang.diffusion.models import wrap
from promptlang.errors import PromptError
from promptlang.jobs import walk as walk_job
from promptlang.jobs.backend import Frames, Local
from promptlang.jobs.common import prepare as effective

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


def frames(pipe, prompts, positions):
    """The images of a walk or grid at ``positions``, rendered on ``pipe`` through the job's task."""
    model = wrap(pipe, prompts[0].settings.model)
    ((_, made),) = Local(models={model.id: model}).run([Frames(tuple(prompts), tuple(positions))])
    return [np.asarray(image) for _, _, image in made]


def walk_frames(pipe, a, b, n):
    return frames(pipe, [a, b], [(i / (n - 1), 0.0) for i in range(n)])


def grid_frames(pipe, a, b, c, d, k):
    return frames(pipe, [a, b, c, d], [(col / (k - 1), row / (k - 1)) for row in range(k) for col in range(k)])


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
    model = wrap(tiny)
    n = latent.draw(model, 7, 64, 96)[0]
    assert n.shape == (1, 4, 12, 8) and n.dtype == tiny.unet.dtype
    assert torch.equal(n, latent.draw(model, 7, 64, 96)[0]) and not torch.equal(n, latent.draw(model, 8, 64, 96)[0])


# --------------------------------------------------------------------------- walks and grids

def test_walk_endpoints_are_the_plain_renders(tiny, compiled, plain):
    pixels = walk_frames(tiny, eff(compiled, "cat"), eff(compiled, "dog"), 4)
    assert np.array_equal(pixels[0], plain["cat"]) and np.array_equal(pixels[-1], plain["dog"])
    assert not np.array_equal(pixels[1], pixels[0]) and not np.array_equal(pixels[1], pixels[2])
    again = walk_frames(tiny, eff(compiled, "cat"), eff(compiled, "dog"), 4)
    assert all(np.array_equal(a, p) for a, p in zip(again, pixels))  # reproducible
    assert latent.shares(["cat", "dog"], 1 / 3, 0.0) == {"cat": pytest.approx(2 / 3, abs=1e-6),
                                                         "dog": pytest.approx(1 / 3, abs=1e-6)}
    assert latent.exact_endpoint(2, 0.0, 0.0) == 0 and latent.exact_endpoint(2, 1 / 3, 0.0) is None


def test_walk_endpoints_are_exact_with_an_ancestral_scheduler(tiny, compiled):
    a = effective(compiled.prompt("cat"), model="builtin:tiny", scheduler="euler_a")
    b = effective(compiled.prompt("fruit"), model="builtin:tiny", scheduler="euler_a")
    pixels = walk_frames(tiny, a, b, 2)
    assert np.array_equal(pixels[0], np.asarray(promptlang.render(a, pipe=tiny)[0].image))
    assert np.array_equal(pixels[1], np.asarray(promptlang.render(b, pipe=tiny)[0].image))


def test_grid_corners_are_the_four_plain_renders(tiny, compiled, plain):
    names = ["cat", "dog", "fruit", "tower"]
    pixels = grid_frames(tiny, *(eff(compiled, n) for n in names), 3)
    assert len(pixels) == 9 and all(p.shape == (64, 64, 3) for p in pixels)
    corners = {0: "cat", 2: "dog", 6: "fruit", 8: "tower"}
    for index, name in corners.items():
        assert np.array_equal(pixels[index], plain[name]), name
    assert latent.shares(names, 0.5, 0.5) == {n: 0.25 for n in names}
    assert walk_job.frame_record({}, "grid", names, 4, 0.5, 0.5, 3) == {
        "frame": 4, "row": 1, "col": 1, "u": 0.5, "v": 0.5, "weights": {n: 0.25 for n in names}}


def test_walk_warns_when_settings_differ(tmp_path):
    compiled = promptlang.compile_source(SRC.replace("    seed 2\n", "    seed 2\n    steps 3\n"))
    the_plan = walk_job.plan(compiled, ["cat", "dog"], 2, tmp_path / "w", model="builtin:tiny")
    assert the_plan.warnings and "steps 3 (not 2)" in the_plan.warnings[0]
    assert "`cat`'s settings" in the_plan.warnings[0]


@pytest.mark.parametrize("names, count, message", [
    (["cat", "dog"], 1, "at least 2 frames"),
    (["cat", "dog", "fruit", "tower"], 1, "at least 2 tiles"),
    (["cat", "dog", "fruit"], 3, "two endpoints"),
])
def test_frame_counts_are_checked(compiled, tmp_path, names, count, message):
    with pytest.raises(PromptError, match=message):
        walk_job.plan(compiled, names, count, tmp_path / "w", model="builtin:tiny")


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
    middle = records.read(out / "walk-cat-dog-001.png").walk
    assert middle["kind"] == "walk" and middle["t"] == 0.5 and [e["seed"] for e in middle["endpoints"]] == [1, 2]
    assert middle["source"] == SRC and middle["model"] == "builtin:tiny"
    info = records.read(out / "walk-cat-dog-002.png").render
    assert info["prompt"] == "dog" and info["seed"] == 2
    assert records.read(out / "walk-cat-dog-001.png").render is None  # between the endpoints: no render record
    # any frame renders again, pixel for pixel, from its PNG alone
    again = walk_job.reproduce_frame(records.read(out / "walk-cat-dog-001.png"), in_tmp / "again")
    assert np.array_equal(np.asarray(Image.open(again).convert("RGB")),
                          np.asarray(Image.open(out / "walk-cat-dog-001.png").convert("RGB")))
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


@pytest.mark.parametrize("argv, code, message", [
    (["--from", "cat", "--to", "dgo"], 1, "no prompt named `dgo`.*did you mean `dog`"),
    (["--grid", "cat", "dog", "fruit", "tower", "--frames", "3"], 2, "a grid's size is --tiles K"),
    (["--grid", "cat", "dog", "fruit", "towr"], 1, "did you mean `tower`"),
    (["--grid", "cat", "dog", "fruit", "tower", "--from", "cat"], 2, "not both"),
    (["--from", "cat"], 2, "needs --from A --to B"),
    (["--from", "cat", "--to", "dog", "--tiles", "3"], 2, "--image-size"),
])
def test_walk_errors_are_clear_and_write_nothing(cli, in_tmp, capsys, argv, code, message):
    assert cli("walk", "w.prompt", "-o", "out", "--model", "builtin:tiny", *argv) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert __import__("re").search(message, err), err
    assert not (in_tmp / "out").exists()


def test_sdxl_walk_endpoints_are_the_plain_renders(compiled):
    from promptlang.diffusion.models import load_pipeline

    xl = load_pipeline("builtin:tiny-sdxl", "cpu")
    a = effective(compiled.prompt("cat"), model="builtin:tiny-sdxl")  # a negative: pooled negatives differ
    b = effective(compiled.prompt("fruit"), model="builtin:tiny-sdxl")  # no negative: zeros (SDXL config)
    pixels = walk_frames(xl, a, b, 3)
    assert np.array_equal(pixels[0], np.asarray(promptlang.render(a, pipe=xl)[0].image))
    assert np.array_equal(pixels[2], np.asarray(promptlang.render(b, pipe=xl)[0].image))
