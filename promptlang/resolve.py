"""AST + catalogs -> IR: extends, defaults, catalog lookup, templating, weights, negatives."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import ast, catalog, ir, template
from .settings import Settings, complete
from .errors import PromptError, Warning_, suggest

MAX_EXTENDS_DEPTH = 64
MAX_FRAGMENTS = 2_000
MAX_VARIANTS = 64  # blend parts x edit stages resolved for one prompt


# ---------------------------------------------------------------- scope

@dataclass
class Scope:
    """The catalogs a file can see, in lookup order (later shadows earlier)."""

    catalogs: list = field(default_factory=list)

    def by_name(self, name: str):
        for cat in reversed(self.catalogs):
            if cat.name == name:
                return cat
        return None

    def lookup(self, section: str, ref: ast.Ref):
        """The entry ``ref`` names in ``section``; in a text slot, a textual-inversion
        embedding's name is found too (its entry's text is its token)."""
        entry = self._find(section, ref)
        if entry is None and section in catalog.SECTIONS:
            entry = self._find("embedding", ref)
        if entry is None:
            cats = [self.by_name(ref.catalog)] if ref.catalog is not None else self.catalogs
            raise self._unknown(section, ref, {k for c in cats for k in c.entries.get(section, {})})
        return entry

    def _find(self, section: str, ref: ast.Ref):
        if ref.catalog is not None:
            cat = self.by_name(ref.catalog)
            if cat is None:
                names = [c.name for c in self.catalogs]
                raise PromptError(f"no catalog named `{ref.catalog}` is in use{suggest(ref.catalog, names)}",
                                  ref.span, hint="catalogs in use: " + (", ".join(names) or "none"))
            entry = cat.get(section, ref.name)
        else:
            entry = None
            for cat in reversed(self.catalogs):
                entry = cat.get(section, ref.name)
                if entry is not None:
                    break
        return entry if entry is None or ref.text is None else replace(entry, text=ref.text)

    def _unknown(self, section: str, ref: ast.Ref, keys) -> PromptError:
        elsewhere = [s for s in catalog.SECTIONS + ("lora",) if s != section
                     and any(c.get(s, ref.name) for c in self.catalogs
                             if ref.catalog is None or c.name == ref.catalog)]
        hint = None
        if elsewhere:
            hint = f"`{ref.name}` is a {elsewhere[0]} entry; put it in the `{elsewhere[0]}` slot"
        elif not self.catalogs:
            hint = "no catalog is in use: add `use core` at the top of the file"
        else:
            hint = f'to use these words as they are, quote them: "{ref.name.replace("_", " ")}"'
        return PromptError(f"unknown {section} `{ref.qualified}`{suggest(ref.name, keys)}", ref.span, hint=hint)


def load_scope(file: ast.File, search_dirs=()) -> Scope:
    """Load every catalog the file's `use` lines name, with their `requires`, in order.

    Paths may go anywhere inside the project folder (see :func:`promptlang.project.confinement`)."""
    from .project import confinement

    scope, seen = Scope(), {}
    named = file.path and not file.path.startswith("<")
    base = Path(file.path).parent if named else Path.cwd()
    root, where = confinement(base, Path(file.path).name if named else None)
    for use in file.uses:
        if use.wildcards:
            scope.catalogs.append(_wildcard_folder(use, base, root, where, file.source))
            continue
        if use.is_path:
            path = catalog.confined(base, use.target, what="catalog path", span=use.span, source=file.source,
                                    folder=where, root=root)
            if not path.is_file():
                raise PromptError(f"catalog file not found: {use.target} (looked for {_display(path)})",
                                  use.span, source=file.source)
        else:
            path = catalog.find(use.target, search_dirs)
            if path is None:
                names = catalog.bundled_names() + [p.stem for d in search_dirs for p in Path(d).glob("*.yaml")]
                raise PromptError(f"no catalog named `{use.target}`{suggest(use.target, names)}", use.span,
                                  source=file.source, hint="bundled catalogs: " + ", ".join(catalog.bundled_names())
                                  + '; a file is used with a quoted path: use "./team.yaml"')
        _add(scope, path, seen, search_dirs, depth=0, stack=(), root=(root.resolve(), where))
        if use.constraints:
            _check_version(seen[str(path.resolve())], use.constraints, file.source)
    _check_project(scope, base)
    return scope


def _wildcard_folder(use: ast.Use, base: Path, root: Path, where: str, source: str):
    """``use wildcards "./folder"``: the folder's wildcards as a catalog that has only wildcards,
    named after the folder (``wildcards.__animals__`` names one explicitly)."""
    from .interop.common import identifier
    from .interop.wildcards import load

    path = catalog.confined(base, use.target, what="wildcard path", span=use.span, source=source,
                            folder=where, root=root)
    if not path.exists():
        raise PromptError(f"wildcard folder not found: {use.target} (looked for {_display(path)})", use.span,
                          source=source)
    try:
        wildcards = load(path)
    except PromptError as exc:
        raise PromptError(exc.message, use.span, source=source, hint=exc.hint) from None
    if not wildcards:
        raise PromptError(f"{use.target}: no wildcard files (.txt, .yaml, .json) in it", use.span, source=source)
    name = identifier(path.stem if path.is_file() else path.name, fallback="wildcards")
    return catalog.Catalog(name, "0", f"dynamicprompts wildcards from {use.target}", str(path), "", (),
                           {section: {} for section in catalog.SECTIONS}, "", wildcards)


def _check_project(scope: Scope, base: Path) -> None:
    """``[catalogs] require = ["studio >= 1.2"]`` of the project around ``base``: each
    constraint holds for the catalog of that name (or path) in scope."""
    from .project import find

    project = find(base)
    if project is None or not project.requirements:
        return
    for req in project.requirements:
        use = req.use
        if not use.constraints:
            continue
        if use.is_path:
            target = (project.root / use.target).resolve()
            cats = [c for c in scope.catalogs if Path(c.path).resolve() == target]
        else:
            cats = [c for c in scope.catalogs if c.name == use.target]
        for cat in cats:
            _check_version(cat, use.constraints, req.source, span=req.span,
                           needs=f"{req.span.file} requires")


def _check_version(cat, constraints, source: str | None, span=None, needs: str = "this file needs") -> None:
    """The catalog's ``version`` against ``use NAME >= 1.2, < 2``: an error under the first
    constraint it fails, naming the version found and where the catalog came from."""
    from . import lock
    from .resources import styles_dir

    origin = "bundled" if Path(cat.path).resolve().parent == styles_dir().resolve() else cat.path
    try:
        failed = lock.unmet(cat.version, constraints)
    except lock.BadVersion:
        raise PromptError(f"catalog `{cat.name}` has version `{cat.version}`, which is not a version that can be "
                          f"compared ({origin})", constraints[0].span, source=source,
                          hint="a catalog's `version` reads like 1.2.0") from None
    if failed:
        wanted = ", ".join(str(c) for c in constraints)
        raise PromptError(f"catalog `{cat.name}` is version {cat.version} ({origin}), but `{failed[0]}` is "
                          "required", span or failed[0].span, source=source,
                          hint=f"{needs} `{cat.name}` {wanted}")


def _add(scope: Scope, path: Path, seen: dict, search_dirs, depth: int, stack: tuple, root=None) -> None:
    """Add the catalog at ``path`` after what it requires. A path in `requires` stays inside
    ``root`` (the project folder and its name) when the catalog lies in it, else inside the
    catalog's own folder."""
    key = str(path.resolve())
    if key in stack:
        raise PromptError(f"catalog {path} requires itself (through {' -> '.join(stack)})")
    if key in seen:  # named again: it moves to the end, so it shadows what came before
        scope.catalogs = [c for c in scope.catalogs if c is not seen[key]] + [seen[key]]
        return
    if depth > catalog.MAX_REQUIRES_DEPTH:
        raise PromptError(f"catalog {path}: `requires` nests deeper than {catalog.MAX_REQUIRES_DEPTH}")
    cat = catalog.load(path, display=_display(path))
    inside = root is not None and Path(key).parent.is_relative_to(root[0])
    for req in cat.requires:
        if req.endswith((".yaml", ".yml")) or "/" in req:
            dep = catalog.confined(path.parent, req, what=f"{cat.path}: requires", span=None, source=None,
                                   folder=root[1] if inside else "the catalog's folder",
                                   root=root[0] if inside else None)
            if not dep.is_file():
                raise PromptError(f"{cat.path}: requires: catalog file not found: {req}")
        else:
            dep = catalog.find(req, [path.parent, *search_dirs])
            if dep is None:
                raise PromptError(f"{cat.path}: requires: no catalog named `{req}`")
        _add(scope, dep, seen, search_dirs, depth + 1, stack + (key,), root)
    seen[key] = cat
    scope.catalogs = [c for c in scope.catalogs if c is not cat] + [cat]


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# ---------------------------------------------------------------- prompts

