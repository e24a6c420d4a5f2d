"""`promptlang describe`: an image back to candidate .prompt files (a thin command over the job)."""
from __future__ import annotations

import click

from . import Command, options
from .common import quiet_libraries, search_dirs
from .report import Reporter


@click.command(cls=Command, short_help="Rank images against the style catalogs and write candidate .prompt files.")
@click.argument("images", metavar="IMAGE…", nargs=-1, required=True, type=click.Path(dir_okay=False))
@options.model("CLIP model: a CLIPModel folder, a Hugging Face id in the local cache (openai/clip-vit-large-patch14), "
               "a Stable Diffusion folder with a vision tower, builtin:shapes, or builtin:tiny-clip (random weights; "
               "ranks by chance); default: builtin:shapes when installed, else openai/clip-vit-large-patch14")
@click.option("-u", "--use", "use", metavar="CATALOG", multiple=True,
              help="a catalog to rank against, by name (repeatable; default: core); the candidates `use` it")
@options.catalogs
@click.option("-c", "--candidates", type=click.IntRange(1, 16), default=4, show_default=True, metavar="N",
              help="distinct candidate .prompt files per image")
@click.option("--margin", type=options.FiniteRange(-1.0, 1.0), default=0.01, show_default=True, metavar="X",
              help="keep styles and quality boosters whose similarity is at least X above their section's median")
@click.option("--styles", type=click.IntRange(0, 8), default=2, show_default=True, metavar="N",
              help="styles per candidate (at most)")
@click.option("--quality", type=click.IntRange(0, 8), default=2, show_default=True, metavar="N",
              help="quality boosters per candidate (at most)")
@click.option("--caption-model", metavar="MODEL",
              help="a BLIP captioning model (folder or cached id, e.g. Salesforce/blip-image-captioning-base), "
                   "or builtin:shapes, that writes the subject; without it the subject is a placeholder to fill in")
@click.option("--ignore-provenance", is_flag=True,
              help="rank images promptlang rendered too, instead of writing back the .prompt their provenance holds")
@options.out("DIR", "output folder (default: described)", default="described")
@options.overwrite
@click.option("--resume", is_flag=True,
              help="go on after an interrupted run: keep the files it wrote for these images and write the rest")
@options.device
@click.option("--no-cache", is_flag=True, help="do not read or write the cache of catalog text embeddings")
@options.quiet
def describe(images, model, use, catalogs, candidates, margin, styles, quality, caption_model, ignore_provenance,
             out, overwrite, resume, device, no_cache, quiet) -> int:
    """Describe images as .prompt files. An image promptlang rendered carries its provenance:
    the .prompt it came from is written back (OUT/IMAGE.prompt), no guessing needed. Any other
    image is embedded with a CLIP model and ranked against every format, style and quality
    entry of the catalogs; N distinct candidates (OUT/IMAGE-1.prompt …) are written, each with
    its scores as comments, and each compiles."""
    quiet_libraries()
    from ..jobs import describe as job

    the_plan = job.plan(images, out, use=use or ("core",), search_dirs=search_dirs(catalogs), model=model,
                        caption_model=caption_model, count=candidates, margin=margin, styles=styles,
                        quality=quality, ignore_provenance=ignore_provenance, overwrite=overwrite,
                        resume=resume, cache=not no_cache)
    report = Reporter(quiet=quiet)
    try:
        job.run(the_plan, device=device, report=report)
    finally:
        report.close()
    return 0
