"""`promptlang catalog new NAME`: the files of a catalog package, as {relative path: text}.

A catalog package is a Python distribution that ships a catalog's YAML and names it in
the entry-point group ``promptlang.catalogs`` (see :mod:`promptlang.catalog`), so that
``pip install`` makes ``use NAME`` find it. The scaffold is plain text; nothing is run.
"""
from __future__ import annotations

from .catalog import ENTRY_POINT_GROUP, KEY_RE
from .errors import PromptError


def package_files(name: str) -> dict[str, str]:
    """The files of a catalog package for the catalog ``name`` (relative path -> text)."""
    if not KEY_RE.match(name) or name[0].isdigit():
        raise PromptError(f"{name!r}: a catalog package's name is letters, digits and `_`, "
                          "and does not start with a digit")
    module = f"{name.lower()}_styles"
    dist = f"{name.lower().replace('_', '-')}-styles"
    values = {"name": name, "module": module, "dist": dist, "group": ENTRY_POINT_GROUP}
    return {
        "pyproject.toml": PYPROJECT.format(**values),
        f"src/{module}/__init__.py": INIT.format(**values),
        f"src/{module}/catalog.yaml": CATALOG.format(**values),
        "tests/test_catalog.py": TEST.format(**values),
        "README.md": README.format(**values),
    }


PYPROJECT = '''\
[build-system]
requires = ["hatchling>=1.21"]
build-backend = "hatchling.build"

[project]
name = "{dist}"
version = "0.1.0"
description = "The promptlang style catalog `{name}`"
readme = "README.md"
requires-python = ">=3.10"
dependencies = []

[project.optional-dependencies]
test = ["promptlang-sd", "pytest>=8"]

# `use {name}` finds the catalog once this package is installed:
# NAME = "PACKAGE:FILE", a YAML file inside the package's folder (nothing is imported).
[project.entry-points."{group}"]
{name} = "{module}:catalog.yaml"

[tool.hatch.build.targets.wheel]
packages = ["src/{module}"]
'''

INIT = '''\
"""The promptlang style catalog `{name}`: the data is catalog.yaml, beside this file."""
'''

CATALOG = '''\
name: {name}
version: 0.1.0
description: the {name} house style
requires: [core]
format:
  {name}_photo:
    text: "a photo of {{{{ subject }}}}, 35mm, natural light"
    negative: "illustration, painting"
style:
  {name}_look:
    text: "muted colors, soft film grain"
    tags: [house]
quality:
  {name}_sharp: {{ text: "sharp focus, highly detailed", weight: 1.1 }}
negative:
  {name}_clean: {{ text: "watermark, text, logo" }}
'''

TEST = '''\
"""The catalog is valid, every entry renders, and `use {name}` finds it once installed."""
from importlib.resources import files

from promptlang import catalog, template

PATH = files("{module}") / "catalog.yaml"


def test_catalog_is_valid():
    cat = catalog.load(str(PATH))
    assert cat.name == "{name}"
    for section, entries in cat.entries.items():
        for key, entry in entries.items():
            template.render(entry.text, f"{{cat.path}}: {{section}}.{{key}}", "a subject")


def test_use_finds_the_installed_catalog():
    found = catalog.find("{name}")
    assert found is not None and found.name == "catalog.yaml"
'''

README = '''\
# {dist}

The promptlang style catalog `{name}`, as a Python package.

```
pip install .            # or: pip install -e .
promptlang catalog list  # {name}  0.1.0  … (package {dist} 0.1.0)
```

Then, in a `.prompt` file: `use {name}`. Edit `src/{module}/catalog.yaml`; the entry point
in `pyproject.toml` (`{name} = "{module}:catalog.yaml"`) names the catalog and the YAML
file inside the package. Check it with `promptlang catalog validate
src/{module}/catalog.yaml` or `pytest` (after `pip install -e ".[test]"`).
'''
