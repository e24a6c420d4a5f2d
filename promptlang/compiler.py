"""parse -> resolve, for a file on disk or a string; the stage every command starts from."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import ast, ir, syntax
from .errors import PromptError, Warning_
from .expansion import resolve
from .resolve import Scope, load_scope


@dataclass(frozen=True)
class Compiled:
    file: ast.File
    scope: Scope
    prompts: list  # ir.Prompt, in file order
    warnings: list  # Warning_
    variation: object = None  # how prompts with choices were expanded (promptlang.expansion.Variation)

    def prompt(self, name: str) -> ir.Prompt:
        for p in self.prompts:
            if p.name == name:
                return p
        from .errors import suggest
        names = [p.name for p in self.prompts]
        raise PromptError(f"no prompt named `{name}` in {self.file.path}{suggest(name, names)}",
                          hint="prompts in this file: " + (", ".join(names) or "none"))


def read_source(path: str | Path) -> str:
    from .files import read_limited

    path = Path(path)
    raw = read_limited(path, syntax.MAX_SOURCE * 4, "a .prompt file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PromptError(f"{path}: not UTF-8 text (bad byte at offset {exc.start})") from None


def compile_source(source: str, path: str = "<string>", *, search_dirs=(), lint: bool = True,
                   variation=None, only: str | None = None) -> Compiled:
    """``variation`` (:class:`promptlang.expansion.Variation`): how prompts with choices expand
    (every combination, at most 1,000, by default); ``only``: one prompt (or ``NAME.k``)."""
    file = syntax.parse(source, path)
    try:
        scope = load_scope(file, search_dirs)
    except PromptError as exc:
        if exc.source is None and exc.span is not None and exc.span.file == path:
            exc.source = source
        raise
    prompts, warnings = resolve(file, scope, variation, only)
    if lint:
        from .lint import token_warnings
        warnings = warnings + token_warnings(prompts, source)
    return Compiled(file, scope, prompts, warnings, variation)


def compile_file(path: str | Path, *, search_dirs=(), lint: bool = True, variation=None,
                 only: str | None = None) -> Compiled:
    return compile_source(read_source(path), str(path), search_dirs=search_dirs, lint=lint, variation=variation,
                          only=only)


def stream_file(path: str | Path, *, search_dirs=(), variation=None, only: str | None = None, plain: bool = False):
    """(number of prompts, lazy iterator of ir.Prompt, warnings filled as it goes) for the
    file at ``path``: its prompts with choices expanded one at a time (`promptlang expand`);
    ``plain``: the iterator gives (name, plain text) instead."""
    from .expansion import stream

    source = read_source(path)
    file = syntax.parse(source, str(path))
    try:
        scope = load_scope(file, search_dirs)
    except PromptError as exc:
        if exc.source is None and exc.span is not None and exc.span.file == str(path):
            exc.source = source
        raise
    return stream(file, scope, variation, only, plain=plain)


__all__ = ["Compiled", "compile_file", "compile_source", "read_source", "Warning_"]
