"""Decompile: other tools' prompts (and the settings their PNGs carry) as ``.prompt`` text.

``decompile(text, "a1111")`` -> ``.prompt`` source. Each tool has a reader (``a1111``,
``comfyui``, ``compel``, ``midjourney``) producing a :class:`~.model.Decompiled`; one
writer (:mod:`.write`) makes the source, matching words against catalog entries when
catalogs are given. Images: :mod:`.images` reads the metadata chunks of a PNG (given as
a dict; reading the file is the caller's job). Pure: nothing is read, written or printed.
"""
from __future__ import annotations

from . import a1111, compel, midjourney
from .model import Decompiled
from .write import write

#: ``--from`` name -> reader: (positive text, negative text) -> Decompiled
READERS = {
    "a1111": a1111.read,
    "comfyui": a1111.read_comfy,
    "compel": compel.read,
    "midjourney": midjourney.read,
}

MAX_TEXT = 64 * 1024  # characters of one prompt


def read(text: str, source: str, negative: str = "") -> Decompiled:
    from ...errors import PromptError

    if source not in READERS:
        raise PromptError(f"unknown source `{source}` (sources: {', '.join(READERS)})")
    if len(text) + len(negative) > MAX_TEXT:
        raise PromptError(f"a prompt of {len(text) + len(negative):,} characters is longer than {MAX_TEXT:,}")
    return READERS[source](text, negative)


def decompile(text: str, source: str, *, name: str = "decompiled", negative: str = "", catalogs=()) -> str:
    """One prompt of ``source``'s syntax (``text`` may hold a ``Negative prompt:`` line) as
    ``.prompt`` source; ``catalogs``: loaded catalogs whose entries' words become names."""
    d = read(text, source, negative)
    return write([(name, d)], catalogs=catalogs, header=header(d.source))


def header(source: str) -> str:
    return f"decompiled from {source} by `promptlang decompile`"


__all__ = ["READERS", "Decompiled", "decompile", "read", "write", "header"]
