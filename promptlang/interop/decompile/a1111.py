"""AUTOMATIC1111's prompt syntax read back (and ComfyUI's, a subset of it).

Written from the webui's documented behaviour ("Attention/emphasis", "Prompt editing",
"Alternating words", "Composable diffusion", "BREAK") and from reading its parser; no
code of it is copied (it is AGPL).

* ``(x)`` multiplies by 1.1, ``[x]`` divides by 1.1, ``(x:1.3)`` multiplies by 1.3; they
  nest (``((x))`` is 1.21). A bracket left open weighs the rest of the prompt; a stray
  ``)`` or ``]`` is text.
* ``[a:b:0.4]`` edits at a fraction of the steps, ``[a:b:12]`` at step 12 (a number
  without a point is a step), ``[a:0.4]`` adds, ``[a::0.4]`` removes; ``[a|b]`` alternates.
* ``\\( \\) \\[ \\] \\\\ \\: \\|`` are escapes; any other backslash is text.
* ``AND`` splits the positive prompt into parts, each with an optional trailing
  ``:weight``; ``BREAK`` starts a new 75-token chunk; ``<lora:name:0.8>`` loads a LoRA.

ComfyUI's CLIPTextEncode reads only the parentheses: ``(x)``, ``(x:1.2)``, ``\\(`` and
``\\)``. Square brackets, ``:``, ``|``, ``AND``, ``BREAK`` and other backslashes are text.
"""
from __future__ import annotations

import re

from .model import Alternate, Decompiled, Edit, Part, Run, scale

MAX_DEPTH = 32  # brackets within brackets; deeper ones are read as text (1.1**32 is 21)
_NUMBER = re.compile(r"\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*")
_WEIGHT_CLOSE = r":\s*([+-]?(?:\d+\.?\d*|\.\d+))\s*\)"
_A1111 = re.compile(r"\\(.)|" + _WEIGHT_CLOSE + r"|([()\[\]:|])|([^\\()\[\]:|]+|\\)", re.S)
_COMFY = re.compile(r"\\([()])|" + _WEIGHT_CLOSE + r"|([()])|([^\\():]+|[\\:])", re.S)
_A1111_ESCAPES = set("()[]\\:|")
EXTRA = re.compile(r"<(lora|lyco|hypernet):([^:<>]+)(?::([^<>]*))?>", re.I)
_BREAK = re.compile(r"\bBREAK\b")
_AND = re.compile(r"\bAND\b")
_PART_WEIGHT = re.compile(r":\s*([-+]?(?:\d+\.?\d*|\.\d+))\s*$")  # searched: linear, unlike ^(.*?)…$
_EMBEDDING = re.compile(r"\bembedding:([^\s,()]+)")


