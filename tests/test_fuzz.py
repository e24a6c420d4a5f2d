"""Fuzzing: whatever text it is given, the compiler answers with prompts or a PromptError.

No other exception, no traceback in the message, and every message starts with the
file's name (and ``LINE:COL`` that lie inside the text, where the error has a span).
What compiles must also go through every text target. (DESIGN §8.5)

The tests run in a scratch folder holding copies of the examples' catalogs, so that
``use "./team.yaml"`` in a mutated example still resolves and nothing else is there.
"""
import os
import re
import shutil

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import promptlang
from promptlang.targets import NAMES, emit

from conftest import EXAMPLES, ROOT

FILE = "fuzz.prompt"
SPAN = re.compile(r"fuzz\.prompt:(\d+):(\d+): (error|warning): ")
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module", autouse=True)
def scratch_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    for path in (ROOT / "examples").glob("*.yaml"):
        shutil.copy(path, folder)
    shutil.copytree(ROOT / "examples" / "wildcards", folder / "wildcards")  # `use wildcards "./wildcards"`
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield folder
    finally:
        os.chdir(before)


def _check_span_text(message: str, source: str, kind: str = "error") -> None:
    found = SPAN.match(message)
    assert found, f"no `fuzz.prompt:LINE:COL: {kind}:` at the start of: {message!r}"
    line, column = int(found.group(1)), int(found.group(2))
    assert 1 <= line <= source.count("\n") + 1 and column >= 1, message


def compile_or_refuse(source: str):
    """Compile; a PromptError is a fine answer if its message is. Emits what compiled."""
    try:
        result = promptlang.compile_source(source, FILE)
    except promptlang.PromptError as err:
        message = str(err)
        assert "Traceback" not in message, message
        assert message.startswith(f"{FILE}:"), message
        if err.span is not None and err.span.file == FILE:
            _check_span_text(message, source)
        return None
    for warning in result.warnings:
        str(warning)
    for prompt in result.prompts:
        for target in NAMES:
            warnings = []
            assert isinstance(emit(target, prompt, warnings), str)
            for warning in warnings:
                str(warning)
    return result


# -- any text ---------------------------------------------------------------------------

@FAST
@given(st.text(max_size=300))
@example("")
@example("\ufeffuse core")
@example('prompt a { subject "x":1e999 }')
@example("prompt a { size 99999999999999999999x1 }")
@example('prompt a { subject "\\')
def test_any_text(source):
    compile_or_refuse(source)


# -- text made of the language's own words ----------------------------------------------

STRINGS = ['"a cat"', '"x"', '" , "', '"{{ subject }}"', '"{{ subject | upper }}"', '"a \\"q\\" \\\\"',
           '"日本 の 猫"', '"(red) [car]: 1.5"', '"C++ x- a=b"']
# for each field: values that fit, then values that do not (drawn one time in twenty)
VALUES = {
    "subject": (STRINGS, ['""', '"{{ 7 * 7 }}"', '"{% for x in y %}"', '"{{ x.__class__ }}"', "van_gogh", "3"]),
    "format": (STRINGS + ["stock_photo", "oil_painting", "core.polaroid", "studio.sticker", "brand_photo"],
               ["nope", "blurry", "x.y", "4k"]),
    "style": (STRINGS + ["van_gogh", "core.van_gogh", "studio.house", "house", "minimalism"], ["blurry", "1"]),
    "quality": (STRINGS + ["4k", "hdr", "crisp", "core.8k"], ["x.y", "16:9"]),
    "negative": (STRINGS + ["blurry", "low_quality", "watermark", "off_brand"], ["4k", "768x512"]),
    "model": (['"stable-diffusion-v1-5/stable-diffusion-v1-5"', '"builtin:tiny"'], ['""', "x", "1"]),
    "size": (["768x512", "512x512", "640x448"], ["0x0", "7x7", "64x99999999", "512", '"a"']),
    "aspect": (["16:9", "1:1", "3:2"], ["0:0", "1:99999", "3", "16:9:1.3"]),
    "steps": (["30", "1"], ["0", "99999999999999999999", "1.5", "-1", "30+"]),
    "guidance": (["7.5", "0", "1"], ["1e9", "-2", "x"]),
    "seed": (["42", "0"], ["99999999999999999999", "-1", '"42"']),
    "scheduler": (["euler_a", '"DPM++ 2M Karras"', "ddim"], ["nope", "3"]),
    "images": (["1", "4"], ["0", "100000", "1:2"]),
}
WEIGHTS = (["", "", "", "", ":1.3", ":0", ":.5", ":2", "+", "++", "-", "--"],
           [":-0.5", ":1e9", ":99999999999999999999", "+" * 40, ":", ":x"])
