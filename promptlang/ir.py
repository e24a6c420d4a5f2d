"""The intermediate representation: what a prompt means once every name is resolved.

The IR is the contract between resolution and every back end (text targets,
Compel encoding, rendering). It is frozen; rewrites use ``dataclasses.replace``.

A prompt is one schedule: a tuple of :class:`Segment`, each taking over at a fraction
of the denoising steps (or after an absolute step). A plain prompt has one segment at 0;
a prompt edit (``"a cat" -> "a dog" at 0.4``, ``… at step 12``) adds segments. A segment's positive side is either
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

    ``step``: set for an edit written ``at step 12`` (AUTOMATIC1111's ``[a:b:12]``): the
    segment takes over after that absolute step, whatever the number of steps; ``start``
    is then only that step as a fraction of the steps the prompt states (or 30), capped
    at 1, for display and for choosing the longest stretch (:func:`fractions`).

    An alternation (``[cat | dog]``) makes ``every`` segments with the same ``start``, one per
    ``phase``: iteration ``i`` uses the one whose ``phase`` is ``i % every`` (A1111's
    alternating words: the first iteration takes the first option)."""

    start: float
    positive: tuple[Fragment, ...] | Blend
    negative: tuple[Fragment, ...]
    step: int | None = None
    every: int = 1
    phase: int = 0


