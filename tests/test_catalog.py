"""Catalog loading and validation, and the bundled core catalog."""
import re

import pytest

from promptlang import catalog, template
from promptlang.errors import PromptError
from promptlang.resources import styles_dir


def load_text(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    return catalog.load(path)


def test_minimal_and_short_forms(tmp_path):
    cat = load_text(tmp_path, "name: mini\nstyle:\n  ink: ink drawing\n  wash: {text: ink wash, weight: 1.2}\n")
    assert cat.get("style", "ink").text == "ink drawing"
    assert cat.get("style", "wash").weight == 1.2
    assert cat.version == "0" and cat.entries["format"] == {}
    assert len(cat.sha256) == 64


@pytest.mark.parametrize("text, message, line", [
    ("- a list\n", "a catalog is a mapping", 1),
    ("name: x\nstyles: {}\n", "styles: unknown key; did you mean `style`?", 2),
    ("name: x y\n", "name: expected a name", 1),
    ("name: x\nstyle:\n  noir:\n    text: 3\n", "style.noir.text: expected a string, got int", 4),
    ("name: x\nstyle:\n  noir:\n    tags: [a]\n", "style.noir.text: is missing", 4),
    ("name: x\nstyle:\n  noir:\n    text: ''\n", "style.noir.text: is empty", 4),
    ("name: x\nstyle:\n  noir: {text: a, weight: big}\n", "style.noir.weight: expected a number", 3),
    ("name: x\nstyle:\n  noir: {text: a, tags: a}\n", "style.noir.tags: expected a list of strings", 3),
    ("name: x\nstyle:\n  noir: [a]\n", "style.noir: expected a mapping", 3),
    ("name: x\nstyle:\n  no-ir: a\n", "style.no-ir: entry names are letters", 3),
    ("name: x\nstyle: [a]\n", "style: expected a mapping", 2),
    ("name: x\nrequires: core\n", "requires: expected a list", 2),
    ("name: x\nstyle:\n  a: {text: 'x'\n", "invalid YAML", 3),
])
def test_validation_errors_name_key_path_and_line(tmp_path, text, message, line):
    with pytest.raises(PromptError) as info:
        load_text(tmp_path, text)
    assert message in info.value.message
    assert info.value.span is not None and info.value.span.line == line
    assert str(info.value).startswith(f"{tmp_path / 'c.yaml'}:{line}:")


def test_not_utf8(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_bytes(b"name: x\ndescription: \xff\xfe\n")
    with pytest.raises(PromptError, match="not UTF-8"):
        catalog.load(path)


# ---------------------------------------------------------------- the bundled catalog

CORE = catalog.load(styles_dir() / "core.yaml")


def test_core_sizes():
    assert CORE.name == "core"
    sizes = {s: len(CORE.entries[s]) for s in catalog.SECTIONS}
    assert sizes["format"] >= 30 and sizes["style"] >= 60
    assert sizes["quality"] >= 20 and sizes["negative"] >= 15


@pytest.mark.parametrize("section, key", [
    ("format", "stock_photo"), ("format", "oil_painting"), ("format", "watercolor"), ("format", "pixel_art"),
    ("format", "egyptian_hieroglyphs"), ("format", "childrens_book_illustration"),
    ("format", "alice_in_wonderland_illustration"),
    ("style", "van_gogh"), ("style", "dali"), ("style", "picasso"),
    ("style", "post_impressionism"), ("style", "surrealism"), ("style", "cubism"),
    ("quality", "4k"), ("quality", "very_beautiful"), ("quality", "trending_on_artstation"),
    ("negative", "blurry"), ("negative", "low_quality"), ("negative", "distorted"),
])
def test_core_has_the_classics(section, key):
    assert CORE.get(section, key) is not None


def test_core_oil_painting_is_impasto_with_swirling_brushstrokes():
    text = CORE.get("format", "oil_painting").text
    assert "impasto" in text and "swirling dynamic brushstrokes" in text


def test_core_entries_render_and_formats_place_the_subject():
    for section, entries in CORE.entries.items():
        for key, entry in entries.items():
            pieces, mode = template.render(entry.text, f"{section}.{key}", "a cat")
            if section == "format":
                assert mode == "placed", key
            else:
                assert mode == "absent", key
            assert re.fullmatch(r"[0-9]*[a-z_][a-z0-9_]*", key), key


def test_core_negatives_attached_to_formats():
    with_negative = [k for k, e in CORE.entries["format"].items() if e.negative]
    assert len(with_negative) >= len(CORE.entries["format"]) * 0.8