@dataclass
class _Merged:
    slots: dict
    params: dict


def _attach(exc: PromptError, file: ast.File) -> None:
    for err in {id(e): e for e in (exc, *exc.errors)}.values():
        if err.source is None and err.span is not None and err.span.file == file.path:
            err.source = file.source


def _cycle(decl: ast.PromptDecl, decls: dict) -> frozenset | None:
    """The names of the `extends` cycle the prompt runs into, or None."""
    chain = []
    while decl is not None and decl.name not in chain and len(chain) <= MAX_EXTENDS_DEPTH:
        chain.append(decl.name)
        decl = decls.get(decl.parent) if decl.parent is not None else None
    return frozenset(chain[chain.index(decl.name):]) if decl is not None and decl.name in chain else None


def _collect(check, *args) -> list[PromptError]:
    try:
        check(*args)
    except PromptError as exc:
        return [exc]
    return []


def _check_names(block: ast.Block, scope: Scope) -> list[PromptError]:
    """An error for each catalog name in the block that is not found, on both sides of an edit
    (`at 0` or `at 1` leaves one side unused, but `tokens` and a later change read it)."""
    errors = []

    def check(slot, piece):
        if isinstance(piece, ast.Edit):
            check(slot, piece.before)
            check(slot, piece.after)
        elif isinstance(piece, ast.Choice):
            for option in piece.options:
                for p in option.pieces:
                    check(slot, p)
        elif isinstance(piece, ast.Alternate):
            for p in piece.options:
                check(slot, p)
        elif isinstance(piece, ast.Ref):
            if slot.name == "subject":
                errors.append(_subject_ref(piece))
            elif slot.name == "lora":
                errors.extend(_collect(_lora_entry, scope, piece))
            else:
                errors.extend(_collect(scope.lookup, slot.name, piece))

    for slot in block.slots:
        for phrase in slot.phrases:
            for piece in phrase.pieces:
                check(slot, piece)
    return errors


