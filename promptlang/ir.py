"""The intermediate representation: what a prompt means once every name is resolved.

The IR is the contract between resolution and every back end (text targets,
Compel encoding, rendering). It is frozen; rewrites use ``dataclasses.replace``.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from .ast import Span


@dataclass(frozen=True, slots=True)
class Fragment:
    """A run of final text (catalog lookup and templating done, unescaped) and its weight.

    ``join`` is the separator that stands *before* this fragment when the fragments
    of one side are written out as one string: ``""`` for the first fragment,
    ``", "`` between slot items, ``" "`` between subject pieces written side by side.
    """

    text: str
    weight: float = 1.0
    join: str = ", "
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Params:
    """Render settings. ``None`` means "not stated": the renderer picks."""

    model: str | None = None
    width: int = 512
    height: int = 512
    steps: int = 30
    guidance: float = 7.5
    seed: int | None = None
    scheduler: str | None = None
    images: int = 1
    aspect: tuple[int, int] | None = None  # as written (`aspect 16:9`), for targets that take a ratio


@dataclass(frozen=True, slots=True)
class Prompt:
    name: str
    positive: tuple[Fragment, ...]
    negative: tuple[Fragment, ...]
    params: Params
    span: Span | None = field(default=None, compare=False)


def join_text(fragments: tuple[Fragment, ...] | list[Fragment]) -> str:
    """The fragments' words as one plain string (no weights)."""
    out = []
    for i, frag in enumerate(fragments):
        out.append((frag.join if i else "") + frag.text)
    return "".join(out)


def to_json(prompt: Prompt) -> dict:
    """The JSON object of DESIGN §5 for one prompt."""
    p = prompt.params

    def frags(side):
        return [{"text": f.text, "weight": round(f.weight, 6), "join": f.join} for f in side]

    return {
        "name": prompt.name,
        "positive": frags(prompt.positive),
        "negative": frags(prompt.negative),
        "params": {
            "model": p.model,
            "width": p.width,
            "height": p.height,
            "steps": p.steps,
            "guidance": p.guidance,
            "seed": p.seed,
            "scheduler": p.scheduler,
            "images": p.images,
            "aspect": f"{p.aspect[0]}:{p.aspect[1]}" if p.aspect else None,
        },
    }


def from_json(data: dict) -> Prompt:
    """The inverse of :func:`to_json` (used to reproduce an image from its PNG)."""
    def frags(side):
        return tuple(Fragment(str(f["text"]), float(f["weight"]), str(f.get("join", ", "))) for f in side)

    p = data["params"]
    aspect = tuple(int(v) for v in p["aspect"].split(":")) if p.get("aspect") else None
    params = Params(model=p.get("model"), width=int(p["width"]), height=int(p["height"]), steps=int(p["steps"]),
                    guidance=float(p["guidance"]), seed=None if p.get("seed") is None else int(p["seed"]),
                    scheduler=p.get("scheduler"), images=int(p.get("images", 1)), aspect=aspect)
    positive = frags(data["positive"])
    negative = frags(data["negative"])
    if positive:
        positive = (replace(positive[0], join=""),) + positive[1:]
    return Prompt(str(data["name"]), positive, negative, params)
