"""Parser tables: source text -> AST facts."""
import pytest

from promptlang import ast, parse
from promptlang.errors import PromptError


def first_prompt(src):
    return parse(src, "t.prompt").prompts[0]


def slot(src, name):
    body = first_prompt(src).body
    return next(s for s in body.slots if s.name == name)


@pytest.mark.parametrize("written, weight", [
    ('"x"', 1.0),
    ('"x":1.3', 1.3),
    ('"x":0.5', 0.5),
    ('"x":-0.5', -0.5),
    ('"x":2', 2.0),
    ('"x"+', 1.1),
    ('"x"++', 1.1 ** 2),
    ('"x"+++', 1.1 ** 3),
    ('"x"-', 0.9),
    ('"x"--', 0.9 ** 2),
])
def test_weights(written, weight):
    piece = slot(f"prompt a {{ subject {written} }}", "subject").phrases[0].pieces[0]
    assert piece.weight == pytest.approx(weight)


@pytest.mark.parametrize("written, text", [
    ('"plain"', "plain"),
    ('"say \\"hi\\""', 'say "hi"'),
    ('"back\\\\slash"', "back\\slash"),
    ('"a (red) car: [fast]"', "a (red) car: [fast]"),
    ('"一幅描繪未來城市景觀的油畫"', "一幅描繪未來城市景觀的油畫"),
    ('"emoji 🐉 ok"', "emoji 🐉 ok"),
    ('"a # not a comment"', "a # not a comment"),
    ('"tabs\tkept"', "tabs\tkept"),
])
def test_strings(written, text):
    piece = slot(f"prompt a {{ subject {written} }}", "subject").phrases[0].pieces[0]
    assert isinstance(piece, ast.Literal) and piece.text == text


@pytest.mark.parametrize("written, catalog, name", [
    ("van_gogh", None, "van_gogh"),
    ("core.van_gogh", "core", "van_gogh"),
    ("4k", None, "4k"),
    ("team.8k", "team", "8k"),
    ("_private", None, "_private"),
])
def test_refs(written, catalog, name):
    piece = slot(f"prompt a {{ style {written} }}", "style").phrases[0].pieces[0]
    assert isinstance(piece, ast.Ref) and (piece.catalog, piece.name) == (catalog, name)


@pytest.mark.parametrize("written, name, value", [
    ('model "stable-diffusion-v1-5/stable-diffusion-v1-5"', "model", "stable-diffusion-v1-5/stable-diffusion-v1-5"),
    ("size 768x512", "size", (768, 512)),
    ("aspect 16:9", "aspect", (16, 9)),
    ("steps 30", "steps", 30),
    ("guidance 7.5", "guidance", 7.5),
    ("guidance 0", "guidance", 0.0),
    ("seed 42", "seed", 42),
    ("seed 4294967295", "seed", 4294967295),
    ("scheduler euler_a", "scheduler", "euler_a"),
    ('scheduler "DPM++ 2M Karras"', "scheduler", "dpmpp_2m_karras"),
    ("scheduler Euler_A", "scheduler", "euler_a"),
    ("images 4", "images", 4),
])
def test_params(written, name, value):
    body = first_prompt(f'prompt a {{\n subject "x"\n {written}\n}}').body
    param = next(p for p in body.params if p.name == name)
    assert param.value == value


def test_subject_pieces_side_by_side():
    s = slot('prompt a { subject "a dragon" "breathing" "blue fire"++, "second item" }', "subject")
    assert [len(p.pieces) for p in s.phrases] == [3, 1]
    assert s.phrases[0].pieces[2].weight == pytest.approx(1.21)


def test_whole_file_structure():
    f = parse('''# comment
use core   # trailing comment
use "./team.yaml"

defaults {
    steps 20
}

prompt a {
  subject "x"
}
prompt b extends a {
    style van_gogh:1.2,
          dali
}
''', "f.prompt")
    assert [(u.target, u.is_path) for u in f.uses] == [("core", False), ("./team.yaml", True)]
    assert f.defaults.params[0].value == 20
    assert [(p.name, p.parent) for p in f.prompts] == [("a", None), ("b", "a")]
    assert [r.pieces[0].name for r in f.prompts[1].body.slots[0].phrases] == ["van_gogh", "dali"]


def test_free_layout_one_line_and_crlf():
    f = parse('prompt a { subject "x" }\r\nprompt b {\r\n  subject "y"\r\n}\r\n', "f.prompt")
    assert [p.name for p in f.prompts] == ["a", "b"]


def test_spans_point_at_source():
    src = 'prompt a {\n    style  van_gogh:1.2\n}\n'
    ref = slot(src, "style").phrases[0].pieces[0]
    assert (ref.span.line, ref.span.column) == (2, 12)
    assert src[ref.span.start:ref.span.end] == "van_gogh"
    assert ref.span.file == "t.prompt"


def test_empty_file_parses_to_nothing():
    f = parse("", "e.prompt")
    assert f.prompts == () and f.uses == ()
    assert parse("# only a comment\n\n", "e.prompt").prompts == ()


@pytest.mark.parametrize("src, fragment", [
    ('prompt a { subject "x" ', "missing `}`"),
    ('prompt a subject "x" }', "missing `{`"),
    ('prompt a { subject "x }', "unterminated string"),
    ("prompt a { quality x, }", "a list ends after a comma"),
    ("prompt a { style x: }", "expected a number after `:`"),
    ('subject "x"', "fields belong inside"),
    ("}", "no open block"),
    ('prompt a { subject "\\n" }', "unknown escape"),
    ("prompt a { subject \"x\" }\x00", "NUL"),
])
def test_syntax_errors(src, fragment):
    with pytest.raises(PromptError) as info:
        parse(src, "t.prompt")
    assert fragment in info.value.message
    assert str(info.value).startswith("t.prompt:")
