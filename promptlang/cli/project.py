"""`promptlang init`: write a starter project (promptlang.toml, a catalog, an example prompt)."""
from __future__ import annotations

import re
from pathlib import Path

import click

from . import Command, options

TOML = '''# A promptlang project: `use "…"` paths in its .prompt files (and `requires` in its
# catalogs) may point anywhere inside this folder.
[project]
name = "{name}"

[catalogs]
folders = ["styles"]        # `use NAME` looks here (after --catalogs) before the bundled catalogs
# require = ["core >= 1.0"] # versions the catalogs in use must have (`promptlang lock` pins them exactly)

[render]
# model = "stable-diffusion-v1-5/stable-diffusion-v1-5"   # when neither the .prompt nor --model names one
out = "renders"             # `promptlang render`'s output folder when -o is not given
'''

CATALOG = '''name: team
version: 0.1.0
description: our house styles
requires: [core]
format:
  brand_photo:
    text: "a bright editorial photo of {{ subject }}, soft daylight"
    negative: "illustration, cartoon"
style:
  house:
    text: "muted teal and coral palette"
    weight: 1.2
    tags: [brand]
quality:
  crisp: "crisp details"
negative:
  clutter: { text: "clutter, busy background" }
'''

EXAMPLE = '''# Compile it with `promptlang compile prompts/example.prompt`.
use core
use "../styles/team.yaml"   # a path inside the project (`use team` works too: [catalogs] folders)

prompt example {
    subject  "a ceramic teapot on a wooden table"
    format   brand_photo
    style    house, wes_anderson
    quality  crisp, 4k
    negative clutter, low_quality
    aspect   3:2
    seed     7
}
'''


@click.command(cls=Command, short_help="Write a starter project: promptlang.toml, a catalog and an example.")
@click.argument("folder", required=False, default=".", type=click.Path(file_okay=False))
@options.overwrite
def init(folder, overwrite) -> int:
    """Write a starter project in FOLDER (default: the current folder): promptlang.toml,
    styles/team.yaml and prompts/example.prompt. Existing files are kept unless --overwrite."""
    from ..errors import PromptError
    from ..files import write_bytes

    root = Path(folder)
    if root.exists() and not root.is_dir():
        raise PromptError(f"{folder} is a file, not a folder")
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", root.resolve().name).strip("_") or "project"
    files = {root / "promptlang.toml": TOML.format(name=name), root / "styles" / "team.yaml": CATALOG,
             root / "prompts" / "example.prompt": EXAMPLE}
    existing = [str(path) for path in files if path.exists()]
    if existing and not overwrite:
        raise PromptError(f"{existing[0]} already exists" + (f" (and {len(existing) - 1} more)" if len(existing) > 1
                                                              else ""),
                          hint="pass --overwrite to replace it, or give another FOLDER")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(path, text.encode("utf-8"))
        print(f"wrote {path}")
    return 0
