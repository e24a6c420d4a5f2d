"""PNGs written before the IR became one schedule (tests/fixtures/legacy, made with the
code of that time) still `show` and `reproduce` pixel for pixel."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from promptlang.cli import main

LEGACY = Path(__file__).resolve().parent / "fixtures" / "legacy"
SINGLE = ["meeting_oil-42.png", "dog_fruit-7.png", "cat_to_dog-7.png", "sailor_mix-7.png", "meeting-42-sdxl.png",
          "walk-cat-dog-000.png", "walk-cat-dog-001.png", "grid-cat-dog-fruit-tower-r01-c01.png",
          "grid-cat-dog-fruit-tower-r00-c02.png", "s-r01-c00-cat-1.png"]
COMPOSITE = ["s.png", "walk-cat-dog-sheet.png"]


def pixels(path):
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.mark.parametrize("name", SINGLE + COMPOSITE)
def test_legacy_png_shows(name, capsys):
    assert main(["show", str(LEGACY / name)]) == 0
    out = capsys.readouterr().out
    assert out.strip() and "damaged" not in out


@pytest.mark.parametrize("name", SINGLE)
def test_legacy_png_reproduces_pixel_for_pixel(name, tmp_path, capsys):
    assert main(["reproduce", str(LEGACY / name), "-o", str(tmp_path / "again"), "-q"]) == 0
    (made,) = (tmp_path / "again").glob("*.png")
    assert np.array_equal(pixels(made), pixels(LEGACY / name))
