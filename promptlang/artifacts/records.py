"""What promptlang's PNGs carry, written and read in one place.

Four text chunks, one schema:

* ``promptlang`` — a render: the ``.prompt`` source, the catalogs' names, versions and
  hashes, the prompt's IR with its effective settings, the model, the seed, the index in
  its batch and the library versions. Enough to render the same pixels again.
* ``parameters`` — AUTOMATIC1111's text, so other tools show the prompt and settings.
* ``promptlang-walk`` — a walk frame or grid tile: the endpoints' IR and seeds, the
  position (``t``, or ``u``/``v``), the settings every frame shares, the model.
  Frames that are exactly an endpoint carry ``promptlang`` too (they *are* its render).
* ``promptlang-sheet`` — on a sheet, a walk's contact sheet or a grid's labelled image:
  the layout and every tile; on a sheet's tile: its row and column.

:func:`read` is the one reader. A PNG is untrusted input (its names become file names,
its settings reach diffusers), so every chunk is validated as a whole before anything
loads; a damaged chunk is a PromptError naming the file and the chunk.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from .. import __version__, ir
from ..errors import PromptError
from ..settings import LIMITS, PIXEL_SETTINGS
from .png import text_chunks

RENDER = "promptlang"
WALK = "promptlang-walk"
SHEET = "promptlang-sheet"
PARAMETERS = "parameters"
FORMAT = 1
MAX_CHUNK = 4 * 1024 * 1024  # characters of one text chunk we are willing to parse
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[1-9][0-9]*)?")  # `.k`: the k-th prompt a prompt with choices expands to


# --------------------------------------------------------------------------- writing

def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"promptlang": __version__}
    for name in ("diffusers", "torch", "transformers", "compel"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def catalogs(items) -> list[dict]:
    """The catalogs a render used: name, version, sha256, and where (bundled ones by their
    place in the package, not this machine's absolute path). ``items``: loaded catalogs, or
    the dicts an earlier record holds (a reproduction records them again)."""
    from ..resources import styles_dir

    def short(path: str) -> str:
        try:
            return "styles/" + str(Path(path).resolve().relative_to(styles_dir().resolve()))
        except (ValueError, OSError):
            return path

    out = []
    for c in items:
        c = c if isinstance(c, dict) else {"name": c.name, "version": c.version, "sha256": c.sha256, "path": c.path}
        out.append({"name": c["name"], "version": c["version"], "sha256": c["sha256"],
                    "path": short(str(c.get("path", "")))})
    return out


def render(prompt: ir.Prompt, *, model: str, seed: int, index: int, source: str | None, source_path: str | None,
           catalog_list=(), test_model: bool = False, batch: int = 1, fast: bool = False) -> dict:
    """The ``promptlang`` chunk of one rendered image (``prompt.settings`` are the effective ones)."""
    return {
        "format": FORMAT,
        "prompt": prompt.name,
        "ir": ir.to_json(prompt),
        "model": model,
        "seed": seed,
        "index": index,
        "source": source,
        "source_path": source_path,
        "catalogs": catalogs(catalog_list),
        "versions": versions(),
        "test_model": test_model,
        "batch": batch,  # images per pipeline call: only batch 1 is guaranteed pixel-identical on replay
        "fast": fast,
    }


def parameters(prompt: ir.Prompt, *, model: str, seed: int) -> str:
    """AUTOMATIC1111's ``parameters`` text, so other tools show the prompt and settings."""
    from ..schedulers import a1111_label
    from ..targets import a1111

    positive, negative = a1111.sides(prompt)
    s = prompt.settings
    lines = [positive]
    if negative:
        lines.append(f"Negative prompt: {negative}")
    lines.append(f"Steps: {s.steps}, Sampler: {a1111_label(s.scheduler)}, CFG scale: {s.guidance:g}, "
                 f"Seed: {seed}, Size: {s.width}x{s.height}, Model: {model}, "
                 f"Version: promptlang {__version__}")
    return "\n".join(lines)


def render_chunks(prompt: ir.Prompt, **kwargs) -> dict:
    """Both chunks of a rendered image: ``promptlang`` and ``parameters``."""
    return {RENDER: render(prompt, **kwargs),
            PARAMETERS: parameters(prompt, model=kwargs["model"], seed=kwargs["seed"])}


def walk(kind: str, prompts, *, model: str, test_model: bool, count: int, grid: int | None) -> dict:
    """What every frame of one walk (or tile of one grid) shares; the job adds the frame's place."""
    s = prompts[0].settings
    return {
        "format": FORMAT,
        "kind": kind,
        "endpoints": [{"name": q.name, "seed": q.settings.seed, "ir": ir.to_json(q)} for q in prompts],
        "corners": ["top-left", "top-right", "bottom-left", "bottom-right"] if kind == "grid" else ["from", "to"],
        "frames": count,
        "grid": grid,
        "settings": {name: getattr(s, name) for name in PIXEL_SETTINGS},
        "model": model,
        "test_model": test_model,
        "versions": versions(),
        "noise": "slerp of the endpoints' seed noise",
        "embeddings": "lerp of the endpoints' Compel embeddings",
    }


# --------------------------------------------------------------------------- reading

@dataclass
class Found:
    """The promptlang chunks of one PNG, each validated: a value, or the error that made it unusable."""

    path: str
    render: dict | None = None
    prompt: ir.Prompt | None = None  # the render's IR, effective settings and seed set
    walk: dict | None = None
    endpoints: list | None = None  # the walk's endpoint prompts, with the frame settings
    sheet: dict | None = None
    parameters: str | None = None
    errors: dict = field(default_factory=dict)  # chunk -> PromptError

    def need(self, chunk: str):
        """The validated value of ``chunk``, or its error raised."""
        if chunk in self.errors:
            raise self.errors[chunk]
        return {RENDER: self.render, WALK: self.walk, SHEET: self.sheet}[chunk]


def read(path) -> Found:
    """Every promptlang chunk of an image; a PromptError when it has none."""
    text = text_chunks(path)
    if not {RENDER, WALK, SHEET} & set(text):
        if Path(path).suffix.lower() in (".gif", ".webp"):
            raise PromptError(f"{path}: has no promptlang provenance (a walk's animation carries none: its "
                              "frames, the PNGs beside it, each carry theirs)")
        raise PromptError(f"{path}: has no promptlang provenance (it was not rendered by promptlang, or a tool "
                          "stripped its text chunks)")
    found = Found(str(path), parameters=text.get(PARAMETERS))
    for chunk, check in ((RENDER, _render), (WALK, _walk), (SHEET, _sheet)):
        if chunk not in text:
            continue
        try:
            if len(text[chunk]) > MAX_CHUNK:
                raise ValueError(f"longer than {MAX_CHUNK:,} characters")
            check(found, json.loads(text[chunk]))
        except (ValueError, KeyError, TypeError, AttributeError, IndexError, PromptError) as exc:
            reason = _reason(exc)
            label = "promptlang chunk" if chunk == RENDER else f"`{chunk}` chunk"
            found.errors[chunk] = PromptError(f"{path}: its {label} is damaged ({reason})")
    return found


def _reason(exc) -> str:
    """Why a chunk was refused, in words (not Python's)."""
    if isinstance(exc, PromptError):
        return exc.message
    if isinstance(exc, KeyError):
        return f"no {exc.args[0]!r}" if exc.args else "a field is missing"
    if isinstance(exc, (TypeError, AttributeError, IndexError)):
        return "a field has the wrong type or shape"
    return str(exc)


def _whole(value, what: str, low: int, high: int | None = None) -> int:
    if type(value) is not int or value < low or (high is not None and value > high):
        raise ValueError(f"bad {what}")
    return value


MAX_WEIGHT = 10_000  # a fragment's final weight: a weight written on a catalog entry's reference (±100) times
# the entry's own (±100); beyond that a record is not one promptlang wrote (and 1e308 renders NaN)


def _checked(prompt: ir.Prompt) -> ir.Prompt:
    """The prompt's name, weights and settings as a render would accept them."""
    import math

    from ..settings import validate

    if not NAME.fullmatch(prompt.name):
        raise ValueError(f"bad prompt name {prompt.name!r}")
    stages = ir.stages(prompt)  # an alternation's turns share one start
    starts = [segment.start for segment in stages]
    steps = [segment.step for segment in stages[1:]]
    if not starts or starts[0] != 0.0 or stages[0].step is not None:
        raise ValueError("bad segment starts (0 first)")
    if all(step is None for step in steps):
        if any(not (a < b <= 1.0) for a, b in zip(starts, starts[1:])):
            raise ValueError("bad segment starts (0 first, then rising, at most 1)")
    elif any(step is None for step in steps) or any(not (0 <= a < b) for a, b in zip([0] + steps, steps)) \
            or any(not (0 <= a <= b <= 1.0) for a, b in zip(starts, starts[1:])):
        raise ValueError("bad segment steps (all absolute, rising from 1)")
    for k, segment in enumerate(prompt.segments):  # an alternation's turns: phases 0, 1, … every-1 at one start
        first = prompt.segments[k - segment.phase] if k >= segment.phase else None
        if not 1 <= segment.every <= 64 or not 0 <= segment.phase < segment.every or first is None \
                or first.start != segment.start or first.every != segment.every or (
                segment.phase == segment.every - 1) != (k + 1 == len(prompt.segments)
                                                         or prompt.segments[k + 1].phase == 0):
            raise ValueError("bad alternation (turns 0 to every-1, one after another, at one start)")
    for segment in prompt.segments:
        parts = segment.positive.parts if isinstance(segment.positive, ir.Blend) else ()
        weights = [f.weight for side in (*ir.texts(segment.positive), segment.negative) for f in side]
        weights += [part.weight for part in parts]
        if not all(isinstance(w, float) and math.isfinite(w) and abs(w) <= MAX_WEIGHT for w in weights):
            raise ValueError(f"a weight is not a number from -{MAX_WEIGHT:,} to {MAX_WEIGHT:,}")
        if parts and sum(part.weight for part in parts) <= 0:
            raise ValueError("the weights of a blend add up to 0 or less")
    validate(prompt.settings)
    return prompt


def _render(found: Found, info) -> None:
    if not isinstance(info, dict):
        raise ValueError("not a JSON object")
    prompt = ir.from_json(info["ir"])
    seed = _whole(info.get("seed"), "seed", *LIMITS["seed"])
    if not isinstance(info.get("model"), str) or not info["model"]:
        raise ValueError("bad model")
    _whole(info.get("index", 0), "index", 0)
    _whole(info.get("batch", 1), "batch", 1)
    for key in ("source", "source_path"):
        if info.get(key) is not None and not isinstance(info[key], str):
            raise ValueError(f"bad {key}")
    if not isinstance(info.get("catalogs", []), list) or not all(
            isinstance(c, dict) and all(isinstance(c.get(k), str) for k in ("name", "version", "sha256"))
            for c in info.get("catalogs", [])):
        raise ValueError("bad catalogs")
    if not isinstance(info.get("versions", {}), dict):
        raise ValueError("bad versions")
    found.prompt = _checked(replace(prompt, settings=replace(prompt.settings, seed=seed, images=1,
                                                             model=info["model"])))
    if info.get("prompt") != prompt.name:
        raise ValueError("bad prompt: not the name its IR holds")
    found.render = info


def _walk(found: Found, info) -> None:
    from ..schedulers import lookup

    def position(value, what):
        if type(value) not in (int, float) or not 0.0 <= value <= 1.0:
            raise ValueError(f"bad {what}")

    if not isinstance(info, dict) or info.get("kind") not in ("walk", "grid"):
        raise ValueError("bad kind")
    grid = info["kind"] == "grid"
    ends = info["endpoints"]
    if not isinstance(ends, list) or len(ends) != (4 if grid else 2):
        raise ValueError("bad endpoints")
    frames = _whole(info["frames"], "frame count", 2)
    _whole(info["frame"], "frame number", 0, frames - 1)
    if grid:
        if _whole(info["grid"], "grid size", 2) ** 2 != frames:
            raise ValueError("bad grid size")
        position(info["u"], "u")
        position(info["v"], "v")
    else:
        position(info["t"], "t")
    if not isinstance(info.get("model"), str) or not info["model"]:
        raise ValueError("bad model")
    settings = info["settings"]
    if not isinstance(settings, dict) or set(settings) != set(PIXEL_SETTINGS):
        raise ValueError("bad settings")
    scheduler = settings["scheduler"]
    if scheduler is not None and (not isinstance(scheduler, str) or lookup(scheduler) is None):
        raise ValueError(f"unknown scheduler {scheduler!r}")
    for name in ("width", "height", "steps"):
        _whole(settings[name], name, 1)
    if type(settings["guidance"]) not in (int, float):
        raise ValueError("bad guidance")
    prompts = []
    for end in ends:
        prompt = ir.from_json(end["ir"])
        if not NAME.fullmatch(prompt.name) or end.get("name") != prompt.name:
            raise ValueError(f"bad prompt name {prompt.name!r}")
        seed = _whole(end["seed"], "seed", *LIMITS["seed"])
        prompts.append(_checked(with_frame_settings(prompt, settings, seed=seed, model=info["model"])))
    found.walk, found.endpoints = info, prompts


def with_frame_settings(prompt: ir.Prompt, settings: dict, **more) -> ir.Prompt:
    """An endpoint as every frame renders it: the walk's shared settings, its own seed."""
    return replace(prompt, settings=replace(prompt.settings, images=1, **settings, **more))


def _sheet(found: Found, record) -> None:
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    if "layout" in record:  # a sheet, a walk's contact sheet or a grid's labelled image
        layout = record["layout"]
        _whole(layout["rows"], "rows", 1)
        _whole(layout["cols"], "columns", 1)
        if not (isinstance(layout["tile"], list) and len(layout["tile"]) == 2):
            raise ValueError("bad tile size")
        for tile in record.get("tiles") or []:
            name = tile["file"] if isinstance(tile, dict) else tile
            if not isinstance(name, str) or Path(name).is_absolute() or ".." in Path(name).parts:
                raise ValueError(f"bad tile file {name!r}")
    else:  # a sheet's tile: where it sits
        _whole(record["row"], "row", 0)
        _whole(record["col"], "column", 0)
    found.sheet = record
