"""``a1111``: AUTOMATIC1111's (and ComfyUI CLIPTextEncode's) syntax, e.g. ``(distorted hands:1.3)``.

``( ) [ ] \\`` are escaped with a backslash; a ``:`` can only become a weight next to
an unescaped ``)``, which escaping rules out. ``AND`` and ``BREAK`` in capitals and
``<name:…>`` are A1111 keywords that no escape covers: they are kept, with a warning.
"""
from __future__ import annotations

import re

from . import number, runs, warn

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


def emit(prompt, warnings=None) -> str:
    out = _side(prompt, prompt.positive, warnings)
    if prompt.negative:
        out += "\nNegative prompt: " + _side(prompt, prompt.negative, warnings)
    return out
