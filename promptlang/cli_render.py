"""`promptlang embed | render | show | reproduce`: the commands that need torch."""
from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

from .errors import PromptError

# The command line is for people: keep library chatter (transformers' torchvision notice,
# diffusers' dtype notes) out of it unless they ask for it with these variables.
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")

TEST_MODEL_NOTE = ("{model} is a tiny random-weight test model: it renders noise, in about a second on a CPU. "
                   "It proves the whole path works; give a real model with --model or `model` in the file.")


def add_commands(command, catalogs_option) -> None:
    p = command("embed", "Compile prompts to Compel-weighted embeddings (.safetensors).", cmd_embed)
    p.add_argument("file", metavar="FILE")
    p.add_argument("--prompt", "-p", metavar="NAME", help="only this prompt; -o is then the file to write")
    p.add_argument("--model", "-m", metavar="MODEL", help="model id, folder, .safetensors file or builtin:tiny "
                                                          "(default: the file's `model`)")
    p.add_argument("--out", "-o", metavar="PATH", required=True,
                   help="with --prompt: OUT.safetensors; without: a folder that gets NAME.safetensors per prompt")
    p.add_argument("--device", choices=("cuda", "cpu"), help="default: cuda when there is one")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the embeddings cache")
    catalogs_option(p)

    p = command("render", "Render prompts to PNG images that carry their provenance.", cmd_render)
    p.add_argument("file", metavar="FILE")
    p.add_argument("--prompt", "-p", metavar="NAME", help="only this prompt")
    p.add_argument("--model", "-m", metavar="MODEL",
                   help="model id in the local Hugging Face cache, a diffusers folder, a .safetensors checkpoint, "
                        "or builtin:tiny / builtin:tiny-sdxl (test models); default: the file's `model`")
    p.add_argument("--out", "-o", metavar="DIR", default="renders", help="output folder (default: renders)")
    p.add_argument("--images", "-n", type=int, metavar="N", help="images per prompt (image i uses seed+i)")
    p.add_argument("--seed", type=int, metavar="S")
    p.add_argument("--steps", type=int, metavar="N")
    p.add_argument("--guidance", type=float, metavar="X")
    p.add_argument("--scheduler", metavar="NAME", help="e.g. euler_a, dpmpp_2m_karras, \"DPM++ 2M Karras\"")
    p.add_argument("--size", metavar="WxH", help="override the size, e.g. 512x512")
    p.add_argument("--device", choices=("cuda", "cpu"), help="default: cuda when there is one")
    p.add_argument("--batch", type=int, default=1, metavar="N",
                   help="images per pipeline call (faster on a GPU; 1 keeps each image identical to a single render)")
    p.add_argument("--overwrite", action="store_true", help="replace PNGs that already exist")
    p.add_argument("--fast", action="store_true",
                   help="SDPA attention, fused QKV, channels-last and (on CUDA) torch.compile of the UNet; "
                        "the first image pays the compile time")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the embeddings cache")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    catalogs_option(p)

    p = command("show", "Print the provenance a promptlang PNG carries: a render, a walk frame or grid tile, "
                        "or a sheet.", cmd_show)
    p.add_argument("image", metavar="IMAGE.png")
    p.add_argument("--json", action="store_true",
                   help="the whole promptlang record as JSON (a walk frame's `promptlang-walk` record, a sheet's "
                        "`promptlang-sheet` record)")

    p = command("reproduce", "Render an image (a render, a sheet tile, any walk frame or grid tile) again "
                             "from the provenance in its PNG.", cmd_reproduce)
    p.add_argument("image", metavar="IMAGE.png")
    p.add_argument("--out", "-o", metavar="DIR", default="reproduced", help="output folder (default: reproduced)")
    p.add_argument("--model", "-m", metavar="MODEL", help="use another copy of the model (default: as recorded)")
    p.add_argument("--device", choices=("cuda", "cpu"))
    p.add_argument("--overwrite", action="store_true", help="replace the PNG if it already exists")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


def _compile(args):
    from .cli import compile_args, print_warnings

    result = compile_args(args)
    print_warnings(result.warnings)
    return result


def _selected(result, name):
    return [result.prompt(name)] if name else list(result.prompts)


def source_hash(result) -> str:
    h = hashlib.sha256(result.file.source.encode("utf-8"))
    for cat in result.scope.catalogs:
        h.update(f"\0{cat.name}\0{cat.version}\0{cat.sha256}".encode())
    return h.hexdigest()


def _note_test_model(model: str | None) -> None:
    from .models import BUILTIN

    if model in BUILTIN:
        print("note: " + TEST_MODEL_NOTE.format(model=model), file=sys.stderr)


