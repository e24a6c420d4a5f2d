"""What a rendered PNG carries: a ``promptlang`` JSON chunk and an A1111 ``parameters`` chunk.

The JSON holds the `.prompt` source, the catalogs' names, versions and hashes, the
prompt's IR and effective params, the model, the seed and the library versions, so
``promptlang reproduce`` can render the same image again from the PNG alone.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from . import __version__, ir
from .errors import PromptError
from .settings import check

CHUNK = "promptlang"
FORMAT = 1


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"promptlang": __version__}
    for name in ("diffusers", "torch", "transformers", "compel"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def record(prompt: ir.Prompt, *, model: str, seed: int, index: int, source: str | None,
           source_path: str | None, catalogs=(), test_model: bool = False, batch: int = 1,
           fast: bool = False) -> dict:
    """The ``promptlang`` chunk for one image (``prompt.settings`` are the effective settings)."""
    return {
        "format": FORMAT,
        "prompt": prompt.name,
        "ir": ir.to_json(prompt),
        "model": model,
        "seed": seed,
        "index": index,
        "source": source,
        "source_path": source_path,
        "catalogs": [{"name": c.name, "version": c.version, "sha256": c.sha256, "path": _short(c.path)}
                     for c in catalogs],
        "versions": versions(),
        "test_model": test_model,
        "batch": batch,  # images per pipeline call: only batch 1 is guaranteed pixel-identical on replay
        "fast": fast,
    }


def _short(path: str) -> str:
    """Bundled catalogs by their place in the package, not the machine's absolute path."""
    from .resources import styles_dir

    try:
        return "styles/" + str(Path(path).resolve().relative_to(styles_dir().resolve()))
    except ValueError:
        return path


def a1111_parameters(prompt: ir.Prompt, *, model: str, seed: int) -> str:
    """AUTOMATIC1111's ``parameters`` text, so other tools show the prompt and settings."""
    from .schedulers import a1111_label
    from .targets import a1111

    positive, _, negative = a1111.emit(prompt).partition("\nNegative prompt: ")
    p = prompt.settings
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


def png_text(path: str | Path) -> dict:
    """The text chunks of an image file (a PromptError for anything that is not a readable image)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            return dict(getattr(image, "text", {}) or {})
    except FileNotFoundError:
        raise PromptError(f"{path}: no such file") from None
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise PromptError(f"{path}: not a readable image ({exc})") from None


def read(path: str | Path) -> tuple[dict, str | None]:
    """``(promptlang record, parameters text)`` from a PNG written by promptlang."""
    text = png_text(path)
    if CHUNK not in text:
        raise PromptError(f"{path}: has no promptlang provenance (it was not rendered by promptlang, or a tool "
                          "stripped its text chunks)")
    try:
        info = json.loads(text[CHUNK])
        prompt = ir.from_json(info["ir"])
        _check(info, prompt)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise PromptError(f"{path}: its promptlang chunk is damaged ({exc})") from None
    return info, text.get("parameters")


def _check(info: dict, prompt: ir.Prompt) -> None:
    """A PNG is untrusted input: its names become file names and its settings reach diffusers."""
    from .schedulers import lookup
    from .settings import validate

    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", prompt.name):
        raise ValueError(f"bad prompt name {prompt.name!r}")
    if not isinstance(info.get("seed"), int) or check("seed", info["seed"]):
        raise ValueError("bad seed")
    if not isinstance(info.get("model"), str) or not info["model"]:
        raise ValueError("bad model")
    if prompt.settings.scheduler is not None and lookup(prompt.settings.scheduler) is None:
        raise ValueError(f"unknown scheduler {prompt.settings.scheduler!r}")
    try:
        validate(prompt.settings)  # the limits a file or a flag is held to
    except PromptError as exc:
        raise ValueError(exc.message) from None
