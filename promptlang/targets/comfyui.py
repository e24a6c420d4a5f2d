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

A textual-inversion embedding the prompt loads (an ``embedding:`` catalog entry) is
written ``embedding:FILE``, the name ComfyUI finds the file under; LoRAs are nodes
(LoraLoader), not text: warned.
"""
from __future__ import annotations

import re

from ..ir import embeddings
from . import lower, number, runs

NAME = "ComfyUI"
CAN = frozenset({"weights", "negative_weights", "embedding"})

_EMBEDDING = re.compile(r"(?<![^ \n])embedding(?=:)")  # a word that starts `embedding:`


def escape(text: str) -> str:
    return _EMBEDDING.sub("embedding ", text.replace("(", "\\(").replace(")", "\\)"))


def _side(fragments, tokens=None) -> str:
    out = []
    for join, text, weight in runs(fragments):
        if weight != 1.0 and not text:
            continue  # `(:1.2)` would read as the text `:1.2`; an empty run has no tokens
        body = escape(text)
        if tokens is not None:
            pattern, files = tokens
            body = pattern.sub(lambda m: "embedding:" + files[m.group(0)], body)
        if out and not join and out[-1].endswith("\\") and weight != 1.0:
            join = " "  # `a\` + `(b:1.2)` would read `\(`; ComfyUI splits words at spaces
        out.append(join + (body if weight == 1.0 else f"({body}:{number(weight)})"))
    return "".join(out)


def sides(prompt, warnings=None) -> tuple[str, str]:
    """``(positive, negative)``: the texts of the two CLIPTextEncode nodes (negative may be empty)."""
    (segment,) = lower(prompt, "comfyui", warnings).segments
    tokens = _tokens(prompt)
    return _side(segment.positive, tokens), _side(segment.negative, tokens)


def _tokens(prompt):
    """A pattern matching the embeddings' tokens as whole words (they may sit inside a merged
    fragment) and a dict from each token to its file's name; or None."""
    found = embeddings(prompt)
    if not found:
        return None
    files = {}
    for a in found:
        name = a.file.replace("\\", "/").rsplit("/", 1)[-1]
        files[a.name] = name[:-len(".safetensors")] if name.endswith(".safetensors") else name
    names = sorted((a.name for a in found), key=len, reverse=True)
    return re.compile(r"(?<![\w:])(?:" + "|".join(map(re.escape, names)) + r")(?![\w])"), files


def emit(prompt, warnings=None) -> str:
    positive, negative = sides(prompt, warnings)
    return positive + ("\nNegative prompt: " + negative if negative else "")
