"""The start-up speed-ups change nothing a user sees.

libyaml (``yaml.CSafeLoader``) must compose the same nodes with the same marks as
PyYAML's pure-Python loader (the validator's line/column errors come from them); the
pure-Python CLIP BPE in :mod:`promptlang.tokens` must split texts exactly as the
``tokenizers`` pipeline does; the precomputed Lark parser must be the one the grammar
builds; templates that only place the subject must render as Jinja renders them.
"""
from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from promptlang import catalog
from promptlang.errors import PromptError

ROOT = Path(__file__).resolve().parent.parent
YAML_FILES = sorted(p for p in ROOT.rglob("*.yaml") if ".git" not in p.parts and ".venv" not in p.parts)

TRICKY_YAML = [
    "",
    "# only a comment\n",
    "name: x\n",
    "\ufeffname: bom\nstyle:\n  a: {text: \"é\"}\n",
    "name: ünïcødé\nstyle:\n  日本: {text: \"一群女性朋友在咖啡店裡吃沙拉並歡笑\"}\n  b: 😀 emoji\n",
    "name: t\nstyle:\n  a:\n    text: |\n      two\n      lines\n    tags: [x, y]\n",
    "name: t\r\nstyle:\r\n  a: {text: x}\r\n",
    "name: t\nstyle: &s\n  a: {text: x}\nquality: *s\n",
    "name: t\n1: x\n2.5: y\ntrue: z\nnull: w\n",
    "name: t\nversion: 1.0\nstyle:\n  a: {text: 'it''s', weight: 1e3}\n",
    "a: b: c\n",
    "name: [unclosed\n",
    "name: t\n  bad: indent\n",
    "name: 'unterminated\n",
    "name: !!python/object:os.system x\n",
    "name: !custom x\n",
    "--- a\n--- b\n",
    "name: *nowhere\n",
    "name: t\x07\n",
    "name: t\ufeff\n",
    "name: \t t\n",
    "key: \"\\q\"\n",
    "? complex\n: key\n",
    "name: t\nstyle: {a: {text: x}, b: {text: y}\n",
    "- a\n- b\n",
]


def nodes(node, out):
    """A flat list of everything about a node tree that the validator may read."""
    marks = lambda m: (m.index, m.line, m.column)
    out.append((type(node).__name__, node.tag, marks(node.start_mark), marks(node.end_mark),
                node.value if isinstance(node, yaml.ScalarNode) else None,
                (node.style or None) if isinstance(node, yaml.ScalarNode) else None))  # libyaml says "" for plain
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            nodes(k, out)
            nodes(v, out)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            nodes(item, out)
    return out


def outcome(source: str, loader):
    if loader is not yaml.SafeLoader and not catalog.fast_road(source):
        return ("error", "slow road")
    try:
        root, data = catalog.compose(source, loader)
    except yaml.YAMLError as exc:
        return ("error", type(exc).__name__)
    return ("ok", nodes(root, []) if root is not None else None, repr(data))


@pytest.mark.skipif(not hasattr(yaml, "CSafeLoader"), reason="PyYAML without libyaml")
@pytest.mark.parametrize("source", [p.read_text(encoding="utf-8") for p in YAML_FILES] + TRICKY_YAML,
                         ids=[str(p.relative_to(ROOT)) for p in YAML_FILES] + [f"tricky{i}" for i in range(len(TRICKY_YAML))])
def test_libyaml_composes_the_same_nodes_and_marks(source):
    fast, slow = outcome(source, yaml.CSafeLoader), outcome(source, yaml.SafeLoader)
    if fast[0] == "error":
        return  # the catalog loader then reads it again with the pure-Python loader
    assert fast == slow


def _fuzz_texts(n=3000, seed=0):
    rng = random.Random(seed)
    alphabet = ["name", "style", "text", "a", "b", ":", ": ", " ", "  ", "\n", "\n  ", "-", "- ", "'", '"',
                "#", "{", "}", "[", "]", ",", "?", "&x", "*x", "!", "|", ">", "\\", "é", "日本", "😀", "\r\n",
                "\t", "\ufeff", "1", "0.5", "true", "null", "~", "%", "@", "`", "...", "---"]
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30))) + "\n" for _ in range(n)]


@pytest.mark.skipif(not hasattr(yaml, "CSafeLoader"), reason="PyYAML without libyaml")
def test_libyaml_agrees_on_random_texts():
    for source in _fuzz_texts():
        fast, slow = outcome(source, yaml.CSafeLoader), outcome(source, yaml.SafeLoader)
        if fast[0] == "ok":
            assert fast == slow, source


