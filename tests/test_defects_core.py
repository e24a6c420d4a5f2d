"""Issue 9, the language core's items: 4 (huge numbers, weight runs), 10 (linear in runs of
spaces and commas), 15 (every independent error of a file), 16 (both sides of an edit are
checked), 17 (`slot += …` adds to the inherited list), 18 (source lines count "\\n" only)."""
import time

import pytest

from promptlang import compile_source
from promptlang.errors import MAX_ERRORS, PromptError, format_diagnostic, span_at
from promptlang.ir import join_text
from promptlang.syntax import MAX_PLUSES, PLUS
from promptlang.targets import a1111, compel, json as json_target, midjourney, plain


def error(source: str) -> PromptError:
    with pytest.raises(PromptError) as info:
        compile_source(source, "main.prompt", lint=False)
    return info.value


def negative(prompt) -> str:
    return join_text(prompt.segments[0].negative)


# ---------------------------------------------------------------- item 4

HUGE = "9" * 5000  # over Python's 4,300-digit limit of int(str)


@pytest.mark.parametrize("field", [f"seed {HUGE}", f"steps {HUGE}", f"images {HUGE}", f"size {HUGE}x512",
                                   f"size 512x{HUGE}", f"aspect {HUGE}:1", f"aspect 1:{HUGE}", f"guidance {HUGE}",
                                   f"seed 00{HUGE}"])
def test_a_number_of_thousands_of_digits_is_out_of_range(field):
    exc = error(f'prompt a {{\n    subject "x"\n    {field}\n}}\n')
    key = field.split()[0]
    assert exc.message.startswith(f"`{key}` is out of range"), exc.message
    assert (exc.span.line, exc.span.column) == (3, 6 + len(key))
    assert "(5,0" in exc.message and len(str(exc)) < 1000  # the number is cut short, not printed whole


def test_leading_zeros_are_not_digits_too_many():
    prompt = compile_source('prompt a {\n subject "x"\n seed ' + "0" * 40 + "7\n}", lint=False).prompts[0]
    assert prompt.settings.seed == 7


@pytest.mark.parametrize("count", [MAX_PLUSES + 1, 100, 400, 5000])
def test_a_run_of_plus_is_held_to_the_weight_limit(count):
    exc = error('prompt a {\n    subject "x"' + "+" * count + "\n}\n")
    assert "is out of range" in exc.message and "-100 to 100" in exc.message
    assert (exc.span.line, exc.span.column) == (2, 16)
    assert "^" in str(exc)


def test_the_longest_run_of_plus_inside_the_limit_compiles():
    prompt = compile_source('prompt a {\n subject "x"' + "+" * MAX_PLUSES + "\n}", lint=False).prompts[0]
    assert prompt.segments[0].positive[0].weight == pytest.approx(PLUS ** MAX_PLUSES)
    assert PLUS ** MAX_PLUSES <= 100 < PLUS ** (MAX_PLUSES + 1)


def test_a_long_run_of_minus_only_shrinks():
    prompt = compile_source('prompt a {\n subject "x"' + "-" * 5000 + "\n}", lint=False).prompts[0]
    assert 0 <= prompt.segments[0].positive[0].weight < 1e-100


# ---------------------------------------------------------------- item 10

def _compile_everything(source: str) -> None:
    compiled = compile_source(source, "main.prompt")  # lint included: it counts CLIP tokens
    for prompt in compiled.prompts:
        for target in (compel, a1111, midjourney, plain, json_target):
            target.emit(prompt)


def _cpu(source: str) -> float:
    best = float("inf")
    for _ in range(2):
        t0 = time.process_time()
        _compile_everything(source)
        best = min(best, time.process_time() - t0)
    return best


