"""`promptlang fmt`: rewrite .prompt files in the canonical layout (see :mod:`promptlang.fmt`)."""
from __future__ import annotations

import difflib
import sys
from pathlib import Path

import click

from ..errors import PromptError
from . import Command, options
from .report import Reporter


def _paths(args) -> list[str]:
    """The files named, and the .prompt files inside the folders named (sorted)."""
    out = []
    for arg in args:
        if arg != "-" and Path(arg).is_dir():
            out += sorted(str(p) for p in Path(arg).rglob("*.prompt") if p.is_file())
        else:
            out.append(arg)
    return out


def _diff(path: str, before: str, after: str) -> str:
    return "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True),
                                        f"{path}", f"{path} (formatted)"))


@click.command(cls=Command, short_help="Format .prompt files in the canonical layout.")
@click.argument("files", nargs=-1, required=True, metavar="FILE...", type=click.Path())
@click.option("--check", is_flag=True, help="change nothing; print a diff and exit 1 when a file would change")
@click.option("--diff", "show_diff", is_flag=True, help="change nothing; print what would change as a diff")
@options.quiet
def fmt(files, check, show_diff, quiet) -> int:
    """Format .prompt files (or every .prompt file in the folders given) in one canonical
    layout: indentation, aligned slot names, long lists one item per line, spacing around
    weights; comments stay where they are. A file is rewritten (atomically) only when its
    layout changes, and never when it does not parse. `-` reads standard input and writes
    the result to standard output."""
    from ..compiler import read_source
    from ..files import write_bytes
    from ..fmt import format_source

    report = Reporter(quiet=quiet)
    changed = same = 0
    for path in _paths(files):
        try:
            source = sys.stdin.read() if path == "-" else read_source(path)
            result = format_source(source, "<stdin>" if path == "-" else path)
        except PromptError as exc:
            report.error(str(exc))
            continue
        if path == "-":
            if check or show_diff:
                sys.stdout.write(_diff("<stdin>", source, result))
                changed += result != source
            else:
                sys.stdout.write(result)
            continue
        if result == source:
            same += 1
            continue
        changed += 1
        if check or show_diff:
            sys.stdout.write(_diff(path, source, result))
            if check and not quiet:
                print(f"would reformat {path}", file=sys.stderr)
        else:
            write_bytes(Path(path), result.encode("utf-8"))
            if not quiet:
                print(f"reformatted {path}", file=sys.stderr)
    if not quiet and (changed or same) and "-" not in files:
        verb = "would be reformatted" if check or show_diff else "reformatted"
        print(f"{changed} file{'s' * (changed != 1)} {verb}, {same} left unchanged", file=sys.stderr)
    if report.failures:
        return 1
    return 1 if check and changed else 0
