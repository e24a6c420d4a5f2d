"""`promptlang fmt`: one canonical layout for `.prompt` files, comments kept.

The layout, over the lossless tree (:mod:`promptlang.cst`):

* one statement per line at the left margin; a block's fields one per line, indented
  four spaces a level; no blank line after ``{`` or before ``}``; runs of blank lines
  become one; lines end without spaces; the file ends with one line break;
* a block's values start in one column: the slot or setting names are padded to the
  longest of them, and at least to 8 characters (``negative``, ``guidance``);
* single spaces between tokens, none before a comma and one after it, weights glued to
  what they weigh (``"x":1.3``, ``van_gogh++``), ``core.van_gogh`` glued;
* a list longer than 100 columns, or with a comment among its items, is broken one
  item per line after each comma, the items aligned under the first;
* a comment on a line of its own stays on a line of its own, indented like the code it
  sits in; a comment at the end of a line stays there, and comments at the ends of
  consecutive lines are aligned (at least two spaces after the longest code).

Rules the layout does not know (syntax added to the grammar later) are written token by
token in order, with their line breaks where they were and runs of spaces made one.
Whatever the layout does is checked before anything is written: the formatted text
must parse to the same tree, with the same tokens and comments in the same order;
otherwise :func:`format_source` raises a PromptError and nothing changes.
"""
from __future__ import annotations

from . import cst
from .errors import PromptError, span_at

MAX_WIDTH = 100
INDENT = 4
KEY_WIDTH = 8
# the rules whose layout is written out below; any other is written generically
KNOWN = frozenset(("start", "use", "requirement", "constraint", "defaults", "prompt", "block", "field", "blend",
                   "phrase", "edit", "piece", "ref", "explicit_weight", "plus_weight", "minus_weight"))
GLUE_AFTER = frozenset("([")
GLUE_BEFORE = frozenset(",)]")


def format_source(source: str, path: str = "<string>") -> str:
    """``source`` in the canonical layout; a PromptError when it does not parse, or (a bug
    of the layout) when the result would not say exactly the same."""
    parsed = cst.parse(source, path)
    out = _Printer(parsed.root).text()
    verify(parsed, out, path)
    return out


def verify(parsed: cst.Parsed, out: str, path: str) -> None:
    """Raise unless ``out`` parses to the tree of ``parsed``, token for token, comment for comment."""
    try:
        again = cst.parse(out, path)
    except PromptError as exc:
        raise _refuse(parsed, f"the formatted text would not parse ({exc.message})", path) from None
    before, after = _meaningful(parsed.root), _meaningful(again.root)
    if again.tree != parsed.tree or [(t.kind, t.text) for t in before] != [(t.kind, t.text) for t in after]:
        where = next((b for b, a in zip(before, after) if (b.kind, b.text) != (a.kind, a.text)), None)
        raise _refuse(parsed, "the layout would change the file's tokens or comments", path, where)


def _meaningful(root: cst.Node) -> list:
    return [t if t.kind != cst.COMMENT else cst.Tok(t.kind, t.text.rstrip(), t.start, t.end, t.line, t.column)
            for t in root.leaves() if t.kind not in (cst.SPACE, cst.NEWLINE)]


def _refuse(parsed: cst.Parsed, why: str, path: str, tok=None) -> PromptError:
    source = parsed.root.text
    span = span_at(path, source, tok.start, max(1, tok.end - tok.start)) if tok is not None else None
    return PromptError(f"fmt cannot lay out this file: {why}; the file is left as it is", span, source=source,
                       hint="this is a bug in `promptlang fmt`: please report it with the file")


