"""Render settings: what a prompt states, completed once the model is known, and the
one table of limits that files, command-line flags and PNG records are checked against.

``None`` means "not stated". The resolver keeps ``aspect`` as a ratio; whoever knows
the model (the renderer: 1024 for SDXL, 512 otherwise) calls :func:`complete` once.
No torch here: this is part of the language core.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from .errors import PromptError

DEFAULTS = {"steps": 30, "guidance": 7.5, "images": 1}


@dataclass(frozen=True, slots=True)
class Settings:
    """Render settings as stated; ``None`` is "not stated" (see :func:`complete`)."""

    model: str | None = None
    width: int | None = None
    height: int | None = None
    aspect: tuple[int, int] | None = None  # as written (`aspect 16:9`), for targets that take a ratio
    steps: int | None = None
    guidance: float | None = None
    seed: int | None = None
    scheduler: str | None = None
    images: int | None = None


def sized(aspect: tuple[int, int], native: int = 512) -> tuple[int, int]:
    """Width and height for a ratio, about ``native``² pixels, multiples of 8, at least 32."""
    w, h = aspect
    return (max(32, int(round(native * math.sqrt(w / h) / 8)) * 8),
            max(32, int(round(native * math.sqrt(h / w) / 8)) * 8))


def complete(settings: Settings, *, native: int = 512) -> Settings:
    """Every unstated setting filled in: the size from ``aspect`` (or ``native``×``native``),
    steps 30, guidance 7.5, images 1. ``model``, ``seed`` and ``scheduler`` stay as they
    are (possibly None: the renderer picks)."""
    width, height = settings.width, settings.height
    if width is None or height is None:
        w, h = sized(settings.aspect, native) if settings.aspect else (native, native)
        width, height = (w if width is None else width), (h if height is None else height)
    changes = {name: value for name, value in DEFAULTS.items() if getattr(settings, name) is None}
    return replace(settings, width=width, height=height, **changes)


# ---------------------------------------------------------------- limits

#: name -> (lowest, highest); width and height are also multiples of 8; an aspect's
#: sides are positive and at most 8 times apart
# What shapes the pixels besides the conditioning and the seed: a walk's frames share these,
# and a finished render is the same render again only when these match.
PIXEL_SETTINGS = ("width", "height", "steps", "guidance", "scheduler")

LIMITS = {
    "steps": (1, 1000),
    "images": (1, 64),
    "seed": (0, 2**32 - 1),
    "guidance": (0, 50),
    "width": (32, 4096),
    "height": (32, 4096),
    "aspect": (1, 8),
}

HINTS = {"seed": "leave the seed out for a random one; it is recorded in the PNG"}


def check(name: str, value) -> str | None:
    """What is wrong with ``value`` for the setting ``name`` (also ``size``: a (w, h)
    pair), or None when it is fine or the setting has no limits."""
    if value is None:
        return None
    if name == "size":
        w, h = value
        if any(check(side, v) for side, v in (("width", w), ("height", h))):
            return f"size {w}x{h}: each side must be a multiple of 8 between 32 and 4096"
        return None
    if name == "aspect":
        w, h = value
        if not (w > 0 and h > 0) or max(w, h) > LIMITS["aspect"][1] * min(w, h):  # integers: no overflow
            return f"aspect {w}:{h}: both sides must be positive and at most 8 times apart"
        return None
    if name == "scheduler":
        from .schedulers import lookup

        return None if isinstance(value, str) and lookup(value) else f"unknown scheduler {value!r}"
    if name == "model":
        return None if isinstance(value, str) and value.strip() else f"bad model {value!r}"
    if name not in LIMITS:
        return None
    lo, hi = LIMITS[name]
    if name in ("width", "height"):
        if isinstance(value, bool) or not isinstance(value, int) or value % 8 or not lo <= value <= hi:
            return f"{name} {value} must be a multiple of 8 between {lo} and {hi}"
        return None
    if name == "guidance":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or not lo <= value <= hi:
            return f"guidance {value:g} is out of range ({lo} to {hi})" if isinstance(value, (int, float)) \
                else f"guidance {value!r} is not a number"
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        return f"`{name}` {value!r} is not a whole number"
    if not lo <= value <= hi:
        return f"`{name}` {value} is out of range ({lo} to {hi:,})"
    return None


def validate(settings: Settings, span=None) -> Settings:
    """``settings`` unchanged, or a :class:`PromptError` naming the first setting out of range."""
    for name in ("model", "width", "height", "aspect", "steps", "guidance", "seed", "scheduler", "images"):
        message = check(name, getattr(settings, name))
        if message:
            raise PromptError(message, span, hint=HINTS.get(name))
    return settings
