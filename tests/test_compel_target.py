"""The compel target checked against Compel's own parser (DESIGN §6, §8.8).

Compel's parser normalizes text (it puts spaces around commas and dots, reads "1.5"
as "1 . 5", drops outer spaces), and CLIP splits punctuation from words anyway, so
both sides are compared as *token sequences*: a list of (token, weight), tokens
``\\w+`` or one punctuation character, commas dropped (they separate; which side of
a weight boundary Compel puts one on does not matter), weights within 1e-6.

Compel's parser lives in ``compel/prompt_parser.py``, which needs only pyparsing;
``import compel`` also imports torch and transformers (~8 s). The parser module is
loaded on its own here, and ``test_standalone_parser_is_compels`` checks that it
answers exactly as ``compel.Compel.parse_prompt_string`` does.
"""
import importlib.util
import math
import re
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import promptlang
from promptlang.ir import Blend, Fragment, Prompt, Segment, longest
from promptlang.settings import Settings
from promptlang.targets import compel as target

from conftest import EXAMPLES


def _load_parser():
    spec = importlib.util.find_spec("compel")  # finds the package without importing it
    assert spec is not None, "compel is not installed (it is in the `test` extra)"
    path = Path(spec.submodule_search_locations[0]) / "prompt_parser.py"
    module_spec = importlib.util.spec_from_file_location("_compel_prompt_parser", path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_spec.name] = module
    module_spec.loader.exec_module(module)
    return module


_pp = _load_parser()
_PARSER = _pp.PromptParser()


def parse(text: str, *, packrat: bool = True):
    """Compel's parse, with pyparsing's packrat memoization on unless asked not to (this file runs
    in half the time; same results: ``test_packrat_changes_nothing``); switched off again after."""
    element = _pp.pp.ParserElement
    if not packrat or element._packratEnabled:
        return _PARSER.parse_conjunction(text)
    element.enable_packrat()
    try:
        return _PARSER.parse_conjunction(text)
    finally:
        element.disable_memoization()


def tokens(text: str) -> list[str]:
    return [t for t in re.findall(r"\w+|[^\w\s]", text) if t != ","]


def compel_side(text: str) -> list[tuple[str, float]]:
    """What Compel's parser makes of one side: (token, weight) pairs."""
    conjunction = parse(text)
    assert len(conjunction.prompts) == 1, f"{text!r} parsed to {conjunction}"
    out = []
    for frag in conjunction.prompts[0].children:
        assert type(frag) is _pp.Fragment, f"{text!r} parsed to {frag!r}, not plain fragments"
        out += [(t, frag.weight) for t in tokens(frag.text)]
    return out


def ir_side(fragments) -> list[tuple[str, float]]:
    """Adjacent fragments of equal weight read as one text (a "" join glues words); joins are
    only ever "", " " or ", ": no tokens once commas are dropped."""
    assert all(f.join in ("", " ", ", ") for f in fragments)
    merged = []
    for f in fragments:
        if merged and merged[-1][1] == f.weight:
            merged[-1][0] += f.join + f.text
        else:
            merged.append([f.text, f.weight])
    return [(t, weight) for text, weight in merged for t in tokens(text)]


def same(got, want, *, bare: bool = False) -> bool:
    """Equal token sequences; with ``bare``, `+ - =` may instead carry weight 1 (written outside a run)."""
    if [t for t, _ in got] != [t for t, _ in want]:
        return False
    return all(math.isclose(g, w, abs_tol=1e-6) or (bare and t in "+-=" and g == 1.0)
               for (t, g), (_, w) in zip(got, want))


def sides(prompt: Prompt, warnings: list) -> tuple[str, str | None]:
    text = target.emit(prompt, warnings)
    positive, separator, negative = text.partition("\nNegative prompt: ")
    assert bool(separator) == bool(prompt.segments[0].negative)
    return positive, (negative if separator else None)


def check(prompt: Prompt, *, bare: bool = False) -> list:
    warnings = []
    positive, negative = sides(prompt, warnings)
    (segment,) = prompt.segments
    got, want = compel_side(positive), ir_side(segment.positive)
    assert same(got, want, bare=bare), f"positive {positive!r}:\n  compel {got}\n  ir     {want}"
    if negative is not None:
        got, want = compel_side(negative), ir_side(segment.negative)
        assert same(got, want, bare=bare), f"negative {negative!r}:\n  compel {got}\n  ir     {want}"
    return warnings


