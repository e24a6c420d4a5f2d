"""``compel``: Compel's weighted prompt syntax, e.g. ``a stock photo, ("distorted hands")1.3``.

Compel's parser (pyparsing) treats ``( ) "`` as syntax, ``+``/``-`` right after a word
as weights, ``=`` as syntax inside a weighted run, and ``.and()``/``.blend()``/``.swap()``
as operators. ``(``, ``)`` and ``"`` are always written ``\\(``, ``\\)``, ``\\"``, so no
operator can open. Runs of weight 1 are written bare, with a space put before a
``+``/``-`` run that would otherwise weight the word before it. Weighted runs are
written ``("text")W``, with a space after a backslash that ends the text or comes
before ``n t f r x u`` or a digit (inside quotes Compel reads ``\\n``, ``\\x41``… as
escapes). Two runs always have a space between them. Compel tokenizes each run on
its own and CLIP splits punctuation from words, so none of these spaces changes
the tokens.

A blend is Compel's ``("part one", "part two").blend(0.6, 0.4)``; inside those
quotes weighted runs are written ``(text)W``, and a part holding ``" \\ ( ) + = -``
falls back to the heaviest part, with a warning. Prompt editing over steps has no
Compel syntax: the stage that holds longest is written, with a warning.

What Compel's syntax cannot say is written as closely as possible, with a warning
for each place: a negative weight (written as 0); inside a weighted run, a ``+``/``-``
that no word follows, two or more of them, or any ``=`` (written between the weighted
parts, with weight 1); a backslash before ``( ) "`` (a space is put between them).

Compel's parser splits ``.`` and ``,`` off as words of their own inside a weighted run
(``("wait... what")1.2`` reaches CLIP as ``wait . . . what``). Next to a letter, a digit
or a space that changes no token (CLIP splits punctuation from words anyway); next to
other punctuation it does (``...`` is one CLIP token, ``. . .`` three), and no escape of
Compel's keeps them together (``\.`` reaches CLIP with its backslash): such a run is
written as Compel will re-space it, with a warning that names the place. Before
parsing, Compel also puts a space after every ``,`` that has none (``a,;b`` becomes
``a, ;b``, other tokens): warned the same way. Everywhere
else the text gives Compel the IR's own tokens (tests/test_targets_exact.py checks it
at the token-id level).
"""
from __future__ import annotations

import re

from ..ir import Blend
from . import at, lower, number, warn

NAME = "Compel's text syntax"
CAN = frozenset({"blend", "weights", "part_weights"})

_SIGN = re.compile(r"(?<=[^\s+-])(?=[+-](?:[\s+=,.-]|$))")
_BARE = re.compile(r"((?<![+=-])(?:[+=-]{2,}|=|[+-](?=[\s,.]|$)))")
_QUOTE_ESCAPE = re.compile(r"\\(?=[ntfrxu0-9]|$)")
# punctuation next to punctuation, with a `.` or `,` in it: CLIP keeps such a run whole,
# Compel's parser splits the `.`/`,` off (`_` is punctuation to CLIP, a word character to `\w`)
_CLUSTER = re.compile(r"(?:[^\w\s]|_){2,}")
_COMMA = re.compile(r",(?=[^\w\s]|_)")  # Compel's `re.sub(r',(\S)', r', \1', prompt)`: other tokens here


def escape(text: str) -> str:
    return text.replace("(", "\\(").replace(")", "\\)").replace('"', '\\"')


def _weighted(prompt, text: str, weight: float, warnings, span=None) -> str:
    if weight < 0:
        warn(warnings, prompt, f"Compel's syntax has no negative weights; `{text}` is written with weight 0", span)
        weight = 0.0
    parts = _BARE.split(text)
    if len(parts) > 1:
        warn(warnings, prompt, f"Compel cannot weight `{'`, `'.join(dict.fromkeys(parts[1::2]))}` "
                               f"in `{text}`: written with weight 1", span)
    _respaced(prompt, text, weight, warnings, span)
    out = []
    for k, part in enumerate(parts):
        if k % 2:
            out.append(part)
        elif part.strip():
            out.append('("' + _QUOTE_ESCAPE.sub(r"\\ ", escape(part)) + '")' + number(weight))
    return " ".join(out)


