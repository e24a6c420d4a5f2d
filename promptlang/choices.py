"""Choices and wildcards: one prompt with ``{a | b}`` and ``__animals__`` -> concrete prompts.

Choices live in the AST and here; the resolver gets concrete slots (only literals, catalog
names and edits) and the IR never holds a choice (DESIGN §5). A prompt's choices are first
compiled into a small tree of :class:`Leaf`, :class:`Seq`, :class:`Pick` and :class:`Map`
nodes, whose number of combinations is known before anything is expanded (``count``). The
tree is then walked lazily:

- combinatorially (:meth:`Node.iterate`): the leftmost choice varies slowest, and ``{2$$ a
  | b | c}`` lists ordered picks of distinct options (``a, b``, ``a, c``, ``b, a`` …), the
  order dynamicprompts' combinatorial generator gives;
- at random (:meth:`Node.sample`): the k-th prompt draws from a generator seeded by (seed,
  prompt name, k) alone, so it gets the same picks whatever the batch size, the other
  prompts of the file or ``--max``.

A value carries its picks: (which choice, which option) pairs, in the order the choices
stand, recorded in the IR's ``origin`` (:class:`promptlang.ir.Origin`).

Text with choices (a catalog entry's text, a wildcard's values) is written in
dynamicprompts' syntax: ``a {red|blue} car``, ``{2$$ and $$a|b|c}``, ``__colors__``
(:func:`parse_text`); its options are words, joined as dynamicprompts joins them.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from itertools import permutations, product

from . import ast
from .errors import PromptError, suggest

MAX_DEPTH = 16          # wildcards inside wildcard values inside …
MAX_NODES = 200_000     # nodes of one prompt's tree (bounds the work done before expanding)
MAX_OPTIONS = 100_000   # values of one wildcard (a glob may gather several)
MAX_PICK_WORK = 1_000_000  # options x the most picked of one pick-N choice (counting it is that much work)
SMALL = 4_096           # a node with at most this many values keeps them listed while it is walked


@dataclass(frozen=True, slots=True)
class Sep:
    """Stands between the options a pick-N choice picked (``{2$$ a | b}``)."""

    text: str


# ---------------------------------------------------------------- the tree

class Node:
    """A value is ``(payload, picks)``: the payload is text (a ``(str, negatives)`` pair) or a
    tuple of AST pieces; ``picks`` a tuple of (choice, option) pairs."""

    __slots__ = ("_count", "_list")

    def count(self) -> int:
        if self._count is None:
            self._count = self._size()
        return self._count

    def values(self):
        """The values, listed once and kept when there are few (walked again and again by the
        nodes above); else a fresh lazy walk."""
        if self.count() > SMALL:
            return self.iterate()
        if self._list is None:
            self._list = list(self.iterate())
        return self._list


class Leaf(Node):
    __slots__ = ("value",)

    def __init__(self, value):
        self.value, self._count, self._list = value, 1, None

    def _size(self):
        return 1

    def iterate(self):
        yield self.value

    def sample(self, rng):
        return self.value


class Seq(Node):
    """Its children side by side: every combination, the first child varying slowest."""

    __slots__ = ("children", "combine")

    def __init__(self, children, combine):
        self.children, self.combine, self._count, self._list = children, combine, None, None

    def _size(self):
        return math.prod(c.count() for c in self.children)

    def iterate(self):
        combine = self.combine
        if all(c.count() <= SMALL for c in self.children):
            for combo in product(*(c.values() for c in self.children)):
                yield combine(combo)
        else:
            yield from (combine(combo) for combo in _product(self.children))

    def sample(self, rng):
        return self.combine([c.sample(rng) for c in self.children])


def _product(children):
    """Every combination of the children's values, lazily, without listing any large child."""
    if not children:
        yield ()
        return
    first, rest = children[0], children[1:]
    for value in first.values():
        for tail in _product(rest):
            yield (value,) + tail


class Map(Node):
    __slots__ = ("child", "fn")

    def __init__(self, child, fn):
        self.child, self.fn, self._count, self._list = child, fn, None, None

    def _size(self):
        return self.child.count()

    def iterate(self):
        return map(self.fn, self.child.values())

    def sample(self, rng):
        return self.fn(self.child.sample(rng))


