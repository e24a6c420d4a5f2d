"""The `promptlang` command (also `python -m promptlang`).

Errors print as ``FILE:LINE:COL: error: …`` with the line and a caret and exit 1;
usage errors exit 2; no traceback reaches the user.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import __version__
from .errors import PromptError

EPILOG = "Run `promptlang COMMAND --help` for the options of one command."


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.func(args) or 0
    except PromptError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # a folder that cannot be written, -o naming a file, a full disk…
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="promptlang",
        description="Write text-to-image prompts as code: check `.prompt` files, compile them to "
                    "Compel, AUTOMATIC1111/ComfyUI, Midjourney or JSON, and browse style catalogs.",
        epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"promptlang {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    def command(name, help_text, func):
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        return p

    def catalogs_option(p):
        p.add_argument("--catalogs", metavar="DIR", action="append", default=[],
                       help="a folder of catalogs that `use NAME` searches before the bundled ones "
                            "(repeatable; also $PROMPTLANG_CATALOGS, separated by the path separator)")

    p = command("check", "Check .prompt files: parse, resolve every catalog name, print warnings.", cmd_check)
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--quiet", "-q", action="store_true", help="print errors and warnings only")
    catalogs_option(p)

    from .targets import NAMES
    p = command("compile", "Compile a .prompt file to prompt text (compel, a1111, midjourney, plain) or JSON.",
                cmd_compile)
    p.add_argument("file", metavar="FILE")
    p.add_argument("--prompt", "-p", metavar="NAME", help="only this prompt (printed without a `# NAME` header)")
    p.add_argument("--target", "-t", choices=NAMES, default="compel", help="output syntax (default: compel)")
    p.add_argument("--out", "-o", metavar="FILE", help="write to FILE (atomically) instead of standard output")
    catalogs_option(p)

    p = command("build", "Compile every .prompt file (or every one in a folder) to every text target, "
                         "one file per target: OUT/NAME.TARGET.", cmd_build)
    p.add_argument("paths", nargs="+", metavar="FILE_OR_DIR")
    p.add_argument("--out", "-o", metavar="DIR", default="out", help="output folder (default: out)")
    p.add_argument("--targets", metavar="LIST", default=",".join(NAMES),
                   help=f"comma-separated targets (default: {','.join(NAMES)})")
    p.add_argument("--render", metavar="MODEL",
                   help="also render every prompt with MODEL into OUT/renders/FILE/ (builtin:tiny: a test model "
                        "that renders noise on any machine)")
    p.add_argument("--steps", type=int, metavar="N", help="with --render: override every prompt's steps")
    p.add_argument("--size", metavar="WxH", help="with --render: override every prompt's size")
    catalogs_option(p)

    p = command("tokens", "Count CLIP tokens per prompt and per slot (CLIP reads 75 at a time).", cmd_tokens)
    p.add_argument("file", metavar="FILE")
    p.add_argument("--prompt", "-p", metavar="NAME", help="only this prompt")
    catalogs_option(p)

    cat = sub.add_parser("catalog", help="List, show and validate style catalogs.",
                         description="List, show and validate style catalogs.")
    cat.set_defaults(func=lambda a: cat.print_help(sys.stderr) or 2)
    csub = cat.add_subparsers(title="catalog commands", metavar="COMMAND")
    p = csub.add_parser("list", help="List the catalogs that `use NAME` can find.",
                        description="List the catalogs that `use NAME` can find.")
    p.set_defaults(func=cmd_catalog_list)
    catalogs_option(p)
    p = csub.add_parser("show", help="Show the entries of a catalog (a name or a .yaml path).",
                        description="Show the entries of a catalog (a name or a .yaml path).")
    p.add_argument("name", metavar="NAME_OR_FILE")
    p.add_argument("--section", choices=("format", "style", "quality", "negative"), help="only this section")
    p.set_defaults(func=cmd_catalog_show)
    catalogs_option(p)
    p = csub.add_parser("validate", help="Validate catalog files and render every template in the sandbox.",
                        description="Validate catalog files and render every template in the sandbox.")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(func=cmd_catalog_validate)
    from .cli_latent import add_commands as add_latent_commands
    from .cli_render import add_commands
    add_commands(command, catalogs_option)
    add_latent_commands(command, catalogs_option)
    return parser


# ---------------------------------------------------------------- helpers

def search_dirs(args) -> list[Path]:
    dirs = [Path(d) for d in getattr(args, "catalogs", [])]
    env = os.environ.get("PROMPTLANG_CATALOGS")
    if env:
        dirs += [Path(d) for d in env.split(os.pathsep) if d]
    for d in dirs:
        if not d.is_dir():
            raise PromptError(f"--catalogs {d}: no such folder")
    return dirs


def print_warnings(warnings) -> None:
    for w in warnings:
        print(str(w) if not isinstance(w, str) else f"warning: {w}", file=sys.stderr)


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write all of ``data`` to ``path`` or nothing: a temp file beside it, then a rename."""
    path = Path(path)
    if path.is_dir():
        raise PromptError(f"--out {path}: is a folder")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise PromptError(f"--out {path}: the folder {folder} does not exist")
    from .files import atomic_path

    with atomic_path(folder / path.name) as tmp:
        Path(tmp).write_bytes(data)


