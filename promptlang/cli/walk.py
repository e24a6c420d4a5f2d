"""`promptlang walk | sheet`: thin commands over the walk, grid and sheet jobs.

Everything the command line can get wrong (prompt names, sizes, --vary values, files
that already exist) is checked by the job's plan before anything renders, and every
file is written atomically, so an error leaves nothing behind.
"""
from __future__ import annotations

from pathlib import Path

import click

from . import Command, options
from .common import cache_dir, compile_and_warn, quiet_libraries
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
def walk(file, start, end, frames, grid, tiles, out, model, steps, image_size, animation, device, overwrite,
         no_cache, quiet, catalogs) -> int:
    """Walk latent space between two prompts (--from A --to B --frames N), or render a bilinear
    grid between four (--grid A B C D --tiles K). The image size is --image-size WxH."""
    quiet_libraries()
    if grid and (start or end):
        raise click.UsageError("give either --from A --to B (a walk) or --grid A B C D (a grid), not both")
    if not grid and not (start and end):
        raise click.UsageError("walk needs --from A --to B, or --grid A B C D "
                               "(e.g. `promptlang walk FILE --from cat --to dog --frames 8`)")
    if grid and any(name.startswith("-") for name in grid):
        raise click.UsageError(f"--grid needs four prompt names, not {' '.join(grid)}")
    if grid and frames is not None:
        raise click.UsageError("--frames is for a walk (--from/--to); a grid's size is --tiles K")
    if not grid and tiles is not None:
        raise click.UsageError("--tiles is a grid's tiles per side (with --grid); a walk has --frames N, "
                               "and the image size is --image-size WxH")
    from ..jobs import walk as job
    from ..jobs.backend import Local

    result = compile_and_warn(file, catalogs)
    width, height = image_size or (None, None)
    names, count = (list(grid), tiles or 3) if grid else ([start, end], 8 if frames is None else frames)
    the_plan = job.plan(result, names, count, out, animation=animation, overwrite=overwrite, model=model,
                        cache_dir=cache_dir(no_cache), steps=steps, width=width, height=height)
    report = Reporter(quiet=quiet)
    try:
        job.run(the_plan, backend=Local(device), report=report)
    finally:
        report.close()
    return 0


# --------------------------------------------------------------------------- sheet

@click.command(cls=Command, short_help="Render prompts across seeds, models or slot values into one grid.")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--prompts", type=options.CommaList(what="prompt names"), metavar="A,B,…",
              help="the prompts (rows); default: every prompt in the file")
@click.option("--seeds", type=options.CommaList(options.SEED, "whole numbers from 0 to 4294967295"),
              metavar="S,S,…", help="seeds (columns); default: each prompt's own seed")
@click.option("--models", type=options.CommaList(what="models"), metavar="M,M,…",
              help="models (columns, before seeds)")
@click.option("--vary", type=options.Vary(), metavar="SLOT=V,V,…",
              help="rows for each value of a slot or setting, e.g. style=van_gogh,dali,picasso or steps=10,20")
@options.out("OUT.png", "the sheet (default: FILE's name + -sheet.png); tiles go to OUT-tiles/")
@options.model("the model when --models is not given")
@options.steps
@options.image_size
@options.device
@options.overwrite
@options.no_cache
@options.quiet
@options.variation()
@options.catalogs
def sheet(file, prompts, seeds, models, vary, out, model, steps, image_size, device, overwrite, no_cache, quiet,
          combinatorial, random_n, max_n, seed, catalogs) -> int:
    """Render prompts across seeds, models or slot values into one labelled grid
    (rows: prompts x --vary values; columns: models x seeds)."""
    quiet_libraries()
    if models and model:
        raise click.UsageError("give --models M1,M2 (a column per model) or --model M, not both")
    from ..jobs import sheet as job
    from ..jobs.backend import Local

    from .common import selected, variation

    result = compile_and_warn(file, catalogs, variation(combinatorial, random_n, seed, max_n))
    if prompts:  # a prompt with choices stands for the prompts it expands to: a row each
        prompts = [p.name for name in prompts for p in selected(result, name)]
    width, height = image_size or (None, None)
    out = Path(out) if out else Path(f"{Path(file).stem}-sheet.png")
    the_plan = job.plan(result, out, prompts=prompts, seeds=seeds, models=models,
                        vary=vary, model=model, overwrite=overwrite,
                        cache_dir=cache_dir(no_cache), steps=steps, width=width, height=height)
    report = Reporter(quiet=quiet)
    try:
        layout = job.run(the_plan, backend=Local(device), report=report)
    finally:
        report.close()
    return 0 if layout else 1
