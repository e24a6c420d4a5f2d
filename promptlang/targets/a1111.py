"""``a1111``: AUTOMATIC1111's (and ComfyUI CLIPTextEncode's) syntax, e.g. ``(distorted hands:1.3)``.

``( ) [ ] \\`` are escaped with a backslash; a ``:`` can only become a weight next to
an unescaped ``)``, which escaping rules out. ``AND`` and ``BREAK`` in capitals and
``<name:…>`` are A1111 keywords that no escape covers: they are kept, with a warning.

Prompt editing (``"a cat" -> "a dog" at 0.4``) is A1111's own ``[a cat:a dog:0.4]``:
each stage is written out whole, and only the words where the stages differ go
inside the brackets (split at spaces and commas; a weighted run is one unit). More
stages nest, ``[a:[b:c:0.7]:0.4]``. A1111 has no blend of conditionings (its ``AND``
mixes noise predictions, which is something else): a blend is written as its
heaviest part, with a warning.
"""
from __future__ import annotations

import re

from . import lower, number, runs, warn

NAME = "AUTOMATIC1111"
CAN = frozenset({"edit", "alternate", "weights", "negative_weights"})

_KEYWORD = re.compile(r"\b(AND|BREAK)\b|<\w+:[^>]+>")


def escape(text: str) -> str:
    return re.sub(r"([\\()\[\]])", r"\\\1", text)


def _side(prompt, fragments, warnings) -> str:
    out = []
    for join, text, weight in runs(fragments):
        found = _KEYWORD.search(text)
        if found:
            warn(warnings, prompt, f"`{found.group(0)}` means something to AUTOMATIC1111 and cannot be escaped")
        body = escape(text)
        out.append(join + (body if weight == 1.0 else f"({body}:{number(weight)})"))
    return "".join(out)


# a weighted run `(…:w)`, a separator, or a word (escapes kept whole)
_UNIT = re.compile(r"\((?:[^()\\]|\\.)*:[-0-9.]+\)|,\s*|\s+|(?:[^\s,()\\]|\\.)+|.", re.S)


def _scheduled(prompt, texts: list[str], ats: list[float], warnings) -> str:
    """One string for stage texts that take over at ``ats``: ``prefix[a:b:at]suffix``."""
    if len(set(texts)) == 1:
        return texts[0]
    units = [_UNIT.findall(t) for t in texts]
    first = units[0]
    head = 0
    while all(len(u) > head and u[head] == first[head] for u in units):
        head += 1
    tail = 0
    while all(len(u) - head > tail and u[len(u) - 1 - tail] == first[len(first) - 1 - tail] for u in units):
        tail += 1
    middles = [u[head:len(u) - tail] for u in units]
    # `a cat[, hat:0.3], by …` rather than `a cat, [hat, :0.3]by …`
    while head and not first[head - 1].strip(" ,") and any(middles) \
            and all(not m or m[-1] == first[head - 1] for m in middles):
        middles = [[first[head - 1]] + m[:-1] if m else m for m in middles]
        head, tail = head - 1, tail + 1
    if any(re.search(r"(?<!\\)[:|]", unit) for m in middles for unit in m if not unit.startswith("(")):
        warn(warnings, prompt, "a `:` or `|` inside a prompt edit can be misread by AUTOMATIC1111's parser")
    middles = ["".join(m) for m in middles]

    def nest(k: int) -> str:
        if k == len(middles) - 1:
            return middles[k]
        before, after, at = middles[k], nest(k + 1), number(ats[k + 1])
        if before and after:
            return f"[{before}:{after}:{at}]"
        return f"[{after}:{at}]" if after else f"[{before}::{at}]"

    return "".join(first[:head]) + nest(0) + "".join(first[len(first) - tail:])


def _turns(prompt, texts: list[str], warnings) -> str:
    """One string for the texts an alternation takes in turn, a step each: ``prefix[a|b]suffix``
    (A1111's alternating words; several alternations in one prompt cycle together, so one
    bracket over where they differ says the same)."""
    if len(set(texts)) == 1:
        return texts[0]
    units = [_UNIT.findall(t) for t in texts]
    first = units[0]
    head = 0
    while all(len(u) > head and u[head] == first[head] for u in units):
        head += 1
    tail = 0
    while all(len(u) - head > tail and u[len(u) - 1 - tail] == first[len(first) - 1 - tail] for u in units):
        tail += 1
    middles = ["".join(u[head:len(u) - tail]) for u in units]
    if any(re.search(r"(?<![\\\[])[|:\]]", m) for m in middles):
        warn(warnings, prompt, "a `:` or `|` inside an alternation can be misread by AUTOMATIC1111's parser")
    return "".join(first[:head]) + "[" + "|".join(middles) + "]" + "".join(first[len(first) - tail:])


def sides(prompt, warnings=None) -> tuple[str, str]:
    """``(positive, negative)``: the two prompts as AUTOMATIC1111 takes them (negative may be empty)."""
    prompt = lower(prompt, "a1111", warnings)
    stages: list[list] = []  # the segments of each stage: its turns when it alternates
    for s in prompt.segments:
        if stages and s.phase > 0 and stages[-1][0].start == s.start:
            stages[-1].append(s)
        else:
            stages.append([s])
    starts = [stage[0].start for stage in stages]

    def text(side) -> list[str]:
        return [_turns(prompt, [_side(prompt, side(s), warnings) for s in stage], warnings) for stage in stages]

    positive = _scheduled(prompt, text(lambda s: s.positive), starts, warnings)
    negative = ""
    if any(s.negative for s in prompt.segments):
        negative = _scheduled(prompt, text(lambda s: s.negative), starts, warnings)
    return positive, negative


def emit(prompt, warnings=None) -> str:
    positive, negative = sides(prompt, warnings)
    return positive + ("\nNegative prompt: " + negative if negative else "")