SLOTS = ("subject", "format", "style", "quality", "negative")
NAMES_ = st.sampled_from(["a", "b", "meeting", "_", "x1"])
NOISE = st.sampled_from(["{", "}", '"', ":", "+", ",", ".", "\n", "#", "extends", "prompt", "use", "subjekt",
                         "\\", "\t"])


@st.composite
def grammarish(draw):
    """Mostly well-formed programs (uses, defaults, prompts, fields, weighted pieces), a little noise."""
    def pick(choices):
        good, bad = choices
        return draw(st.sampled_from(bad if draw(st.sampled_from([False] * 19 + [True])) else good))

    def block():
        fields = []
        names = draw(st.lists(st.sampled_from(list(VALUES)), max_size=4, unique=True))
        subject = "subject" not in names and draw(st.sampled_from([True] * 4 + [False]))
        for name in ["subject"] * subject + names:
            phrases = []
            for _ in range(draw(st.integers(1, 3)) if name in SLOTS and name != "format" else 1):
                pieces = [pick(VALUES[name]) + (pick(WEIGHTS) if name in SLOTS else "")
                          for _ in range(draw(st.integers(1, 3)) if name == "subject" else 1)]
                phrases.append(" ".join(pieces))
            fields.append(f"{name} " + draw(st.sampled_from([", ", ",\n  "])).join(phrases))
        return "{\n  " + "\n  ".join(fields) + "\n}"

    parts = [pick((["use core", 'use "./team.yaml"'], ['use "../x.yaml"', "use nope", "use studio"]))
             for _ in range(draw(st.integers(0, 3)))]
    if draw(st.booleans()):
        parts.append("defaults " + block())
    for _ in range(draw(st.integers(1, 3))):
        extends = draw(st.one_of(st.just(""), NAMES_.map(lambda n: f" extends {n}")))
        parts.append(f"prompt {draw(NAMES_)}{extends} " + block())
    words = "\n".join(parts).split(" ")
    if draw(st.sampled_from([False] * 4 + [True])):
        words.insert(draw(st.integers(0, len(words))), draw(NOISE))
    return " ".join(words)


@FAST
@given(grammarish())
@example('use core\nprompt a { subject "x" "y"++ "z":0 }\nprompt b extends a { style van_gogh:-1 }')
@example('use core\nprompt a extends a { subject "x" }')
@example('prompt a { subject "x" }\nprompt a { subject "y" }')
def test_grammarish_text(source):
    compile_or_refuse(source)


# -- the examples, with bytes flipped, put in and taken out -----------------------------

SOURCES = [path.read_bytes() for path in EXAMPLES]
MUTATION = st.tuples(st.sampled_from(["flip", "insert", "delete"]), st.floats(0, 1, exclude_max=True),
                     st.integers(0, 255))


def mutate(data: bytes, mutations) -> str:
    buf = bytearray(data)
    for kind, where, byte in mutations:
        at = int(where * (len(buf) + 1))
        if kind == "insert":
            buf.insert(at, byte)
        elif at < len(buf):
            if kind == "flip":
                buf[at] ^= 1 << (byte % 8)
            else:
                del buf[at]
    return buf.decode("utf-8", errors="replace")


@FAST
@given(st.sampled_from(range(len(SOURCES))), st.lists(MUTATION, min_size=1, max_size=6))
def test_mutated_examples(which, mutations):
    compile_or_refuse(mutate(SOURCES[which], mutations))


def test_the_examples_compile_here():
    """The unmutated examples compile in the scratch folder: mutations start from working files."""
    for source in SOURCES:
        assert compile_or_refuse(source.decode("utf-8")) is not None


# -- the shipped fuzz driver, for a small budget ----------------------------------------

def _fuzz_driver():
    import importlib.util

    spec = importlib.util.spec_from_file_location("promptlang_bench_fuzz", ROOT / "bench" / "fuzz.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fuzz_driver_short_run():
    """bench/fuzz.py in this process: 3,000 inputs (random text, mutated examples, splices),
    fixed seed, each under a 2 s CPU limit: no crash and no hang (about 6 s)."""
    fuzz = _fuzz_driver()
    total = fuzz.run(inputs=3_000, seed=0, timeout=2.0, shrink_seconds=0.5)
    assert total["inputs"] == 3_000
    assert total["ok"] > 0 and total["error"] > 0, "the generators should give both outcomes"
    assert total["crash"] == 0 and total["hang"] == 0, fuzz.report(total, seed=0, workers=1)
