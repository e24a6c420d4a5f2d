"""A small on-disk cache of JSON documents (and, through :func:`entry_path`, safetensors
files), for work that is the same every run.

``$XDG_CACHE_HOME/promptlang`` (``~/.cache/promptlang``; ``$PROMPTLANG_CACHE`` overrides,
and ``PROMPTLANG_CACHE=off`` turns it off). Each entry is a JSON file named by a key that
already says everything its content depends on (a content hash, the promptlang version),
so an entry is never stale, only unused. A cache is only ever a shortcut: an entry that
cannot be read is a miss, and one that cannot be written is no error.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

MAX_ENTRY = 8 * 1024 * 1024  # bytes of one cache entry we are willing to read
_KEY = re.compile(r"[A-Za-z0-9_.-]{1,200}")


def folder() -> Path | None:
    """The cache's root folder, or None when caching is off."""
    chosen = os.environ.get("PROMPTLANG_CACHE")
    if chosen:
        return None if chosen.lower() in ("off", "0", "no", "false") else Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "promptlang"


def _path(kind: str, key: str, suffix: str = ".json") -> Path | None:
    root = folder()
    if root is None or not _KEY.fullmatch(kind) or not _KEY.fullmatch(key):
        return None
    return root / kind / f"{key}{suffix}"


def entry_path(kind: str, key: str, suffix: str) -> Path | None:
    """Where an entry that is not JSON (``suffix=".safetensors"``: tensors, never pickle) is
    kept under ``kind``/``key``, or None when caching is off. The caller reads it with its
    own bounded, validating reader and writes it atomically; the same rules hold: a bad
    entry is a miss, a failed write no error."""
    return _path(kind, key, suffix)


def read_json(kind: str, key: str):
    """The document stored under ``kind``/``key``, or None (a miss, or caching is off)."""
    path = _path(kind, key)
    if path is None:
        return None
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_ENTRY + 1)
        if len(raw) > MAX_ENTRY:
            return None
        import json

        return json.loads(raw)
    except (OSError, ValueError):
        return None


def write_json(kind: str, key: str, document) -> None:
    """Store ``document`` under ``kind``/``key`` (atomically; failures are ignored)."""
    path = _path(kind, key)
    if path is None:
        return
    import json

    from .files import write_bytes

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(path, json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    except (OSError, TypeError, ValueError):
        pass
