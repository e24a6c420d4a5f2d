"""`promptlang catalog list | new | show | validate | import | export | diff | docs`."""
from __future__ import annotations

import json as _json
import os
from pathlib import Path

import click

from ..errors import PromptError
from . import Command, Group, options
from .common import search_dirs
from .report import Reporter
from ..jobs import Event


@click.group(cls=Group, short_help="List, scaffold, show, validate, import and export style catalogs.")
def catalog() -> None:
    """List, scaffold (as packages), show, validate, import and export style catalogs."""


@catalog.command("list", cls=Command)
@options.catalogs
def list_(catalogs) -> int:
    """List the catalogs that `use NAME` can find: name, version, entries and source (a
    file in a catalog folder, bundled, or `package DIST VERSION`, an installed package)."""
    from .. import catalog as cat_mod

    seen = set()

    def show(name: str, path: Path, where: str) -> None:
        seen.add(name)
        cat = cat_mod.load(path)
        counts = ", ".join(f"{len(cat.entries[s])} {s}" for s in cat_mod.SECTIONS)
        print(f"{name:<16} {cat.version:<8} {counts}  ({where})")
        if cat.description:
            print(f"{'':<16} {cat.description}")

    for folder in [*search_dirs(catalogs), cat_mod.styles_dir()]:
        for path in sorted(Path(folder).glob("*.yaml")):
            if path.stem not in seen:
                show(path.stem, path, "bundled" if Path(folder) == cat_mod.styles_dir() else str(path))
    failed = 0
    for name, package in sorted(cat_mod.installed().items()):
        if name in seen:  # shadowed by a folder's or a bundled catalog of that name
            continue
        try:
            show(name, package.path(), package.label)
        except PromptError as exc:  # one broken package does not hide the others
            failed += 1
            click.echo(f"error: {exc}", err=True)
    return 1 if failed else 0


@catalog.command("new", cls=Command)
@click.argument("name", callback=lambda ctx, param, value: _identifier(ctx, param, value))
@click.argument("folder", required=False, type=click.Path(file_okay=False))
@options.overwrite
def new(name, folder, overwrite) -> int:
    """Write a catalog package for NAME in FOLDER (default: NAME-styles): pyproject.toml
    declaring the entry point, src/NAME_styles/catalog.yaml, a test and a README.
    `pip install FOLDER` then makes `use NAME` find it. Existing files are kept unless
    --overwrite."""
    from ..files import write_bytes
    from ..jobs.common import check_free
    from ..scaffold import package_files

    files = package_files(name)
    root = Path(folder or f"{name.lower().replace('_', '-')}-styles")
    if root.exists() and not root.is_dir():
        raise PromptError(f"{root} is a file, not a folder")
    targets = {root / rel: text for rel, text in files.items()}
    try:
        check_free(list(targets), overwrite)
    except PromptError as exc:
        exc.hint = "pass --overwrite to replace them, or give another FOLDER"
        raise
    for path, text in targets.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(path, text.encode("utf-8"))
        print(f"wrote {path}")
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
    from ..catalog import ADAPTER_SECTIONS

    for sec in ADAPTER_SECTIONS if not section else ():  # shown where a catalog has them
        entries = cat.entries.get(sec, {})
        if entries:
            print(f"\n{sec} ({len(entries)})")
            width = max(len(k) for k in entries)
            for key, entry in entries.items():
                line = f"  {key:<{width}}  {entry.file}"
                if sec == "lora" and entry.text:
                    line += f"  [trigger: {entry.text}]"
                if entry.weight != 1.0:
                    line += f"  [weight {entry.weight:g}]"
                print(line + (f"  [sha256 {entry.sha256[:16]}…]" if entry.sha256 else ""))
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


def _identifier(ctx, param, value):
    from ..catalog import KEY_RE

    if value is not None and not KEY_RE.match(value):
        raise click.BadParameter(f"{value!r}: a catalog name is letters, digits and `_`", ctx, param)
    return value


@catalog.command("import", cls=Command)
@click.argument("source", metavar="FILE_OR_DIR")
@options.out("FILE", "the catalog to write (default: NAME.yaml here)")
@click.option("--name", metavar="NAME", callback=_identifier,
              help="the catalog's name (default: from the file or folder name)")
@options.overwrite
@options.quiet
def import_(source, out, name, overwrite, quiet) -> int:
    """Import an AUTOMATIC1111 styles.csv, a Fooocus or SDXL prompt styler .json, or a
    dynamicprompts wildcard folder as a catalog. What cannot be carried is warned about,
    with the file and row; the rest is imported."""
    from .. import interop
    from ..files import write_bytes
    from ..jobs.common import check_free, out_file

    report = Reporter(quiet=quiet)
    try:
        data, warnings, kind = interop.import_path(source, name)
    except interop.Empty as exc:
        report.warnings(exc.warnings)
        raise
    report.warnings(warnings)
    target = out_file(out or f"{data['name']}.yaml")
    check_free([target], overwrite)
    write_bytes(target, interop.to_yaml(data))
    counts = ", ".join(f"{len(data[s])} {s}" for s in ("format", "style", "quality", "negative") if s in data)
    report(Event("file", f"catalog `{data['name']}` from {kind}: {counts}"
                 + (f"; {len(warnings)} warning{'s' * (len(warnings) != 1)}" if warnings else ""), path=target))
    return 0


@catalog.command("export", cls=Command)
@click.argument("name", metavar="NAME_OR_FILE")
@click.option("--to", "to", required=True, type=click.Choice(["a1111-csv", "fooocus-json"]),
              help="a1111-csv: AUTOMATIC1111's styles.csv; fooocus-json: Fooocus' and the ComfyUI SDXL "
                   "prompt styler's JSON")
