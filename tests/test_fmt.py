"""The lossless tree and `promptlang fmt`: every character kept, one layout, meaning unchanged."""
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from promptlang import cst, syntax
from promptlang.cli import main
from promptlang.compiler import compile_source
from promptlang.errors import PromptError
from promptlang.fmt import format_source
from promptlang.ir import to_json

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.prompt"))


def ir(source: str, path: str) -> str:
    """The compiled IR; a `{…}` choice is labelled by where it stands (line:column), which a
    new layout moves: the picks are compared by their values, in order."""
    result = compile_source(source, path, lint=False)
    out = [to_json(p) for p in result.prompts]
    for p in out:
        for c in p.get("choices", ()):
            if c["choice"].startswith("{"):
                c["choice"] = "{…}"
    return json.dumps(out, sort_keys=True)


def comments(source: str) -> list:
    return [t.text.rstrip() for t in cst.parse(source).root.leaves() if t.kind == cst.COMMENT]


# ------------------------------------------------------------------ the lossless tree

@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_tree_gives_every_character_back(path):
    source = path.read_text(encoding="utf-8")
    root = cst.parse(source).root
    assert root.text == source
    own_line = [line.strip() for line in source.splitlines() if line.strip().startswith("#")]
    assert own_line == [t.text for t in root.leaves() if t.kind == cst.COMMENT and t.column == 1 + len(
        source.splitlines()[t.line - 1]) - len(source.splitlines()[t.line - 1].lstrip())]


def test_comments_that_start_a_line_are_leaves_of_their_own():
    source = 'use core  # end\n\n# own line\nprompt a {\n    # in a block\n    style x,  # in a list\n      y\n}\n'
    root = cst.parse(source).root
    kinds = [(t.kind, t.text) for t in root.leaves() if t.kind in (cst.COMMENT, cst.NEWLINE)]
    assert kinds == [("COMMENT", "# end"), ("NEWLINE", "\n"), ("NEWLINE", "\n"), ("COMMENT", "# own line"),
                     ("NEWLINE", "\n"), ("NEWLINE", "\n"), ("COMMENT", "# in a block"), ("NEWLINE", "\n"),
                     ("COMMENT", "# in a list"), ("NEWLINE", "\n"), ("NEWLINE", "\n"), ("NEWLINE", "\n")]
    field = next(n for n in root.nodes() if n.rule == "field")
    assert "# in a list" in [t.text for t in field.leaves()]  # hung where it stands: among the items
    assert [n.rule for n in root.nodes()][:4] == ["start", "use", "requirement", "prompt"]


def test_tree_keeps_keywords_and_punctuation():
    root = cst.parse('prompt a extends b { style core.x:1.2, y++ }').root
    assert [t.kind for t in root.tokens()] == ["PROMPT", "NAME", "EXTENDS", "NAME", "LBRACE", "NAME", "NAME", "DOT",
                                               "NAME", "COLON", "SIGNED_NUMBER", "COMMA", "NAME", "PLUSES", "RBRACE"]


def test_broken_text_still_lexes_up_to_the_mistake():
    leaves, error = cst.lex('prompt a {\n  style van_gogh, "x\n}')
    assert isinstance(error, PromptError) and "unterminated string" in error.message
    assert "".join(t.text for t in leaves) == 'prompt a {\n  style van_gogh, "x\n}'
    assert [(t.kind, t.text) for t in leaves if not t.trivia][-3:] == [("COMMA", ","), ("STRING", '"x'),
                                                                       ("ERROR", "}")]  # guessed past the mistake


# ------------------------------------------------------------------ the layout

MESSY = '''  # top comment
use core>=1.0,<2   # pinned


# two blanks above
prompt a   extends   b{ subject "x" "y"++ , "z" :1.2, # trailing in list
  # own line in list
      "w"
style   core . van_gogh  --, dali   # after
   # before close

}
defaults {}
prompt c { negative+=blurry
steps 3 }
'''

CANONICAL = '''# top comment
use core >= 1.0, < 2  # pinned

# two blanks above
prompt a extends b {
    subject  "x" "y"++,
             "z":1.2,  # trailing in list
             # own line in list
             "w"
    style    core.van_gogh--, dali  # after
    # before close
}
defaults {}
prompt c {
    negative += blurry
    steps    3
}
'''


def test_canonical_layout():
    assert format_source(MESSY) == CANONICAL
    assert format_source(CANONICAL) == CANONICAL


def test_long_lists_break_one_item_per_line_and_short_ones_join():
    long = "prompt a {\n    quality " + ", ".join(f"q{i}_longer_name" for i in range(8)) + "\n}\n"
    out = format_source(long)
    assert out.splitlines()[1:4] == ["    quality  q0_longer_name,", "             q1_longer_name,",
                                     "             q2_longer_name,"]
    assert format_source("prompt a {\n quality x,\n   y\n}\n") == "prompt a {\n    quality  x, y\n}\n"


