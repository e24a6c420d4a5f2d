"""Catalog matching: decompiled words that are a catalog entry's text become its name.

``in the style of Vincent van Gogh`` -> ``van_gogh`` (a ``style``), ``a stock photo of a
cat`` -> ``format stock_photo`` with the subject ``a cat``. Matching is case-insensitive
(CLIP lower-cases) and keeps the order of the words: items are placed in the slots in
the order a prompt is put together (subject or format template, formats, styles,
quality), so an entry found out of that order stays as words.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .model import Edit, Run

ORDER = ("subject", "format", "style", "quality")


@dataclass(slots=True)
class Ref:
    section: str
    name: str
    weight: float
    negative: str = ""


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def _items(text: str) -> list[str]:
    return [norm(t) for t in text.split(",") if t.strip()]


class Index:
    """The entries of the catalogs in scope, by their words (later catalogs shadow earlier)."""

    def __init__(self, catalogs):
        from ... import template
        from ...errors import PromptError

        self.plain: dict[str, dict[tuple, object]] = {s: {} for s in ("format", "style", "quality", "negative")}
        self.by_first: dict[str, dict[str, list]] = {s: {} for s in self.plain}  # first item -> entries
        self.formats: list = []  # (entry, before, after items)
        self.used: set = set()
        seen = set()
        for cat in reversed(list(catalogs)):
            for section, entries in cat.entries.items():
                for key, entry in entries.items():
                    if (section, key) in seen or section not in self.plain:
                        continue
                    seen.add((section, key))
                    try:
                        pieces, mode = template.render(entry.text, f"{cat.name}: {section}.{key}")
                    except PromptError:
                        continue
                    if mode == "absent" and _items(pieces[0]):
                        self.plain[section].setdefault(tuple(_items(pieces[0])), entry)
                        items = tuple(_items(pieces[0]))
                        if self.plain[section][items] is entry:
                            self.by_first[section].setdefault(items[0], []).append((items, entry))
                    elif mode == "placed" and len(pieces) == 2 and section == "format" \
                            and "," not in pieces[0] and pieces[0].strip():
                        self.formats.append((entry, norm(pieces[0]) + " ", _items(pieces[1])))

    def ref(self, entry, weight: float) -> Ref:
        self.used.add(entry.catalog)
        return Ref(entry.section, entry.key, weight / entry.weight if entry.weight else weight, entry.negative)


def _lit(phrase):
    """(text, weight) of a phrase that is one run, else None."""
    if len(phrase) == 1 and isinstance(phrase[0], Run):
        return norm(phrase[0].text), phrase[0].weight
    return None


def _run_of(phrases, start: int, count: int):
    """The weight shared by ``count`` one-run phrases from ``start``, with their texts."""
    if start + count > len(phrases):
        return None
    found = [_lit(p) for p in phrases[start:start + count]]
    if any(f is None for f in found) or len({w for _, w in found}) != 1:
        return None
    return tuple(t for t, _ in found), found[0][1]


def _longest(index: Index, phrases, start: int, sections) -> tuple | None:
    best = None
    first = _lit(phrases[start])
    if first is None:
        return None
    for section in sections:
        for items, entry in index.by_first[section].get(first[0], ()):
            if best and len(items) <= best[0]:
                continue
            run = _run_of(phrases, start, len(items))
            if run and run[0] == items:
                best = (len(items), entry, run[1])
    return best


def positive(phrases: list, index: Index) -> dict:
    """Phrases -> {slot: items}; an item is a phrase (list of nodes) or a :class:`Ref`."""
    slots = {name: [] for name in ORDER}
    rest_from, pointer = None, 0
    for entry, before, after in index.formats:
        first = phrases[0][0] if phrases and phrases[0] else None
        if not isinstance(first, Run) or not norm(first.text).startswith(before) or first.weight != 1.0:
            continue
        for k in range(1, len(phrases) + 1):
            run = _run_of(phrases, k, len(after)) if after else ((), 1.0)
            if run and run[0] == tuple(after) and run[1] == 1.0:
                break
        else:
            continue
        tail = first.text.lstrip()[len(before):] if first.text.lstrip().casefold().startswith(before) else None
        if tail is None or any(len(p) != 1 for p in phrases[k + len(after):]):
            continue
        subject = [([Run(tail, first.weight)] if tail.strip() else []) + phrases[0][1:]] + phrases[1:k]
        subject = [p for p in subject if p]
        if not subject:
            continue
        slots["subject"] = subject
        slots["format"].append(index.ref(entry, 1.0))
        rest_from, pointer = k + len(after), 1
        break
    if rest_from is None:
        rest_from = len(phrases)
        while rest_from > 1 and len(phrases[rest_from - 1]) == 1:
            rest_from -= 1
        slots["subject"] = phrases[:rest_from]
        if not slots["subject"] and phrases:  # the subject is the first item, whatever it is
            slots["subject"], rest_from = phrases[:1], 1
    tokens, j = [], rest_from  # ("ref", phrases, entry, weight) or ("lit", [phrase])
    while j < len(phrases):
        found = _longest(index, phrases, j, ORDER[1:])
        if found:
            count, entry, weight = found
            tokens.append(("ref", phrases[j:j + count], entry, weight))
            j += count
        else:
            tokens.append(("lit", [phrases[j]], None, 1.0))
            j += 1
    start = _names_from(tokens)
    for i, (kind, said, entry, weight) in enumerate(tokens):
        if i >= start and kind == "ref" and ORDER.index(entry.section) >= max(1, pointer):
            pointer = ORDER.index(entry.section)
            slots[entry.section].append(index.ref(entry, weight))
        else:
            slots[ORDER[pointer]].extend(said)
    return slots


MAX_WORDS_RUN = 2  # items of plain words that may stand between names in a style or quality list


def _names_from(tokens) -> int:
    """Where the names start: the first entry after which no more than MAX_WORDS_RUN plain
    items stand together. Earlier entries stay words, so that `masterpiece, best quality,
    1girl, solo, long hair, …` keeps its content in the subject instead of in `quality`."""
    start, run = len(tokens), 0
    for i in range(len(tokens) - 1, -1, -1):
        if tokens[i][0] == "lit":
            run += 1
            if run > MAX_WORDS_RUN:
                break
        else:
            run = 0
            start = i
    return start


def negative(phrases: list, index: Index) -> list:
    out, j = [], 0
    while j < len(phrases):
        found = _longest(index, phrases, j, ("negative",))
        if found:
            count, entry, weight = found
            out.append(index.ref(entry, weight))
            j += count
        else:
            out.append(phrases[j])
            j += 1
    return out


def is_edit(phrase) -> bool:
    return any(isinstance(p, Edit) for p in phrase)