def cache_dir(args):
    from .encode import default_cache_dir

    return None if args.no_cache else default_cache_dir()


def cmd_embed(args) -> int:
    from .encode import encode
    from .models import load_pipeline
    from .render import default_device

    result = _compile(args)
    prompts = _selected(result, args.prompt)
    out = Path(args.out)
    if args.prompt:
        if out.is_dir():
            raise PromptError(f"--out {out} is a folder; with --prompt give the file to write (NAME.safetensors)")
        paths = [out]
    else:
        if out.suffix == ".safetensors":
            raise PromptError(f"--out {out}: without --prompt every prompt gets its own file, so give a folder",
                              hint="or pick one prompt with --prompt NAME")
        paths = [out / f"{p.name}.safetensors" for p in prompts]
    models = {p.name: args.model or p.settings.model for p in prompts}
    for prompt in prompts:
        if not models[prompt.name]:
            raise PromptError(f"prompt `{prompt.name}` names no model: give --model or `model \"…\"` in the file",
                              hint="`--model builtin:tiny` works on any machine (a random-weight test model)")
    if out.exists() and not out.is_dir() and not args.prompt:
        raise PromptError(f"--out {out} is a file; without --prompt give a folder")
    digest = source_hash(result)
    for model in dict.fromkeys(models.values()):  # one pipeline per model, in file order
        group = [(p, path) for p, path in zip(prompts, paths) if models[p.name] == model]
        _note_test_model(model)
        pipe = load_pipeline(model, args.device or default_device())
        tensors = encode([p for p, _ in group], pipe, cache_dir=cache_dir(args))
        for (prompt, path), t in zip(group, tensors):
            _save_one(prompt, path, t, model, digest, result)
    return 0


def _save_one(prompt, path: Path, t: dict, model: str, digest: str, result) -> None:
    from . import __version__
    from .encode import save_embeddings
    from .targets import compel

    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"promptlang_version": __version__, "model": model, "prompt": prompt.name,
            "compel": compel.emit(prompt), "source_sha256": digest, "source": result.file.path}
    if len(prompt.segments) > 1:  # the tensors of segment k are named stage{k}.…; it starts at this fraction
        meta["stages"] = json.dumps([segment.start for segment in prompt.segments[1:]])
    save_embeddings(path, t, meta)
    print(f"{path}: {', '.join(f'{k} {tuple(v.shape)}' for k, v in t.items())}")


def parse_size(text: str | None, flag: str = "--size"):
    if text is None:
        return None, None
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise PromptError(f"{flag} {text}: expected WIDTHxHEIGHT, such as 768x512") from None
    return w, h


def check_free(paths, overwrite: bool) -> None:
    """Refuse, before anything renders, to replace files unless --overwrite says so."""
    existing = [str(p) for p in paths if Path(p).exists()]
    if existing and not overwrite:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise PromptError(f"{existing[0]} already exists{more}",
                          hint="pass --overwrite to replace, or choose another output with -o")


def _targets(prompts, out: Path, overwrite: bool):
    """Every file a render will write, checked before anything is rendered."""
    from .render import Rendered

    if out.exists() and not out.is_dir():
        raise PromptError(f"--out {out} is a file, not a folder")
    names = []
    for p in prompts:
        for i in range(p.settings.images):
            names.append(out / Rendered(None, p, p.settings.seed + i, i, p.settings.model, False).filename)
    check_free(names, overwrite)
    return names


def cmd_render(args) -> int:
    from .render import effective

    result = _compile(args)
    width, height = parse_size(args.size)
    prompts = [effective(p, model=args.model, images=args.images, seed=args.seed, steps=args.steps,
                         guidance=args.guidance, scheduler=args.scheduler, width=width, height=height)
               for p in _selected(result, args.prompt)]
    if args.batch < 1:
        raise PromptError("--batch must be at least 1")
    written = render_to_folder(result, prompts, Path(args.out), device=args.device, batch=args.batch,
                               progress=not args.quiet, cache_dir=cache_dir(args), overwrite=args.overwrite,
                               fast=args.fast)
    print(f"rendered {len(written)} image{'s' * (len(written) != 1)} into {args.out}/")
    return 0


