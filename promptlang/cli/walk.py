"""`promptlang walk | sheet`: latent walks, bilinear grids and comparison sheets.

Everything the command line can get wrong (prompt names, sizes, --vary values, files
that already exist) is checked before anything renders, and every file is written
atomically, so an error leaves nothing behind.
"""
from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import click

from ..errors import PromptError
from ..jobs import Event
from . import Command, options
from .common import cache_dir, check_free, compile_and_warn, note_test_model, quiet_libraries
from .report import Reporter


# --------------------------------------------------------------------------- walk

@click.command(cls=Command, short_help="Walk latent space between two prompts, or a grid between four.")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--from", "start", metavar="A", help="the prompt at frame 0")
@click.option("--to", "end", metavar="B", help="the prompt at the last frame")
@click.option("--frames", type=options.FRAMES, metavar="N", help="frames in a walk, endpoints included (default 8)")
@click.option("--grid", nargs=4, metavar="A B C D",
              help="a grid with A top-left, B top-right, C bottom-left, D bottom-right")
@click.option("--tiles", type=options.TILES, metavar="K", help="with --grid: tiles per side (default 3)")
@options.out("DIR", "output folder (default: walks)", default="walks")
@options.model("model (default: the first prompt's `model`); builtin:tiny is a test model that renders noise")
@options.steps
@options.image_size
@click.option("--animation", type=click.Choice(["gif", "webp"]), default="gif", show_default=True,
              help="format of a walk's animation")
@options.device
@options.overwrite
@options.no_cache
@options.quiet
@options.catalogs
def walk(file, catalogs, device, no_cache, quiet, overwrite, **kwargs) -> int:
    """Walk latent space between two prompts (--from A --to B --frames N), or render a bilinear
    grid between four (--grid A B C D --tiles K). The image size is --image-size WxH."""
    quiet_libraries()
    args = SimpleNamespace(**kwargs)
    report = Reporter(quiet=quiet)
    from ..latent import grid_frames, save_frame, walk_frames
    from ..models import load_pipeline
    from ..render import default_device

    result = compile_and_warn(file, catalogs)
    kind, prompts, count, files = walk_plan(args, result)
    check_free(files, overwrite)
    model = prompts[0].settings.model
    note_test_model(model)
    pipe = load_pipeline(model, device or default_device())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tiles = files[:count * count] if kind == "grid" else files[:count]
    done = []

    def save(frame):
        path = save_frame(frame, tiles[frame.index], source=result.file.source, source_path=result.file.path,
                          catalogs=result.scope.catalogs)
        where = f"t={frame.t:.3f}" if kind == "walk" else f"u={frame.u:.3f} v={frame.v:.3f}"
        done.append(path)
        report(Event("file", f"{path}  ({where})", path=path))
        report(Event("progress", task=kind, done=len(done), total=len(tiles)))

    warnings: list = []
    frames = (walk_frames if kind == "walk" else grid_frames)(pipe, *prompts, count, cache_dir=cache_dir(no_cache),
                                                              on_frame=save, warnings=warnings)
    report.close()
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    write_walk_sheets(kind, prompts, frames, count, files, tiles, model, result)
    return 0


def walk_plan(args, result):
    """Business logic that belongs in jobs/ (walk/grid plan). Check the arguments and return ``(kind, prompts, count, files)``; nothing rendered or written."""
    from ..latent import check_walkable
    from ..render import effective

    if args.grid and (args.start or args.end):
        raise PromptError("give either --from A --to B (a walk) or --grid A B C D (a grid), not both")
    if not args.grid and not (args.start and args.end):
        raise PromptError("walk needs --from A --to B, or --grid A B C D",
                          hint="e.g. `promptlang walk FILE --from cat --to dog --frames 8`")
    width, height = args.image_size or (None, None)
    if args.grid:
        if args.frames is not None:
            raise PromptError("--frames is for a walk (--from/--to); a grid's side is --tiles K")
        count = 3 if args.tiles is None else args.tiles
        names = list(args.grid)
    else:
        if args.tiles is not None:
            raise PromptError("--tiles is a grid's tiles per side (with --grid); a walk has --frames N, "
                              "and the image size is --image-size WxH")
        count = 8 if args.frames is None else args.frames
        names = [args.start, args.end]
    prompts = [result.prompt(n) for n in names]
    check_walkable(prompts)
    model = args.model or next((p.settings.model for p in prompts if p.settings.model), None)
    prompts = [effective(p, model=model, steps=args.steps, width=width, height=height, images=1) for p in prompts]
    out = Path(args.out)
    kind = "grid" if args.grid else "walk"
    files = [frame_file(out, kind, names, count, i) for i in range(count * count if args.grid else count)]
    if args.grid:
        files.append(out / f"grid-{'-'.join(names)}.png")
    else:
        stem = f"walk-{names[0]}-{names[1]}"
        files += [out / f"{stem}.{args.animation}", out / f"{stem}-sheet.png"]
    return kind, prompts, count, files


def frame_file(out: Path, kind: str, names, count: int, index: int) -> Path:
    """The PNG `promptlang walk` writes for frame ``index`` (row-major in a grid); ``count``
    is the number of frames of a walk, or the tiles per side of a grid."""
    if kind == "grid":
        row, col = divmod(index, count)
        return out / f"grid-{'-'.join(names)}-r{row:02d}-c{col:02d}.png"
    digits = max(3, len(str(count - 1)))
    return out / f"walk-{names[0]}-{names[1]}-{index:0{digits}d}.png"