@options.out("FILE", "the file to write (default: NAME.csv or NAME.json here)")
@options.overwrite
@options.catalogs
@options.quiet
def export(name, to, out, overwrite, catalogs, quiet) -> int:
    """Write a catalog as an AUTOMATIC1111 styles.csv or a Fooocus / SDXL prompt styler JSON."""
    from .. import interop
    from ..files import write_bytes
    from ..jobs.common import check_free, out_file

    report = Reporter(quiet=quiet)
    cat = load_named_catalog(name, catalogs)
    target = out_file(out or f"{cat.name}.{'csv' if to == 'a1111-csv' else 'json'}")
    check_free([target], overwrite)
    data, warnings, count = interop.export(cat, to)
    report.warnings(warnings)
    write_bytes(target, data)
    report(Event("file", f"{count} styles of `{cat.name}` as {to}"
                 + (f"; {len(warnings)} skipped or changed" if warnings else ""), path=target))
    return 0


@catalog.command("diff", cls=Command)
@click.argument("old", metavar="A")
@click.argument("new", metavar="B")
@options.catalogs
def diff(old, new, catalogs) -> int:
    """List the entries added, removed and changed (text, negative, weight, tags) from
    catalog A to catalog B, per section (each a name or a .yaml path)."""
    from .. import lock
    from .. import catalog as cat_mod

    a, b = load_named_catalog(old, catalogs), load_named_catalog(new, catalogs)

    def where(cat) -> str:
        return "bundled" if Path(cat.path).resolve().parent == cat_mod.styles_dir().resolve() else cat.path

    def shown(value) -> str:
        if isinstance(value, tuple):
            return "[" + ", ".join(value) + "]"
        if isinstance(value, float):
            return f"{value:g}"
        return _json.dumps(value, ensure_ascii=False)

    print(f"--- {a.name} {a.version} ({where(a)})")
    print(f"+++ {b.name} {b.version} ({where(b)})")
    changes = lock.diff(a, b)
    totals = [0, 0, 0]
    for section, parts in changes.items():
        print(f"{section}:")
        for key in parts["added"]:
            print(f"  + {key}: {shown(b.entries[section][key].text)}")
        for key in parts["removed"]:
            print(f"  - {key}: {shown(a.entries[section][key].text)}")
        for key, fields in parts["changed"].items():
            print(f"  ~ {key}")
            for name, (before, after) in fields.items():
                print(f"      {name}: {shown(before)} -> {shown(after)}")
        totals = [totals[0] + len(parts["added"]), totals[1] + len(parts["removed"]),
                  totals[2] + len(parts["changed"])]
    if not changes:
        print("no entries differ")
    else:
        print(f"{totals[0]} added, {totals[1]} removed, {totals[2]} changed")
    return 0


@catalog.command("docs", cls=Command)
@click.argument("name", metavar="NAME_OR_FILE")
@options.out("DIR", "the folder to write index.html into (default: NAME-styleguide here)")
@click.option("--render", "model", metavar="MODEL",
              help="also render a sample tile per entry with MODEL (a model as `render --model` takes "
                   "it, e.g. builtin:tiny), on one fixed subject and seed, into DIR/tiles/")
@options.device
@options.overwrite
@options.catalogs
@options.quiet
def docs(name, out, model, device, overwrite, catalogs, quiet) -> int:
    """Build a browsable style guide of a catalog: one self-contained DIR/index.html (no
    network) with every entry by section and tag, its text, negative, weight, tags and
    CLIP token count, a search box and a copy button per entry; with --render, a sample
    tile per entry beside it."""
    from .. import styleguide
    from ..files import write_bytes
    from ..jobs.common import check_free, folder

    report = Reporter(quiet=quiet)
    cat = load_named_catalog(name, catalogs)
    root = folder(out or f"{cat.name}-styleguide")
    target = root / "index.html"
    check_free([target], overwrite)
    tiles, failed = {}, 0
    if model:
        tiles, failed = _render_tiles(cat, root, model, device, overwrite, report)
    page = styleguide.build(cat, tiles)
    root.mkdir(parents=True, exist_ok=True)
    write_bytes(target, page.encode("utf-8"))
    n = sum(len(e) for e in cat.entries.values())
    shown = f", {len(tiles)} tiles" if model else ""
    report(Event("file", f"style guide of `{cat.name}` {cat.version}: {n} entries{shown}", path=target))
    return 1 if failed else 0


def _render_tiles(cat, root, model, device, overwrite, report):
    """Render one tile per entry of ``cat`` into ROOT/tiles; ({(section, key): relative path}, failures)."""
    from .common import quiet_libraries
    from .. import styleguide
    from ..compiler import compile_source
    from ..jobs import render as job
    from ..jobs.backend import Local

    quiet_libraries()
    path = Path(cat.path)
    prompts, places, failed, used = [], [], 0, ()
    for section, key, _, source in styleguide.tile_sources(cat, path.stem):
        try:
            compiled = compile_source(source, f"<{cat.name}: {section}.{key}>", search_dirs=[str(path.parent)],
                                      lint=False)
        except PromptError as exc:  # one entry that cannot be rendered does not stop the others
            failed += 1
            report.error(f"{section}.{key}: no tile: {exc.message}")
            continue
        prompts += compiled.prompts
        used = tuple(compiled.scope.catalogs)
        places.append((section, key))
    the_plan = job.plan(prompts, root / "tiles", source=job.Source(None, None, used),
                        overwrite=overwrite, model=model)
    try:
        written = job.run(the_plan, backend=Local(device), report=report)
    finally:
        report.close()
    tiles = {place: f"tiles/{Path(p).name}" for place, p in zip(places, written)}
    return tiles, failed