def render_to_folder(result, prompts, out: Path, *, device=None, batch=1, progress=True, cache_dir=None,
                     overwrite=False, fast=False, pipes=None) -> list[Path]:
    """Render (effective) prompts of a compiled file into ``out``, saving each PNG as it is done."""
    from .render import render, save_png

    _targets(prompts, out, overwrite)
    for model in sorted({p.settings.model for p in prompts}):
        _note_test_model(model)
    written = []

    def save(done):
        out.mkdir(parents=True, exist_ok=True)  # only once there is an image: a failed run leaves no folder
        path = save_png(done, out / done.filename, source=result.file.source, source_path=result.file.path,
                        catalogs=result.scope.catalogs)
        written.append(path)
        print(f"{path}  (seed {done.seed}, {done.prompt.settings.width}x{done.prompt.settings.height}, "
              f"{done.prompt.settings.steps} steps)")

    render(prompts, device=device, batch_size=batch, progress=progress, cache_dir=cache_dir, on_image=save,
           fast=fast, pipes=pipes)
    return written


def _printable(text) -> str:
    """Text from a PNG is untrusted: no terminal escape sequences reach the screen."""
    return "".join(c if c.isprintable() or c in "\n\t" else f"\\x{ord(c):02x}" for c in str(text))


def _chunks(path) -> dict:
    """The PNG's text chunks; an image with none of promptlang's fails as before (no provenance)."""
    from . import latent, sheet
    from .provenance import CHUNK, png_text, read

    text = png_text(path)
    if not {CHUNK, latent.CHUNK, sheet.CHUNK} & set(text):
        read(path)  # raises: "has no promptlang provenance"
    return text


def _damaged(path, chunk, exc) -> PromptError:
    return PromptError(_printable(f"{path}: its `{chunk}` chunk is damaged ({type(exc).__name__}: {exc})"))


def cmd_show(args) -> int:
    """Three kinds of PNG: a render (also a walk's endpoint frames and a sheet's tiles, which
    say where they sit), a walk frame or grid tile between the endpoints (a `promptlang-walk`
    record only), and a sheet, contact sheet or grid image (a `promptlang-sheet` record)."""
    from . import latent, sheet
    from .provenance import CHUNK

    text = _chunks(args.image)
    if CHUNK in text:
        return _show_render(args, text)
    if latent.CHUNK in text:
        from .cli_latent import describe_frame

        record = latent.read_record(args.image)
        if args.json:
            return _show_json(record)
        try:
            lines = describe_frame(record)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise _damaged(args.image, latent.CHUNK, exc) from None
    else:
        record = sheet.read_record(args.image)
        if args.json:
            return _show_json(record)
        try:
            lines = _describe_sheet(args.image, record)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise _damaged(args.image, sheet.CHUNK, exc) from None
    for line in lines:  # every line shown here comes from the PNG
        print(_printable(line))
    return 0


def _show_json(record) -> int:
    sys.stdout.write(json.dumps(record, ensure_ascii=False, indent=2) + "\n")  # JSON escapes control characters
    return 0


def _show_render(args, text) -> int:
    from . import latent, sheet
    from .provenance import read

    info, parameters = read(args.image)

    def show(text: str) -> None:  # every line shown here comes from the PNG
        print(_printable(text))

    if args.json:  # JSON escapes control characters itself
        return _show_json(info)
    from . import ir
    from .targets import compel

    prompt = ir.from_json(info["ir"])
    p = prompt.settings
    show(f"prompt:    {info['prompt']}" + (f"  (from {info['source_path']})" if info.get("source_path") else ""))
    show(f"model:     {info['model']}" + ("  (random-weight test model)" if info.get("test_model") else ""))
    show(f"seed:      {info['seed']}   size: {p.width}x{p.height}   steps: {p.steps}   guidance: {p.guidance:g}"
          f"   scheduler: {p.scheduler or 'model default'}")
    if latent.CHUNK in text:  # a walk's endpoint frame, or a grid's corner
        from .cli_latent import position_line

        try:
            record = latent.read_record(args.image)
            show(f"{record['kind']}:{' ' * (10 - len(record['kind']))}{position_line(record, info['prompt'])}")
        except PromptError as exc:
            show(f"walk:      {exc.message}")
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            show(f"walk:      {_damaged(args.image, latent.CHUNK, exc).message}")
    if sheet.CHUNK in text:  # a tile of `promptlang sheet`
        try:
            tile = sheet.read_record(args.image)
            show(f"sheet:     row {tile['row']} ({tile['row_label']}), column {tile['col']} ({tile['col_label']}) "
                 f"of {tile['sheet']}")
        except PromptError as exc:
            show(f"sheet:     {exc.message}")
        except (KeyError, TypeError) as exc:
            show(f"sheet:     {_damaged(args.image, sheet.CHUNK, exc).message}")
    show("compel:    " + compel.emit(prompt).replace("\n", "\n           "))
    if len(prompt.segments) > 1:  # the compel line above is only the longest segment
        for i, stage in enumerate(prompt.segments):
            blend = f" (blend of {len(stage.positive.parts)} parts)" if isinstance(stage.positive, ir.Blend) else ""
            show(f"{'stages:' if i == 0 else '':<11}from {stage.start:.0%} of the steps: "
                 f"{ir.join_text(ir.flat(stage.positive))}{blend}")
    for cat in info.get("catalogs", []):
        show(f"catalog:   {cat['name']} {cat['version']}  sha256 {cat['sha256'][:16]}…")
    versions = ", ".join(f"{k} {v}" for k, v in info.get("versions", {}).items() if v)
    show(f"versions:  {versions}")
    if parameters:
        show("parameters (AUTOMATIC1111):\n  " + parameters.replace("\n", "\n  "))
    if info.get("source"):
        show("source:\n  " + info["source"].rstrip("\n").replace("\n", "\n  "))
    return 0