def _subject_ref(item: ast.Ref) -> PromptError:
    return PromptError(f"`subject` takes quoted words, not the name `{item.qualified}`", item.span,
                       hint=f'write it in quotes: "{item.name.replace("_", " ")}"')


def _check_block(block: ast.Block) -> None:
    names = {p.name for p in block.params}
    if {"size", "aspect"} <= names:
        second = next(p for p in block.params if p.name in ("size", "aspect") and p is not
                      next(q for q in block.params if q.name in ("size", "aspect")))
        raise PromptError("give either `size` or `aspect`, not both", second.span)


def _merge(decl: ast.PromptDecl, decls: dict, defaults: ast.Block | None) -> _Merged:
    chain, cursor = [], decl
    while True:
        _check_block(cursor.body)
        chain.append(cursor)
        if cursor.parent is None:
            break
        if cursor.parent not in decls:
            raise PromptError(f"`{cursor.name}` extends `{cursor.parent}`, which is not defined in this file"
                              f"{suggest(cursor.parent, decls)}", cursor.parent_span)
        parent = decls[cursor.parent]
        if parent in chain or len(chain) > MAX_EXTENDS_DEPTH:
            cycle = " -> ".join([c.name for c in chain] + [parent.name])
            raise PromptError(f"`extends` goes round in a circle: {cycle}", cursor.parent_span)
        cursor = parent
    blocks = ([defaults] if defaults else []) + [c.body for c in reversed(chain)]
    slots, params = {}, {}
    for block in blocks:
        for slot in block.slots:
            inherited = slots.get(slot.name)
            if slot.append and inherited is not None:  # `negative += …`: after what is inherited
                if inherited.blend is not None:
                    raise PromptError(f"`{slot.name} +=` cannot add to the blend `{slot.name}` inherits (line "
                                      f"{inherited.blend.line}); write the whole list with `{slot.name} …`",
                                      slot.span)
                slot = replace(slot, phrases=inherited.phrases + slot.phrases, append=False)
            slots[slot.name] = slot
        stated = {p.name for p in block.params}
        if "size" in stated:
            params.pop("aspect", None)
        if "aspect" in stated:
            params.pop("size", None)
        for param in block.params:
            params[param.name] = param
    return _Merged(slots, params)


