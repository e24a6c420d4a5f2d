"""A file's prompts, resolved, with their choices expanded: :func:`resolve` (all of them, as
a list) and :func:`stream` (one at a time). The layer above :mod:`promptlang.resolve`, which
resolves one prompt.

:func:`stream` checks the whole file as :func:`promptlang.resolve.resolve` does, counts every
prompt's combinations (:mod:`promptlang.choices`), refuses more than ``--max``, and then
builds the prompts lazily: listing a billion combinations keeps memory flat. Each expanded
prompt is resolved as any prompt is (:func:`promptlang.resolve._build`), except on the fast
road of :class:`_Assembly` (choices of plain words in the subject only), which resolves the
prompt once and then only puts each combination's words in the subject's place.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from itertools import islice

from . import ast, ir
from .errors import PromptError, Warning_, suggest
from .resolve import (Scope, _attach, _build, _build_plain, _check_block, _check_names, _collect, _cycle, _merge,
                      _Merged, _overlap_warnings, _settings, _split_text, _with_adapters)


DEFAULT_MAX = 1_000
# a single `{` (not Jinja's `{{`, `{%`, `{#`) or a `__`: what a choice or wildcard needs to be
# there at all; :mod:`promptlang.choices` (its parser) is imported only for texts that have one
_MAYBE_CHOICES = re.compile(r"__|(?<!\{)\{(?![{%#])")


@dataclass(frozen=True, slots=True)
class Variation:
    """How the prompts of a file are expanded: ``combinatorial`` (every combination) or
    ``random`` (``count`` prompts drawn from ``seed``); at most ``max`` in all."""

    mode: str = "combinatorial"
    count: int | None = None
    seed: int | None = None
    max: int = DEFAULT_MAX


def slot_has_choices(slots: dict, scope) -> bool:
    """Whether any slot holds a choice, a wildcard or a catalog name whose text has choices."""
    def piece(slot, p):
        if isinstance(p, (ast.Choice, ast.Wildcard)):
            return True
        if isinstance(p, ast.Edit):
            return piece(slot, p.before) or piece(slot, p.after)
        if isinstance(p, ast.Ref) and slot != "subject":
            try:
                entry = scope.lookup(slot, p)
            except PromptError:
                return False
            if not _MAYBE_CHOICES.search(entry.text):
                return False
            from .choices import has_choices

            return has_choices(entry.text, jinja=True)
        return False

    return any(piece(name, p) for name, slot in slots.items() for phrase in slot.phrases for p in phrase.pieces)


def resolve(file: ast.File, scope: Scope, variation=None, only: str | None = None
            ) -> tuple[list[ir.Prompt], list[Warning_]]:
    """Every prompt of the file, in file order, as IR; plus warnings. A prompt with choices
    becomes the prompts it expands to (``NAME.1``, ``NAME.2`` …, see :mod:`promptlang.choices`),
    as ``variation`` says (every combination by default, at most ``--max``); ``only``: just
    the prompt of that name (or ``NAME.k``, one expanded prompt)."""
    try:
        total, prompts, warnings = stream(file, scope, variation, only)
        return list(prompts), warnings
    except PromptError as exc:
        _attach(exc, file)
        raise


@dataclass
class _Made:
    """One prompt of the file: how many prompts it makes, those prompts (lazily, with the
    warnings each brings) and, on the fast road, its assembly."""

    decl: ast.PromptDecl
    count: int
    prompts: object  # iterator of (ir.Prompt, warnings)
    texts: object  # None, or a function: -> iterator of (name, plain text, warnings) or None per combination


def stream(file: ast.File, scope: Scope, variation=None, only: str | None = None, *, plain: bool = False):
    """(number of prompts, a lazy iterator of them, the warnings list it fills as it goes).

    Every check is made and every prompt's combinations are counted before this returns;
    past ``variation.max`` an error gives the count. Then the prompts are built one at a time.
    Prompts without choices are built here already, so that every independent error of the
    file is reported together. ``plain``: the iterator gives (name, text) in the `plain`
    target's words instead (the fast road writes them without building the IR)."""
    variation = variation or Variation()
    try:
        plan, warnings = _plan(file, scope, variation, only)
    except PromptError as exc:
        _attach(exc, file)
        raise
    total = sum(made.count for made in plan)
    if total > variation.max:
        counts = ", ".join(f"`{made.decl.name}` {made.count:,}" for made in plan if made.count > 1)
        raise PromptError(f"{file.path}: the choices expand to {total:,} prompts, more than --max {variation.max:,} "
                          f"({counts})", hint=f"pass --max {total} to allow them all, --random N to draw N, or "
                                              "--prompt NAME.k for one of them")
    seen: set = set()

    def note(found):
        fresh = [w for w in found if (w.message, w.span) not in seen]
        for w in fresh:
            seen.add((w.message, w.span))
            if w.source is None:
                object.__setattr__(w, "source", file.source)
        warnings.extend(fresh)

    def prompts():
        for made in plan:
            try:
                for prompt, found in made.prompts:
                    if found:
                        note(found)
                    yield prompt
            except PromptError as exc:
                _attach(exc, file)
                raise

    def texts():
        from .targets import plain as target

        emitted: list = []
        for made in plan:
            try:
                if made.texts is not None:
                    for name, text, found in made.texts():
                        if found:
                            note(found)
                        yield name, text
                    continue
                for prompt, found in made.prompts:
                    if found:
                        note(found)
                    yield prompt.name, target.emit(prompt, emitted)
                    if emitted:
                        note(emitted)
                        emitted.clear()
            except PromptError as exc:
                _attach(exc, file)
                raise

    return total, (texts() if plain else prompts()), warnings


