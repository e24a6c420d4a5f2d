"""The intermediate representation: what a prompt means once every name is resolved.

The IR is the contract between resolution and every back end (text targets,
Compel encoding, rendering). It is frozen; rewrites use ``dataclasses.replace``.
"""
from __future__ import annotations

import math
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
class Part:
    """One part of a blend: a whole positive side and its share (weights are normalized
    by their sum when the conditionings are mixed, as Compel's ``.blend()`` does)."""

    weight: float
    positive: tuple[Fragment, ...]


@dataclass(frozen=True, slots=True)
class Stage:
    """What a prompt says from the fraction ``at`` of the denoising steps on (prompt editing)."""

    at: float
    positive: tuple[Fragment, ...]
    negative: tuple[Fragment, ...]
    blend: tuple[Part, ...] = ()


@dataclass(frozen=True, slots=True)
class Prompt:
    """A resolved prompt.

    ``positive``/``negative`` are what it says from the first step. When ``blend`` is
    set, the positive conditioning is the blend of its parts and ``positive`` is the
    heaviest part (what a target without blends gets). ``stages`` are the later
    stages of a prompt edit (``"a cat" -> "a dog" at 0.4``), in order of ``at``.
    """

    name: str
    positive: tuple[Fragment, ...]
    negative: tuple[Fragment, ...]
    params: Params
    span: Span | None = field(default=None, compare=False)
    blend: tuple[Part, ...] = ()
    stages: tuple[Stage, ...] = ()


def heaviest(parts) -> Part:
    """The blend part with the largest weight (the first of equals)."""
    return max(parts, key=lambda part: part.weight)


def timeline(prompt: Prompt) -> list[Stage]:
    """Every stage of a prompt, the first (from ``at`` 0) included."""
    return [Stage(0.0, prompt.positive, prompt.negative, prompt.blend), *prompt.stages]


def at_stage(prompt: Prompt, stage: Stage) -> Prompt:
    """The prompt as it reads during one stage: no later stages."""
    return replace(prompt, positive=stage.positive, negative=stage.negative, blend=stage.blend, stages=())


def switch_steps(prompt: Prompt, steps: int) -> list[int]:
    """The step (0-based) at which each stage of :func:`timeline` starts, for ``steps``
    denoising steps: ``floor(at * steps)``, as AUTOMATIC1111 counts ``[a:b:at]``."""
    return [min(steps, math.floor(stage.at * steps + 1e-9)) for stage in timeline(prompt)]


def longest_stage(prompt: Prompt) -> Stage:
    """The stage that holds for the largest share of the steps (the first of equals)."""
    stages = timeline(prompt)
    ends = [s.at for s in stages[1:]] + [1.0]
    return max(zip(stages, ends), key=lambda pair: pair[1] - pair[0].at)[0]


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

    def parts(blend):
        return [{"weight": round(b.weight, 6), "positive": frags(b.positive)} for b in blend]

    extra = {}
    if prompt.blend:
        extra["blend"] = parts(prompt.blend)
    if prompt.stages:
        extra["stages"] = [{"at": s.at, "positive": frags(s.positive), "negative": frags(s.negative),
                            **({"blend": parts(s.blend)} if s.blend else {})} for s in prompt.stages]
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
        **extra,
    }


def from_json(data: dict) -> Prompt:
    """The inverse of :func:`to_json` (used to reproduce an image from its PNG)."""
    def frags(side):
        out = tuple(Fragment(str(f["text"]), float(f["weight"]), str(f.get("join", ", "))) for f in side)
        return ((replace(out[0], join=""),) + out[1:]) if out else out

    def parts(blend):
        return tuple(Part(float(b["weight"]), frags(b["positive"])) for b in blend or ())

    p = data["params"]
    aspect = tuple(int(v) for v in p["aspect"].split(":")) if p.get("aspect") else None
    params = Params(model=p.get("model"), width=int(p["width"]), height=int(p["height"]), steps=int(p["steps"]),
                    guidance=float(p["guidance"]), seed=None if p.get("seed") is None else int(p["seed"]),
                    scheduler=p.get("scheduler"), images=int(p.get("images", 1)), aspect=aspect)
    stages = tuple(Stage(float(s["at"]), frags(s["positive"]), frags(s["negative"]), parts(s.get("blend")))
                   for s in data.get("stages") or ())
    return Prompt(str(data["name"]), frags(data["positive"]), frags(data["negative"]), params,
                  blend=parts(data.get("blend")), stages=stages)
