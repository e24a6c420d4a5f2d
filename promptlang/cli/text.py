"""`promptlang check | compile | build | tokens`: the text commands (no torch)."""
from __future__ import annotations

import json as _json
import os
import sys
from pathlib import Path

import click

from ..errors import PromptError
from ..jobs import Event
from ..targets import NAMES
from . import Command, options
from .common import compile_path, selected, variation, write_atomic
from .report import Reporter


# --------------------------------------------------------------------------- check

@click.command(cls=Command, short_help="Check .prompt files.")
@click.argument("files", nargs=-1, required=True, metavar="FILE...", type=click.Path(dir_okay=False))
@options.quiet
@options.json
@options.catalogs
@click.option("--locked", is_flag=True,
              help="fail when a catalog in use differs from promptlang.lock (changed, another version, not in it)")
@options.variation()
def check(files, quiet, as_json, catalogs, locked, combinatorial, random_n, max_n, seed) -> int:
    """Check .prompt files: parse, resolve every catalog name, print warnings (prompts with
    choices are checked as they expand: every combination, at most --max, or --random N)."""
    report = Reporter(quiet=quiet)
    records = []
    for path in files:
        try:
            result = compile_path(path, catalogs, variation(combinatorial, random_n, seed, max_n))
            if locked:
                problems = _locked_problems(path, result.scope)
                if problems:
                    raise PromptError.several([PromptError(f"{path}: {p}", hint="if the change is meant, run "
                                                           "`promptlang lock --overwrite`") for p in problems])
        except PromptError as exc:
            if as_json:
                records.append({"path": path, "ok": False, "prompts": [], "warnings": [],
                                "error": _diagnostic(exc.message, exc.span, hint=exc.hint),
                                "errors": [_diagnostic(e.message, e.span, hint=e.hint) for e in exc.errors]})
            else:
                report.error(str(exc))
            continue
        if as_json:
            records.append({"path": path, "ok": True, "prompts": [p.name for p in result.prompts],
                            "warnings": [_diagnostic(w.message, w.span) for w in result.warnings], "error": None,
                            "errors": []})
            continue
        report.warnings(result.warnings)
        n, w = len(result.prompts), len(result.warnings)
        report(Event("info", f"ok: {path}: {n} prompt{'s' * (n != 1)}"
                             + (f", {w} warning{'s' * (w != 1)}" if w else "")))
    if as_json:
        sys.stdout.write(_json.dumps(records, ensure_ascii=False, indent=2) + "\n")
        return 1 if any(not r["ok"] for r in records) else 0
    return 1 if report.failures else 0


def _locked_problems(path: str, scope) -> list[str]:
    """Why the catalogs ``path`` uses differ from its project's promptlang.lock (`check --locked`)."""
    from .. import lock
    from ..resources import styles_dir

    root = lock.root_for(path)
    try:
        records = lock.read(root)
    except ValueError as exc:
        raise PromptError(f"{root / lock.FILE}: {exc}", hint="write it again with `promptlang lock --overwrite`") from None
    if records is None:
        raise PromptError(f"{path}: --locked: there is no {lock.FILE} in {root}", hint="write one with `promptlang lock`")
    return lock.mismatches(lock.entries(scope.catalogs, root, styles_dir()), records)


def _diagnostic(message, span, hint=None) -> dict:
    d = {"file": span.file if span else None, "line": span.line if span else None,
         "column": span.column if span else None, "message": message}
    if hint:
        d["hint"] = hint
    return d


# --------------------------------------------------------------------------- compile

def render_text(result, target: str, name: str | None) -> tuple[str, list]:
    """The whole output of `compile` for one file, and the targets' warnings."""
    from ..targets import emit

    prompts = selected(result, name)
    warnings: list[str] = []
    if target == "json":
        from ..ir import to_json
        return _json.dumps([to_json(p) for p in prompts], ensure_ascii=False, indent=2) + "\n", warnings
    blocks = []
    for prompt in prompts:
        text = emit(target, prompt, warnings)
        blocks.append(text if len(prompts) == 1 else f"# {prompt.name}\n{text}")
    return "\n\n".join(blocks) + "\n", warnings


def _same_file(a, b) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(a).resolve() == Path(b).resolve()


