"""`promptlang show | reproduce`: what a promptlang PNG says, and rendering it again.

Three kinds of PNG: a render (also a walk's endpoint frames and a sheet's tiles, which say
where they sit), a walk frame or grid tile between the endpoints (a `promptlang-walk`
record only), and a sheet, contact sheet or grid image (a `promptlang-sheet` record).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..errors import PromptError
from . import Command, options
from .common import check_free, note_test_model, quiet_libraries


def _printable(text) -> str:
    """Text from a PNG is untrusted: no terminal escape sequences reach the screen."""
    return "".join(c if c.isprintable() or c in "\n\t" else f"\\x{ord(c):02x}" for c in str(text))


def _chunks(path) -> dict:
    """The PNG's text chunks; an image with none of promptlang's fails as before (no provenance)."""
    from .. import latent, sheet
    from ..provenance import CHUNK, png_text, read

    text = png_text(path)
    if not {CHUNK, latent.CHUNK, sheet.CHUNK} & set(text):
        read(path)  # raises: "has no promptlang provenance"
    return text


def _damaged(path, chunk, exc) -> PromptError:
    return PromptError(_printable(f"{path}: its `{chunk}` chunk is damaged ({type(exc).__name__}: {exc})"))


@click.command(cls=Command, short_help="Print the provenance a promptlang PNG carries.")
@click.argument("image", metavar="IMAGE.png", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True,
              help="the whole promptlang record as JSON (a walk frame's `promptlang-walk` record, a sheet's "
                   "`promptlang-sheet` record)")
def show(image, as_json) -> int:
    """Print the provenance a promptlang PNG carries: a render, a walk frame or grid tile, or a sheet."""

    from .. import latent, sheet
    from ..provenance import CHUNK

    text = _chunks(image)
    if CHUNK in text:
        return _show_render(image, as_json, text)
    if latent.CHUNK in text:
        record = latent.read_record(image)
        if as_json:
            return _show_json(record)
        try:
            lines = describe_frame(record)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise _damaged(image, latent.CHUNK, exc) from None
    else:
        record = sheet.read_record(image)
        if as_json:
            return _show_json(record)
        try:
            lines = _describe_sheet(image, record)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise _damaged(image, sheet.CHUNK, exc) from None
    for line in lines:  # every line shown here comes from the PNG
        print(_printable(line))
    return 0


def _show_json(record) -> int:
    sys.stdout.write(json.dumps(record, ensure_ascii=False, indent=2) + "\n")  # JSON escapes control characters
    return 0


def _show_render(image, as_json, text) -> int:
    from .. import latent, sheet
    from ..provenance import read

    info, parameters = read(image)

    def show(text: str) -> None:  # every line shown here comes from the PNG
        print(_printable(text))

    if as_json:  # JSON escapes control characters itself
        return _show_json(info)
    from .. import ir
    from ..targets import compel

    prompt = ir.from_json(info["ir"])
    p = prompt.settings
    show(f"prompt:    {info['prompt']}" + (f"  (from {info['source_path']})" if info.get("source_path") else ""))
    show(f"model:     {info['model']}" + ("  (random-weight test model)" if info.get("test_model") else ""))
    show(f"seed:      {info['seed']}   size: {p.width}x{p.height}   steps: {p.steps}   guidance: {p.guidance:g}"
          f"   scheduler: {p.scheduler or 'model default'}")
    if latent.CHUNK in text:  # a walk's endpoint frame, or a grid's corner
        try:
            record = latent.read_record(image)
            show(f"{record['kind']}:{' ' * (10 - len(record['kind']))}{position_line(record, info['prompt'])}")
        except PromptError as exc:
            show(f"walk:      {exc.message}")
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            show(f"walk:      {_damaged(image, latent.CHUNK, exc).message}")
    if sheet.CHUNK in text:  # a tile of `promptlang sheet`
        try:
            tile = sheet.read_record(image)
            show(f"sheet:     row {tile['row']} ({tile['row_label']}), column {tile['col']} ({tile['col_label']}) "
                 f"of {tile['sheet']}")
        except PromptError as exc:
            show(f"sheet:     {exc.message}")
        except (KeyError, TypeError) as exc:
            show(f"sheet:     {_damaged(image, sheet.CHUNK, exc).message}")
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


@click.command(cls=Command, short_help="Render an image again from the provenance in its PNG.")
@click.argument("image", metavar="IMAGE.png", type=click.Path(dir_okay=False))
@options.out("DIR", "output folder (default: reproduced)", default="reproduced")
@options.model("use another copy of the model (default: as recorded)")
@options.device
@options.overwrite
@options.quiet
def reproduce(image, out, model, device, overwrite, quiet) -> int:
    """Render an image (a render, a sheet tile, any walk frame or grid tile) again from the
    provenance in its PNG."""
    quiet_libraries()
    from dataclasses import replace

    from .. import ir, latent, sheet
    from ..provenance import CHUNK, read
    from ..render import render, save_png
    from .render import planned_pngs

    text = _chunks(image)
    if CHUNK not in text and latent.CHUNK in text:  # a frame between a walk's endpoints, or a grid's inner tile
        return reproduce_frame(image, out, model, device, overwrite)
    if CHUNK not in text:
        record = sheet.read_record(image)
        try:
            tiles = _sheet_tiles(image, record)
            what = _sheet_what(record)
        except (KeyError, TypeError, IndexError, AttributeError) as exc:
            raise _damaged(image, sheet.CHUNK, exc) from None
        example = f", such as {tiles[0]}" if tiles else ""
        raise PromptError(_printable(f"{image}: is {what}, laid out from {len(tiles)} tiles, not one render: "
                                     f"reproduce one of its tiles{example}"))
    info, _ = read(image)
    prompt = ir.from_json(info["ir"])
    model = model or info["model"]
    prompt = replace(prompt, settings=replace(prompt.settings, seed=int(info["seed"]), images=1, model=model))
    out = Path(out)
    (target,) = planned_pngs([prompt], out, overwrite)
    note_test_model(model)
    if int(info.get("batch", 1)) > 1 or info.get("fast"):
        print(f"note: {image} was rendered {'in a batch of ' + str(info['batch']) if info.get('batch', 1) > 1 else 'in fast mode'}; "
              "re-rendered alone its pixels may differ in the last bit", file=sys.stderr)
    (done,) = render(prompt, device=device, progress=not quiet)
    out.mkdir(parents=True, exist_ok=True)
    done.index = int(info.get("index", 0))
    save_png(done, target, source=info.get("source"), source_path=info.get("source_path"))
    print(f"{target}  (seed {done.seed}, reproduced from {image})")
    return 0


# --------------------------------------------------------------------------- walk frames and grid tiles

def _where(record) -> str:
    if record["kind"] == "grid":
        return f"u={record['u']:.3f} v={record['v']:.3f}"
    return f"t={record['t']:.3f}"


def position_line(record, name: str | None = None) -> str:
    """Where a frame sits: ``frame 1 (t=0.500) of 3 frames, from `a` to `b``` or a grid's tile."""
    names = [e["name"] for e in record["endpoints"]]
    if record["kind"] == "grid":
        k = record["grid"]
        text = (f"tile row {record['row']}, column {record['col']} ({_where(record)}) of a {k}x{k} grid "
                f"with corners `{names[0]}` (top left), `{names[1]}` (top right), `{names[2]}` (bottom left), "
                f"`{names[3]}` (bottom right)")
    else:
        text = (f"frame {record['frame']} ({_where(record)}) of {record['frames']} frames, "
                f"from `{names[0]}` to `{names[1]}`")
    return text + (f"; this frame is exactly `{name}`'s render" if name else "")


