"""PromptError and diagnostic formatting: ``FILE:LINE:COL: error: message``, the line, a caret."""
from __future__ import annotations

from dataclasses import dataclass

from .ast import Span


MAX_SHOWN = 160  # characters of a source line shown under a diagnostic
MAX_ERRORS = 20  # diagnostics printed for one file; the rest are counted


class PromptError(Exception):
    """The one error type a user of promptlang ever sees.

    One error, or several independent ones found in one file (:meth:`several`): then
    ``errors`` lists them all, the first one's ``message``/``span``/``source``/``hint``
    are the error's own, and ``str()`` prints each (at most :data:`MAX_ERRORS`) and a count.
    """

    def __init__(self, message: str, span: Span | None = None, *, source: str | None = None,
                 hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.span = span
        self.source = source
        self.hint = hint
        self.errors: tuple[PromptError, ...] = (self,)

    @classmethod
    def several(cls, errors) -> PromptError:
        """One PromptError for the errors found (in the order given, repeats dropped)."""
        unique, seen = [], set()
        for err in (e for error in errors for e in error.errors):
            key = (err.message, err.span)
            if key not in seen:
                seen.add(key)
                unique.append(err)
        if len(unique) == 1:
            return unique[0]
        first = unique[0]
        out = cls(first.message, first.span, source=first.source, hint=first.hint)
        out.errors = tuple(unique)
        return out

    def __str__(self) -> str:
        if len(self.errors) == 1:
            return format_diagnostic("error", self.message, self.span, self.source, self.hint)
        shown = [format_diagnostic("error", e.message, e.span, e.source, e.hint) for e in self.errors[:MAX_ERRORS]]
        if len(self.errors) > MAX_ERRORS:
            shown.append(f"and {len(self.errors) - MAX_ERRORS} more")
        return "\n".join(shown) + f"\n{len(self.errors)} errors"


@dataclass(frozen=True, slots=True)
class Warning_:
    message: str
    span: Span | None = None
    source: str | None = None

    def __str__(self) -> str:
        return format_diagnostic("warning", self.message, self.span, self.source)


def format_diagnostic(kind: str, message: str, span: Span | None, source: str | None,
                      hint: str | None = None) -> str:
    if span is None:
        text = f"{kind}: {message}"
    else:
        text = f"{span.file}:{span.line}:{span.column}: {kind}: {message}"
        if source is not None:
            line = _line(source, span.line)
            if line is not None:
                col = span.column - 1
                width = max(1, min(span.end_column - span.column if span.end_line == span.line else 1, MAX_SHOWN))
                if len(line) > MAX_SHOWN:  # show a window of a very long line around the spot
                    start = max(0, min(col - MAX_SHOWN // 4, len(line) - MAX_SHOWN))
                    line = ("…" if start else "") + line[start:start + MAX_SHOWN] + \
                        ("…" if start + MAX_SHOWN < len(line) else "")
                    col = col - start + (1 if start else 0)
                    width = min(width, MAX_SHOWN - col + 1)
                text += f"\n    {line}\n    {' ' * col}{'^' * max(1, width)}"
    if hint:
        text += f"\n    = hint: {hint}"
    return text


# characters str.splitlines() breaks at besides "\n": lines count "\n" only (as Lark does), so
# these stay inside their line, shown as a space (one column each, as the parser counts them)
_BREAKS = str.maketrans({c: " " for c in "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"})


def _line(source: str, number: int) -> str | None:
    """Line ``number`` (1-based, counting "\\n" only) as shown under a diagnostic; None past the end."""
    lines = source.split("\n") + [""]
    if not 0 < number <= len(lines):
        return None
    return lines[number - 1].rstrip("\r").translate(_BREAKS).expandtabs(1)


def suggest(word: str, choices) -> str:
    """`; did you mean `x`?` or an empty string."""
    import difflib  # only on the way to an error: not at start-up

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean `{close[0]}`?" if close else ""


def span_at(file: str, source: str, offset: int, length: int = 1) -> Span:
    """A span from a character offset (for errors found outside the parser)."""
    line = source.count("\n", 0, offset) + 1
    col = offset - (source.rfind("\n", 0, offset) + 1) + 1
    return Span(file, line, col, line, col + max(1, length), offset, offset + length)
