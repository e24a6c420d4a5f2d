"""Jobs: render, embed, walk, grid, sheet, reproduce, show — each a plan (checked, nothing
written) and a run. A job never prints: it reports :class:`Event` objects to a
``report`` callable (the CLI turns them into lines and progress bars), and renders
through a :class:`~promptlang.jobs.backend.Backend` (in-process today).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable


@dataclass(frozen=True, slots=True)
class Event:
    """Something a job wants a person to know.

    ``kind``: ``"file"`` (a file was written: ``path``; ``message`` says what it holds),
    ``"warning"``, ``"note"`` (e.g. "builtin:tiny renders noise"), ``"progress"``
    (``done`` of ``total`` units of ``task``), or ``"info"`` (a summary line).
    """

    kind: str
    message: str = ""
    path: Path | None = None
    task: str = ""
    done: int = 0
    total: int = 0


Report = Callable[[Event], None]


def ignore(event: Event) -> None:
    """The report of a job nobody watches."""


def collect(into: list) -> Report:
    """A report that keeps every event in ``into`` (for tests and the Python API)."""
    return into.append
