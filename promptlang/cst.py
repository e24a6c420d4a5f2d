"""The lossless syntax tree of a `.prompt` file: every character, in a tree.

The AST (:mod:`promptlang.syntax`) keeps what a file means; this tree keeps what it
*says*: every token the lexer saw (keywords and punctuation included), every comment,
every line break and every run of spaces, so that joining its leaves gives the source
back exactly. The formatter, the language server's semantic tokens and its symbols are
built on it.

It comes from the same LALR parser and grammar as the AST, with no rule of its own: the
lexer reports each token it makes (through Lark's ``lexer_callbacks``, the ignored
comments included), the newline tokens are split into their line breaks, indentation
and comments, the gaps between tokens are whitespace, and each leaf is hung under the
innermost rule of the parse tree whose span holds it. A rule added to the grammar shows
up here as a :class:`Node` named after it, without a change to this module.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache

from .syntax import Tree, check_source, UnexpectedInput, _syntax_error, _table_key, OPTIONS, parser
from .errors import PromptError
from .resources import grammar_file

# the kinds of leaves that carry no meaning (besides the grammar's terminals)
NEWLINE, SPACE, COMMENT = "NEWLINE", "SPACE", "COMMENT"
TRIVIA = frozenset((NEWLINE, SPACE, COMMENT))


@dataclass(frozen=True, slots=True)
class Tok:
    """One leaf: ``kind`` is the grammar's terminal name (``NAME``, ``STRING``, ``LBRACE``…),
    or NEWLINE, SPACE or COMMENT; ``start``/``end`` are offsets, ``line``/``column`` 1-based."""

    kind: str
    text: str
    start: int
    end: int
    line: int
    column: int

    @property
    def trivia(self) -> bool:
        return self.kind in TRIVIA


@dataclass(frozen=True, slots=True)
class Node:
    """A rule of the grammar (``rule`` is its name in grammars/promptlang.lark) and its
    children, nodes and leaves, in source order."""

    rule: str
    children: tuple
    start: int
    end: int

    def leaves(self):
        for child in self.children:
            if isinstance(child, Node):
                yield from child.leaves()
            else:
                yield child

    def nodes(self):
        """This node and every node under it, depth first."""
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.nodes()

    def tokens(self) -> list:
        """The leaves that are not trivia."""
        return [t for t in self.leaves() if not t.trivia]

    @property
    def text(self) -> str:
        return "".join(t.text for t in self.leaves())


@dataclass(frozen=True, slots=True)
class Parsed:
    """What :func:`parse` gives: the lossless tree and Lark's tree (for structural checks)."""

    root: Node
    tree: object  # lark.Tree


_lock = threading.Lock()
_seen: list | None = None


def _record(tok):
    if _seen is not None:
        _seen.append(tok)
    return tok


@lru_cache(maxsize=None)
def _lossless_parser():
    """The parser of :func:`promptlang.syntax.parser`, with a callback on every terminal
    that records the token (comments, which the grammar ignores, included)."""
    from lark import Lark

    names = {t.name for t in parser().terminals} | set(parser().lexer_conf.ignore)
    callbacks = {name: _record for name in names}
    grammar = grammar_file().read_text(encoding="utf-8")
    try:
        from .data import parser_table as table
    except ImportError:
        table = None
    if table is not None and table.KEY == _table_key(grammar):
        return Lark._load_from_dict(table.DATA, table.MEMO, lexer_callbacks=callbacks)
    return Lark(grammar, **OPTIONS, lexer_callbacks=callbacks)


_TRIVIA_ONLY = re.compile(r"(?:[\t \f\r\n]|#[^\r\n]*)*")
_PIECES = re.compile(r'\r?\n|\r|[\t \f]+|#[^\r\n]*|"(?:[^"\\\n]|\\.)*"?|[0-9]*[A-Za-z_][A-Za-z0-9_]*|[0-9.]+|.')



