"""Catalog entry texts as sandboxed Jinja2 templates.

A shared catalog must never read files, import modules or run code, so entries are
rendered in :class:`jinja2.sandbox.ImmutableSandboxedEnvironment` with strict
undefined variables, and bounded work: a bounded ``range``, at most MAX_STEPS loop
iterations and calls, calls nested at most MAX_DEPTH deep, and no string or list
(output, intermediate, or one a width or count asks for) longer than MAX_OUTPUT.
The one variable is ``subject``; :func:`render` gives back the text split around
each place the subject was put, so that weights on subject pieces survive.
"""
from __future__ import annotations

import contextvars
import re
from functools import lru_cache

from .errors import PromptError

MAX_OUTPUT = 10_000   # characters one entry may render to
MAX_RANGE = 100       # items a template's range() may make
MAX_STEPS = 10_000    # loop iterations and calls one rendering may make, all together
MAX_DEPTH = 20        # how deeply calls (macros calling macros) may nest
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


class _Budget:
    """The work one rendering may do: loop iterations and calls, and how deep calls nest."""

    def __init__(self):
        self.steps = 0
        self.depth = 0

    def step(self):
        self.steps += 1
        if self.steps > MAX_STEPS:
            from jinja2.sandbox import SecurityError

            raise SecurityError(f"more than {MAX_STEPS:,} loop iterations and calls in a catalog template")


_BUDGET: contextvars.ContextVar = contextvars.ContextVar("promptlang_template_budget")


def _budget() -> _Budget:
    budget = _BUDGET.get(None)
    if budget is None:  # a template rendered outside _generate still gets a budget
        budget = _Budget()
        _BUDGET.set(budget)
    return budget


def _counted(iterable):
    """Every `for` loop of a catalog template iterates through this: each item is a step."""
    budget = _budget()
    for item in iterable:
        budget.step()
        yield item


def _refuse(what: str):
    from jinja2.sandbox import SecurityError

    raise SecurityError(f"{what} would exceed {MAX_OUTPUT:,} characters in a catalog template")


def _sized(value, what: str):
    """``value``, unless it is a string or sequence longer than the output bound."""
    if isinstance(value, (str, list, tuple, dict)) and len(value) > MAX_OUTPUT:
        _refuse(what)
    return value


def _check_numbers(args, kwargs, what: str):
    """Widths, counts and repetitions larger than the output bound are refused before any
    work: ``'x'|center(1000000000)`` would build a gigabyte string first."""
    for n in (*args, *kwargs.values()):
        if isinstance(n, int) and not isinstance(n, bool) and abs(n) > MAX_OUTPUT:
            _refuse(what)


_WIDTH_IN_FORMAT = re.compile(r"\d{6,}")


def _check_format(fmt, args, kwargs, what: str):
    if isinstance(fmt, str) and any(int(m) > MAX_OUTPUT for m in _WIDTH_IN_FORMAT.findall(fmt)):
        _refuse(what)
    if isinstance(fmt, str) and ("*" in fmt or "{" in fmt):
        _check_numbers(args, kwargs, what)


def _estimate(name: str, value, args, kwargs) -> int:
    """How long a filter's result may get, for the filters whose result can outgrow their input."""
    text = value if isinstance(value, str) else ""
    if name == "replace" and len(args) >= 2:
        old, new = str(args[0]), str(args[1])
        return len(text) + (len(text) + 1 if not old else text.count(old)) * len(new)
    if name == "indent":
        width = args[0] if args else kwargs.get("width", 4)
        width = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
        return len(text) + (text.count("\n") + 1) * width
    return 0


def _bounded_filter(name: str, func):
    """``func`` with its numbers, its likely result and its actual result kept in bounds."""
    import functools

    from jinja2.utils import _PassArg

    skip = 1 if _PassArg.from_obj(func) is not None else 0

    @functools.wraps(func)
    def bounded(*args, **kwargs):
        value, rest = (args[skip], args[skip + 1:]) if len(args) > skip else (None, ())
        what = f"the `{name}` filter"
        _budget().step()
        _check_numbers(rest, kwargs, what)
        if name == "format":
            _check_format(value, rest, kwargs, what)
        if _estimate(name, value, rest, kwargs) > MAX_OUTPUT:
            _refuse(what)
        return _sized(func(*args, **kwargs), what)

    return bounded


