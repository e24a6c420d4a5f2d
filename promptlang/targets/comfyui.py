"""``comfyui``: the text of ComfyUI's CLIPTextEncode, e.g. ``a photo, (distorted hands:1.3)``.

ComfyUI is not AUTOMATIC1111 (its ``comfy/sd1_clip.py``): it knows ``(text)`` and
``(text:weight)`` only, where the weight replaces the one outside (it does not multiply),
and it unescapes only ``\\(`` and ``\\)``. So ``[`` ``]`` ``\\`` ``:`` ``|`` are written as they
are (a backslash before them would reach the model), ``(`` and ``)`` as ``\\(`` and ``\\)``.
``AND``, ``BREAK`` and ``<…>`` mean nothing to its core nodes.

A word (text between spaces) that starts with ``embedding:`` makes ComfyUI load an
embedding file of that name. ComfyUI tokenizes each word on its own, and CLIP splits
``embedding`` from ``:`` anyway, so such words are written ``embedding :name``: the same
tokens, and no file is looked up.

ComfyUI has no prompt editing over steps, alternation or blend in its prompt text (those
are nodes: ConditioningSetTimestepRange, ConditioningAverage): the stretch that holds
longest, and a blend's heaviest part, are written, with a warning. The negative prompt is
a second CLIPTextEncode; it is written on a ``Negative prompt:`` line.
"""
from __future__ import annotations

import re

from . import lower, number, runs

NAME = "ComfyUI"
CAN = frozenset({"weights", "negative_weights"})

_EMBEDDING = re.compile(r"(?<![^ \n])embedding(?=:)")  # a word that starts `embedding:`


def escape(text: str) -> str:
    return _EMBEDDING.sub("embedding ", text.replace("(", "\\(").replace(")", "\\)"))


def _side(fragments) -> str:
    out = []
    for join, text, weight in runs(fragments):
        if weight != 1.0 and not text:
            continue  # `(:1.2)` would read as the text `:1.2`; an empty run has no tokens
        body = escape(text)
        if out and not join and out[-1].endswith("\\") and weight != 1.0:
            join = " "  # `a\` + `(b:1.2)` would read `\(`; ComfyUI splits words at spaces
        out.append(join + (body if weight == 1.0 else f"({body}:{number(weight)})"))
    return "".join(out)


def sides(prompt, warnings=None) -> tuple[str, str]:
    """``(positive, negative)``: the texts of the two CLIPTextEncode nodes (negative may be empty)."""
    (segment,) = lower(prompt, "comfyui", warnings).segments
    return _side(segment.positive), _side(segment.negative)


def emit(prompt, warnings=None) -> str:
    positive, negative = sides(prompt, warnings)
    return positive + ("\nNegative prompt: " + negative if negative else "")
