"""Images on disk: saved atomically with text chunks, read back with bounds.

An image handed to promptlang (``show``, ``reproduce``, ``describe``) may come from anyone: reads are
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


MAX_PIXELS = 64 * 1024 * 1024  # pixels of an image we are willing to decode (about 8192 x 8192)
READ_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP")  # what an image handed to promptlang may be


def open_image(path, max_pixels: int = MAX_PIXELS):
    """An image someone handed us, decoded within bounds: ``(RGB image, its text chunks)``.

    The file's size is checked before it is opened, its format must be one of
    :data:`READ_FORMATS` (Pillow is not asked to guess among all it knows), and its
    dimensions, read from the header, are checked against ``max_pixels`` before a single
    pixel is decoded: a decompression bomb (a small file that claims a huge image) is
    refused without allocating it. A truncated or damaged file is a PromptError naming
    the file, never a half-decoded picture."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    size_within(path, MAX_FILE, "an image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=READ_FORMATS) as image:
                w, h = image.size
                if w <= 0 or h <= 0:
                    raise PromptError(f"{path}: an image of {w}x{h} pixels has nothing to look at")
                if w * h > max_pixels:
                    raise PromptError(f"{path}: too large to decode ({w:,} x {h:,} pixels; at most "
                                      f"{max_pixels:,} pixels; a decompression bomb would claim as much)",
                                      hint="scale it down first: describing needs a few hundred pixels a side")
                image.load()
                text = dict(getattr(image, "text", {}) or {})
                rgb = _rgb(image)
    except PromptError:
        raise
    except UnidentifiedImageError:
        raise PromptError(f"{path}: not an image promptlang reads (formats: "
                          f"{', '.join(READ_FORMATS)})") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PromptError(f"{path}: too large to decode, refused as a decompression bomb ({exc})") from None
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError) as exc:
        raise PromptError(f"{path}: damaged or truncated image ({exc})") from None
    return rgb, text


def _rgb(image):
    """RGB pixels as a viewer shows them: turned as the EXIF orientation says (a phone's
    photo), transparency laid on white, the first frame of an animation."""
    from PIL import Image, ImageOps

    image = ImageOps.exif_transpose(image)

    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        canvas.alpha_composite(rgba)
        return canvas.convert("RGB")
    return image.convert("RGB")