class Pick(Node):
    """``low`` to ``high`` distinct options, in order of picking; ``join`` makes the value of
    the picked options' values; each pick is recorded as (``label``, ``names[i]``)."""

    __slots__ = ("options", "chances", "low", "high", "join", "label", "names")

    def __init__(self, options, chances, low, high, join, label, names):
        self.options, self.chances, self.low, self.high = options, chances, low, high
        self.join, self.label, self.names = join, label, names
        self._count, self._list = None, None

    def _size(self):
        # ordered picks of k distinct options: k! times the k-th elementary symmetric
        # polynomial of the options' counts
        e = [1] + [0] * self.high
        for option in self.options:
            c = option.count()
            for k in range(self.high, 0, -1):
                e[k] += e[k - 1] * c
        return sum(math.factorial(k) * e[k] for k in range(self.low, self.high + 1))

    def iterate(self):
        n = len(self.options)
        for k in range(self.low, self.high + 1):
            for perm in permutations(range(n), k):
                for combo in product(*(self.options[i].values() for i in perm)) if all(
                        self.options[i].count() <= SMALL for i in perm) else _product([self.options[i] for i in perm]):
                    yield self._joined(perm, combo)

    def _joined(self, perm, combo):
        picked = tuple((self.label, self.names[i]) for i in perm)
        if len(combo) == 1:
            payload, picks = combo[0]
            return payload, picked + picks
        payload = self.join([v[0] for v in combo])
        return payload, picked + tuple(p for v in combo for p in v[1])

    def sample(self, rng):
        k = self.low if self.low == self.high else rng.randint(self.low, self.high)
        left = list(range(len(self.options)))
        perm = []
        for _ in range(k):
            weights = [self.chances[i] for i in left]
            i = rng.choices(left, weights=weights)[0] if sum(weights) > 0 else rng.choice(left)
            perm.append(i)
            left.remove(i)
        return self._joined(perm, [self.options[i].sample(rng) for i in perm])


# ---------------------------------------------------------------- joining values

def _text_seq(values):
    return ("".join(v[0][0] for v in values), tuple(n for v in values for n in v[0][1])), \
        tuple(p for v in values for p in v[1])


def _text_join(sep):
    """dynamicprompts' joining of picked options: ``sep`` between them, then one ``sep`` taken
    off each end where the joined text starts or ends with it."""
    def join(payloads):
        text = sep.join(p[0] for p in payloads)
        if sep:
            text = text.removeprefix(sep).removesuffix(sep)
        return text, tuple(n for p in payloads for n in p[1])
    return join


def _piece_seq(values):
    return tuple(x for v in values for x in v[0]), tuple(p for v in values for p in v[1])


def _piece_join(sep):
    def join(payloads):
        out = []
        for i, payload in enumerate(payloads):
            if i:
                out.append(Sep(sep))
            out.extend(payload)
        return tuple(out)
    return join


# ---------------------------------------------------------------- text with choices (dynamicprompts syntax)

@dataclass(frozen=True, slots=True)
class TVariant:
    """``{…}`` in a text: options (each a tuple of parts) with their weights."""

    options: tuple
    chances: tuple
    low: int
    high: int
    sep: str
    counted: bool  # a `$$` count was written
    offset: int


@dataclass(frozen=True, slots=True)
class TWild:
    path: str
    offset: int


_BOUND = re.compile(r"(\d+)-(\d+)\$\$|(\d+)-\$\$|-(\d+)\$\$|(\d+)\$\$")
_SEPARATOR = re.compile(r"([^${}]+)\$\$")
_WEIGHT = re.compile(r"(\d+\.\d*|\.\d+|\d+)::")
_WILD = re.compile(r"__([^(${}#_\s](?:(?!__)[^(${}#\s])*)__")
_JINJA = {"{{": "}}", "{%": "%}", "{#": "#}"}
_COMMENT = re.compile(r"#[^\n]*|//[^\n]*|/\*.*?\*/", re.S)


class TextError(Exception):
    def __init__(self, message: str, offset: int):
        super().__init__(message)
        self.message, self.offset = message, offset


def parse_text(text: str, *, jinja: bool = False, comments: bool = False) -> tuple:
    """A text in dynamicprompts' syntax -> a tuple of parts: ``str``, :class:`TVariant`,
    :class:`TWild`. ``jinja``: ``{{ … }}``, ``{% … %}`` and ``{# … #}`` are kept as text (a
    catalog entry's Jinja). ``comments``: ``# …`` and ``// …`` to the end of the line and
    ``/* … */`` are left out, as dynamicprompts reads a template. Raises :class:`TextError`
    (with the offset) on what it cannot read."""
    if comments:
        text = _COMMENT.sub("", text)
    parts, pos = _parse_seq(text, 0, False, jinja, 0)
    if pos < len(text):  # a stray `}` or `|` at the top level is text there
        raise TextError(f"unexpected `{text[pos]}`", pos)
    return parts


