"""Compel's prompt syntax read back (also InvokeAI's, which is Compel's).

Written from Compel's documented syntax (``doc/syntax.md``): ``word+``/``word-`` and
``(a phrase)++`` weigh by 1.1 per ``+`` and 0.9 per ``-``; ``(a phrase)1.3`` and
``"a phrase"1.3`` set a weight; groups nest and multiply; ``\\( \\) \\"`` are escapes;
``("a", "b").blend(0.6, 0.4)`` blends conditionings; ``("a", "b").and()`` concatenates
them. ``.swap()`` (cross-attention control) has no promptlang equivalent.
"""
from __future__ import annotations

import re

from .model import Decompiled, Part, Run, scale

MAX_DEPTH = 32
_CALL = re.compile(r"^\s*\((.*)\)\s*\.(blend|and)\(([^()]*)\)\s*$", re.S)
_AFTER = re.compile(r"(\d*\.\d+|\d+(?:\.\d*)?)|(\++|-+)")
_WORD = re.compile(r'[^\s,()"\\.=]+')


def _sign(run: str) -> float:
    return 1.1 ** len(run) if run[0] == "+" else 0.9 ** len(run)


class _Parser:
    def __init__(self, text: str, out: Decompiled):
        self.text, self.pos, self.out, self.depth = text, 0, out, 0

    def weight_after(self) -> float:
        m = _AFTER.match(self.text, self.pos)
        if not m:
            return 1.0
        self.pos = m.end()
        return float(m.group(1)) if m.group(1) else _sign(m.group(2))

    def plain(self, buf: list, nodes: list) -> None:
        """Words with a ``+``/``-`` run at their end are weighted (``cat++``); the rest is text."""
        text = "".join(buf)
        buf.clear()
        at = 0
        for m in _WORD.finditer(text):
            word = m.group(0)
            core = word.rstrip("+")
            if core == word:
                core = word.rstrip("-")
            if core == word or not core or core[-1] in "+-":
                continue
            nodes.append(Run(text[at:m.start()]))
            nodes.append(Run(core, _sign(word[len(core):])))
            at = m.end()
        nodes.append(Run(text[at:]))

    def seq(self, close: str | None) -> list:
        nodes: list = []
        buf: list = []
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if ch == "\\" and self.pos + 1 < len(text) and text[self.pos + 1] in '()"':
                buf.append(text[self.pos + 1])
                self.pos += 2
            elif ch == close:
                self.pos += 1
                self.plain(buf, nodes)
                return nodes
            elif ch in '("' and self.depth < MAX_DEPTH:
                self.plain(buf, nodes)
                self.pos += 1
                self.depth += 1
                inner = self.seq(")" if ch == "(" else '"')
                self.depth -= 1
                nodes.extend(scale(inner, self.weight_after()))
            else:
                if text.startswith((".swap(", ".blend(", ".and("), self.pos):
                    self.out.note(f"Compel's `{text[self.pos:text.index('(', self.pos) + 1]}…)` inside a prompt has "
                                  "no promptlang equivalent; kept as words")
                buf.append(ch)
                self.pos += 1
        self.plain(buf, nodes)
        if close is not None:
            opener = '"' if close == '"' else "("
            self.out.note(f"a `{opener}` is never closed; read to the end of the prompt")
        return nodes


def parse(text: str, out: Decompiled) -> list:
    from .a1111 import merge

    return merge(_Parser(text, out).seq(None))


def _split_top(text: str) -> list[str]:
    parts, depth, quoted, at, i = [], 0, False, 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and depth == 0 and ch == ",":
            parts.append(text[at:i])
            at = i + 1
        i += 1
    parts.append(text[at:])
    return parts


def _unquote(part: str) -> str:
    part = part.strip()
    if len(part) >= 2 and part[0] == part[-1] == '"':
        return part[1:-1].replace('\\"', '"')
    return part


def side(text: str, out: Decompiled) -> tuple[list, list | None]:
    """(nodes, blend parts or None)."""
    m = _CALL.match(text)
    if not m:
        return parse(text, out), None
    parts = [_unquote(p) for p in _split_top(m.group(1))]
    if m.group(2) == "and":
        out.note("Compel's `.and()` (conditionings side by side) has no promptlang equivalent; the parts are "
                 "written as one prompt, joined by commas")
        nodes = []
        for i, part in enumerate(parts):
            nodes.extend(([Run(", ")] if i else []) + parse(part, out))
        return nodes, None
    weights = []
    for w in _split_top(m.group(3)):
        try:
            weights.append(float(w))
        except ValueError:
            if w.strip():
                out.note(f"`.blend()`'s `{w.strip()}` is not a weight; ignored")
    if len(weights) != len(parts):
        out.note(f"`.blend()` has {len(parts)} parts and {len(weights)} weights; missing ones are 1")
        weights = (weights + [1.0] * len(parts))[:len(parts)]
    return [], [Part(parse(p, out), w) for p, w in zip(parts, weights)]


def read(text: str, negative: str = "") -> Decompiled:
    from .a1111 import split_negative

    if negative == "":
        text, negative = split_negative(text)
    out = Decompiled("Compel")
    out.positive, out.blend = side(text, out)
    nodes, blend = side(negative, out)
    if blend:
        out.note("a blended negative prompt is written as its heaviest part")
        nodes = max(blend, key=lambda p: p.weight).nodes
    out.negative = nodes
    return out