def describe_frame(record) -> list[str]:
    """``promptlang show`` for a walk frame or grid tile: what it mixes and how to render it again."""
    from ..latent import _shares, endpoints
    from ..targets import compel

    prompts = endpoints(record)
    u, v = (record["u"], record["v"]) if record["kind"] == "grid" else (record["t"], 0.0)
    shares = _shares(list(range(len(prompts))), u, v)  # per endpoint, even when two share a name
    corners = record.get("corners") or []
    label = max(len(p.name) for p in prompts)
    where = max((len(str(c)) for c in corners), default=0) + 2
    digits = max(len(str(p.settings.seed)) for p in prompts)
    lines = [f"{record['kind']}:{' ' * (10 - len(record['kind']))}{position_line(record)}"
             + (f"  (from {record['source_path']})" if record.get("source_path") else "")]
    for i, prompt in enumerate(prompts):
        corner = f"({corners[i]})" if i < len(corners) else ""
        lines.append(f"{'prompts:' if i == 0 else '':<11}{prompt.name:<{label}}  {corner:<{where}} "
                     f"seed {prompt.settings.seed:<{digits}}  share {shares[i] * 100:.4g}%")
    p = prompts[0].settings
    lines.append(f"model:     {record['model']}" + ("  (random-weight test model)" if record.get("test_model") else ""))
    lines.append(f"settings:  size: {p.width}x{p.height}   steps: {p.steps}   guidance: {p.guidance:g}   "
                 f"scheduler: {p.scheduler or 'model default'}   (`{prompts[0].name}`'s, for every frame)")
    lines.append(f"mixing:    embeddings: {record.get('embeddings', 'lerp')}; noise: {record.get('noise', 'slerp')}")
    for i, prompt in enumerate(prompts):
        indent = " " * (11 + label + 2)
        text = compel.emit(prompt).replace("\n", "\n" + indent)
        lines.append(f"{'compel:' if i == 0 else '':<11}{prompt.name + ':':<{label + 2}}{text}")
    for cat in record.get("catalogs") or []:
        lines.append(f"catalog:   {cat['name']} {cat['version']}  sha256 {str(cat['sha256'])[:16]}…")
    versions = ", ".join(f"{k} {v}" for k, v in (record.get("versions") or {}).items() if v)
    lines.append(f"versions:  {versions}")
    if record.get("source"):
        lines.append("source:\n  " + record["source"].rstrip("\n").replace("\n", "\n  "))
    return lines


def reproduce_frame(image, out, model, device, overwrite) -> int:
    """``promptlang reproduce`` for a walk frame or grid tile that is not exactly an endpoint."""
    from ..latent import read_record, reproduce, save_record
    from ..models import is_test_model, load_pipeline
    from ..render import default_device
    from .walk import frame_file

    record = read_record(image)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise PromptError(f"--out {out} is a file, not a folder")
    count = record["grid"] if record["kind"] == "grid" else record["frames"]
    target = frame_file(out, record["kind"], [e["name"] for e in record["endpoints"]], count, record["frame"])
    check_free([target], overwrite)
    model = model or record["model"]
    note_test_model(model)
    pipe = load_pipeline(model, device or default_device())
    pixels = reproduce(image, pipe=pipe)
    out.mkdir(parents=True, exist_ok=True)  # only once there is an image: a failed run leaves no folder
    save_record(pixels, dict(record, model=model, test_model=is_test_model(pipe)), target)
    print(f"{target}  ({record['kind']} frame {record['frame']}, {_where(record)}, reproduced from {image})")
    return 0
