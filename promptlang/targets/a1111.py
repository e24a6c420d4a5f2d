"""``a1111``: AUTOMATIC1111's syntax, e.g. ``(distorted hands:1.3)``, written so that A1111 reads
exactly the IR's words, weights and schedule (what its sources do, in ``prompt_parser.py``
and ``extra_networks.py``; ComfyUI reads prompts differently: see :mod:`.comfyui`).

Escapes. ``( ) [ ] \\`` get a backslash. A1111's attention parser drops a backslash that
escapes nothing, and its prompt-schedule parser takes a backslash and the next character
as plain text; so words A1111 would otherwise act on are broken up by a lone backslash
that leaves the tokens as they were: ``AN\\D`` (not a composable-diffusion ``AND``),
``BREA\\K`` (not a 75-token ``BREAK``), ``<\\lora:x>`` (not an extra network). A side that
has a prompt edit escapes every ``:`` and ``|`` (``\\:``, ``\\|``): a plain ``:`` there
breaks the ``[a:b:at]`` around it, and a plain ``|`` makes A1111 read every edit of the
prompt as text. A positive prompt that ends in ``:number`` (``aspect 16:9``) would be read
as an ``AND`` part's weight (``aspect 16`` at weight 9): an empty ``()`` is put after it,
which A1111 reads as nothing.

Prompt editing (``"a cat" -> "a dog" at 0.4``) is A1111's own ``[a cat:a dog:0.4]``,
``at step 12`` is ``[a cat:a dog:12]``: each stage is written out whole, and only the
words where the stages differ go inside the brackets (split at spaces and commas; a
weighted run is one unit). More stages nest, ``[a:[b:c:0.7]:0.4]``. Fractions are written
with all their digits, so A1111 counts the same iteration as the renderer
(:func:`promptlang.ir.switch_steps`). A1111 has no blend of conditionings (its ``AND``
mixes noise predictions, which is something else): a blend is written as its heaviest
part, with a warning. An alternation (``[cat | dog]``) is A1111's ``[cat|dog]``: the words
where the turns differ, inside one bracket (an alternating side escapes ``:`` and ``|``
as an edited one does).
"""
from __future__ import annotations

import re
from decimal import Decimal

from ..ir import embeddings, loras, merged
from . import lower, number, runs, warn

NAME = "AUTOMATIC1111"
CAN = frozenset({"edit", "alternate", "weights", "negative_weights", "lora", "embedding"})

# one pass over the text: what A1111 acts on in plain text, as its sources match it:
# `AND` (re_AND), `BREAK` (re_break), `<name:…>` (re_extra_net: `<(\w+):([^>]+)>`, which
# also matches across the `:` of an edit, so every `<` before a word character is broken);
# the characters every side escapes; those a side with an edit escapes
_ESCAPE = re.compile(r"(?P<kw>\b(?:AN(?=D\b)|BREA(?=K\b))|<(?=\w))|(?P<ch>[\\()\[\]])|(?P<sch>[:|])")
_AND_WEIGHT = re.compile(r":\s*[-+]?(?:\d+\.?|\d*\.\d+)\s*$")  # re_weight's tail: `… :9`


def escape(text: str, scheduled: bool = False) -> str:
    """``text`` as A1111 reads it literally; ``scheduled``: inside a side with a prompt edit."""
    def one(m):
        if m.group("kw"):
            return m.group("kw") + "\\"
        if m.group("ch"):
            return "\\" + m.group("ch")
        return "\\" + m.group("sch") if scheduled else m.group("sch")

    return _ESCAPE.sub(one, text)


def _side(prompt, fragments, warnings, scheduled: bool = False) -> str:
    out = []
    for join, text, weight in runs(fragments):
        body = escape(text, scheduled)
        out.append(join + (body if weight == 1.0 else f"({body}:{number(weight)})"))
    return "".join(out)


def fraction(at: float) -> str:
    """``at`` with every digit it has (float(the text) == at), never in exponent form."""
    text = repr(float(at))
    return format(Decimal(text), "f") if "e" in text or "E" in text else text


# a weighted run `(…:w)`, a separator, or a word (escapes kept whole)
_UNIT = re.compile(r"\((?:[^()\\]|\\.)*:[-0-9.]+\)|,\s*|\s+|(?:[^\s,()\\]|\\.)+|.", re.S)


def _differ(texts: list[str]):
    """The texts cut into units (:data:`_UNIT`), the first's units, and how many units all of
    them share at the head and at the tail: what lies between is where they differ."""
    units = [_UNIT.findall(t) for t in texts]
    first = units[0]
    head = 0
    while all(len(u) > head and u[head] == first[head] for u in units):
        head += 1
    tail = 0
    while all(len(u) - head > tail and u[len(u) - 1 - tail] == first[len(first) - 1 - tail] for u in units):
        tail += 1
    return units, first, head, tail


