"""`decompile --from dynamicprompts`: the .prompt written for a template expands, combinatorially,
to the prompts dynamicprompts' own CombinatorialPromptGenerator gives (same words, same order,
same `$$` rules), checked against the dynamicprompts package itself."""
import re
from pathlib import Path

import pytest

from promptlang.expansion import Variation
from promptlang.cli import main
from promptlang.compiler import compile_file
from promptlang.errors import PromptError
from promptlang.interop.dynamicprompts import decompile
from promptlang.targets import emit

dynamicprompts = pytest.importorskip("dynamicprompts")  # a test dependency (the `test` extra)
from dynamicprompts.generators import CombinatorialPromptGenerator  # noqa: E402
from dynamicprompts.wildcards import WildcardManager  # noqa: E402

# from dynamicprompts' documentation (README, docs/SYNTAX.md) and our own
CASES = [
    "A {house|apartment|lodge|cottage} in {summer|winter|autumn|spring} by {2$$artist1|artist2|artist3}",
    "{red|green|blue} {cat|dog}",
    "a {2$$cat|dog|bird}",
    "a {2$$ and $$cat|dog|bird}",
    "{1-3$$ , $$red|green|blue|yellow}",
    "{2-$$a|b|c}",
    "{-2$$a|b}",
    "{1-2$$a|b}",
    "{0.5::summer|0.1::autumn|0.3::winter|0.1::spring}",
    "A {house|apartment} in {the woods|a city|the desert}",
    "a photo of a {{old|young} man|{tall|small} woman}",
    "a {2$$ {red|blue} | green } car",
    "{big|small}er {dog|cat}s",
    "x{a|b}{c|d}y z",
    "a {cat|cat|dog}",
    "a, {b|c}, d",
    "portrait of a __animals__, {sunny|rainy} day",
    "__colors/*__ sky",
    "{2$$__animals__}",
    "{2$$ or $$__colors/warm__}",
    "a __animals__ # a comment dynamicprompts leaves out",
    "an {oil painting|photo} of __nested/fruit__",
    "a {|big |small }{cat|dog}",
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("project")
    (root / "wildcards" / "colors").mkdir(parents=True)
    (root / "wildcards" / "colors" / "warm.txt").write_text("red\norange # the sun\n# a comment\n\nyellow\n")
    (root / "wildcards" / "colors" / "cool.txt").write_text("blue\ngreen\nred\n")
    (root / "wildcards" / "animals.txt").write_text("dog\ncat\n{big|small} horse\n")
    (root / "wildcards" / "nested.yaml").write_text("nested:\n  fruit:\n    - apple\n    - '{ripe|green} pear'\n")
    return root


def _norm(text: str) -> str:
    """promptlang writes whitespace its own way: one space between words, none at the ends or
    before a comma."""
    return re.sub(r" ,", ",", " ".join(text.split()))


@pytest.mark.parametrize("template", CASES)
def test_decompiled_expands_like_dynamicprompts(template, folder, monkeypatch):
    monkeypatch.chdir(folder)
    want = [str(p) for p in CombinatorialPromptGenerator(WildcardManager(folder / "wildcards"))
            .generate(template, max_prompts=100_000)]
    source = decompile(template, wildcards=Path("wildcards"), name="t")
    (folder / "t.prompt").write_text(source)
    got = [emit("plain", p) for p in compile_file(folder / "t.prompt", lint=False,
                                                  variation=Variation(max=100_000)).prompts]
    assert [_norm(w) for w in want] == [_norm(g) for g in got], source
    assert len(got) == len(want) > 0


def test_decompiled_source_reads_as_written(folder):
    source = decompile("a {2$$ and $$cat|dog|bird}, __animals__", wildcards=Path("wildcards"), name="zoo")
    assert source == ('use wildcards "wildcards"\n'
                      'prompt zoo {\n'
                      '    subject "a" {2$$ " and " $$ "cat" | "dog" | "bird"}, __animals__\n'
                      '}\n')


def test_expand_command_streams_the_same(folder, monkeypatch, capsys):
    monkeypatch.chdir(folder)
    template = "{red|green|blue} {1-2$$ and $$cat|dog}, {best|good} quality"
    (folder / "cli.prompt").write_text(decompile(template, name="cli"))
    assert main(["expand", "cli.prompt"]) == 0
    lines = capsys.readouterr().out.splitlines()
    want = CombinatorialPromptGenerator().generate(template, max_prompts=1000)
    assert lines == [_norm(w) for w in want] and len(lines) == 3 * 4 * 2


@pytest.mark.parametrize("template, message", [
    ("a ${animal=cat} ${animal}", "variables"),
    ("%{a $$ b}", "wrap"),
    ("{~a|b}", "sampler"),
    ("x{2$$a|b}", "glued to a `$$` pick"),
    ("x__animals__", "glued to other text"),
    ("{a|b", "not closed"),
    ("   ", "no words"),
])
def test_what_cannot_be_carried_is_an_error(template, message):
    with pytest.raises(PromptError, match=re.escape(message)):
        decompile(template)


def test_decompile_command_from_dynamicprompts(folder, monkeypatch, capsys):
    """`promptlang decompile --from dynamicprompts` writes the function's file; expanding it
    gives dynamicprompts' own prompts; --wildcards is for this source only (usage error)."""
    monkeypatch.chdir(folder)
    template = "a {big|small} __animals__ in {2$$ and $$red|blue|green}"
    assert main(["decompile", "--from", "dynamicprompts", template, "--wildcards", "wildcards",
                 "--name", "zoo", "-o", "zoo.prompt"]) == 0
    assert (folder / "zoo.prompt").read_text() == decompile(template, wildcards=Path("wildcards"), name="zoo")
    capsys.readouterr()
    assert main(["expand", "zoo.prompt", "--max", "5000"]) == 0
    got = capsys.readouterr().out.splitlines()
    want = CombinatorialPromptGenerator(WildcardManager(folder / "wildcards")).generate(template, max_prompts=5000)
    assert got == [_norm(str(w)) for w in want] and got
    assert main(["decompile", "--from", "a1111", "x", "--wildcards", "wildcards"]) == 2
    assert "--wildcards DIR goes with --from dynamicprompts" in capsys.readouterr().err
    assert main(["decompile", "--from", "dynamicprompts", "x", "--wildcards", str(folder / "wildcards")]) == 2
