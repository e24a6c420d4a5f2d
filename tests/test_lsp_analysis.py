"""The language server's incremental analysis says what `promptlang check` says, and an
analysis kept up to date edit by edit equals one made afresh."""
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from promptlang.compiler import compile_source
from promptlang.errors import PromptError
from promptlang.lsp import features
from promptlang.lsp.analysis import ONE, Document

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.prompt"))


def cli(source: str, path: str):
    """(line 0-based, column 0-based, message) of what `check` reports."""
    try:
        result = compile_source(source, path)
    except PromptError as exc:
        return sorted((e.span.line - 1, e.span.column - 1, e.message) for e in exc.errors), []
    return [], sorted((w.span.line - 1, w.span.column - 1, w.message) for w in result.warnings)


def server(analysis):
    errors = sorted((d.line, d.column, d.message) for d in analysis.diagnostics if d.severity == "error")
    warnings = sorted((d.line, d.column, d.message) for d in analysis.diagnostics if d.severity == "warning")
    return errors, warnings


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_compile_the_same(path):
    source = path.read_text(encoding="utf-8")
    analysis = Document(str(path)).update(source)
    assert server(analysis) == cli(source, str(path))
    result = compile_source(source, str(path))
    # a prompt with choices is built once in the editor (its first random draw), every one by the CLI
    assert list(dict.fromkeys(p.origin.prompt if p.origin else p.name for p in result.prompts)) == \
        [p.origin.prompt if p.origin else p.name for p in analysis.prompts.values()]
    assert all(analysis.prompts[p.name] == p for p in result.prompts if not p.origin)
    drawn = compile_source(source, str(path), variation=ONE)

    def same(p):  # the picks' values (a choice's label holds its line in the chunk the editor parsed)
        return p.segments, p.settings, [value for _, value in p.origin.choices] if p.origin else None

    assert all(same(analysis.prompts[p.name]) == same(p) for p in drawn.prompts)


BROKEN = [
    # warnings from resolve (each prompt's own), in a parent and the children that inherit them
    'use core\nprompt a {\n    subject "a cat"\n    quality 4k\n    negative "4k"\n}\nprompt b extends a {\n'
    '    style dali\n}\nprompt c extends a {\n    style picasso\n}\n',
    'use core\nprompt a {\n    style van_goh\n}\n',
    'use core\nprompt a {\n    style van_gogh\n}\nprompt b extends aa {\n    quality 4k\n}\n',
    'use core\nprompt a {\n    style van_gogh\n}\nprompt a {\n    quality 4k\n}\n',
    'use core\nprompt a extends b {\n    steps 3\n}\nprompt b extends a {\n    steps 4\n}\n',
    'use nosuch\nprompt a {\n    steps 3\n}\n',
    'prompt a {\n    steps 3x\n}\n',
    'use core\ndefaults {\n    quality 4k\n    style dalii\n}\nprompt a {\n    size 768x512\n    aspect 1:1\n}\n',
]


@pytest.mark.parametrize("source", BROKEN)
def test_mistakes_are_reported_as_the_cli_reports_them(source):
    assert server(Document("t.prompt").update(source)) == cli(source, "t.prompt")


EDITS = st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 3),
                           st.sampled_from(["", "x", "\n", "}", "prompt q {\n", ",", '"', "extends a ", "style dali\n"])),
                 min_size=1, max_size=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EDITS)
def test_edit_by_edit_equals_afresh(edits):
    source = (EXAMPLES[0].parent / "portrait_styles.prompt").read_text(encoding="utf-8")
    path = str(EXAMPLES[0].parent / "portrait_styles.prompt")
    doc = Document(path)
    doc.update(source)
    for at, length, text in edits:
        at %= len(source) + 1
        source = source[:at] + text + source[at + length:]
        kept = doc.update(source)
        fresh = Document(path).update(source)
        assert server(kept) == server(fresh)
        assert kept.prompts == fresh.prompts


def test_context_completion_and_hover_in_process():
    source = 'use core\nprompt a {\n    style    van_gogh, dali\n    quality  4k\n}\nprompt b extends a {\n}\n'
    analysis = Document("t.prompt").update(source)
    assert features.context(analysis, 2, 23) == (("value", "style"), "")
    assert features.context(analysis, 3, 4) == ("field", "")
    assert features.context(analysis, 5, 18) == ("prompt", "a")
    labels = {i["label"] for i in features.completion(analysis, 2, 23)}
    assert "dali" in labels and "4k" not in labels
    text = features.hover(analysis, 2, 16)
    assert "in the style of Vincent van Gogh" in text and "prompt `a`: positive" in text
    assert features.windows(83) == "83 tokens in 2 windows of 75 (75 + 8)"
    assert features.windows(20) == "20 tokens (1 window: 20/75)"


def test_semantic_tokens_of_a_statement_that_does_not_parse():
    source = 'use core\nprompt a {\n    style van_gogh, "unclosed\n    steps 3\n}\nprompt b {\n    steps 4\n}\n'
    analysis = Document("t.prompt").update(source)
    tokens = features.semantic_tokens(analysis)
    kinds = {(line, col): kind for line, col, _, kind in tokens}
    assert kinds[(2, 4)] == "property" and kinds[(2, 10)] == "variable"  # guessed in the broken statement
    assert kinds[(3, 10)] == "number"  # after the mistake too
    assert kinds[(5, 0)] == "keyword" and kinds[(6, 4)] == "property"  # the next statement parses


def test_a_file_over_the_size_limit_is_one_diagnostic():
    analysis = Document("t.prompt").update("#" * 1_000_001)
    assert [d.message.split(" (")[0] for d in analysis.diagnostics] == ["file is too large"]


def test_an_edit_to_a_parent_gives_the_children_the_same_as_afresh():
    source = 'use core\nprompt a {\n    subject "a cat"\n    quality 4k\n}\nprompt b extends a {\n' \
             '    style dali\n}\nprompt c extends b {\n    style picasso\n}\n'
    doc = Document("t.prompt")
    doc.update(source)
    for old, new in (("4k", "highly_detailed"), ('"a cat"', '"a dog"'), ("quality", "negative"),
                     ("highly_detailed", "4k, 4kk")):
        source = source.replace(old, new, 1)
        kept, fresh = doc.update(source), Document("t.prompt").update(source)
        assert server(kept) == server(fresh) == cli(source, "t.prompt")
        assert kept.prompts == fresh.prompts
