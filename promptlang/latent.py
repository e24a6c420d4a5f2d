"""Latent-space walks and grids: interpolate embeddings (lerp) and starting noise (slerp).

A *walk* from prompt A to prompt B renders ``frames`` images; frame ``i`` sits at
``t = i / (frames - 1)``. Its conditioning is ``lerp(A, B, t)`` of every tensor
:func:`promptlang.encode.encode` gives (positive, negative and, for SDXL, pooled), and
its starting noise is ``slerp(noise(A.seed), noise(B.seed), t)``. A *grid* does the same
in two directions: a K×K bilinear grid with A top-left, B top-right, C bottom-left and
D bottom-right (nested interpolation: along the top and bottom rows by ``u``, then
between them by ``v``).

Exactness. :func:`noise` draws the latents exactly as the pipeline would for a seed
(the same CPU ``torch.Generator``, shape and dtype, through diffusers' ``randn_tensor``);
they are passed as ``latents=`` and the pipeline scales them by the scheduler's
``init_noise_sigma`` itself, as it does its own. The generator that drew them (its state
advanced past that draw) is passed too, so schedulers that add noise at every step
(``euler_a``, SDE samplers) continue from the same state as a plain render. Hence
frame 0 of a walk is pixel-identical to ``promptlang.render(A)``, frame N−1 to
``render(B)``, and the corners of a grid to the four plain renders. In between, the
per-step noise of ancestral schedulers comes from the nearest endpoint's seed (it
cannot be interpolated); deterministic schedulers (the default Euler, DDIM, DPM++ 2M…)
use none.

Settings. Every frame uses A's size, steps, guidance and scheduler (the noise shape
must not change along a walk); when another endpoint states different ones, a warning
says so, and that endpoint's frame then equals its render *with A's settings*.

Provenance: every frame PNG carries a ``promptlang-walk`` JSON chunk with the
endpoints' IR and seeds, ``t`` (or ``u``, ``v``), the settings, the model and the
source; :func:`reproduce` renders any frame again from that chunk alone. Frames that
are exactly an endpoint also carry the ordinary ``promptlang`` + ``parameters`` chunks
(they *are* that prompt's render, so ``promptlang reproduce`` works on them).

torch and diffusers are imported inside the functions: importing this module is cheap.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import ir
from .errors import PromptError
from .files import atomic_path

CHUNK = "promptlang-walk"
PARALLEL = 0.9995  # |cos θ| above this: the vectors are (anti)parallel, slerp's formula is unstable


# --------------------------------------------------------------------------- interpolation

def lerp(a, b, t: float):
    """Linear interpolation ``a + (b - a) * t``; ``t = 0`` gives ``a`` and ``t = 1`` gives ``b`` exactly.

    Computed in float32 (or wider) and returned in ``a``'s dtype.
    """
    end = _endpoint(a, b, t)
    if end is not None:
        return end
    t, work = float(t), _work_dtype(a)
    a32, b32 = a.to(work), b.to(work)
    return (a32 + (b32 - a32) * t).to(a.dtype)


def _endpoint(a, b, t: float):
    """``a`` or ``b`` themselves (copied) at ``t`` 0 or 1, so endpoints are exact; else None."""
    _same_shape(a, b)
    if float(t) == 0.0:
        return a.clone()
    if float(t) == 1.0:
        return b.clone()
    return None


def slerp(a, b, t: float):
    """Spherical interpolation between ``a`` and ``b``, per sample (dim 0), flattened.

    ``sin((1-t)θ)/sin θ · a + sin(tθ)/sin θ · b`` with θ the angle between the two
    samples: for Gaussian noise (whose samples live near a sphere) the result keeps the
    norm a sample of that noise has, where lerp would shrink it towards the middle.
    Nearly parallel vectors fall back to :func:`lerp`; nearly opposite vectors (no unique
    great circle) turn through a fixed direction orthogonal to ``a``, with the norm
    interpolated linearly, so there is never a NaN. ``t = 0`` and ``t = 1`` return
    ``a`` and ``b`` exactly.
    """
    import torch

    end = _endpoint(a, b, t)
    if end is not None:
        return end
    t, work = float(t), _work_dtype(a)
    n = a.shape[0] if a.dim() > 1 else 1
    fa, fb = a.to(work).reshape(n, -1), b.to(work).reshape(n, -1)
    out = torch.empty_like(fa)
    for i in range(n):
        out[i] = _slerp_row(fa[i], fb[i], t)
    return out.reshape(a.shape).to(a.dtype)


def _slerp_row(a, b, t: float):
    import torch

    na, nb = a.norm(), b.norm()
    if na == 0 or nb == 0:
        return a + (b - a) * t
    dot = float(torch.clamp((a @ b) / (na * nb), -1.0, 1.0))
    if dot > PARALLEL:
        return a + (b - a) * t
    if dot < -PARALLEL:
        unit = a / na
        ortho = _orthogonal(unit)
        norm = na + (nb - na) * t
        return norm * (math.cos(math.pi * t) * unit + math.sin(math.pi * t) * ortho)
    theta = math.acos(dot)
    s = math.sin(theta)
    return (math.sin((1 - t) * theta) / s) * a + (math.sin(t * theta) / s) * b


def _orthogonal(unit):
    """A unit vector orthogonal to ``unit`` (deterministic: Gram-Schmidt on a rolled copy, or a basis vector)."""
    import torch

    for candidate in (torch.roll(unit, 1), torch.zeros_like(unit).index_fill_(0, torch.tensor([0]), 1.0),
                      torch.zeros_like(unit).index_fill_(0, torch.tensor([unit.numel() - 1]), 1.0)):
        v = candidate - (candidate @ unit) * unit
        if v.norm() > 1e-6:
            return v / v.norm()
    return torch.zeros_like(unit)  # a 1-element vector has no orthogonal direction


def _work_dtype(t):
    import torch

    if t.dtype == torch.float64 or t.device.type in ("cpu", "cuda"):
        return torch.float64
    return torch.float32


def _same_shape(a, b):
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"cannot interpolate tensors of shapes {tuple(a.shape)} and {tuple(b.shape)}")


# --------------------------------------------------------------------------- noise

def _draw(pipe, seed: int, width: int, height: int):
    """``(latents, generator)``: the noise the pipeline draws for ``seed``, and the CPU generator after it."""
    import torch
    from diffusers.utils.torch_utils import randn_tensor

    generator = torch.Generator("cpu").manual_seed(int(seed))
    scale = pipe.vae_scale_factor
    shape = (1, pipe.unet.config.in_channels, int(height) // scale, int(width) // scale)
    device = getattr(pipe, "_execution_device", None) or pipe.device
    latents = randn_tensor(shape, generator=[generator], device=device, dtype=pipe.unet.dtype)
    return latents, generator


def noise(pipe, seed: int, width: int, height: int):
    """The starting latents ``pipe`` draws for ``seed`` at ``width``×``height`` (before the
    scheduler's ``init_noise_sigma`` scaling, which the pipeline applies to ``latents=`` too)."""
    return _draw(pipe, seed, width, height)[0]


# --------------------------------------------------------------------------- frames

@dataclass
class Frame:
    """One rendered frame of a walk or grid."""

    image: object  # PIL.Image.Image
    index: int  # position in the walk (row-major in a grid)
    weights: dict  # endpoint name -> its share of the embeddings (sums to 1)
    t: float | None = None  # walk position
    u: float | None = None  # grid column position (0 left, 1 right)
    v: float | None = None  # grid row position (0 top, 1 bottom)
    row: int = 0
    col: int = 0
    endpoint: ir.Prompt | None = None  # set when the frame is exactly this endpoint's render
    info: dict = field(default_factory=dict)  # the promptlang-walk record


def check_walkable(prompts) -> None:
    """A walk or grid mixes one conditioning per prompt: a prompt edit has several."""
    for q in prompts:
        if len(q.segments) > 1:
            raise PromptError(f"prompt `{q.name}` switches text during sampling (`->`): a walk or grid mixes one "
                              "conditioning per prompt", q.span,
                              hint="walk between prompts without `->` (a `blend` is fine)")


def walk_frames(pipe, a: ir.Prompt, b: ir.Prompt, frames: int, *, cache_dir=None, on_frame=None,
                warnings: list | None = None) -> list[Frame]:
    """Render ``frames`` images from ``a`` to ``b`` (effective prompts: seeds set, see
    :func:`promptlang.render.effective`). Frame 0 is ``render(a)``, frame ``frames-1`` is ``render(b)``."""
    if frames < 2:
        raise PromptError(f"a walk needs at least 2 frames, not {frames}", hint="--frames 2 gives just the endpoints")
    positions = [(i / (frames - 1), 0.0) for i in range(frames)]
    return _render(pipe, "walk", [a, b], positions, grid=None, cache_dir=cache_dir, on_frame=on_frame,
                   warnings=warnings)


def grid_frames(pipe, a: ir.Prompt, b: ir.Prompt, c: ir.Prompt, d: ir.Prompt, k: int, *, cache_dir=None,
                on_frame=None, warnings: list | None = None) -> list[Frame]:
    """Render a ``k``×``k`` bilinear grid, row-major: ``a`` top-left, ``b`` top-right,
    ``c`` bottom-left, ``d`` bottom-right; each corner equals that prompt's plain render."""
    if k < 2:
        raise PromptError(f"a grid needs a size of at least 2, not {k}", hint="--size 2 gives just the corners")
    positions = [(col / (k - 1), row / (k - 1)) for row in range(k) for col in range(k)]
    return _render(pipe, "grid", [a, b, c, d], positions, grid=k, cache_dir=cache_dir, on_frame=on_frame,
                   warnings=warnings)


def settings_warnings(prompts) -> list[str]:
    """Warnings for endpoints whose size/steps/guidance/scheduler differ from the first's."""
    first = prompts[0].settings
    out = []
    for p in prompts[1:]:
        diffs = [f"{name} {getattr(p.settings, name)} (not {getattr(first, name)})"
                 for name in ("width", "height", "steps", "guidance", "scheduler")
                 if getattr(p.settings, name) != getattr(first, name)]
        if diffs:
            out.append(f"`{p.name}` states {', '.join(diffs)}: every frame uses `{prompts[0].name}`'s settings, "
                       f"so its frame is not its plain render")
    return out


def _mix(values, u: float, v: float, fn):
    """Interpolate endpoint values: 2 (walk, by u) or 4 (grid: top by u, bottom by u, then by v)."""
    if len(values) == 2:
        return fn(values[0], values[1], u)
    return fn(fn(values[0], values[1], u), fn(values[2], values[3], u), v)


def _shares(names, u: float, v: float) -> dict:
    if len(names) == 2:
        shares = [1 - u, u]
    else:
        shares = [(1 - u) * (1 - v), u * (1 - v), (1 - u) * v, u * v]
    out: dict = {}
    for name, s in zip(names, shares):
        out[name] = round(out.get(name, 0.0) + s, 6)
    return out


def _render(pipe, kind, prompts, positions, *, grid, cache_dir, on_frame, warnings) -> list[Frame]:
    from .encode import encode, pad_lengths
    from .render import _call
    from .models import is_test_model
    from .schedulers import make

    check_walkable(prompts)
    if warnings is not None:
        warnings.extend(settings_warnings(prompts))
    first = prompts[0]
    p = first.settings
    model = getattr(pipe, "_promptlang_model", None) or p.model or "<pipeline>"
    device = getattr(pipe, "_execution_device", None) or pipe.device
    dtype = pipe.unet.dtype
    # one encode() per prompt, as render() does: batching changes the last bits of SDXL's pooled embedding
    tensors = [{k: v.to(device, dtype=dtype) for k, v in encode(q, pipe, cache_dir=cache_dir).items()}
               for q in prompts]
    padded = pad_lengths(tensors, pipe, cache_dir=cache_dir)
    base = _record(kind, prompts, model, is_test_model(pipe), len(positions), grid)
    original = pipe.scheduler
    if p.scheduler:
        pipe.scheduler = make(p.scheduler, original.config)
    out = []
    try:
        for index, (u, v) in enumerate(positions):
            noises = [_draw(pipe, q.settings.seed, p.width, p.height) for q in prompts]
            exact = _exact_endpoint(len(prompts), u, v)
            if exact is not None:
                cond = tensors[exact]
            else:
                cond = {name: _mix([t[name] for t in padded], u, v, lerp) for name in padded[0]}
            latents = _mix([n[0] for n in noises], u, v, slerp)
            generator = noises[_nearest(len(prompts), u, v)][1]
            pipe.set_progress_bar_config(disable=True)
            label = replace(first, name=f"{kind} frame {index}")
            result = _call(pipe, label, dict(cond, latents=latents), [generator])
            row, col = (index // grid, index % grid) if grid else (0, index)
            info = dict(base, frame=index, row=row, col=col, weights=_shares([q.name for q in prompts], u, v))
            if grid:
                info.update(u=u, v=v)
            else:
                info["t"] = u
            frame = Frame(result.images[0], index, info["weights"], t=None if grid else u,
                          u=u if grid else None, v=v if grid else None, row=row, col=col,
                          endpoint=None if exact is None else prompts[exact], info=info)
            out.append(frame)
            if on_frame is not None:
                on_frame(frame)
    finally:
        pipe.scheduler = original
    return out


def _exact_endpoint(n: int, u: float, v: float):
    corners = [(0.0, 0.0), (1.0, 0.0)] if n == 2 else [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)]
    for i, corner in enumerate(corners):
        if (u, v if n == 4 else 0.0) == corner:
            return i
    return None


def _nearest(n: int, u: float, v: float) -> int:
    if n == 2:
        return 0 if u < 0.5 else 1
    return (1 if u >= 0.5 else 0) + (2 if v >= 0.5 else 0)


# --------------------------------------------------------------------------- provenance

def _record(kind, prompts, model, test_model, count, grid) -> dict:
    from .provenance import versions

    return {
        "format": 1,
        "kind": kind,
        "endpoints": [{"name": q.name, "seed": q.settings.seed, "ir": ir.to_json(q)} for q in prompts],
        "corners": ["top-left", "top-right", "bottom-left", "bottom-right"] if kind == "grid" else ["from", "to"],
        "frames": count,
        "grid": grid,
        "settings": {"width": prompts[0].settings.width, "height": prompts[0].settings.height,
                     "steps": prompts[0].settings.steps, "guidance": prompts[0].settings.guidance,
                     "scheduler": prompts[0].settings.scheduler},
        "model": model,
        "test_model": test_model,
        "versions": versions(),
        "noise": "slerp of the endpoints' seed noise",
        "embeddings": "lerp of the endpoints' Compel embeddings",
    }


def save_frame(frame: Frame, path, *, source=None, source_path=None, catalogs=()) -> Path:
    """Write a frame PNG with its ``promptlang-walk`` chunk (and, for an endpoint frame,
    the ordinary render provenance), atomically."""
    from .provenance import a1111_parameters, pnginfo, record

    info = dict(frame.info, source=source, source_path=source_path,
                catalogs=[{"name": c.name, "version": c.version, "sha256": c.sha256, "path": c.path}
                          for c in catalogs])
    if frame.endpoint is not None:
        prompt = _with_settings(frame.endpoint, frame.info["settings"])
        meta = pnginfo(record(prompt, model=info["model"], seed=prompt.settings.seed, index=0, source=source,
                              source_path=source_path, catalogs=catalogs, test_model=info["test_model"]),
                       a1111_parameters(prompt, model=info["model"], seed=prompt.settings.seed))
    else:
        meta = None
    return save_record(frame.image, info, path, meta)


def save_record(image, info: dict, path, meta=None) -> Path:
    """Write ``image`` as a PNG carrying ``info`` as its ``promptlang-walk`` chunk (added to
    ``meta``, a PngInfo, when given), atomically."""
    from PIL.PngImagePlugin import PngInfo

    meta = PngInfo() if meta is None else meta
    meta.add_itxt(CHUNK, json.dumps(info, ensure_ascii=False, sort_keys=True))
    return save_image(image, path, pnginfo=meta)


def _with_settings(prompt: ir.Prompt, settings: dict) -> ir.Prompt:
    return replace(prompt, settings=replace(prompt.settings, images=1, **settings))


def save_image(image, path, **save_args) -> Path:
    """Save a PIL image atomically (temp file beside it, then a rename); format from the suffix."""
    path = Path(path)
    fmt = {".png": "PNG", ".gif": "GIF", ".webp": "WEBP"}.get(path.suffix.lower(), "PNG")
    with atomic_path(path) as tmp:
        image.save(tmp, format=fmt, **save_args)
    return path


def read_record(path) -> dict:
    """The ``promptlang-walk`` record of a frame PNG, checked (a PNG is untrusted input: its
    names become file names and its settings reach diffusers)."""
    from .provenance import png_text

    text = png_text(path)
    if CHUNK not in text:
        raise PromptError(f"{path}: is not a frame of a promptlang walk or grid (no `{CHUNK}` chunk)")
    try:
        info = json.loads(text[CHUNK])
        endpoints(info)
    except (ValueError, KeyError, TypeError, AttributeError, PromptError) as exc:
        reason = exc.message if isinstance(exc, PromptError) else str(exc)
        raise PromptError(f"{path}: its `{CHUNK}` chunk is damaged ({reason})") from None
    return info


_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_SETTINGS = ("width", "height", "steps", "guidance", "scheduler")


def endpoints(info: dict) -> list[ir.Prompt]:
    """The endpoint prompts of a ``promptlang-walk`` record, each with the frame settings and
    its own seed, as :func:`reproduce` renders them. Raises ValueError (or KeyError,
    TypeError, PromptError) for a record that is not one promptlang writes."""
    import re

    from .schedulers import lookup
    from .settings import validate

    def whole(value, what, low, high=None):
        if type(value) is not int or value < low or (high is not None and value > high):
            raise ValueError(f"bad {what}")
        return value

    def position(value, what):
        if type(value) not in (int, float) or not 0.0 <= value <= 1.0:
            raise ValueError(f"bad {what}")

    if not isinstance(info, dict) or info.get("kind") not in ("walk", "grid"):
        raise ValueError("bad kind")
    grid = info["kind"] == "grid"
    ends = info["endpoints"]
    if not isinstance(ends, list) or len(ends) != (4 if grid else 2):
        raise ValueError("bad endpoints")
    frames = whole(info["frames"], "frame count", 2)
    whole(info["frame"], "frame number", 0, frames - 1)
    if grid:
        if whole(info["grid"], "grid size", 2) ** 2 != frames:
            raise ValueError("bad grid size")
        position(info["u"], "u")
        position(info["v"], "v")
    else:
        position(info["t"], "t")
    if not isinstance(info.get("model"), str) or not info["model"]:
        raise ValueError("bad model")
    settings = info["settings"]
    if not isinstance(settings, dict) or set(settings) != set(_SETTINGS):
        raise ValueError("bad settings")
    scheduler = settings["scheduler"]
    if scheduler is not None and (not isinstance(scheduler, str) or lookup(scheduler) is None):
        raise ValueError(f"unknown scheduler {scheduler!r}")
    for name in ("width", "height", "steps"):
        whole(settings[name], name, 1)
    if type(settings["guidance"]) not in (int, float):
        raise ValueError("bad guidance")
    prompts = []
    for end in ends:
        prompt = ir.from_json(end["ir"])
        if not re.fullmatch(_NAME, prompt.name) or end.get("name") != prompt.name:
            raise ValueError(f"bad prompt name {prompt.name!r}")
        prompt = _with_settings(prompt, dict(settings, seed=whole(end["seed"], "seed", 0, 2**32 - 1)))
        validate(prompt.settings)  # the ranges a file, a flag or a render accepts (size, steps, guidance)
        prompts.append(prompt)
    return prompts


def reproduce(path, pipe=None, *, model=None, device=None):
    """Render a walk or grid frame again from its PNG alone; returns the PIL image."""
    from .models import load_pipeline
    from .render import default_device

    info = read_record(path)
    prompts = endpoints(info)
    if pipe is None:
        pipe = load_pipeline(model or info["model"], device or default_device())
    if info["kind"] == "grid":
        positions = [(float(info["u"]), float(info["v"]))]
    else:
        positions = [(float(info["t"]), 0.0)]
    (frame,) = _render(pipe, info["kind"], prompts, positions, grid=info.get("grid"), cache_dir=None,
                       on_frame=None, warnings=None)
    return frame.image
