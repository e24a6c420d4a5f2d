"""What a rendered PNG carries: a ``promptlang`` JSON chunk and an A1111 ``parameters`` chunk.

The JSON holds the `.prompt` source, the catalogs' names, versions and hashes, the
prompt's IR and effective params, the model, the seed and the library versions, so
``promptlang reproduce`` can render the same image again from the PNG alone.
"""
from __future__ import annotations

import json
from pathlib import Path

from . import __version__, ir
from .errors import PromptError

CHUNK = "promptlang"
FORMAT = 1


def versions() -> dict:
    out = {"promptlang": __version__}
    for name in ("diffusers", "torch", "transformers", "compel"):
        try:
            out[name] = __import__(name).__version__
        except Exception:
            out[name] = None
    return out


def record(prompt: ir.Prompt, *, model: str, seed: int, index: int, source: str | None,
           source_path: str | None, catalogs=(), test_model: bool = False) -> dict:
    """The ``promptlang`` chunk for one image (``prompt.params`` are the effective settings)."""
    return {
        "format": FORMAT,
        "prompt": prompt.name,
        "ir": ir.to_json(prompt),
        "model": model,
        "seed": seed,
        "index": index,
        "source": source,
        "source_path": source_path,
        "catalogs": [{"name": c.name, "version": c.version, "sha256": c.sha256, "path": c.path} for c in catalogs],
        "versions": versions(),
        "test_model": test_model,
    }


def a1111_parameters(prompt: ir.Prompt, *, model: str, seed: int) -> str:
    """AUTOMATIC1111's ``parameters`` text, so other tools show the prompt and settings."""
    from .schedulers import a1111_label
    from .targets import a1111

    positive, _, negative = a1111.emit(prompt).partition("\nNegative prompt: ")
    p = prompt.params
    lines = [positive]
    if negative:
        lines.append(f"Negative prompt: {negative}")
    lines.append(f"Steps: {p.steps}, Sampler: {a1111_label(p.scheduler)}, CFG scale: {p.guidance:g}, "
                 f"Seed: {seed}, Size: {p.width}x{p.height}, Model: {model}, "
                 f"Version: promptlang {__version__}")
    return "\n".join(lines)


def pnginfo(info: dict, parameters: str):
    from PIL.PngImagePlugin import PngInfo

    meta = PngInfo()
    meta.add_itxt(CHUNK, json.dumps(info, ensure_ascii=False, sort_keys=True))
    meta.add_itxt("parameters", parameters)
    return meta


def read(path: str | Path) -> tuple[dict, str | None]:
    """``(promptlang record, parameters text)`` from a PNG written by promptlang."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            text = dict(getattr(image, "text", {}) or {})
    except FileNotFoundError:
        raise PromptError(f"{path}: no such file") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise PromptError(f"{path}: not a readable image ({exc})") from None
    if CHUNK not in text:
        raise PromptError(f"{path}: has no promptlang provenance (it was not rendered by promptlang, or a tool "
                          "stripped its text chunks)")
    try:
        info = json.loads(text[CHUNK])
        ir.from_json(info["ir"])
    except (ValueError, KeyError, TypeError) as exc:
        raise PromptError(f"{path}: its promptlang chunk is damaged ({exc})") from None
    return info, text.get("parameters")