def _parse_seq(text: str, pos: int, inside: bool, jinja: bool, depth: int):
    if depth > MAX_DEPTH * 4:
        raise TextError(f"choices nested more than {MAX_DEPTH * 4} deep", pos)
    parts, buf = [], []
    n = len(text)
    while pos < n:
        ch = text[pos]
        if inside and ch in "|}":
            break
        if ch == "{":
            close = _JINJA.get(text[pos:pos + 2]) if jinja else None
            if close is not None:
                end = text.find(close, pos + 2)
                end = n if end < 0 else end + 2
                buf.append(text[pos:end])
                pos = end
                continue
            if buf:
                parts.append("".join(buf))
                buf = []
            variant, pos = _parse_variant(text, pos, jinja, depth)
            parts.append(variant)
            continue
        if ch == "}" and not inside:
            buf.append(ch)
            pos += 1
            continue
        if ch == "_" and text.startswith("__", pos):
            m = _WILD.match(text, pos)
            if m:
                if buf:
                    parts.append("".join(buf))
                    buf = []
                parts.append(TWild(m.group(1), pos))
                pos = m.end()
                continue
        if ch in "$%" and text.startswith("{", pos + 1):
            what = "variables (`${…}`)" if ch == "$" else "wrap commands (`%{…}`)"
            raise TextError(f"dynamicprompts {what} are not supported", pos)
        buf.append(ch)
        pos += 1
    if buf:
        parts.append("".join(buf))
    return tuple(parts), pos


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _parse_variant(text: str, start: int, jinja: bool, depth: int):
    pos = _skip_space(text, start + 1)
    if pos < len(text) and text[pos] in "~@":
        raise TextError("dynamicprompts sampler marks (`~`, `@`) inside `{…}` are not supported", pos)
    low = high = 1
    counted, sep = False, ","
    m = _BOUND.match(text, pos)
    if m:
        counted = True
        a, b, c, d, e = m.groups()
        low, high = (int(a), int(b)) if a else (int(c), -1) if c else (1, int(d)) if d else (int(e), int(e))
        pos = m.end()
        s = _SEPARATOR.match(text, pos)
        if s:
            sep, pos = s.group(1), s.end()
        pos = _skip_space(text, pos)
    options, chances = [], []
    while True:
        pos = _skip_space(text, pos)
        w = _WEIGHT.match(text, pos)
        chance = 1.0
        if w:
            chance, pos = float(w.group(1)), w.end()
        option, pos = _parse_seq(text, pos, True, jinja, depth + 1)
        options.append(option)
        chances.append(chance)
        if pos >= len(text):
            raise TextError("`{` is not closed", start)
        if text[pos] == "}":
            pos += 1
            break
        pos += 1  # `|`
    if len(options) > MAX_OPTIONS:
        raise TextError(f"more than {MAX_OPTIONS:,} options", start)
    over_wildcard = len(options) == 1 and len(options[0]) == 1 and isinstance(options[0][0], TWild)
    if high == -1 and not over_wildcard:
        high = len(options)
    if high != -1:  # -1: up to all of a wildcard's values
        low, high = sorted((max(0, low), high))
    return TVariant(tuple(options), tuple(chances), low, high, sep, counted, start), pos


def has_choices(text: str, *, jinja: bool = False) -> bool:
    """Whether a text holds a choice or a wildcard (cheap test first)."""
    if "{" not in text and "__" not in text:
        return False
    try:
        return any(not isinstance(p, str) for p in parse_text(text, jinja=jinja))
    except TextError:
        return True  # it is read (and its error reported) where it is used


# ---------------------------------------------------------------- AST -> tree

@dataclass(frozen=True, slots=True)
class WildValue:
    """One value of a wildcard: text (dynamicprompts syntax), the negative that follows it,
    its weight in the prompt and its chance of a random pick; ``where`` says where it was read."""

    text: str
    negative: str = ""
    weight: float = 1.0
    chance: float = 1.0
    where: str = ""
    dynamicprompts: bool = False  # read from a dynamicprompts file: its comments, its order of values


def wildcard_names(scope, catalog: str | None = None) -> list[str]:
    names = set()
    for cat in scope.catalogs:
        if catalog is None or cat.name == catalog:
            names.update(getattr(cat, "wildcards", {}) or {})
    return sorted(names)