def _error(tmp_path, text: str, fast) -> str:
    path = tmp_path / "team.yaml"
    path.write_text(text, encoding="utf-8", newline="")
    catalog._load_cached.cache_clear()
    saved = catalog.FastLoader
    catalog.FastLoader = fast
    try:
        catalog.load(path, display="team.yaml")
    except PromptError as exc:
        return str(exc)
    finally:
        catalog.FastLoader = saved
        catalog._load_cached.cache_clear()
    return "no error"


BAD_CATALOGS = TRICKY_YAML + [
    "name: t\nstyle:\n  a: {txt: x}\n",
    "name: t\nstyle:\n  a: {text: 3}\n",
    "name: t\nstyle:\n  é: {text: x}\n  日本: {text: \"\"}\n",
    "name: 日本\n",
    "name: t\nstyle:\n  a: {text: \"   \"}\n",
    "name: t\nstyle:\n  \"a b\": x\n",
    "name: t\nstyle:\n  a:\n    text: x\n    weight: 1000\n",
    "name: t\nstyle:\n  a: [x]\n",
    "name: t\nnme: x\n",
    "name: t\nrequires: 3\n",
    "name: ünï\nstyle:\n  a: {text: \"😀\", tags: [1]}\n",
]


@pytest.mark.skipif(not hasattr(yaml, "CSafeLoader"), reason="PyYAML without libyaml")
@pytest.mark.parametrize("text", BAD_CATALOGS + [p.read_text(encoding="utf-8") for p in YAML_FILES])
def test_catalog_messages_are_the_same_with_libyaml(tmp_path, text):
    assert _error(tmp_path, text, yaml.CSafeLoader) == _error(tmp_path, text, yaml.SafeLoader)


# ---------------------------------------------------------------- CLIP tokens

from promptlang import tokens  # noqa: E402

TOKEN_TEXTS = [
    "", " ", "a", "A", "a business meeting", "A Stock Photo of a BUSINESS meeting, 4k, trending on artstation",
    "an oil painting of {subject}, impasto, swirling dynamic brushstrokes, oil paint on canvas",
    "it's, they're, we've, I'm, we'll, he'd, don't", "'s's 'S 'Ss", "x'ss", "1234567890 3.14 1e10 768x512",
    "(distorted hands)1.3, [[[cat]]], {dog|cat}, a:1.2 b::2", "!!!???...,,, --- +++ ### $$$ %%% ^^^",
    "tab\tseparated\nnew\r\nlines   and    spaces", "   leading and trailing   ", "\n\n\n",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "zzzzzzzzzzz qqqqqqq xxxxxxxxxxxx",
    "pneumonoultramicroscopicsilicovolcanoconiosis", "hello<|endoftext|>world", "<|startoftext|>",
    "~`@#$%^&*()_+-=[]{}|\\;:\"',.<>/?", "under_score snake_case CamelCase kebab-case",
    # not ASCII: these go through the tokenizers pipeline, and must still count
    "一群女性朋友在咖啡店裡吃沙拉並歡笑", "café crème brûlée", "naïve Ångström", "😀 emoji 🎨",
    "ｆｕｌｌｗｉｄｔｈ", "ﬁ ligature", "İstanbul", "ß straße", "e\u0301 combining", "\u00a0nbsp\u2003em space",
    "Ελληνικά русский العربية", "x\x0bvertical\x0ctab", "²³ ⅻ ½",
]


@pytest.mark.parametrize("text", TOKEN_TEXTS)
def test_token_count_matches_the_tokenizers_pipeline(text):
    reference = tokens._tokenizer().encode(text, add_special_tokens=False)
    assert tokens.count_tokens(text) == len(reference.ids)
    pieces = tokens.ascii_pieces(text)
    if pieces is not None:
        assert pieces == reference.tokens


def test_ascii_bpe_matches_on_random_texts():
    rng = random.Random(1)
    words = [line.split()[0] for line in (ROOT / "styles" / "core.yaml").read_text(encoding="utf-8").split()
             if line.isascii()] + ["aa", "zz", "'s", "'ll", "4k", "8k", "x", "q"]
    chars = [chr(c) for c in range(0x20, 0x7F)] + ["\t", "\n", "\r"]
    tok = tokens._tokenizer()
    for _ in range(1500):
        if rng.random() < 0.5:
            text = "".join(rng.choice(chars) for _ in range(rng.randint(0, 60)))
        else:
            text = " ".join(rng.choice(words) for _ in range(rng.randint(0, 20)))
        reference = tok.encode(text, add_special_tokens=False).tokens
        assert tokens.ascii_pieces(text) in (reference, None), text
        assert tokens.count_tokens(text) == len(reference), text
        if "<|" not in text:
            assert tokens.ascii_pieces(text) is not None


