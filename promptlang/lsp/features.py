"""The language features over an :class:`~promptlang.lsp.analysis.Analysis`: completion,
hover, definitions and references, rename, symbols, semantic tokens. Positions here are
0-based lines and columns counted in characters (code points); the server converts the
client's UTF-16 columns."""
from __future__ import annotations

import re
from pathlib import Path

from .. import catalog, cst
from ..syntax import PARAMS, SLOTS
from .analysis import Analysis

WORD = re.compile(r"[0-9]*[A-Za-z_][A-Za-z0-9_]*(?:\.[0-9]*[A-Za-z_][A-Za-z0-9_]*)?")
_STRINGS_AND_COMMENTS = re.compile(r'"(?:[^"\\\n]|\\.)*"?|#[^\n]*')
SECTION = {"format": "format", "style": "style", "quality": "quality", "negative": "negative"}

FIELD_DOCS = {
    "subject": "What is in the picture: quoted words; pieces side by side are joined by a space.",
    "format": "The medium or kind of image (a catalog `format` entry or quoted words); its template places the subject.",
    "style": "Artists and art movements: catalog `style` entries or quoted words, comma separated.",
    "quality": "Quality boosters: catalog `quality` entries or quoted words.",
    "negative": "What must not appear: catalog `negative` entries or quoted words; `negative += …` adds to the inherited list.",
    "model": 'A Hugging Face id or a local folder / `.safetensors` file, quoted: `model "stable-diffusion-v1-5/stable-diffusion-v1-5"`.',
    "size": "Pixels, `WIDTHxHEIGHT`, multiples of 8: `size 768x512`.",
    "aspect": "A ratio, sized when the model is known: `aspect 16:9`.",
    "steps": "Denoising steps: `steps 30`.",
    "guidance": "Classifier-free guidance scale: `guidance 7.5`.",
    "seed": "The seed; image i of a prompt uses seed + i.",
    "scheduler": "The sampler: `euler_a`, `dpmpp_2m_karras`… (or AUTOMATIC1111's spelling, quoted).",
    "images": "Images per prompt.",
}
KEYWORDS = {"use": "Bring a catalog into scope: `use core` or `use \"./team.yaml\"`.",
            "defaults": "Settings and slots every prompt starts from.",
            "prompt": "A prompt: `prompt NAME [extends OTHER] { … }`."}


# ---------------------------------------------------------------- where the cursor is

def context(analysis: Analysis, line: int, col: int):
    """What is written at (line, col): ("statement" | "catalog" | "prompt" | "field" |
    ("value", KEY) | None, the word before the cursor)."""
    text = analysis.lines[line][:col] if line < len(analysis.lines) else ""
    word = re.search(r"[A-Za-z0-9_.]*$", text).group()
    before = text[:len(text) - len(word)]
    chunk = analysis.chunk_at(line)
    depth = 0
    if chunk is not None:
        upto = analysis.offset(line, col) - chunk.start
        plain = _STRINGS_AND_COMMENTS.sub("", chunk.text[:upto])
        depth = plain.count("{") - plain.count("}")
    if depth <= 0:
        if not before.strip():
            return "statement", word
        if re.fullmatch(r"\s*use\s+", before):
            return "catalog", word
        if re.search(r"\bextends\s+$", before) or re.fullmatch(r"\s*prompt\s+", before):
            return "prompt", word
        return None, word
    if not before.strip():
        previous = _previous_code(analysis, line, chunk)
        if previous is None or not previous.endswith(","):
            return "field", word
    key = _key_of(analysis, line, chunk)
    return ("value", key), word


def _code(text: str) -> str:
    return _STRINGS_AND_COMMENTS.sub(lambda m: m.group() if m.group().startswith('"') else "", text).rstrip()


def _previous_code(analysis: Analysis, line: int, chunk) -> str | None:
    first = chunk.line0 if chunk is not None else 0
    for number in range(line - 1, first - 1, -1):
        code = _code(analysis.lines[number])
        if code.strip():
            return code
    return None