def _sheet_what(record) -> str:
    names = record.get("endpoints") or []
    if record.get("kind") == "walk":
        return f"the contact sheet of a walk from `{names[0]}` to `{names[1]}`"
    if record.get("kind") == "grid":
        return f"the labelled image of a grid between `{'`, `'.join(names)}`"
    return "a sheet"


def _sheet_tiles(path, record) -> list[str]:
    """The tile files a sheet names, as paths next to it."""
    folder = Path(path).parent
    return [str(folder / (t["file"] if isinstance(t, dict) else t)) for t in record.get("tiles") or []]


def _describe_sheet(path, record) -> list[str]:
    lay = record["layout"]
    rows, cols = lay["rows"], lay["cols"]
    lines = [f"sheet:     {_sheet_what(record)}: {rows} row{'s' * (rows != 1)} x {cols} column{'s' * (cols != 1)} of "
             f"{lay['tile'][0]}x{lay['tile'][1]} tiles"
             + (f"  (from {record['source_path']})" if record.get("source_path") else "")]
    if record.get("row_labels"):
        lines.append("rows:      " + " | ".join(map(str, record["row_labels"])))
    if record.get("col_labels"):
        lines.append("columns:   " + " | ".join(map(str, record["col_labels"])))
    if record.get("seeds"):
        lines.append("seeds:     " + ", ".join(map(str, record["seeds"])))
    if record.get("model"):
        lines.append(f"model:     {record['model']}")
    for i, (tile, file) in enumerate(zip(record.get("tiles") or [], _sheet_tiles(path, record))):
        about = f"  ({tile['prompt']}, seed {tile['seed']}, {tile['model']})" if isinstance(tile, dict) else ""
        lines.append(f"{'tiles:' if i == 0 else '':<11}{file}{about}")
    lines.append("each tile carries its own provenance: `promptlang show TILE`, `promptlang reproduce TILE`")
    return lines


def cmd_reproduce(args) -> int:
    from dataclasses import replace

    from . import ir, latent, sheet
    from .provenance import CHUNK, read
    from .render import render, save_png

    text = _chunks(args.image)
    if CHUNK not in text and latent.CHUNK in text:  # a frame between a walk's endpoints, or a grid's inner tile
        from .cli_latent import cmd_reproduce_frame

        return cmd_reproduce_frame(args)
    if CHUNK not in text:
        record = sheet.read_record(args.image)
        try:
            tiles = _sheet_tiles(args.image, record)
            what = _sheet_what(record)
        except (KeyError, TypeError, IndexError, AttributeError) as exc:
            raise _damaged(args.image, sheet.CHUNK, exc) from None
        example = f", such as {tiles[0]}" if tiles else ""
        raise PromptError(_printable(f"{args.image}: is {what}, laid out from {len(tiles)} tiles, not one render: "
                                     f"reproduce one of its tiles{example}"))
    info, _ = read(args.image)
    prompt = ir.from_json(info["ir"])
    model = args.model or info["model"]
    prompt = replace(prompt, settings=replace(prompt.settings, seed=int(info["seed"]), images=1, model=model))
    out = Path(args.out)
    (target,) = _targets([prompt], out, args.overwrite)
    _note_test_model(model)
    if int(info.get("batch", 1)) > 1 or info.get("fast"):
        print(f"note: {args.image} was rendered {'in a batch of ' + str(info['batch']) if info.get('batch', 1) > 1 else 'in fast mode'}; "
              "re-rendered alone its pixels may differ in the last bit", file=sys.stderr)
    (done,) = render(prompt, device=args.device, progress=not args.quiet)
    out.mkdir(parents=True, exist_ok=True)
    done.index = int(info.get("index", 0))
    save_png(done, target, source=info.get("source"), source_path=info.get("source_path"))
    print(f"{target}  (seed {done.seed}, reproduced from {args.image})")
    return 0
