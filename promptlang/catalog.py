"""Style catalogs: YAML files that name formats, styles, quality boosters and negatives.

Catalogs are shared between people, so they are untrusted: they are read with
PyYAML's safe loader (no tags that build Python objects), validated with errors
that name the file, the key path and the line, and their entry texts are Jinja2
templates rendered only in a sandbox (see :mod:`promptlang.template`).
"""
from __future__ import annotations

import bisect
import gc
import hashlib
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .ast import Span
from .cache import read_json, write_json
from .errors import PromptError, span_at, suggest
from .files import read_limited
from .resources import styles_dir

SECTIONS = ("format", "style", "quality", "negative")
# Files a render loads beside the text: a LoRA (`lora NAME:0.8` in a prompt) and a
# textual-inversion embedding (its name as an item of any slot: `negative easynegative`).
ADAPTER_SECTIONS = ("lora", "embedding")
TOP_KEYS = ("name", "version", "description", "requires") + SECTIONS + ADAPTER_SECTIONS + ("wildcards",)
WILD_KEYS = ("text", "negative", "weight", "chance")
WILD_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-]*$")
MAX_WILD_VALUES = 100_000  # values of all a catalog's wildcards
MAX_WILD_DEPTH = 16  # wildcards nested in wildcards (`colors: {warm: [...]}` is __colors/warm__)
ENTRY_KEYS = ("text", "negative", "weight", "tags", "description")
ADAPTER_KEYS = {"lora": ("file", "trigger", "weight", "sha256", "tags", "description"),
                "embedding": ("file", "weight", "sha256", "tags", "description")}
ADAPTER_SUFFIX = ".safetensors"  # never a pickle (.pt, .bin, .ckpt)
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
KEY_RE = re.compile(r"^[0-9]*[A-Za-z_][A-Za-z0-9_]*$")
MAX_FILE = 2_000_000
MAX_TEXT = 2_000
MAX_REQUIRES_DEPTH = 16
MAX_NAME_BYTES = 255  # of one file name (NAME_MAX on Linux and macOS)


@dataclass(frozen=True, slots=True)
class Entry:
    section: str
    key: str
    text: str
    negative: str = ""
    weight: float = 1.0
    tags: tuple[str, ...] = ()
    description: str = ""
    catalog: str = ""
    span: Span | None = field(default=None, compare=False)
    # `lora` and `embedding` entries: the file (relative to the catalog, as written) and the
    # sha256 it must have (empty: not stated); ``text`` is a LoRA's trigger words (may be
    # empty) or an embedding's token, its entry name
    file: str = ""
    sha256: str = ""


@dataclass(frozen=True, slots=True)
class Catalog:
    name: str
    version: str
    description: str
    path: str
    sha256: str
    requires: tuple[str, ...]
    entries: dict  # section -> {key: Entry}: every one of SECTIONS; `lora`/`embedding` where it has some
    source: str = field(default="", repr=False, compare=False)
    wildcards: dict = field(default_factory=dict, repr=False, compare=False)  # name -> tuple[WildValue]

    def get(self, section: str, key: str) -> Entry | None:
        return self.entries.get(section, {}).get(key)


def bundled_names() -> list[str]:
    return sorted(p.stem for p in styles_dir().glob("*.yaml"))


