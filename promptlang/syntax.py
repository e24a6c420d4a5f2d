"""Parse `.prompt` text into the AST (Lark LALR, built once per process).

Lark errors never escape: each becomes a :class:`PromptError` with the file, line,
column and an English label (``match_examples`` against known mistakes).
"""
from __future__ import annotations

import math
import re
import sys
from functools import lru_cache


def _import_lark():
    """Import Lark without the third-party `regex` module. Lark looks for it when it is
    imported, for grammars built with ``regex=True``; promptlang's grammar is plain `re`
    and never asks for it, and importing `regex` (installed with transformers) costs about
    7 ms of a 100 ms start-up. It is hidden from Lark's import only: anything that imports
    `regex` later gets it as usual."""
    hide = "regex" not in sys.modules and "lark" not in sys.modules
    if hide:
        sys.modules["regex"] = None  # `import regex` raises ImportError while this is set
    try:
        import lark  # noqa: F401
    finally:
        if hide:
            del sys.modules["regex"]


_import_lark()

from lark import Lark, Token, Tree  # noqa: E402
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput  # noqa: E402

from . import ast  # noqa: E402
from .errors import PromptError, span_at, suggest  # noqa: E402
from .resources import grammar_file  # noqa: E402

SLOTS = ("subject", "format", "style", "quality", "negative")
PARAMS = ("model", "size", "aspect", "steps", "guidance", "seed", "scheduler", "images")
# `lora detail_tweaker:0.8, "loras/x.safetensors"`: a list like a slot's (inherited, `+=`
# appends), of catalog names or quoted paths, each with its weight; held as an ast.Slot
LORA = "lora"
MAX_SOURCE = 1_000_000  # characters; a .prompt file is hand-written text
MAX_BLEND_PARTS = 16

PLUS, MINUS = 1.1, 0.9  # Compel's attention bases
MAX_WEIGHT = 100  # a weight, written `:x` or as a run of `+`/`-`, lies in -MAX_WEIGHT..MAX_WEIGHT
MAX_PLUSES = int(math.log(MAX_WEIGHT) / math.log(PLUS))  # 48: the longest run of `+` inside it
MAX_DIGITS = 18  # a whole number in a setting; longer ones are out of every range (and not converted)


def _cut(text: str) -> str:
    """A token as shown in a message: a long one cut down, with its length."""
    return text if len(text) <= 24 else f"{text[:12]}… ({len(text):,} characters)"


OPTIONS = {"parser": "lalr", "propagate_positions": True, "maybe_placeholders": False, "start": ["start", "field", "requirement"]}


@lru_cache(maxsize=None)
def parser() -> Lark:
    """The LALR parser, built once per process.

    Building it from the grammar takes 25-60 ms, a third of a short command's start-up,
    so the tables Lark builds are kept in :mod:`promptlang.data.parser_table` (plain Python
    literals, no pickle) and loaded from there when they were made from this very grammar
    text with this Lark version and options; otherwise the grammar is built as always.
    ``python -m promptlang.syntax`` rewrites the table; a test fails while it is stale.
    """
    grammar = grammar_file().read_text(encoding="utf-8")
    try:
        from .data import parser_table as table
    except ImportError:
        table = None
    if table is not None and table.KEY == _table_key(grammar):
        return Lark._load_from_dict(table.DATA, table.MEMO)
    return Lark(grammar, **OPTIONS)


def _table_key(grammar: str) -> str:
    import hashlib

    from lark import __version__ as lark_version

    return hashlib.sha256(repr((grammar, lark_version, sorted(OPTIONS.items()))).encode("utf-8")).hexdigest()


def parser_table_source() -> str:
    """The text of promptlang/data/parser_table.py for the grammar as it is now."""
    from lark.grammar import Rule
    from lark.lexer import TerminalDef

    grammar = grammar_file().read_text(encoding="utf-8")
    data, memo = Lark(grammar, **OPTIONS).memo_serialize([TerminalDef, Rule])
    return ('"""LALR tables of grammars/promptlang.lark, made by `python -m promptlang.syntax`; do not edit.\n\n'
            "Loaded by promptlang.syntax.parser() only while KEY matches the grammar, the Lark version\n"
            'and the options; tests/test_startup_pieces.py checks that it does."""\n'
            f"KEY = {_table_key(grammar)!r}\n"
            f"DATA = {data!r}\n"
            f"MEMO = {memo!r}\n")


def write_parser_table() -> None:
    """Rewrite promptlang/data/parser_table.py (``python -m promptlang.syntax``)."""
    from pathlib import Path

    target = Path(__file__).resolve().parent / "data" / "parser_table.py"
    target.write_text(parser_table_source(), encoding="utf-8")  # a developer's tool, run in a checkout
    print(f"wrote {target}")