@pytest.mark.parametrize("run", [" ", ",", ", ", " ,+-()[]:"], ids=["spaces", "commas", "comma-space", "mixed"])
def test_long_runs_inside_strings_compile_in_linear_time(run):
    def source(n):
        body = run * (n // len(run))
        return (f'use core\nprompt a {{\n    subject "a{body}b"\n    negative "c{body}d"\n'
                f'    style "e{body}f"\n    format stock_photo\n}}\n')

    _compile_everything(source(2_000))  # warm up: parser, catalog, tokenizer
    small, large = _cpu(source(20_000)), _cpu(source(200_000))
    # 10x the input: linear is about 10x; the quadratic stages of old took 100x (65 s for 160,000 spaces)
    assert large <= max(25 * small, 0.5), (small, large)


# ---------------------------------------------------------------- item 15

def test_every_unknown_name_of_a_file_is_reported():
    exc = error("use core\nprompt a {\n    subject \"x\"\n    style core.van_goh, cor.dali\n}\n")
    assert [e.message.split("`")[1] for e in exc.errors] == ["core.van_goh", "cor"]
    text = str(exc)
    assert text.count("error:") == 2 and text.endswith("\n2 errors")
    assert "main.prompt:4:11: error: unknown style `core.van_goh`" in text
    assert "main.prompt:4:25: error: no catalog named `cor`" in text
    assert exc.message == exc.errors[0].message and exc.span == exc.errors[0].span  # the first is the error's own


def test_independent_errors_of_every_kind_are_reported_together():
    source = ("use core\n"
              "defaults {\n    steps 0\n    images 0\n}\n"          # bad settings in different fields
              "prompt a {\n    subject \"x\"\n    quality hdrr\n}\n"
              "prompt a {\n    subject \"y\"\n}\n"                  # a duplicate name
              "prompt b extends nope {\n    negative blurr\n}\n"   # unknown parent, unknown name
              "prompt c extends gone {\n    subject \"z\"\n}\n")
    exc = error(source)
    messages = [e.message for e in exc.errors]
    assert len(messages) == 2 and "`steps` 0" in messages[0]  # settings are checked when the file is read
    exc = error(source.replace("steps 0", "steps 3").replace("images 0", "images 1"))
    messages = [e.message for e in exc.errors]
    assert [m.split(" ")[0:2] for m in messages] == [["unknown", "quality"], ["a", "prompt"], ["`b`", "extends"],
                                                      ["unknown", "negative"], ["`c`", "extends"]], messages
    assert [e.span.line for e in exc.errors] == sorted(e.span.line for e in exc.errors)
    assert str(exc).endswith("\n5 errors")


def test_an_error_in_a_parent_is_reported_once():
    exc = error("use core\nprompt a {\n subject \"x\"\n style dalli\n}\nprompt b extends a {\n seed 1\n}\n"
                "prompt c extends a {\n seed 2\n}\n")
    assert len(exc.errors) == 1 and str(exc).count("error:") == 1


def test_a_cycle_is_reported_once():
    exc = error("prompt a extends b {\n subject \"x\"\n}\nprompt b extends a {\n subject \"y\"\n}\n"
                "prompt c extends a {\n subject \"z\"\n}\n")
    assert len(exc.errors) == 1 and "a -> b -> a" in exc.message


def test_the_count_of_errors_is_capped():
    names = ", ".join(f"nope{i}" for i in range(MAX_ERRORS + 5))
    exc = error(f"use core\nprompt a {{\n subject \"x\"\n style {names}\n}}\n")
    text = str(exc)
    assert len(exc.errors) == MAX_ERRORS + 5
    assert text.count("error:") == MAX_ERRORS
    assert text.endswith(f"\nand 5 more\n{MAX_ERRORS + 5} errors")


def test_a_single_error_reads_as_before():
    exc = error("use core\nprompt a {\n subject \"x\"\n style dalli\n}\n")
    assert exc.errors == (exc,)
    assert str(exc) == format_diagnostic("error", exc.message, exc.span, exc.source, exc.hint)
    assert not str(exc).endswith("errors")


# ---------------------------------------------------------------- item 16

@pytest.mark.parametrize("edit", ['dali_typo -> "a" at 0', '"a" -> dali_typo at 1', 'dali_typo -> dali at 0',
                                  'dali -> dali_typo at 1', 'dali_typo -> "a" at 0.5'])  # `at 0`: before unused
def test_both_sides_of_an_edit_are_checked(edit):
    exc = error(f'use core\nprompt a {{\n    subject "x"\n    style {edit}\n}}\n')
    assert exc.message.startswith("unknown style `dali_typo`")


def test_a_name_on_the_unused_side_of_a_subject_edit_is_an_error():
    exc = error('prompt a {\n    subject cat -> "x" at 0\n}\n')
    assert "`subject` takes quoted words" in exc.message


# ---------------------------------------------------------------- item 17

BASE = 'use core\nprompt a {\n    subject "x"\n    negative blurry, lowres\n}\n'


def test_a_child_slot_replaces_the_parents_list():
    compiled = compile_source(BASE + 'prompt b extends a {\n    negative "n1"\n}\n', lint=False)
    assert negative(compiled.prompts[1]) == "n1"


def test_plus_equals_adds_to_the_parents_list():
    compiled = compile_source(BASE + 'prompt b extends a {\n    negative += "n1", "bad hands"\n}\n'
                              'prompt c extends b {\n    negative += "extra", noise\n}\n', lint=False)
    a, b, c = (negative(p) for p in compiled.prompts)
    assert a.startswith("blurry") and b == a + ", n1, bad hands"
    assert c.startswith(b + ", extra, ") and c != b + ", extra"  # the catalog's `noise` text follows


def test_plus_equals_adds_to_the_defaults_in_any_slot():
    compiled = compile_source('use core\ndefaults {\n    quality hdr\n    negative blurry\n}\n'
                              'prompt a {\n    subject "x"\n    quality += "crisp"\n    negative += "mess"\n}\n'
                              'prompt b {\n    subject "x"\n    quality "crisp"\n}\n', lint=False)
    a, b = compiled.prompts
    assert join_text(a.segments[0].positive).endswith(", crisp") and join_text(a.segments[0].positive) != "x, crisp"
    assert negative(a).startswith("blurry") and negative(a).endswith("mess")
    assert join_text(b.segments[0].positive) == "x, crisp"


def test_plus_equals_with_nothing_inherited_is_a_plain_slot():
    one = compile_source('prompt a {\n subject "x"\n negative += "blurry"\n}\n', lint=False).prompts[0]
    two = compile_source('prompt a {\n subject "x"\n negative "blurry"\n}\n', lint=False).prompts[0]
    assert one.segments == two.segments


@pytest.mark.parametrize("field, message", [("steps += 3", "`steps` is a setting: `+=` adds to a slot's list"),
                                            ('style += blend "a", "b"', "a blend cannot be added to a list"),
                                            ("negative +=", "`negative` needs a value")])
def test_plus_equals_mistakes(field, message):
    exc = error(f'prompt a {{\n    subject "x"\n    {field}\n}}\n')
    assert exc.message.startswith(message) and exc.span.line == 3


def test_plus_equals_cannot_extend_a_blend():
    exc = error('prompt a {\n subject blend "a":1, "b":1\n}\nprompt b extends a {\n subject += "c"\n}\n')
    assert "cannot add to the blend" in exc.message and exc.span.line == 5


def test_the_readme_documents_both_forms():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert "negative += " in readme


# ---------------------------------------------------------------- item 18

@pytest.mark.parametrize("char", ["\u2028", "\u2029", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\r"])
def test_a_line_break_other_than_newline_does_not_shift_the_shown_line(char):
    source = f"# a comment{char}with a break\nprompt a {{\n    subject \"x\"\n    steps 0\n}}\n"
    exc = error(source)
    assert exc.span.line == 4
    lines = str(exc).split("\n")
    assert lines[1] == "        steps 0" and lines[2] == "              ^"


def test_a_form_feed_inside_the_line_keeps_the_caret_under_the_mistake():
    exc = error('prompt a {\n    subject "x"\n  \x0c  steps 0\n}\n')
    lines = str(exc).split("\n")
    assert lines[0].startswith("main.prompt:3:12:")
    assert lines[1] == "         steps 0" and lines[2] == " " * 15 + "^"


def test_span_at_counts_newlines_only():
    source = "a\u2028b\x0cc\nd"
    span = span_at("f", source, source.index("d"))
    assert (span.line, span.column) == (2, 1)
    assert format_diagnostic("error", "m", span_at("f", source, 4), source).split("\n")[1] == "    a b c"
