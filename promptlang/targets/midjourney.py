"""``midjourney``: multi-prompt weights ``text::w``, negatives as ``--no``, ``--ar`` and ``--seed``.

``::`` and ``--`` inside words would start a weight or a parameter, so they are
broken up (``: :``, ``- -``). Midjourney has no weights inside ``--no`` (warned),
and cannot weight a phrase inside a sentence (warned). Render settings that belong
to diffusers (model, steps, guidance, scheduler, images) are not part of a
Midjourney prompt and are left out.
"""
from __future__ import annotations

import math
import re

from ..ir import join_text
from . import number, runs, simplify, warn


def escape(text: str) -> str:
    text = re.sub(r":(?=:)", ": ", text)
    text = re.sub(r"-(?=-)", "- ", text)
    text = re.sub(r"\s+", " ", text).strip()
    return text + " " if text.endswith(":") else text  # `ratio:` + `::2` must not read `:::2`


def emit(prompt, warnings=None) -> str:
    prompt = simplify(prompt, warnings, "Midjourney", blend=True)
    parts = runs(prompt.positive)
    if prompt.blend:  # a blend is a multi-prompt: each part's words, weighted by its share
        if any(f.weight != 1.0 for part in prompt.blend for f in part.positive):
            warn(warnings, prompt, "Midjourney weights whole parts of a multi-prompt: weights inside the "
                                   "parts of a blend are left out")
        out = " ".join(f"{escape(join_text(part.positive).strip(' ,'))}::{number(part.weight)}"
                       for part in prompt.blend)
    elif all(w == 1.0 for _, _, w in parts):
        out = escape(join_text(prompt.positive))
    else:
        if any(join == " " for join, _, _ in parts[1:]):
            warn(warnings, prompt, "Midjourney weights whole parts (`text::w`): a weighted phrase inside a "
                                   "sentence becomes a part of its own")
        if any(w < 0 for _, _, w in parts) and sum(w for _, _, w in parts) <= 0:
            warn(warnings, prompt, "Midjourney needs the weights to add up to more than 0")
        out = " ".join(f"{escape(text.strip(' ,'))}::{number(w)}" for _, text, w in parts)
    if prompt.negative:
        if any(f.weight != 1.0 for f in prompt.negative):
            warn(warnings, prompt, "Midjourney's --no takes no weights; negative weights are left out")
        out += " --no " + escape(join_text(prompt.negative))
    p = prompt.params
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
