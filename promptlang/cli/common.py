"""Helpers the commands share: catalog folders and the project, compiling, writing."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from ..errors import PromptError


def search_dirs(catalogs=(), near=None) -> list[Path]:
    """The ``--catalogs`` folders, then those of $PROMPTLANG_CATALOGS, then the project's
    ``[catalogs] folders`` (the project around the file ``near``, or the current folder)."""
    dirs = [Path(d) for d in catalogs]
    env = os.environ.get("PROMPTLANG_CATALOGS")
    if env:
        dirs += [Path(d) for d in env.split(os.pathsep) if d]
    for d in dirs:
        if not d.is_dir():
            raise PromptError(f"--catalogs {d}: no such folder")
    found = project(near)
    return dirs + list(found.folders) if found else dirs


def project(near=None):
    """The project (:class:`promptlang.project.Project`) around the file ``near`` (the
    current folder when None), or None: a few `stat` calls when there is none."""
    from ..project import find

    return find(Path(near).parent if near else Path.cwd())


def compile_path(path, catalogs=(), variation=None, only=None):
    from ..compiler import compile_file

    return compile_file(path, search_dirs=search_dirs(catalogs, near=path), variation=variation, only=only)


def variation(combinatorial=False, random_n=None, seed=None, max_n=None):
    """The :class:`promptlang.expansion.Variation` the flags ask for (a usage error for both
    ``--combinatorial`` and ``--random``)."""
    import click

    from ..expansion import DEFAULT_MAX, Variation

    if combinatorial and random_n is not None:
        raise click.UsageError("give --combinatorial or --random N, not both")
    return Variation("random" if random_n is not None else "combinatorial", random_n, seed,
                     DEFAULT_MAX if max_n is None else max_n)


def compile_and_warn(path, catalogs=(), variation=None, only=None):
    """Compile ``path`` and print its warnings (the pixel commands). A prompt that states no
    ``model`` gets the project's ``[render] model`` (a ``--model`` flag still wins over both)."""
    result = compile_path(path, catalogs, variation, only)
    print_warnings(result.warnings)
    found = project(path)
    if found and found.model:
        from dataclasses import replace

        result = replace(result, prompts=[p if p.settings.model else replace(p, settings=replace(
            p.settings, model=found.model)) for p in result.prompts])
    return result


def default_out(path, out, fallback: str) -> str:
    """``-o`` when given, else the project's ``[render] out``, else ``fallback``."""
    if out:
        return out
    found = project(path)
    return found.out if found and found.out else fallback


def selected(result, name):
    """The prompt ``name``, or the prompts it expands to (``NAME.1`` …); every prompt without a name."""
    if not name:
        return list(result.prompts)
    hits = [p for p in result.prompts if p.name == name or (p.origin and p.origin.prompt == name)]
    return hits or [result.prompt(name)]


def print_warnings(warnings) -> None:
    for w in warnings:
        print(str(w) if not isinstance(w, str) else f"warning: {w}", file=sys.stderr)


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write all of ``data`` to the output file ``path`` or nothing (see :mod:`promptlang.files`)."""
    from ..files import write_bytes
    from ..jobs.common import out_file

    write_bytes(out_file(path), data)


def cache_dir(no_cache: bool):
    from ..diffusion.encode import default_cache_dir

    return None if no_cache else default_cache_dir()


def quiet_libraries() -> None:
    """The command line is for people: keep library chatter (transformers' torchvision notice,
    diffusers' dtype notes) out of it unless they ask for it with these variables."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")


def backend(engine: str, address=None, workers=None, *, device=None, fast: bool = False, report=None):
    """The backend the ``--engine`` options ask for: ``Local`` or the Ray engine (which imports
    Ray only now). ``--address`` and ``--workers`` belong to the Ray engine alone."""
    import click

    if engine != "ray":
        for flag, value in (("--address", address), ("--workers", workers)):
            if value is not None:
                raise click.UsageError(f"{flag} needs --engine ray")
        from ..jobs.backend import Local

        return Local(device, fast=fast)
    from ..jobs.ray_engine import Ray, available, import_ray

    if not available():
        import_ray()  # says how to install it, before anything is planned to run
    return Ray(address, workers=workers, device=device, fast=fast, **({"report": report} if report else {}))
