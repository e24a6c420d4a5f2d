"""`promptlang show | reproduce`: what a PNG carries, and rendering it again."""
from __future__ import annotations

import json
import sys

import click

from . import Command, options
from .common import quiet_libraries
from .report import Reporter


@click.command(cls=Command, short_help="Print the provenance a promptlang PNG carries.")
@click.argument("image", metavar="IMAGE.png", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True,
              help="the whole promptlang record as JSON (a walk frame's `promptlang-walk` record, a sheet's "
                   "`promptlang-sheet` record)")
def show(image, as_json) -> int:
    """Print the provenance a promptlang PNG carries: a render, a walk frame or grid tile, or a sheet."""
    from ..jobs import show as job

    if as_json:  # JSON escapes control characters itself
        sys.stdout.write(json.dumps(job.record(image), ensure_ascii=False, indent=2) + "\n")
        return 0
    for line in job.lines(image):
        print(line)
    return 0


@click.command(cls=Command, short_help="Render an image again from the provenance in its PNG.")
@click.argument("image", metavar="IMAGE.png", type=click.Path(dir_okay=False))
@options.out("DIR", "output folder (default: reproduced)", default="reproduced")
@options.model("use another copy of the model (default: as recorded)")
@options.device
@options.overwrite
@options.quiet
def reproduce(image, out, model, device, overwrite, quiet) -> int:
    """Render an image (a render, a sheet tile, any walk frame or grid tile) again from the
    provenance in its PNG, without the .prompt file or its catalogs."""
    quiet_libraries()
    from ..jobs import reproduce as job
    from ..jobs.backend import Local

    report = Reporter(quiet=quiet)
    try:
        job.run(image, out, model=model, overwrite=overwrite, backend=Local(device), report=report)
    finally:
        report.close()
    return 0