def write_walk_sheets(kind, prompts, frames, count, files, tiles, model, result) -> None:
    """The walk's animation and contact sheet, or the grid's labelled image, with their record.
    Business logic that belongs in jobs/ (walk and grid jobs)."""
    from ..latent import save_image
    from ..sheet import labelled_grid, save_sheet

    names = [p.name for p in prompts]
    record = {"format": 1, "kind": kind, "endpoints": names, "seeds": [p.settings.seed for p in prompts],
              "model": model, "source_path": result.file.path, "tiles": [f.name for f in tiles]}
    if kind == "walk":
        images = [f.image for f in frames]
        animation = files[count]
        extra = {"lossless": True} if animation.suffix == ".webp" else {}
        save_image(images[0], animation, save_all=True, append_images=images[1:], duration=150, loop=0, **extra)
        print(animation)
        per_row = min(count, 8)
        rows = [images[i:i + per_row] for i in range(0, count, per_row)]
        captions = []
        for i in range(0, count, per_row):
            captions.append([_walk_caption(f, names) for f in frames[i:i + per_row]])
        layout = labelled_grid(rows, captions=captions, title=f"{names[0]} -> {names[1]}, {count} frames")
        print(save_sheet(layout, files[count + 1], dict(record, t=[f.t for f in frames])))
    else:
        grid = [[f.image for f in frames[r * count:(r + 1) * count]] for r in range(count)]
        captions = [[_corner_caption(r, c, count, names) for c in range(count)] for r in range(count)]
        layout = labelled_grid(grid, row_labels=[f"v={r / (count - 1):.2f}" for r in range(count)],
                               col_labels=[f"u={c / (count - 1):.2f}" for c in range(count)], captions=captions,
                               title=f"{names[0]} (top left), {names[1]} (top right), {names[2]} (bottom left), "
                                     f"{names[3]} (bottom right)")
        print(save_sheet(layout, files[-1], record))


def _walk_caption(frame, names) -> str:
    if frame.t == 0:
        return f"{names[0]}"
    if frame.t == 1:
        return f"{names[1]}"
    return f"t={frame.t:.2f}"


def _corner_caption(r, c, k, names) -> str:
    corners = {(0, 0): names[0], (0, k - 1): names[1], (k - 1, 0): names[2], (k - 1, k - 1): names[3]}
    return corners.get((r, c), "")


# --------------------------------------------------------------------------- sheet

@click.command(cls=Command, short_help="Render prompts across seeds, models or slot values into one grid.")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--prompts", type=options.CommaList(what="prompt names"), metavar="A,B,…",
              help="the prompts (rows); default: every prompt in the file")
@click.option("--seeds", type=options.CommaList(options.SEED, "whole numbers from 0 to 4294967295"),
              metavar="S,S,…", help="seeds (columns); default: each prompt's own seed")
@click.option("--models", type=options.CommaList(what="models"), metavar="M,M,…",
              help="models (columns, before seeds)")
@click.option("--vary", metavar="SLOT=V,V,…",
              help="rows for each value of a slot or setting, e.g. style=van_gogh,dali,picasso or steps=10,20")
@options.out("OUT.png", "the sheet (default: FILE's name + -sheet.png); tiles go to OUT-tiles/")
@options.model("the model when --models is not given")
@options.steps
@options.image_size
@options.device
@options.overwrite
@options.no_cache
@options.quiet
@options.catalogs
def sheet(file, catalogs, device, no_cache, quiet, overwrite, **kwargs) -> int:
    """Render prompts across seeds, models or slot values into one labelled grid
    (rows: prompts x --vary values; columns: models x seeds)."""
    quiet_libraries()
    from ..sheet import render_sheet, targets

    args = SimpleNamespace(file=file, **kwargs)
    result = compile_and_warn(file, catalogs)
    the_plan, out = sheet_plan(args, result)
    check_free(targets(the_plan, out), overwrite)
    for model in the_plan.models:
        note_test_model(model)

    def done(tile):
        print(f"{tile.filename}  ({tile.row_label}; {tile.col_label})")

    layout = render_sheet(result, the_plan, out, device=device, cache_dir=cache_dir(no_cache),
                          progress=not quiet, on_tile=done)
    print(f"{out}  ({layout.rows} rows x {layout.cols} columns of {layout.tile[0]}x{layout.tile[1]} tiles)")
    return 0


def sheet_plan(args, result):
    """Business logic that belongs in jobs/ (sheet plan). Check the arguments; return ``(plan, out)`` with every tile's prompt resolved. Nothing rendered."""
    from ..sheet import parse_vary, plan

    if args.models and args.model:
        raise PromptError("give --models M1,M2 (a column per model) or --model M, not both")
    width, height = args.image_size or (None, None)
    out = Path(args.out) if args.out else Path(f"{Path(args.file).stem}-sheet.png")
    if out.suffix.lower() != ".png":
        raise PromptError(f"--out {out}: the sheet is a PNG; give a file name ending in .png")
    if not (out.parent if str(out.parent) else Path(".")).is_dir():
        raise PromptError(f"--out {out}: the folder {out.parent} does not exist")
    the_plan = plan(result, prompts=args.prompts, seeds=args.seeds,
                    models=args.models, vary=parse_vary(args.vary) if args.vary else None,
                    model=args.model, steps=args.steps, width=width, height=height, stem=out.stem)
    return the_plan, out


