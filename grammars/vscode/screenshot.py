"""Make grammars/vscode/screenshot.png: examples/meeting.prompt coloured by the TextMate
grammar (tokenized by vscode-textmate, VS Code's own engine, with VS Code's Dark+ colours)
and the language server's hover over `van_gogh` (the text of promptlang.lsp.features.hover,
which the server sends), drawn by headless Chromium.

    python grammars/vscode/screenshot.py      # needs node, .ci/npm (bash .ci/setup) and chromium
"""
from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
EXAMPLE = ROOT / "examples" / "meeting.prompt"
OUT = Path(__file__).resolve().parent / "screenshot.png"
HOVER_AT = ("van_gogh", 21)  # the word and the (1-based) line the mouse is on

# VS Code's Dark+ theme, for the scopes the grammar gives (the longest prefix wins)
COLOURS = {"comment": "#6A9955", "punctuation.definition.comment": "#6A9955", "string": "#CE9178",
           "punctuation.definition.string": "#CE9178", "constant.character.escape": "#D7BA7D",
           "constant.numeric": "#B5CEA8", "keyword.control": "#C586C0", "keyword.other": "#569CD6",
           "keyword.operator": "#D4D4D4", "storage": "#569CD6", "entity.name.type": "#4EC9B0",
           "entity.other.inherited-class": "#4EC9B0", "entity.name.namespace": "#4EC9B0",
           "variable.other.property": "#9CDCFE", "variable.other.entry": "#DCDCAA",
           "punctuation": "#D4D4D4", "invalid": "#F44747"}


def colour(scopes: list) -> str:
    best = ("", "#D4D4D4")
    for scope in scopes:
        for prefix, value in COLOURS.items():
            if scope.startswith(prefix) and len(prefix) >= len(best[0]):
                best = (prefix, value)
    return best[1]


def markdown(text: str) -> str:
    """The little Markdown a hover holds: **bold**, `code`, ```text blocks```, --- rules."""
    out, block = [], None
    for line in text.split("\n"):
        if line.startswith("```"):
            if block is None:
                block = []
            else:
                out.append("<pre>" + html.escape("\n".join(block)) + "</pre>")
                block = None
            continue
        if block is not None:
            block.append(line)
        elif line == "---":
            out.append("<hr>")
        elif line:
            esc = html.escape(line)
            esc = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", esc)
            esc = re.sub(r"`(.+?)`", r"<code>\1</code>", esc)
            out.append(f"<p>{esc}</p>")
    return "\n".join(out)


def main() -> None:
    from promptlang.lsp import features
    from promptlang.lsp.analysis import Document

    source = EXAMPLE.read_text(encoding="utf-8")
    lines = source.split("\n")
    word, line_no = HOVER_AT
    column = lines[line_no - 1].index(word)
    analysis = Document(str(EXAMPLE)).update(source)
    hover = features.hover(analysis, line_no - 1, column + 1)
    assert hover and "Vincent van Gogh" in hover, hover

    node_modules = ROOT / ".ci" / "npm" / "node_modules"
    tokens = json.loads(subprocess.run(
        ["node", str(ROOT / "tests" / "textmate" / "tokenize.js"), str(ROOT / "grammars" / "promptlang.tmLanguage.json"),
         str(EXAMPLE)], check=True, capture_output=True, text=True, env={**os.environ, "NODE_PATH": str(node_modules)},
    ).stdout)[0]["lines"]

    rows = []
    for number, (line, toks) in enumerate(zip(lines, tokens), 1):
        cells = []
        for start, end, scopes in toks:
            piece = html.escape(line[start:end])
            if number == line_no and start <= column < end:
                piece = f'<span class="hovered">{piece}</span>'
            cells.append(f'<span style="color:{colour(scopes)}">{piece}</span>')
        anchor = '<span class="anchor"></span>' if number == line_no else ""
        rows.append(f'<div class="row"><span class="no">{number}</span>{"".join(cells)}{anchor}</div>')
    page = f"""<!doctype html><meta charset="utf-8"><style>
body {{ margin: 0; background: #1E1E1E; font: 14px/20px "DejaVu Sans Mono", monospace; color: #D4D4D4; }}
.tab {{ background: #252526; color: #ccc; font: 13px sans-serif; padding: 8px 16px; border-bottom: 1px solid #333; }}
.code {{ padding: 8px 0; position: relative; }}
.row {{ white-space: pre; height: 20px; position: relative; }}
.no {{ display: inline-block; width: 44px; color: #858585; text-align: right; padding-right: 18px; }}
.hovered {{ background: #264F78; }}
.hover {{ position: absolute; left: {62 + 8.43 * column:.0f}px; top: {8 + 20 * line_no + 2}px; width: 520px;
  background: #252526; border: 1px solid #454545; padding: 4px 10px; font: 13px/18px sans-serif;
  box-shadow: 0 2px 8px rgba(0,0,0,.6); white-space: normal; }}
.hover p {{ margin: 4px 0; }} .hover pre {{ background: #1E1E1E; padding: 6px; white-space: pre-wrap;
  font: 12.5px/17px "DejaVu Sans Mono", monospace; color: #CE9178; margin: 4px 0; }}
.hover code {{ font-family: "DejaVu Sans Mono", monospace; color: #DCDCAA; }}
.hover hr {{ border: 0; border-top: 1px solid #454545; margin: 6px 0; }}
</style><div class="tab">meeting.prompt — promptlang</div><div class="code">{''.join(rows)}
<div class="hover">{markdown(hover)}</div></div>"""
    with tempfile.TemporaryDirectory() as tmp:
        page_path = Path(tmp) / "page.html"
        page_path.write_text(page, encoding="utf-8")
        shot = Path(tmp) / "shot.png"
        subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                        f"--screenshot={shot}", "--window-size=860,720", page_path.as_uri()],
                       check=True, capture_output=True, timeout=120)
        from PIL import Image

        Image.open(shot).convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE).save(OUT, optimize=True)
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