def compile_args(args, path=None):
    from .compiler import compile_file
    return compile_file(path or args.file, search_dirs=search_dirs(args))


def selected(result, name):
    return [result.prompt(name)] if name else result.prompts


# ---------------------------------------------------------------- commands

def cmd_check(args) -> int:
    failed = 0
    for path in args.files:
        try:
            result = compile_args(args, path)
        except PromptError as exc:
            print(str(exc), file=sys.stderr)
            failed += 1
            continue
        print_warnings(result.warnings)
        if not args.quiet:
            n = len(result.prompts)
            print(f"ok: {path}: {n} prompt{'s' * (n != 1)}"
                  + (f", {len(result.warnings)} warning{'s' * (len(result.warnings) != 1)}" if result.warnings else ""))
    return 1 if failed else 0


def render_text(result, target: str, name: str | None) -> tuple[str, list]:
    """The whole output of `compile` for one file, and the targets' warnings."""
    from .targets import emit

    prompts = selected(result, name)
    warnings: list[str] = []
    if target == "json":
        import json
        from .ir import to_json
        return json.dumps([to_json(p) for p in prompts], ensure_ascii=False, indent=2) + "\n", warnings
    blocks = []
    for prompt in prompts:
        text = emit(target, prompt, warnings)
        blocks.append(text if name or len(result.prompts) == 1 else f"# {prompt.name}\n{text}")
    return "\n\n".join(blocks) + "\n", warnings


def cmd_compile(args) -> int:
    result = compile_args(args)
    text, warnings = render_text(result, args.target, args.prompt)
    print_warnings(result.warnings)
    print_warnings(warnings)
    if args.out:
        write_atomic(args.out, text.encode("utf-8"))
    else:
        sys.stdout.write(text)
    return 0


def prompt_files(paths) -> list[Path]:
    files = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(path.glob("*.prompt"))
            if not found:
                raise PromptError(f"{path}: no .prompt files in this folder")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise PromptError(f"{path}: no such file or folder")
    return files


def cmd_build(args) -> int:
    from .targets import NAMES

    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    for t in targets:
        if t not in NAMES:
            from .errors import suggest
            raise PromptError(f"--targets: unknown target `{t}`{suggest(t, NAMES)} (targets: {', '.join(NAMES)})")
    out = Path(args.out)
    files = prompt_files(args.paths)
    out.mkdir(parents=True, exist_ok=True)
    failed = 0
    pipes: dict = {}  # with --render: each model is loaded once for all the files
    for path in files:
        try:
            result = compile_args(args, path)
            texts = {t: render_text(result, t, None) for t in targets}  # all in memory before writing any
        except PromptError as exc:
            print(str(exc), file=sys.stderr)
            failed += 1
            continue
        print_warnings(result.warnings)
        for target, (text, warnings) in texts.items():
            print_warnings(warnings)
            write_atomic(out / f"{path.stem}.{target}", text.encode("utf-8"))
        print(f"{path}: {len(result.prompts)} prompts -> {out}/{path.stem}.{{{','.join(targets)}}}")
        if args.render:
            from .cli_render import parse_size, render_to_folder
            from .render import effective

            width, height = parse_size(args.size)
            prompts = [effective(p, model=args.render, steps=args.steps, width=width, height=height)
                       for p in result.prompts]
            render_to_folder(result, prompts, out / "renders" / path.stem, progress=False, overwrite=True,
                             pipes=pipes)
    print(f"built {len(files) - failed} of {len(files)} files into {out}/")
    return 1 if failed else 0


