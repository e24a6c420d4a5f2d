"""Labelled grids and `promptlang sheet` on CPU with the tiny test model."""
import json
import re

import numpy as np
import pytest
from PIL import Image

import promptlang
from promptlang.artifacts.grid import labelled_grid
from promptlang.jobs import sheet
from promptlang.errors import PromptError

SRC = '''use core
defaults {
    size 64x64
    steps 2
}
prompt meeting {
    subject "a business meeting"
    style van_gogh
    seed 5
}
prompt cat {
    subject "a cat"
    seed 6
}
'''


@pytest.fixture
def cli(tiny_cli, in_tmp):
    """Run `promptlang walk|sheet ...` in-process on s.prompt; the tiny pipeline is built once."""
    (in_tmp / "s.prompt").write_text(SRC, encoding="utf-8")
    return tiny_cli


def test_labelled_grid_geometry():
    tiles = [[Image.new("RGB", (64, 48), (i * 40, j * 40, 0)) for j in range(3)] for i in range(2)]
    lay = labelled_grid(tiles, row_labels=["first row", "second"], col_labels=["a", "b", "a long column label"])
    assert lay.left > 0 and lay.top > 0 and lay.caption == 0
    assert lay.image.size == (lay.left + 3 * 64, lay.top + 2 * 48)
    cell = np.asarray(lay.image)[lay.top + 48:lay.top + 96, lay.left + 128:lay.left + 192]
    assert (cell == (40, 80, 0)).all()  # tile (1, 2) is where it belongs
    margin = np.asarray(lay.image)[:lay.top, lay.left:]
    assert (margin != 255).any()  # the labels are drawn
    bare = labelled_grid(tiles)
    assert bare.image.size == (192, 96)


def test_varied_replaces_a_slot_and_resolves_again():
    result = promptlang.compile_source(SRC)
    dali = sheet.varied(result, "meeting", "style", "dali")
    text = promptlang.ir.join_text(dali.segments[0].positive)
    assert "Dal" in text and "van Gogh" not in text
    steps = sheet.varied(result, "cat", "steps", "7")
    assert steps.settings.steps == 7 and steps.segments == result.prompt("cat").segments
    with pytest.raises(PromptError, match=r"--vary style=dalli: unknown style `dalli`; did you mean `dali`"):
        sheet.varied(result, "meeting", "style", "dalli")
    with pytest.raises(PromptError, match="no prompt named `meetin`"):
        sheet.varied(result, "meetin", "style", "dali")
    with pytest.raises(PromptError, match="--vary colour=red"):
        sheet.varied(result, "meeting", "colour", "red")


def test_sheet_command_rows_are_vary_values_columns_are_seeds(cli, in_tmp, tiny):
    assert cli("sheet", "s.prompt", "--prompts", "meeting", "--vary", "style=van_gogh,dali,picasso",
               "--seeds", "1,2", "-o", "cmp.png", "--model", "builtin:tiny", "--no-cache", "-q") == 0
    image = Image.open(in_tmp / "cmp.png")
    record = json.loads(image.text["promptlang-sheet"])
    lay = record["layout"]
    assert (lay["rows"], lay["cols"], lay["tile"]) == (3, 2, [64, 64])
    assert image.size == (lay["left"] + 2 * 64, lay["top"] + 3 * 64)
    assert record["row_labels"] == ["meeting · style=van_gogh", "meeting · style=dali", "meeting · style=picasso"]
    assert record["col_labels"] == ["seed 1", "seed 2"]
    tiles = sorted(p.name for p in (in_tmp / "cmp-tiles").iterdir())
    assert len(tiles) == 6 and [t["file"] for t in record["tiles"]][0] == "cmp-tiles/" + tiles[0]
    # each tile is an ordinary render with provenance: its IR holds the varied slot
    tile = record["tiles"][3]  # row 1 (dali), column 1 (seed 2)
    assert (tile["row"], tile["col"], tile["seed"], tile["vary"]) == (1, 1, 2, "style=dali")
    found = promptlang.artifacts.records.read(in_tmp / tile["file"])
    info, params = found.render, found.parameters
    prompt = promptlang.ir.from_json(info["ir"])
    assert "Dal" in promptlang.ir.join_text(prompt.segments[0].positive) and info["seed"] == 2 and "Seed: 2" in params
    again = promptlang.render(prompt, pipe=tiny, seed=2)[0].image
    pixels = np.asarray(Image.open(in_tmp / tile["file"]).convert("RGB"))
    assert np.array_equal(np.asarray(again), pixels)
    top, left = lay["top"] + 64, lay["left"] + 64  # the same pixels sit in the sheet at row 1, column 1
    assert np.array_equal(np.asarray(image.convert("RGB"))[top:top + 64, left:left + 64], pixels)


def test_sheet_defaults_and_models(cli, in_tmp):
    assert cli("sheet", "s.prompt", "--models", "builtin:tiny", "--no-cache", "-q") == 0
    record = json.loads(Image.open(in_tmp / "s-sheet.png").text["promptlang-sheet"])
    assert record["row_labels"] == ["meeting", "cat"] and record["col_labels"] == ["builtin:tiny"]
    assert [t["seed"] for t in record["tiles"]] == [5, 6]


@pytest.mark.parametrize("argv, code, message", [
    (["--prompts", "meeting,cta"], 1, "no prompt named `cta`.*did you mean `cat`"),
    (["--vary", "style=van_gogh,dalli"], 1, "unknown style `dalli`; did you mean `dali`"),
    (["--vary", "style"], 2, "expected SLOT=VALUE"),
    (["--vary", "stylez=a,b"], 2, "`stylez` is neither a slot nor a setting; did you mean `style`"),
    (["-o", "sheet.jpg"], 1, "ending in .png"),
    (["-o", "nowhere/s.png"], 1, "the folder nowhere does not exist"),
    (["--models", "builtin:tiny", "--model", "builtin:tiny"], 2, "not both"),
    (["--models", "builtin:tiny,./no-model"], 1, "no-model` not found"),
])
def test_sheet_errors_are_clear_and_write_nothing(cli, in_tmp, capsys, argv, code, message):
    if "--model" not in argv and "--models" not in argv:
        argv = argv + ["--model", "builtin:tiny"]
    assert cli("sheet", "s.prompt", *argv) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err and re.search(message, err), err
    assert sorted(p.name for p in in_tmp.iterdir()) == ["s.prompt"]


def test_sheet_refuses_to_overwrite(cli, in_tmp, capsys):
    args = ("sheet", "s.prompt", "--prompts", "cat", "--model", "builtin:tiny", "--no-cache", "-q")
    assert cli(*args) == 0
    before = {p: p.stat().st_mtime_ns for p in in_tmp.rglob("*")}
    assert cli(*args) == 1 and "already exists" in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in in_tmp.rglob("*")} == before
    assert cli(*args, "--overwrite") == 0