@dataclass(frozen=True, slots=True)
class Adapter:
    """A file a render loads beside the text: a LoRA (``kind="lora"``, merged into the
    model's weights at ``weight``) or a textual-inversion embedding (``kind="embedding"``:
    its token, ``name``, stands in the segments' text; ``weight`` is unused, the token's
    own weight is the fragment's).

    ``name`` is how targets write it (``<lora:NAME:0.8>``, the embedding's token);
    ``file`` is the resolved path of the ``.safetensors`` file; ``sha256`` is the hash the
    file must have (stated by the catalog, or taken when a render is planned; None: not
    known yet)."""

    kind: str
    name: str
    file: str
    weight: float = 1.0
    sha256: str | None = None
    span: Span | None = field(default=None, compare=False)  # where the prompt names it


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
    prompt has no choices). ``adapters``: the LoRAs and embeddings it needs, in the
    order they were written (DESIGN §5: carried beside the segments).

    ``timing``: how segment starts become sampler iterations (:func:`switch_steps`):
    ``"a1111"`` (AUTOMATIC1111's counting), or ``"floor"`` for records written before
    promptlang counted that way, so that they keep rendering the same pixels."""

    name: str
    segments: tuple[Segment, ...]
    settings: Settings
    origin: tuple = ()
    span: Span | None = field(default=None, compare=False)
    timing: str = "a1111"
    adapters: tuple[Adapter, ...] = ()


def loras(prompt: Prompt) -> tuple[Adapter, ...]:
    return tuple(a for a in prompt.adapters if a.kind == "lora")


def embeddings(prompt: Prompt) -> tuple[Adapter, ...]:
    return tuple(a for a in prompt.adapters if a.kind == "embedding")


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


TIMINGS = ("a1111", "floor")


def switch_steps(prompt: Prompt, iterations: int, steps: int | None = None) -> list[int]:
    """The iteration (0-based) at which each segment starts, for ``steps`` sampling steps
    that take ``iterations`` denoising iterations (model calls; ``steps`` defaults to the
    prompt's). An iteration at or past ``iterations`` means the segment never starts.

    AUTOMATIC1111's counting (``prompt_parser.get_learned_conditioning_prompt_schedules``
    and its sampler's step counter): a sampler that calls the model about twice a step
    (Heun, DPM2: 2N-1 iterations for N steps) counts ``total = 2N``, any other ``total = N``;
    an edit at fraction ``at`` switches after iteration ``min(total, int(at * total))``,
    one at absolute step ``k`` after iteration ``min(total, k)``. So ``[a:b:0.4]`` at 10
    steps holds ``a`` for iterations 0-4 and ``b`` from 5, and at 0.97 never switches.

    Records made before (``timing == "floor"``) switch at ``floor(start * iterations)``."""
    if prompt.timing == "floor":
        import math

        return [min(iterations, math.floor(s.start * iterations + 1e-9)) for s in prompt.segments]
    steps = steps if steps is not None else (prompt.settings.steps or iterations)
    total = 2 * steps if iterations > steps else steps
    out = []
    for k, s in enumerate(prompt.segments):
        if s.phase:  # an alternation's later turns start with their stage's first
            out.append(out[k - s.phase])
        elif k == 0:
            out.append(0)
        else:
            when = min(total, s.step if s.step is not None else int(s.start * total))
            out.append(min(iterations, when + 1))
    return out


def fractions(prompt: Prompt) -> list[float]:
    """Each segment's start as a fraction of the prompt's steps (stated, or 30); a segment
    ``at step k`` starts at ``k / steps``, capped at 1."""
    steps = complete(prompt.settings).steps
    return [min(1.0, s.step / steps) if s.step is not None else s.start for s in prompt.segments]


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
    return fractions(prompt)[1:] + [1.0]


def longest(prompt: Prompt) -> Segment:
    """The segment that holds for the largest share of the steps (the first of equals)."""
    pairs = zip(prompt.segments, fractions(prompt), ends(prompt))
    return max(pairs, key=lambda triple: triple[2] - triple[1])[0]


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
    segment or a blend, with ``timing`` (see :attr:`Prompt.timing`; a record without it
    was written before, and counts ``"floor"``); ``settings`` holds only what was stated."""
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
        out["timing"] = prompt.timing
    if prompt.origin:
        out["choices"] = [{"choice": c, "value": v} for c, v in prompt.origin.choices]
        out["expansion"] = prompt.origin.to_json()
    s = prompt.settings
    out["settings"] = {name: (_aspect(value) if name == "aspect" else value)
                       for name in Settings.__slots__ if (value := getattr(s, name)) is not None}
    if prompt.adapters:  # only when there are some: older readers never see the key
        out["adapters"] = [{"kind": a.kind, "name": a.name, "file": a.file, "weight": round(a.weight, 6),
                            "sha256": a.sha256} for a in prompt.adapters]
    return out


def _segment_json(segment: Segment) -> dict:
    if isinstance(segment.positive, Blend):
        positive = {"blend": [{"weight": round(part.weight, 6), "fragments": _frags(part.fragments)}
                              for part in segment.positive.parts]}
    else:
        positive = {"positive": _frags(segment.positive)}
    step = {} if segment.step is None else {"step": segment.step}
    turn = {"every": segment.every, "phase": segment.phase} if segment.every > 1 else {}
    return {"start": segment.start, **step, **positive, "negative": _frags(segment.negative), **turn}


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

    def step(d):
        value = d.get("step")
        if value is not None and (type(value) is not int or value < 1):
            raise ValueError(f"bad step {value!r}")
        return value

    if version >= 2 and data.get("segments"):
        segments = tuple(Segment(float(s["start"]), positive(s), frags(s["negative"]), step(s),
                                 int(s.get("every", 1)), int(s.get("phase", 0))) for s in data["segments"])
    else:
        segments = (Segment(0.0, positive(data), frags(data["negative"])),)
        segments += tuple(Segment(float(s["at"]), positive(s), frags(s["negative"])) for s in data.get("stages") or ())
    stated = data["settings"] if version >= 2 and "settings" in data else data["params"]
    timing = data.get("timing", "floor") if len(segments) > 1 else "a1111"
    if timing not in TIMINGS:
        raise ValueError(f"unknown timing {timing!r}")
    adapters = tuple(_adapter(a) for a in data.get("adapters") or ())
    origin = ()
    if isinstance(data.get("expansion"), dict):
        e = data["expansion"]
        origin = Origin(str(e.get("prompt", data["name"])), int(e.get("index", 0)), str(e.get("mode", "")),
                        None if e.get("seed") is None else int(e["seed"]),
                        tuple((str(c["choice"]), str(c["value"])) for c in data.get("choices") or ()))
    return Prompt(str(data["name"]), segments, _settings(stated), origin, timing=timing, adapters=adapters)


def _adapter(d: dict) -> Adapter:
    kind = d["kind"]
    if kind not in ("lora", "embedding"):
        raise ValueError(f"unknown adapter kind {kind!r}")
    sha = d.get("sha256")
    if sha is not None and not (isinstance(sha, str) and len(sha) == 64 and all(c in "0123456789abcdef" for c in sha)):
        raise ValueError("bad adapter sha256")
    weight = float(d.get("weight", 1.0))
    if not math.isfinite(weight) or abs(weight) > 100:
        raise ValueError("bad adapter weight")
    return Adapter(kind, str(d["name"]), str(d["file"]), weight, sha)


def _settings(d: dict) -> Settings:
    def opt(name, kind):
        return None if d.get(name) is None else kind(d[name])

    aspect = tuple(int(v) for v in d["aspect"].split(":")) if d.get("aspect") else None
    return Settings(model=opt("model", str), width=opt("width", int), height=opt("height", int), aspect=aspect,
                    steps=opt("steps", int), guidance=opt("guidance", float), seed=opt("seed", int),
                    scheduler=opt("scheduler", str), images=opt("images", int))