def slot_texts(file: ast.File, scope: Scope, name: str) -> dict[str, str]:
    """Each slot's own words for the prompt ``name`` (after extends and defaults), for
    per-slot token counts; in slot order, only the slots it has."""
    decls = {d.name: d for d in file.prompts}
    if name not in decls:
        raise PromptError(f"no prompt named `{name}` in this file{suggest(name, decls)}")
    merged = _merge(decls[name], decls, file.defaults)
    return {slot: resolve_slot_text(merged.slots[slot], scope)
            for slot in ("subject", "format", "style", "quality", "negative") if slot in merged.slots}


def _settings(params: dict) -> Settings:
    """What the file states; the size stays a ratio (``aspect``) until the model is known."""
    values = {name: p.value for name, p in params.items()}
    kwargs = {k: v for k, v in values.items()
              if k in ("model", "steps", "guidance", "seed", "scheduler", "images", "aspect")}
    if "size" in values:
        kwargs["width"], kwargs["height"] = values["size"]
    return Settings(**kwargs)


def _build(decl: ast.PromptDecl, merged: _Merged, scope: Scope, warnings: list) -> ir.Prompt:
    """Blends and prompt edits resolve by resolving each variant of the prompt as a plain
    prompt: one per blend part, per stage. So a format template, catalog negatives and
    weights work inside them exactly as anywhere else."""
    blends = [slot for slot in merged.slots.values() if slot.blend is not None]
    if len(blends) > 1:
        first, second = sorted(blends, key=lambda slot: slot.blend.start)[:2]
        raise PromptError(f"prompt `{decl.name}` blends `{first.name}` (line {first.blend.line}) and "
                          f"`{second.name}`; a prompt has one blend", second.blend)
    edits = [piece for slot in merged.slots.values() for phrase in slot.phrases for piece in phrase.pieces
             if isinstance(piece, ast.Edit)]
    turns = [len(piece.options) for slot in merged.slots.values() for phrase in slot.phrases
             for piece in phrase.pieces if isinstance(piece, ast.Alternate)]
    if not edits and not blends and not turns:
        return ir.Prompt(decl.name, (_build_plain(decl, merged, scope, warnings),), _settings(merged.params),
                         span=decl.span)
    by_step = [edit for edit in edits if edit.step]
    if by_step and len(by_step) < len(edits):
        fraction = next(edit for edit in edits if not edit.step)
        raise PromptError(f"prompt `{decl.name}` switches both at a fraction of the steps (line "
                          f"{fraction.span.line}) and at an absolute step: their order would depend on the "
                          "number of steps", by_step[0].span,
                          hint="write every edit of a prompt the same way: `at 0.4`, or `at step 12`")
    if by_step:  # every edit at an absolute step: a segment per step, its fraction for display only
        starts = [0.0] + sorted({edit.at for edit in by_step})
    else:
        starts = [0.0] + sorted({edit.at for edit in edits if 0 < edit.at < 1})
    every = math.lcm(*turns) if turns else 1  # alternations `[a | b]` repeat together every `every` steps
    if len(starts) * every * max(1, len(blends and blends[0].phrases)) > MAX_VARIANTS:
        raise PromptError(f"prompt `{decl.name}` switches {len(starts) - 1} times, alternates in a cycle of {every} "
                          f"and blends {len(blends and blends[0].phrases)} parts: more than {MAX_VARIANTS} variants to "
                          "resolve", decl.span)
    found: list[Warning_] = []
    segments = []
    settings = _settings(merged.params)
    steps = complete(settings).steps
    for start in starts:
        stage = []
        for phase in range(every):
            slots = _alternated(_edited(merged.slots, start), phase)
            if not blends:
                segment = replace(_build_plain(decl, _Merged(slots, merged.params), scope, found), start=start)
            else:
                segment = _blended(decl, blends[0], slots, merged.params, scope, found, start)
            if by_step and start:
                segment = replace(segment, start=min(1.0, start / steps), step=int(start))
            stage.append(replace(segment, every=every, phase=phase) if every > 1 else segment)
        if every > 1 and len({(s.positive, s.negative) for s in stage}) == 1:  # nothing alternates here
            stage = [replace(stage[0], every=1, phase=0)]
        last = [s for s in segments if s.start == segments[-1].start] if segments else []
        if [(s.positive, s.negative, s.phase) for s in stage] != [(s.positive, s.negative, s.phase) for s in last]:
            segments.extend(stage)
    warnings.extend(w for i, w in enumerate(found) if w not in found[:i])
    return ir.Prompt(decl.name, tuple(segments), settings, span=decl.span)