class _Printer:
    def __init__(self, root: cst.Node):
        self.leaves: list = []  # (leaf, ancestors), spaces left out
        self._flatten(root, (root,))
        self.widths: dict = {}  # id(block) -> the column width of its names
        self.broken: set = set()  # starts of the commas after which a line breaks
        for node in root.nodes():
            if node.rule == "block":
                keys = [self._key(f) for f in node.children if isinstance(f, cst.Node) and f.rule == "field"]
                self.widths[id(node)] = max([KEY_WIDTH] + [len(k.text) for k in keys if k is not None])
        self._plan(root, depth=0)

    def _flatten(self, node: cst.Node, ancestors: tuple) -> None:
        for child in node.children:
            if isinstance(child, cst.Node):
                self._flatten(child, ancestors + (child,))
            elif child.kind != cst.SPACE:
                self.leaves.append((child, ancestors))

    @staticmethod
    def _key(field: cst.Node):
        first = next((c for c in field.children if isinstance(c, cst.Tok) and not c.trivia), None)
        return first if first is not None and first.kind == "NAME" else None

    def _plan(self, node: cst.Node, depth: int) -> None:
        """Which fields are broken one item per line: too long, or a comment among the items."""
        for child in node.children:
            if not isinstance(child, cst.Node):
                continue
            if child.rule == "field":
                width = self.widths.get(id(node), KEY_WIDTH)
                leaves = list(child.leaves())
                length = depth * INDENT + width + sum(len(t.text) + 1 for t in leaves if not t.trivia)
                if length > MAX_WIDTH or any(t.kind == cst.COMMENT for t in leaves):
                    for part in (child, *(c for c in child.children if isinstance(c, cst.Node) and c.rule == "blend")):
                        self.broken.update(c.start for c in part.children if isinstance(c, cst.Tok) and c.kind == "COMMA")
            self._plan(child, depth + (child.rule == "block"))

    # ------------------------------------------------------------------ printing

    def text(self) -> str:
        self.lines: list = []  # [code, comment or None]
        self.cur: list | None = None
        self.cont: dict = {}  # id(field) -> the column its items line up at
        pending, prev, prev_anc = 0, None, None
        for tok, anc in self.leaves:
            if tok.kind == cst.NEWLINE:
                pending += 1
                continue
            block_close = tok.kind == "RBRACE" and anc[-1].rule == "block"
            after_open = prev is not None and prev.kind == "LBRACE" and prev_anc[-1].rule == "block"
            field = next((a for a in reversed(anc) if a.rule == "field"), None)
            inside = field is not None and tok is not self._key(field)  # a line break in a field's items
            if tok.kind == cst.COMMENT:
                if pending == 0 and self.cur is not None and self.cur[0].strip():
                    self.cur[1] = tok.text.rstrip()
                    continue
                blank = pending >= 2 and not after_open and not inside and self.lines != []
                self._newline(blank, self._indent(anc, field, tok))
                self.cur[0] += tok.text.rstrip()
                pending, prev, prev_anc = 0, tok, anc
                continue
            commented = self.cur is not None and self.cur[1] is not None  # the line ends in a comment
            if after_open and block_close and not commented:
                pending = 0  # an empty block: {}
            if pending and prev is not None and prev.kind == "COMMA" and prev_anc[-1].rule in ("field", "blend"):
                pending = 0  # a list that fits joins on one line (else it breaks after every comma)
            forced = prev is not None and (after_open and not block_close or block_close and not after_open
                                           or (prev.kind == "COMMA" and prev.start in self.broken))
            if prev is None:
                self._newline(False, "")
            elif pending or forced or commented or prev.kind == cst.COMMENT:
                blank = pending >= 2 and not after_open and not block_close and not inside
                self._newline(blank, self._indent(anc, field, tok))
            else:
                self.cur[0] += self._gap(prev, prev_anc, tok, anc)
            if field is not None and id(field) not in self.cont and tok.kind not in ("APPEND", "BLEND") \
                    and tok is not self._key(field):
                self.cont[id(field)] = len(self.cur[0])
            self.cur[0] += tok.text
            pending, prev, prev_anc = 0, tok, anc
        return self._join()

    def _newline(self, blank: bool, indent: str) -> None:
        if blank and self.lines:
            self.lines.append(["", None])
        self.cur = [indent, None]
        self.lines.append(self.cur)

    def _indent(self, anc: tuple, field, tok) -> str:
        depth = sum(a.rule == "block" for a in anc)
        if tok.kind == "RBRACE" and anc[-1].rule == "block":
            depth -= 1
        if field is not None and id(field) in self.cont:
            return " " * self.cont[id(field)]
        return " " * (depth * INDENT)

    def _gap(self, prev, prev_anc: tuple, tok, anc: tuple) -> str:
        parent, prev_parent = anc[-1], prev_anc[-1]
        if tok.kind == "COMMA" or tok.text in GLUE_BEFORE or prev.text in GLUE_AFTER:
            return ""
        if prev.kind == "LBRACE" and tok.kind == "RBRACE" and parent.rule == "block":
            return ""  # an empty block: {}
        if prev_parent.rule == "field" and prev is self._key(prev_parent) and parent is not prev_parent \
                or prev_parent.rule == "field" and prev is self._key(prev_parent) and tok.kind == "APPEND":
            block = prev_anc[-2] if len(prev_anc) > 1 else None
            width = self.widths.get(id(block), KEY_WIDTH)
            return " " * (width - len(prev.text) + 1)
        if parent.rule.endswith("weight") or prev_parent.rule.endswith("weight") and parent is prev_parent:
            return ""
        if parent.rule == "ref" and (tok.kind == "DOT" or prev.kind == "DOT"):
            return ""
        if parent.rule in KNOWN and prev_parent.rule in KNOWN:
            return " "
        return "" if prev.end == tok.start else " "

    def _join(self) -> str:
        lines = self.lines
        # comments at the ends of consecutive lines share one column
        i = 0
        while i < len(lines):
            if lines[i][1] is None:
                i += 1
                continue
            j = i
            while j < len(lines) and lines[j][1] is not None:
                j += 1
            column = max(len(line[0].rstrip()) + 2 for line in lines[i:j])
            for line in lines[i:j]:
                code = line[0].rstrip()
                line[0] = code + " " * (column - len(code)) + line[1]
            i = j
        text = "\n".join(line[0].rstrip() for line in lines).strip("\n")
        return text + "\n" if text else ""
