"""`promptlang show` and `promptlang reproduce` on what `walk` and `sheet` write: walk frames
(endpoints and in-between), grid tiles (corners and inner), sheet tiles, and the composite
images (contact sheet, labelled grid, sheet), on CPU with the tiny test model."""
import json
import re

import numpy as np
import pytest
from PIL import Image

import promptlang.diffusion.models
from promptlang.artifacts import records
from promptlang.cli import main

pytest.importorskip("torch")

from conftest import LATENT_SRC, Raw, tamper  # noqa: E402

SRC = LATENT_SRC
GRID = "grid-cat-dog-fruit-tower"


@pytest.fixture(scope="module")
def made(tiny, tmp_path_factory):
    """One walk (3 frames), one 3x3 grid and one 2x2 sheet, rendered once for the module."""
    root = tmp_path_factory.mktemp("made")
    (root / "w.prompt").write_text(SRC, encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(promptlang.diffusion.models, "load_pipeline", lambda model, device="cpu", **kw: tiny)
        mp.chdir(root)
        common = ["--model", "builtin:tiny", "--no-cache"]
        assert main(["walk", "w.prompt", "--from", "cat", "--to", "dog", "--frames", "3", "-o", "walk", *common]) == 0
        assert main(["walk", "w.prompt", "--grid", "cat", "dog", "fruit", "tower", "--tiles", "3", "-o", "grid",
                     *common]) == 0
        assert main(["sheet", "w.prompt", "--prompts", "cat,dog", "--seeds", "1,2", "-o", "s.png", "-q",
                     *common]) == 0
    return root


def pixels(path):
    return np.asarray(Image.open(path).convert("RGB"))


def run(cli, capsys, *argv):
    capsys.readouterr()
    code = cli(*argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


# --------------------------------------------------------------------------- show

def test_show_a_frame_between_the_endpoints(tiny_cli, made, capsys):
    code, out, _ = run(tiny_cli, capsys, "show", str(made / "walk" / "walk-cat-dog-001.png"))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("walk:      frame 1 (t=0.500) of 3 frames, from `cat` to `dog`")
    assert "(from w.prompt)" in lines[0]
    assert re.search(r"^prompts:   cat  \(from\) seed 1  share 50%$", out, re.M), out
    assert re.search(r"^           dog  \(to\)   seed 2  share 50%$", out, re.M), out
    assert "model:     builtin:tiny  (random-weight test model)" in out
    assert "size: 64x64   steps: 2   guidance: 7.5   scheduler: model default" in out
    assert "compel:    cat: a cat" in out and "dog: a watercolor painting of a dog" in out
    assert "catalog:   core " in out and "source:\n  use core" in out


def test_show_a_walk_frame_at_a_third(tiny_cli, made, in_tmp, capsys):
    """Shares follow t: a 4-frame walk's frame 1 is two thirds `cat`."""
    assert tiny_cli("walk", str(made / "w.prompt"), "--from", "cat", "--to", "dog", "--frames", "4", "-o", "w4",
                    "--model", "builtin:tiny", "--no-cache") == 0
    code, out, _ = run(tiny_cli, capsys, "show", "w4/walk-cat-dog-001.png")
    assert code == 0 and "frame 1 (t=0.333) of 4 frames" in out
    assert "cat  (from) seed 1  share 66.67%" in out and "dog  (to)   seed 2  share 33.33%" in out


def test_show_an_inner_grid_tile(tiny_cli, made, capsys):
    code, out, _ = run(tiny_cli, capsys, "show", str(made / "grid" / f"{GRID}-r01-c01.png"))
    assert code == 0
    assert out.startswith("grid:      tile row 1, column 1 (u=0.500 v=0.500) of a 3x3 grid with corners `cat` "
                          "(top left), `dog` (top right), `fruit` (bottom left), `tower` (bottom right)")
    for name, corner, seed in [("cat", "top-left", 1), ("dog", "top-right", 2), ("fruit", "bottom-left", 3),
                               ("tower", "bottom-right", 4)]:
        assert re.search(rf"{name} +\({corner}\) +seed {seed}  share 25%$", out, re.M), (name, out)
    assert "size: 64x64   steps: 2" in out and "builtin:tiny" in out


def test_show_an_edge_tile_of_the_grid(tiny_cli, made, capsys):
    """Not a corner, so not any prompt's render: half `cat`, half `dog`, nothing of the bottom row."""
    code, out, _ = run(tiny_cli, capsys, "show", str(made / "grid" / f"{GRID}-r00-c01.png"))
    assert code == 0 and "tile row 0, column 1 (u=0.500 v=0.000)" in out
    assert re.search(r"cat +\(top-left\) +seed 1  share 50%$", out, re.M)
    assert re.search(r"fruit +\(bottom-left\) +seed 3  share 0%$", out, re.M)


def test_show_a_walk_endpoint_is_a_render_that_says_where_it_sits(tiny_cli, made, capsys):
    code, out, _ = run(tiny_cli, capsys, "show", str(made / "walk" / "walk-cat-dog-002.png"))
    assert code == 0
    assert out.startswith("prompt:    dog  (from w.prompt)")
    assert "seed:      2   size: 64x64   steps: 2" in out
    assert "walk:      frame 2 (t=1.000) of 3 frames, from `cat` to `dog`; this frame is exactly `dog`'s render" in out
    code, out, _ = run(tiny_cli, capsys, "show", str(made / "grid" / f"{GRID}-r02-c00.png"))
    assert code == 0 and out.startswith("prompt:    fruit") and "exactly `fruit`'s render" in out


def test_show_a_sheet_tile_says_its_row_and_column(tiny_cli, made, capsys):
    code, out, _ = run(tiny_cli, capsys, "show", str(made / "s-tiles" / "s-r01-c00-dog-1.png"))
    assert code == 0 and out.startswith("prompt:    dog")
    assert "seed:      1 " in out and "sheet:     row 1 (dog), column 0 (seed 1) of s.png" in out


def test_show_json_of_a_frame_is_its_walk_record(tiny_cli, made, capsys):
    path = made / "walk" / "walk-cat-dog-001.png"
    code, out, _ = run(tiny_cli, capsys, "show", str(path), "--json")
    assert code == 0 and json.loads(out) == records.read(path).walk
    code, out, _ = run(tiny_cli, capsys, "show", str(made / "walk" / "walk-cat-dog-000.png"), "--json")
    assert code == 0 and json.loads(out)["prompt"] == "cat"  # an endpoint: its render record, as before


@pytest.mark.parametrize("name, first, tiles", [
    ("s.png", "sheet:     a sheet: 2 rows x 2 columns of 64x64 tiles", "s-tiles/s-r00-c00-cat-1.png"),
    ("walk/walk-cat-dog-sheet.png", "sheet:     the contact sheet of a walk from `cat` to `dog`: 1 row x 3 columns",
     "walk/walk-cat-dog-001.png"),
    (f"grid/{GRID}.png", "sheet:     the labelled image of a grid between `cat`, `dog`, `fruit`, `tower`: 3 rows",
     f"grid/{GRID}-r01-c01.png"),
])
def test_show_a_composite_image_lists_its_tiles(tiny_cli, made, capsys, name, first, tiles):
    code, out, _ = run(tiny_cli, capsys, "show", str(made / name))
    assert code == 0 and out.startswith(first) and str(made / tiles) in out


# --------------------------------------------------------------------------- reproduce

def test_reproduce_a_frame_between_the_endpoints_is_pixel_identical(tiny_cli, made, in_tmp, capsys):
    original = made / "walk" / "walk-cat-dog-001.png"
    code, out, _ = run(tiny_cli, capsys, "reproduce", str(original), "-o", "again", "-q")
    assert code == 0
    again = in_tmp / "again" / "walk-cat-dog-001.png"
    assert sorted(p.name for p in (in_tmp / "again").iterdir()) == ["walk-cat-dog-001.png"]
    assert out.startswith(f"again/walk-cat-dog-001.png  (walk frame 1, t=0.500, reproduced from {original})")
    assert np.array_equal(pixels(again), pixels(original))
    for end in ("walk-cat-dog-000.png", "walk-cat-dog-002.png"):  # a real mix, not an endpoint
        assert not np.array_equal(pixels(again), pixels(made / "walk" / end))
    assert records.read(again).walk == records.read(original).walk  # it can be shown and reproduced again
    code, out, _ = run(tiny_cli, capsys, "show", str(again))
    assert code == 0 and "frame 1 (t=0.500) of 3 frames" in out


def test_reproduce_inner_grid_tiles_is_pixel_identical(tiny_cli, made, in_tmp, capsys):
    for tile in (f"{GRID}-r01-c01.png", f"{GRID}-r02-c01.png"):
        original = made / "grid" / tile
        code, out, _ = run(tiny_cli, capsys, "reproduce", str(original), "-o", "again", "-q")
        assert code == 0 and out.startswith(f"again/{tile}  (grid frame ")
        assert np.array_equal(pixels(in_tmp / "again" / tile), pixels(original)), tile


def test_reproduce_a_walk_endpoint_and_a_sheet_tile_as_renders(tiny_cli, made, in_tmp, capsys):
    """Each is written under the name it had (two tiles of one prompt and seed never collide)."""
    for original in [made / "walk" / "walk-cat-dog-000.png", made / "grid" / f"{GRID}-r00-c02.png",
                     made / "s-tiles" / "s-r01-c00-dog-1.png"]:
        written = original.name
        code, out, _ = run(tiny_cli, capsys, "reproduce", str(original), "-o", "again", "-q")
        assert code == 0 and out.startswith(f"again/{written}  (seed ")
        assert np.array_equal(pixels(in_tmp / "again" / written), pixels(original)), original.name


def test_reproduce_a_frame_refuses_to_overwrite(tiny_cli, made, in_tmp, capsys):
    original = str(made / "walk" / "walk-cat-dog-001.png")
    assert tiny_cli("reproduce", original, "-o", "again", "-q") == 0
    target = in_tmp / "again" / "walk-cat-dog-001.png"
    before = target.stat().st_mtime_ns
    code, _, err = run(tiny_cli, capsys, "reproduce", original, "-o", "again", "-q")
    assert code == 1 and "already exists" in err and target.stat().st_mtime_ns == before
    assert tiny_cli("reproduce", original, "-o", "again", "-q", "--overwrite") == 0
    (in_tmp / "afile").write_text("x")
    code, _, err = run(tiny_cli, capsys, "reproduce", original, "-o", "afile", "-q")
    assert code == 1 and err.strip() == "error: --out afile is a file, not a folder"


# --------------------------------------------------------------------------- errors

@pytest.mark.parametrize("name", ["s.png", "walk/walk-cat-dog-sheet.png", f"grid/{GRID}.png"])
def test_reproduce_a_composite_image_names_a_tile_instead(tiny_cli, made, in_tmp, capsys, name):
    code, out, err = run(tiny_cli, capsys, "reproduce", str(made / name), "-o", "again")
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1
    assert "not one render: reproduce one of its tiles, such as " in err
    assert not (in_tmp / "again").exists()


def test_the_walk_animation_has_no_provenance(tiny_cli, made, in_tmp, capsys):
    for command in ("show", "reproduce"):
        code, _, err = run(tiny_cli, capsys, command, str(made / "walk" / "walk-cat-dog.gif"))
        assert code == 1 and len(err.strip().splitlines()) == 1 and "has no promptlang provenance" in err
    assert not (in_tmp / "reproduced").exists()


def _tamper(src, dst, change):
    """Copy a frame PNG with its `promptlang-walk` chunk changed (``change`` edits the record, or returns Raw text)."""
    tamper(src, dst, change, chunk=records.WALK)


def _endpoint(i, key, value):
    return lambda r: r["endpoints"][i].__setitem__(key, value)


@pytest.mark.parametrize("change, message", [
    (lambda r: Raw("{not json"), "chunk is damaged"),
    (lambda r: Raw("[1, 2]"), "bad kind"),
    (lambda r: r["endpoints"][0]["ir"].__setitem__("name", "../../escape"), "bad prompt name"),
    (_endpoint(1, "name", "../../escape"), "bad prompt name"),
    (_endpoint(0, "seed", "7"), "bad seed"),
    (_endpoint(0, "seed", 2**40), "bad seed"),
    (lambda r: r.__setitem__("t", 2.0), "bad t"),
    (lambda r: r.__setitem__("frame", 99), "bad frame number"),
    (lambda r: r.__setitem__("frames", 1), "bad frame count"),
    (lambda r: r.__setitem__("kind", "spiral"), "bad kind"),
    (lambda r: r["endpoints"].pop(), "bad endpoints"),
    (lambda r: r.pop("model"), "bad model"),
    (lambda r: r["settings"].__setitem__("scheduler", "bogus"), "unknown scheduler"),
    (lambda r: r["settings"].__setitem__("width", 60), "multiple of 8"),
    (lambda r: r["settings"].__setitem__("steps", 0), "bad steps"),
    (lambda r: r["settings"].__setitem__("seed", 5), "bad settings"),
    (lambda r: r.pop("settings"), "'settings'"),
])
def test_damaged_walk_records_are_refused_in_one_line(tiny_cli, made, in_tmp, capsys, change, message):
    _tamper(made / "walk" / "walk-cat-dog-001.png", in_tmp / "evil.png", change)
    for command in (["show", "evil.png"], ["show", "evil.png", "--json"], ["reproduce", "evil.png", "-o", "again"]):
        code, out, err = run(tiny_cli, capsys, *command)
        assert code == 1 and out == "", command
        assert len(err.strip().splitlines()) == 1, err
        assert "evil.png: its `promptlang-walk` chunk is damaged" in err and message in err, err
    assert sorted(p.name for p in in_tmp.iterdir()) == ["evil.png"]
