"""Text targets: one module each, each with ``emit(prompt, warnings=None) -> str``.

A target that cannot express something appends a :class:`promptlang.errors.Warning_`
to ``warnings`` (a list) instead of dropping it silently.
"""
from __future__ import annotations

from functools import lru_cache
from importlib import import_module

NAMES = ("compel", "a1111", "midjourney", "plain", "json")


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
            "from {start:.0%} to {end:.0%} of the steps, the longest stretch",
    "blend": "{name} cannot blend prompts (`blend`): written with the heaviest part (weight {weight})",
    "alternate": "{name} cannot alternate words every step (`[a | b]`): written with the first of them",
    "weights": "{name} has no weights; they are left out",
    "part_weights": "{name} weights whole parts of a multi-prompt: weights inside the parts of a blend are left out",
    "negative_weights": "{name}'s --no takes no weights; negative weights are left out",
}


@lru_cache(maxsize=None)  # asked once per prompt emitted: a million expanded prompts ask a million times
def capabilities(target: str) -> tuple[str, frozenset]:
    """``(NAME, CAN)`` of a target module."""
    module = import_module(f"{__name__}.{target}")
    return module.NAME, frozenset(module.CAN)


def unsupported(prompt, warnings, feature: str, name: str, **detail) -> None:
    """Warn (once) that the target ``name`` cannot say ``feature`` of this prompt."""
    warn(warnings, prompt, FEATURES[feature].format(name=name, **detail))


def lower(prompt, target: str, warnings=None, *, name: str | None = None, can=None):
    """The prompt as ``target`` can write it, with a warning for each thing it cannot
    say: without ``edit`` the segment that holds for most of the steps; without
    ``blend`` each blend's heaviest part. ``name``/``can`` override the module's."""
    from dataclasses import replace

    from ..ir import Blend, ends, flat, heaviest, longest

    default_name, default_can = capabilities(target)
    name = default_name if name is None else name
    can = default_can if can is None else frozenset(can)
    if any(s.every > 1 for s in prompt.segments) and "alternate" not in can:
        unsupported(prompt, warnings, "alternate", name)
        prompt = replace(prompt, segments=tuple(replace(s, every=1, phase=0) for s in prompt.segments
                                                if s.phase == 0))
    if len(prompt.segments) > 1 and "edit" not in can:
        segment = longest(prompt)
        end = ends(prompt)[prompt.segments.index(segment)]
        unsupported(prompt, warnings, "edit", name, start=segment.start, end=end)
        prompt = replace(prompt, segments=(replace(segment, start=0.0),))
    blends = [s.positive for s in prompt.segments if isinstance(s.positive, Blend)]
    if blends and "blend" not in can:
        unsupported(prompt, warnings, "blend", name, weight=number(heaviest(blends[0]).weight))
        prompt = replace(prompt, segments=tuple(replace(s, positive=flat(s.positive)) for s in prompt.segments))
        blends = []
    sides = [f for s in prompt.segments for f in (*flat(s.positive), *s.negative)]
    if "weights" not in can and any(f.weight != 1.0 for f in sides):
        unsupported(prompt, warnings, "weights", name)
    if "part_weights" not in can and any(f.weight != 1.0 for b in blends for p in b.parts for f in p.fragments):
        unsupported(prompt, warnings, "part_weights", name)
    return prompt


def warn(warnings, prompt, message: str) -> None:
    """Add a warning (once) that points at the prompt's name in its file."""
    if warnings is not None:
        from ..errors import Warning_

        # an expanded prompt's warning is said once for all the prompts its choices make
        who = f"prompt `{prompt.origin.prompt}` (expanded)" if prompt.origin else f"prompt `{prompt.name}`"
        item = Warning_(f"{who}: {message}", prompt.span)
        if item not in warnings:
            warnings.append(item)
