"""The intermediate representation: what a prompt means once every name is resolved.

The IR is the contract between resolution and every back end (text targets,
Compel encoding, rendering). It is frozen; rewrites use ``dataclasses.replace``.

A prompt is one schedule: a tuple of :class:`Segment`, each taking over at a fraction
of the denoising steps. A plain prompt has one segment at 0; a prompt edit
(``"a cat" -> "a dog" at 0.4``) adds segments. A segment's positive side is either
text (fragments) or a :class:`Blend` of weighted texts. Every consumer walks the
segments the same way; none special-cases the first.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from .ast import Span
from .settings import Settings, complete

JSON_VERSION = 2


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
class Part:
    """One part of a blend: a whole positive text and its share (weights are normalized
    by their sum when the conditionings are mixed, as Compel's ``.blend()`` does)."""

    weight: float
    fragments: tuple[Fragment, ...]


@dataclass(frozen=True, slots=True)
class Blend:
    """A positive side that mixes the conditionings of its parts."""

    parts: tuple[Part, ...]


@dataclass(frozen=True, slots=True)
class Segment:
    """What a prompt says from the fraction ``start`` of the denoising steps on.

    An alternation (``[cat | dog]``) makes ``every`` segments with the same ``start``, one per
    ``phase``: iteration ``i`` uses the one whose ``phase`` is ``i % every`` (A1111's
    alternating words: the first iteration takes the first option)."""

    start: float
    positive: tuple[Fragment, ...] | Blend
    negative: tuple[Fragment, ...]
    every: int = 1
    phase: int = 0


@dataclass(frozen=True, slots=True)
class Origin:
    """How expansion made a prompt from one with choices (:mod:`promptlang.choices`): the
    prompt it came from, its number there (1-based), ``combinatorial`` or ``random`` and the
    seed that drew it, and its picks: (choice, option) pairs in the order the choices stand
    (a wildcard's choice is ``__name__``; a `{…}` its line:column)."""

    prompt: str
    index: int
    mode: str
    seed: int | None
    choices: tuple[tuple[str, str], ...]

    def to_json(self) -> dict:
        return {"prompt": self.prompt, "index": self.index, "mode": self.mode, "seed": self.seed}


@dataclass(frozen=True, slots=True)
class Prompt:
    """A resolved prompt: one schedule of segments, in order of ``start`` (the first at 0),
    and its settings as stated (``None``: not stated; see :func:`promptlang.settings.complete`).
    ``origin`` records how expansion picked this prompt (an :class:`Origin`; ``()`` when the
    prompt has no choices)."""

    name: str
    segments: tuple[Segment, ...]
    settings: Settings
    origin: tuple = ()
    span: Span | None = field(default=None, compare=False)


Params = Settings  # the old name, kept for `promptlang.Params`


def texts(positive) -> tuple[tuple[Fragment, ...], ...]:
    """The fragment runs of a positive side: itself, or each part's of a blend."""
    if isinstance(positive, Blend):
        return tuple(part.fragments for part in positive.parts)
    return (positive,)


def heaviest(blend: Blend) -> Part:
    """The blend part with the largest weight (the first of equals)."""
    return max(blend.parts, key=lambda part: part.weight)


def flat(positive) -> tuple[Fragment, ...]:
    """A positive side as one text: itself, or a blend's heaviest part (what a reader
    without blends gets)."""
    return heaviest(positive).fragments if isinstance(positive, Blend) else positive


def switch_steps(prompt: Prompt, iterations: int) -> list[int]:
    """The iteration (0-based) at which each segment starts, for ``iterations`` denoising
    iterations: ``floor(start * iterations)``, as AUTOMATIC1111 counts ``[a:b:at]``."""
    return [min(iterations, math.floor(s.start * iterations + 1e-9)) for s in prompt.segments]


def active(prompt: Prompt, starts: list[int], step: int) -> int:
    """The index of the segment in force at iteration ``step`` (0-based), given the
    iteration each segment starts at (:func:`switch_steps`): among the last stage that has
    started, the one whose phase is ``step % every``."""
    latest = max(s for s in starts if s <= step)
    for k in range(len(starts) - 1, -1, -1):
        segment = prompt.segments[k]
        if starts[k] == latest and segment.phase == step % segment.every:
            return k
    raise ValueError(f"no segment of `{prompt.name}` holds at iteration {step}")


def stages(prompt: Prompt) -> list[Segment]:
    """The segments without the turns of an alternation: each stage's first phase."""
    return [s for s in prompt.segments if s.phase == 0]


def ends(prompt: Prompt) -> list[float]:
    """The fraction of the steps at which each segment stops holding."""
    return [s.start for s in prompt.segments[1:]] + [1.0]


def longest(prompt: Prompt) -> Segment:
    """The segment that holds for the largest share of the steps (the first of equals)."""
    return max(zip(prompt.segments, ends(prompt)), key=lambda pair: pair[1] - pair[0].start)[0]


def merged(fragments) -> list[Fragment]:
    """Adjacent fragments of equal weight merged into one (its text joined with the second's
    ``join``); the first keeps its own ``join``. The one place this is done: the resolver
    and every text target use it (Compel's encoding has rules of its own for joins, see
    :func:`promptlang.diffusion.encode.pieces`)."""
    out: list[Fragment] = []
    for frag in fragments:
        if out and out[-1].weight == frag.weight:
            out[-1] = replace(out[-1], text=out[-1].text + frag.join + frag.text)
        else:
            out.append(frag)
    return out


def join_text(fragments: tuple[Fragment, ...] | list[Fragment]) -> str:
    """The fragments' words as one plain string (no weights)."""
    out = []
    for i, frag in enumerate(fragments):
        out.append((frag.join if i else "") + frag.text)
    return "".join(out)


# ---------------------------------------------------------------- JSON (DESIGN §5)

_ORDER = ("model", "width", "height", "steps", "guidance", "seed", "scheduler", "images")


def _frags(side) -> list:
    return [{"text": f.text, "weight": round(f.weight, 6), "join": f.join} for f in side]


def _aspect(aspect) -> str | None:
    return f"{aspect[0]}:{aspect[1]}" if aspect else None


def to_json(prompt: Prompt) -> dict:
    """The JSON object of DESIGN §5 for one prompt, version 2.

    ``positive``/``negative``/``params`` keep their version-1 meaning: what the first
    segment says (a blend's heaviest part) and the settings completed for a 512 native
    size. ``segments`` (the whole schedule) is there when a prompt has more than one
    segment or a blend; ``settings`` holds only what was stated."""
    first = prompt.segments[0]
    p = complete(prompt.settings)
    out = {
        "version": JSON_VERSION,
        "name": prompt.name,
        "positive": _frags(flat(first.positive)),
        "negative": _frags(first.negative),
        "params": {**{name: getattr(p, name) for name in _ORDER}, "aspect": _aspect(p.aspect)},
    }
    if len(prompt.segments) > 1 or isinstance(first.positive, Blend):
        out["segments"] = [_segment_json(s) for s in prompt.segments]
    if prompt.origin:
        out["choices"] = [{"choice": c, "value": v} for c, v in prompt.origin.choices]
        out["expansion"] = prompt.origin.to_json()
    s = prompt.settings
    out["settings"] = {name: (_aspect(value) if name == "aspect" else value)
                       for name in Settings.__slots__ if (value := getattr(s, name)) is not None}
    return out


def _segment_json(segment: Segment) -> dict:
    if isinstance(segment.positive, Blend):
        positive = {"blend": [{"weight": round(part.weight, 6), "fragments": _frags(part.fragments)}
                              for part in segment.positive.parts]}
    else:
        positive = {"positive": _frags(segment.positive)}
    turn = {"every": segment.every, "phase": segment.phase} if segment.every > 1 else {}
    return {"start": segment.start, **positive, "negative": _frags(segment.negative), **turn}


def from_json(data: dict) -> Prompt:
    """The inverse of :func:`to_json`; also reads version 1 (``params``, ``blend``,
    ``stages``), as PNGs written before version 2 store it."""
    version = data.get("version", 1)
    if version not in (1, JSON_VERSION):
        raise ValueError(f"unknown IR version {version!r}")

    def frags(side):
        out = tuple(Fragment(str(f["text"]), float(f["weight"]), str(f.get("join", ", "))) for f in side)
        return ((replace(out[0], join=""),) + out[1:]) if out else out

    def blend(parts):  # v2 parts hold `fragments`, v1 parts `positive`
        return Blend(tuple(Part(float(b["weight"]), frags(b["fragments"] if "fragments" in b else b["positive"]))
                           for b in parts))

    def positive(d, fragments_key="positive"):
        return blend(d["blend"]) if d.get("blend") else frags(d[fragments_key])

    if version >= 2 and data.get("segments"):
        segments = tuple(Segment(float(s["start"]), positive(s), frags(s["negative"]), int(s.get("every", 1)),
                                 int(s.get("phase", 0))) for s in data["segments"])
    else:
        segments = (Segment(0.0, positive(data), frags(data["negative"])),)
        segments += tuple(Segment(float(s["at"]), positive(s), frags(s["negative"])) for s in data.get("stages") or ())
    stated = data["settings"] if version >= 2 and "settings" in data else data["params"]
    origin = ()
    if isinstance(data.get("expansion"), dict):
        e = data["expansion"]
        origin = Origin(str(e.get("prompt", data["name"])), int(e.get("index", 0)), str(e.get("mode", "")),
                        None if e.get("seed") is None else int(e["seed"]),
                        tuple((str(c["choice"]), str(c["value"])) for c in data.get("choices") or ()))
    return Prompt(str(data["name"]), segments, _settings(stated), origin)


def _settings(d: dict) -> Settings:
    def opt(name, kind):
        return None if d.get(name) is None else kind(d[name])

    aspect = tuple(int(v) for v in d["aspect"].split(":")) if d.get("aspect") else None
    return Settings(model=opt("model", str), width=opt("width", int), height=opt("height", int), aspect=aspect,
                    steps=opt("steps", int), guidance=opt("guidance", float), seed=opt("seed", int),
                    scheduler=opt("scheduler", str), images=opt("images", int))
