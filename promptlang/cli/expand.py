"""`promptlang expand`: the prompts a file's choices and wildcards make, one a line, streamed."""
from __future__ import annotations

import json as _json
import sys
from pathlib import Path

import click

from ..targets import NAMES
from . import Command, options
from .common import print_warnings, search_dirs, variation


@click.command(cls=Command, short_help="List the prompts a file's choices and wildcards expand to.")
@click.argument("file", type=click.Path(dir_okay=False))
@options.prompt("only this prompt (or NAME.k: its k-th expanded prompt)")
@options.variation()
@click.option("-t", "--target", type=click.Choice(NAMES), default="plain", show_default=True,
              help="what each line holds: the prompt's text in that target's syntax, or (json) its IR object")
@click.option("--names", is_flag=True, help="start each text line with the prompt's name and a tab")
@click.option("--count", "count_only", is_flag=True,
              help="print only how many prompts there are (counted, not listed; --max does not apply)")
@options.catalogs
def expand(file, prompt, combinatorial, random_n, max_n, seed, target, names, count_only, catalogs) -> int:
    """List the prompts FILE's choices (`{a | b}`) and wildcards (`__animals__`) expand to, one a
    line, as they are made (a billion combinations stream in flat memory). Every combination,
    the leftmost choice varying slowest (--combinatorial, the default), or N random picks per
    prompt (--random N), reproducible from --seed alone. Prompts without choices are listed as
    they are. The count is computed first: past --max it is an error that says it."""
    from ..compiler import stream_file
    from ..targets import emit

    chosen = variation(combinatorial, random_n, seed, 10**18 if count_only else max_n)
    total, prompts, warnings = stream_file(Path(file), search_dirs=search_dirs(catalogs, near=file),
                                           variation=chosen, only=prompt, plain=target == "plain")
    if count_only:
        print_warnings(warnings)
        sys.stdout.write(f"{total}\n")
        return 0
    from ..ir import to_json

    target_warnings: list = []
    write = sys.stdout.write
    if target == "plain":  # (name, text): the fast road writes plain text without building the IR
        for name, text in prompts:
            text = text.replace("\n", " ")
            write(f"{name}\t{text}\n" if names else text + "\n")
        print_warnings(warnings)
        return 0
    for p in prompts:
        if target == "json":
            write(_json.dumps(to_json(p), ensure_ascii=False) + "\n")
            continue
        text = emit(target, p, target_warnings).replace("\n", " ")
        write(f"{p.name}\t{text}\n" if names else text + "\n")
    print_warnings(warnings)
    print_warnings(target_warnings)
    return 0
