"""`promptlang lock`, and the comparison `check --locked` makes with the lock it writes."""
from __future__ import annotations

from pathlib import Path

import click

from ..errors import PromptError
from ..jobs import Event
from . import Command, options
from .common import compile_path, write_atomic
from .report import Reporter


def lock_root(path: str | Path) -> Path:
    from ..lock import root_for

    return root_for(path)


def current(catalogs, root: Path) -> list[dict]:
    from .. import lock
    from ..resources import styles_dir

    return lock.entries(catalogs, root, styles_dir())


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve())) or "."
    except ValueError:
        return str(path)


@click.command("lock", cls=Command, short_help="Write promptlang.lock: the catalogs the prompts use, with hashes.")
@click.argument("paths", nargs=-1, metavar="[FILE_OR_DIR]...")
@options.overwrite
@options.quiet
@options.catalogs
def lock(paths, overwrite, quiet, catalogs) -> int:
    """Write promptlang.lock in the project root: each catalog the given .prompt files use
    (through `requires` too) with its name, version, source and sha256. Without FILE_OR_DIR,
    every .prompt file under the project root. `promptlang check --locked` compares with it."""
    from .. import lock as lock_mod
    from .text import prompt_files

    report = Reporter(quiet=quiet)
    root = lock_root(paths[0] if paths else Path.cwd())
    if paths:
        files = prompt_files(paths)
    else:
        files = sorted(p for p in root.rglob("*.prompt") if not any(part.startswith(".") for part in
                                                                    p.relative_to(root).parts))
        if not files:
            raise PromptError(f"{_shown(root)}: no .prompt files in the project")
    for file in files:
        if lock_root(file).resolve() != root.resolve():
            raise PromptError(f"{file}: belongs to another project than {_shown(root)}; lock each project on its own")
    target = root / lock_mod.FILE
    if target.exists() and not overwrite:
        raise PromptError(f"{_shown(target)} already exists", hint="pass --overwrite to write it again")
    used = []
    for file in files:
        used += compile_path(str(file), catalogs).scope.catalogs
    records = current(used, root)
    write_atomic(target, lock_mod.dumps(records).encode("utf-8"))
    n = len(records)
    report(Event("file", f"{n} catalog{'s' * (n != 1)} from {len(files)} file{'s' * (len(files) != 1)}",
                 path=target))
    return 0
