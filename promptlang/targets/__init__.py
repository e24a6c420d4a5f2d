"""Text targets: one module each, each with ``emit(prompt, warnings=None) -> str``.

A target that cannot express something appends a :class:`promptlang.errors.Warning_`
to ``warnings`` (a list) instead of dropping it silently.
"""
from __future__ import annotations

from functools import lru_cache
from importlib import import_module

NAMES = ("compel", "a1111", "comfyui", "midjourney", "plain", "json")


def emit(target: str, prompt, warnings: list | None = None) -> str:
    if target not in NAMES:
        raise ValueError(f"unknown target {target!r}")
    return import_module(f"{__name__}.{target}").emit(prompt, warnings)


def runs(fragments):
    """Adjacent fragments of equal weight merged (:func:`promptlang.ir.merged`): a list of
    (join, text, weight), the first with no join."""
    from ..ir import merged

    return [(f.join if i else "", f.text, f.weight) for i, f in enumerate(merged(fragments))]


def number(weight: float) -> str:
    """A weight as short decimal text: 1.3, 1.21, 0.9, 2."""
    text = f"{weight:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


#: What each capability's absence costs, worded once for every target. A target module
#: declares ``NAME`` (how warnings call it) and ``CAN`` (what it can say); :func:`lower`
#: decides from those what is lost, so the warnings cannot drift apart.
FEATURES = {
    "edit": "{name} cannot switch prompts during sampling (`->`): written as it reads "
            "from {start:.0%} to {end:.0%} of the steps, the longest stretch; what it reads {when} is left out",
    "blend": "{name} cannot blend prompts (`blend`): written with the heaviest part (weight {weight})",
    "alternate": "{name} cannot alternate words every step (`[a | b]`): written with the first of them",
    "weights": "{name} has no weights: `{text}` is written without its weight {weight}",
    "part_weights": "{name} weights whole parts of a multi-prompt: weights inside the parts of a blend are left out",
    "negative_weights": "{name}'s --no takes no weights: `{text}` is written without its weight {weight}",
    "lora": "{name} cannot load LoRAs: `{lora}` (weight {weight}) is left out; its trigger words stay",
    "embedding": "{name} cannot load textual-inversion embeddings: `{embedding}` stays as a plain word "
                 "(load {file} into the reader's text encoder yourself)",
}


@lru_cache(maxsize=None)  # asked once per prompt emitted: a million expanded prompts ask a million times
def capabilities(target: str) -> tuple[str, frozenset]:
    """``(NAME, CAN)`` of a target module."""
    module = import_module(f"{__name__}.{target}")
    return module.NAME, frozenset(module.CAN)


def unsupported(prompt, warnings, feature: str, name: str, span=None, **detail) -> None:
    """Warn that the target ``name`` cannot say ``feature`` of this prompt, at ``span``
    (where the construct was written; the prompt's name when not known)."""
    warn(warnings, prompt, FEATURES[feature].format(name=name, **detail), span)


def lower(prompt, target: str, warnings=None, *, name: str | None = None, can=None):
    """The prompt as ``target`` can write it, with a warning for each thing it cannot
    say: without ``edit`` the segment that holds for most of the steps; without
    ``blend`` each blend's heaviest part. ``name``/``can`` override the module's."""
    from dataclasses import replace

    from ..ir import Blend, ends, flat, fractions, heaviest, join_text, longest

    default_name, default_can = capabilities(target)
    name = default_name if name is None else name
    can = default_can if can is None else frozenset(can)
    if any(s.every > 1 for s in prompt.segments) and "alternate" not in can:
        unsupported(prompt, warnings, "alternate", name)
        prompt = replace(prompt, segments=tuple(replace(s, every=1, phase=0) for s in prompt.segments
                                                if s.phase == 0))
    if len(prompt.segments) > 1 and "edit" not in can:
        segment = longest(prompt)
        index = prompt.segments.index(segment)
        starts, stops = fractions(prompt), ends(prompt)
        for k, other in enumerate(prompt.segments):  # one warning per stretch left out, where it differs
            if k != index:
                words = join_text(flat(other.positive))
                when = (f"after step {other.step}" if other.step is not None else
                        f"from {starts[k]:.0%} to {stops[k]:.0%}")
                when += f" (`{words if len(words) <= 40 else words[:37] + '…'}`)"
                unsupported(prompt, warnings, "edit", name, _differs(segment, other), start=starts[index],
                            end=stops[index], when=when)
        prompt = replace(prompt, segments=(replace(segment, start=0.0, step=None),))
    blends = [s.positive for s in prompt.segments if isinstance(s.positive, Blend)]
    if blends and "blend" not in can:
        first = next((f.span for p in blends[0].parts for f in p.fragments if f.span is not None), None)
        unsupported(prompt, warnings, "blend", name, first, weight=number(heaviest(blends[0]).weight))
        prompt = replace(prompt, segments=tuple(replace(s, positive=flat(s.positive)) for s in prompt.segments))
        blends = []
    from ..ir import embeddings, loras

    for adapter in loras(prompt) if "lora" not in can else ():
        unsupported(prompt, warnings, "lora", name, lora=adapter.name, weight=number(adapter.weight))
    for adapter in embeddings(prompt) if "embedding" not in can else ():
        unsupported(prompt, warnings, "embedding", name, embedding=adapter.name, file=adapter.file)
    sides = [f for s in prompt.segments for f in (*flat(s.positive), *s.negative)]
    if "weights" not in can:
        for f in sides:
            if f.weight != 1.0:
                unsupported(prompt, warnings, "weights", name, f.span, text=f.text, weight=number(f.weight))
    if "part_weights" not in can and any(f.weight != 1.0 for b in blends for p in b.parts for f in p.fragments):
        unsupported(prompt, warnings, "part_weights", name)
    return prompt


def _differs(kept, other):
    """Where ``other`` segment's text differs from ``kept``'s: the span of its first fragment
    that ``kept`` does not have (None when not known)."""
    from ..ir import flat

    have = set(flat(kept.positive)) | set(kept.negative)
    return next((f.span for f in (*flat(other.positive), *other.negative) if f not in have and f.span), None)


def warn(warnings, prompt, message: str, span=None) -> None:
    """Add a warning that points at ``span`` (where the construct was written) or else at the
    prompt's name in its file; the same message at the same place is said once."""
    if warnings is not None:
        from ..errors import Warning_

        # an expanded prompt's warning is said once for all the prompts its choices make
        who = f"prompt `{prompt.origin.prompt}` (expanded)" if prompt.origin else f"prompt `{prompt.name}`"
        item = Warning_(f"{who}: {message}", span if span is not None else prompt.span)
        if item not in warnings:
            warnings.append(item)


def at(text: str, offset: int) -> str:
    """Where in a fragment's text something is, for a warning: ``character 12 of `…```."""
    shown = text if len(text) <= 40 else text[:37] + "…"
    return f"at character {offset + 1} of `{shown}`"