@click.command("compile", cls=Command, short_help="Compile a .prompt file to prompt text or JSON.")
@click.argument("file", type=click.Path(dir_okay=False))
@options.prompt("only this prompt (printed without a `# NAME` header)")
@click.option("-t", "--target", type=click.Choice(NAMES), default="compel", show_default=True, help="output syntax")
@options.out("FILE", "write to FILE (atomically) instead of standard output")
@options.overwrite
@options.variation()
@options.catalogs
def compile_(file, prompt, target, out, overwrite, combinatorial, random_n, max_n, seed, catalogs) -> int:
    """Compile a .prompt file to prompt text (compel, a1111, comfyui, midjourney, plain) or JSON."""
    if out is not None:
        if Path(out).exists() and _same_file(out, file):
            raise PromptError(f"--out {out}: is the input file; refusing to write over it")
        if not Path(out).is_dir():
            from ..jobs.common import check_free

            check_free([out], overwrite)
    from .common import print_warnings

    result = compile_path(file, catalogs, variation(combinatorial, random_n, seed, max_n), prompt)
    text, warnings = render_text(result, target, prompt)
    print_warnings(result.warnings)
    print_warnings(warnings)
    if out is not None:
        write_atomic(out, text.encode("utf-8"))
    else:
        sys.stdout.write(text)
    return 0


# --------------------------------------------------------------------------- build

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


@click.command(cls=Command, short_help="Compile .prompt files to every text target.")
@click.argument("paths", nargs=-1, required=True, metavar="FILE_OR_DIR...")
@options.out("DIR", "output folder (default: out)", default="out")
@click.option("--targets", type=options.CommaList(what="targets", choices=NAMES), default=",".join(NAMES),
              metavar="LIST", help=f"comma-separated targets (default: {','.join(NAMES)})")
@click.option("--render", metavar="MODEL",
              help="also render every prompt with MODEL into OUT/renders/FILE/ (builtin:tiny: a test model that "
                   "renders noise on any machine)")
@options.steps
@options.image_size
@options.engines
@click.option("--warnings", "list_warnings", is_flag=True,
              help="list every target warning (what a target cannot say), not just how many there are")
@options.overwrite
@options.resume
@options.quiet
@options.variation()
@options.catalogs
def build(paths, out, targets, render, steps, image_size, engine, address, workers, list_warnings, overwrite, resume,
          quiet, combinatorial, random_n, max_n, seed, catalogs) -> int:
    """Compile every .prompt file (or every one in a folder) to every text target, one file per
    target: OUT/NAME.TARGET. Existing outputs are refused unless --overwrite is given; all of
    them are checked before anything is written (--resume keeps outputs that are already what
    this build makes, and renders only the images still missing). A prompt that states no
    seed renders with one made from its file's and its own name, the same every build.
    Warnings about the prompts themselves always
    print; the targets' warnings (a weight plain text cannot write, a blend A1111 cannot
    express…) are counted per target, and listed with --warnings."""
    if render:
        from .common import quiet_libraries

        quiet_libraries()
    report = Reporter(quiet=quiet)
    from .common import backend as make_backend

    # with --render: one backend, so each model is loaded once (per worker) for all the files
    backend = make_backend(engine, address, workers, report=report)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise PromptError(f"--out {out} is a file, not a folder")
    files = prompt_files(paths)
    built = []  # (path, result, texts, render plan or None)
    planned: list[Path] = []
    for path in files:  # everything compiled and checked before anything is written
        try:
            result = compile_path(path, catalogs, variation(combinatorial, random_n, seed, max_n))
            texts = {t: render_text(result, t, None) for t in targets}
            renders = _render_plan(result, render, steps, image_size, out / "renders" / path.stem, resume)
        except PromptError as exc:
            report.error(str(exc))
            continue
        built.append((path, result, texts, renders))
        planned += [out / f"{path.stem}.{t}" for t in targets]
        if renders:
            planned += [f for f in renders.files if f not in renders.done]
    if resume:  # a text output that already holds what this build writes is not in the way
        planned = [p for p in planned if not _holds(p, built, out)]
    from ..jobs.common import check_free

    check_free(planned, overwrite, resumable=bool(render))
    out.mkdir(parents=True, exist_ok=True)
    lost: dict[str, int] = {}  # target -> warnings not listed
    for path, result, texts, renders in built:
        report.warnings(result.warnings)
        for target, (text, warnings) in texts.items():
            if list_warnings:
                report.warnings(warnings)
            elif warnings:
                lost[target] = lost.get(target, 0) + len(warnings)
            write_atomic(out / f"{path.stem}.{target}", text.encode("utf-8"))
        report(Event("info", f"{path}: {len(result.prompts)} prompts -> {out}/{path.stem}.{{{','.join(targets)}}}"))
        if renders:
            from ..jobs import render as job

            job.run(renders, backend=backend, report=report)
    backend.close()  # (after an error, Ray stops its workers itself when this process exits)
    report.close()
    report(Event("info", f"built {len(built)} of {len(files)} files into {out}/"))
    if lost:
        counts = ", ".join(f"{n} {target}" for target, n in lost.items())
        report(Event("note", f"{sum(lost.values())} target warnings ({counts}): what those targets cannot say "
                             "exactly (weights plain text drops, blends and edits some tools lack); "
                             "--warnings lists them"))
    return 1 if report.failures else 0


