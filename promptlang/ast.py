"""The syntax tree of a `.prompt` file: frozen dataclasses, each with a source span."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union


@dataclass(frozen=True, slots=True)
class Span:
    """Where a node stands in its file: 1-based line and column, 0-based offsets."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Literal:
    """A quoted string, escapes already undone."""

    text: str
    weight: float
    span: Span
    negative: str = ""  # a wildcard value's own negative, which follows the value when it is picked


@dataclass(frozen=True, slots=True)
class Ref:
    """A catalog reference: ``van_gogh`` or ``core.van_gogh``."""

    catalog: str | None
    name: str
    weight: float
    span: Span
    text: str | None = None  # the entry's text with its choices picked (set by expansion only)

    @property
    def qualified(self) -> str:
        return f"{self.catalog}.{self.name}" if self.catalog else self.name


Item = Union[Literal, Ref]


@dataclass(frozen=True, slots=True)
class Option:
    """One option of a choice: pieces written side by side (none: the empty option) and its
    weight for random picks (``2:: "x"``)."""

    pieces: tuple
    chance: float
    span: Span


@dataclass(frozen=True, slots=True)
class Choice:
    """``{a | b | c}``: ``low`` to ``high`` of the options (one by default), joined by ``sep``;
    ``weight`` multiplies the picked pieces' weights. Expansion replaces it (see
    :mod:`promptlang.choices`); the resolver never sees one."""

    options: tuple[Option, ...]
    low: int
    high: int
    sep: str
    weight: float
    span: Span


@dataclass(frozen=True, slots=True)
class Wildcard:
    """``__animals__``, ``__colors/*__`` or ``core.__animals__``: one of a wildcard's values."""

    catalog: str | None
    path: str
    weight: float
    span: Span

    @property
    def qualified(self) -> str:
        return f"{self.catalog}.__{self.path}__" if self.catalog else f"__{self.path}__"


@dataclass(frozen=True, slots=True)
class Alternate:
    """``[cat | dog]``: the options take turns, one denoising step each."""

    options: tuple[Item, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Edit:
    """Prompt editing over steps: ``"a cat" -> "a dog" at 0.4``.

    ``before`` holds until the fraction ``at`` of the denoising steps, ``after`` from
    then on. Either side may be an empty literal (add or remove words at that point).
    ``step``: ``at step 12`` — ``at`` is then an absolute step (a whole number from 1).
    """

    before: Item
    after: Item
    at: float
    span: Span
    step: bool = False


@dataclass(frozen=True, slots=True)
class Phrase:
    """Items written side by side (no comma); joined by a space."""

    pieces: tuple[Union[Item, Edit], ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Slot:
    """``subject``, ``format``, ``style``, ``quality`` or ``negative`` and its items.

    ``blend`` is the span of the ``blend`` keyword when the slot is a blend: then each
    phrase is one piece, a part of the blend, whose weight is the part's share.
    ``append`` is true for ``negative += …``: the phrases follow the ones the slot
    inherits (from ``extends`` or ``defaults``) instead of replacing them.
    """

    name: str
    phrases: tuple[Phrase, ...]
    span: Span
    blend: Span | None = None
    append: bool = False


@dataclass(frozen=True, slots=True)
class Param:
    """A render setting; ``value`` is already checked and typed (``size``/``aspect`` give a pair)."""

    name: str
    value: object
    span: Span


@dataclass(frozen=True, slots=True)
class Block:
    slots: tuple[Slot, ...]
    params: tuple[Param, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class PromptDecl:
    name: str
    parent: str | None
    body: Block
    span: Span  # the name
    parent_span: Span | None


@dataclass(frozen=True, slots=True)
class Constraint:
    """One version constraint of a ``use`` line: ``>= 1.2`` (``op`` is one of
    ``>= <= == != > <``; ``version`` as written)."""

    op: str
    version: str
    span: Span

    def __str__(self) -> str:
        return f"{self.op} {self.version}"


@dataclass(frozen=True, slots=True)
class Use:
    """``use core`` or ``use "./team.yaml"``, with the versions the catalog must have
    (``use studio >= 1.2, < 2``; empty when none are written)."""

    target: str
    is_path: bool
    span: Span
    constraints: tuple[Constraint, ...] = ()
    wildcards: bool = False  # `use wildcards "./folder"`: a dynamicprompts wildcard folder


@dataclass(frozen=True, slots=True)
class File:
    path: str
    source: str
    uses: tuple[Use, ...]
    defaults: Block | None
    prompts: tuple[PromptDecl, ...]
