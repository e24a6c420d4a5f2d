"""The TextMate grammar (grammars/promptlang.tmLanguage.json) run by a real TextMate engine:
vscode-textmate with the Oniguruma regex library, as VS Code runs it, and
vscode-tmgrammar-test on the assertion files in tests/textmate/. `.ci/setup` installs
those npm packages into .ci/npm; without npm (or node) these tests skip."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from promptlang import cst

ROOT = Path(__file__).resolve().parent.parent
GRAMMAR = ROOT / "grammars" / "promptlang.tmLanguage.json"
MODULES = ROOT / ".ci" / "npm" / "node_modules"
EXAMPLES = sorted((ROOT / "examples").glob("*.prompt"))

pytestmark = pytest.mark.skipif(shutil.which("node") is None or shutil.which("npm") is None,
                                reason="node/npm are not installed: the TextMate grammar needs a JavaScript engine")


@pytest.fixture(scope="module")
def modules():
    if not (MODULES / "vscode-textmate").is_dir() or not (MODULES / "vscode-tmgrammar-test").is_dir():
        pytest.fail(f"the npm tools are missing from {MODULES}: run `bash .ci/setup` (it installs "
                    "vscode-textmate, vscode-oniguruma and vscode-tmgrammar-test there)")
    return MODULES


def tokenize(modules, files) -> dict:
    out = subprocess.run(["node", str(ROOT / "tests" / "textmate" / "tokenize.js"), str(GRAMMAR), *map(str, files)],
                         capture_output=True, text=True, timeout=120, env={**os.environ, "NODE_PATH": str(modules)})
    assert out.returncode == 0, out.stderr
    return {item["file"]: item["lines"] for item in json.loads(out.stdout)}


def test_assertion_files(modules):
    out = subprocess.run([str(modules / ".bin" / "vscode-tmgrammar-test"), "-g", str(GRAMMAR),
                          str(ROOT / "tests" / "textmate" / "*.test.prompt")],
                         capture_output=True, text=True, timeout=120, cwd=ROOT / "grammars" / "vscode")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "run successfuly" in out.stdout


# what each kind of token of the Lark lexer must be coloured as (the innermost scope's start)
EXPECTED = {"COMMENT": "comment.line", "STRING": "string.quoted.double", "NUMBER": "constant.numeric",
            "SIGNED_NUMBER": "constant.numeric.weight", "SIZE": "constant.numeric.size",
            "RATIO": "constant.numeric.ratio", "VERSION": "constant.numeric.version",
            "USE": "keyword.control.import", "PROMPT": "storage.type.prompt", "DEFAULTS": "storage.type.defaults",
            "EXTENDS": "storage.modifier.extends", "BLEND": "keyword.other.blend", "AT": "keyword.other.at",
            "ARROW": "keyword.operator.edit", "PLUSES": "keyword.operator.weight",
            "MINUSES": "keyword.operator.weight", "APPEND": "keyword.operator.append",
            "COMPARE": "keyword.operator.comparison", "LBRACE": "punctuation.section.block.begin",
            "RBRACE": "punctuation.section.block.end", "COMMA": "punctuation.separator.comma",
            "COLON": "punctuation.separator.weight", "DOT": "punctuation.accessor",
            # choices, wildcards, alternation and `at step`
            "STEP": "keyword.other.step", "VBAR": "punctuation.separator.choice", "WILDCARD": "variable.other.wildcard",
            "CHOICE_COUNT": "constant.numeric.count", "CHOICE_WEIGHT": "constant.numeric.weight",
            "LSQB": "punctuation.section.brackets", "RSQB": "punctuation.section.brackets"}
BY_RULE = {("choice", "LBRACE"): "punctuation.section.braces.begin", ("choice", "RBRACE"): "punctuation.section.braces.end",
           ("choice", "$$"): "keyword.operator.pick"}


def expected(tok, parent) -> str:
    if (parent.rule, tok.kind) in BY_RULE or (parent.rule, tok.text) in BY_RULE:
        return BY_RULE.get((parent.rule, tok.kind)) or BY_RULE[(parent.rule, tok.text)]
    if tok.kind != "NAME":
        return EXPECTED[tok.kind]
    if parent.rule == "use_folder":
        return "keyword.other.wildcards"
    if parent.rule == "field" and parent.children[0] is tok:
        return "variable.other.property"
    if parent.rule == "prompt":
        names = [c for c in parent.children if isinstance(c, cst.Tok) and c.kind == "NAME"]
        return "entity.name.type.prompt" if tok is names[0] else "entity.other.inherited-class"
    if parent.rule == "requirement":
        return "entity.name.namespace.catalog"
    if parent.rule == "ref":
        names = [c for c in parent.children if isinstance(c, cst.Tok) and c.kind == "NAME"]
        return "entity.name.namespace.catalog" if len(names) == 2 and tok is names[0] else "variable.other.entry"
    raise AssertionError(f"a NAME under `{parent.rule}`")


def pairs(node, out):
    for child in node.children:
        if isinstance(child, cst.Node):
            pairs(child, out)
        elif child.kind not in (cst.SPACE, cst.NEWLINE):
            out.append((child, node))
    return out


def test_every_example_is_coloured_as_the_parser_reads_it(modules):
    scopes = tokenize(modules, EXAMPLES)
    checked = 0
    for path in EXAMPLES:
        source = path.read_text(encoding="utf-8")
        lines = source.split("\n")
        for tok, parent in pairs(cst.parse(source).root, []):
            line = lines[tok.line - 1]
            column = len(line[:tok.column - 1].encode("utf-16-le")) // 2  # JavaScript counts UTF-16 units
            found = next(s for start, end, s in scopes[str(path)][tok.line - 1] if start <= column < end)
            assert any(scope.startswith(expected(tok, parent)) for scope in found), \
                f"{path.name}:{tok.line}:{tok.column}: {tok.kind} {tok.text!r} is {found}, expected {expected(tok, parent)}"
            checked += 1
    assert checked > 500
