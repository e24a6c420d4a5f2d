"""promptlang's on-disk cache: validated catalogs and CLIP word counts, keyed by content."""
import json

import pytest

from promptlang import cache, catalog, tokens
from promptlang.resources import styles_dir

TEAM = """name: team
version: 1.2.0
style:
  noir: {text: "film noir, high contrast", negative: "colour", weight: 1.2, tags: [mood]}
quality:
  crisp: "crisp details"
"""


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMPTLANG_CACHE", str(tmp_path / "cache"))
    catalog._load_cached.cache_clear()
    yield tmp_path / "cache"
    catalog._load_cached.cache_clear()


def _load(path):
    catalog._load_cached.cache_clear()  # the in-process memo; the disk cache stays
    return catalog.load(path, display="team.yaml")


def test_a_cached_catalog_equals_a_validated_one(fresh, tmp_path):
    path = tmp_path / "team.yaml"
    path.write_text(TEAM, encoding="utf-8")
    first = _load(path)
    (entry,) = (fresh / "catalogs").iterdir()
    assert entry.name.startswith(first.sha256)
    again = _load(path)  # from the cache: no YAML read
    assert again == first and again.source == first.source
    for section, items in first.entries.items():
        for key, e in items.items():
            assert again.entries[section][key].span == e.span and again.entries[section][key].span.file == "team.yaml"


def test_a_changed_catalog_is_validated_again(fresh, tmp_path):
    path = tmp_path / "team.yaml"
    path.write_text(TEAM, encoding="utf-8")
    _load(path)
    path.write_text(TEAM.replace("crisp details", "very crisp"), encoding="utf-8")
    assert _load(path).entries["quality"]["crisp"].text == "very crisp"
    path.write_text(TEAM + "style:\n  x: 3\n", encoding="utf-8")  # invalid: an error, never a cached answer
    with pytest.raises(catalog.PromptError):
        _load(path)
    assert len(list((fresh / "catalogs").iterdir())) == 2


@pytest.mark.parametrize("damage", [b"", b"{not json", b'{"name": 3}', json.dumps({"entries": []}).encode()])
def test_a_damaged_cache_entry_is_a_miss(fresh, tmp_path, damage):
    path = tmp_path / "team.yaml"
    path.write_text(TEAM, encoding="utf-8")
    first = _load(path)
    (entry,) = (fresh / "catalogs").iterdir()
    entry.write_bytes(damage)
    assert _load(path) == first


def test_cache_off_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMPTLANG_CACHE", "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    catalog._load_cached.cache_clear()
    catalog.load(styles_dir() / "core.yaml")
    cache.write_json("catalogs", "k", {"a": 1})
    assert cache.read_json("catalogs", "k") is None and not (tmp_path / "xdg").exists()


@pytest.mark.parametrize("kind, key", [("../up", "k"), ("catalogs", "../../etc/passwd"), ("c", "a/b"), ("", "k")])
def test_cache_keys_cannot_name_other_files(fresh, kind, key):
    cache.write_json(kind, key, {"a": 1})
    assert cache.read_json(kind, key) is None and not fresh.exists()


def test_word_counts_from_the_cache_equal_the_bpe(fresh, monkeypatch):
    texts = ["an oil painting of a business meeting, impasto, swirling dynamic brushstrokes",
             "trending on artstation, 4k, highly detailed", "a cat"]
    monkeypatch.setattr(tokens, "_words", None)
    monkeypatch.setattr(tokens, "_learnt", [])
    counted = [tokens.count_tokens(t) for t in texts]
    assert counted == [len(tokens.ascii_pieces(t)) for t in texts]
    tokens._save_words()
    (entry,) = (fresh / "tokens").iterdir()
    stored = json.loads(entry.read_text())
    assert stored["painting"] == len(tokens._bpe("painting")) and "brushstrokes" in stored
    stored["cat"] = 99  # what the cache says is what is counted: the key keeps it honest
    entry.write_text(json.dumps(stored))
    monkeypatch.setattr(tokens, "_words", None)
    assert tokens.count_tokens("a cat") == 1 + 99
