"""dynamicprompts wildcard folders: ``.txt`` files, one value a line, ``#`` comments;
``colors/warm.txt`` is the wildcard ``__colors/warm__``.

A catalog has no "one of these" yet (that is the variation feature of issue 10), so each
value becomes a ``style`` entry of its own, keyed by the file and the value
(``colors_warm_burnt_orange``) and tagged ``wildcard`` and with the file's name
(``colors_warm``): ``style colors_warm_burnt_orange`` uses one, and the tag keeps the set
together for when a prompt can pick from it. Values that use wildcards or variants
themselves (``__other__``, ``{a|b}``) are skipped with a warning.
"""
from __future__ import annotations

import re

from ..catalog import MAX_TEXT
from .common import MAX_KEY, Builder, convert, identifier

_NESTED = re.compile(r"__[^_\s][^\s]*?__|\{[^{}]*\|[^{}]*\}")


def read(files, builder: Builder) -> None:
    """``files``: (name such as ``colors/warm``, shown path, decoded text), in order."""
    for name, shown, text in files:
        group = identifier(name, fallback="wildcard")
        for number, line in enumerate(text.lstrip("\ufeff").splitlines(), 1):
            value = line.strip()
            if not value or value.startswith("#"):
                continue
            where = f"{shown}:{number}"
            if len(value) > MAX_TEXT:
                builder.warn(where, f"longer than {MAX_TEXT:,} characters (a catalog's limit); skipped")
                continue
            if _NESTED.search(value):
                builder.warn(where, f"{value[:60]!r} uses a wildcard or variants; needs the variation "
                             "feature of issue 10; skipped")
                continue
            key = f"{group}_{identifier(convert(value, placeholder=False)[0], fallback='value')}"[:MAX_KEY].strip("_")
            builder.add(where, value, value, "", tags=["wildcard", group], section="style",
                        description=f"one value of __{name}__", key=key)