def _alternated(slots: dict, phase: int) -> dict:
    """The slots as they read at the ``phase``-th step of an alternation's cycle: each
    ``[a | b]`` replaced by its option ``phase`` (modulo its length)."""
    out = {}
    for name, slot in slots.items():
        if not any(isinstance(p, ast.Alternate) for ph in slot.phrases for p in ph.pieces):
            out[name] = slot
            continue
        phrases = tuple(replace(ph, pieces=tuple(p.options[phase % len(p.options)] if isinstance(p, ast.Alternate)
                                                 else p for p in ph.pieces)) for ph in slot.phrases)
        out[name] = replace(slot, phrases=phrases)
    return out


def _edited(slots: dict, start: float) -> dict:
    """The slots as they read from the fraction ``start`` of the steps: each edit replaced
    by the side that holds then (an empty side drops out)."""
    out = {}
    for name, slot in slots.items():
        phrases = []
        for phrase in slot.phrases:
            pieces = []
            for piece in phrase.pieces:
                if isinstance(piece, ast.Edit):
                    piece = piece.after if piece.at <= start else piece.before
                    if isinstance(piece, ast.Literal) and not piece.text.strip():
                        continue
                pieces.append(piece)
            if pieces:
                phrases.append(replace(phrase, pieces=tuple(pieces)))
        if phrases:
            out[name] = replace(slot, phrases=tuple(phrases))
    return out


def _blended(decl, slot: ast.Slot, slots: dict, params: dict, scope: Scope, warnings: list, start: float):
    """One segment of a blended prompt: each part resolved in the blended slot's place."""
    parts, negative = [], []
    for phrase in slot.phrases:
        piece = phrase.pieces[0]
        single = replace(slot, phrases=(replace(phrase, pieces=(replace(piece, weight=1.0),)),), blend=None)
        plain = _build_plain(decl, _Merged({**slots, slot.name: single}, params), scope, warnings)
        parts.append(ir.Part(piece.weight, plain.positive))
        negative.extend(plain.negative)
    negative = _dedupe_terms(negative, decl, [])
    if negative:
        negative[0] = replace(negative[0], join="")
    return ir.Segment(start, ir.Blend(tuple(parts)), tuple(negative))


