"""One writer: :class:`~.model.Decompiled` prompts -> ``.prompt`` source text.

The whole positive prompt goes into ``subject`` (items at its commas, weighted runs
inside an item written side by side, which promptlang joins with a space), unless
catalogs are in scope and words match their entries (see :mod:`.match`). Negatives are
a comma list of single items. What could not be carried is written as ``# note:``
comments inside the prompt, and returned as warnings.
"""
from __future__ import annotations

import re

from ...settings import check
from ..common import identifier
from .match import Index, Ref, negative as match_negative, norm, positive as match_positive
from .model import Alternate, Decompiled, Edit, Run

SETTINGS = ("model", "size", "aspect", "steps", "guidance", "seed", "scheduler", "images")


def number(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def weight(w: float) -> str:
    """``+``/``++``/``-`` where the weight is 1.1ⁿ or 0.9ⁿ, else ``:1.3``; nothing for 1."""
    if abs(w - 1.0) < 1e-9:
        return ""
    for n in range(1, 4):
        if abs(w - 1.1 ** n) < 1e-9:
            return "+" * n
        if abs(w - 0.9 ** n) < 1e-9:
            return "-" * n
    return ":" + number(w)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def clean(text: str, out: Decompiled | None = None) -> str:
    """Control characters (a NUL, an escape…) as spaces: they are not words, and a .prompt
    file may not hold them."""
    if _CONTROL.search(text):
        if out is not None:
            out.note("control characters in the prompt are written as spaces")
        text = _CONTROL.sub(" ", text)
    return text


def quote(text: str) -> str:
    text = re.sub(r"\s+", " ", clean(text))
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def phrases(nodes: list, out: Decompiled) -> list[list]:
    """Nodes -> items (split at the commas of runs), each a list of pieces (runs of one
    weight merged, edits, alternations)."""
    items: list[list] = [[]]
    for node in nodes:
        if isinstance(node, Run):
            for i, chunk in enumerate(clean(node.text, out).split(",")):
                if i:
                    items.append([])
                if chunk.strip():
                    if items[-1] and isinstance(items[-1][-1], Run) and not chunk[:1].isspace() \
                            and not items[-1][-1].text[-1:].isspace():
                        out.note("a weighted run written against a word without a space between them gets one "
                                 "(promptlang joins pieces with a space)")
                    items[-1].append(Run(chunk, node.weight))
                elif i == 0 and items[-1] and isinstance(items[-1][-1], Run):
                    items[-1][-1] = Run(items[-1][-1].text + chunk, items[-1][-1].weight)
        elif isinstance(node, Edit):
            sides = [side for side in (node.before, node.after) if "".join(r.text for r in side).strip()]
            texts = ["".join(r.text for r in side).strip() for side in sides]
            lead = bool(texts) and all(t.startswith(",") for t in texts)
            trail = bool(texts) and all(t.endswith(",") for t in texts)
            if lead or trail:  # `a[, hat:0.3]`: the comma separates items, outside the edit
                node = Edit(_trimmed(node.before, lead, trail), _trimmed(node.after, lead, trail), node.at, node.step)
            if lead and items[-1]:
                items.append([])
            items[-1].append(node)
            if trail:
                items.append([])
        else:
            items[-1].append(node)
    out_items = []
    for item in items:
        merged: list = []
        for piece in item:
            if isinstance(piece, Run) and merged and isinstance(merged[-1], Run) and merged[-1].weight == piece.weight:
                merged[-1] = Run(merged[-1].text.rstrip() + " " + piece.text.lstrip(), piece.weight)
            elif not isinstance(piece, Run) or piece.text.strip():
                merged.append(piece)
        if merged:
            out_items.append(merged)
    return out_items


def _trimmed(runs: list, lead: bool, trail: bool) -> list:
    runs = [Run(r.text, r.weight) for r in runs if r.text.strip()]
    if runs and lead:
        runs[0].text = runs[0].text.lstrip().removeprefix(",")
    if runs and trail:
        runs[-1].text = runs[-1].text.rstrip().removesuffix(",")
    return runs


def _side_text(runs: list, out: Decompiled) -> tuple[str, float]:
    """An edit's or alternation's side as one string and one weight."""
    text = re.sub(r"\s+", " ", clean("".join(r.text for r in runs), out)).strip()
    weights = {r.weight for r in runs if clean(r.text).strip()}
    if len(weights) > 1:
        out.note(f"`{text}`: promptlang's edit and alternation sides have one weight each; the longest run's "
                 "weight is used")
    main = max((r for r in runs if r.text.strip()), key=lambda r: len(r.text), default=Run(""))
    return text, main.weight


def piece(node, out: Decompiled) -> str:
    if isinstance(node, Run):
        return quote(node.text.strip()) + weight(node.weight)
    if isinstance(node, Ref):
        return node.name + weight(node.weight)
    if isinstance(node, Edit):
        (a, wa), (b, wb) = _side_text(node.before, out), _side_text(node.after, out)
        at = f"step {int(node.at)}" if node.step else number(node.at)
        return f"{quote(a)}{weight(wa)} -> {quote(b)}{weight(wb)} at {at}"
    if isinstance(node, Alternate):
        options = []
        for option in node.options:
            text, w = _side_text(option, out)
            options.append(quote(text) + weight(w))
        return "[" + " | ".join(options) + "]"
    raise TypeError(node)


def _field(name: str, items: list[str]) -> str:
    return f"    {name:<8} " + ", ".join(items)


def _negative_items(items: list, out: Decompiled) -> list:
    flat = []
    for item in items:
        if isinstance(item, list) and len(item) > 1:
            out.note("a weighted run inside a negative item becomes an item of its own (negative items are "
                     "separated by commas)")
            flat.extend([p] for p in item)
        else:
            flat.append(item)
    return flat


def _blend(d: Decompiled) -> list[str]:
    parts = []
    for part in d.blend:
        runs = []
        for node in part.nodes:
            if isinstance(node, Run):
                runs.append(node)
            else:
                d.note("an edit or alternation inside a blend part is written with its first text")
                runs.extend(node.before or node.after if isinstance(node, Edit) else node.options[0])
        text, w = _side_text(runs, d)
        if text:
            if abs(w - 1.0) > 1e-9:
                d.note(f"`{text}`: a weight inside a blend part cannot be carried; the part's own weight is kept")
            parts.append((text, part.weight))
    if sum(w for _, w in parts) <= 0:
        d.note("the parts' weights add up to 0 or less; written as equal shares")
        parts = [(t, 1.0) for t, _ in parts]
    return [quote(t) + ":" + number(w) for t, w in parts]


def block(name: str, d: Decompiled, index: Index | None = None) -> str:
    """One ``prompt NAME { … }`` block."""
    lines: list[str] = []
    pos = phrases(d.positive, d) if d.blend is None else []
    neg = phrases(d.negative, d)
    slots = match_positive(pos, index) if index and pos else {"subject": pos}
    neg_items = match_negative(neg, index) if index else neg
    if d.blend is not None:
        parts = _blend(d)
        if len(parts) >= 2:
            lines.append("    subject  blend " + ", ".join(parts))
        elif parts:
            lines.append(_field("subject", [parts[0].rsplit(":", 1)[0]]))
    if d.blend is None and not any(slots.values()):
        from ...errors import PromptError

        raise PromptError("nothing to decompile: the prompt has no words")
    for slot in ("subject", "format", "style", "quality"):
        items = slots.get(slot) or []
        if slot != "subject":
            items = _negative_items(items, d)
        if items:
            lines.append(_field(slot, [piece(i, d) if isinstance(i, Ref) else " ".join(piece(p, d) for p in i)
                                       for i in items]))
    neg_items = _negative_items(neg_items, d)
    if index:
        said = {norm(t) for i in neg_items if isinstance(i, list) for p in i if isinstance(p, Run)
                for t in p.text.split(",")}
        for ref in [i for s in slots.values() for i in s if isinstance(i, Ref)]:
            extra = [t.strip() for t in ref.negative.split(",") if t.strip() and norm(t) not in said]
            if extra:
                d.note(f"`{ref.name}` also adds the negative `{', '.join(extra)}` (from its catalog entry)")
    if neg_items:
        lines.append(_field("negative", [piece(i, d) if isinstance(i, Ref) else piece(i[0], d) for i in neg_items]))
    for lora, w in d.loras:
        key = identifier(lora, fallback="lora")
        if key != lora:
            d.note(f"the LoRA `{lora}` is written as `{key}`: name the file under that name in a catalog")
        lines.append(f"    lora     {key}{':' + number(w) if w != 1.0 else ''}")
    lines.extend(_settings(d))
    notes = [f"    # note: {n}" for n in d.notes]
    return f"prompt {name} {{\n" + "\n".join(notes + lines) + "\n}\n"


def _settings(d: Decompiled) -> list[str]:
    out = []
    s = dict(d.settings)
    if s.get("size") and s.get("aspect"):
        s.pop("aspect")
    for name in SETTINGS:
        value = s.get(name)
        if value is None:
            continue
        problem = check(name, value) if name != "images" else check("images", value)
        if problem:
            d.note(f"{problem}: left out")
            continue
        if name == "model":
            text = quote(value)
        elif name == "size":
            text = f"{value[0]}x{value[1]}"
        elif name == "aspect":
            text = f"{value[0]}:{value[1]}"
        elif name == "guidance":
            text = number(value)
        else:
            text = str(value)
        out.append(f"    {name:<8} {text}")
    return out


_INDEXES: dict = {}  # the entries of the catalogs last matched against (a file of prompts reuses them)


def _index(catalogs) -> Index:
    key = tuple((c.name, c.path, c.sha256) for c in catalogs)
    if key not in _INDEXES:
        _INDEXES.clear()
        _INDEXES[key] = Index(catalogs)
    index = _INDEXES[key]
    index.used = set()
    return index


def write(prompts: list[tuple[str, Decompiled]], *, catalogs=(), header: str = "") -> str:
    """``.prompt`` source for ``(name, decompiled)`` pairs; ``catalogs``: loaded catalogs to
    match words against (each one whose entries are used gets a ``use`` line)."""
    index = _index(catalogs) if catalogs else None
    blocks = [block(name, d, index) for name, d in prompts]
    head = [f"# {line}" for line in header.splitlines()] if header else []
    if index and index.used:
        head += [f"use {c.name}" if identifier(c.name) == c.name else f"use {quote(c.path)}"
                 for c in catalogs if c.name in index.used]
    return ("\n".join(head) + "\n\n" if head else "") + "\n".join(blocks)
