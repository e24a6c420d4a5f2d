"""The project: a ``promptlang.toml`` marks the root of a project.

Finding one is a few ``stat`` calls (walk up from a folder to the first one holding
``promptlang.toml``); the file is read, with ``tomllib``, only when there is one. Paths in
``use "…"`` and a catalog's ``requires`` may go anywhere inside the root (see
:func:`confinement`). The keys, all optional::

    [project]
    name = "studio"
    [catalogs]
    folders = ["styles"]          # searched by `use NAME` before the bundled catalogs
    require = ["core >= 1.0"]     # versions the catalogs in use must have (as in `use`)
    [render]
    model = "stabilityai/…"       # when neither the .prompt file nor --model names one
    out = "renders"               # `render`'s output folder when -o is not given
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .ast import Span
from .errors import PromptError

FILE = "promptlang.toml"
MAX_FILE = 64 * 1024

# table -> key -> (check, what the value must be)
_LIST = (lambda v: isinstance(v, list) and all(isinstance(x, str) and x for x in v))
_TEXT = (lambda v: isinstance(v, str) and bool(v.strip()))
KEYS = {
    "project": {"name": (_TEXT, "a non-empty string")},
    "catalogs": {"folders": (_LIST, "a list of folder paths"),
                 "require": (_LIST, "a list of catalog names or paths")},
    "render": {"model": (_TEXT, "a model id or path (a non-empty string)"),
               "out": (_TEXT, "a folder path (a non-empty string)")},
}


@dataclass(frozen=True, slots=True)
class Requirement:
    """One ``[catalogs] require`` string, parsed (``use`` holds the name or path and the
    constraints); ``span`` is the `require` key in the file, ``source`` the file's text."""

    use: object  # ast.Use
    span: Span
    source: str


@dataclass(frozen=True, slots=True)
class Project:
    """A project as its ``promptlang.toml`` states it; ``folders`` are absolute."""

    root: Path
    name: str | None = None
    folders: tuple[Path, ...] = ()
    require: tuple[str, ...] = ()
    model: str | None = None
    out: str | None = None
    requirements: tuple[Requirement, ...] = ()


def find_root(start: str | Path) -> Path | None:
    """The nearest folder from ``start`` upward that holds ``promptlang.toml``, or None."""
    folder = Path(os.path.abspath(start))
    for candidate in (folder, *folder.parents):
        if os.path.isfile(candidate / FILE):
            return candidate
    return None


def confinement(folder: str | Path, file_name: str | None = None) -> tuple[Path, str]:
    """The folder that ``use`` paths written in a file of ``folder`` must stay inside, and
    how to name it to the user: the project root; without a project, the current folder
    (or the file's own folder when that lies outside the current one)."""
    folder = Path(os.path.abspath(folder))
    root = find_root(folder)
    if root is not None:
        shown = _shown(root)
        return root, "the project folder" + ("" if shown == "." else f" {shown}") + f" (where {FILE} is)"
    cwd = Path.cwd()
    inside = folder == cwd or cwd in folder.parents
    if not inside or folder == cwd:
        return folder, f"the folder of {file_name}" if file_name else "the current folder"
    return cwd, "the current folder"


def find(start: str | Path) -> Project | None:
    """The project around ``start`` (a folder), read and validated, or None without one."""
    root = find_root(start)
    if root is None:
        return None
    path = root / FILE
    try:
        info = path.stat()
    except OSError:
        return None
    return _load(str(path), info.st_mtime_ns, info.st_size)


_loaded: dict = {}


def _load(path: str, mtime: int, size: int) -> Project:
    key = (path, mtime, size)
    if key not in _loaded:
        _loaded[key] = load(Path(path))
    return _loaded[key]


def load(path: Path) -> Project:
    """Read and validate one ``promptlang.toml``; errors name the file, the line and the key."""
    from .files import read_limited

    shown = _shown(path)
    raw = read_limited(path, MAX_FILE, "a project file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PromptError(f"{shown}: not UTF-8 text (bad byte at offset {exc.start})") from None
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        at = re.search(r"\(at line (\d+), column (\d+)\)", message)
        line, col = (int(at.group(1)), int(at.group(2))) if at else (text.count("\n") + 1, 1)
        message = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", message)
        raise PromptError(f"not valid TOML: {message}", _span(shown, text, line, col), source=text) from None
    root = path.parent
    values: dict = {}
    for table, body in data.items():
        tables = "tables: " + ", ".join(f"[{t}]" for t in KEYS)
        if not isinstance(body, dict):
            raise _error(shown, text, None, table, f"`{table}`: keys belong in a table", tables)
        if table not in KEYS:
            raise _error(shown, text, table, None, f"unknown table [{table}]", tables)
        for key, value in body.items():
            if key not in KEYS[table]:
                raise _error(shown, text, table, key, f"[{table}] unknown key `{key}`",
                             f"keys of [{table}]: " + ", ".join(KEYS[table]))
            check, what = KEYS[table][key]
            if not check(value):
                raise _error(shown, text, table, key, f"[{table}] {key}: expected {what}")
            values[key] = value
    folders = []
    for folder in values.get("folders", ()):
        target = (root / folder).resolve()
        real_root = root.resolve()
        if os.path.isabs(folder) or (target != real_root and real_root not in target.parents):
            raise _error(shown, text, "catalogs", "folders",
                         f"[catalogs] folders: {folder!r} points outside the project folder")
        if not target.is_dir():
            raise _error(shown, text, "catalogs", "folders", f"[catalogs] folders: no such folder {folder!r}")
        folders.append(target)
    requirements = []
    if values.get("require"):
        from .syntax import parse_requirement

        line, col = _where(text, "catalogs", "require")
        for item in values["require"]:
            try:
                use = parse_requirement(item, f"{shown}: [catalogs] require")
            except PromptError as exc:
                raise _error(shown, text, "catalogs", "require", f"[catalogs] require: {item!r}: {exc.message}",
                             'write a catalog name or a quoted path, then constraints: "studio >= 1.2, < 2"') from None
            requirements.append(Requirement(use, _span(shown, text, line, col), text))
    return Project(root=root, name=values.get("name"), folders=tuple(folders),
                   require=tuple(values.get("require", ())), model=values.get("model"), out=values.get("out"),
                   requirements=tuple(requirements))


def _error(shown: str, text: str, table: str | None, key: str | None, message: str,
           hint: str | None = None) -> PromptError:
    line, col = _where(text, table, key)
    return PromptError(message, _span(shown, text, line, col), source=text, hint=hint)


def _where(text: str, table: str | None, key: str | None) -> tuple[int, int]:
    """Line and column of ``key`` in ``[table]`` (of the table's header when ``key`` is None;
    top-level keys have ``table`` None). A plain scan: good for the files people write."""
    current, header = None, None
    for number, line in enumerate(text.splitlines(), 1):
        found = re.match(r"\s*\[\s*([^\[\]]+?)\s*\]", line)
        if found:
            current = found.group(1).strip('"\'')
            if current == table and header is None:
                header = (number, line.index("[") + 1)
            continue
        if key is not None and current == table:
            found = re.match(rf"(\s*)[\"']?{re.escape(key)}[\"']?\s*=", line)
            if found:
                return number, len(found.group(1)) + 1
    return header or (1, 1)


def _span(shown: str, text: str, line: int, col: int) -> Span:
    lines = text.splitlines()
    end = max(col + 1, len(lines[line - 1].rstrip()) + 1) if 0 < line <= len(lines) else col + 1
    return Span(shown, line, col, line, end, 0, 0)


def _shown(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve())) or "."
    except ValueError:
        return str(path)