def find(name: str, search_dirs=()) -> Path | None:
    """A catalog named ``name``: ``NAME.yaml`` in the search folders, then the bundled ones,
    then an installed catalog package (see :func:`installed`)."""
    if not name or len(f"{name}.yaml".encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES or "\0" in name:
        return None  # no file can have that name: "no catalog named …", where the `use` line is
    for folder in [*search_dirs, styles_dir()]:
        candidate = Path(folder) / f"{name}.yaml"
        try:
            if candidate.is_file():
                return candidate
        except (OSError, ValueError):  # a name the system will not look up is no catalog
            continue
    # Only now: importing importlib.metadata and reading every installed distribution's
    # entry points costs tens of milliseconds, more than the rest of a short compile.
    package = installed().get(name)
    return package.path() if package is not None else None


# Catalog packages. A distribution declares, in the entry-point group below, a catalog
# name and where its YAML lies, as `module:file` (`studio = "studio_styles:catalog.yaml"`):
# the file `catalog.yaml` in the folder of the package `studio_styles`. Nothing of the
# package is imported or run: the file is found among the distribution's installed files,
# or (an editable install) through the import system's finders, which only look at folders.
# What the file holds is then read like any other catalog: untrusted data.
ENTRY_POINT_GROUP = "promptlang.catalogs"
CATALOG_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Package:
    """An installed catalog package's entry point: ``name = "module:file"``."""
    name: str
    value: str
    dist: str
    dist_version: str
    _dist: object = field(default=None, repr=False, compare=False)

    @property
    def label(self) -> str:
        return f"package {self.dist} {self.dist_version}".rstrip()

    def path(self) -> Path:
        """The catalog file, or a PromptError naming the distribution."""
        def fail(problem: str) -> PromptError:
            return PromptError(f"catalog `{self.name}` from {self.label}: {problem}",
                               hint=f"its entry point in [project.entry-points.\"{ENTRY_POINT_GROUP}\"] should "
                                    f"read {self.name} = \"PACKAGE:catalog.yaml\" (a YAML file inside the "
                                    f"package's folder); reinstall or fix the package `{self.dist}`")

        module, sep, filename = self.value.partition(":")
        module, filename = module.strip(), filename.strip()
        if not sep or not module or not filename:
            raise fail(f"entry point {self.value!r} is not `module:file.yaml`")
        parts = module.split(".")
        if not all(part.isidentifier() for part in parts):
            raise fail(f"entry point {self.value!r}: {module!r} is not a module name")
        if "/" in filename or "\\" in filename or filename in (".", "..") or filename.startswith(".") \
                or not filename.endswith(CATALOG_SUFFIXES):
            raise fail(f"entry point {self.value!r}: {filename!r} is not the name of a .yaml file "
                       "in the package's folder")
        for folder in self._folders(parts):
            candidate = folder / filename
            try:
                if candidate.is_file():
                    return candidate
            except (OSError, ValueError):
                continue
        raise fail(f"entry point {self.value!r}: the file {'/'.join(parts)}/{filename} is not installed")

    def _folders(self, parts: list) -> list:
        """Where the package ``parts`` may lie: among the distribution's files first, then
        as the import system would find it (without importing it)."""
        folders = []
        files = getattr(self._dist, "files", None) if self._dist is not None else None
        try:
            for item in files or ():
                if tuple(item.parts[:-1]) == tuple(parts) and item.name == "__init__.py":
                    folders.append(Path(self._dist.locate_file(item)).parent)
        except Exception:  # a broken RECORD: fall back on the finders
            pass
        try:
            import importlib.machinery
            import sys

            spec = importlib.machinery.PathFinder.find_spec(parts[0], sys.path)
            locations = list(spec.submodule_search_locations or []) if spec is not None else []
            folders += [Path(loc, *parts[1:]) for loc in locations]
        except Exception:
            pass
        return folders


def installed() -> dict:
    """name -> :class:`Package` for every installed catalog package (the first one found
    for a name, in sys.path order)."""
    from importlib.metadata import entry_points

    found = {}
    try:
        points = entry_points(group=ENTRY_POINT_GROUP)
    except Exception as exc:  # a broken distribution's metadata
        raise PromptError(f"cannot read the installed catalog packages: {exc}") from None
    for point in points:
        if point.name in found:
            continue
        dist = getattr(point, "dist", None)
        try:
            dist_name = dist.metadata["Name"] or "?" if dist is not None else "?"
            dist_version = dist.version or "" if dist is not None else ""
        except Exception:
            dist_name, dist_version = "?", ""
        found[point.name] = Package(point.name, point.value, dist_name, dist_version, dist)
    return found


def confined(base: Path, relative: str, *, what: str, folder: str, span: Span | None,
             source: str | None, root: Path | None = None, kind: str = "catalogs") -> Path:
    """Resolve ``relative`` against ``base`` and refuse anything that leaves ``root``
    (``base`` itself when not given; the project folder, see :mod:`promptlang.project`).

    ``folder`` names ``root`` for the user ("the folder of main.prompt").
    """
    if os.path.isabs(relative) or relative.startswith("~"):
        raise PromptError(f"{what} {relative!r} must be relative to {folder}, not absolute",
                          span, source=source)
    if "\0" in relative or any(len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES
                                for part in Path(relative).parts):
        raise PromptError(f"{what} {_short(relative)} cannot name a file (a part of it is longer than "
                          f"{MAX_NAME_BYTES} bytes, or it holds a NUL)", span, source=source)
    try:
        target = (base / relative).resolve()
        target.is_file()  # a path the system refuses to look up (too long…) fails here, not later
    except (OSError, ValueError) as exc:
        raise PromptError(f"{what} {_short(relative)} cannot be read: {getattr(exc, 'strerror', None) or exc}",
                          span, source=source) from None
    root = (base if root is None else root).resolve()
    if target != root and root not in target.parents:
        raise PromptError(f"{what} {relative!r} points outside {folder}; {kind} must stay inside it",
                          span, source=source,
                          hint="copy the catalog inside it, make the folder above both a project (a "
                               "promptlang.toml there), or pass its folder with --catalogs DIR and `use` it by name"
                          if kind == "catalogs" else f"copy the file inside {folder}, or make the folder above "
                                                     "both a project (a promptlang.toml there)")
    return target


def _short(text: str, most: int = 60) -> str:
    return repr(text if len(text) <= most else text[:most] + "…")


def load(path: Path | str, *, display: str | None = None) -> Catalog:
    """Load and validate one catalog file (not its ``requires``).

    Loaded catalogs are kept per (file, size, modification time, shown name): compiling
    many one-prompt files against the same catalog reads and validates it once.
    """
    path = Path(path)
    shown = display or str(path)
    try:
        stat = path.stat()
    except OSError as exc:
        raise PromptError(f"cannot read catalog {shown}: {exc.strerror or exc}") from None
    return _load_cached(str(path.resolve()), stat.st_size, stat.st_mtime_ns, shown)


@lru_cache(maxsize=64)
def _load_cached(path: str, size: int, mtime_ns: int, shown: str) -> Catalog:
    try:
        raw = read_limited(path, MAX_FILE, "a catalog")
    except PromptError as exc:
        raise PromptError(f"catalog {shown}: {exc.message.removeprefix(f'{path}: ')}") from None
    try:
        source = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PromptError(f"catalog {shown} is not UTF-8 text (byte {exc.start})") from None
    sha = hashlib.sha256(raw).hexdigest()
    key = f"{sha}-{CACHE_FORMAT}"
    cached = _from_cache(read_json("catalogs", key), shown, source, sha)
    if cached is not None:
        return cached
    # Composing makes a few objects per character and keeps them all: the cyclic garbage
    # collector, run again and again over them, took half the time of a 2 MB catalog.
    paused = gc.isenabled()
    gc.disable()
    try:
        cat = _Validator(shown, source, sha).catalog()
    finally:
        if paused:
            gc.enable()
    write_json("catalogs", key, _to_cache(cat))
    return cat


# Validating a catalog means importing PyYAML and composing every node (about 15 ms for
# styles/core.yaml, a tenth of a short command); what validation gives depends only on the
# file's bytes, so it is kept in promptlang's cache as JSON, under the file's sha256 and
# this format (bump it when validation changes what it gives). Only valid catalogs are kept.
CACHE_FORMAT = "catalog-4"  # 3 was two formats (LoRA files; wildcards) before they met
_SPAN = ("line", "column", "end_line", "end_column", "start", "end")


def _to_cache(cat: Catalog) -> dict:
    def entry(e: Entry) -> list:
        span = [getattr(e.span, k) for k in _SPAN] if e.span is not None else None
        return [e.text, e.negative, e.weight, list(e.tags), e.description, span, e.file, e.sha256]

    return {"name": cat.name, "version": cat.version, "description": cat.description,
            "requires": list(cat.requires),
            "wildcards": {name: [[v.text, v.negative, v.weight, v.chance, v.where] for v in values]
                          for name, values in cat.wildcards.items()},
            "entries": {section: {key: entry(e) for key, e in items.items()} for section, items in cat.entries.items()}}


def _from_cache(data, shown: str, source: str, sha: str) -> Catalog | None:
    """The catalog a cache entry holds, or None when there is none or it is not one we wrote."""
    if not isinstance(data, dict):
        return None
    try:
        entries = {}
        for section in SECTIONS + ADAPTER_SECTIONS:
            if section in ADAPTER_SECTIONS and section not in data["entries"]:
                continue
            items = {}
            for key, (text, negative, weight, tags, description, span, file, digest) in data["entries"][section].items():
                where = Span(shown, *span) if span is not None else None
                items[key] = Entry(section, key, text, negative, float(weight), tuple(tags), description,
                                   data["name"], where, file, digest)
            entries[section] = items
        wildcards = {}
        if data["wildcards"]:  # the choices module (WildValue) only for a catalog that has some
            from .choices import WildValue

            wildcards = {name: tuple(WildValue(t, n, float(w), float(c), where) for t, n, w, c, where in values)
                         for name, values in data["wildcards"].items()}
        return Catalog(data["name"], data["version"], data["description"], shown, sha, tuple(data["requires"]),
                       entries, source, wildcards)
    except (KeyError, TypeError, ValueError):
        return None


# libyaml (PyYAML's C extension) composes the same nodes, with the same marks, about ten
# times faster than the pure-Python loader; the pure-Python one stays the fallback and
# the reference for error messages (tests/test_startup_pieces.py compares the two).
# None: libyaml's CSafeLoader where PyYAML has it (PyYAML is imported only when needed).
FastLoader = None


def fast_loader():
    import yaml

    return FastLoader or getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Where libyaml and PyYAML were found to disagree (tests/test_startup_pieces.py fuzzes
# them): libyaml accepts tabs and some block-scalar headers PyYAML refuses, tags an empty
# `!` value as a string, counts a byte-order mark differently in its marks, and ends a
# block collection on the next line when the text has no final line break. Texts with
# any of these characters (tags, block scalars, directives, anchors, complex keys) take
# the slow road; plain catalogs such as styles/*.yaml never do.
SLOW_ROAD = ("\t", "\ufeff", "!", "|", ">", "%", "&", "*", "?")


def fast_road(source: str) -> bool:
    return source.endswith("\n") and not any(c in source for c in SLOW_ROAD)


@lru_cache(maxsize=8)
def _text_keys(loader_class):
    """``loader_class`` with mapping keys taken as their text: YAML 1.1 reads keys such as
    `on`, `no` and `null` as True, False and None (and `off`/`no` then collide), but a
    catalog's keys are names. Values keep their types (`weight: 1.2` is a number)."""
    import yaml

    class TextKeys(loader_class):
        def construct_mapping(self, node, deep=False):
            if not isinstance(node, yaml.MappingNode):
                return super().construct_mapping(node, deep=deep)
            return {(k.value if isinstance(k, yaml.ScalarNode) else _ComplexKey(k)):
                    self.construct_object(v, deep=deep) for k, v in node.value}

    return TextKeys


class _ComplexKey:
    """A key that is a list or a mapping; :meth:`_Validator.check_keys` refuses it."""

    def __init__(self, node):
        self.node = node

    def __repr__(self) -> str:
        return "<complex key>"


def compose(source: str, loader_class=None):
    """(root node, plain data) of a one-document YAML text; (None, None) when it is empty.

    Mapping keys are strings: the key's text as written."""
    loader = _text_keys(loader_class or fast_loader())(source)
    try:
        root = loader.get_single_node()
        return root, (loader.construct_document(root) if root is not None else None)
    finally:
        loader.dispose()


class _Validator:
    def __init__(self, path: str, source: str, sha: str):
        self.path, self.source, self.sha = path, source, sha
        self._starts = None  # offsets where each line begins, made on the first span

    def span_at(self, offset: int, length: int = 1) -> Span:
        """:func:`errors.span_at` in O(log n): every entry has a span, and counting line
        breaks from the start of the file for each made loading quadratic."""
        if self._starts is None:
            self._starts = [0] + [m.end() for m in re.finditer("\n", self.source)]
        line = bisect.bisect_right(self._starts, offset)
        col = offset - self._starts[line - 1] + 1
        return Span(self.path, line, col, line, col + max(1, length), offset, offset + length)

    def span(self, node) -> Span | None:
        if node is None:
            return None
        m = node.start_mark
        end = node.end_mark
        length = end.index - m.index if end.line == m.line else 1
        return self.span_at(m.index, max(1, length))

    def fail(self, keypath: str, message: str, node=None) -> PromptError:
        where = f"{keypath}: " if keypath else ""
        return PromptError(f"{where}{message}" if node is not None else f"{self.path}: {where}{message}",
                           self.span(node), source=self.source)

    def catalog(self) -> Catalog:
        import yaml

        fast = fast_loader()
        try:
            if not fast_road(self.source):
                raise yaml.YAMLError("known to differ")
            root, data = compose(self.source, fast)
        except yaml.YAMLError:
            # libyaml words its errors differently: read the file again with PyYAML's own
            # loader so that the message, line and column stay exactly the same.
            root = data = None
        if fast is yaml.SafeLoader or root is None:
            root, data = self.compose_slowly()
        return self.validate(root, data)

    def compose_slowly(self):
        import yaml

        try:
            return compose(self.source, yaml.SafeLoader)
        except yaml.constructor.ConstructorError as exc:
            mark = exc.problem_mark
            raise PromptError("catalog uses a YAML tag that is not allowed (catalogs are plain data: "
                              f"mappings, lists, strings and numbers): {exc.problem}",
                              span_at(self.path, self.source, mark.index) if mark else None,
                              source=self.source) from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
            problem = getattr(exc, "problem", None) or str(exc)
            if getattr(exc, "context", None):
                problem = f"{exc.context}: {problem}"
            raise PromptError(f"invalid YAML: {problem}",
                              span_at(self.path, self.source, min(mark.index, len(self.source)))
                              if mark else None, source=self.source) from None

    def check_keys(self, root) -> None:
        """Refuse duplicate keys and keys that are not plain scalars, anywhere in the file.

        Each node is walked once (aliases share nodes), so this is linear in the file."""
        import yaml

        seen, todo = set(), [(root, "")]
        while todo:
            node, path = todo.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if isinstance(node, yaml.SequenceNode):
                todo.extend((item, f"{path}[{i}]") for i, item in reversed(list(enumerate(node.value))))
            elif isinstance(node, yaml.MappingNode):
                first = {}
                for k, v in node.value:
                    if not isinstance(k, yaml.ScalarNode):
                        raise self.fail(path or "(top level)", "keys are plain names, not lists or mappings", k)
                    keypath = f"{path}.{k.value}" if path else k.value
                    if k.value in first:
                        line = self.span(first[k.value]).line
                        raise self.fail(keypath, f"defined twice, on lines {line} and {self.span(k).line} "
                                        "(keys must be unique)", k)
                    first[k.value] = k
                todo.extend((v, f"{path}.{k.value}" if path else k.value) for k, v in reversed(node.value))

    def validate(self, root, data) -> Catalog:
        if root is not None:
            self.check_keys(root)
        if not isinstance(data, dict):
            raise self.fail("", "a catalog is a mapping with `name`, `version` and sections "
                            + ", ".join(SECTIONS), root)
        nodes = self.children(root)
        for key in data:
            if key not in TOP_KEYS:
                raise self.fail(str(key), f"unknown key{suggest(str(key), TOP_KEYS)} (allowed: "
                                + ", ".join(TOP_KEYS) + ")", nodes.get(key, (root,))[0])
        name = self.string(data, "name", nodes, required=True, parent=root)
        if not KEY_RE.match(name):
            raise self.fail("name", f"expected a name made of letters, digits and `_`, got {name!r}",
                            nodes["name"][1])
        version = data.get("version", "0")
        if not isinstance(version, (str, int, float)) or isinstance(version, bool):
            raise self.fail("version", "expected a version such as 1.0.0", nodes["version"][1])
        if "version" in nodes:  # as written: `1.10` is not the number 1.1
            version = nodes["version"][1].value
        description = self.string(data, "description", nodes)
        requires = data.get("requires") or []
        if not isinstance(requires, list) or not all(isinstance(r, str) and r for r in requires):
            raise self.fail("requires", "expected a list of catalog names or relative paths",
                            nodes.get("requires", (root, root))[1])
        entries = {}
        for section in SECTIONS:
            entries[section] = self.section(name, section, data.get(section), nodes.get(section))
        for section in ADAPTER_SECTIONS:  # only where a catalog has them: `entries` keeps its shape otherwise
            found = self.section(name, section, data.get(section), nodes.get(section))
            if found:
                entries[section] = found
        wildcards = {}
        if data.get("wildcards") is not None:
            self.wildcard_map(data["wildcards"], nodes["wildcards"][1], "", wildcards, 0)
        return Catalog(name, str(version), description, self.path, self.sha, tuple(requires),
                       entries, self.source, wildcards)

    def wildcard_map(self, value, node, prefix: str, out: dict, depth: int) -> None:
        """``wildcards:``: names to lists of values; a mapping inside is a folder
        (``colors: {warm: [...]}`` is ``__colors/warm__``)."""
        keypath = "wildcards" + ("." + prefix.rstrip("/").replace("/", ".") if prefix else "")
        if not isinstance(value, dict):
            raise self.fail(keypath, "expected a mapping of wildcard names to lists of values", node)
        if depth > MAX_WILD_DEPTH:
            raise self.fail(keypath, f"wildcards nest more than {MAX_WILD_DEPTH} deep", node)
        nodes = self.children(node)
        for key, item in value.items():
            knode, vnode = nodes.get(key, (node, node))
            name = f"{prefix}{key}"
            where = f"wildcards.{name.replace('/', '.')}"
            if not WILD_NAME.match(str(key)):
                raise self.fail(where, "wildcard names are letters, digits, `_` and `-`", knode)
            if isinstance(item, dict):
                self.wildcard_map(item, vnode, name + "/", out, depth + 1)
            elif isinstance(item, list):
                values: list = []
                self.wildcard_values(item, vnode, where, values, depth)
                out[name] = tuple(values)
                if sum(len(v) for v in out.values()) > MAX_WILD_VALUES:
                    raise self.fail(where, f"the wildcards hold more than {MAX_WILD_VALUES:,} values", vnode)
            else:
                raise self.fail(where, "expected a list of values (or a mapping of wildcards inside it)", vnode)

    def wildcard_values(self, items: list, node, where: str, out: list, depth: int) -> None:
        """A wildcard's values: strings (dynamicprompts syntax: `{a|b}`, `__other__`), numbers,
        mappings with `text`, `negative`, `weight` and `chance`, and lists (their values, in place)."""
        import yaml

        from .choices import WildValue

        children = node.value if isinstance(node, yaml.SequenceNode) else [node] * len(items)
        for i, (item, inode) in enumerate(zip(items, children)):
            at = f"{where}[{i}]"
            shown = f"{self.path}:{self.span(inode).line}" if inode is not None else self.path
            if isinstance(item, bool) or item is None:
                raise self.fail(at, "expected a string, a number or a mapping with `text`", inode)
            if isinstance(item, list):
                if depth > MAX_WILD_DEPTH:
                    raise self.fail(at, f"lists nest more than {MAX_WILD_DEPTH} deep", inode)
                self.wildcard_values(item, inode, at, out, depth + 1)
                continue
            if isinstance(item, (str, int, float)):
                text = str(item) if not isinstance(item, str) else item
                if len(text) > MAX_TEXT:
                    raise self.fail(at, f"is too long ({len(text):,} characters; at most {MAX_TEXT:,})", inode)
                out.append(WildValue(text, where=shown))
                continue
            if not isinstance(item, dict):
                raise self.fail(at, "expected a string, a number or a mapping with `text`", inode)
            nodes = self.children(inode)
            for k in item:
                if k not in WILD_KEYS:
                    raise self.fail(f"{at}.{k}", f"unknown field{suggest(str(k), WILD_KEYS)} (allowed: "
                                    + ", ".join(WILD_KEYS) + ")", nodes.get(k, (inode,))[0])
            text = self.string(item, "text", nodes, required=True, prefix=f"{at}.", parent=inode)
            negative = self.string(item, "negative", nodes, prefix=f"{at}.")
            numbers = []
            for k, low in (("weight", -100), ("chance", 0)):
                v = item.get(k, 1.0)
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not low <= v <= (100 if k == "weight"
                                                                                            else 1e6):
                    raise self.fail(f"{at}.{k}", f"expected a number between {low} and "
                                    f"{100 if k == 'weight' else '1,000,000'}", nodes.get(k, (inode, inode))[1])
                numbers.append(float(v))
            out.append(WildValue(text, negative, numbers[0], numbers[1], shown))

    @staticmethod
    def children(node) -> dict:
        """key -> (key node, value node) for a mapping node."""
        import yaml

        if not isinstance(node, yaml.MappingNode):
            return {}
        return {k.value: (k, v) for k, v in node.value}  # keys are text; check_keys made them unique

    def string(self, data: dict, key: str, nodes: dict, *, required=False, prefix="", parent=None) -> str:
        keypath = f"{prefix}{key}"
        if key not in data or data[key] is None:
            if required:
                raise self.fail(keypath, "is missing", nodes[key][1] if key in nodes else parent)
            return ""
        value = data[key]
        if not isinstance(value, str):
            raise self.fail(keypath, f"expected a string, got {type(value).__name__}", nodes[key][1])
        if len(value) > MAX_TEXT:
            raise self.fail(keypath, f"is too long ({len(value):,} characters; at most {MAX_TEXT:,})",
                            nodes[key][1])
        return value

    def section(self, catalog: str, section: str, value, pair) -> dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(section, "expected a mapping of entry names to entries", pair[1])
        nodes = self.children(pair[1])
        out = {}
        for key, entry in value.items():
            key_s = str(key)
            knode, vnode = nodes.get(key, (pair[1], pair[1]))
            if not KEY_RE.match(key_s):
                raise self.fail(f"{section}.{key_s}", "entry names are letters, digits and `_` "
                                "(and may not be only digits)", knode)
            if section in ADAPTER_SECTIONS:
                if not isinstance(entry, dict):
                    raise self.fail(f"{section}.{key_s}", "expected a mapping with `file` (a .safetensors file "
                                    "relative to the catalog)", vnode)
                out[key_s] = self.adapter(catalog, section, key_s, entry, self.children(vnode), vnode)
                continue
            if isinstance(entry, str):
                entry = {"text": entry}
                enodes = {"text": (knode, vnode)}
            elif isinstance(entry, dict):
                enodes = self.children(vnode)
            else:
                raise self.fail(f"{section}.{key_s}", "expected a mapping with `text` (or a plain string)",
                                vnode)
            out[key_s] = self.entry(catalog, section, key_s, entry, enodes, vnode)
        return out

    def entry(self, catalog: str, section: str, key: str, data: dict, nodes: dict, node) -> Entry:
        prefix = f"{section}.{key}."
        for k in data:
            if k not in ENTRY_KEYS:
                raise self.fail(f"{prefix}{k}", f"unknown field{suggest(str(k), ENTRY_KEYS)} (allowed: "
                                + ", ".join(ENTRY_KEYS) + ")", nodes.get(k, (node,))[0])
        text = self.string(data, "text", nodes, required=True, prefix=prefix, parent=node)
        if not text.strip():
            raise self.fail(f"{prefix}text", "is empty", nodes["text"][1])
        negative = self.string(data, "negative", nodes, prefix=prefix)
        description = self.string(data, "description", nodes, prefix=prefix)
        weight, tags = self.weight_and_tags(data, nodes, node, prefix)
        span = self.span(nodes["text"][1])
        return Entry(section, key, text, negative, float(weight), tuple(tags), description, catalog, span)

    def weight_and_tags(self, data: dict, nodes: dict, node, prefix: str) -> tuple:
        """An entry's ``weight`` (a number from -100 to 100, default 1) and ``tags`` (strings)."""
        weight = data.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not -100 <= weight <= 100:
            raise self.fail(f"{prefix}weight", "expected a number between -100 and 100",
                            nodes.get("weight", (node, node))[1])
        tags = data.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise self.fail(f"{prefix}tags", "expected a list of strings", nodes.get("tags", (node, node))[1])
        return weight, tags

    def adapter(self, catalog: str, section: str, key: str, data: dict, nodes: dict, node) -> Entry:
        """A `lora` or `embedding` entry: ``file`` (a relative .safetensors path; where it
        points is checked against the catalog's folder when a prompt uses it), ``trigger``
        words (LoRAs), the default ``weight``, the ``sha256`` the file must have."""
        prefix = f"{section}.{key}."
        allowed = ADAPTER_KEYS[section]
        for k in data:
            if k not in allowed:
                raise self.fail(f"{prefix}{k}", f"unknown field{suggest(str(k), allowed)} (allowed: "
                                + ", ".join(allowed) + ")", nodes.get(k, (node,))[0])
        file = self.string(data, "file", nodes, required=True, prefix=prefix, parent=node)
        if not file.endswith(ADAPTER_SUFFIX):
            raise self.fail(f"{prefix}file", f"expected a {ADAPTER_SUFFIX} file (pickle files such as .pt, .bin "
                            "and .ckpt can run code when loaded, and are never read)", nodes["file"][1])
        if os.path.isabs(file) or file.startswith("~") or "\0" in file:
            raise self.fail(f"{prefix}file", "expected a path relative to the catalog's folder", nodes["file"][1])
        trigger = self.string(data, "trigger", nodes, prefix=prefix)
        sha = self.string(data, "sha256", nodes, prefix=prefix).lower()
        if sha and not SHA256_RE.match(sha):
            raise self.fail(f"{prefix}sha256", "expected 64 hexadecimal digits", nodes["sha256"][1])
        description = self.string(data, "description", nodes, prefix=prefix)
        weight, tags = self.weight_and_tags(data, nodes, node, prefix)
        text = trigger if section == "lora" else key
        return Entry(section, key, text, "", float(weight), tuple(tags), description, catalog,
                     self.span(nodes["file"][1]), file, sha)
