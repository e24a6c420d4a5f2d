"""Catalog entry texts as sandboxed Jinja2 templates.

A shared catalog must never read files, import modules or run code, so entries are
rendered in :class:`jinja2.sandbox.ImmutableSandboxedEnvironment` with strict
undefined variables, a bounded ``range``, bounded ``*``/``**`` and bounded output.
The one variable is ``subject``; :func:`render` gives back the text split around
each place the subject was put, so that weights on subject pieces survive.
"""
from __future__ import annotations

import re
from functools import lru_cache

from .errors import PromptError

MAX_OUTPUT = 10_000   # characters one entry may render to
MAX_RANGE = 100       # items a template's range() may make
MARK = "\x00\x01subject\x01\x00"

# `{{ subject }}` (spaces optional) and nothing else Jinja would read: such a text renders
# as itself with the subject put in, so it needs neither Jinja (about 10 ms to import
# and a few ms to compile each template) nor the sandbox. Texts with any other `{`/`}`,
# a line break at the end (Jinja drops one) or a `\r` (Jinja rewrites line breaks) go to
# Jinja; tests/test_startup_pieces.py checks the two agree.
_PLAIN_SUBJECT = re.compile(r"\{\{ *subject *\}\}")


def _plain(text: str) -> list[str] | None:
    """The pieces around each `{{ subject }}` of a text Jinja would render unchanged; else None."""
    pieces = _PLAIN_SUBJECT.split(text)
    if len(pieces) == 1 or "\r" in text or text.endswith("\n") or any("{" in p or "}" in p for p in pieces):
        return None
    return pieces


@lru_cache(maxsize=1)
def _env():
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

    class _Env(ImmutableSandboxedEnvironment):
        intercepted_binops = frozenset(["*", "**"])

        def call_binop(self, context, operator, left, right):
            if operator == "**" and isinstance(right, (int, float)) and abs(right) > 64:
                raise SecurityError("exponent too large in a catalog template")
            if operator == "*":
                for seq, n in ((left, right), (right, left)):
                    if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_OUTPUT:
                        raise SecurityError("repetition too large in a catalog template")
            return super().call_binop(context, operator, left, right)

    def _range(*args):
        r = range(*args)
        if len(r) > MAX_RANGE:
            raise SecurityError(f"range() of more than {MAX_RANGE} items in a catalog template")
        return r

    env = _Env(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False)
    env.globals = {"range": _range}
    return env


@lru_cache(maxsize=4096)
def _compile(text: str):
    from jinja2 import meta

    env = _env()
    tree = env.parse(text)
    return env.from_string(tree), "subject" in meta.find_undeclared_variables(tree)


def render(text: str, where: str, plain_subject: str = "") -> tuple[list[str], str]:
    """Render ``text``; return (pieces between subject places, how the subject was used).

    The mode is ``"placed"`` (pieces surround each place), ``"absent"`` (no subject) or
    ``"plain"`` (a filter changed the subject, so it was rendered in as plain words).

    ``where`` names the entry (``core: format.oil_painting``) for error messages.
    Texts without Jinja syntax are returned as they are, without touching Jinja.
    """
    if "{" not in text:
        return [text], "absent"
    pieces = _plain(text)
    if pieces is not None:
        return pieces, "placed"
    import jinja2
    from jinja2.sandbox import SecurityError

    try:
        template, uses_subject = _compile(text)
        rendered = _generate(template, MARK, where)
        pieces = rendered.split(MARK)
        if uses_subject and len(pieces) == 1:
            # the subject went through a filter that changed it: weights cannot survive that
            return [_generate(template, plain_subject, where)], "plain"
    except PromptError:
        raise
    except SecurityError as exc:
        raise PromptError(f"{where}: template refused by the sandbox: {exc}",
                          hint="catalog templates may only place `{{ subject }}` and use simple filters") from None
    except jinja2.TemplateSyntaxError as exc:
        raise PromptError(f"{where}: template syntax error on its line {exc.lineno}: {exc.message}") from None
    except jinja2.UndefinedError as exc:
        raise PromptError(f"{where}: template error: {exc.message} (the only variable is `subject`)",
                          hint="templates cannot reach attributes such as __class__ or __globals__") from None
    except Exception as exc:  # anything else a template can raise (TypeError, ZeroDivisionError…)
        raise PromptError(f"{where}: template failed: {type(exc).__name__}: {exc}") from None
    return pieces, "placed" if len(pieces) > 1 else "absent"


def _generate(template, subject: str, where: str) -> str:
    out, size = [], 0
    for chunk in template.generate(subject=subject):
        size += len(chunk)
        if size > MAX_OUTPUT:
            raise PromptError(f"{where}: template output is longer than {MAX_OUTPUT:,} characters")
        out.append(chunk)
    return "".join(out)
