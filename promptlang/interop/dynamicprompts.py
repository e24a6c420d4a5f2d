"""dynamicprompts templates -> `.prompt` source (``promptlang decompile --from dynamicprompts``).

A template such as ``a {red|blue} {car|bike}, __styles__`` becomes one prompt whose subject
holds the same choices::

    use wildcards "wildcards"
    prompt decompiled {
        subject "a" {"red" | "blue"} {"car" | "bike"}, __styles__
    }

Expanding it combinatorially (``promptlang expand``) gives the prompts dynamicprompts'
``CombinatorialPromptGenerator`` gives for the template, in the same order, with the same
``$$`` rules (ordered picks of distinct options, the separator between them). The words are
the same; promptlang writes whitespace its own way (one space between words, none at the
ends), and does not drop a combination whose text repeats another's (dynamicprompts does;
identical plain options are dropped here too, so the usual case agrees).

How the text maps: top-level ``, `` separates subject phrases (joined by ``, ``); words
separated by spaces are pieces (joined by a space); text glued to a choice without a space
(``{big|small}er``) goes into each option (``{"bigger" | "smaller"}``), the leftmost choice
still varying slowest. Not carried (an error says so): dynamicprompts variables ``${…}``,
wrap commands ``%{…}``, sampler marks ``~``/``@``, and text glued to a ``$$`` pick or to a
wildcard.
"""
from __future__ import annotations

import re
from pathlib import Path

from ..choices import MAX_OPTIONS, TextError, TVariant, TWild, parse_text
from ..errors import PromptError

MAX_TEMPLATE = 100_000   # characters of a template
MAX_DISTRIBUTED = 10_000  # options made by moving glued text into a choice
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_WILD_NAME = re.compile(r"^[A-Za-z0-9_\-/*?]+$")


