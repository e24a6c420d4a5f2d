"""``plain``: the words only, no weights."""
from __future__ import annotations

from ..ir import join_text
from . import simplify, warn


def emit(prompt, warnings=None) -> str:
    prompt = simplify(prompt, warnings, "plain text")
    if any(f.weight != 1.0 for f in (*prompt.positive, *prompt.negative)):
        warn(warnings, prompt, "plain text has no weights; they are left out")
    out = join_text(prompt.positive)
    if prompt.negative:
        out += "\nNegative prompt: " + join_text(prompt.negative)
    return out