if __name__ == "__main__":
    write_parser_table()


def check_source(source: str, path: str) -> None:
    """What any reading of a `.prompt` text refuses first: too large, or binary (a NUL)."""
    if len(source) > MAX_SOURCE:
        raise PromptError(f"file is too large ({len(source):,} characters; at most {MAX_SOURCE:,})",
                          span_at(path, source, 0), source=source)
    if "\x00" in source:
        raise PromptError("file contains a NUL character (is it a binary file?)",
                          span_at(path, source, source.index("\x00")), source=source)


def parse(source: str, path: str = "<string>") -> ast.File:
    """Parse one `.prompt` file's text; raise PromptError on any mistake."""
    check_source(source, path)
    _check_nesting(source, path)
    try:
        tree = parser().parse(source, start="start")
    except UnexpectedInput as exc:
        raise _syntax_error(exc, source, path) from None
    return _Builder(path, source).file(tree)


MAX_NESTING = 32  # `{` and `[` inside one another (a block and the choices inside it)
_NESTING = re.compile(r'"(?:[^"\\\n]|\\.)*"?|#[^\n]*|[{}\[\]]')


def _check_nesting(source: str, path: str) -> None:
    """Choices nest (`{a | {b | c}}`); past MAX_NESTING it is an error here, in linear time,
    before the parser and the tree builder recurse into it."""
    depth = 0
    for m in _NESTING.finditer(source):
        ch = m.group(0)
        if ch in "{[":
            depth += 1
            if depth > MAX_NESTING:
                raise PromptError(f"choices nest more than {MAX_NESTING} deep", span_at(path, source, m.start()),
                                  source=source)
        elif ch in "}]":
            depth = max(0, depth - 1)


def _parse_line(text: str, where: str, start: str, what: str):
    """The tree of one line parsed from the grammar rule ``start`` (a flag's value, a toml
    string); ``where`` names it in errors, ``what`` says what it is."""
    breaks = [i for i in (text.find("\n"), text.find("\r")) if i >= 0]
    if breaks:
        raise PromptError(f"{what} is one line", span_at(where, text, min(breaks)), source=text)
    try:
        return parser().parse(text, start=start)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text, where) from None


def parse_field(name: str, value: str, where: str) -> ast.Slot | ast.Param:
    """One field (``style van_gogh, dali`` or ``steps 20``) on its own, as the command line
    gives it (``--vary style=van_gogh,dali``); ``where`` names it in errors."""
    source = f"{name} {value}"
    return _Builder(where, source).field(_parse_line(source, where, "field", "a field"))


def parse_requirement(text: str, where: str) -> ast.Use:
    """A catalog and its version constraints on their own (``studio >= 1.2, < 2``), as
    ``[catalogs] require`` in promptlang.toml holds them; ``where`` names it in errors."""
    return _Builder(where, text).requirement(_parse_line(text, where, "requirement", "a requirement"))


# ---------------------------------------------------------------- errors