def _scheduled(texts: list[str], ats: list[str]) -> str:
    """One string for stage texts that take over at ``ats``: ``prefix[a:b:at]suffix``."""
    if len(set(texts)) == 1:
        return texts[0]
    units, first, head, tail = _differ(texts)
    middles = [u[head:len(u) - tail] for u in units]
    # `a cat[, hat:0.3], by …` rather than `a cat, [hat, :0.3]by …`
    while head and not first[head - 1].strip(" ,") and any(middles) \
            and all(not m or m[-1] == first[head - 1] for m in middles):
        middles = [[first[head - 1]] + m[:-1] if m else m for m in middles]
        head, tail = head - 1, tail + 1
    middles = ["".join(m) for m in middles]

    def nest(k: int) -> str:
        if k == len(middles) - 1:
            return middles[k]
        before, after, at = middles[k], nest(k + 1), ats[k + 1]
        if before and after:
            return f"[{before}:{after}:{at}]"
        return f"[{after}:{at}]" if after else f"[{before}::{at}]"

    return "".join(first[:head]) + nest(0) + "".join(first[len(first) - tail:])


def _schedule(prompt, sides, warnings) -> str:
    """One side (a list of fragment tuples, one per segment) as one A1111 prompt: the
    stages as prompt edits, an alternating stage's turns as ``[a|b]``."""
    scheduled = len({tuple(merged(side)) for side in sides}) > 1
    texts = [_side(prompt, side, warnings, scheduled) for side in sides]
    stages: list[list[int]] = []  # the segments of each stage: its turns when it alternates
    for k, s in enumerate(prompt.segments):
        if stages and s.phase > 0:
            stages[-1].append(k)
        else:
            stages.append([k])
    heads = [prompt.segments[stage[0]] for stage in stages]
    ats = [str(s.step) if s.step is not None else fraction(s.start) for s in heads]
    return _scheduled([_turns(prompt, [texts[k] for k in stage], warnings) for stage in stages], ats)


def _turns(prompt, texts: list[str], warnings) -> str:
    """One string for the texts an alternation takes in turn, a step each: ``prefix[a|b]suffix``
    (A1111's alternating words; several alternations in one prompt cycle together, so one
    bracket over where they differ says the same)."""
    if len(set(texts)) == 1:
        return texts[0]
    units, first, head, tail = _differ(texts)
    middles = ["".join(u[head:len(u) - tail]) for u in units]  # their `:` `|` `[` `]` are escaped
    return "".join(first[:head]) + "[" + "|".join(middles) + "]" + "".join(first[len(first) - tail:])


def sides(prompt, warnings=None) -> tuple[str, str]:
    """``(positive, negative)``: the two prompts as AUTOMATIC1111 takes them (negative may be empty)."""
    prompt = lower(prompt, "a1111", warnings)
    segments = prompt.segments
    positive = _schedule(prompt, [s.positive for s in segments], warnings)
    if _AND_WEIGHT.search(positive):
        positive += "()"
    negative = ""
    if any(s.negative for s in segments):
        negative = _schedule(prompt, [s.negative for s in segments], warnings)
    # LoRAs as A1111's extra networks, at the end of the positive prompt (A1111 takes them out
    # of the text before it is encoded; where they stand does not matter). An embedding is
    # already in the text: its token, the name A1111 finds it under (the file's name).
    # AUTOMATIC1111 finds a LoRA, and an embedding, by its file's name: the tag names the file;
    # an embedding's token is already in the text, so a name that is not its file's is warned about
    tags = "".join(f"<lora:{_stem(a.file)}:{number(a.weight)}>" for a in loras(prompt))
    for a in embeddings(prompt):
        if _stem(a.file) != a.name:
            warn(warnings, prompt, f"AUTOMATIC1111 finds embeddings by file name: `{a.name}` is in "
                                   f"{_stem(a.file)}.safetensors, so it reads `{a.name}` as words (name the "
                                   f"entry `{_stem(a.file)}`)")
    if tags:
        positive = f"{positive} {tags}" if positive else tags
    return positive, negative


def _stem(path: str) -> str:
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    return name[:-len(".safetensors")] if name.endswith(".safetensors") else name


def emit(prompt, warnings=None) -> str:
    positive, negative = sides(prompt, warnings)
    return positive + ("\nNegative prompt: " + negative if negative else "")