def test_names_align_to_the_longest_in_the_block():
    out = format_source('prompt a {\nscheduler euler_a\nsteps 3\nsubject blend "a":1,\n "b":2\n}')
    assert out == ('prompt a {\n    scheduler euler_a\n    steps     3\n    subject   blend "a":1, "b":2\n}\n')


@pytest.mark.parametrize("source, out", [
    ("defaults {\n\n}\n", "defaults {}\n"),
    ("prompt a {}", "prompt a {}\n"),
    ("prompt a { # why\n}", "prompt a {  # why\n}\n"),
    ("prompt a {\n    # only a comment\n\n}", "prompt a {\n    # only a comment\n}\n"),
    ("\n\n# just a comment\n\n\n", "# just a comment\n"),
    ("", ""),
])
def test_empty_blocks_and_files(source, out):
    assert format_source(source) == out


def test_crlf_and_tabs_become_the_canonical_text():
    assert format_source('prompt a {\r\n\tsteps\t3\r\n}\r\n') == "prompt a {\n    steps    3\n}\n"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_idempotent_and_same_ir(path):
    source = path.read_text(encoding="utf-8")
    out = format_source(source, str(path))
    assert format_source(out, str(path)) == out
    assert ir(out, str(path)) == ir(source, str(path))
    assert comments(out) == comments(source)


# generated files: random spacing, comments, blank lines and line breaks after commas
NAMES = {"format": ["stock_photo", "oil_painting", '"a sketch"'], "style": ["van_gogh", "dali", "core.picasso"],
         "quality": ["4k", "highly_detailed", '"sharp"'], "negative": ["blurry", "low_quality", '"hands"']}
space = st.sampled_from([" ", "  ", "\t", "    "])
comment = st.sampled_from(["", "", "  # note", " #x", "# a, b {c}"])
weight = st.sampled_from(["", "", "+", "--", ":1.3", ":0.5"])


@st.composite
def items(draw, slot):
    n = draw(st.integers(1, 12))
    out = []
    for i in range(n):
        out.append(draw(st.sampled_from(NAMES[slot])) + draw(weight))
        if i < n - 1:
            out.append("," + draw(st.sampled_from([" ", "", "\n      ", draw(comment) + "\n   # own\n  "])))
    return "".join(out)


EXTRA = st.sampled_from([
    "", "", 'style{s}blend van_gogh:2,{s}dali:1', 'negative{s}+= "hands",{n}blurry',
    'guidance{s}7.5', 'size{s}768x512', 'aspect{s}16:9', 'scheduler{s}euler_a'])
SUBJECT = st.sampled_from(['"a thing {i}"{w} "more"', '"a" "cat" -> "dog" at 0.4 "sitting"',
                           '"x{i}",{n}"" -> "a hat" at 0.3'])


