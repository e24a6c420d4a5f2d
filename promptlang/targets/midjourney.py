"""``midjourney``: multi-prompt weights ``text::w``, negatives as ``--no``, ``--ar`` and ``--seed``.

``::`` and ``--`` inside words would start a weight or a parameter, so they are
broken up (``: :``, ``- -``), with a warning for each. Midjourney has no weights inside
``--no`` and cannot weight a phrase inside a sentence: warned for each such fragment. Render settings that belong
to diffusers (model, steps, guidance, scheduler, images) are not part of a
Midjourney prompt and are left out.
"""
from __future__ import annotations

import math
import re

from ..ir import Blend, join_text, merged, texts
from ..settings import complete
from . import at, lower, number, runs, unsupported, warn

NAME = "Midjourney"
CAN = frozenset({"blend", "weights"})  # no weights inside blend parts or in --no


def escape(text: str) -> str:
    text = re.sub(r":(?=:)", ": ", text)
    text = re.sub(r"-(?=-)", "- ", text)
    text = re.sub(r"\s+", " ", text).strip()
    return text + " " if text.endswith(":") else text  # `ratio:` + `::2` must not read `:::2`


def _broken_up(prompt, fragments, warnings) -> None:
    """A warning for each ``::`` and ``--`` that :func:`escape` breaks up."""
    for frag in fragments:
        for found in re.finditer(r"::|--", frag.text):
            warn(warnings, prompt, f"`{found.group(0)}` would start a Midjourney weight or parameter "
                                   f"({at(frag.text, found.start())}): written `{found.group(0)[0]} "
                                   f"{found.group(0)[1]}`", frag.span)


def emit(prompt, warnings=None) -> str:
    prompt = lower(prompt, "midjourney", warnings)
    (segment,) = prompt.segments
    for side in (*texts(segment.positive), segment.negative):
        _broken_up(prompt, side, warnings)
    parts = [] if isinstance(segment.positive, Blend) else runs(segment.positive)
    if isinstance(segment.positive, Blend):  # a multi-prompt: each part's words, weighted by its share
        out = " ".join(f"{escape(join_text(part.fragments).strip(' ,'))}::{number(part.weight)}"
                       for part in segment.positive.parts)
    elif all(w == 1.0 for _, _, w in parts):
        out = escape(join_text(segment.positive))
    else:
        frags = merged(segment.positive)
        for k, frag in enumerate(frags):  # a weighted fragment written side by side with its neighbour
            if frag.weight != 1.0 and ((k and frag.join == " ") or (k + 1 < len(frags) and frags[k + 1].join == " ")):
                warn(warnings, prompt, "Midjourney weights whole parts (`text::w`): a weighted phrase inside a "
                                       f"sentence becomes a part of its own (`{frag.text}`)", frag.span)
        if any(w < 0 for _, _, w in parts) and sum(w for _, _, w in parts) <= 0:
            warn(warnings, prompt, "Midjourney needs the weights to add up to more than 0")
        out = " ".join(f"{escape(text.strip(' ,'))}::{number(w)}" for _, text, w in parts)
    if segment.negative:
        for frag in segment.negative:
            if "negative_weights" not in CAN and frag.weight != 1.0:
                unsupported(prompt, warnings, "negative_weights", NAME, frag.span, text=frag.text,
                            weight=number(frag.weight))
        out += " --no " + escape(join_text(segment.negative))
    p = complete(prompt.settings)
    if p.aspect:
        w, h = p.aspect
    else:
        g = math.gcd(p.width, p.height)
        w, h = p.width // g, p.height // g
    if (w, h) != (1, 1):
        out += f" --ar {w}:{h}"
    if p.seed is not None:
        out += f" --seed {p.seed}"
    return out