_EXAMPLES = {
    "missing `}`: a block is not closed before this point": [
        'prompt a { subject "x"',
        'prompt a {\n subject "x"\n',
        'defaults { steps 3\n',
        'prompt a {\n subject "x"\nprompt b {}',
        'prompt a {\n subject "x"\nuse core',
    ],
    "missing `{` after the prompt's name": [
        'prompt a subject "x"',
        'prompt a\n subject "x"',
        'prompt a extends b subject',
        'defaults steps 3',
        'defaults\n{',
        'prompt a\n{',
    ],
    "expected a name after `prompt`": ['prompt {', 'prompt "a" {', 'prompt\n'],
    "expected the parent prompt's name after `extends`": ['prompt a extends {', 'prompt a extends "b" {'],
    "expected a catalog name or a quoted path after `use`": ['use\n', 'use {', 'use 3'],
    "a version constraint reads `use studio >= 1.2` (`>=`, `>`, `<=`, `<`, `==` or `!=` and a version such "
    "as 1.2.0; several are separated by commas: `>= 1.2, < 2`)": [
        'use core >=', 'use core >=\n', 'use core >= x', 'use core >= "1"', 'use core >= 1.2,',
        'use core >= 1.2, x', 'use core >= 1.2 < 2', 'use core > 1.x',
    ],
    "a list ends after a comma: another item is missing": [
        'prompt a { quality x, }', 'prompt a { quality x,\n}', 'prompt a { quality x, , y }',
        'prompt a { quality x,\n\n}',
    ],
    "expected a number after `:` (a weight such as `:1.3`)": [
        'prompt a { style x: }', 'prompt a { style x:\n}', 'prompt a { style x:y }',
        'prompt a { style "x": "y" }',
    ],
    "fields belong inside a `prompt NAME { … }` or `defaults { … }` block": [
        'subject "x"', 'steps 3', 'use core\nsubject "x"',
    ],
    "each statement starts on a new line": [
        'use core use x', 'prompt a {} prompt b {}', 'use core prompt a {}', 'use core >= 1 use x',
        'use core >= 1 prompt a {}',
        'prompt a { subject "x" }  steps 4',
    ],
    "`blend` lists its parts, separated by commas, as in `subject blend \"a dog\":0.6, \"a bowl of fruit\":0.4`": [
        'prompt a { subject blend }', 'prompt a { subject blend\n}', 'prompt a { subject blend, "x" }',
        'prompt a { subject blend "x":1 "y" }', 'prompt a { style blend x y }',
    ],
    "a prompt edit reads `\"a cat\" -> \"a dog\" at 0.4`: the text after `->` is missing": [
        'prompt a { subject "x" -> }', 'prompt a { subject "x" ->\n}', 'prompt a { subject "x" -> at 0.4 }',
        'prompt a { subject "x" -> , "y" }',
    ],
    "a prompt edit needs `at` and the fraction of the steps when it switches, as in `\"a cat\" -> \"a dog\" at 0.4` "
    "(or `at step 12`)": [
        'prompt a { subject "x" -> "y" }', 'prompt a { subject "x" -> "y"\n}', 'prompt a { subject "x" -> "y" "z" }',
        'prompt a { subject "x" -> "y", "z" }', 'prompt a { subject "x" -> "y" at }',
        'prompt a { subject "x" -> "y" at\n}', 'prompt a { subject "x" -> "y" at x }',
        'prompt a { subject "x" -> "y" at "z" }', 'prompt a { subject "x" -> "y" at steps 12 }',
        'prompt a { subject "x" -> "y" at step }', 'prompt a { subject "x" -> "y" at step x }',
    ],
    "unexpected `}`: there is no open block to close": ['}', 'prompt a {}\n}', 'prompt a {} }'],
    "the options of a choice are separated by `|`, as in `{van_gogh | dali}`": [
        'prompt a { style {x, y} }', 'prompt a { subject {"a" "b", "c"} }', 'prompt a { style {x y} }',
    ],
    "a choice `{…}` is not closed: `}` is missing": [
        'prompt a { subject {"a" | "b"', 'prompt a { subject {"a" | "b" ', 'prompt a { subject {"a"',
        'prompt a {\n subject {"a" | "b"\n',
    ],
    "an alternation reads `[\"cat\" | \"dog\"]`: two or more options separated by `|`": [
        'prompt a { subject ["a"] }', 'prompt a { subject ["a" "b"] }', 'prompt a { subject [] }',
    ],
    "a `.` must be followed by a catalog entry's name (as in `core.van_gogh`)": [
        'prompt a { style core. }', 'prompt a { style core.\n}', 'prompt a { style core."x" }',
    ],
}

_FRIENDLY = {
    "NAME": "a name", "STRING": "a quoted string", "NUMBER": "a number", "SIZE": "a size such as 768x512",
    "RATIO": "a ratio such as 16:9", "SIGNED_NUMBER": "a number", "PLUSES": "`+`", "MINUSES": "`-`",
    "_NL": "a new line", "LBRACE": "`{`", "RBRACE": "`}`", "COMMA": "`,`", "COLON": "`:`", "DOT": "`.`",
    "BLEND": "`blend`", "AT": "`at`", "STEP": "`step`", "ARROW": "`->`", "USE": "`use`", "PROMPT": "`prompt`", "DEFAULTS": "`defaults`", "EXTENDS": "`extends`",
    "COMPARE": "`>=`, `<` or another comparison", "VERSION": "a version such as 1.2.0",
    "VBAR": "`|`", "LSQB": "`[`", "RSQB": "`]`", "CHOICE_COUNT": "a count such as `2$$`",
    "CHOICE_WEIGHT": "an option weight such as `2::`", "WILDCARD": "a wildcard such as __animals__",
    "$END": "the end of the file",
}


def _describe(tok) -> str:
    if tok is None or getattr(tok, "type", None) == "$END":
        return "end of file"
    if tok.type == "_NL":
        return "end of line"
    value = str(tok)
    return f"`{value[:40]}`" if value.strip() else _FRIENDLY.get(tok.type, tok.type)


