"""What the language server knows of one `.prompt` document, kept up to date edit by edit.

Checking a whole file again on every key stroke costs about a millisecond a prompt (the
parser alone), too slow for a file of a thousand prompts. So a document is cut into
*chunks*, one per top-level statement (a line that starts with ``use``, ``defaults`` or
``prompt`` at the left margin begins one), and each chunk is parsed by
:func:`promptlang.syntax.parse` on its own and kept under its text: an edit re-parses
the chunk it touches. Spans of a chunk's AST are relative to the chunk (their ``file``
names it), and are placed in the document only when they are shown. Each prompt is
resolved by :func:`promptlang.expansion.resolve` over its ``extends`` chain and the
``defaults`` (and linted by :func:`promptlang.lint.token_warnings`), and the result is
kept until one of those AST objects or the catalogs change. The scope (the catalogs)
is kept until the ``use`` lines change or a catalog file is saved.

Messages are the command line's own: ``promptlang check`` raises the same errors. The one
difference: the command stops at the first syntax error of the file, the server reports
the first of each statement and still checks the others.
"""
from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from .. import ast, cst, syntax
from ..expansion import Variation
from ..errors import PromptError, Warning_

# a prompt with choices is checked whole (every name, every wildcard) but built once, as its
# first random draw: the editor shows its diagnostics without building every combination
ONE = Variation(mode="random", count=1, seed=0)

CHUNK_START = re.compile(r"^(?:prompt|defaults|use)\b", re.M)
DID_YOU_MEAN = re.compile(r"; did you mean `([^`]+)`\?")
_serial = itertools.count()


@dataclass(eq=False)
class Chunk:
    text: str
    tag: str  # the `file` of every span parsed from it
    file: ast.File | None
    error: PromptError | None
    line0: int = 0  # where it starts in the document now (0-based line, offset)
    start: int = 0
    _tree: object = None

    def tree(self):
        """The lossless tree's leaves (those lexed before a syntax error, for a broken chunk)."""
        if self._tree is None:
            leaves, _ = cst.lex(self.text)
            self._tree = leaves
        return self._tree


@dataclass
class Diagnostic:
    severity: str  # "error" or "warning"
    message: str
    line: int  # 0-based, in the document
    column: int  # 0-based, characters (code points)
    end_line: int
    end_column: int
    hint: str | None = None
    fix: str | None = None  # the name a did-you-mean offers


@dataclass
class Analysis:
    source: str
    lines: list
    chunks: list
    file: ast.File  # the statements that parsed (spans relative to their chunks)
    scope: object | None
    prompts: dict  # name -> ir.Prompt
    diagnostics: list
    catalog_paths: frozenset = frozenset()
    _by_tag: dict = field(default_factory=dict)

    def chunk_of(self, span) -> Chunk | None:
        return self._by_tag.get(span.file) if span is not None else None

    def place(self, span) -> tuple[int, int, int, int] | None:
        """A span of a chunk's AST as (line, column, end_line, end_column) in the document, 0-based."""
        chunk = self.chunk_of(span)
        if chunk is None:
            return None
        return (chunk.line0 + span.line - 1, span.column - 1, chunk.line0 + span.end_line - 1, span.end_column - 1)

    def offset(self, line: int, column: int) -> int:
        return sum(len(text) + 1 for text in self.lines[:line]) + column

    def chunk_at(self, line: int) -> Chunk | None:
        found = None
        for chunk in self.chunks:
            if chunk.line0 > line:
                break
            found = chunk
        return found


def _joined(path: str, source: str, files: list, defaults) -> ast.File:
    """One file of the statements of several chunks: every tuple field (uses, prompts, and
    any that the AST gains) joined in order; the one `defaults`."""
    values = {}
    for f in fields(ast.File):
        if f.name in ("path", "source", "defaults"):
            continue
        parts = [getattr(file, f.name) for file in files]
        if all(isinstance(part, tuple) for part in parts):
            values[f.name] = tuple(x for part in parts for x in part)
        else:
            values[f.name] = next((part for part in parts if part is not None), None)
    return ast.File(path=path, source=source, defaults=defaults, **values)


def search_dirs(path: str) -> list[Path]:
    """The catalog folders of a file, as the command line finds them: $PROMPTLANG_CATALOGS,
    then the project's ``[catalogs] folders``."""
    from ..project import find

    dirs = [Path(d) for d in os.environ.get("PROMPTLANG_CATALOGS", "").split(os.pathsep) if d]
    dirs = [d for d in dirs if d.is_dir()]
    found = find(Path(path).parent) if path else None
    return dirs + list(found.folders) if found else dirs