@lru_cache(maxsize=1)
def _env():
    import jinja2
    from jinja2 import nodes
    from jinja2.compiler import CodeGenerator
    from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

    class _Generator(CodeGenerator):
        # `a ~ b` joins strings directly in the generated code; send it through the
        # environment so that its result is bounded like every other operation's.
        def visit_Concat(self, node, frame):
            self.write("environment.bounded_join((")
            for arg in node.nodes:
                self.visit(arg, frame)
                self.write(", ")
            self.write("))")

    class _Env(ImmutableSandboxedEnvironment):
        """The sandbox, counting work: every loop iteration and call is a step (at most
        MAX_STEPS), calls nest at most MAX_DEPTH deep, and no operation may make a string
        or list longer than MAX_OUTPUT, nor be asked to (widths and counts are checked
        before the work)."""

        code_generator_class = _Generator
        intercepted_binops = frozenset(["*", "**", "+", "%"])

        def call_binop(self, context, operator, left, right):
            if operator == "**" and isinstance(right, (int, float)) and abs(right) > 64:
                raise SecurityError("exponent too large in a catalog template")
            if operator == "*":
                for seq, n in ((left, right), (right, left)):
                    if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_OUTPUT:
                        raise SecurityError("repetition too large in a catalog template")
            if operator == "+" and all(isinstance(x, (str, list, tuple)) for x in (left, right)) \
                    and len(left) + len(right) > MAX_OUTPUT:
                _refuse("`+`")
            if operator == "%" and isinstance(left, str):
                _check_format(left, right if isinstance(right, tuple) else (right,), {}, "`%` formatting")
            return _sized(super().call_binop(context, operator, left, right), f"`{operator}`")

        def bounded_join(self, parts):
            total = 0
            for part in parts:
                total += len(part) if isinstance(part, str) else 0
                if total > MAX_OUTPUT:
                    _refuse("`~`")
            return _sized("".join(map(str, parts)), "`~`")

        def wrap_str_format(self, value):
            fmt = super().wrap_str_format(value)
            if fmt is None:
                return None
            template = value.__self__

            def bounded(*args, **kwargs):
                _check_format(template, args, kwargs, "str.format")
                return _sized(fmt(*args, **kwargs), "str.format")

            return bounded

        def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 (Jinja's own names)
            budget = _budget()
            budget.step()
            if not isinstance(__obj, jinja2.runtime.Macro) and __obj is not _range:
                what = f"`{getattr(__obj, '__name__', 'a call')}`"
                _check_numbers(args, kwargs, what)
                if getattr(__obj, "__name__", "") in ("replace", "expandtabs") and isinstance(
                        getattr(__obj, "__self__", None), str):
                    text = __obj.__self__
                    if __obj.__name__ == "replace":
                        estimate = _estimate("replace", text, args, kwargs)
                    else:
                        estimate = len(text) + text.count("\t") * (args[0] if args and isinstance(args[0], int) else 8)
                    if estimate > MAX_OUTPUT:
                        _refuse(what)
            budget.depth += 1
            try:
                if budget.depth > MAX_DEPTH:
                    raise SecurityError(f"calls nest deeper than {MAX_DEPTH} in a catalog template")
                return _sized(super().call(__context, __obj, *args, **kwargs), "a call")
            finally:
                budget.depth -= 1

    def _range(*args):
        r = range(*args)
        if len(r) > MAX_RANGE:
            raise SecurityError(f"range() of more than {MAX_RANGE} items in a catalog template")
        return r

    env = _Env(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False)
    env.globals = {"range": _range}
    env.filters = {name: _bounded_filter(name, func) for name, func in env.filters.items()}
    env._count_loops = lambda tree: _count_loops(nodes, tree)
    return env


def _count_loops(nodes, tree):
    """Make every `for` of ``tree`` iterate through :func:`_counted` (in place)."""
    for loop in tree.find_all(nodes.For):
        counted = nodes.Call(nodes.ImportedName(f"{__name__}._counted"), [loop.iter], [], None, None)
        loop.iter = counted.set_lineno(loop.iter.lineno)
    return tree


@lru_cache(maxsize=4096)
def _compile(text: str):
    from jinja2 import meta

    env = _env()
    tree = env.parse(text)
    uses_subject = "subject" in meta.find_undeclared_variables(tree)
    return env.from_string(env._count_loops(tree)), uses_subject


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
        if uses_subject and (len(pieces) == 1 or any("\x00" in piece for piece in pieces)):
            # the subject went through a filter that changed it (everywhere, or in one of
            # several places: what is left of the marker shows): weights cannot survive that
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
    token = _BUDGET.set(_Budget())
    try:
        for chunk in template.generate(subject=subject):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise PromptError(f"{where}: template output is longer than {MAX_OUTPUT:,} characters")
            out.append(chunk)
    finally:
        _BUDGET.reset(token)
    return "".join(out)