def _render_plan(result, model, steps, image_size, folder: Path, resume: bool = False):
    """What `build --render` renders for one file (checked, nothing rendered); None without
    --render. Files in the way are checked by `build` itself, with the text outputs."""
    if not model:
        return None
    from ..jobs import render as job

    width, height = image_size or (None, None)
    return job.plan(result.prompts, folder, source=job.Source.of(result), overwrite=True, resume=resume,
                    stable_seeds=True, model=model, steps=steps, width=width, height=height)


def _holds(path: Path, built, out: Path) -> bool:
    """True when ``path`` is a text output of this build and already holds exactly its text."""
    for source, _, texts, _ in built:
        for target, (text, _) in texts.items():
            if path == out / f"{source.stem}.{target}":
                try:
                    return path.is_file() and path.read_bytes() == text.encode("utf-8")
                except OSError:
                    return False
    return False


# --------------------------------------------------------------------------- tokens

@click.command(cls=Command, short_help="Count CLIP tokens per prompt and per slot.")
@click.argument("file", type=click.Path(dir_okay=False))
@options.prompt()
@options.json
@options.variation()
@options.catalogs
def tokens(file, prompt, as_json, catalogs, combinatorial, random_n, max_n, seed) -> int:
    """Count CLIP tokens per prompt and per slot (CLIP reads 75 at a time)."""
    from ..lint import longest, side_texts
    from ..tokens import CONTEXT
    from .common import print_warnings

    result = compile_path(file, catalogs, variation(combinatorial, random_n, seed, max_n), prompt)
    print_warnings(result.warnings)
    records = []
    for p in selected(result, prompt):
        texts = side_texts(p)
        pos, neg = longest(texts["positive"]), longest(texts["negative"])
        variants = len(texts["positive"])
        slots = dict(slot_tokens(result, p.origin.prompt if p.origin else p.name))  # of choices: the longest
        if as_json:
            records.append({"prompt": p.name, "positive": pos, "negative": neg, "context": CONTEXT,
                            "variants": variants, "slots": slots})
            continue
        flag = lambda n: f"  (over {CONTEXT}: {-(-n // CONTEXT)} chunks)" if n > CONTEXT else ""
        note = f"  (the longest of {variants} blend parts or edit stages)" if variants > 1 else ""
        print(f"{p.name}: positive {pos}/{CONTEXT}{flag(pos)}, negative {neg}/{CONTEXT}{flag(neg)}{note}")
        for slot, count in slots.items():
            print(f"  {slot:<9}{count:>4}")
    if as_json:
        sys.stdout.write(_json.dumps(records, ensure_ascii=False, indent=2) + "\n")
    return 0


def slot_tokens(result, name: str):
    """Tokens each slot contributes, counted on that slot's words alone (subject inside a format counts once)."""
    from ..resolve import slot_texts
    from ..tokens import count_tokens

    for slot, text in slot_texts(result.file, result.scope, name).items():
        yield slot, count_tokens(text)