class Document:
    """One open `.prompt` document and what is kept between its versions."""

    def __init__(self, path: str):
        self.path = path
        self.chunks: dict = {}  # text -> Chunk
        self.resolved: dict = {}  # key -> (objects kept alive, prompts, warnings, errors)
        self.scope_key = None
        self.scope = None
        self.scope_error: PromptError | None = None
        self.generation = 0  # bumped when a catalog changes
        self.last: Analysis | None = None

    def catalogs_changed(self) -> None:
        self.generation += 1

    def update(self, source: str) -> Analysis:
        if len(source) > syntax.MAX_SOURCE:  # the command line refuses it too
            err = PromptError(f"file is too large ({len(source):,} characters; at most {syntax.MAX_SOURCE:,})")
            self.last = Analysis(source, source.split("\n"), [], _joined(self.path, source, [], None), None, {},
                                 [self._diag("error", err, {})])
            return self.last
        starts = [0] + [m.start() for m in CHUNK_START.finditer(source) if m.start() > 0]
        chunks, line0, used = [], 0, set()
        kept = {}
        for start, end in zip(starts, starts[1:] + [len(source)]):
            text = source[start:end]
            chunk = kept.get(text) or self.chunks.get(text)
            if chunk is None or id(chunk) in used:  # the same text twice: two chunks
                chunk = self._parse(text)
            used.add(id(chunk))
            kept[text] = chunk
            chunk.line0, chunk.start = line0, start
            line0 += text.count("\n")
            chunks.append(chunk)
        self.chunks = kept
        diagnostics: list = []
        by_tag = {c.tag: c for c in chunks}
        parsed = []
        for chunk in chunks:
            if chunk.error is not None:
                diagnostics += [self._diag("error", e, by_tag) for e in chunk.error.errors]
            else:
                parsed.append(chunk.file)
        defaults = [f.defaults for f in parsed if f.defaults is not None]
        for second in defaults[1:]:
            err = PromptError("a second `defaults` block; a file has at most one", second.span)
            diagnostics.append(self._diag("error", err, by_tag))
        file = _joined(self.path, source, parsed, defaults[0] if defaults else None)
        analysis = Analysis(source, source.split("\n"), chunks, file, None, {}, diagnostics, _by_tag=by_tag)
        self._resolve(analysis, [c for c in chunks if c.error is not None])
        analysis.diagnostics.sort(key=lambda d: (d.line, d.column))
        self.last = analysis
        return analysis

    def _parse(self, text: str) -> Chunk:
        tag = f"{self.path}\x00{next(_serial)}"
        try:
            return Chunk(text, tag, syntax.parse(text, tag), None)
        except PromptError as exc:
            return Chunk(text, tag, None, exc)

    def _diag(self, severity: str, err, by_tag: dict, fallback=None) -> Diagnostic:
        span = err.span
        chunk = by_tag.get(span.file) if span is not None else None
        hint = getattr(err, "hint", None)
        found = DID_YOU_MEAN.search(err.message)
        if chunk is None:  # in a catalog, or no place at all: shown at the `use` lines
            where = f"{span.file}:{span.line}:{span.column}: " if span is not None else ""
            line, col, end_line, end_col = fallback or (0, 0, 0, 0)
            return Diagnostic(severity, where + err.message, line, col, end_line, end_col, hint)
        return Diagnostic(severity, err.message, chunk.line0 + span.line - 1, span.column - 1,
                          chunk.line0 + span.end_line - 1, span.end_column - 1, hint,
                          found.group(1) if found and span.end_line == span.line else None)

    def _uses_place(self, analysis: Analysis):
        if analysis.file.uses:
            first, last = analysis.file.uses[0].span, analysis.file.uses[-1].span
            a, b = analysis.place(first), analysis.place(last)
            return (a[0], 0, b[2], b[3])
        return None

    def _scope(self, analysis: Analysis):
        from ..resolve import load_scope

        file = analysis.file
        key = (tuple((u.target, u.is_path, tuple(str(c) for c in u.constraints)) for u in file.uses),
               self.generation)
        if key != self.scope_key:
            self.scope_key = key
            try:
                self.scope, self.scope_error = load_scope(file, search_dirs(self.path)), None
            except PromptError as exc:
                self.scope, self.scope_error = None, exc
            self.resolved = {}
        return self.scope

    def _resolve(self, analysis: Analysis, broken: list) -> None:
        from ..lint import token_warnings
        from ..expansion import resolve

        file = analysis.file
        scope = self._scope(analysis)
        if scope is None:
            place = self._uses_place(analysis)
            analysis.diagnostics += [self._diag("error", e, analysis._by_tag, place) for e in self.scope_error.errors]
            return
        analysis.scope = scope
        analysis.catalog_paths = frozenset(str(Path(c.path).resolve()) for c in scope.catalogs)
        broken_names = {m.group(1) for c in broken for m in re.finditer(r"^prompt\s+(\w+)", c.text, re.M)}
        decls, errors, warnings = {}, [], []
        for decl in file.prompts:
            if decl.name in decls:
                errors.append(PromptError(f"a prompt named `{decl.name}` is already defined on line "
                                          f"{analysis.place(decls[decl.name].span)[0] + 1}", decl.span))
            else:
                decls[decl.name] = decl
        cache, seen, chains = {}, set(), {}
        defaults_id = id(file.defaults)

        def chain_of(decl, depth=0):
            """The decl and its ancestors (ids, decls), memoized; a cycle or a missing parent ends it."""
            got = chains.get(id(decl))
            if got is not None:
                return got
            chains[id(decl)] = ((id(decl),), (decl,))  # ends a cycle
            parent = decls.get(decl.parent) if decl.parent is not None else None
            if parent is None or depth > 64:
                got = ((id(decl),), (decl,))
            else:
                ids, objs = chain_of(parent, depth + 1)
                got = ((id(decl),) + ids, (decl,) + objs)
            chains[id(decl)] = got
            return got

        planned = []  # (decl, key, chain), in file order
        for decl in file.prompts:  # a second prompt of the same name too, as the command line does
            ids, chain = chain_of(decl)
            chain = list({id(d): d for d in chain}.values())  # a cycle: each once
            last = chain[-1]
            if last.parent is not None and last.parent not in decls:
                if last.parent not in broken_names:  # else its parent does not parse now: said there
                    from ..errors import suggest

                    err = PromptError(f"`{last.name}` extends `{last.parent}`, which is not defined in this file"
                                      f"{suggest(last.parent, decls)}", last.parent_span)
                    if (err.message, err.span) not in seen:
                        seen.add((err.message, err.span))
                        errors.append(err)
                continue
            planned.append((decl, (ids, defaults_id), chain))
        fresh = self._resolve_together([(d, c) for d, k, c in planned if k not in self.resolved], file, scope,
                                       analysis)
        for decl, key, chain in planned:
            found = self.resolved.get(key) or fresh.get(id(decl))
            if found is None:
                ordered = sorted(chain, key=lambda d: (analysis.place(d.span) or (0,))[0])
                mini = replace(file, source="", prompts=tuple(ordered))
                try:
                    irs, warns = resolve(mini, scope, ONE)
                    mine = [p for p in irs if p.span == decl.span]  # its own (variants too, if any)
                    found = ((chain, file.defaults), mine, warns + token_warnings(mine), [])
                except PromptError as exc:
                    found = ((chain, file.defaults), [], [], list(exc.errors))
            cache[key] = found
            for p in found[1]:
                analysis.prompts[p.name] = p
            for w in found[2]:
                if (w.message, w.span) not in seen:
                    seen.add((w.message, w.span))
                    warnings.append(w)
            for e in found[3]:
                if (e.message, e.span) not in seen:
                    seen.add((e.message, e.span))
                    errors.append(e)
        self.resolved = cache
        place = self._uses_place(analysis)
        analysis.diagnostics += [self._diag("error", e, analysis._by_tag, place) for e in errors]
        analysis.diagnostics += [self._diag("warning", w, analysis._by_tag, place) for w in warnings
                                 if isinstance(w, Warning_)]

    def _resolve_together(self, missing: list, file, scope, analysis) -> dict:
        """The prompts to resolve anew, resolved in one go: one :func:`resolve` over the
        union of their `extends` chains, so that a parent shared by several is built once.
        Each prompt's resolution depends on its own chain only, so when the whole goes
        through without an error or a warning, each prompt's own would have too, and its IR
        is the one it gets here. Otherwise (a file with mistakes or warnings) nothing is
        kept, and each prompt is resolved over its own chain, which says whose they are."""
        from ..lint import token_warnings
        from ..expansion import resolve

        if len(missing) < 2:
            return {}
        union = {}
        for decl, chain in missing:
            for d in chain:
                union[id(d)] = d
        ordered = sorted(union.values(), key=lambda d: (analysis.place(d.span) or (0,))[0])
        if len({d.name for d in ordered}) != len(ordered):
            return {}
        try:
            irs, warns = resolve(replace(file, source="", prompts=tuple(ordered)), scope, ONE)
        except PromptError:
            return {}
        if warns or len(irs) != len(ordered):
            return {}
        out = {}
        for decl, chain in missing:
            mine = [p for p in irs if p.span == decl.span]
            if not mine:
                return {}
            out[id(decl)] = ((chain, file.defaults), mine, token_warnings(mine), [])
        return out