def _key_of(analysis: Analysis, line: int, chunk) -> str | None:
    """The slot or setting a value on ``line`` belongs to (a list goes on after a comma)."""
    first = chunk.line0 if chunk is not None else 0
    number = line
    while number > first:
        previous = _code(analysis.lines[number - 1])
        if not previous.strip():
            number -= 1
            continue
        if not previous.endswith(","):
            break
        number -= 1
    m = re.match(r"\s*(?:[^{]*\{\s*)?([0-9]*[A-Za-z_][A-Za-z0-9_]*)", _code(analysis.lines[number]))
    return m.group(1) if m else None


def word_at(analysis: Analysis, line: int, col: int):
    """The name under the cursor and its start column, or (None, col)."""
    if line >= len(analysis.lines):
        return None, col
    for m in WORD.finditer(analysis.lines[line]):
        if m.start() <= col <= m.end():
            if _inside_string_or_comment(analysis.lines[line], m.start()):
                return None, col
            return m.group(), m.start()
    return None, col


def _inside_string_or_comment(text: str, col: int) -> bool:
    return any(m.start() < col < m.end() or (m.group().startswith("#") and m.start() <= col)
               for m in _STRINGS_AND_COMMENTS.finditer(text) if m.start() <= col)


# ---------------------------------------------------------------- completion

_entry_items: dict = {}


def completion(analysis: Analysis, line: int, col: int) -> list[dict]:
    """Completion items as dicts: label, kind ("keyword", "field", "entry", "value", "prompt",
    "catalog"), detail, documentation (Markdown)."""
    where, word = context(analysis, line, col)
    if where == "statement":
        return [{"label": k, "kind": "keyword", "detail": "statement", "documentation": d} for k, d in KEYWORDS.items()]
    if where == "catalog":
        names = set(catalog.bundled_names())
        from .analysis import search_dirs

        for folder in search_dirs(analysis.file.path):
            names |= {p.stem for p in Path(folder).glob("*.yaml")}
        return [{"label": n, "kind": "catalog", "detail": "catalog", "documentation": ""} for n in sorted(names)]
    if where == "prompt":
        return [{"label": d.name, "kind": "prompt", "detail": f"prompt (line {analysis.place(d.span)[0] + 1})",
                 "documentation": prompt_summary(analysis, d.name)} for d in analysis.file.prompts]
    if where == "field":
        return [{"label": k, "kind": "field", "detail": "slot" if k in SLOTS else "setting",
                 "documentation": FIELD_DOCS.get(k, "")} for k in SLOTS + PARAMS]
    if isinstance(where, tuple):
        key = where[1]
        if key == "scheduler":
            from ..schedulers import SCHEDULERS

            return [{"label": n, "kind": "value", "detail": f"scheduler ({SCHEDULERS[n][0]})", "documentation": ""}
                    for n in SCHEDULERS]
        if key in SECTION and analysis.scope is not None:
            qualifier = word.split(".")[0] if "." in word else None
            return _entries(analysis.scope, SECTION[key], qualifier)
    return []


def _entries(scope, section: str, qualifier: str | None) -> list[dict]:
    key = (id(scope), section, qualifier)
    found = _entry_items.get(key)
    if found is None or found[0] is not scope:
        items = {}
        for cat in scope.catalogs:  # later catalogs shadow earlier ones
            if qualifier is not None and cat.name != qualifier:
                continue
            for name, entry in cat.entries.get(section, {}).items():
                items[name] = {"label": name, "kind": "entry", "detail": f"{section} · {cat.name} {cat.version}",
                               "documentation": entry_doc(entry, cat)}
                if qualifier is not None:  # `core.va`: the editor's word is the qualified name
                    items[name]["insert"] = f"{qualifier}.{name}"
        if len(_entry_items) > 64:
            _entry_items.clear()
        found = _entry_items[key] = (scope, list(items.values()))
    return found[1]