def one(*fragments, negative=()) -> Prompt:
    return Prompt("t", (Segment(0.0, tuple(fragments), tuple(negative)),), Settings())


# -- Compel's own entry point -----------------------------------------------------------

def test_standalone_parser_is_compels():
    import compel  # slow: torch and transformers come with it
    for text in ['a, b, ("c d")1.3, (e)0.9', r'x \(y\), ("it\'s \"q\"")0.9 ++ ("1.5")2', "a+ b-- (c)1.1"]:
        theirs = compel.Compel.parse_prompt_string(text)
        ours = parse(text)
        assert [[(f.text, f.weight) for f in p.children] for p in theirs.prompts] == \
               [[(f.text, f.weight) for f in p.children] for p in ours.prompts]


# -- every example ----------------------------------------------------------------------

@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_examples_parse_in_compel_to_the_ir(path):
    compiled = promptlang.compile_file(path)
    assert compiled.prompts
    for prompt in compiled.prompts:
        if any(s.every > 1 for s in prompt.segments):  # alternation: no Compel syntax, the first turn, warned
            assert any("every step" in w.message for w in _warnings(prompt)), prompt.name
            prompt = replace(prompt, segments=tuple(replace(s, every=1, phase=0) for s in prompt.segments
                                                    if s.phase == 0))
        if len(prompt.segments) > 1:  # no Compel syntax: the longest segment is written, with a warning
            assert any("during sampling" in w.message for w in _warnings(prompt)), prompt.name
            stage = replace(prompt, segments=(replace(longest(prompt), start=0.0),))
            assert target.emit(stage) == target.emit(prompt)
            prompt = stage
        if isinstance(prompt.segments[0].positive, Blend):
            check_blend(prompt)
        else:
            assert check(prompt) == [], prompt.name


def _warnings(prompt) -> list:
    warnings = []
    target.emit(prompt, warnings)
    return warnings


def check_blend(prompt: Prompt) -> None:
    """A blend parses in Compel to a Blend of the IR's parts, with the IR's weights."""
    warnings = []
    positive, _ = sides(prompt, warnings)
    assert warnings == []
    (blend,) = parse(positive).prompts
    assert type(blend) is _pp.Blend, f"{positive!r} parsed to {blend!r}"
    parts = prompt.segments[0].positive.parts
    assert blend.weights == pytest.approx([part.weight for part in parts])
    for flat, part in zip(blend.prompts, parts, strict=True):
        got = [(t, frag.weight) for frag in flat.children for t in tokens(frag.text)]
        assert same(got, ir_side(part.fragments)), f"{positive!r}: {got} != {ir_side(part.fragments)}"


# -- tricky literals --------------------------------------------------------------------

TRICKY = [
    "a (red) car: [fast]",
    'it\'s "quoted"',
    "C++ code",
    "well-known",
    "x-",
    "1.5 ratio 16:9",
    ".and()",
    "(a, b).and(1, 2)",
    "cat.swap(dog)",
    '"a cat".blend(0.5)',
    "useLora(x, 0.5)",
    "a (b",
    "x)",
    '"',
    "a--b",
    "a-=b",
    "a+, b",
    "a=b",
    "+",
    "-5 to +5",
    "a.b.c",
    "a, b,c",
    "end.",
    "é中文 ü",
    "a \\ b",
    "back\\",
    r"C:\new \x41 \u0041 \101 \0",
]


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_literal_at_weight_1(text):
    assert check(one(Fragment(text, 1.0, ""), negative=[Fragment(text, 1.0, "")])) == []


# inside a weighted run Compel reads `=`, and a `+`/`-` that no word follows, as syntax
# Compel re-spaces `.`/`,` next to other punctuation in a weighted run (other CLIP tokens):
# warned, see test_targets_exact.py
RESPACED = re.compile(r"(?:[^\w\s]|_)*[.,](?:[^\w\s]|_)*")
EXPRESSIBLE_WEIGHTED = [t for t in TRICKY if not re.search(r"=|[+-](?=[\s,.+=-]|$)", t)
                        and not any(len(m) > 1 for m in RESPACED.findall(t))]


