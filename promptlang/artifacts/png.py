"""Images on disk: saved atomically with text chunks, read back with bounds.

An image handed to promptlang (``show``, ``reproduce``) may come from anyone: reads are
limited in file size and pixel count (Pillow's decompression-bomb guard) and every
failure is a PromptError naming the file.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import PromptError
from ..files import atomic_path, size_within

MAX_FILE = 256 * 1024 * 1024  # bytes of an image file we are willing to open
FORMATS = {".png": "PNG", ".gif": "GIF", ".webp": "WEBP"}


def save(image, path, chunks: dict | None = None, **save_args) -> Path:
    """Save a PIL image atomically (format from the suffix); ``chunks``: text chunks for a
    PNG, each value a string or a JSON-able object (written as JSON)."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower(), "PNG")
    if chunks:
        from PIL.PngImagePlugin import PngInfo

        info = PngInfo()
        for key, value in chunks.items():
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
            info.add_itxt(key, text)
        save_args["pnginfo"] = info
    with atomic_path(path) as tmp:
        image.save(tmp, format=fmt, **save_args)
    return path


def text_chunks(path) -> dict:
    """The text chunks of an image file (a PromptError for anything that is not a readable image)."""
    from PIL import Image, UnidentifiedImageError

    size_within(path, MAX_FILE, "an image")
    try:
        with Image.open(path) as image:
            image.load()
            return dict(getattr(image, "text", {}) or {})
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise PromptError(f"{path}: not a readable image ({exc})") from None
