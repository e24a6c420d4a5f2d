"""``compel``: Compel's weighted prompt syntax, e.g. ``a stock photo, ("distorted hands")1.3``.

Compel's parser (pyparsing) treats ``( ) "`` as syntax, ``+``/``-`` after a word as
weights and ``.and()``/``.blend()`` as operators. Runs of weight 1 are written bare
with ``\\(``, ``\\)`` and ``\\"`` escaped and a space put before a ``+``/``-`` that
would otherwise weight the word before it (CLIP splits punctuation from words, so
the tokens do not change). Weighted runs are written ``("text")W``. What Compel's
syntax cannot say exactly (negative weights, a lone ``+ - =`` inside a weighted run,
a backslash before ``( ) "``) is written as closely as possible, with a warning.
"""
from __future__ import annotations

import re

from . import number, runs, warn

_OPERATOR = re.compile(r"(?<=\S)([+-]+)(?=\s|$|[,.;:!?\])])")
_LONE = re.compile(r"(?:^|\s)[+=-]+(?=\s|$)|=")


def escape(text: str) -> str:
    return text.replace("(", "\\(").replace(")", "\\)").replace('"', '\\"')


def _side(prompt, fragments, warnings) -> str:
    out = []
    for join, text, weight in runs(fragments):
        if re.search(r'\\(?=[()"])', text):
            warn(warnings, prompt, "a backslash before `(`, `)` or `\"` cannot be written exactly for Compel; "
                                   "a space is put between them")
            text = re.sub(r'\\(?=[()"])', "\\\\ ", text)
        if weight == 1.0:
            out.append(join + _OPERATOR.sub(r" \1", escape(text)))
            continue
        if weight < 0:
            warn(warnings, prompt, f"Compel's syntax has no negative weights; `{text}` is written with weight 0")
            weight = 0.0
        if _LONE.search(text):
            warn(warnings, prompt, f"Compel cannot weight text with a lone `+`, `-` or `=` exactly: `{text}`")
        out.append(f'{join}("{escape(text)}"){number(weight)}')
    return "".join(out)


def emit(prompt, warnings=None) -> str:
    out = _side(prompt, prompt.positive, warnings)
    if prompt.negative:
        out += "\nNegative prompt: " + _side(prompt, prompt.negative, warnings)
    return out
