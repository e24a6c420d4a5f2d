"""``plain``: the words only, no weights."""
from __future__ import annotations

from ..ir import join_text
from . import lower

NAME = "plain text"
CAN: frozenset = frozenset()


def emit(prompt, warnings=None) -> str:
    (segment,) = lower(prompt, "plain", warnings).segments
    out = join_text(segment.positive)
    if segment.negative:
        out += "\nNegative prompt: " + join_text(segment.negative)
    return out
