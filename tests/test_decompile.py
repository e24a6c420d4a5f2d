"""Decompile: other tools' prompt text back into .prompt files (issue 11, parts 2).

Round trip: a prompt compiled to a target (with no warning from the target) and
decompiled from that target compiles to the same IR: the same segments, words and
weights. Constructs the language gains in other branches (`at step N`, `[a | b]`,
`lora`) are checked as text here.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from promptlang.compiler import compile_source
from promptlang.errors import PromptError
from promptlang.interop.decompile import decompile, read
from promptlang.ir import Blend, merged
from promptlang.targets import NAMES, emit

CORPUS = Path(__file__).parent / "fixtures" / "corpus"
LATER = re.compile(r"at step \d+|\[\"|^\s*lora ", re.M)  # syntax of other branches (checked as text)


def words(text: str, tokens: bool) -> tuple:
    text = re.sub(r"\s+", " ", text).strip()
    return tuple(re.findall(r"\w+|[^\w\s]", text.lower())) if tokens else (text,)


def side(fragments, tokens=False) -> tuple:
    out = []
    for i, f in enumerate(merged(fragments)):
        comma = i > 0 and "," in f.join
        out.append((round(f.weight, 4), comma, words(f.text, tokens)))
    return tuple(out)


def canon(prompt, tokens=False, settings=()) -> tuple:
    segments = []
    for s in prompt.segments:
        if isinstance(s.positive, Blend):
            pos = tuple((round(p.weight, 4), side(p.fragments, tokens)) for p in s.positive.parts)
        else:
            pos = side(s.positive, tokens)
        segments.append((round(s.start, 6), pos, side(s.negative, tokens)))
    return tuple(segments), tuple(getattr(prompt.settings, n) for n in settings)


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]


def one(source: str):
    (prompt,) = compile_source(source, lint=False).prompts
    return prompt


# --------------------------------------------------------------------------- readers, by table

A1111 = [
    ("a (cat:1.2)", 'subject  "a" "cat":1.2'),
    ("((x))", 'subject  "x"++'),
    ("(((x)))", 'subject  "x"+++'),
    ("[x]", 'subject  "x":0.909091'),
    ("((x:1.5))", 'subject  "x":1.65'),
    ("a [cat:dog:0.4] b", 'subject  "a" "cat" -> "dog" at 0.4 "b"'),
    ("a [hat:0.3]", 'subject  "a" "" -> "hat" at 0.3'),
    ("a [hat::0.3]", 'subject  "a" "hat" -> "" at 0.3'),
    ("[cat:dog:12]", 'subject  "cat" -> "dog" at step 12'),
    ("[cat|dog]", 'subject  ["cat" | "dog"]'),
    (r"\(x\) \[y\] a\\b", r'subject  "(x) [y] a\\b"'),
    ("x, y\nNegative prompt: (ugly:1.3), blurry", 'negative "ugly":1.3, "blurry"'),
    ("x <lora:detail_tweaker:0.8>", "lora     detail_tweaker:0.8"),
    ("x <lora:more-details:0.5>", "lora     more_details:0.5"),
    ("a dog AND a cat :2", 'subject  blend "a dog":1, "a cat":2'),
    ("a BREAK b", 'subject  "a", "b"'),
    ("(unclosed", 'subject  "unclosed"+'),
    ("stray) and ]", 'subject  "stray) and ]"'),
    ("(a [b:c:0.5]:1.2)", 'subject  "a":1.2 "b":1.2 -> "c":1.2 at 0.5'),
    # a `|` outside `[a|b]`: the webui reads no edit at all in the prompt, only de-emphasis
    ("a | b [cat:dog:0.5]", 'subject  "a | b" "cat:dog:0.5":0.909091'),
    (r"a \| b [cat:dog:0.5]", 'subject  "a | b" "cat" -> "dog" at 0.5'),
]


@pytest.mark.parametrize("text, line", A1111)
def test_a1111_reads(text, line):
    out = decompile(text, "a1111")
    assert line in lines(out), out


@pytest.mark.parametrize("text, line", [
    ("a cat++ on a (red mat)1.3", 'subject  "a" "cat"++ "on a" "red mat":1.3'),
    ('a "blue fire"1.4', 'subject  "a" "blue fire":1.4'),
    ("(x)--", 'subject  "x"--'),
    ("((a)1.2 b)1.1", 'subject  "a":1.32 "b"+'),
    ('("a dog", "a bowl of fruit").blend(0.6, 0.4)', 'subject  blend "a dog":0.6, "a bowl of fruit":0.4'),
    ("(a cat, a dog).and()", 'subject  "a cat", "a dog"'),
    (r"a \(small\) house", 'subject  "a (small) house"'),
    ("well-known place", 'subject  "well-known place"'),
])
def test_compel_reads(text, line):
    assert line in lines(decompile(text, "compel"))


@pytest.mark.parametrize("text, wanted", [
    ("a cat::2 a dog::1 --ar 16:9 --seed 42", ['subject  "a cat":2, "a dog"', "aspect   16:9", "seed     42"]),
    ("hot dog::1.5 food::-0.5", ['subject  "hot dog":1.5, "food":-0.5']),
    ("a cat --no blurry, text", ['subject  "a cat"', 'negative "blurry", "text"']),
    ("a cat --stylize 250 --v 6", ["# note: `--stylize 250` (stylize) has no promptlang setting; left out"]),
    ("https://example.com/a.png a cat", ['subject  "a cat"']),
])
def test_midjourney_reads(text, wanted):
    out = lines(decompile(text, "midjourney"))
    for line in wanted:
        assert line in out


@pytest.mark.parametrize("text, line", [
    ("(a [cat]:1.2)", 'subject  "a [cat]":1.2'),
    (r"\(x\) \[y\]", r'subject  "(x) \\[y\\]"'),
    ("a cat AND a dog BREAK x", 'subject  "a cat AND a dog BREAK x"'),
    ("[a:b:0.5]", 'subject  "[a:b:0.5]"'),
])
def test_comfyui_reads(text, line):
    assert line in lines(decompile(text, "comfyui"))


def test_notes_say_what_is_lost():
    out = decompile("a BREAK b AND c", "a1111")
    assert "# note: `BREAK`" in out and "# note: `AND`" in out
    assert "note: AUTOMATIC1111 reads the trailing `:16`" not in decompile("aspect 16", "a1111")
    assert "reads the trailing `:9`" in decompile("aspect 16:9", "a1111")


def test_empty_prompt_is_an_error():
    with pytest.raises(PromptError, match="no words"):
        decompile("  , ,", "a1111")
    with pytest.raises(PromptError, match="unknown source"):
        read("x", "dalle")


# --------------------------------------------------------------------------- catalogs

def test_catalog_entries_become_names():
    from promptlang.resolve import load_scope
    from promptlang.syntax import parse

    scope = load_scope(parse("use core\n", "x"), ()).catalogs
    out = decompile("a cat, in the style of Vincent van Gogh, 4k", "a1111", catalogs=scope)
    assert "use core" in out and "    style    van_gogh" in out and "    quality  4k" in out
    out = decompile("an oil painting of a (cat:1.2), impasto, swirling dynamic brushstrokes, oil paint on canvas",
                    "a1111", catalogs=scope)
    assert '    subject  "a" "cat":1.2' in out and "    format   oil_painting" in out
    # the names compile back to the same words and weights (the entry's negatives are added: noted)
    assert "also adds the negative `photo, photograph, 3d render`" in out
    src = "\n".join(line for line in out.splitlines())
    again = emit("a1111", one(src))
    assert again.startswith("an oil painting of a (cat:1.2), impasto, swirling dynamic brushstrokes")
    # a weight on a matched item goes on the name
    out = decompile("a cat, (in the style of Vincent van Gogh:1.3)", "a1111", catalogs=scope)
    assert "style    van_gogh:1.3" in out
    # out of order: a style before the subject's own words stays as words
    out = decompile("in the style of Vincent van Gogh, a cat", "a1111", catalogs=scope)
    assert "van_gogh" not in out


# --------------------------------------------------------------------------- round trip, generated

WORD = st.text(alphabet="abcdefgh ()[]\\:.'xyz", min_size=1, max_size=12).filter(lambda s: s.strip(" .:'"))
WEIGHTS = st.sampled_from([1.0, 1.0, 1.0, 1.1, 1.21, 0.9, 1.3, 0.5, 1.5, 2.0])


def q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def wt(w: float) -> str:
    return "" if w == 1.0 else f":{w}"


@st.composite
def sources(draw, edit=True, blend=False, mj=False):
    lines = ["prompt p {"]
    if blend and draw(st.booleans()):
        a, b = draw(WORD.filter(str.isalpha)), draw(WORD.filter(str.isalpha))
        lines.append(f"    subject blend {q(a)}:{draw(st.sampled_from([0.6, 1, 2]))}, {q(b)}:0.4")
    else:
        phrases = []
        for _ in range(draw(st.integers(1, 3))):
            pieces = [q(draw(WORD)) + wt(draw(WEIGHTS)) for _ in range(draw(st.integers(1, 3)))]
            phrases.append(" ".join(pieces))
        if edit and draw(st.booleans()):
            # no `:` in edited words: this branch's a1111 target misses `\\:` (an escaped backslash, then a
            # `:` that ends the edit) in its warning; exact escapes inside edits come with part 1
            side = WORD.filter(lambda s: ":" not in s)
            phrases[-1] += f" {q(draw(side))} -> {q(draw(side))} at {draw(st.sampled_from([0.2, 0.4, 0.75]))}"
        lines.append("    subject " + ", ".join(phrases))
    negs = [q(draw(WORD)) + wt(draw(WEIGHTS)) for _ in range(draw(st.integers(0, 3)))]
    if negs:
        lines.append("    negative " + ", ".join(negs))
    if mj:
        lines.append(f"    aspect {draw(st.sampled_from(['16:9', '2:3', '4:3']))}")
        lines.append(f"    seed {draw(st.integers(0, 2**32 - 1))}")
    return "\n".join(lines) + "\n}\n"


def round_trip(source: str, target: str, from_: str, tokens=False, settings=()):
    try:
        first = one(source)
    except PromptError:
        assume(False)
    warnings = []
    text = emit(target, first, warnings)
    assume(not warnings)
    back = decompile(text, from_)
    second = one(back)
    assert canon(second, tokens, settings) == canon(first, tokens, settings), (text, back)


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much,
                                                                          HealthCheck.too_slow])


@FAST
@given(sources())
def test_round_trip_a1111(source):
    round_trip(source, "a1111", "a1111")


@FAST
@given(sources(edit=False))
def test_round_trip_a1111_as_comfyui_when_no_brackets(source):
    assume("[" not in source and "]" not in source and "\\\\" not in source)
    round_trip(source, "a1111", "comfyui")


@FAST
@given(sources(edit=False, blend=True))
def test_round_trip_compel(source):
    round_trip(source, "compel", "compel", tokens=True)


@FAST
@given(sources(edit=False, mj=True))
def test_round_trip_midjourney(source):
    round_trip(source, "midjourney", "midjourney", tokens=True, settings=("aspect", "seed"))


# --------------------------------------------------------------------------- the corpus

def corpus():
    out = []
    for path in sorted(CORPUS.glob("*.txt")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip() or line.startswith("#"):
                continue
            if line.startswith("Negative prompt:"):
                out[-1] = (out[-1][0], out[-1][1], out[-1][2] + "\n" + line)
                continue
            out.append((path.stem, number, line))
    return out


CASES = corpus()
TARGET = {"a1111": "a1111", "comfyui": "comfyui" if "comfyui" in NAMES else "a1111", "compel": "compel", "midjourney": "midjourney"}


def test_corpus_is_large_and_varied():
    assert len(CASES) >= 100
    text = "\n".join(t for _, _, t in CASES)
    for construct in ("((", "[", ":0.", "<lora:", "\\(", "AND", "BREAK", "|", "::", "--no", ".blend(", "++"):
        assert construct in text, construct


@pytest.mark.parametrize("tool, number, text", CASES, ids=[f"{t}:{n}" for t, n, _ in CASES])
def test_corpus_round_trips(tool, number, text):
    """Decompiled, compiled, written for the tool again and decompiled again: the same IR.
    Prompts using syntax of other branches are checked as text (the construct is there)."""
    src = decompile(text, tool)
    later = LATER.search(src)
    if later:
        assert ("<lora:" in text) == ("lora " in src)
        assert ("at step" in src) == bool(re.search(r":\d+\]", text))
        return
    first = one(src)
    warnings = []
    again = emit(TARGET[tool], first, warnings)
    if tool == "comfyui" and TARGET[tool] == "a1111" and re.search(r"[\\\[\]]", again):
        return  # the a1111 target's `\\ \\[ \\]` are not escapes to ComfyUI: its own target comes with part 1
    second = one(decompile(again, tool))
    tokens = tool in ("compel", "midjourney")
    if not warnings:
        assert canon(second, tokens) == canon(first, tokens), (again, src)
    else:  # the target said what it could not write: at least the first stage's words survive
        assert side(second.segments[0].negative, True) == side(first.segments[0].negative, True) or tool == "midjourney"


def test_corpus_mostly_compiles_here():
    """Most of the corpus compiles in this branch; the rest waits for `at step`, `[a | b]`, `lora`."""
    later = sum(1 for tool, _, text in CASES if LATER.search(decompile(text, tool)))
    assert len(CASES) - later >= 95


def test_catalog_matching_keeps_the_corpus_words():
    """Names found in `core` give back the same positive words and weights, prompt by prompt."""
    from promptlang.resolve import load_scope
    from promptlang.syntax import parse

    core = load_scope(parse("use core\n", "x"), ()).catalogs
    matched = 0
    for tool, _, text in CASES:
        plain, named = decompile(text, tool), decompile(text, tool, catalogs=core)
        if LATER.search(plain):
            continue
        matched += plain != named
        a, b = one(plain), one(named)
        assert [(s.start, side(s.positive, True)) for s in a.segments if not isinstance(s.positive, Blend)] == \
            [(s.start, side(s.positive, True)) for s in b.segments if not isinstance(s.positive, Blend)], named
    assert matched >= 10


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["a1111", "comfyui", "compel", "midjourney"]),
       st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=60)
       | st.text(alphabet='ab ()[]:|\\"+-.,<>AND BREAK 0123456789lora::--no--ar', max_size=60))
def test_fuzz_any_text_decompiles_to_a_file_that_compiles(tool, text):
    """Whatever is pasted: a PromptError, or a .prompt file that compiles (lines of syntax
    from other branches aside)."""
    try:
        src = decompile(text, tool)
    except PromptError:
        return
    if LATER.search(src):
        src = "\n".join(line for line in src.splitlines() if not LATER.search(line)) + "\n"
        if "subject" not in src:
            return
    try:
        compile_source(src, lint=False)
    except PromptError as exc:
        # the one honest failure: words the language refuses (none known); show the file
        raise AssertionError(f"{text!r} -> {src}\n{exc}") from None
