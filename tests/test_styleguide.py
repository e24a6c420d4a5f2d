"""`promptlang catalog docs`: the browsable style guide (promptlang.styleguide)."""
import html
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from promptlang import catalog as cat_mod, ir, styleguide
from promptlang.cli import main
from promptlang.tokens import count_tokens

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "styles" / "core.yaml"
SCREENSHOT = ROOT / "examples" / "gallery" / "styleguide-core.png"

HOSTILE = """\
name: evil
version: 1.0.0
description: "</title><script>alert('desc')</script>"
style:
  xss:
    text: "<script>alert('text')</script> & </script><!-- {{ subject }}"
    negative: "<img src=x onerror=alert('neg')>"
    tags: ['"><script>alert(1)</script>', "</script>"]
    description: "\\" onmouseover=\\"alert(2)"
  plain:
    text: "a quiet \\u2028 line"
"""


def _data(page: str) -> dict:
    block = re.search(r'<script type="application/json" id="guide-data">(.*?)</script>', page, re.S)
    return json.loads(block.group(1))


def test_the_page_holds_every_entry_of_core_with_its_token_count():
    cat = cat_mod.load(CORE)
    page = styleguide.build(cat)
    assert page.startswith("<!DOCTYPE html>") and "http://" not in page and "https://" not in page
    entries = _data(page)["entries"]
    total = sum(len(cat.entries[s]) for s in cat_mod.SECTIONS)
    assert len(entries) == total and total > 150
    for section in cat_mod.SECTIONS:
        for key, entry in cat.entries[section].items():
            card = re.search(rf'<article class="entry" id="{section}-{key}">(.*?)</article>', page, re.S)
            assert card, f"{section}.{key} missing"
            body = card.group(1)
            assert f'<code class="key">{key}</code>' in body
            assert html.escape(entry.text) in body
            if entry.negative:
                assert html.escape(entry.negative) in body
            for tag in entry.tags:
                assert f'data-tag="{html.escape(tag)}"' in body
            tokens = count_tokens(styleguide.rendered_text(entry, key))
            assert f'<span class="tokens">{tokens} token' in body
    oil = re.search(r'id="format-oil_painting">(.*?)</article>', page, re.S).group(1)
    expected = count_tokens(cat.entries["format"]["oil_painting"].text.replace("{{ subject }}", "a subject"))
    assert f"{expected} tokens" in oil
    assert 'id="tags"' in page and 'data-tag="photo"' in page