def lookup_wildcard(scope, catalog: str | None, path: str) -> list[tuple[str, tuple]] | None:
    """[(name, values)] of the wildcards ``path`` names (a glob may name several, in name
    order); later catalogs shadow earlier ones; None when there is none."""
    cats = [c for c in scope.catalogs if catalog is None or c.name == catalog]
    table = {}
    for cat in cats:
        table.update(getattr(cat, "wildcards", {}) or {})
    if any(ch in path for ch in "*?["):
        import fnmatch

        found = [(name, table[name]) for name in sorted(table) if fnmatch.fnmatchcase(name, path)]
        return found or None
    return [(path, table[path])] if path in table else None


class Compiler:
    """Builds the tree of one prompt's slots. ``source`` is the .prompt text (for errors)."""

    def __init__(self, scope, source: str | None):
        self.scope, self.source = scope, source
        self.nodes = 0
        self._wild_cache: dict = {}

    def _node(self, node):
        if type(node) is Pick and node.high * len(node.options) > MAX_PICK_WORK:
            raise PromptError(f"{node.label}: picking up to {node.high:,} of {len(node.options):,} options is too "
                              f"much to count (at most {MAX_PICK_WORK:,} options x picks)")
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise PromptError(f"the choices and wildcards of this prompt make more than {MAX_NODES:,} parts to "
                              "combine")
        return node

    def error(self, message, span, hint=None) -> PromptError:
        return PromptError(message, span, source=self.source if span is not None else None, hint=hint)

    # -- pieces (the .prompt language)

    def piece(self, slot: str, piece) -> Node:
        if isinstance(piece, ast.Choice):
            return self.choice(slot, piece)
        if isinstance(piece, ast.Wildcard):
            return self.wildcard(piece)
        if isinstance(piece, ast.Edit):
            return self.edit(slot, piece)
        if isinstance(piece, ast.Ref) and slot != "subject":
            entry = self.scope.lookup(slot, piece)
            if has_choices(entry.text, jinja=True):
                node = self.text(entry.text, where=f"{entry.catalog}: {slot}.{entry.key}.text", span=piece.span,
                                 stack=(), entry_span=entry.span)
                return self._node(Map(node, lambda v, ref=piece: ((replace(ref, text=v[0][0]),), v[1])))
        return self._node(Leaf(((piece,), ())))

    def pieces(self, slot: str, pieces) -> Node:
        nodes = [self.piece(slot, p) for p in pieces]
        if all(isinstance(n, Leaf) for n in nodes):
            return self._node(Leaf((tuple(p for n in nodes for p in n.value[0]), ())))
        return self._node(Seq(nodes, _piece_seq))

    def choice(self, slot: str, choice: ast.Choice) -> Node:
        only = choice.options[0].pieces if len(choice.options) == 1 else ()
        if len(only) == 1 and isinstance(only[0], ast.Wildcard) and (choice.low, choice.high) != (1, 1):
            wild = replace(only[0], weight=only[0].weight * choice.weight)
            return self.wildcard_node(wild.catalog, wild.path, wild.span, stack=(), as_piece=wild,
                                      bound=(choice.low, choice.high, choice.sep))
        options = [self.pieces(slot, o.pieces) for o in choice.options]
        names = tuple(_shown(self.source, o) for o in choice.options)
        label = f"{{…}} {choice.span.line}:{choice.span.column}"
        node = self._node(Pick(options, tuple(o.chance for o in choice.options), choice.low, choice.high,
                               _piece_join(choice.sep), label, names))
        if choice.weight != 1.0:
            node = self._node(Map(node, lambda v, w=choice.weight: (tuple(_scaled(p, w) for p in v[0]), v[1])))
        return node

    def edit(self, slot: str, edit: ast.Edit) -> Node:
        before, after = self.piece(slot, edit.before), self.piece(slot, edit.after)
        if isinstance(before, Leaf) and isinstance(after, Leaf):
            return self._node(Leaf(((edit,), ())))

        def side(pieces, span):
            pieces = [p for p in pieces if not isinstance(p, Sep)]
            if len(pieces) == 1:
                return pieces[0]
            if all(isinstance(p, ast.Literal) for p in pieces):
                return ast.Literal(" ".join(p.text for p in pieces), 1.0, span)
            raise self.error("a side of `->` picks several catalog names; an edit switches one item", span)

        def fn(v):
            (b, a), picks = v[0], v[1]
            return (replace(edit, before=side(b, edit.before.span), after=side(a, edit.after.span)),), picks

        return self._node(Map(Seq([before, after], lambda vs: ((vs[0][0], vs[1][0]),
                                                               vs[0][1] + vs[1][1])), fn))

    def wildcard(self, wild: ast.Wildcard) -> Node:
        node = self.wildcard_node(wild.catalog, wild.path, wild.span, stack=(), as_piece=wild)
        return node

    # -- wildcards and text (dynamicprompts syntax)

    def wildcard_node(self, catalog, path, span, stack, as_piece=None, bound=None, used_in=None) -> Node:
        shown = f"{catalog}.__{path}__" if catalog else f"__{path}__"
        if shown in stack:
            chain = " -> ".join(stack + (shown,))
            raise self.error(f"wildcard cycle: {chain}", span, hint="a wildcard's values may not use it again")
        if len(stack) >= MAX_DEPTH:
            raise self.error(f"wildcards nest more than {MAX_DEPTH} deep: " + " -> ".join(stack + (shown,)), span)
        if catalog is not None and self.scope.by_name(catalog) is None:
            names = [c.name for c in self.scope.catalogs]
            raise self.error(f"no catalog named `{catalog}` is in use{suggest(catalog, names)}", span)
        found = lookup_wildcard(self.scope, catalog, path)
        if found is None:
            names = wildcard_names(self.scope, catalog)
            raise self.error(f"unknown wildcard `{shown}`" + (f" (used in {used_in})" if used_in else "")
                             + suggest(path, names), span,
                             hint=("wildcards: " + ", ".join(f"__{n}__" for n in names[:12])
                                   + (" …" if len(names) > 12 else "")) if names else
                             "no catalog in use has wildcards: add a `wildcards:` section to a catalog, or "
                             "`use wildcards \"./wildcards\"` for a dynamicprompts folder")
        values = [v for _, vs in found for v in vs]
        if values and all(v.dynamicprompts for v in values):  # as dynamicprompts lists them: once, sorted
            values = sorted({v.text: v for v in values}.values(), key=lambda v: v.text)
        if len(values) > MAX_OPTIONS:
            raise self.error(f"`{shown}` has more than {MAX_OPTIONS:,} values", span)
        if not values:
            raise self.error(f"wildcard `{shown}` has no values", span)
        inner = stack + (shown,)
        options = []
        for value in values:
            node = self.text(value.text, where=value.where, span=span, stack=inner, comments=value.dynamicprompts)
            if value.negative:
                node = self._node(Map(node, lambda v, neg=value.negative: ((v[0][0], v[0][1] + (neg,)), v[1])))
            if as_piece is not None:
                weight = as_piece.weight * value.weight
                node = self._node(Map(node, lambda v, w=weight, s=span: (
                    (ast.Literal(v[0][0], w, s, negative=", ".join(v[0][1])),) if v[0][0].strip() else (), v[1])))
            options.append(node)
        low, high, sep = bound or (1, 1, ",")
        high = len(options) if high < 0 else high
        low, high = min(low, len(options)), min(high, len(options))
        join = _piece_join(sep) if as_piece is not None else _text_join(sep)
        return self._node(Pick(options, tuple(v.chance for v in values), low, high, join, shown,
                               tuple(v.text for v in values)))

    def text(self, text: str, *, where: str, span, stack: tuple, entry_span=None, comments=False) -> Node:
        try:
            parts = parse_text(text, jinja=not comments, comments=comments)
        except TextError as exc:
            raise self.error(f"{where}: {exc.message} (at character {exc.offset + 1} of {text[:60]!r})",
                             span) from None
        return self._text_parts(parts, where, span, stack)

    def _text_parts(self, parts, where, span, stack) -> Node:
        nodes = []
        for part in parts:
            if isinstance(part, str):
                nodes.append(self._node(Leaf(((part, ()), ()))))
            elif isinstance(part, TWild):
                nodes.append(self.wildcard_node(None, part.path, span, stack, used_in=where))
            else:
                only = part.options[0] if len(part.options) == 1 else None
                if part.counted and only is not None and len(only) == 1 and isinstance(only[0], TWild):
                    nodes.append(self.wildcard_node(None, only[0].path, span, stack,
                                                    bound=(part.low, part.high, part.sep), used_in=where))
                    continue
                options = [self._text_parts(o, where, span, stack) for o in part.options]
                names = tuple(_text_shown(o) for o in part.options)
                nodes.append(self._node(Pick(options, part.chances, min(part.low, len(options)),
                                             min(part.high, len(options)), _text_join(part.sep),
                                             f"{{…}} in {where}", names)))
        if len(nodes) == 1:
            return nodes[0]
        if all(isinstance(n, Leaf) for n in nodes):
            return self._node(Leaf(_text_seq([n.value for n in nodes])))
        return self._node(Seq(nodes, _text_seq))


