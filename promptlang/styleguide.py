"""A browsable style guide: one catalog as one self-contained HTML page.

:func:`build` turns a :class:`~promptlang.catalog.Catalog` into the text of an
``index.html`` with its CSS and script inline and nothing fetched from the network:
the entries by section and by tag, each with its key, text, negative, weight, tags,
description and CLIP token count, a search box that filters them as you type, and a
button per entry that copies its reference (the key, as a ``.prompt`` file writes it).
:func:`tile_sources` writes the ``.prompt`` sources that ``catalog docs --render`` renders,
one sample tile per entry on a fixed subject and seed.

Catalogs are untrusted, so everything taken from one is HTML-escaped where it lands in
the page, and what the script needs comes as JSON in a ``<script type="application/json">``
block (``<``, ``>`` and ``&`` escaped as ``\\u003c`` …, so no ``</script>`` can end it),
read with ``JSON.parse``: never written into the script's code.
"""
from __future__ import annotations

import html
import json

from .catalog import SECTIONS, Catalog, Entry
from .errors import PromptError
from .template import render
from .tokens import count_tokens

#: The subject an entry's template is rendered with before its tokens are counted.
NEUTRAL_SUBJECT = "a subject"
#: What every sample tile shows, and its seed: the same for all, so the styles compare.
TILE_SUBJECT = "a lighthouse on a cliff above the sea"
TILE_SEED = 7

SECTION_NOTES = {
    "format": "how the picture is made: the medium or kind of image",
    "style": "artists, movements and looks, appended after the format",
    "quality": "quality boosters, lighting and render keywords",
    "negative": "presets for the negative prompt",
}


def rendered_text(entry: Entry, where: str, subject: str = NEUTRAL_SUBJECT) -> str:
    """``entry``'s text with ``subject`` in its subject places (a PromptError if its template fails)."""
    pieces, mode = render(entry.text, where, subject)
    return subject.join(pieces) if mode == "placed" else pieces[0]


def token_count(entry: Entry, where: str) -> tuple[int | None, str]:
    """(CLIP tokens of the text rendered with the neutral subject, or None; the error if any)."""
    try:
        return count_tokens(rendered_text(entry, where)), ""
    except PromptError as exc:
        return None, str(exc)


def tile_sources(cat: Catalog, use_name: str, subject: str = TILE_SUBJECT, seed: int = TILE_SEED) -> list:
    """One ``.prompt`` source per entry of ``cat``, rendering it alone on ``subject`` at
    ``seed``: ``[(section, key, prompt name, source)]``. ``use_name`` is the name the
    catalog is found by (its file's stem); entries are referred to qualified, by the
    catalog's name, so that a required catalog's entry of the same key cannot stand in."""
    out = []
    for section in SECTIONS:
        for key in cat.entries[section]:
            name = f"{section}_{key}"
            source = (f"use {use_name}\n"
                      f"prompt {name} {{\n"
                      f"    subject {json.dumps(subject)}\n"
                      f"    {section} {cat.name}.{key}\n"
                      f"    seed {seed}\n"
                      "}\n")
            out.append((section, key, name, source))
    return out


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _json_for_script(data) -> str:
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _anchor(section: str, key: str) -> str:
    return f"{section}-{key}"


def _tag_anchor(index: int) -> str:
    return f"tag-{index}"