def _plan(file: ast.File, scope: Scope, variation, only: str | None):
    """Every independent error is collected: duplicate names, each block's settings and
    catalog names (both sides of every edit, whichever side a prompt uses), each prompt's
    `extends`; then each prompt is built, and what fails there is added.

    -> ([_Made], warnings)."""

    decls: dict[str, ast.PromptDecl] = {}
    errors: list[PromptError] = []
    for decl in file.prompts:
        if decl.name in decls:
            errors.append(PromptError(f"a prompt named `{decl.name}` is already defined on line "
                                      f"{decls[decl.name].span.line}", decl.span))
        else:
            decls[decl.name] = decl
    for block in ([file.defaults] if file.defaults is not None else []) + [d.body for d in file.prompts]:
        errors.extend(_collect(_check_block, block))
        errors.extend(_check_names(block, scope))
    warnings: list[Warning_] = []
    plan = []
    cycles = set()
    wanted, index = only, None
    if only is not None and only not in decls and "." in only:
        base, _, number = only.rpartition(".")
        if base in decls and number.isdigit() and int(number) >= 1:
            wanted, index = base, int(number)
    if wanted is not None and wanted not in decls:
        names = list(decls)
        raise PromptError(f"no prompt named `{only}` in {file.path}{suggest(only, names)}",
                          hint="prompts in this file: " + (", ".join(names) or "none")
                          + " (an expanded prompt is named NAME.k)")
    for decl in file.prompts:
        cycle = _cycle(decl, decls)
        if cycle is not None:
            if cycle in cycles:  # said once, for the first prompt that runs into it
                continue
            cycles.add(cycle)
        if wanted is not None and decl.name != wanted:
            continue
        try:
            merged = _merge(decl, decls, file.defaults)
            if not slot_has_choices(merged.slots, scope):
                if index not in (None, 1):
                    raise PromptError(f"prompt `{decl.name}` has no choices: it is one prompt, not {only}",
                                      decl.span)
                prompt = _with_adapters(_build(decl, merged, scope, warnings), merged, scope, file)
                plan.append(_Made(decl, 1, iter([(prompt, ())]), None))
                continue
            plan.append(_expansions(decl, merged, scope, file, variation, index, warnings))
        except PromptError as exc:
            errors.append(exc)
    if errors:
        here = [e for e in errors if e.span is not None and e.span.file == file.path]
        raise PromptError.several(sorted(here, key=lambda e: e.span.start) + [e for e in errors if e not in here])
    for w in warnings:
        object.__setattr__(w, "source", file.source) if w.source is None else None
    return plan, warnings