def decompile(text: str, *, wildcards: Path | None = None, name: str = "decompiled") -> str:
    """The `.prompt` source equivalent to the dynamicprompts template ``text``.

    ``wildcards``: the wildcard folder its ``__name__`` references read, written as ``use
    wildcards "PATH"`` (a path relative to where the `.prompt` file will be, as given)."""
    if len(text) > MAX_TEMPLATE:
        raise PromptError(f"the template is too long ({len(text):,} characters; at most {MAX_TEMPLATE:,})")
    if not _NAME.match(name):
        raise PromptError(f"`{name}` cannot name a prompt (letters, digits and `_`)")
    try:
        parts = parse_text(text.replace("\r\n", "\n"), comments=True)
        parts = tuple(p.replace("\n", " ") if isinstance(p, str) else p for p in parts)
    except TextError as exc:
        raise PromptError(f"template: {exc.message} (at character {exc.offset + 1})") from None
    phrases = [_pieces(p) for p in _phrases(list(parts))]
    phrases = [p for p in phrases if p]
    if not phrases:
        raise PromptError("the template has no words: nothing to draw")
    lines = []
    if wildcards is not None:
        lines.append(f"use wildcards {_quote(Path(wildcards).as_posix())}")
    elif any("__" in p for p in phrases):
        lines.append("# the wildcards need a folder: add  use wildcards \"./wildcards\"")
    lines += [f"prompt {name} {{", "    subject " + ", ".join(phrases), "}", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------- phrases and pieces

def _phrases(parts: list) -> list[list]:
    """Split the top level at `, ` (a comma and a space) inside text."""
    out, current = [], []
    for part in parts:
        if not isinstance(part, str):
            current.append(part)
            continue
        chunks = re.split(r",\s+", part)
        for i, chunk in enumerate(chunks):
            if i:
                out.append(current)
                current = []
            if chunk:
                current.append(chunk)
    out.append(current)
    return out


def _units(parts: list) -> list[list]:
    """Words: runs of parts with no whitespace between them."""
    units, current = [], []
    for part in parts:
        if not isinstance(part, str):
            current.append(part)
            continue
        for i, chunk in enumerate(re.split(r"(\s+)", part)):
            if chunk and chunk.isspace():
                if current:
                    units.append(current)
                current = []
            elif chunk:
                current.append(chunk)
    if current:
        units.append(current)
    return units


def _pieces(parts: list) -> str:
    """Parts side by side -> the pieces of one subject phrase, as source."""
    return _source(_units(parts))


def _source(units) -> str:
    """Units side by side as pieces: runs of plain words as one quoted string, each unit that
    holds a choice or a wildcard as its own piece."""
    out, words = [], []
    for unit in units:
        if all(isinstance(p, str) for p in unit):
            words.append("".join(unit))
            continue
        if words:
            out.append(_quote(" ".join(words)))
            words = []
        out.append(_unit(unit))
    if words:
        out.append(_quote(" ".join(words)))
    return " ".join(out)


def _unit(unit: list) -> str:
    """One word that holds a choice or a wildcard."""
    if len(unit) == 1:
        part = unit[0]
        if isinstance(part, TWild):
            return _wildcard(part)
        return _choice(part)
    first = next(i for i, p in enumerate(unit) if not isinstance(p, str))
    variant = unit[first]
    if isinstance(variant, TWild):
        raise PromptError(f"template: `__{variant.path}__` is glued to other text (at character "
                          f"{variant.offset + 1}); put a space around it")
    if (variant.low, variant.high) != (1, 1):
        raise PromptError(f"template: text is glued to a `$$` pick (at character {variant.offset + 1}); "
                          "put a space around it")
    before, after = unit[:first], unit[first + 1:]
    options = tuple(tuple(before) + tuple(option) + tuple(after) for option in variant.options)
    if len(options) > MAX_DISTRIBUTED:
        raise PromptError("template: too many options made by text glued to choices")
    return _choice(TVariant(options, variant.chances, 1, 1, variant.sep, False, variant.offset))


def _choice(variant: TVariant) -> str:
    options, seen = [], set()
    for option, chance in zip(variant.options, variant.chances):
        body = _option(list(option))
        if all(isinstance(p, str) for p in option):
            if body in seen:  # dynamicprompts gives a repeated plain option once
                continue
            seen.add(body)
        options.append((f"{chance:g}:: " if chance != 1.0 else "") + body)
    if len(options) > MAX_OPTIONS:
        raise PromptError(f"template: a choice has more than {MAX_OPTIONS:,} options")
    only_wildcard = len(variant.options) == 1 and len(variant.options[0]) == 1 and isinstance(
        variant.options[0][0], TWild)
    head = ""
    if variant.counted or (variant.low, variant.high) != (1, 1):
        n = len(options)
        low, high = variant.low, variant.high
        if not only_wildcard:
            low, high = min(low, n), min(high, n)
        count = f"{low}$$" if low == high else f"{low}-$$" if high < 0 else f"{low}-{high}$$"
        head = f"{count} {_quote(variant.sep)} $$ "
    return "{" + head + " | ".join(options) + "}"


def _option(parts: list) -> str:
    """An option: leading whitespace is not part of it (dynamicprompts strips it)."""
    while parts and isinstance(parts[0], str) and not parts[0].strip():
        parts.pop(0)
    if parts and isinstance(parts[0], str):
        parts[0] = parts[0].lstrip()
    if not parts:
        return ""
    if all(isinstance(p, str) for p in parts):
        return _quote("".join(parts))
    return _option_pieces(parts)


def _option_pieces(parts: list) -> str:
    """An option holding choices: its words as pieces; a comma that ends the text before a
    choice goes into that choice's options (an option is one subject item)."""
    units = _units(parts)
    merged = []
    for unit in units:
        if merged and merged[-1] and isinstance(merged[-1][-1], str) and merged[-1][-1].endswith(",") \
                and not all(isinstance(p, str) for p in unit):
            merged[-1] = merged[-1] + [" "] + unit  # glued: goes into the choice
        else:
            merged.append(unit)
    return _source(merged)


def _wildcard(part: TWild) -> str:
    if not _WILD_NAME.match(part.path) or any(p in ("", ".", "..") for p in part.path.split("/")):
        raise PromptError(f"template: the wildcard `__{part.path}__` has a name promptlang cannot write "
                          "(letters, digits, `_`, `-`, `/` and the globs `*` `?`)")
    return f"__{part.path}__"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