CSS = """
:root { --fg: #1d1f23; --muted: #5b6270; --line: #dde1e7; --bg: #f6f7f9; --card: #fff;
        --accent: #2f6f8f; --neg: #9b3b3b; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
       color: var(--fg); background: var(--bg); }
header { padding: 18px 28px 12px; background: var(--card); border-bottom: 1px solid var(--line);
         position: sticky; top: 0; z-index: 2; }
header h1 { margin: 0 0 2px; font-size: 22px; }
header .meta { color: var(--muted); font-size: 13px; }
.bar { display: flex; gap: 12px; align-items: center; margin-top: 10px; flex-wrap: wrap; }
#search { flex: 1 1 320px; max-width: 520px; padding: 7px 10px; font-size: 15px;
          border: 1px solid var(--line); border-radius: 6px; }
#count { color: var(--muted); font-size: 13px; }
nav { font-size: 13px; }
nav a { color: var(--accent); margin-right: 10px; text-decoration: none; }
main { padding: 8px 28px 40px; }
section.sec > h2 { margin: 22px 0 2px; font-size: 18px; text-transform: capitalize; }
section.sec > p.note { margin: 0 0 10px; color: var(--muted); font-size: 13px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 10px; }
.entry { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.entry[hidden] { display: none; }
.entry .head { display: flex; align-items: baseline; gap: 8px; }
.entry code.key { font-weight: 600; font-size: 14px; }
.entry .tokens { margin-left: auto; color: var(--muted); font-size: 12px; white-space: nowrap; }
.entry .text { margin: 6px 0 4px; }
.entry .neg { color: var(--neg); font-size: 13px; margin: 2px 0; }
.entry .desc { color: var(--muted); font-size: 13px; margin: 2px 0; }
.entry .foot { display: flex; align-items: center; gap: 6px; flex-wrap: wrap; margin-top: 6px; font-size: 12px; }
.tag { background: #e8eef3; color: #2b4a5c; border-radius: 10px; padding: 1px 8px; text-decoration: none; }
.weight { color: var(--muted); }
.error { color: var(--neg); font-size: 12px; }
button.copy { margin-left: auto; font-size: 12px; padding: 2px 8px; border: 1px solid var(--line);
              border-radius: 5px; background: #f3f5f8; cursor: pointer; }
button.copy.done { background: #dff0e3; }
.tile { display: block; width: 100%; max-width: 256px; border-radius: 5px; margin-top: 6px; }
#tags ul { list-style: none; padding: 0; margin: 0; }
#tags li { margin: 4px 0; font-size: 13px; }
#tags li[hidden] { display: none; }
#tags li a { color: var(--accent); text-decoration: none; margin-right: 6px; }
#empty { color: var(--muted); }
""".strip()

SCRIPT = """
(function () {
  var data = JSON.parse(document.getElementById("guide-data").textContent);
  var input = document.getElementById("search");
  var count = document.getElementById("count");
  var empty = document.getElementById("empty");
  var cards = document.querySelectorAll("article.entry");
  var byId = {};
  for (var i = 0; i < cards.length; i++) { byId[cards[i].id] = cards[i]; }
  function filter() {
    var words = input.value.toLowerCase().split(/\\s+/).filter(function (w) { return w; });
    var shown = 0, visible = {};
    data.entries.forEach(function (e) {
      var ok = words.every(function (w) { return e.haystack.indexOf(w) !== -1; });
      var card = byId[e.id];
      if (card) { card.hidden = !ok; }
      if (ok) { shown++; visible[e.id] = true; }
    });
    document.querySelectorAll("section.sec").forEach(function (sec) {
      sec.hidden = !sec.querySelector("article.entry:not([hidden])");
    });
    document.querySelectorAll("#tags li").forEach(function (li) {
      var refs = li.querySelectorAll("a.ref"), any = false;
      for (var j = 0; j < refs.length; j++) {
        var hit = visible[refs[j].getAttribute("href").slice(1)] === true;
        refs[j].hidden = !hit; any = any || hit;
      }
      li.hidden = !any;
    });
    count.textContent = shown + " of " + data.entries.length + " entries";
    empty.hidden = shown !== 0;
  }
  input.addEventListener("input", filter);
  document.querySelectorAll("a.tag").forEach(function (a) {
    a.addEventListener("click", function (ev) {
      ev.preventDefault(); input.value = a.dataset.tag; filter(); input.focus();
    });
  });
  function copied(button) {
    button.classList.add("done"); button.textContent = "copied";
    setTimeout(function () { button.classList.remove("done"); button.textContent = "copy"; }, 1200);
  }
  function fallback(text, button) {
    var area = document.createElement("textarea");
    area.value = text; document.body.appendChild(area); area.select();
    try { document.execCommand("copy"); copied(button); } catch (err) {}
    document.body.removeChild(area);
  }
  document.querySelectorAll("button.copy").forEach(function (button) {
    button.addEventListener("click", function () {
      var text = data.entries[Number(button.dataset.index)].ref;
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () { copied(button); },
                                                 function () { fallback(text, button); });
      } else { fallback(text, button); }
    });
  });
  filter();
})();
""".strip()