@pytest.mark.parametrize("text", EXPRESSIBLE_WEIGHTED)
@pytest.mark.parametrize("weight", [1.3, 0.5, 1.1 ** 2])
def test_tricky_literal_weighted(text, weight):
    prompt = one(Fragment("a photo", 1.0, ""), Fragment(text, weight, ", "), Fragment("4k", 1.0, ", "),
                 negative=[Fragment(text, weight, "")])
    assert check(prompt) == []


@pytest.mark.parametrize("fragments", [
    # a template can put a weighted subject right against its text: Compel still sees two runs
    [Fragment("pre", 1.0, ""), Fragment("blue fire", 1.21, ""), Fragment("post", 1.0, "")],
    [Fragment("x", 1.3, ""), Fragment("5 cats", 1.0, "")],
    [Fragment("x", 1.3, ""), Fragment(".5 cats", 0.9, "")],
    [Fragment("a", 1.0, ""), Fragment("b", 1.1, " "), Fragment("c", 1.1, " "), Fragment("d", 1.0, ", ")],
    [Fragment("word", 1.0, ""), Fragment("+", 1.0, "")],
], ids=["template-join", "digit-after-weight", "dot-after-weight", "merged-run", "sign-after-word"])
def test_fragment_boundaries(fragments):
    assert check(one(*fragments)) == []


def test_packrat_changes_nothing():
    for text in TRICKY:
        for weight in (1.0, 1.3):
            for written in sides(one(Fragment("a", 1.0, ""), Fragment(text, weight, ", ")), []):
                if written is not None:
                    assert repr(parse(written)) == repr(parse(written, packrat=False)), written


# -- what Compel's syntax cannot say: a warning, and the closest text -------------------

@pytest.mark.parametrize("text, weight, warned", [
    ("x", -0.5, "no negative weights"),
    ("a + b", 1.3, "cannot weight `+`"),
    ("x-", 1.3, "cannot weight `-`"),
    ("C++ code", 1.3, "cannot weight `++`"),
    ("a=b", 0.9, "cannot weight `=`"),
    ("a -- b = c", 1.2, "cannot weight `--`, `=`"),
    ("+", 1.5, "cannot weight `+`"),
    ("a\\(b", 1.0, "backslash"),
    ("a\\(b", 1.3, "backslash"),
    ('say \\"hi\\"', 1.0, "backslash"),
    ("x\\)", 0.8, "backslash"),
])
def test_inexpressible_warns(text, weight, warned):
    warnings = []
    prompt = one(Fragment("start", 1.0, ""), Fragment(text, weight, ", "))
    positive, _ = sides(prompt, warnings)
    assert warnings and all(warned in str(w) for w in warnings), warnings  # one for each place
    assert "prompt `t`" in str(warnings[0])
    want = ir_side(prompt.segments[0].positive)
    if weight < 0:
        want = [(t, 0.0 if w < 0 else w) for t, w in want]
    assert same(compel_side(positive), want, bare=True)


# -- generated IR -----------------------------------------------------------------------

ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZéü中文0123456789    ()[]:\"'.,!?&/"
WEIGHTS = st.one_of(st.sampled_from([1.0, 1.0, 1.1, 1.21, 0.9, 0.81, 1.3, 0.5, 2.0]),
                    st.floats(0.1, 3.0, allow_nan=False))
JOINS = st.sampled_from([", ", ", ", " ", ""])


def fragments(alphabet, min_size=1):
    one_fragment = st.builds(Fragment, st.text(alphabet, min_size=1, max_size=24), WEIGHTS, JOINS)
    return st.lists(one_fragment, min_size=min_size, max_size=5)


@settings(max_examples=200, deadline=None)
@given(fragments(ALPHABET), fragments(ALPHABET, min_size=0))
@example([Fragment('a "cat" (1.5)', 1.3, "")], [Fragment("x: [y]", 0.9, "")])
def test_generated_prompts_parse_in_compel_to_the_ir(positive, negative):
    assert [w for w in check(one(*positive, negative=negative))
            if "re-spaces" not in w.message and "space after every" not in w.message] == []


@settings(max_examples=100, deadline=None)
@given(fragments(ALPHABET + "+-=\\"), fragments(ALPHABET + "+-=\\", min_size=0))
def test_generated_prompts_with_signs_are_exact_or_warned(positive, negative):
    """With `+ - = \\` too: exact, or a warning and only `+ - =` off their weight."""
    prompt = one(*positive, negative=negative)
    warnings = check(prompt, bare=True)
    if not warnings:
        check(prompt)
