"""Style libraries in and out: AUTOMATIC1111 ``styles.csv``, Fooocus ``sdxl_styles*.json``,
the ComfyUI SDXL prompt styler's JSON and dynamicprompts wildcard folders.

:func:`import_path` reads a file or folder into a catalog dict and warnings; :func:`export`
writes a loaded catalog as ``a1111-csv`` or ``fooocus-json``. The formats themselves are
pure functions in ``a1111``, ``fooocus`` and ``wildcards``; nothing here prints.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import PromptError
from .common import Builder, identifier, to_yaml

__all__ = ["FORMATS", "import_path", "export", "to_yaml", "identifier"]

FORMATS = ("a1111-csv", "fooocus-json")
MAX_FILE = 16 * 1024 * 1024      # bytes of one style file
MAX_FOLDER = 64 * 1024 * 1024    # bytes of a whole wildcard folder
MAX_FILES = 10_000               # files of a wildcard folder
MAX_DEPTH = 16                   # folders within folders


def _decode(data: bytes, shown: str, builder: Builder) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        builder.warn(shown, f"not UTF-8 (byte {exc.start}); read as Windows-1252")
        return data.decode("cp1252", errors="replace")


def import_path(path, name: str | None = None) -> tuple[dict, list[str], str]:
    """Read ``path`` (a styles file or a wildcard folder) -> (catalog dict, warnings, what
    it was). A PromptError when it is none of the formats or nothing in it can be imported."""
    from ..files import read_limited

    path = Path(path)
    builder = Builder()
    if path.is_dir():
        kind = "dynamicprompts wildcards"
        _read_folder(path, builder)
    else:
        data = read_limited(path, MAX_FILE, "a styles file")
        text = _decode(data, str(path), builder)
        suffix = path.suffix.lower()
        from . import a1111, fooocus, wildcards

        if suffix == ".json" or (suffix != ".csv" and suffix != ".txt" and fooocus.looks_like(text)):
            kind = "Fooocus / SDXL prompt styler JSON"
            fooocus.read(text, str(path), builder)
        elif suffix == ".csv" or a1111.looks_like(text):
            kind = "AUTOMATIC1111 styles.csv"
            a1111.read(text, str(path), builder)
        elif suffix == ".txt":
            kind = "dynamicprompts wildcards"
            wildcards.read([(path.stem, str(path), text)], builder)
        else:
            raise PromptError(f"{path}: not a style file promptlang can import",
                              hint="import reads an AUTOMATIC1111 styles.csv, a Fooocus or SDXL prompt styler "
                                   ".json, or a dynamicprompts wildcard folder of .txt files")
    if not builder.count:
        raise Empty(path, builder.warnings)
    name = name or identifier(path.stem if not path.is_dir() else path.name, fallback="imported")
    return builder.catalog(name, f"imported from {path.name} ({kind})"), builder.warnings, kind


class Empty(PromptError):
    """Nothing could be imported; ``warnings`` says why."""

    def __init__(self, path, warnings):
        super().__init__(f"{path}: nothing could be imported", hint="the warnings above say why")
        self.warnings = list(warnings)


def _read_folder(root: Path, builder: Builder) -> None:
    from ..files import read_limited
    from . import wildcards

    files, total = [], 0
    for folder, dirs, names in os.walk(root):
        depth = len(Path(folder).relative_to(root).parts)
        dirs.sort()
        if depth >= MAX_DEPTH:
            builder.warn(folder, f"folders nested more than {MAX_DEPTH} deep; not read")
            dirs.clear()
        for n in sorted(names):
            p = Path(folder, n)
            if n.startswith("."):
                continue
            if p.suffix.lower() != ".txt":
                builder.warn(str(p), "not a .txt wildcard file (YAML and JSON wildcard collections are not read); "
                             "skipped")
                continue
            if p.is_symlink():
                builder.warn(str(p), "a symbolic link; skipped (only files inside the folder are read)")
                continue
            if len(files) >= MAX_FILES:
                builder.warn(str(root), f"more than {MAX_FILES:,} files; the rest were skipped")
                break
            try:
                data = read_limited(p, min(MAX_FILE, MAX_FOLDER - total), "a wildcard file")
            except PromptError as exc:
                builder.warn(str(p), f"{exc.message}; skipped")
                continue
            total += len(data)
            rel = p.relative_to(root).with_suffix("").as_posix()
            files.append((rel, str(p), _decode(data, str(p), builder)))
    if not files:
        raise PromptError(f"{root}: a folder without .txt wildcard files",
                          hint="import reads an AUTOMATIC1111 styles.csv, a Fooocus or SDXL prompt styler "
                               ".json, or a dynamicprompts wildcard folder of .txt files")
    wildcards.read(files, builder)


def export(cat, to: str) -> tuple[bytes, list[str], int]:
    """A loaded :class:`promptlang.catalog.Catalog` -> (file bytes, warnings, entries written).

    ``{{ subject }}`` becomes ``{prompt}``; a template that does more than place the subject
    is rendered in the sandbox with the subject's place kept, or skipped with a warning when
    it changes the subject (a filter) or fails. Brackets are escaped (``\\(``) so the webui
    reads them as text; an entry's weight is written as ``(text:W)`` where the subject is
    not inside it. ``negative`` entries are written as a style with only a negative prompt.
    """
    from .. import template
    from . import a1111, fooocus

    if to not in FORMATS:
        raise PromptError(f"unknown export format `{to}` (formats: {', '.join(FORMATS)})")
    rows, warnings, names = [], [], set()
    for section, entries in cat.entries.items():
        if section in ("lora", "embedding"):
            warnings.extend(f"{cat.path}: {section}.{key}: warning: a {section} is a file, not a style; skipped"
                            for key in entries)
            continue
        for key, entry in entries.items():
            where = f"{cat.path}: {section}.{key}"
            if section == "negative":
                text, negative = "", _escape(entry.text) + (f", {_escape(entry.negative)}" if entry.negative else "")
            else:
                try:
                    pieces, mode = template.render(entry.text, f"{cat.name}: {section}.{key}")
                except PromptError as exc:
                    warnings.append(f"{where}: warning: cannot be rendered ({exc}); skipped")
                    continue
                if mode == "plain":
                    warnings.append(f"{where}: warning: the template changes the subject (a filter), which "
                                    f"{to} cannot say; skipped")
                    continue
                text = "{prompt}".join(_escape(p) for p in pieces)
                if entry.weight != 1.0:
                    if mode == "absent":
                        text = f"({text}:{entry.weight:g})"
                    else:
                        warnings.append(f"{where}: warning: weight {entry.weight:g} not carried (the subject is "
                                        "inside the text, and a weight there would weigh it too)")
                negative = _escape(entry.negative)
            name = key if key not in names else f"{section}_{key}"
            names.add(name)
            rows.append((name, text, negative))
    data = (a1111 if to == "a1111-csv" else fooocus).write(rows)
    return data, warnings, len(rows)


def _escape(text: str) -> str:
    for ch in "\\()[]":
        text = text.replace(ch, "\\" + ch)
    return text