def _build_plain(decl: ast.PromptDecl, merged: _Merged, scope: Scope, warnings: list) -> ir.Segment:
    slots = merged.slots
    if "subject" not in slots and "format" not in slots and "style" not in slots:
        raise PromptError(f"prompt `{decl.name}` has nothing to draw: give it a `subject` (or a `format`/`style`)",
                          decl.span)
    subject = [piece for phrase in (slots["subject"].phrases if "subject" in slots else ())
               for piece in _subject_pieces(phrase, scope)]
    plain_subject = ir.join_text(ir.merged(subject)) if subject else ""
    positive: list[ir.Fragment] = []
    negative_terms: list[tuple[ir.Fragment, ast.Span]] = []
    subject_placed = False

    def add_entry(entry, ref: ast.Ref, out: list):
        nonlocal subject_placed
        where = f"{entry.catalog}: {entry.section}.{entry.key}"
        pieces, mode = _render(entry, scope, plain_subject)
        weight = entry.weight * ref.weight
        if mode == "plain":
            subject_placed = True
            warnings.append(Warning_(f"{where} changes the subject with a filter, so weights on subject "
                                     "pieces are lost there", ref.span))
        if mode != "absent" and subject_placed:
            warnings.append(Warning_(f"prompt `{decl.name}`: `{ref.qualified}` places the subject again; "
                                     "it now appears twice", ref.span))
        if mode == "placed" and not subject:
            warnings.append(Warning_(f"prompt `{decl.name}` has no subject, but `{ref.qualified}` places one",
                                     ref.span))
        frags = []
        for i, text in enumerate(pieces):
            if i:
                placed = [replace(f, weight=f.weight * weight) for f in subject]
                if placed:
                    placed[0] = replace(placed[0], join=_trailing_join(pieces[i - 1]))
                frags.extend(placed)
                subject_placed = True
            frags.extend(_split_text(text, weight, ref.span, first_join="" if i else ", "))
        if not frags:
            return
        frags[0] = replace(frags[0], join=", ")
        out.extend(frags)
        if entry.negative:
            negative_terms.append((ir.Fragment(entry.negative, 1.0, ", ", ref.span), ref.span))

    formats: list[ir.Fragment] = []
    for phrase in slots["format"].phrases if "format" in slots else ():
        item = phrase.pieces[0]
        if isinstance(item, ast.Literal):
            if "{{" in item.text or "{%" in item.text:
                warnings.append(Warning_("a quoted format is literal text: `{{ … }}` is not filled in here; "
                                         "templates belong in a catalog entry", item.span))
            formats.extend(_split_text(item.text, item.weight, item.span, first_join=", "))
        else:
            add_entry(scope.lookup("format", item), item, formats)
    if subject and not subject_placed:
        positive.extend(subject)
    positive.extend(formats)
    for name in ("style", "quality"):
        for phrase in slots[name].phrases if name in slots else ():
            item = phrase.pieces[0]
            if isinstance(item, ast.Literal):
                positive.extend(_split_text(item.text, item.weight, item.span, first_join=", "))
            else:
                add_entry(scope.lookup(name, item), item, positive)

    negative: list[ir.Fragment] = []
    for phrase in slots["negative"].phrases if "negative" in slots else ():
        item = phrase.pieces[0]
        if isinstance(item, ast.Literal):
            negative.extend(_split_text(item.text, item.weight, item.span, first_join=", "))
        else:
            entry = scope.lookup("negative", item)
            for text in _render(entry, scope)[0]:
                negative.extend(_split_text(text, entry.weight * item.weight, item.span, first_join=", "))
    negative.extend(f for f, _ in negative_terms)
    negative.extend(ir.Fragment(piece.negative, 1.0, ", ", piece.span)  # a picked wildcard value's own
                    for slot in slots.values() for phrase in slot.phrases for piece in phrase.pieces
                    if isinstance(piece, ast.Literal) and piece.negative)
    negative = _dedupe_terms(negative, decl, warnings)
    positive = ir.merged(positive)
    if positive:
        positive[0] = replace(positive[0], join="")
    if negative:
        negative[0] = replace(negative[0], join="")
    if len(positive) + len(negative) > MAX_FRAGMENTS:
        raise PromptError(f"prompt `{decl.name}` expands to more than {MAX_FRAGMENTS:,} fragments", decl.span)
    _overlap_warnings(decl, positive, negative, warnings)
    return ir.Segment(0.0, tuple(positive), tuple(negative))


def _render(entry, scope: Scope, plain_subject: str = ""):
    """Render an entry's template; a failure points at the entry's text in its catalog."""
    try:
        return template.render(entry.text, f"{entry.section}.{entry.key}.text", plain_subject)
    except PromptError as exc:
        cat = scope.by_name(entry.catalog)
        exc.span, exc.source = entry.span, cat.source if cat else None
        raise