def test_a_hostile_catalog_is_escaped(tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text(HOSTILE, encoding="utf-8")
    page = styleguide.build(cat_mod.load(path))
    # the only script elements are the data block and the page's own script
    assert page.count("<script") == 2 and page.count("</script>") == 2
    assert "<img" not in page and "<!--" not in page and 'onmouseover="' not in page
    assert "&lt;script&gt;alert(&#x27;text&#x27;)&lt;/script&gt;" in page
    data = _data(page)  # still valid JSON, with the texts intact
    assert any("<script>alert('text')</script>" in e["haystack"] for e in data["entries"])
    assert "\u2028" not in page.split('id="guide-data">')[1].split("</script>")[0]


def test_weights_descriptions_and_a_broken_template(tmp_path):
    path = tmp_path / "w.yaml"
    path.write_text('name: w\nversion: "2"\nstyle:\n  bold:\n    text: "bold {{ subject|upper }}"\n'
                    '    weight: 1.25\n    description: "Bold & loud"\n  broken: "{{ subject.__class__ }}"\n',
                    encoding="utf-8")
    page = styleguide.build(cat_mod.load(path))
    assert "weight 1.25" in page and "Bold &amp; loud" in page
    bold = re.search(r'id="style-bold">(.*?)</article>', page, re.S).group(1)
    assert "3 tokens" in bold  # "bold A SUBJECT": the filtered subject rendered as plain words
    broken = re.search(r'id="style-broken">(.*?)</article>', page, re.S).group(1)
    assert "? tokens" in broken and 'class="error"' in broken and "w: style.broken" in broken


def test_the_command_writes_index_html(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["catalog", "docs", "core"]) == 0
    page = (tmp_path / "core-styleguide" / "index.html").read_text(encoding="utf-8")
    assert 'id="style-van_gogh"' in page
    assert main(["catalog", "docs", "core"]) == 1  # kept without --overwrite
    assert "already exists" in capsys.readouterr().err
    assert main(["catalog", "docs", "core", "--overwrite", "-q"]) == 0
    assert main(["catalog", "docs", str(CORE), "-o", "out/guide"]) == 0
    assert (tmp_path / "out" / "guide" / "index.html").is_file()
    assert main(["catalog", "docs", "no_such_catalog"]) == 1
    assert main(["catalog", "docs"]) == 2
    (tmp_path / "afile").write_text("x")
    assert main(["catalog", "docs", "core", "-o", "afile"]) == 1


SMALL = """\
name: small
version: 1.0.0
requires: [core]
format:
  oil_painting: "my own oil painting of {{ subject }}"
style:
  noir: { text: "film noir", tags: [dark] }
  broken: "{{ subject.__class__ }}"
"""


def test_tile_sources_refer_to_the_catalogs_own_entries():
    cat = cat_mod.load(CORE)
    sources = styleguide.tile_sources(cat, "core")
    assert len(sources) == sum(len(cat.entries[s]) for s in cat_mod.SECTIONS)
    section, key, name, source = next(s for s in sources if s[1] == "van_gogh")
    assert (section, name) == ("style", "style_van_gogh")
    assert "use core\n" in source and "style core.van_gogh" in source and f"seed {styleguide.TILE_SEED}" in source


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """The style guide of SMALL with tiles from builtin:tiny (the broken entry gets none: exit 1)."""
    pytest.importorskip("diffusers")
    folder = tmp_path_factory.mktemp("rendered")
    (folder / "small.yaml").write_text(SMALL, encoding="utf-8")
    code = main(["catalog", "docs", str(folder / "small.yaml"), "-o", str(folder / "guide"),
                 "--render", "builtin:tiny", "-q"])
    return folder / "guide", code


def test_render_writes_a_tile_per_entry(rendered, capsys):
    guide, code = rendered
    assert code == 1  # style.broken has no tile, and says so; the rest are there
    page = (guide / "index.html").read_text(encoding="utf-8")
    for name in ("format_oil_painting", "style_noir"):
        png = guide / "tiles" / f"{name}-{styleguide.TILE_SEED}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f'src="tiles/{png.name}"' in page
    assert not list((guide / "tiles").glob("style_broken*"))
    from promptlang.artifacts import records
    made = records.read(guide / "tiles" / f"format_oil_painting-{styleguide.TILE_SEED}.png").prompt
    assert "my own oil painting of a lighthouse" in json.dumps(ir.to_json(made))  # the catalog's entry, not core's


# ---------------------------------------------------------------- a real browser

CHROMIUM = shutil.which("chromium")


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("no `chromium` on PATH: install Debian's chromium (apt-get install chromium) "
                    "to run the style guide in a headless browser")
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="Playwright is not installed (pip install playwright)")
    with sync_api.sync_playwright() as p:
        # the system's chromium, never a downloaded one; no sandbox, as tests may run as root
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def test_the_page_works_in_a_headless_browser(browser, tmp_path):
    out = tmp_path / "guide"
    out.mkdir()
    cat = cat_mod.load(CORE)
    total = sum(len(cat.entries[s]) for s in cat_mod.SECTIONS)
    (out / "index.html").write_text(styleguide.build(cat), encoding="utf-8")
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    problems = []
    page.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.on("request", lambda r: None if r.url.startswith("file:") else problems.append(f"request: {r.url}"))
    page.goto((out / "index.html").as_uri())
    entries = page.locator("article.entry:visible")
    assert entries.count() == total
    assert page.text_content("#count") == f"{total} of {total} entries"

    page.locator("#search").press_sequentially("van go")  # typed, key by key
    assert entries.count() == 1
    assert page.locator("#style-van_gogh").is_visible()
    assert page.text_content("#count") == f"1 of {total} entries"
    assert not page.locator("#sec-format").is_visible()  # a section with no match is hidden

    page.fill("#search", "watercolor")
    assert 1 <= entries.count() < total
    page.fill("#search", "zzzz no such entry")
    assert entries.count() == 0 and page.locator("#empty").is_visible()
    page.fill("#search", "")
    assert entries.count() == total

    page.locator("#format-oil_painting a.tag").first.click()  # a tag filters by it
    assert 1 <= entries.count() < total
    page.fill("#search", "")

    # the copy button puts the reference on the clipboard
    page.evaluate("""() => { window.__copied = null;
        const fake = { writeText: (t) => { window.__copied = t; return Promise.resolve(); } };
        Object.defineProperty(navigator, 'clipboard', { value: fake, configurable: true }); }""")
    page.locator("#style-van_gogh button.copy").click()
    page.wait_for_function("() => window.__copied !== null")
    assert page.evaluate("window.__copied") == "van_gogh"
    assert page.text_content("#style-van_gogh button.copy") == "copied"

    page.locator("#search").press_sequentially("impressionis")
    page.wait_for_timeout(1300)  # the "copied" label goes back
    shot = tmp_path / "styleguide-core.png"
    page.screenshot(path=str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("UPDATE_GOLDEN"):  # the README's screenshot
        shutil.copyfile(shot, SCREENSHOT)
    assert problems == []
    context.close()


def test_the_tiles_show_in_the_browser(browser, rendered):
    guide, _ = rendered
    page = browser.new_page()
    problems = []
    page.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.goto((guide / "index.html").as_uri())
    tiles = page.locator("img.tile")
    assert tiles.count() == 2
    for i in range(tiles.count()):
        tiles.nth(i).scroll_into_view_if_needed()  # they load lazily
    page.wait_for_function("Array.from(document.images).every(i => i.complete)")
    assert page.evaluate("Array.from(document.images).map(i => i.naturalWidth > 0)") == [True, True]
    assert problems == []
    page.close()


def test_the_readme_shows_the_screenshot():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "examples/gallery/styleguide-core.png" in readme and SCREENSHOT.is_file()