def _syntax_error(exc: UnexpectedInput, source: str, path: str) -> PromptError:
    pos = getattr(exc, "pos_in_stream", None)
    tok = getattr(exc, "token", None)
    if isinstance(exc, UnexpectedEOF) or pos is None or getattr(tok, "type", None) == "$END":
        pos = len(source.rstrip())
    length = 1
    if isinstance(exc, UnexpectedCharacters):
        char = source[pos] if pos < len(source) else ""
        if char == '"':
            end = source.find("\n", pos)
            end = len(source) if end < 0 else end
            if re.search(r'\\[^"\\]', source[pos:end]) and source.count('"', pos, end) >= 2:
                bad = re.search(r'\\([^"\\])', source[pos:end])
                at = pos + bad.start()
                return PromptError(f"unknown escape `\\{bad.group(1)}` in a string (only `\\\"` and `\\\\` "
                                   "are escapes)", span_at(path, source, at, 2), source=source,
                                   hint="write `\\\\` for a literal backslash")
            return PromptError("unterminated string: a `\"` is not closed on this line",
                               span_at(path, source, pos, max(1, end - pos)), source=source)
        shown = f"`{char}`" if char.isprintable() else f"U+{ord(char):04X}"
        return PromptError(f"unexpected character {shown}", span_at(path, source, pos), source=source)
    tok = getattr(exc, "token", None)
    brace = _open_brace_before(source, pos)
    if brace is not None:  # `prompt b {` inside an unclosed block reads as a choice `{…}` that goes wrong
        return PromptError("missing `}`: a block is not closed before this point", span_at(path, source, brace),
                           source=source)
    if tok is not None and getattr(tok, "end_pos", None) is not None and tok.type != "$END":
        length = max(1, min(tok.end_pos, source.find("\n", pos) if "\n" in source[pos:] else len(source)) - pos)
    label = _label(exc)
    if label is None:
        expected = sorted({_FRIENDLY.get(t, f"`{t.lower()}`") for t in (getattr(exc, "expected", None) or [])
                           if not t.startswith("__")})
        label = f"unexpected {_describe(tok)}"
        if expected and len(expected) <= 6:
            label += "; expected " + ", ".join(expected)
    return PromptError(label, span_at(path, source, min(pos, len(source)), length), source=source)


def _open_brace_before(source: str, pos: int) -> int | None:
    """The offset of a `{` that ends its line (but for a comment), just before the line of
    ``pos`` (blank lines between), inside a block already: there it is a block opened where
    the one before is not closed (`prompt b {`), since a choice never starts with a line break."""
    line_start = source.rfind("\n", 0, pos) + 1
    if line_start == 0 or source[line_start:pos].strip():
        return None
    end = line_start - 1
    while end > 0:
        start = source.rfind("\n", 0, end) + 1
        code = source[start:end].split("#", 1)[0].rstrip()
        if code:
            if code.endswith("{") and source.count("{", 0, start) > source.count("}", 0, start):
                return start + len(code) - 1
            return None
        end = start - 1
    return None


def _label(exc: UnexpectedInput) -> str | None:
    """The label of the known mistake that fails in the same parser state (and, best, on the same token).

    Like Lark's ``match_examples``, but comparing only the state on top of the stack,
    so an example matches whatever statements come before the mistake.
    """
    state = getattr(exc, "state", None)
    if state is None:
        return None
    token_type = getattr(getattr(exc, "token", None), "type", None)
    fallback = None
    for label, example_token_type, position in _example_states():
        if position == state.position:
            if example_token_type == token_type:
                return label
            fallback = fallback or label
    return fallback


@lru_cache(maxsize=1)
def _example_states() -> tuple:
    out = []
    for label, examples in _EXAMPLES.items():
        for example in examples:
            try:
                parser().parse(example, start="start")
            except UnexpectedInput as exc:
                if getattr(exc, "state", None) is not None:
                    out.append((label, getattr(getattr(exc, "token", None), "type", None), exc.state.position))
    return tuple(out)


# ---------------------------------------------------------------- tree -> AST

def _range(key: str) -> str:
    """The range of a numeric setting, in words (from the one table of limits)."""
    from .settings import LIMITS

    if key == "size":
        key = "width"
    if key == "aspect":
        return f"both sides positive and at most {LIMITS['aspect'][1]} times apart, such as 16:9"
    lo, hi = LIMITS[key]
    return f"`{key}` goes from {lo:,} to {hi:,}" + (" (each side a multiple of 8)" if key == "width" else "")