def runs(fragments) -> list[tuple[str, str, float, object]]:
    """(join, text, weight, span) of the runs Compel must see, by the rules our encoding
    follows (:func:`promptlang.diffusion.encode.pieces`): a fragment with no words is left
    out, and fragments of equal weight are one run only when what joins them is whitespace
    (or the weight is 1): ``("a")1.1, ("b")1.1`` keeps its comma at weight 1."""
    out: list[list] = []
    for frag in fragments:
        if not frag.text.strip():
            continue
        if out and out[-1][2] == frag.weight and (frag.weight == 1.0 or not frag.join.strip()):
            out[-1][1] += frag.join + frag.text
        else:
            out.append([frag.join if out else "", frag.text, frag.weight, frag.span])
    return [tuple(run) for run in out]


def _side(prompt, fragments, warnings) -> str:
    out = []
    pieces = runs(fragments)
    for i, (join, text, weight, span) in enumerate(pieces):
        for found in re.finditer(r'\\(?=[()"])', text):
            warn(warnings, prompt, "a backslash before `(`, `)` or `\"` cannot be written exactly for Compel "
                                   f"({at(text, found.start())}); a space is put between them", span)
        text = re.sub(r'\\(?=[()"])', "\\\\ ", text)
        join = join if join or not i else " "
        if weight == 1.0:
            _respaced(prompt, text, weight, warnings, span, pieces[i + 1][0] if i + 1 < len(pieces) else "")
            out.append(join + _SIGN.sub(" ", escape(text)))
        else:
            out.append(join + _weighted(prompt, text, weight, warnings, span))
    return "".join(out)


_UNSAFE_IN_BLEND = re.compile(r'["\\()+=-]')


def _respaced(prompt, text: str, weight: float, warnings, span, after: str = "") -> None:
    """A warning for each place where Compel's parser changes the tokens of ``text``
    (``after``: the join that follows it, for a `,` at its end)."""
    if weight == 1.0:
        text += after[:1]
        for found in _COMMA.finditer(text):
            warn(warnings, prompt, f"Compel puts a space after every `,` ({at(text, found.start())}): CLIP "
                                   f"gets `, {text[found.end()]}`, other tokens", span)
        return
    for found in _CLUSTER.finditer(text):
        if re.search(r"[.,]", found.group(0)) and not _BARE.fullmatch(found.group(0)):
            spaced = " ".join(re.findall(r"[.,]|[^.,]+", found.group(0)))
            warn(warnings, prompt, f"Compel's parser re-spaces `{found.group(0)}` inside a weighted run "
                                   f"({at(text, found.start())}): CLIP gets `{spaced}`, other tokens", span)


def _blend(prompt, blend: Blend, warnings) -> str | None:
    """``("part one", "part two").blend(0.6, 0.4)``, or None where a part holds text that
    cannot be written safely inside Compel's quoted blend parts."""
    parts, found = [], []
    for part in blend.parts:
        out = []
        pieces = runs(part.fragments)
        for i, (join, text, weight, span) in enumerate(pieces):
            if _UNSAFE_IN_BLEND.search(text) or weight < 0:
                return None
            found.append((text, weight, span, pieces[i + 1][0] if i + 1 < len(pieces) else ""))
            join = join if join or not i else " "
            out.append(join + (text if weight == 1.0 else f"({text}){number(weight)}"))
        parts.append('"' + "".join(out) + '"')
    for text, weight, span, after in found:
        _respaced(prompt, text, weight, warnings, span, after)
    return f"({', '.join(parts)}).blend({', '.join(number(part.weight) for part in blend.parts)})"


def emit(prompt, warnings=None) -> str:
    prompt = lower(prompt, "compel", warnings)
    (segment,) = prompt.segments
    blend = _blend(prompt, segment.positive, warnings) if isinstance(segment.positive, Blend) else None
    if isinstance(segment.positive, Blend) and blend is None:
        prompt = lower(prompt, "compel", warnings, can=CAN - {"blend"},
                       name=NAME + ", with `\" \\ ( ) + = -` inside a blend part,")
        (segment,) = prompt.segments
    out = blend or _side(prompt, segment.positive, warnings)
    if segment.negative:
        out += "\nNegative prompt: " + _side(prompt, segment.negative, warnings)
    return out
