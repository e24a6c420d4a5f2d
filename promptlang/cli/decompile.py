"""`promptlang decompile`: another tool's prompt (text, a file of them, or a PNG) as a `.prompt` file."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import PromptError
from . import Command, options


def _ours(source: str):
    def run(text: str, *, name: str, catalogs=(), wildcards=None) -> str:
        from ..interop.decompile import decompile

        return decompile(text, source, name=name, catalogs=catalogs)
    return run


def _dynamicprompts(text: str, *, name: str, catalogs=(), wildcards=None) -> str:
    from ..interop.dynamicprompts import decompile

    return decompile(text, wildcards=Path(wildcards) if wildcards else None, name=name)


#: ``--from`` name -> f(one prompt's text, *, name, catalogs, wildcards) -> `.prompt` source
SOURCES = {
    "a1111": _ours("a1111"),
    "comfyui": _ours("comfyui"),
    "compel": _ours("compel"),
    "midjourney": _ours("midjourney"),
    "dynamicprompts": _dynamicprompts,
}

MAX_FILE = 16 * 1024 * 1024   # bytes of a file of prompts
MAX_PROMPTS = 10_000          # prompts in one file
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _scope(uses, catalogs, no_match) -> list:
    """The catalogs whose entries' words become names (none with --no-match)."""
    if no_match:
        return []
    from ..resolve import load_scope
    from ..syntax import parse
    from .common import search_dirs

    lines = [f"use {u}" if u.isidentifier() else 'use "' + u.replace("\\", "\\\\").replace('"', '\\"') + '"'
             for u in uses]
    return load_scope(parse("\n".join(lines) + "\n", "--use"), search_dirs(catalogs)).catalogs


def _combine(sources: list[str]) -> str:
    """Several `.prompt` sources (one per prompt) as one file: the header and `use` lines
    once, at the top, then every prompt block."""
    head, blocks = [], []
    for text in sources:
        lines = text.splitlines()
        at = next((i for i, line in enumerate(lines) if line.startswith("prompt ")), len(lines))
        head += [line for line in lines[:at] if line.strip() and line not in head]
        blocks.append("\n".join(lines[at:]).rstrip() + "\n")
    return ("\n".join(head) + "\n\n" if head else "") + "\n".join(blocks)


