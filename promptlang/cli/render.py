"""`promptlang embed | render`: thin commands over the embed and render jobs."""
from __future__ import annotations

import click

from . import Command, options
from .common import backend, cache_dir, compile_and_warn, default_out, quiet_libraries, selected, variation
from .report import Reporter


@click.command(cls=Command, short_help="Compile prompts to Compel-weighted embeddings (.safetensors).")
@click.argument("file", type=click.Path(dir_okay=False))
@options.prompt("only this prompt; -o is then the file to write")
@options.model("model id, folder, .safetensors file or builtin:tiny (default: the file's `model`)")
@options.out("PATH", "with --prompt: OUT.safetensors; without: a folder that gets NAME.safetensors per prompt",
             required=True)
@options.overwrite
@options.device
@options.engines
@options.no_cache
@options.variation()
@options.catalogs
def embed(file, prompt, model, out, overwrite, device, engine, address, workers, no_cache, combinatorial, random_n,
          max_n, seed, catalogs) -> int:
    """Compile prompts to Compel-weighted embeddings (.safetensors)."""
    quiet_libraries()
    from ..jobs import embed as job

    report = Reporter()
    runner = backend(engine, address, workers, device=device, report=report)
    result = compile_and_warn(file, catalogs, variation(combinatorial, random_n, seed, max_n), prompt)
    chosen = selected(result, prompt)
    the_plan = job.plan(result, chosen, out, one_file=bool(prompt) and len(chosen) == 1, model=model,
                        overwrite=overwrite, cache_dir=cache_dir(no_cache))
    try:
        job.run(the_plan, backend=runner, report=report)
    finally:
        runner.close()
        report.close()
    return 0


@click.command(cls=Command, short_help="Render prompts to PNG images that carry their provenance.")
@click.argument("file", type=click.Path(dir_okay=False))
@options.prompt()
@options.model()
@options.out("DIR", "output folder (default: the project's [render] out, else renders)")
@options.images
@options.seed
@options.steps
@options.guidance
@options.scheduler
@options.image_size
@options.device
@options.engines
@options.batch
@options.overwrite
@options.resume
@options.fast
@options.no_cache
@options.quiet
@options.variation(seed=False)
@options.catalogs
def render(file, prompt, model, out, images, seed, steps, guidance, scheduler, image_size, device, engine, address,
           workers, batch, overwrite, resume, fast, no_cache, quiet, combinatorial, random_n, max_n, catalogs) -> int:
    """Render prompts to PNG images that carry their provenance (never over an existing PNG
    without --overwrite; after an interrupted run, --resume renders only what is missing)."""
    quiet_libraries()
    from ..jobs import render as job

    report = Reporter(quiet=quiet)
    runner = backend(engine, address, workers, device=device, fast=fast, report=report)
    result = compile_and_warn(file, catalogs, variation(combinatorial, random_n, seed, max_n), prompt)
    out = default_out(file, out, "renders")
    width, height = image_size or (None, None)
    the_plan = job.plan(selected(result, prompt), out, source=job.Source.of(result), overwrite=overwrite,
                        resume=resume, batch=batch, cache_dir=cache_dir(no_cache), fast=fast, model=model, images=images,
                        seed=seed, steps=steps, guidance=guidance, scheduler=scheduler, width=width, height=height)
    try:
        written = job.run(the_plan, backend=runner, report=report)
    finally:
        runner.close()
        report.close()
    kept = f" ({len(the_plan.done)} already there, kept)" if the_plan.done else ""
    print(f"rendered {len(written)} image{'s' * (len(written) != 1)} into {out}/{kept}")
    return 0