def rendered(entry) -> str:
    """The entry's text as its template renders it (in the sandbox), the subject shown as ‹subject›."""
    from ..errors import PromptError
    from ..template import render

    try:
        pieces, mode = render(entry.text, f"{entry.catalog}: {entry.section}.{entry.key}", "‹subject›")
    except PromptError as exc:
        return f"{entry.text}\n(template error: {exc.message})"
    return "‹subject›".join(pieces) if mode == "placed" else "".join(pieces)


def entry_doc(entry, cat=None) -> str:
    lines = [f"**{entry.catalog}.{entry.key}** ({entry.section}" + (f", {cat.name} {cat.version}" if cat else "") + ")",
             "", f"```text\n{rendered(entry)}\n```"]
    if entry.weight != 1.0:
        lines.append(f"weight: {entry.weight:g}")
    if entry.negative:
        lines.append(f"negatives: {entry.negative}")
    if entry.tags:
        lines.append("tags: " + ", ".join(entry.tags))
    if entry.description:
        lines += ["", entry.description]
    from ..tokens import count_tokens

    text = rendered(entry)
    lines.append(f"{count_tokens(text.replace('‹subject›', ''))} CLIP tokens"
                 + (" (without the subject)" if "‹subject›" in text else ""))
    return "\n".join(lines)


# ---------------------------------------------------------------- hover

def windows(n: int) -> str:
    from ..tokens import CONTEXT

    if n <= CONTEXT:
        return f"{n} tokens (1 window: {n}/{CONTEXT})"
    full, rest = divmod(n, CONTEXT)
    parts = [str(CONTEXT)] * full + ([str(rest)] if rest else [])
    return f"{n} tokens in {len(parts)} windows of {CONTEXT} ({' + '.join(parts)})"


def prompt_summary(analysis: Analysis, name: str) -> str:
    prompt = analysis.prompts.get(name)
    if prompt is None:
        return ""
    from ..lint import longest, side_texts
    from ..targets import emit

    text = emit("compel", prompt, [])
    out = [f"**prompt `{name}`**", "", f"```text\n{text}\n```"]
    for side, variants in side_texts(prompt).items():
        out.append(f"{side}: {windows(longest(variants))}")
    return "\n".join(out)


def enclosing_prompt(analysis: Analysis, line: int):
    chunk = analysis.chunk_at(line)
    if chunk is None or chunk.file is None:
        return None
    found = None
    for decl in chunk.file.prompts:
        if chunk.line0 + decl.span.line - 1 <= line:
            found = decl
    return found


def lookup(analysis: Analysis, section: str, word: str):
    from ..ast import Ref
    from ..errors import PromptError

    if analysis.scope is None:
        return None
    catalog_name, _, name = word.rpartition(".")
    try:
        return analysis.scope.lookup(section, Ref(catalog_name or None, name, 1.0, None))
    except PromptError:
        return None


def hover(analysis: Analysis, line: int, col: int) -> str | None:
    word, start = word_at(analysis, line, col)
    if word is None:
        return None
    where, _ = context(analysis, line, start)
    parts = []
    if where in ("prompt",) or (where is None and re.match(r"\s*prompt\s+$", analysis.lines[line][:start])):
        parts.append(prompt_summary(analysis, word) or f"prompt `{word}` (not compiled: see the errors)")
    elif where == "statement" and word in KEYWORDS:
        parts.append(KEYWORDS[word])
    elif where == "field" and word in FIELD_DOCS:
        parts.append(f"**{word}** ({'slot' if word in SLOTS else 'setting'})\n\n{FIELD_DOCS[word]}")
    elif isinstance(where, tuple) and where[1] in SECTION:
        entry = lookup(analysis, SECTION[where[1]], word)
        if entry is not None:
            cat = analysis.scope.by_name(entry.catalog)
            parts.append(entry_doc(entry, cat))
    if not parts:
        return None
    decl = enclosing_prompt(analysis, line)
    if decl is not None and where != "prompt" and decl.name in analysis.prompts:
        from ..lint import longest, side_texts

        sides = side_texts(analysis.prompts[decl.name])
        parts.append("---\n" + f"prompt `{decl.name}`: " + "; ".join(
            f"{side} {windows(longest(v))}" for side, v in sides.items()))
    return "\n\n".join(parts)


