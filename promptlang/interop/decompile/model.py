"""What a decompiled prompt is before it is written as ``.prompt`` text.

Every reader (A1111, ComfyUI, Compel, Midjourney, image metadata) produces a
:class:`Decompiled`; one writer (:mod:`.write`) turns it into a ``.prompt`` file. A side
(positive or negative) is a flat list of nodes: :class:`Run` (words and their final
weight, escapes undone), :class:`Edit` (one text, then another from a point of the
steps) and :class:`Alternate` (texts that take turns, step by step). Commas stay inside
the runs' text; the writer splits items at them.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Run:
    text: str
    weight: float = 1.0


@dataclass(slots=True)
class Edit:
    """``before`` until ``at`` (a fraction of the steps, or with ``step`` an absolute step),
    then ``after``; either side may be empty."""

    before: list
    after: list
    at: float
    step: bool = False


@dataclass(slots=True)
class Alternate:
    options: list  # of lists of Run


@dataclass(slots=True)
class Part:
    """A part of a blend (A1111 ``AND``, Compel ``.blend()``): its nodes and its weight."""

    nodes: list
    weight: float = 1.0


@dataclass(slots=True)
class Decompiled:
    source: str                                  # the tool's name, for the header line
    positive: list = field(default_factory=list)
    negative: list = field(default_factory=list)
    blend: list | None = None                    # of Part, instead of `positive`
    settings: dict = field(default_factory=dict)  # promptlang setting name -> value
    loras: list = field(default_factory=list)     # (name, weight)
    notes: list = field(default_factory=list)     # what could not be carried, in words

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


def scale(nodes: list, factor: float) -> list:
    """Every weight in ``nodes`` multiplied by ``factor``, in place (the nodes are fresh
    from a reader: nothing else holds them); returns ``nodes``."""
    if factor != 1.0:
        for node in nodes:
            if isinstance(node, Run):
                node.weight *= factor
            elif isinstance(node, Edit):
                scale(node.before, factor)
                scale(node.after, factor)
            elif isinstance(node, Alternate):
                for option in node.options:
                    scale(option, factor)
    return nodes