def _lines(path: str) -> list[tuple[str, str]]:
    """A file of prompts, one a line (a `Negative prompt:` line belongs to the prompt above;
    blank lines and lines starting with `#` are skipped) -> [(where, text)]."""
    from ..files import read_limited

    data = sys.stdin.buffer.read(MAX_FILE + 1) if path == "-" else read_limited(path, MAX_FILE, "a file of prompts")
    if len(data) > MAX_FILE:
        raise PromptError(f"{path}: more than {MAX_FILE:,} bytes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PromptError(f"{path}: not UTF-8 text (bad byte at offset {exc.start})") from None
    out: list[tuple[str, str]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.lstrip().startswith("Negative prompt:") and out:
            out[-1] = (out[-1][0], out[-1][1] + "\n" + line.strip())
            continue
        out.append((f"{path}:{number}", line))
        if len(out) > MAX_PROMPTS:
            raise PromptError(f"{path}: more than {MAX_PROMPTS:,} prompts")
    if not out:
        raise PromptError(f"{path}: no prompts in this file")
    return out


def _image(path: str, name: str, scope) -> tuple[str, list[str]]:
    from ..artifacts.png import text_chunks
    from ..interop.decompile import write
    from ..interop.decompile.images import read

    found = read(text_chunks(path), shown=path)
    if found.kind == "promptlang":
        said = [f"{path} is a promptlang render: `promptlang show {path}` prints what it carries and "
                f"`promptlang reproduce {path}` renders it again"]
        if found.source is None:
            raise PromptError(said[0] + "; it carries no .prompt source to write")
        head = f"# the .prompt source {Path(path).name} carries (its prompt: {found.prompt or '?'})\n"
        return head + found.source, said
    text = write([(name, found.decompiled)], catalogs=scope,
                 header=f"decompiled from the {found.kind} metadata of {Path(path).name} by `promptlang decompile`")
    return text, []


def _is_file(text: str) -> bool:
    """Whether pasted text names a file (a long prompt is no file name, and says so by an OSError)."""
    try:
        return len(text) < 4096 and Path(text).is_file()
    except (OSError, ValueError):
        return False


def _is_png(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(8) == PNG_MAGIC
    except OSError:
        return False


@click.command(cls=Command, short_help="Another tool's prompt or PNG as a .prompt file.")
@click.argument("text", metavar="TEXT_OR_FILE", required=False)
@click.option("-f", "--from", "source", type=click.Choice(list(SOURCES)), metavar="TOOL",
              help=f"the syntax of the prompt text: {', '.join(SOURCES)} (not for images: a PNG says which tool "
                   "made it)")
@click.option("--file", "file", metavar="FILE", type=click.Path(dir_okay=False, allow_dash=True),
              help="a file of prompts, one a line (`-`: standard input); a `Negative prompt:` line belongs to the "
                   "prompt above it")
@click.option("--name", default=None, metavar="NAME",
              help="the prompt's name (default: decompiled, or the image's file name; a file's prompts get _1, _2…)")
@click.option("--use", "uses", multiple=True, default=("core",), show_default=True, metavar="CATALOG",
              help="a catalog (name or path) whose entries' words become names, as `van_gogh` (repeatable)")
@click.option("--no-match", is_flag=True, help="keep every word as written; match no catalog entry")
@click.option("--wildcards", metavar="DIR", help="with --from dynamicprompts: the wildcard folder the template's "
                                                 "__name__ read (written as `use wildcards \"DIR\"`, a relative path)")
@options.out("OUT.prompt", "write to OUT.prompt (atomically) instead of standard output")
@options.overwrite
@options.catalogs
def decompile(text, source, file, name, uses, no_match, wildcards, out, overwrite, catalogs) -> int:
    """Turn a prompt from AUTOMATIC1111, ComfyUI, Compel, Midjourney or dynamicprompts into a readable .prompt file:

    \b
      promptlang decompile --from a1111 "a (cat:1.2) on a [red:blue:0.4] mat"
      promptlang decompile --from midjourney prompts.txt -o prompts.prompt   # one a line
      promptlang decompile image.png          # A1111, ComfyUI, InvokeAI or Fooocus metadata
      promptlang decompile --from dynamicprompts "a {red|blue} __animals__" --wildcards ./wildcards

    Weights, edits, alternation and settings come across; what promptlang cannot say is
    written as `# note:` comments and printed as warnings.
    """
    from ..interop.common import identifier

    if (text is None) == (file is None):
        raise click.UsageError("give the prompt text, an image, or --file FILE (one of them)")
    if text is not None and source is None and text.lower().endswith(".png") and "\n" not in text \
            and not _is_file(text):
        raise PromptError(f"{text}: no such file")  # an image's name, not a prompt (that needs --from)
    image = text is not None and _is_file(text) and _is_png(text)
    if text is not None and not image and _is_file(text):
        if Path(text).suffix.lower() in (".jpg", ".jpeg", ".webp", ".avif", ".gif"):
            raise PromptError(f"{text}: decompile reads the metadata of PNG files only")
        if source is None:
            raise click.UsageError(f"{text} is a file: give --from TOOL to read it as prompts, one a line")
        file, text = text, None  # a file of prompts, as with --file
    if not image and source is None:
        raise click.UsageError("--from TOOL is needed for prompt text: " + ", ".join(SOURCES))
    if image and source is not None:
        raise click.UsageError("--from is for prompt text; an image says which tool made it")
    if wildcards is not None and source != "dynamicprompts":
        raise click.UsageError("--wildcards DIR goes with --from dynamicprompts")
    if wildcards is not None and Path(wildcards).is_absolute():
        raise click.BadParameter(f"{wildcards}: a path relative to the .prompt file (the project's files are "
                                 "confined to it)", param_hint="--wildcards")
    inputs = [p for p in (file, text if image else None) if p and p != "-"]
    if out is not None:
        from ..jobs.common import check_free

        for given in inputs:
            if Path(out).exists() and Path(out).resolve() == Path(given).resolve():
                raise PromptError(f"--out {out}: is the input file; refusing to write over it")
        check_free([out], overwrite)
    if name is not None and identifier(name) != name:
        raise click.BadParameter(f"{name!r}: a prompt name is letters, digits and _", param_hint="--name")
    scope = _scope(uses, catalogs, no_match)
    said: list[str] = []
    if image:
        result, said = _image(text, name or identifier(Path(text).stem, fallback="decompiled"), scope)
    elif file is not None:
        base = name or "decompiled"
        prompts = _lines(file)
        result = _combine([_one(source, t, f"{base}_{i}", scope, where, wildcards) for i, (where, t) in
                           enumerate(prompts, 1)])
    else:
        result = _one(source, text, name or "decompiled", scope, None, wildcards)
    for line in said + [line.strip()[len("# note: "):] for line in result.splitlines()
                        if line.strip().startswith("# note: ")]:
        print(f"warning: {line}", file=sys.stderr)
    if out is not None:
        from .common import write_atomic

        write_atomic(out, result.encode("utf-8"))
    else:
        sys.stdout.write(result)
    return 0


def _one(source: str, text: str, name: str, scope, where: str | None, wildcards=None) -> str:
    try:
        return SOURCES[source](text, name=name, catalogs=scope, wildcards=wildcards)
    except PromptError as exc:
        if where:
            exc.message = f"{where}: {exc.message}"
        raise