# ---------------------------------------------------------------- definition, references, rename

def _decls(analysis: Analysis) -> dict:
    out = {}
    for d in analysis.file.prompts:
        out.setdefault(d.name, d)
    return out


def definition(analysis: Analysis, line: int, col: int):
    """(path or None for this document, line, col, end_line, end_col) of what the name under
    the cursor names: a prompt (after `extends`), or a catalog entry's line in its YAML."""
    word, start = word_at(analysis, line, col)
    if word is None:
        return None
    where, _ = context(analysis, line, start)
    if where == "prompt":
        decl = _decls(analysis).get(word)
        return (None, *analysis.place(decl.span)) if decl is not None else None
    if isinstance(where, tuple) and where[1] in SECTION:
        entry = lookup(analysis, SECTION[where[1]], word)
        if entry is not None and entry.span is not None:
            cat = analysis.scope.by_name(entry.catalog)
            path = str(Path(cat.path).resolve()) if cat is not None else entry.span.file
            s = entry.span
            return (path, s.line - 1, s.column - 1, s.end_line - 1, s.end_column - 1)
    return None


def _refs(analysis: Analysis):
    """Every catalog reference in the document: (slot name, ast.Ref)."""
    from ..ast import Edit, Ref

    blocks = ([analysis.file.defaults] if analysis.file.defaults else []) + [d.body for d in analysis.file.prompts]
    for block in blocks:
        for slot in block.slots:
            for phrase in slot.phrases:
                for piece in phrase.pieces:
                    for item in (piece.before, piece.after) if isinstance(piece, Edit) else (piece,):
                        if isinstance(item, Ref):
                            yield slot.name, item


def references(analysis: Analysis, line: int, col: int, include_declaration: bool = True) -> list:
    """Places (path or None, line, col, end_line, end_col) where the prompt or the catalog
    entry under the cursor is named."""
    word, start = word_at(analysis, line, col)
    if word is None:
        return []
    where, _ = context(analysis, line, start)
    if where == "prompt" or (where is None and re.match(r"\s*prompt\s+$", analysis.lines[line][:start])):
        return [(None, *p) for p in prompt_places(analysis, word, include_declaration)]
    if isinstance(where, tuple) and where[1] in SECTION:
        entry = lookup(analysis, SECTION[where[1]], word)
        if entry is None:
            return []
        out = []
        if include_declaration:
            found = definition(analysis, line, col)
            if found is not None:
                out.append(found)
        for slot, ref in _refs(analysis):
            if slot in SECTION and ref.name == entry.key and lookup(analysis, SECTION[slot], ref.qualified) == entry:
                out.append((None, *analysis.place(ref.span)))
        return out
    return []


def prompt_places(analysis: Analysis, name: str, include_declaration: bool = True) -> list:
    out = []
    for d in analysis.file.prompts:
        if d.name == name and include_declaration:
            out.append(analysis.place(d.span))
        if d.parent == name and d.parent_span is not None:
            out.append(analysis.place(d.parent_span))
    return sorted(out)


def rename_target(analysis: Analysis, line: int, col: int):
    """The prompt name under the cursor and its place, or None (only prompts are renamed)."""
    word, start = word_at(analysis, line, col)
    if word is None or word not in _decls(analysis):
        return None
    where, _ = context(analysis, line, start)
    if where == "prompt" or (where is None and re.match(r"\s*prompt\s+$", analysis.lines[line][:start])):
        return word, (line, start, line, start + len(word))
    return None