def _expansions(decl: ast.PromptDecl, merged: _Merged, scope: Scope, file: ast.File, variation, index,
                warnings: list) -> _Made:
    """The prompts ``decl`` expands to; ``index``: only that one."""
    from . import choices

    expansion = choices.Expansion(merged.slots, scope, file.source)
    if variation.mode == "random":
        seed = variation.seed if variation.seed is not None else (
            merged.params["seed"].value if "seed" in merged.params else 0)
        numbers = range(1, (variation.count or 1) + 1)
        if index is not None:
            numbers = [index]  # the k-th draw depends on (seed, name, k) alone

        def made():
            return ((k, expansion.sample_values(choices.seeded(seed, decl.name, k))) for k in numbers)
        count = len(numbers)
    else:
        seed = None
        count = expansion.count()

        def made():
            return enumerate(expansion.values(), 1)
        if index is not None:
            if index > count:
                raise PromptError(f"prompt `{decl.name}` expands to {count:,} prompts; there is no "
                                  f"`{decl.name}.{index}`", decl.span)
            count = 1

            def made(every=made):
                return islice(every(), index - 1, index)
    # LoRAs and embeddings (their files, a LoRA's trigger words) take the road every prompt takes
    adapters = "lora" in merged.slots or any("embedding" in c.entries for c in scope.catalogs)
    fast = None if adapters else _Assembly.of(decl, merged, scope, expansion)
    if fast is not None:
        warnings.extend(fast.warnings)
    settings = _settings(merged.params)
    name, mode = decl.name, variation.mode

    def slow(k, values, origin):
        found: list[Warning_] = []
        slots, _ = expansion.slots_of(values)
        picked = _Merged(slots, merged.params)
        prompt = _build(decl, picked, scope, found)
        if adapters:
            prompt = _with_adapters(prompt, picked, scope, file)
        return replace(prompt, name=f"{name}.{k}", origin=origin), found

    def prompts():
        Origin, Prompt, span = ir.Origin, ir.Prompt, decl.span
        for k, values in made():
            origin = Origin(name, k, mode, seed, _picks(values))
            if fast is not None:
                found: list = []
                segment = fast.segment(values, found)
                if segment is not None:
                    yield Prompt(f"{name}.{k}", (segment,), settings, origin, span), found
                    continue
            yield slow(k, values, origin)

    def texts():
        from .targets import plain as target

        if mode == "combinatorial" and index is None:
            every = fast.every_plain(expansion)
            if every is not None:  # every combination's words are plain: no IR, no per-prompt work
                for k, text in enumerate(every, 1):
                    yield f"{name}.{k}", text, ()
                return
        emitted: list = []
        for k, values in made():
            text = fast.plain(values)
            if text is not None:
                yield f"{name}.{k}", text, ()
                continue
            prompt, found = slow(k, values, ir.Origin(name, k, mode, seed, _picks(values)))
            text = target.emit(prompt, emitted)
            yield prompt.name, text, found + emitted
            emitted = []

    return _Made(decl, count, prompts(), texts if fast is not None and fast.plain_text is not None else None)


def _picks(values) -> tuple:
    out = ()
    for v in values:
        out += v[1]
    return out