class _Parser:
    def __init__(self, text: str, comfy: bool, out: Decompiled):
        self.tokens = [(m.group(1), m.group(2), m.group(3), m.group(4)) for m in (_COMFY if comfy else _A1111)
                       .finditer(text)]
        self.pos, self.comfy, self.out, self.depth = 0, comfy, out, 0
        self.schedules = comfy or self.schedulable()

    def schedulable(self) -> bool:
        """False when a `|` stands outside a `[…]` group: AUTOMATIC1111's schedule parser
        then fails on the whole prompt and reads every `[a:b:x]` and `[a|b]` as plain
        de-emphasised text (its attention parser still reads them)."""
        stack = []
        for _, _, mark, _ in self.tokens:
            if mark in ("(", "["):
                stack.append(mark)
            elif mark in (")", "]") and stack and stack[-1] == {")": "(", "]": "["}[mark]:
                stack.pop()
            elif mark == "|" and (not stack or stack[-1] != "["):
                if any(m == "[" for _, _, m, _ in self.tokens):
                    self.out.note("a `|` outside `[a|b]` makes AUTOMATIC1111 read no prompt edit or alternation in "
                                  "this prompt: its `[…]` are read as de-emphasised words, as the webui does")
                return False
        return True

    def text(self, value: str, nodes: list) -> None:
        nodes.append(Run(value))  # joined once, by merge(): no quadratic concatenation

    def seq(self, closers: frozenset) -> tuple[list, tuple | None]:
        """Nodes up to one of ``closers`` (``")"``, ``"]"``, ``":"``, ``"|"``, ``"w"`` for
        ``:1.2)``); returns (nodes, the closing token or None at the end)."""
        nodes: list = []
        while self.pos < len(self.tokens):
            escape, weight, mark, plain = self.tokens[self.pos]
            self.pos += 1
            if plain is not None:
                self.text(plain, nodes)
            elif escape is not None:
                self.text(escape if (self.comfy or escape in _A1111_ESCAPES) else "\\" + escape, nodes)
            elif weight is not None:
                if "w" in closers:
                    return nodes, ("w", weight)
                self.text(f":{weight})", nodes)
            elif mark in closers:
                return nodes, (mark, None)
            elif mark in "([" and self.depth < MAX_DEPTH:
                self.depth += 1
                nodes.extend(self.round() if mark == "(" else self.square())
                self.depth -= 1
            else:
                self.text(mark, nodes)
        return nodes, None

    def round(self) -> list:
        inner, close = self.seq(frozenset({")", "w"}))
        if close is None:
            self.out.note("a `(` is never closed: it weighs the rest of the prompt by 1.1, as AUTOMATIC1111 reads it")
        weight = float(close[1]) if close and close[0] == "w" else 1.1
        return scale(inner, weight)

    def square(self) -> list:
        parts, seps = [], []
        while True:
            nodes, close = self.seq(frozenset({"]", ":", "|"}))
            parts.append(nodes)
            if close is None or close[0] == "]":
                break
            seps.append(close[0])
        if self.schedules and close is not None and len(parts) >= 2 and set(seps) == {"|"}:
            return [Alternate([_runs(p) for p in parts])]
        if self.schedules and close is not None and set(seps) == {":"} and len(parts) in (2, 3):
            when = _number(parts[-1])
            if when is not None:
                return [self.edit(parts, when)]
        if close is None:
            self.out.note("a `[` is never closed: it weighs the rest of the prompt by 1/1.1, as AUTOMATIC1111 "
                          "reads it")
        nodes = []
        for i, part in enumerate(parts):
            if i:
                self.text(seps[i - 1], nodes)
            nodes.extend(part)
        return scale(nodes, 1 / 1.1)

    def edit(self, parts: list, when: str) -> Edit:
        before, after = ([], parts[0]) if len(parts) == 2 else (parts[0], parts[1])
        value = float(when)
        step = "." not in when and "e" not in when.lower()
        if step:
            if value < 0:
                self.out.note(f"`[…:{when}]`: a negative step switches at once; written as `at 0`")
                return Edit(_runs(before), _runs(after), 0.0)
            return Edit(_runs(before), _runs(after), float(int(value)), step=True)
        if not 0 <= value <= 1:
            self.out.note(f"`[…:{when}]` lies outside 0 to 1; written as `at {min(1, max(0, value)):g}`")
        return Edit(_runs(before), _runs(after), min(1.0, max(0.0, value)))


def _number(nodes: list) -> str | None:
    if not all(isinstance(n, Run) and n.weight == 1.0 for n in nodes):
        return None
    m = _NUMBER.fullmatch("".join(n.text for n in nodes))
    return m.group(1) if m else None


def _runs(nodes: list) -> list:
    """Edit and alternation sides hold runs only: a nested edit or alternation is read as
    its first text (promptlang's edits do not nest)."""
    out = []
    for node in nodes:
        if isinstance(node, Run):
            out.append(node)
        elif isinstance(node, Edit):
            out.extend(node.before or node.after)
        elif isinstance(node, Alternate):
            out.extend(node.options[0])
    return out


def merge(nodes: list) -> list:
    """Adjacent runs of equal weight joined (each text joined once)."""
    out: list = []
    texts: list[str] = []

    def flush():
        if texts:
            out[-1] = Run("".join(texts), out[-1].weight)
            texts.clear()

    for node in nodes:
        if isinstance(node, Run) and out and isinstance(out[-1], Run) and out[-1].weight == node.weight:
            if not texts:
                texts.append(out[-1].text)
            texts.append(node.text)
            continue
        flush()
        if not isinstance(node, Run) or node.text:
            out.append(node)
    flush()
    return out


