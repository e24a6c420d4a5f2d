"""Turn the :class:`promptlang.jobs.Event` objects a job reports into output.

``file`` and ``info`` go to stdout as a line each (``info`` is chatter: ``--quiet``
drops it), ``warning`` and ``note`` go to stderr and always print, and ``progress``
drives one tqdm bar per task on stderr, closed when ``done == total`` (``--quiet``, or
stderr that is not a terminal: no bars). tqdm is imported only when a bar is shown. A
note said once is not said again (``build --render`` renders file after file).
"""
from __future__ import annotations

import sys

from ..jobs import Event


class Reporter:
    """A ``Report`` for the command line; ``failures`` counts the errors it was told of."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.failures = 0
        self._bars: dict = {}
        self._noted: set = set()

    def __call__(self, event: Event) -> None:
        kind = event.kind
        if kind == "progress":
            self._progress(event)
        elif kind == "file":  # the file, and what it holds
            text = str(event.path) if event.path is not None else event.message
            self._line(f"{text}  ({event.message})" if event.path is not None and event.message else text, sys.stdout)
        elif kind == "info":
            if not self.quiet:
                self._line(event.message, sys.stdout)
        elif kind == "warning":
            text = event.message
            self._line(text if text.startswith("warning: ") or ": warning: " in text else f"warning: {text}",
                       sys.stderr)
        elif kind == "note":
            if event.message not in self._noted:
                self._noted.add(event.message)
                self._line(f"note: {event.message}", sys.stderr)
        elif kind == "error":
            self.failures += 1
            self._line(event.message, sys.stderr)
        else:
            self._line(event.message, sys.stderr)

    def error(self, text: str) -> None:
        self(Event("error", text))

    def warnings(self, warnings) -> None:
        for w in warnings:
            self(Event("warning", str(w)))

    def _line(self, text: str, stream) -> None:
        bar = next(iter(self._bars.values()), None)
        if bar is not None:  # print above the bars, not through them
            bar.write(text, file=stream)
        else:
            print(text, file=stream)

    def _progress(self, event: Event) -> None:
        if self.quiet or not _is_terminal(sys.stderr):
            return
        bar = self._bars.get(event.task)
        if bar is None:
            if event.done >= event.total:
                return
            from tqdm import tqdm

            bar = self._bars[event.task] = tqdm(total=event.total, desc=event.task or None, file=sys.stderr,
                                                leave=False, dynamic_ncols=True)
        bar.update(event.done - bar.n)
        if event.done >= event.total:
            bar.close()
            del self._bars[event.task]

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