def _scaled(piece, weight: float):
    if isinstance(piece, (ast.Literal, ast.Ref)):
        return replace(piece, weight=piece.weight * weight)
    if isinstance(piece, ast.Edit):
        return replace(piece, before=_scaled(piece.before, weight), after=_scaled(piece.after, weight))
    return piece


def _shown(source: str | None, option: ast.Option) -> str:
    """An option as a person reads it: its words, catalog names and wildcards."""
    def one(p) -> str:
        if isinstance(p, ast.Literal):
            return p.text
        if isinstance(p, (ast.Ref, ast.Wildcard)):
            return p.qualified + (f":{p.weight:g}" if p.weight != 1.0 else "")
        if isinstance(p, ast.Edit):
            return f"{one(p.before)} -> {one(p.after)} at {p.at:g}"
        return "{…}" if isinstance(p, ast.Choice) else "[…]"

    return " ".join(one(p) for p in option.pieces)


def _text_shown(parts) -> str:
    out = []
    for p in parts:
        out.append(p if isinstance(p, str) else f"__{p.path}__" if isinstance(p, TWild) else "{…}")
    return "".join(out)


# ---------------------------------------------------------------- a prompt's slots

class Expansion:
    """One prompt's slots with their choices, ready to be counted and walked."""

    def __init__(self, slots: dict, scope, source: str | None):
        compiler = Compiler(scope, source)
        self.slots = slots
        self.places = []  # (slot name, phrase index)
        nodes = []
        for name, slot in slots.items():
            if slot.blend is not None:
                continue
            for i, phrase in enumerate(slot.phrases):
                node = compiler.pieces(name, phrase.pieces)
                if not isinstance(node, Leaf):
                    self.places.append((name, i))
                    nodes.append(node)
        self.root = Seq(nodes, lambda vs: vs)

    def count(self) -> int:
        return self.root.count()

    def combinations(self):
        """Every combination, lazily: (slots, picks)."""
        return map(self.slots_of, self.root.iterate())

    def sample(self, rng):
        return self.slots_of(self.root.sample(rng))

    def values(self):
        """Every combination as the tree gives it: one (pieces, picks) per place (see :meth:`slots_of`)."""
        return self.root.iterate()

    def sample_values(self, rng):
        return self.root.sample(rng)

    def slots_of(self, values):
        """(slots, picks) of one combination."""
        phrases = {name: list(slot.phrases) for name, slot in self.slots.items()}
        picks = ()
        for (name, i), (pieces, chosen) in zip(self.places, values):
            phrases[name][i] = _finished(name, phrases[name][i], pieces)
            picks += chosen
        out = {}
        for name, slot in self.slots.items():
            kept = tuple(p for ph in phrases[name] for p in (ph if isinstance(ph, list) else [ph]))
            if kept:
                out[name] = replace(slot, phrases=kept)
        return out, picks