def _subject_pieces(phrase: ast.Phrase, scope: Scope) -> list[ir.Fragment]:
    out = []
    for i, item in enumerate(phrase.pieces):
        if isinstance(item, ast.Ref):
            raise _subject_ref(item)
        for j, frag in enumerate(_split_text(item.text, item.weight, item.span)):
            out.append(replace(frag, join=(" " if i else ", ") if j == 0 else frag.join))
    return out


_LEAD = re.compile(r"[\s,]+")


def _trail(text: str):
    """The run of commas and spaces that ends ``text`` (matched on the reversed text: a
    search for ``[\\s,]+$`` retries at every start of a long inner run, which is quadratic)."""
    return _LEAD.match(text[::-1])


def _split_text(text: str, weight: float, span, first_join: str = ", ") -> list[ir.Fragment]:
    """One piece of final text as a fragment, its surrounding commas and spaces moved into `join`."""
    lead, tail = _LEAD.match(text), _trail(text)
    body = text[lead.end() if lead else 0:len(text) - tail.end() if tail else len(text)]
    body = re.sub(r"\s+", " ", body)
    if not body:
        return []
    join = first_join
    if lead:
        join = ", " if "," in lead.group(0) else " "
    return [ir.Fragment(body, weight, join, span)]


def _trailing_join(text: str) -> str:
    """The separator between template text and the subject that follows it."""
    tail = _trail(text)
    if not text.strip(" ,"):
        return ", "
    if tail is None:
        return ""
    return ", " if "," in tail.group(0) else " "


