"""Text targets: one module each, each with ``emit(prompt, warnings=None) -> str``.

A target that cannot express something appends a :class:`promptlang.errors.Warning_`
to ``warnings`` (a list) instead of dropping it silently.
"""
from __future__ import annotations

from importlib import import_module

NAMES = ("compel", "a1111", "midjourney", "plain", "json")


def emit(target: str, prompt, warnings: list | None = None) -> str:
    if target not in NAMES:
        raise ValueError(f"unknown target {target!r}")
    return import_module(f"{__name__}.{target}").emit(prompt, warnings)


def runs(fragments):
    """Adjacent fragments of equal weight merged: a list of (join, text, weight)."""
    out = []
    for i, frag in enumerate(fragments):
        join = frag.join if i else ""
        if out and out[-1][2] == frag.weight:
            out[-1] = (out[-1][0], out[-1][1] + join + frag.text, frag.weight)
        else:
            out.append((join, frag.text, frag.weight))
    return out


def number(weight: float) -> str:
    """A weight as short decimal text: 1.3, 1.21, 0.9, 2."""
    text = f"{weight:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def simplify(prompt, warnings, target: str, *, blend: bool = False, edit: bool = False):
    """The prompt as a target that cannot blend (``blend=False``) or cannot switch text
    during sampling (``edit=False``) can write it, with a warning for what is lost:
    the stage that holds for most of the steps, and the heaviest part of a blend."""
    from dataclasses import replace

    from ..ir import at_stage, heaviest, longest_stage, timeline

    if prompt.stages and not edit:
        stage = longest_stage(prompt)
        stages = timeline(prompt)
        end = next((s.at for s in stages if s.at > stage.at), 1.0)
        warn(warnings, prompt, f"{target} cannot switch prompts during sampling (`->`): written as it reads "
                               f"from {stage.at:.0%} to {end:.0%} of the steps, the longest stretch")
        prompt = at_stage(prompt, stage)
    if not blend and any(s.blend for s in timeline(prompt)):
        part = heaviest(next(s.blend for s in timeline(prompt) if s.blend))
        warn(warnings, prompt, f"{target} cannot blend prompts (`blend`): written with the heaviest part "
                               f"(weight {number(part.weight)})")
        prompt = replace(prompt, blend=(), stages=tuple(replace(s, blend=()) for s in prompt.stages))
    return prompt


def warn(warnings, prompt, message: str) -> None:
    """Add a warning (once) that points at the prompt's name in its file."""
    if warnings is not None:
        from ..errors import Warning_

        item = Warning_(f"prompt `{prompt.name}`: {message}", prompt.span)
        if item not in warnings:
            warnings.append(item)