def _finished(slot: str, phrase: ast.Phrase, pieces) -> list:
    """The phrases a phrase becomes once its choices are picked: in `subject` one phrase of
    pieces side by side; in the other slots one phrase per item. Words a pick-N choice
    picked are joined by its separator into one literal where they can be."""
    out, sep = [], None
    for p in pieces:
        if isinstance(p, Sep):
            sep = p.text if out else None
            continue
        if isinstance(p, ast.Literal) and not p.text.strip():
            sep = None
            continue
        last = out[-1] if out else None
        if sep is not None and isinstance(last, ast.Literal) and isinstance(p, ast.Literal) \
                and last.weight == p.weight:
            negative = ", ".join(n for n in (last.negative, p.negative) if n)
            out[-1] = replace(last, text=last.text + sep + p.text, negative=negative)
        else:
            out.append(p)
        sep = None
    if not out:
        return []
    if slot == "subject":
        return [replace(phrase, pieces=tuple(out))]
    return [replace(phrase, pieces=(p,)) for p in out]


def seeded(seed: int, name: str, k: int):
    """The generator (a ``random.Random``) of the k-th random prompt of ``name``: from
    (seed, name, k) alone."""
    import hashlib
    import random

    digest = hashlib.sha256(f"{seed}\x00{name}\x00{k}".encode("utf-8")).digest()
    return random.Random(int.from_bytes(digest[:16], "big"))
