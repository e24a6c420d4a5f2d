"""Midjourney prompts read back: ``text::2`` multi-prompt weights, ``--no``, ``--ar``,
``--seed``; other parameters have no promptlang setting and are noted.

Each ``::``-weighted part becomes an item with that weight (as promptlang's own
Midjourney target writes weights); image links at the start are left out.
"""
from __future__ import annotations

import re

from .model import Decompiled, Run

_PARAM = re.compile(r"(?:^|\s)--([A-Za-z][\w-]*)")
_PART = re.compile(r"::\s*(-?(?:\d+\.?\d*|\.\d+))?")
_URL = re.compile(r"^(?:\s*<?https?://\S+>?)+")


def read(text: str, negative: str = "") -> Decompiled:
    out = Decompiled("Midjourney")
    text = " ".join(text.split())
    m = _URL.match(text)
    if m:
        out.note("image prompts (links) have no promptlang equivalent; left out")
        text = text[m.end():]
    params = list(_PARAM.finditer(text))
    body = text[:params[0].start()] if params else text
    for i, p in enumerate(params):
        value = text[p.end():params[i + 1].start() if i + 1 < len(params) else len(text)].strip()
        _param(p.group(1).lower(), value, out)
    runs, at = [], 0
    for m in _PART.finditer(body):
        piece = body[at:m.start()].strip()
        if piece:
            runs.append(Run(piece, float(m.group(1)) if m.group(1) else 1.0))
        at = m.end()
    if body[at:].strip():
        runs.append(Run(body[at:].strip(), 1.0))
    for i, run in enumerate(runs):
        out.positive += ([Run(", ")] if i else []) + [run]
    if negative:
        out.negative.append(Run(negative))
    return out


_DROP = {"v": "version", "version": "version", "niji": "Niji model", "s": "stylize", "stylize": "stylize",
         "c": "chaos", "chaos": "chaos", "q": "quality", "quality": "quality", "style": "style", "tile": "tile",
         "iw": "image weight", "w": "weird", "weird": "weird", "r": "repeat", "repeat": "repeat",
         "stop": "stop", "video": "video", "sref": "style reference", "cref": "character reference",
         "sw": "style weight", "cw": "character weight", "p": "personalization", "raw": "raw"}


def _param(name: str, value: str, out: Decompiled) -> None:
    if name == "no":
        if value:
            out.negative += ([Run(", ")] if out.negative else []) + [Run(value)]
        return
    if name in ("ar", "aspect"):
        m = re.fullmatch(r"(\d{1,5}):(\d{1,5})", value)
        if m:
            out.settings["aspect"] = (int(m.group(1)), int(m.group(2)))
            return
    elif name in ("seed", "sameseed"):
        if value.isdigit() and len(value) <= 10:
            out.settings["seed"] = int(value)
            return
    else:
        what = _DROP.get(name, "an unknown parameter")
        out.note(f"`--{name}{' ' + value if value else ''}` ({what}) has no promptlang setting; left out")
        return
    out.note(f"`--{name} {value}`: not a value promptlang can read; left out")