def cmd_tokens(args) -> int:
    from .lint import longest, side_texts
    from .tokens import CONTEXT

    result = compile_args(args)
    print_warnings(result.warnings)
    for prompt in selected(result, args.prompt):
        texts = side_texts(prompt)
        pos, neg = longest(texts["positive"]), longest(texts["negative"])
        flag = lambda n: f"  (over {CONTEXT}: {-(-n // CONTEXT)} chunks)" if n > CONTEXT else ""
        variants = len(texts["positive"])
        note = f"  (the longest of {variants} blend parts or edit stages)" if variants > 1 else ""
        print(f"{prompt.name}: positive {pos}/{CONTEXT}{flag(pos)}, negative {neg}/{CONTEXT}{flag(neg)}{note}")
        for slot, count in slot_tokens(result, prompt.name):
            print(f"  {slot:<9}{count:>4}")
    return 0


def slot_tokens(result, name: str):
    """Tokens each slot contributes, counted on that slot's words alone (subject inside a format counts once)."""
    from .resolve import slot_texts
    from .tokens import count_tokens

    for slot, text in slot_texts(result.file, result.scope, name).items():
        yield slot, count_tokens(text)


def cmd_catalog_list(args) -> int:
    from . import catalog

    seen = set()
    for folder in [*search_dirs(args), catalog.styles_dir()]:
        for path in sorted(Path(folder).glob("*.yaml")):
            if path.stem in seen:
                continue
            seen.add(path.stem)
            cat = catalog.load(path)
            counts = ", ".join(f"{len(cat.entries[s])} {s}" for s in catalog.SECTIONS)
            where = "bundled" if Path(folder) == catalog.styles_dir() else str(path)
            print(f"{path.stem:<16} {cat.version:<8} {counts}  ({where})")
            if cat.description:
                print(f"{'':<16} {cat.description}")
    return 0


def load_named_catalog(args, name: str):
    from . import catalog

    if name.endswith((".yaml", ".yml")) or os.sep in name:
        return catalog.load(name)
    path = catalog.find(name, search_dirs(args))
    if path is None:
        from .errors import suggest
        raise PromptError(f"no catalog named `{name}`{suggest(name, catalog.bundled_names())}",
                          hint="`promptlang catalog list` shows them")
    return catalog.load(path)


def cmd_catalog_show(args) -> int:
    from .catalog import SECTIONS

    cat = load_named_catalog(args, args.name)
    print(f"{cat.name} {cat.version}" + (f" — {cat.description}" if cat.description else ""))
    if cat.requires:
        print("requires: " + ", ".join(cat.requires))
    for section in [args.section] if args.section else SECTIONS:
        entries = cat.entries[section]
        print(f"\n{section} ({len(entries)})")
        width = max((len(k) for k in entries), default=0)
        for key, entry in entries.items():
            line = f"  {key:<{width}}  {entry.text}"
            if entry.weight != 1.0:
                line += f"  [weight {entry.weight:g}]"
            if entry.negative:
                line += f"  [negative: {entry.negative}]"
            print(line)
    return 0


def cmd_catalog_validate(args) -> int:
    from . import catalog, template

    failed = 0
    for path in args.files:
        try:
            cat = catalog.load(path)
            for section, entries in cat.entries.items():
                for key, entry in entries.items():
                    template.render(entry.text, f"{cat.path}: {section}.{key}", "a subject")
            n = sum(len(e) for e in cat.entries.values())
            print(f"ok: {path}: {cat.name} {cat.version}, {n} entries")
        except PromptError as exc:
            print(str(exc), file=sys.stderr)
            failed += 1
    return 1 if failed else 0