def test_count_tokens_does_not_build_the_tokenizer_for_ascii():
    code = ("import sys; from promptlang import tokens; "
            "n = tokens.count_tokens('a stock photo of a business meeting, 4k'); "
            "print(n, 'tokenizers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.split() == ["10", "False"]


# ---------------------------------------------------------------- templates

from promptlang import template  # noqa: E402

TEMPLATE_TEXTS = [
    "a stock photo of {{ subject }}", "{{subject}}, oil paint", "{{  subject  }} and {{ subject }} again",
    "{{ subject }}", "é {{ subject }} 日本 😀", "two\nlines {{ subject }}", "{{ subject }}\n", "{{ subject }}\r\nx",
    "{{ subject }} {", "{{ subject }} }}", "{{ subject|upper }}", "{{ subject }} {# c #}", "{% if 1 %}{{ subject }}{% endif %}",
    "{{- subject }}", "{{ subject -}} x", "{{ Subject }}", "{{ subject }} {{ other }}", "{{\nsubject }}",
]


@pytest.mark.parametrize("text", TEMPLATE_TEXTS)
def test_plain_subject_templates_render_as_jinja_does(text):
    plain = template._plain(text)
    if plain is None:
        return  # Jinja renders it
    compiled, uses_subject = template._compile(text)
    assert uses_subject
    assert plain == template._generate(compiled, template.MARK, "t").split(template.MARK)


def test_a_plain_catalog_does_not_import_jinja():
    code = ("import sys; from promptlang import compile_file; compile_file('examples/meeting.prompt'); "
            "print(sorted(m for m in ('jinja2', 'difflib', 'torch', 'tokenizers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------- the parser table

from lark import Lark  # noqa: E402
from lark.exceptions import UnexpectedInput  # noqa: E402

from promptlang import syntax  # noqa: E402


def test_parser_table_is_current():
    """Stale after a grammar edit or a Lark upgrade: run `python -m promptlang.syntax`.

    (Lark numbers its states in set order, which changes with PYTHONHASHSEED, so the
    table's text is not compared: its key is, and the parser's behaviour below.)"""
    from promptlang.data import parser_table

    assert parser_table.KEY == syntax._table_key(syntax.grammar_file().read_text(encoding="utf-8")), \
        "run `python -m promptlang.syntax` to rewrite promptlang/data/parser_table.py"
    assert isinstance(syntax.parser(), Lark) and syntax.parser().source_path == "<deserialized>"


PARSER_TEXTS = ([p.read_text(encoding="utf-8") for p in sorted((ROOT / "examples").glob("*.prompt"))]
                + [p.read_text(encoding="utf-8") for p in sorted((ROOT / "tests").rglob("*.prompt"))]
                + [example for examples in syntax._EXAMPLES.values() for example in examples]
                + ['prompt a { subject "x" }', "@", 'prompt a { subject "unterminated }', "prompt a { style x:y }\n"])


def _outcome(text):
    try:
        return repr(syntax.parse(text, "t.prompt"))
    except PromptError as exc:
        return str(exc)


def test_parser_from_the_table_parses_as_the_grammar_does(monkeypatch):
    loaded = [_outcome(text) for text in PARSER_TEXTS]
    built = Lark(syntax.grammar_file().read_text(encoding="utf-8"), **syntax.OPTIONS)
    monkeypatch.setattr(syntax, "parser", lambda: built)
    syntax._example_states.cache_clear()
    try:
        assert [_outcome(text) for text in PARSER_TEXTS] == loaded
    finally:
        syntax._example_states.cache_clear()


def test_lark_is_imported_without_regex_and_regex_still_imports_after():
    """promptlang.syntax hides the `regex` module from Lark's import only (7 ms of start-up)."""
    import subprocess
    import sys

    code = ("import sys, promptlang.syntax as s; s.parser(); print('regex' in sys.modules); "
            "import importlib.util; print(importlib.util.find_spec('regex') is not None); "
            "import lark.utils; print(lark.utils._has_regex)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "False" and out[2] == "False"
    if out[1] == "True":  # where `regex` is installed, importing it afterwards works as usual
        subprocess.run([sys.executable, "-c", "import promptlang.syntax, regex; regex.compile('a')"], check=True)