def build(cat: Catalog, tiles: dict | None = None) -> str:
    """The style guide of ``cat`` as the text of one HTML page.

    ``tiles`` maps ``(section, key)`` to an image path relative to the page (a sample
    render of the entry); entries without one have no image.
    """
    tiles = tiles or {}
    entries_js, cards, tag_index = [], {}, {}
    total = 0
    for section in SECTIONS:
        cards[section] = []
        for key, entry in cat.entries[section].items():
            index = len(entries_js)
            anchor = _anchor(section, key)
            where = f"{cat.name}: {section}.{key}"
            tokens, error = token_count(entry, where)
            for tag in entry.tags:
                tag_index.setdefault(tag, []).append((section, key))
            haystack = " ".join([section, key, entry.text, entry.negative, entry.description,
                                 *entry.tags, *(f"#{t}" for t in entry.tags)]).lower()
            entries_js.append({"id": anchor, "ref": key, "section": section, "haystack": haystack})
            cards[section].append(_card(section, key, entry, index, tokens, error, tiles.get((section, key))))
            total += 1

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # nothing may be fetched: styles and the script are inline, images are local files
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src 'self' data:\">",
        f"<title>{_e(cat.name)} {_e(cat.version)}: style guide</title>",
        f"<style>\n{CSS}\n</style>",
        "</head>",
        "<body>",
        "<header>",
        f'<h1>{_e(cat.name)} <span class="meta">{_e(cat.version)}</span></h1>',
        f'<div class="meta">{_e(cat.description)}</div>' if cat.description else "",
        f'<div class="meta">requires: {_e(", ".join(cat.requires))}</div>' if cat.requires else "",
        '<div class="bar">',
        '<input id="search" type="search" placeholder="Search keys, texts, negatives, tags…" '
        'autocomplete="off" aria-label="Search entries">',
        f'<span id="count">{total} of {total} entries</span>',
        "</div>",
        '<nav class="bar">'
        + "".join(f'<a href="#sec-{s}">{s} ({len(cards[s])})</a>' for s in SECTIONS)
        + (f'<a href="#tags">tags ({len(tag_index)})</a>' if tag_index else "")
        + "</nav>",
        "</header>",
        "<main>",
        '<p id="empty" hidden>No entry matches.</p>',
    ]
    for section in SECTIONS:
        parts += [
            f'<section class="sec" id="sec-{section}">',
            f"<h2>{section}</h2>",
            f'<p class="note">{_e(SECTION_NOTES[section])}; token counts are CLIP tokens of the text '
            f"with the subject &ldquo;{_e(NEUTRAL_SUBJECT)}&rdquo;.</p>" if section == "format"
            else f'<p class="note">{_e(SECTION_NOTES[section])}</p>',
            '<div class="grid">',
            *cards[section],
            "</div>",
            "</section>",
        ]
    if tag_index:
        parts += ['<section id="tags">', "<h2>By tag</h2>", "<ul>"]
        for i, tag in enumerate(sorted(tag_index)):
            refs = " ".join(f'<a class="ref" href="#{_e(_anchor(s, k))}">{_e(s)}.{_e(k)}</a>'
                            for s, k in tag_index[tag])
            parts.append(f'<li id="{_tag_anchor(i)}"><a class="tag" href="#" data-tag="{_e(tag)}">'
                         f"{_e(tag)}</a> {refs}</li>")
        parts += ["</ul>", "</section>"]
    parts += [
        "</main>",
        f'<script type="application/json" id="guide-data">{_json_for_script({"entries": entries_js})}</script>',
        f"<script>\n{SCRIPT}\n</script>",
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(p for p in parts if p != "")


def _card(section: str, key: str, entry: Entry, index: int, tokens, error: str, tile) -> str:
    lines = [f'<article class="entry" id="{_e(_anchor(section, key))}">',
             '<div class="head">',
             f'<code class="key">{_e(key)}</code>',
             f'<span class="tokens">{tokens} token{"s" * (tokens != 1)}</span>' if tokens is not None
             else '<span class="tokens">? tokens</span>',
             "</div>",
             f'<div class="text">{_e(entry.text)}</div>']
    if entry.negative:
        lines.append(f'<div class="neg">negative: {_e(entry.negative)}</div>')
    if entry.description:
        lines.append(f'<div class="desc">{_e(entry.description)}</div>')
    if error:
        lines.append(f'<div class="error">{_e(error)}</div>')
    if tile:
        lines.append(f'<img class="tile" src="{_e(tile)}" alt="{_e(key)} sample" loading="lazy">')
    foot = ['<div class="foot">']
    if entry.weight != 1.0:
        foot.append(f'<span class="weight">weight {entry.weight:g}</span>')
    foot += [f'<a class="tag" href="#" data-tag="{_e(t)}">{_e(t)}</a>' for t in entry.tags]
    foot.append(f'<button class="copy" type="button" data-index="{index}" '
                f'title="copy the reference {_e(key)}">copy</button>')
    foot.append("</div>")
    return "\n".join(lines + foot + ["</article>"])