@st.composite
def prompt_files(draw):
    lines = [draw(st.sampled_from(["use core", "use core >= 1.0", "use  core>=1.0,<9"])) + draw(comment)]
    if draw(st.booleans()):
        lines.append("defaults" + draw(space) + draw(st.sampled_from(["{}", "{\n}", "{ # c\n}", "{\nsteps 20\n}"])))
    for i in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            lines.append(draw(st.sampled_from(["", "\n", "# about it"])))
        n = draw(st.sampled_from([" ", "\n    ", " # c\n  "]))
        fields = [f"subject{draw(space)}" + draw(SUBJECT).format(i=i, w=draw(weight), n=n)]
        extra = draw(EXTRA).format(s=draw(space), n=n)
        if extra:
            fields.append(extra)
        taken = {f.split()[0] for f in fields}
        for slot in draw(st.lists(st.sampled_from(sorted(set(NAMES) - taken)), unique=True, max_size=3)):
            body = draw(items(slot))
            fields.append(f"{slot}{draw(space)}{body}")
        if draw(st.booleans()):
            fields.append(f"steps{draw(space)}{draw(st.integers(1, 50))}{draw(comment)}")
        if {"size", "aspect"} <= {f.split()[0] for f in fields}:
            fields = [f for f in fields if not f.startswith("aspect")]
        sep = "\n" + draw(st.sampled_from(["", "  ", "\n    ", "\t", "# between\n"]))
        head = f"prompt p{i}" + (f" extends p{i - 1}" if i and draw(st.booleans()) else "")
        lines.append(head + draw(space) + "{" + draw(st.sampled_from(["", " # open"])) + sep + sep.join(fields)
                     + draw(st.sampled_from(["\n}", "\n# before close\n}", "\n\n}"])))
    return "\n".join(lines) + draw(st.sampled_from(["", "\n", "\n\n"]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prompt_files())
def test_generated_files_idempotent_and_same_ir(source):
    out = format_source(source)
    assert format_source(out) == out
    assert ir(out, "<string>") == ir(source, "<string>")
    assert comments(out) == comments(source)
    assert all(len(line) <= 100 or "," not in line for line in out.splitlines())


# ------------------------------------------------------------------ rules it does not know

GRAMMAR_PLUS = '''
_atom: STRING | ref | NUMBER | SIZE | RATIO | choice | alternation | WILDCARD
choice: "{" phrase ("|" phrase)* "}"
alternation: "[" phrase ("|" phrase)* "]"
WILDCARD: /__[a-z]+__/
'''
# and a statement, and a word in a known rule
WIDER = [("use: \"use\" requirement\n", 'use: "use" (requirement | "wildcards" STRING)\n')]


@pytest.fixture
def wider_grammar(tmp_path, monkeypatch):
    """The grammar with rules fmt has never seen: choices `{a | b}`, alternations `[a|b]`,
    wildcards `__x__`, `use wildcards "dir"`, (`at step 12` is in the grammar itself now)."""
    import promptlang.cst
    from promptlang.resources import grammar_file

    text = grammar_file().read_text(encoding="utf-8")
    text = text.replace("_atom: STRING | ref | NUMBER | SIZE | RATIO\n", GRAMMAR_PLUS)
    for old, new in WIDER:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "wider.lark"
    path.write_text(text, encoding="utf-8")
    for module in (syntax, promptlang.cst):
        monkeypatch.setattr(module, "grammar_file", lambda: path)
    for cached in (syntax.parser, promptlang.cst._lossless_parser, syntax._example_states):
        cached.cache_clear()
    yield
    for cached in (syntax.parser, promptlang.cst._lossless_parser, syntax._example_states):
        cached.cache_clear()


def test_new_statements_and_words_are_laid_out_too(wider_grammar):
    source = 'use   wildcards  "./w"  # words\nprompt a {\n style [ van_gogh|dali ], "x" -> "y" at  step 12\n}'
    out = format_source(source)
    assert out == ('use wildcards "./w"  # words\nprompt a {\n    style    [van_gogh|dali], "x" -> "y" at step 12\n}\n')
    assert format_source(out) == out


def test_new_rules_are_laid_out_token_by_token(wider_grammar):
    source = 'prompt a {\n  style  {van_gogh|dali  |  "x"}:1.2 , __colors__\n}\n'
    out = format_source(source)
    assert out == 'prompt a {\n    style    {van_gogh|dali | "x"}:1.2, __colors__\n}\n'
    assert format_source(out) == out


def test_a_layout_that_would_change_a_token_is_refused(monkeypatch):
    from promptlang import fmt

    monkeypatch.setattr(fmt._Printer, "text", lambda self: "prompt a {\n    style    x\n}\n")
    with pytest.raises(PromptError, match="fmt cannot lay out this file"):
        format_source('prompt a {\n    style x, y\n}\n')
    monkeypatch.setattr(fmt._Printer, "text", lambda self: "prompt a {\n    style    x y,\n}\n")
    with pytest.raises(PromptError, match="would not parse"):
        format_source('prompt a {\n    style x, y\n}\n')


# ------------------------------------------------------------------ the command

def test_fmt_writes_in_place_only_when_the_layout_changes(write, capsys):
    ugly = write("a.prompt", MESSY)
    neat = write("b.prompt", CANONICAL)
    before = neat.stat().st_mtime_ns
    assert main(["fmt", str(ugly), str(neat)]) == 0
    assert ugly.read_text() == CANONICAL
    assert neat.stat().st_mtime_ns == before
    assert "1 file reformatted, 1 left unchanged" in capsys.readouterr().err


def test_fmt_check_and_diff_change_nothing(write, capsys):
    ugly = write("a.prompt", MESSY)
    assert main(["fmt", "--check", str(ugly)]) == 1
    out = capsys.readouterr().out
    assert "+use core >= 1.0, < 2  # pinned" in out and "-use core>=1.0,<2   # pinned" in out
    assert main(["fmt", "--diff", str(ugly)]) == 0
    assert "+prompt a extends b {" in capsys.readouterr().out
    assert ugly.read_text() == MESSY
    ugly.write_text(CANONICAL)
    assert main(["fmt", "--check", str(ugly)]) == 0
    assert capsys.readouterr().out == ""


def test_fmt_never_writes_a_file_that_does_not_parse(write, capsys):
    bad = write("bad.prompt", 'prompt a {\n  subject "x\n}\n')
    assert main(["fmt", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bad.prompt:2:11: error: unterminated string" in err and "^" in err
    assert bad.read_text() == 'prompt a {\n  subject "x\n}\n'


def test_fmt_folders_and_stdin(write, capsys, monkeypatch):
    import io

    write("d/x.prompt", MESSY)
    assert main(["fmt", "--check", str(write("d/y.prompt", CANONICAL).parent)]) == 1
    assert "would reformat" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO(MESSY))
    assert main(["fmt", "-"]) == 0
    assert capsys.readouterr().out == CANONICAL