def parse(text: str, out: Decompiled, *, comfy: bool = False) -> list:
    """One side's text (no ``AND``, no LoRA tags) -> nodes."""
    parser = _Parser(text, comfy, out)
    nodes, _ = parser.seq(frozenset())
    nested = any(isinstance(n, (Edit, Alternate)) and any(isinstance(m, (Edit, Alternate)) for m in
                 (n.before + n.after if isinstance(n, Edit) else [x for o in n.options for x in o])) for n in nodes)
    if nested:
        out.note("an edit or alternation inside another one is written with its first text (promptlang's do not nest)")
    return merge(nodes)


def extras(text: str, out: Decompiled, *, keep: bool = False) -> str:
    """``<lora:name:0.8>`` tags taken out of ``text`` into ``out.loras`` (hypernetworks noted)."""
    def take(m):
        kind, name, rest = m.group(1).lower(), m.group(2).strip(), m.group(3)
        weight = 1.0
        if rest:
            first = rest.split(":")[0].strip()
            try:
                weight = float(first)
            except ValueError:
                out.note(f"`{m.group(0)}`: the weight `{first}` is not a number; written as 1")
        if kind == "hypernet":
            out.note(f"`{m.group(0)}`: hypernetworks have no place in promptlang; left out")
        else:
            out.loras.append((name, weight))
        return ""

    return text if keep else EXTRA.sub(take, text)


def side(text: str, out: Decompiled, *, negative: bool = False) -> list:
    text = extras(text, out)
    if _BREAK.search(text):
        out.note("`BREAK` (start a new 75-token chunk) has no promptlang equivalent; written as a comma")
        text = _BREAK.sub(",", text)
    return parse(text, out)


def read(text: str, negative: str = "") -> Decompiled:
    """An AUTOMATIC1111 prompt (and negative prompt) -> :class:`Decompiled`.
    ``text`` may hold a ``Negative prompt:`` line, as the webui's own paste format does."""
    if negative == "":
        text, negative = split_negative(text)
    out = Decompiled("AUTOMATIC1111")
    parts = _AND.split(text)
    weighted = []
    for part in parts:
        m = _PART_WEIGHT.search(part)
        weighted.append((part[:m.start()], float(m.group(1))) if m else (part, 1.0))
    if len(parts) > 1:
        out.note("`AND` (composable diffusion: noise predictions mixed) is written as a blend (conditionings "
                 "mixed): close, not the same")
        out.blend = [Part(side(t, out), w) for t, w in weighted]
    else:
        body, weight = weighted[0]
        if weight != 1.0:
            out.note(f"AUTOMATIC1111 reads the trailing `:{_PART_WEIGHT.search(text).group(1)}` as the weight of the "
                     "whole prompt (composable diffusion); promptlang has none: left out")
        out.positive = side(body, out)
    out.negative = side(negative, out, negative=True)
    return out


def split_negative(text: str) -> tuple[str, str]:
    """``"prompt\\nNegative prompt: neg"`` -> (prompt, neg)."""
    m = re.search(r"^[ \t]*Negative prompt:", text, re.M)
    if not m:
        return text, ""
    return text[:m.start()], text[m.end():]


def read_comfy(text: str, negative: str = "") -> Decompiled:
    """A ComfyUI CLIPTextEncode text (and a negative one) -> :class:`Decompiled`."""
    if negative == "":
        text, negative = split_negative(text)
    out = Decompiled("ComfyUI")
    for t in (text, negative):
        for m in _EMBEDDING.finditer(t):
            out.note(f"`{m.group(0)}` loads an embedding file in ComfyUI; kept as words")
        if EXTRA.search(t):
            out.note(f"`{EXTRA.search(t).group(0)}` is text to ComfyUI (LoRAs load through nodes); kept as words")
    out.positive = parse(text, out, comfy=True)
    out.negative = parse(negative, out, comfy=True)
    return out
