"""`promptlang catalog list | show | validate`."""
from __future__ import annotations

import os
from pathlib import Path

import click

from ..errors import PromptError
from . import Command, Group, options
from .common import search_dirs
from .report import Reporter
from ..jobs import Event


@click.group(cls=Group, short_help="List, show and validate style catalogs.")
def catalog() -> None:
    """List, show and validate style catalogs."""


@catalog.command("list", cls=Command)
@options.catalogs
def list_(catalogs) -> int:
    """List the catalogs that `use NAME` can find."""
    from .. import catalog as cat_mod

    seen = set()
    for folder in [*search_dirs(catalogs), cat_mod.styles_dir()]:
        for path in sorted(Path(folder).glob("*.yaml")):
            if path.stem in seen:
                continue
            seen.add(path.stem)
            cat = cat_mod.load(path)
            counts = ", ".join(f"{len(cat.entries[s])} {s}" for s in cat_mod.SECTIONS)
            where = "bundled" if Path(folder) == cat_mod.styles_dir() else str(path)
            print(f"{path.stem:<16} {cat.version:<8} {counts}  ({where})")
            if cat.description:
                print(f"{'':<16} {cat.description}")
    return 0


def load_named_catalog(name: str, catalogs=()):
    from .. import catalog as cat_mod

    if name.endswith((".yaml", ".yml")) or os.sep in name:
        return cat_mod.load(name)
    path = cat_mod.find(name, search_dirs(catalogs))
    if path is None:
        from ..errors import suggest
        raise PromptError(f"no catalog named `{name}`{suggest(name, cat_mod.bundled_names())}",
                          hint="`promptlang catalog list` shows them")
    return cat_mod.load(path)


@catalog.command("show", cls=Command)
@click.argument("name", metavar="NAME_OR_FILE")
@click.option("--section", type=click.Choice(["format", "style", "quality", "negative"]), help="only this section")
@options.catalogs
def show(name, section, catalogs) -> int:
    """Show the entries of a catalog (a name or a .yaml path)."""
    from ..catalog import SECTIONS

    cat = load_named_catalog(name, catalogs)
    print(f"{cat.name} {cat.version}" + (f" — {cat.description}" if cat.description else ""))
    if cat.requires:
        print("requires: " + ", ".join(cat.requires))
    for sec in [section] if section else SECTIONS:
        entries = cat.entries[sec]
        print(f"\n{sec} ({len(entries)})")
        width = max((len(k) for k in entries), default=0)
        for key, entry in entries.items():
            line = f"  {key:<{width}}  {entry.text}"
            if entry.weight != 1.0:
                line += f"  [weight {entry.weight:g}]"
            if entry.negative:
                line += f"  [negative: {entry.negative}]"
            print(line)
    return 0


@catalog.command("validate", cls=Command)
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@options.quiet
def validate(files, quiet) -> int:
    """Validate catalog files and render every template in the sandbox."""
    from .. import catalog as cat_mod, template

    report = Reporter(quiet=quiet)
    for path in files:
        try:
            cat = cat_mod.load(path)
            for sec, entries in cat.entries.items():
                for key, entry in entries.items():
                    template.render(entry.text, f"{cat.path}: {sec}.{key}", "a subject")
            n = sum(len(e) for e in cat.entries.values())
            report(Event("info", f"ok: {path}: {cat.name} {cat.version}, {n} entries"))
        except PromptError as exc:
            report.error(str(exc))
    return 1 if report.failures else 0
