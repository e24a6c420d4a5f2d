"""Catalog versions and the lock: pure functions, no I/O beyond what the caller hands in.

- :func:`unmet` compares a catalog's ``version`` with the constraints of a ``use`` line
  (``use studio >= 1.2, < 2``), numerically by dotted parts (``packaging.version``,
  imported only when a constraint is written: start-up stays small).
- :func:`entries` lists the catalogs a scope holds, as ``promptlang.lock`` records them
  (name, version, source, sha256); :func:`dumps` / :func:`loads` write and read that file
  (TOML, sorted, stable); :func:`mismatches` says which catalogs no longer match it.
"""
from __future__ import annotations

import json
import operator
from pathlib import Path

FILE = "promptlang.lock"
FORMAT = 1
BUNDLED = "bundled"

_OPS = {">=": operator.ge, "<=": operator.le, "==": operator.eq, "!=": operator.ne,
        ">": operator.gt, "<": operator.lt}


class BadVersion(ValueError):
    """A catalog's ``version`` that cannot be compared (``beta``)."""


def parse_version(text: str):
    from packaging.version import InvalidVersion, Version

    try:
        return Version(text)
    except InvalidVersion:
        raise BadVersion(text) from None


def unmet(version: str, constraints) -> list:
    """The constraints (``ast.Constraint``: ``op``, ``version``) that ``version`` fails; raises
    :class:`BadVersion` when ``version`` is not a version."""
    if not constraints:
        return []
    found = parse_version(version)
    return [c for c in constraints if not _OPS[c.op](found, parse_version(c.version))]


# ---------------------------------------------------------------- the lock

def root_for(path: str | Path) -> Path:
    """Where ``promptlang.lock`` lies for ``path`` (a file or folder): the project root, or
    the current folder without a project."""
    from .project import find_root

    path = Path(path)
    return find_root(path if path.is_dir() else path.parent) or Path.cwd()


def read(root: Path) -> list[dict] | None:
    """The records of ``root``'s lock, None when there is none; ValueError when it is not one."""
    from .files import read_limited

    target = Path(root) / FILE
    if not target.is_file():
        return None
    try:
        return loads(read_limited(target, 4 * 1024 * 1024, "a lock file").decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None


def source_of(path: str | Path, root: Path, bundled_dir: Path) -> str:
    """Where a catalog comes from, as the lock writes it: ``bundled``, or its path relative
    to the project root (with ``/``), or an absolute path for one outside the root."""
    real = Path(path).resolve()
    if real.parent == Path(bundled_dir).resolve():
        return BUNDLED
    try:
        return real.relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return real.as_posix()


def entries(catalogs, root: Path, bundled_dir: Path) -> list[dict]:
    """One record per catalog (``catalog.Catalog``, whose ``path`` is relative to the current
    folder or absolute), sorted by name and source, each source once."""
    out = {}
    for cat in catalogs:
        source = source_of(cat.path, root, bundled_dir)
        out[(cat.name, source)] = {"name": cat.name, "version": cat.version, "source": source,
                                   "sha256": cat.sha256}
    return [out[k] for k in sorted(out)]


def dumps(records: list[dict]) -> str:
    """The text of ``promptlang.lock`` (TOML); the same records give the same bytes."""
    lines = ["# promptlang.lock: written by `promptlang lock`; `promptlang check --locked` compares",
             "# the catalogs in use with it. Do not edit: run `promptlang lock --overwrite` again.",
             f"format = {FORMAT}", ""]
    for rec in sorted(records, key=lambda r: (r["name"], r["source"])):
        lines.append("[[catalog]]")
        for key in ("name", "version", "source", "sha256"):
            lines.append(f"{key} = {json.dumps(str(rec[key]), ensure_ascii=False)}")
        lines.append("")
    return "\n".join(lines)


def loads(text: str) -> list[dict]:
    """The records of a ``promptlang.lock``; ValueError (with the reason) when it is not one."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"not valid TOML: {exc}") from None
    if data.get("format") != FORMAT:
        raise ValueError(f"unknown lock format {data.get('format')!r} (this promptlang writes {FORMAT})")
    records = data.get("catalog", [])
    keys = {"name", "version", "source", "sha256"}
    if not isinstance(records, list) or not all(
            isinstance(r, dict) and set(r) == keys and all(isinstance(v, str) for v in r.values()) for r in records):
        raise ValueError("each [[catalog]] holds exactly name, version, source and sha256 (strings)")
    return records


def mismatches(current: list[dict], locked: list[dict]) -> list[str]:
    """Why the catalogs in use (``current``, from :func:`entries`) do not match the lock:
    one sentence per catalog, naming it; empty when they all match."""
    by_source = {r["source"]: r for r in locked}
    problems = []
    for rec in current:
        name, source = rec["name"], rec["source"]
        old = by_source.get(source)
        if old is None:
            problems.append(f"catalog `{name}` ({source}) is not in {FILE}")
        elif old["name"] != name:
            problems.append(f"catalog `{name}` ({source}) was `{old['name']}` when {FILE} was written")
        elif old["version"] != rec["version"]:
            problems.append(f"catalog `{name}` ({source}) is version {rec['version']}; {FILE} has "
                            f"{old['version']}")
        elif old["sha256"] != rec["sha256"]:
            problems.append(f"catalog `{name}` ({source}) changed since {FILE} was written "
                            f"(sha256 {rec['sha256'][:12]}…, locked {old['sha256'][:12]}…)")
    return problems


# ---------------------------------------------------------------- catalog diff

DIFF_FIELDS = ("text", "negative", "weight", "tags", "file", "sha256")


def diff(old, new) -> dict:
    """Entries added, removed and changed from catalog ``old`` to ``new``, per section:
    ``{section: {"added": [key], "removed": [key], "changed": {key: {field: (before, after)}}}}``
    (sections without a difference are left out; keys sorted)."""
    out = {}
    sections = list(dict.fromkeys([*old.entries, *new.entries]))
    for section in sections:
        a, b = old.entries.get(section, {}), new.entries.get(section, {})
        changed = {}
        for key in sorted(set(a) & set(b)):
            fields = {f: (getattr(a[key], f), getattr(b[key], f)) for f in DIFF_FIELDS
                      if getattr(a[key], f) != getattr(b[key], f)}
            if fields:
                changed[key] = fields
        added, removed = sorted(set(b) - set(a)), sorted(set(a) - set(b))
        if added or removed or changed:
            out[section] = {"added": added, "removed": removed, "changed": changed}
    return out
