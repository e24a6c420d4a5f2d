"""AUTOMATIC1111's ``styles.csv``: columns ``name, prompt, negative_prompt``; ``{prompt}``
is where the user's prompt goes. Read as the webui reads it (``csv``, initial spaces
skipped), forgiving what real files get wrong; written as the webui writes it."""
from __future__ import annotations

import csv
import io

from .common import Builder

COLUMNS = ("name", "prompt", "negative_prompt")
MAX_ROW_LINES = 50     # a quoted field running over more lines than this is a quote left open


def looks_like(text: str) -> bool:
    first = text.lstrip("\ufeff").split("\n", 1)[0].lower()
    return "name" in first and "prompt" in first


def read(text: str, shown: str, builder: Builder) -> None:
    """Add the styles of a ``styles.csv`` (``text``, decoded) to ``builder``; ``shown`` names
    the file in warnings (``styles.csv:12``).

    A row whose quoting is broken (a quote left open, text after a closing quote) is
    skipped with a warning, and reading starts again on the line after the row's first."""
    lines = text.lstrip("\ufeff").split("\n")  # as StringIO hands lines to csv: reader.line_num agrees
    lines = [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
    header, at = None, 0  # at: lines already read
    while at < len(lines):
        header, at = _read_from(lines, at, shown, builder, header)


def _read_from(lines: list[str], offset: int, shown: str, builder: Builder, header):
    """Read rows from line ``offset``; return (header, where to go on) at the end or on a
    broken row."""
    reader = csv.reader(io.StringIO("".join(lines[offset:])), skipinitialspace=True, strict=True)
    last = 0  # reader.line_num after the previous row
    while True:
        start = offset + last + 1
        where = f"{shown}:{start}"
        try:
            row = next(reader)
        except StopIteration:
            return header, len(lines)
        except csv.Error as exc:
            builder.warn(where, f"broken quoting ({exc}); the row was skipped")
            return header, start
        end = offset + reader.line_num
        last = reader.line_num
        if end - start + 1 > MAX_ROW_LINES:
            builder.warn(where, f"a quoted field runs over {end - start + 1} lines (a quote left open?); "
                         "the row was skipped")
            return header, start
        if not row or not any(f.strip() for f in row):
            continue
        if header is None:
            header = [f.strip().lower() for f in row]
            if "name" not in header or "prompt" not in header:
                from ..errors import PromptError

                raise PromptError(f"{where}: not an AUTOMATIC1111 styles.csv: the first row must name the "
                                  f"columns `name,prompt,negative_prompt`, got {','.join(row)[:80]!r}")
            continue
        fields = dict(zip(header, row))
        if len(row) > len(header):
            extra = [f for f in row[len(header):] if f.strip()]
            if extra:
                builder.warn(where, f"{len(row) - len(header)} field(s) more than the header names "
                             f"(an unquoted comma?); ignored: {', '.join(extra)[:80]!r}")
        if "prompt" not in fields:
            builder.warn(where, f"`{fields.get('name', '')}`: no prompt field; skipped")
            continue
        builder.add(where, fields.get("name", ""), fields.get("prompt", ""), fields.get("negative_prompt", ""))


def write(rows) -> bytes:
    """``rows``: (name, prompt, negative) -> the bytes of a ``styles.csv``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")