def _terms(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _dedupe_terms(frags: list[ir.Fragment], decl, warnings) -> list[ir.Fragment]:
    """Drop negative terms already said earlier (case-insensitive); keep the first weight."""
    seen, out = {}, []
    for frag in frags:
        kept = []
        for term in _terms(frag.text):
            first = seen.get(term.lower())
            if first is None:
                seen[term.lower()] = frag.weight
                kept.append(term)
            elif not math.isclose(first, frag.weight):
                warnings.append(Warning_(f"prompt `{decl.name}`: the negative `{term}` comes twice, with weights "
                                         f"{first:g} and {frag.weight:g}; the first is kept",
                                         frag.span or decl.span))
        if kept:
            out.append(replace(frag, text=", ".join(kept), join=", "))
    return out


def _overlap_warnings(decl, positive, negative, warnings) -> None:
    pos_terms = {t.lower() for f in positive for t in _terms(f.text)}
    for frag in negative:
        for term in _terms(frag.text):
            if term.lower() in pos_terms:
                warnings.append(Warning_(f"prompt `{decl.name}`: `{term}` is in both the positive and the "
                                         "negative prompt; they pull against each other",
                                         frag.span or decl.span))


def resolve_slot_text(slot: ast.Slot, scope: Scope) -> str:
    """One slot's own words (templates rendered without the subject), for per-slot token counts;
    of a choice, an alternation or a wildcard, the longest words it can give."""
    section = None if slot.name == "subject" else slot.name
    words = []
    for phrase in slot.phrases:
        parts = []
        for item in phrase.pieces:
            if isinstance(item, ast.Edit):  # the longer side counts
                sides = [resolve_slot_text(replace(slot, phrases=(replace(phrase, pieces=(side,)),)), scope)
                         for side in (item.before, item.after)
                         if not (isinstance(side, ast.Literal) and not side.text.strip())]
                parts.append(max(sides, key=len))
            elif isinstance(item, (ast.Alternate, ast.Choice)):  # the longest option counts (a pick-N: the longest ones)
                options = item.options if isinstance(item, ast.Alternate) else [
                    replace(phrase, pieces=o.pieces) for o in item.options if o.pieces]
                texts = sorted((resolve_slot_text(replace(slot, phrases=(o if isinstance(o, ast.Phrase) else replace(
                    phrase, pieces=(o,)),)), scope) for o in options), key=len, reverse=True)
                parts.append(item.sep.join(texts[:item.high]) if isinstance(item, ast.Choice) else texts[0])
            elif isinstance(item, ast.Wildcard):  # its longest value, as written
                from .choices import lookup_wildcard

                found = lookup_wildcard(scope, item.catalog, item.path) or []
                parts.append(max((v.text for _, values in found for v in values), key=len, default=""))
            elif isinstance(item, ast.Literal):
                parts.append(item.text)
            else:
                entry = scope.lookup(section, item)
                parts.append(" ".join(p.strip() for p in _render(entry, scope)[0]))
        words.append(" ".join(parts))
    return ", ".join(words)


# ---------------------------------------------------------------- LoRAs and embeddings

def _lora_entry(scope: Scope, ref: ast.Ref):
    entry = scope.lookup("lora", ref)
    if entry.section != "lora":  # cannot happen: lookup falls back on embeddings only for text slots
        raise PromptError(f"`{ref.qualified}` is not a LoRA", ref.span)
    return entry


def _entry_file(entry, scope: Scope) -> Path:
    """The file a `lora`/`embedding` entry names, relative to its catalog and confined to
    the catalog's project (or, outside a project, the catalog's own folder)."""
    from .project import find_root

    cat = scope.by_name(entry.catalog)
    folder = Path(cat.path).resolve().parent
    root = find_root(folder)
    where = "the catalog's project folder" if root is not None else "the catalog's folder"
    return catalog.confined(folder, entry.file, what=f"{cat.path}: {entry.section}.{entry.key}.file",
                            folder=where, span=entry.span, source=cat.source, root=root, kind="files")


def _with_adapters(prompt: ir.Prompt, merged: _Merged, scope: Scope, file: ast.File) -> ir.Prompt:
    """The prompt with the LoRAs its `lora` field lists (their trigger words added to the
    positive text of every segment) and the embeddings its slots name."""
    adapters, triggers, seen = [], [], {}
    lora = merged.slots.get("lora")
    for phrase in lora.phrases if lora is not None else ():
        item = phrase.pieces[0]
        if isinstance(item, ast.Literal):
            from .project import confinement

            named = file.path and not file.path.startswith("<")
            base = Path(file.path).parent if named else Path.cwd()
            root, where = confinement(base, Path(file.path).name if named else None)
            path = catalog.confined(base, item.text, what="LoRA file", folder=where, span=item.span,
                                    source=file.source, root=root, kind="files")
            adapter = ir.Adapter("lora", path.stem, str(path), item.weight, span=item.span)
        else:
            entry = _lora_entry(scope, item)
            adapter = ir.Adapter("lora", entry.key, str(_entry_file(entry, scope)), entry.weight * item.weight,
                                 entry.sha256 or None, item.span)
            if entry.text.strip():
                triggers.extend(_split_text(entry.text, 1.0, item.span, first_join=", "))
        if adapter.file in seen:
            raise PromptError(f"prompt `{prompt.name}` lists the LoRA `{adapter.name}` twice (first on line "
                              f"{seen[adapter.file].line})", item.span, hint="give it once, with the weight it should have")
        seen[adapter.file] = item.span
        adapters.append(adapter)
    has_embeddings = any("embedding" in c.entries for c in scope.catalogs)  # else no need to look
    for name, slot in merged.slots.items() if has_embeddings else ():
        if name in ("lora", "subject"):
            continue
        for phrase in slot.phrases:
            for piece in phrase.pieces:
                for item in (piece.before, piece.after) if isinstance(piece, ast.Edit) else (piece,):
                    if not isinstance(item, ast.Ref):
                        continue
                    entry = scope.lookup(name, item)
                    if entry.section == "embedding":
                        path = str(_entry_file(entry, scope))
                        if path not in seen:
                            seen[path] = item.span
                            adapters.append(ir.Adapter("embedding", entry.key, path, 1.0, entry.sha256 or None,
                                                       item.span))
    if not adapters:
        return prompt
    if triggers:
        def add(fragments):
            out = ir.merged(list(fragments) + [replace(t, join=", ") for t in triggers])
            return tuple([replace(out[0], join="")] + out[1:])

        segments = []
        for segment in prompt.segments:
            if isinstance(segment.positive, ir.Blend):
                positive = ir.Blend(tuple(replace(p, fragments=add(p.fragments)) for p in segment.positive.parts))
            else:
                positive = add(segment.positive)
            segments.append(replace(segment, positive=positive))
        prompt = replace(prompt, segments=tuple(segments))
    return replace(prompt, adapters=tuple(adapters))