def lex(source: str, path: str = "<string>") -> tuple[list, object]:
    """The leaves of ``source`` (all of it: joined they give ``source`` back) and Lark's
    tree; or, for text that does not parse, the leaves lexed before the syntax error, the
    rest guessed from its look (names, strings, numbers, comments), and the PromptError."""
    global _seen
    with _lock:
        _seen = []
        try:
            try:
                tree, error = _lossless_parser().parse(source, start="start"), None
            except UnexpectedInput as exc:
                tree, error = None, _syntax_error(exc, source, path)
            raw = _seen
        finally:
            _seen = None
    # Lark chains a user's callback after its own keyword check on NAME with a condition
    # that does not always hold (a closure over a loop variable): the tree has those tokens
    from lark import Token

    found = {t.start_pos: t for t in raw}
    if tree is not None:
        found.update((t.start_pos, t) for t in tree.scan_values(lambda v: isinstance(v, Token)))
    ignored = set(parser().lexer_conf.ignore)  # comments, spaces: trivia
    leaves, at = [], 0
    for tok in sorted(found.values(), key=lambda t: t.start_pos):
        if tok.start_pos < at:  # the lexer looked at it twice (while reporting an error)
            continue
        if tok.start_pos > at:
            leaves += _split(source, at, tok.start_pos)
        if tok.type in ignored or tok.type.startswith("_") and _TRIVIA_ONLY.fullmatch(tok):  # `_NL`: breaks, comments
            leaves += _split(source, tok.start_pos, tok.end_pos)
        else:
            leaves.append(_leaf(source, tok.type, tok.start_pos, tok.end_pos))
        at = tok.end_pos
    if at < len(source):  # after a syntax error: words, strings and numbers guessed by their look
        leaves += _split(source, at, len(source))
    return leaves, (tree if error is None else error)


def _leaf(source: str, kind: str, start: int, end: int) -> Tok:
    line = source.count("\n", 0, start) + 1
    return Tok(kind, source[start:end], start, end, line, start - (source.rfind("\n", 0, start) + 1) + 1)


def _split(source: str, start: int, end: int) -> list:
    """Trivia between ``start`` and ``end``: line breaks, runs of spaces, comments."""
    out = []
    for m in _PIECES.finditer(source, start, end):
        text = m.group()
        first = text[0]
        kind = (COMMENT if first == "#" else NEWLINE if first in "\r\n" else SPACE if first in "\t \f"
                else "STRING" if first == '"' else "NAME" if text[-1].isalpha() or "_" in text
                else "NUMBER" if first.isdigit() or first == "." else "ERROR")
        out.append(_leaf(source, kind, m.start(), m.end()))
    return out


def parse(source: str, path: str = "<string>") -> Parsed:
    """The lossless tree of ``source``; a PromptError (the parser's own message) when it
    does not parse."""
    check_source(source, path)
    leaves, tree = lex(source, path)
    if isinstance(tree, PromptError):
        raise tree
    root, i = _hang(tree, leaves, 0, 0, len(source))
    if i != len(leaves):  # cannot happen: every leaf lies inside the file
        raise PromptError("internal error: the lossless tree lost a token")
    return Parsed(root, tree)


def _hang(tree, leaves: list, i: int, start: int, end: int):
    """``tree`` as a Node holding leaves[i:] up to offset ``end``; and the next index."""
    children = []
    for sub in tree.children:
        if not isinstance(sub, Tree) or sub.meta.empty:
            continue
        while i < len(leaves) and leaves[i].start < sub.meta.start_pos:
            children.append(leaves[i])
            i += 1
        node, i = _hang(sub, leaves, i, sub.meta.start_pos, sub.meta.end_pos)
        children.append(node)
    while i < len(leaves) and leaves[i].start < end:
        children.append(leaves[i])
        i += 1
    return Node(str(tree.data), tuple(children), start, end), i