class _Assembly:
    """The fast road for the most common prompt with choices: choices in the subject only,
    picking plain words (weight 1, no negative of their own). The prompt is resolved once,
    with a marker in the subject's place; each combination is then that result with the
    marker's text replaced by the subject's words, joined as ``_subject_pieces`` and
    :func:`promptlang.ir.merged` join them. Anything else (and any combination that picks a
    weighted piece, or no words at all) takes the ordinary road: ``_build``."""

    MARK = "\x01subject\x01"

    def __init__(self, decl, segment, where: int, phrases, warnings, plain_text):
        self.decl, self.negative = decl, segment.negative
        frag = segment.positive[where]
        self.before, self.after = segment.positive[:where], segment.positive[where + 1:]
        self.head, self.tail = frag.text.split(self.MARK)
        self.weight, self.join, self.span = frag.weight, frag.join, frag.span
        self.phrases = phrases  # each: (join, words) of a fixed phrase, or the index of a choice place
        self.warnings = warnings
        self.plain_text = plain_text  # the `plain` text around the marker: (head, tail), or None
        self._texts: dict = {}

    @classmethod
    def of(cls, decl, merged: _Merged, scope: Scope, expansion):
        if any(name != "subject" for name, _ in expansion.places) or any(
                slot.blend is not None or any(isinstance(p, (ast.Edit, ast.Alternate)) for ph in slot.phrases
                                              for p in ph.pieces) for slot in merged.slots.values()):
            return None
        subject = merged.slots["subject"]
        mark = ast.Phrase((ast.Literal(cls.MARK, 1.0, subject.span),), subject.span)
        slots = {**merged.slots, "subject": replace(subject, phrases=(mark,))}
        found: list[Warning_] = []
        try:
            segment = _build_plain(decl, _Merged(slots, merged.params), scope, found)
        except PromptError:
            return None
        hits = [i for i, f in enumerate(segment.positive) if cls.MARK in f.text]
        if len(hits) != 1 or segment.positive[hits[0]].text.count(cls.MARK) != 1 \
                or any(cls.MARK in f.text for f in segment.negative) or any("filter" in w.message for w in found):
            return None
        places = {i: n for n, (_, i) in enumerate(expansion.places)}
        phrases = []
        for i, phrase in enumerate(subject.phrases):
            if i in places:
                phrases.append(places[i])
                continue
            words = cls._words(phrase.pieces)
            if words is None:
                return None
            phrases.append(words)
        plain_text = None
        if not segment.negative:  # then no overlap warning can depend on the words picked
            from .targets import plain

            emitted: list = []
            text = plain.emit(ir.Prompt(decl.name, (segment,), _settings(merged.params), (), decl.span), emitted)
            if text.count(cls.MARK) == 1 and not emitted:
                plain_text = tuple(text.split(cls.MARK))
        return cls(decl, segment, hits[0], phrases, found, plain_text)

    @staticmethod
    def _words(pieces):
        """(join before, text) of a phrase's words; ("", "") when it has none; None when it
        cannot take the fast road (a weight, a negative, not a literal)."""
        out = []
        for i, piece in enumerate(pieces):
            if type(piece) is not ast.Literal or piece.weight != 1.0 or piece.negative:
                return None
            frags = _split_text(piece.text, 1.0, None)
            if frags:
                out.append((" " if i else ", ", frags[0].text))
        if not out:
            return "", ""
        return out[0][0], "".join(j + t if n else t for n, (j, t) in enumerate(out))

    def subject(self, values) -> str | None:
        """The subject's words for one combination; None: it takes the ordinary road."""
        subject = None
        cache = self._texts
        for phrase in self.phrases:
            if type(phrase) is int:
                pieces = values[phrase][0]
                hit = cache.get(id(pieces))  # kept with the pieces themselves: an id is not reused meanwhile
                if hit is not None and hit[0] is pieces:
                    phrase = hit[1]
                else:
                    phrase = self._words(pieces) or False
                    if len(cache) < 4_096:  # bounded: values of a large node are new each time
                        cache[id(pieces)] = (pieces, phrase)
                if phrase is False:
                    return None
            if phrase[1]:
                subject = phrase[1] if subject is None else subject + phrase[0] + phrase[1]
        return subject

    def segment(self, values, found):
        subject = self.subject(values)
        if subject is None:
            return None
        positive = self.before + (ir.Fragment(self.head + subject + self.tail, self.weight, self.join, self.span),) \
            + self.after
        if self.negative:
            _overlap_warnings(self.decl, positive, self.negative, found)
        return ir.Segment(0.0, positive, self.negative)

    def every_plain(self, expansion):
        """Every combination's `plain` text, in order, straight from each choice's listed words;
        None when a choice has too many values to list, or a value that is not plain words."""
        from itertools import product

        columns = []
        for phrase in self.phrases:
            if type(phrase) is not int:
                columns.append([phrase])
                continue
            node = expansion.root.children[phrase]
            if node.count() > 4_096:
                return None
            words = [self._words(v[0]) for v in node.values()]
            if any(w is None for w in words):
                return None
            columns.append(words)
        head, tail = self.plain_text
        if not any(all(w for _, w in column) for column in columns):
            return None  # some combination may have no words at all: the ordinary road says what then
        if all(w for column in columns for _, w in column):  # no phrase is ever empty: a join each
            joined = [[w for _, w in columns[0]]] + [[j + w for j, w in column] for column in columns[1:]]
            return (head + "".join(combo) + tail for combo in product(*joined))

        def texts():
            for combo in product(*columns):
                subject = None
                for j, w in combo:
                    if w:
                        subject = w if subject is None else subject + j + w
                yield head + subject + tail

        return texts()

    def plain(self, values) -> str | None:
        """The `plain` target's text for one combination (the IR's words, as plain.emit joins them)."""
        subject = self.subject(values)
        return None if subject is None else self.plain_text[0] + subject + self.plain_text[1]