# ---------------------------------------------------------------- symbols

def symbols(analysis: Analysis) -> list[dict]:
    """Document symbols: uses, defaults, prompts (with their fields as children)."""
    out = []
    file = analysis.file
    for use in file.uses:
        place = analysis.place(use.span)
        out.append({"name": f"use {use.target}", "kind": "module", "range": place, "selection": place, "children": []})

    def fields(block):
        items = sorted(list(block.slots) + list(block.params), key=lambda f: f.span.start)
        return [{"name": f.name, "kind": "field", "range": analysis.place(f.span),
                 "selection": analysis.place(f.span), "children": []} for f in items]

    if file.defaults is not None:
        place = analysis.place(file.defaults.span)
        out.append({"name": "defaults", "kind": "object", "range": place, "selection": place,
                    "children": fields(file.defaults)})
    for decl in file.prompts:
        name = analysis.place(decl.span)
        body = analysis.place(decl.body.span)
        whole = (name[0], 0, body[2], body[3])
        out.append({"name": decl.name, "detail": f"extends {decl.parent}" if decl.parent else "", "kind": "class",
                    "range": whole, "selection": name, "children": fields(decl.body)})
    return sorted(out, key=lambda s: s["range"][:2])


# ---------------------------------------------------------------- semantic tokens

TOKEN_TYPES = ["keyword", "string", "number", "comment", "operator", "property", "variable", "class", "namespace"]
_KIND = {"STRING": "string", "NUMBER": "number", "SIGNED_NUMBER": "number", "SIZE": "number", "RATIO": "number",
         "VERSION": "number", "COMMENT": "comment", "ARROW": "operator", "COMPARE": "operator",
         "APPEND": "operator", "PLUSES": "operator", "MINUSES": "operator", "COLON": "operator"}


def semantic_tokens(analysis: Analysis) -> list[tuple[int, int, int, str]]:
    """(line, column, length, type) for every token worth a colour, in order.

    Generic over the grammar: a terminal's type comes from its kind (keywords are the
    grammar's words: a terminal named after its own text), a name's from its rule."""
    out = []
    for chunk in analysis.chunks:
        if chunk.file is not None:
            root = _root(chunk)
            pairs = _with_parents(root)
        else:
            pairs = [(t, None) for t in chunk.tree()]
        first_on_line = set()
        for tok, parent in pairs:
            if tok.trivia and tok.kind != cst.COMMENT:
                continue
            kind = _KIND.get(tok.kind)
            if kind is None and tok.text.isalpha() and tok.kind == tok.text.upper():
                kind = "keyword"
            if kind is None and tok.kind == "NAME":
                kind = _name_kind(tok, parent, first_on_line)
            first_on_line.add(tok.line)
            if kind is not None:
                out.append((chunk.line0 + tok.line - 1, tok.column - 1, len(tok.text), kind))
    return out


def _root(chunk):
    if not isinstance(chunk._tree, cst.Node):
        chunk._tree = cst.parse(chunk.text).root
    return chunk._tree


def _with_parents(node, out=None):
    out = [] if out is None else out
    for child in node.children:
        if isinstance(child, cst.Node):
            _with_parents(child, out)
        else:
            out.append((child, node))
    return out


def _name_kind(tok, parent, first_on_line) -> str:
    if parent is None:  # a statement that does not parse: a guess from the line
        return "property" if tok.line not in first_on_line else "variable"
    if parent.rule == "field" and parent.children[0] is tok:
        return "property"
    if parent.rule == "prompt":
        return "class"
    if parent.rule == "requirement":
        return "namespace"
    if parent.rule == "ref":
        names = [c for c in parent.children if isinstance(c, cst.Tok) and c.kind == "NAME"]
        return "namespace" if len(names) == 2 and names[0] is tok else "variable"
    return "variable"
