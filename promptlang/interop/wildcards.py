"""dynamicprompts wildcard folders: ``.txt`` files, one value a line, ``#`` comments;
``colors/warm.txt`` is the wildcard ``__colors/warm__``.

Imported, a folder becomes the catalog's ``wildcards:`` section (``__colors/warm__`` picks
one of its values; values keep their dynamicprompts syntax, ``{a|b}`` and ``__other__``), and
each plain value is also a ``style`` entry of its own, keyed by the file and the value
(``colors_warm_burnt_orange``) and tagged ``wildcard`` and with the file's name
(``colors_warm``), so that ``style colors_warm_burnt_orange`` names one. Values that use
wildcards or variants are in ``wildcards:`` only. Used as they are (``use wildcards
"./folder"``), folders are read by :func:`load`.
"""
from __future__ import annotations

import re

from ..catalog import MAX_TEXT
from .common import MAX_KEY, Builder, convert, identifier

_WILD_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-]*$")
_NESTED = re.compile(r"__[^_\s][^\s]*?__|\{[^{}]*\|[^{}]*\}")


def read(files, builder: Builder) -> None:
    """``files``: (name such as ``colors/warm``, shown path, decoded text), in order."""
    for name, shown, text in files:
        group = identifier(name, fallback="wildcard")
        wild = "/".join(identifier(part, fallback="wildcard").replace("_", "-") if not _WILD_PART.match(part)
                        else part for part in name.split("/"))
        for number, line in enumerate(text.lstrip("\ufeff").splitlines(), 1):
            value = line.strip()
            if not value or value.startswith("#"):
                continue
            where = f"{shown}:{number}"
            if len(value) > MAX_TEXT:
                builder.warn(where, f"longer than {MAX_TEXT:,} characters (a catalog's limit); skipped")
                continue
            if "#" in value:  # dynamicprompts reads the rest of the line as a comment
                value = value[:value.index("#")].rstrip()
                if not value:
                    continue
            builder.wildcards.setdefault(wild, []).append(value)
            if _NESTED.search(value):
                builder.warn(where, f"{value[:60]!r} uses a wildcard or variants: kept in `wildcards:` "
                             f"(__{wild}__) only, not as a style entry")
                continue
            key = f"{group}_{identifier(convert(value, placeholder=False)[0], fallback='value')}"[:MAX_KEY].strip("_")
            builder.add(where, value, value, "", tags=["wildcard", group], section="style",
                        description=f"one value of __{name}__", key=key)


# ---------------------------------------------------------------- used as they are: `use wildcards "./folder"`

WILDCARD_SUFFIXES = (".txt", ".yaml", ".yml", ".json")


def load(path) -> dict:
    """A dynamicprompts wildcard folder (or one file) as a catalog's ``wildcards``: name ->
    tuple of :class:`promptlang.choices.WildValue`, values in file order.

    ``.txt``: one value a line, ``#`` comments and blank lines skipped; ``colors/warm.txt``
    is ``__colors/warm__``. ``.yaml``/``.json``: nested mappings of names to lists of values
    (``{colors: {warm: [red, orange]}}`` is ``__colors/warm__``), as dynamicprompts reads them.
    Bounded like an import: files, bytes, depth; symbolic links are not followed."""
    import os
    from pathlib import Path

    from ..errors import PromptError
    from ..files import read_limited
    from . import MAX_DEPTH, MAX_FILE, MAX_FILES, MAX_FOLDER

    root = Path(path)
    files, total = [], 0
    if root.is_file():
        files.append((root, root.stem))
    else:
        for folder, dirs, names in os.walk(root):
            depth = len(Path(folder).relative_to(root).parts)
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not Path(folder, d).is_symlink())
            if depth >= MAX_DEPTH:
                raise PromptError(f"{folder}: wildcard folders nest more than {MAX_DEPTH} deep")
            for n in sorted(names):
                p = Path(folder, n)
                if n.startswith(".") or p.suffix.lower() not in WILDCARD_SUFFIXES or p.is_symlink():
                    continue
                if len(files) >= MAX_FILES:
                    raise PromptError(f"{root}: more than {MAX_FILES:,} wildcard files")
                files.append((p, p.relative_to(root).with_suffix("").as_posix()))
    out: dict = {}
    for p, name in files:
        data = read_limited(p, min(MAX_FILE, MAX_FOLDER - total), "a wildcard file")
        total += len(data)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise PromptError(f"{p}: not UTF-8 text (byte {exc.start})") from None
        suffix = p.suffix.lower()
        if suffix == ".txt":
            _add(out, name, [(v, f"{p}:{i}") for i, v in _lines(text)], p, weights=False)
        else:
            _structured(out, text, p, suffix)
    return out


def _lines(text: str):
    for number, line in enumerate(text.splitlines(), 1):
        value = line.strip()
        if value and not value.startswith("#"):
            yield number, value


def _add(out: dict, name: str, values, where, weights: bool = True) -> None:
    from ..catalog import MAX_TEXT, MAX_WILD_VALUES
    from ..choices import WildValue
    from ..errors import PromptError

    kept = []
    for value, shown in values:
        if len(value) > MAX_TEXT:
            raise PromptError(f"{shown}: a wildcard value is longer than {MAX_TEXT:,} characters")
        chance = 1.0
        if weights and value[:1].isdigit() and "::" in value:  # `2::value`: its weight, as dynamicprompts reads it
            head, _, rest = value.rpartition("::")
            try:
                chance, value = float(head), rest
            except ValueError:
                pass
        kept.append(WildValue(value, chance=chance, where=shown, dynamicprompts=True))
    out[name] = out.get(name, ()) + tuple(kept)
    if sum(len(v) for v in out.values()) > MAX_WILD_VALUES:
        raise PromptError(f"{where}: the wildcards hold more than {MAX_WILD_VALUES:,} values")


def _structured(out: dict, text: str, path, suffix: str) -> None:
    import json

    from ..catalog import MAX_WILD_DEPTH, compose
    from ..errors import PromptError

    try:
        data = json.loads(text) if suffix == ".json" else compose(text)[1]
    except Exception as exc:  # yaml.YAMLError, json.JSONDecodeError: said in one line
        raise PromptError(f"{path}: not valid {'JSON' if suffix == '.json' else 'YAML'}: "
                          f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None

    def walk(value, prefix: str, depth: int):
        if depth > MAX_WILD_DEPTH:
            raise PromptError(f"{path}: wildcards nest more than {MAX_WILD_DEPTH} deep")
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{prefix}{key}/" if not isinstance(item, list) else f"{prefix}{key}", depth + 1)
        elif isinstance(value, list):
            flat = []

            def values(items, d):
                for item in items:
                    if isinstance(item, list) and d < MAX_WILD_DEPTH:
                        values(item, d + 1)
                    elif isinstance(item, (str, int, float)) and not isinstance(item, bool):
                        flat.append((str(item), f"{path}: {prefix}"))
                    else:
                        raise PromptError(f"{path}: {prefix}: a wildcard value is a string, not "
                                          f"{type(item).__name__}")
            values(value, depth)
            _add(out, prefix.rstrip("/") or path.stem, flat, path)
        else:
            raise PromptError(f"{path}: {prefix.rstrip('/') or '(top level)'}: expected a mapping of names to "
                              "lists of values")

    walk(data, "", 0)