class _Builder:
    def __init__(self, path: str, source: str):
        self.path = path
        self.source = source

    def span(self, node) -> ast.Span:
        if isinstance(node, Token):
            return ast.Span(self.path, node.line, node.column, node.end_line, node.end_column,
                            node.start_pos, node.end_pos)
        m = node.meta
        return ast.Span(self.path, m.line, m.column, m.end_line, m.end_column, m.start_pos, m.end_pos)

    def error(self, message: str, node, hint: str | None = None) -> PromptError:
        return PromptError(message, self.span(node), source=self.source, hint=hint)

    def file(self, tree: Tree) -> ast.File:
        """The file's AST; every independent mistake (one per field) raised together."""
        uses, prompts, defaults, errors = [], [], None, []
        for node in tree.children:
            try:
                if node.data == "use":
                    uses.append(self.requirement(node.children[0]))
                elif node.data == "use_folder":
                    uses.append(self.use_folder(node))
                elif node.data == "defaults":
                    if defaults is not None:
                        raise self.error("a second `defaults` block; a file has at most one", node)
                    defaults = self.block(node.children[0])
                else:
                    prompts.append(self.prompt(node))
            except PromptError as exc:
                errors.append(exc)
        if errors:
            raise PromptError.several(errors)
        return ast.File(self.path, self.source, tuple(uses), defaults, tuple(prompts))

    def requirement(self, node: Tree) -> ast.Use:
        """``studio >= 1.2, < 2`` (a `use` line without its keyword, or a `require` string)."""
        tok, *rest = node.children
        constraints = tuple(ast.Constraint(str(c.children[0]), str(c.children[1]), self.span(c)) for c in rest)
        if tok.type == "STRING":
            return ast.Use(self.string(tok), True, self.span(tok), constraints)
        return ast.Use(str(tok), False, self.span(tok), constraints)

    def use_folder(self, node: Tree) -> ast.Use:
        """``use wildcards "./folder"``: a dynamicprompts wildcard folder (or file)."""
        keyword, path = node.children
        if str(keyword) != "wildcards":
            raise self.error(f"`use {keyword} \"…\"`: a quoted path after a name is read only as "
                             f"`use wildcards \"./folder\"`{suggest(str(keyword), ['wildcards'])}", keyword,
                             hint='a catalog file is used as use "./team.yaml"')
        return ast.Use(self.string(path), True, self.span(path), (), wildcards=True)

    def prompt(self, node: Tree) -> ast.PromptDecl:
        name_tok = node.children[0]
        parent_tok = node.children[1] if len(node.children) == 3 else None
        body = self.block(node.children[-1])
        return ast.PromptDecl(str(name_tok), str(parent_tok) if parent_tok else None, body,
                              self.span(name_tok), self.span(parent_tok) if parent_tok else None)

    def block(self, node: Tree) -> ast.Block:
        slots, params, seen, errors = [], [], {}, []
        for field in node.children:
            key_tok = field.children[0]
            key = str(key_tok)
            try:
                if key in seen and (key in SLOTS or key in PARAMS or key == LORA):
                    raise self.error(f"`{key}` is given twice in this block (first on line {seen[key].line})",
                                     key_tok)
                seen[key] = key_tok
                item = self.field(field)
            except PromptError as exc:
                errors.append(exc)
                continue
            (slots if isinstance(item, ast.Slot) else params).append(item)
        if errors:
            raise PromptError.several(errors)
        return ast.Block(tuple(slots), tuple(params), self.span(node))

    def field(self, field: Tree) -> ast.Slot | ast.Param:
        key_tok, phrases = field.children[0], field.children[1:]
        append = phrases[0] if phrases and isinstance(phrases[0], Token) else None
        if append is not None:
            phrases = phrases[1:]
        key = str(key_tok)
        if key not in SLOTS and key not in PARAMS and key != LORA:
            raise self.error(f"unknown slot or setting `{key}`{suggest(key, SLOTS + PARAMS + (LORA,))}", key_tok,
                             hint="slots: " + ", ".join(SLOTS) + "; settings: " + ", ".join(PARAMS)
                             + "; LoRAs: lora (a list goes on to the next line only after a comma)")
        if key == LORA:
            return self.lora(key_tok, append, phrases, field)
        if append is not None and key not in SLOTS:
            raise self.error(f"`{key}` is a setting: `+=` adds to a slot's list ({', '.join(SLOTS)})", append,
                             hint=f"write `{key} VALUE` to set it")
        if not phrases:
            raise self.error(f"`{key}` needs a value", append or key_tok)
        if key in SLOTS and phrases[0].data == "blend":
            if append is not None:
                raise self.error("a blend cannot be added to a list: write the whole blend with "
                                 f"`{key} blend …`", append)
            return self.blend(key, phrases[0], field)
        if key in SLOTS:
            return ast.Slot(key, tuple(self.phrase(key, p) for p in phrases), self.span(field),
                            append=append is not None)
        if phrases[0].data == "blend":
            raise self.error(f"`{key}` is a setting; only slots ({', '.join(SLOTS[:-1])}) can be blended",
                             phrases[0].children[0])
        return self.param(key, key_tok, phrases, field)

    def lora(self, key_tok: Token, append, phrases: list, field: Tree) -> ast.Slot:
        """``lora NAME[:weight], "path.safetensors"[:weight], …``: one piece per item, no
        blend, no edit (a LoRA holds for the whole render)."""
        if not phrases:
            raise self.error("`lora` needs a value: a catalog name or a quoted .safetensors path",
                             append or key_tok, hint="as in: lora detail_tweaker:0.8")
        if phrases[0].data == "blend":
            raise self.error("LoRAs cannot be blended: list them, each with its weight", phrases[0].children[0],
                             hint="as in: lora detail_tweaker:0.8, film_grain:0.5")
        out = []
        for node in phrases:
            if len(node.children) > 1:
                raise self.error("missing comma: LoRAs are separated by commas", node.children[1])
            piece = node.children[0]
            if piece.data == "edit":
                raise self.error("a LoRA cannot change during sampling: `->` works in text slots only", piece)
            item = self.piece(LORA, piece)
            if isinstance(item, ast.Literal) and not item.text.endswith(".safetensors"):
                raise self.error(f"a quoted LoRA is a path to a .safetensors file, not {_cut(item.text)!r}",
                                 piece, hint="pickle files (.pt, .bin, .ckpt) can run code when loaded and are "
                                             "never read; a catalog entry is named without quotes")
            out.append(ast.Phrase((item,), self.span(node)))
        return ast.Slot(LORA, tuple(out), self.span(field), append=append is not None)

    def blend(self, slot: str, node: Tree, field: Tree) -> ast.Slot:
        keyword, parts = node.children[0], node.children[1:]
        if slot == "negative":
            raise self.error("the negative prompt cannot be blended; blend a positive slot "
                             f"({', '.join(SLOTS[:-1])})", keyword)
        if len(parts) < 2:
            raise self.error("a blend needs at least two parts", keyword,
                             hint='as in: subject blend "a dog":0.6, "a bowl of fruit":0.4')
        if len(parts) > MAX_BLEND_PARTS:
            raise self.error(f"a blend has at most {MAX_BLEND_PARTS} parts, not {len(parts)}", keyword)
        pieces = [self.piece(slot, p) for p in parts]
        for piece in pieces:
            if not isinstance(piece, (ast.Literal, ast.Ref)):
                raise PromptError("a blend part is quoted words or a catalog name, not a choice or a wildcard",
                                  piece.span, source=self.source, hint="put the choice inside the other slots")
        if sum(p.weight for p in pieces) <= 0:
            raise self.error("the weights of a blend must add up to more than 0", keyword,
                             hint="each part's weight is its share: 0.6 and 0.4, or 3 and 2")
        phrases = tuple(ast.Phrase((piece,), piece.span) for piece in pieces)
        return ast.Slot(slot, phrases, self.span(field), blend=self.span(keyword))

    def edit(self, slot: str, node: Tree) -> ast.Edit:
        before, _, after, _, *step, at_tok = node.children
        before, after = self.piece(slot, before, empty_ok=True), self.piece(slot, after, empty_ok=True)
        if all(isinstance(p, ast.Literal) and not p.text.strip() for p in (before, after)):
            raise self.error("both sides of `->` are empty", node)
        if step:
            from .settings import LIMITS

            top = LIMITS["steps"][1]
            if not at_tok.isdigit() or not 1 <= int(at_tok) <= top:
                raise self.error(f"`at step {at_tok}` is not a step: a whole number from 1 to {top}", at_tok,
                                 hint="`at step 12` switches after step 12")
            return ast.Edit(before, after, float(int(at_tok)), self.span(node), step=True)
        at = float(at_tok)
        if not 0 <= at <= 1:
            raise self.error(f"`at {at_tok}` is out of range: it is the fraction of the steps (0 to 1) "
                             "after which the second text takes over", at_tok,
                             hint="`at 0.4` switches after 40 % of the steps" +
                             (f"; `at step {at_tok}` after step {at_tok}" if at_tok.isdigit() and at >= 1 else ""))
        return ast.Edit(before, after, at, self.span(node))

    def phrase(self, slot: str, node: Tree) -> ast.Phrase:
        build = {"edit": self.edit, "alternate": self.alternate}
        pieces = [build.get(p.data, self.piece)(slot, p) for p in node.children]
        if len(pieces) > 1 and slot != "subject":
            raise self.error(f"missing comma: items in `{slot}` are separated by commas "
                             "(only `subject` joins pieces written side by side)", node.children[1])
        return ast.Phrase(tuple(pieces), self.span(node))

    def piece(self, slot: str, node: Tree, empty_ok: bool = False) -> ast.Item:
        atom, weight = node.children[0], 1.0
        if len(node.children) > 1:
            weight = self.weight(node.children[1])
        if isinstance(atom, Tree) and atom.data == "choice":
            return self.choice(slot, atom, weight)
        if isinstance(atom, Tree) and atom.data == "wildcard":
            return self.wildcard(atom, weight)
        if isinstance(atom, Tree):  # ref
            parts = [str(t) for t in atom.children]
            catalog, name = (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])
            return ast.Ref(catalog, name, weight, self.span(atom))
        if atom.type == "STRING":
            text = self.string(atom)
            if not text.strip() and not empty_ok:
                raise self.error("empty string: it adds nothing to the prompt", atom,
                                 hint="remove it, or write the words it should hold")
            return ast.Literal(text, weight, self.span(node))
        raise self.error(f"`{atom}` is not an item of `{slot}`: write a catalog name or a quoted string",
                         atom, hint=f'to use it as words, quote it: "{atom}"')

    def choice(self, slot: str, node: Tree, weight: float) -> ast.Choice:
        """``{a | b}``, ``{2$$ a | b | c}``, ``{1-3$$ " and " $$ a | b | c}``, ``{2:: a | b}``."""
        children, count, sep = list(node.children), None, ", "
        if children and isinstance(children[0], Token) and children[0].type == "CHOICE_COUNT":
            count = children.pop(0)
            if children and isinstance(children[0], Token) and children[0].type == "STRING":
                sep = self.string(children.pop(0))
        options = tuple(self.option(slot, o) for o in children)
        if all(not o.pieces for o in options):
            raise self.error("empty choice: `{…}` needs at least one option with words in it", node,
                             hint='as in {"red" | "blue"} or {van_gogh | dali}')
        low, high = 1, 1
        if count is not None:
            lo, _, hi = str(count)[:-2].partition("-")
            if len(lo) > MAX_DIGITS or len(hi) > MAX_DIGITS:
                raise self.error(f"bad `$$` range `{_cut(str(count))}`: too large a number", count)
            # `{2$$ __colors__}`: two of the wildcard's values (as in dynamicprompts); an open
            # range (`{2-$$ __colors__}`) goes up to all of them: -1 until they are known
            over_wildcard = len(options) == 1 and len(options[0].pieces) == 1 and isinstance(
                options[0].pieces[0], ast.Wildcard)
            low = int(lo) if lo else 1
            high = (int(hi) if hi else -1 if over_wildcard else len(options)) if "-" in str(count) else low
            if low > high >= 0:
                raise self.error(f"bad `$$` range `{count}`: {low} is more than {high}", count,
                                 hint="write the smaller number first, as in {1-3$$ …}")
            if high > len(options) and not over_wildcard:
                raise self.error(f"bad `$$` range `{count}`: picks {high} of {len(options)} option"
                                 f"{'s' if len(options) != 1 else ''} (each option is picked at most once)", count)
        if all(o.chance == 0 for o in options):
            raise self.error("every option of this choice has the weight 0: none could be picked", node)
        return ast.Choice(options, low, high, sep, weight, self.span(node))

    def option(self, slot: str, node: Tree) -> ast.Option:
        children, chance = list(node.children), 1.0
        if children and isinstance(children[0], Token) and children[0].type == "CHOICE_WEIGHT":
            tok = children.pop(0)
            chance = float(str(tok)[:-2])
            if not math.isfinite(chance) or chance > 1e6:
                raise self.error(f"option weight {_cut(str(tok))} is out of range (0 to 1,000,000)", tok)
        pieces = tuple(self.piece(slot, p) for p in children)
        if len(pieces) > 1 and slot != "subject":
            raise self.error(f"missing `|`: an option in `{slot}` is one item (only `subject` joins pieces "
                             "written side by side)", children[1])
        return ast.Option(pieces, chance, self.span(node) if not node.meta.empty else None)

    def wildcard(self, node: Tree, weight: float) -> ast.Wildcard:
        *qualifier, tok = node.children
        path = str(tok)[2:-2]
        parts = path.split("/")
        if any(part in ("", ".", "..") for part in parts):
            raise self.error(f"`{_cut(str(tok))}` is not a wildcard name (names read like __animals__ or "
                             "__colors/warm__)", tok)
        return ast.Wildcard(str(qualifier[0]) if qualifier else None, path, weight, self.span(node))

    def alternate(self, slot: str, node: Tree) -> ast.Alternate:
        """``[cat | dog]``: literals or catalog names that take turns, one step each."""
        options = tuple(self.piece(slot, p) for p in node.children)
        for option in options:
            if not isinstance(option, (ast.Literal, ast.Ref)):
                raise PromptError("an alternation takes quoted words or catalog names, not choices or "
                                  "wildcards", option.span, source=self.source)
        if len(options) > MAX_BLEND_PARTS:
            raise self.error(f"an alternation has at most {MAX_BLEND_PARTS} options, not {len(options)}", node)
        return ast.Alternate(options, self.span(node))

    def weight(self, node: Tree) -> float:
        """A piece's weight, however written: each way is held to the one limit, ±MAX_WEIGHT."""
        tok = node.children[0]
        if node.data == "minus_weight":
            return MINUS ** len(tok)  # only shrinks: any run stays inside the limit
        if node.data == "plus_weight":
            if len(tok) > MAX_PLUSES:
                raise self.error(f"weight {_cut(str(tok))} is out of range: {len(tok):,} `+` make "
                                 f"{PLUS}^{len(tok):,}, more than {MAX_WEIGHT} (weights go from -{MAX_WEIGHT} "
                                 f"to {MAX_WEIGHT}; at most {MAX_PLUSES} `+`)", tok,
                                 hint="write a number instead, such as `:1.5`")
            return PLUS ** len(tok)
        value = float(tok)
        if not math.isfinite(value) or abs(value) > MAX_WEIGHT:
            raise self.error(f"weight {_cut(str(tok))} is out of range (-{MAX_WEIGHT} to {MAX_WEIGHT})", tok)
        return value

    def string(self, tok: Token) -> str:
        body = str(tok)[1:-1]
        out, i = [], 0
        while i < len(body):
            ch = body[i]
            if ch == "\\":
                nxt = body[i + 1]
                if nxt not in '"\\':
                    start = tok.start_pos + 1 + i
                    raise PromptError(f"unknown escape `\\{nxt}` in a string (only `\\\"` and `\\\\` are escapes)",
                                      span_at(self.path, self.source, start, 2), source=self.source,
                                      hint="write `\\\\` for a literal backslash")
                out.append(nxt)
                i += 2
            else:
                out.append(ch)
                i += 1
        return "".join(out)

    def param(self, key: str, key_tok: Token, phrases: list, field: Tree) -> ast.Param:
        if len(phrases) > 1 or len(phrases[0].children) > 1:
            raise self.error(f"`{key}` takes one value", phrases[1] if len(phrases) > 1 else phrases[0].children[1])
        piece = phrases[0].children[0]
        if piece.data == "alternate":
            raise self.error(f"`{key}` cannot alternate during sampling: `[a | b]` works in slots only", piece)
        if piece.children and isinstance(piece.children[0], Tree) and piece.children[0].data in ("choice",
                                                                                                  "wildcard"):
            raise self.error(f"`{key}` takes one value, not a choice or a wildcard (choices go in slots)",
                             piece.children[0])
        if piece.data == "edit":
            raise self.error(f"`{key}` cannot change during sampling: `->` works in slots only", piece)
        if len(piece.children) > 1:
            raise self.error(f"`{key}` takes no weight", piece.children[1])
        atom = piece.children[0]
        kind = atom.type if isinstance(atom, Token) else "NAME"
        text = self.string(atom) if kind == "STRING" else "".join(
            atom.children if isinstance(atom, Tree) else [str(atom)])
        value = self._param_value(key, kind, text, atom)
        return ast.Param(key, value, self.span(field))

    def _param_value(self, key: str, kind: str, text: str, atom):
        from .settings import check

        def need(expected: str):
            return self.error(f"`{key}` expects {expected}, got `{text}`", atom)

        if key == "model":
            if kind != "STRING":
                raise need('a quoted model id or path, such as "stable-diffusion-v1-5/stable-diffusion-v1-5"')
            if not text.strip():
                raise self.error("`model` is empty", atom)
            return text
        if key == "scheduler":
            from .schedulers import SCHEDULERS, lookup, normalize

            if kind not in ("STRING", "NAME"):
                raise need('a scheduler name, such as euler_a or "DPM++ 2M Karras"')
            if lookup(text) is None:
                raise self.error(f"unknown scheduler `{text}`{suggest(normalize(text), SCHEDULERS)}", atom,
                                 hint="schedulers: " + ", ".join(SCHEDULERS))
            return lookup(text)
        if kind in ("NUMBER", "SIZE", "RATIO") and max(len(v.lstrip("0")) for v in re.split(r"[x:.]", text)) \
                > MAX_DIGITS and key in ("size", "aspect", "steps", "seed", "images", "guidance"):
            raise self.error(f"`{key}` is out of range: {_cut(text)} has more than {MAX_DIGITS} digits", atom,
                             hint=_range(key))
        if key == "size":
            if kind != "SIZE":
                raise need("a size WIDTHxHEIGHT, such as 768x512")
            value = tuple(int(v) for v in text.split("x"))
            if check("size", value):
                raise self.error(check("size", value), atom)
            return value
        if key == "aspect":
            if kind != "RATIO":
                raise need("a ratio W:H, such as 16:9")
            value = tuple(int(v) for v in text.split(":"))
            if check("aspect", value):
                raise self.error(check("aspect", value), atom)
            return value
        if key == "guidance":
            if kind != "NUMBER":
                raise need("a number, such as 7.5")
            value = float(text)
        else:
            if kind != "NUMBER" or "." in text:
                raise need("a whole number")
            value = int(text)
        if check(key, value):
            raise self.error(check(key, value), atom)
        return value
