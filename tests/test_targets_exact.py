"""Each text target read back as the tool reads it gives the IR: words, weights and (A1111)
the schedule, for generated IRs (hypothesis) and a table of the cases that used to go wrong.

The readers below are this project's own, written for these tests from each tool's
documented behaviour and from reading its source (AUTOMATIC1111's ``modules/prompt_parser.py``,
``modules/extra_networks.py``, its sampler's step counter and ``processing.py``'s
``step_multiplier``; ComfyUI's ``comfy/sd1_clip.py``). Nothing is copied from them
(A1111 is AGPL). Compel is read by Compel's own parser (``test_compel_target.parse``).
Texts are compared exactly for A1111, and as CLIP token ids where the tool re-spaces or
splits words before tokenizing (ComfyUI, Compel).
"""
from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from promptlang import compile_source, ir
from promptlang.ir import Blend, Fragment, Part, Prompt, Segment
from promptlang.settings import Settings
from promptlang.targets import a1111, comfyui, emit, lower, number
from promptlang.tokens import _tokenizer

from test_compel_target import parse  # Compel's own parser, loaded without torch


def ids(text: str) -> list[int]:
    """CLIP's token ids (the shipped vocabulary), as CLIPTokenizer gives them."""
    return _tokenizer().encode(text, add_special_tokens=False).ids


# =========================================================================== A1111

_NUMBER = re.compile(r"\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$")


class A1111:
    """How AUTOMATIC1111 reads one prompt: extra networks, then (positive only) the split at
    ``AND`` and a sub-prompt's trailing ``:weight``, then the prompt schedule, then attention."""

    def __init__(self, text: str, positive: bool = True):
        self.networks = re.findall(r"<\w+:[^>]+>", text)
        self.and_parts = re.split(r"\bAND\b", text) if positive else [text]
        self.and_weight = positive and bool(re.search(r":\s*[-+]?(?:\d+\.?|\d*\.\d+)\s*$", self.and_parts[-1]))
        self.text = text
        self.breaks = 0

    # -- the prompt schedule: `[a:b:when]`, `[b:when]`, `[a::when]`; `\x` is plain text
    def at(self, step: int, total: int) -> str:
        """The text A1111 encodes at sampler iteration ``step`` (from 0) of ``total``."""
        if _unescaped(self.text, "|"):  # no place for it in the grammar: the whole prompt is plain text
            return self.text
        try:
            return self._expand(self.text, step, total)
        except ValueError:  # the grammar does not parse: plain text
            return self.text

    def _expand(self, text: str, step: int, total: int) -> str:
        out, i = [], 0
        while i < len(text):
            c = text[i]
            if c == "\\":
                out.append(text[i:i + 2])
                i += 2
            elif c == "[":
                end = _closing(text, i)
                parts = _split_top(text[i + 1:end], ":")
                if len(parts) not in (2, 3) or not _NUMBER.match(parts[-1]):
                    raise ValueError("not a schedule")
                before, after = ("", parts[0]) if len(parts) == 2 else parts[:2]
                when = float(parts[-1])
                when = min(total, int(when * total if when < 1 else when))
                out.append(self._expand(before if step <= when else after, step, total))
                i = end + 1
            elif c == "]":
                raise ValueError("unbalanced")
            else:
                out.append(c)
                i += 1
        return "".join(out)

    # -- attention: `(x)`, `(x:1.3)`, `[x]`, escapes; a backslash that escapes nothing is dropped
    def attention(self, text: str) -> list[tuple[str, float]]:
        res: list[list] = []
        rounds, squares = [], []

        def multiply(start, factor):
            for item in res[start:]:
                item[1] *= factor

        i = 0
        while i < len(text):
            c = text[i]
            weight = re.match(r":([+-]?[.\d]+)\)", text[i:])
            if c == "\\":
                nxt = text[i + 1:i + 2]
                if nxt and nxt in "()[]\\":
                    res.append([nxt, 1.0])
                    i += 2
                else:
                    i += 1
            elif c == "(":
                rounds.append(len(res))
                i += 1
            elif c == "[":
                squares.append(len(res))
                i += 1
            elif weight and rounds:
                multiply(rounds.pop(), float(weight.group(1)))
                i += len(weight.group(0))
            elif c == ")" and rounds:
                multiply(rounds.pop(), 1.1)
                i += 1
            elif c == "]" and squares:
                multiply(squares.pop(), 1 / 1.1)
                i += 1
            else:
                chunk = re.match(r"[^\\()\[\]:]+", text[i:])
                chunk = chunk.group(0) if chunk else c
                self.breaks += len(re.findall(r"\bBREAK\b", chunk))
                res.append([chunk, 1.0])
                i += len(chunk)
        for start in rounds:
            multiply(start, 1.1)
        for start in squares:
            multiply(start, 1 / 1.1)
        return _runs((t, w) for t, w in res)


def _unescaped(text: str, char: str) -> bool:
    return bool(re.search(r"(?<!\\)(?:\\\\)*" + re.escape(char), text))


def _closing(text: str, start: int) -> int:
    depth, i = 0, start
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        depth += (text[i] == "[") - (text[i] == "]")
        if depth == 0:
            return i
        i += 1
    raise ValueError("unclosed")


def _split_top(body: str, sep: str) -> list[str]:
    """``body`` split at ``sep`` outside escapes, brackets and parentheses."""
    parts, current, depth, i = [], "", 0, 0
    while i < len(body):
        c = body[i]
        if c == "\\":
            current += body[i:i + 2]
            i += 2
            continue
        depth += (c in "([") - (c in ")]")
        if c == sep and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += c
        i += 1
    return parts + [current]


def _runs(pairs) -> list[tuple[str, float]]:
    """Empty texts dropped, neighbours of equal weight (6 decimals) joined."""
    out: list[list] = []
    for text, weight in pairs:
        weight = round(weight, 6)
        if not text:
            continue
        if out and out[-1][1] == weight:
            out[-1][0] += text
        else:
            out.append([text, weight])
    return [(t, w) for t, w in out]


def ir_runs(fragments) -> list[tuple[str, float]]:
    """What a side of the IR means: each join at weight 1, each text at its weight."""
    pairs = []
    for i, frag in enumerate(ir.merged(fragments)):
        pairs += [(frag.join if i else "", 1.0), (frag.text, float(number(frag.weight)))]
    return _runs(pairs)


def check_a1111(prompt: Prompt, steps=(10, 20, 30)) -> None:
    """The A1111 text of ``prompt``, read back at every iteration of 10/20/30 steps, is the
    segment the renderer uses then (:func:`ir.switch_steps`), word for word and weight for weight;
    for a second-order sampler too (2N-1 iterations, which A1111 counts as 2N)."""
    warnings: list = []
    positive, negative = a1111.sides(prompt, warnings)
    lowered = lower(prompt, "a1111")
    for text, is_positive in ((positive, True), (negative, False)):
        reader = A1111(text, is_positive)
        assert reader.networks == [], text
        assert len(reader.and_parts) == 1 and not reader.and_weight, text
        for n, iterations, total in [(n, n, n) for n in steps] + [(n, 2 * n - 1, 2 * n) for n in steps[:1]]:
            starts = ir.switch_steps(lowered, iterations, n)
            for step in range(iterations):
                k = max(i for i, s in enumerate(starts) if s <= step)
                segment = lowered.segments[k]
                want = ir_runs(ir.flat(segment.positive) if is_positive else segment.negative)
                assert reader.attention(reader.at(step, total)) == want, (text, n, step)
        assert reader.breaks == 0, text


# =========================================================================== ComfyUI

class ComfyUI:
    """How ComfyUI's CLIPTextEncode reads text: ``\\(``/``\\)`` only are escapes; ``(x)``
    multiplies by 1.1, ``(x:w)`` sets the weight w; words (split at spaces) are tokenized
    one by one, and a word starting ``embedding:`` is an embedding file."""

    def __init__(self, text: str):
        self.text = text

    def pieces(self) -> list[tuple[str, float]]:
        text = self.text.replace("\\)", "\0\1").replace("\\(", "\0\2")
        return [(t.replace("\0\1", ")").replace("\0\2", "("), w) for t, w in self._weights(text, 1.0)]

    def _weights(self, text: str, weight: float) -> list:
        out = []
        for part in self._groups(text):
            if len(part) >= 2 and part[0] == "(" and part[-1] == ")":
                inner, new = part[1:-1], weight * 1.1
                colon = inner.rfind(":")
                if colon > 0:
                    try:
                        new, inner = float(inner[colon + 1:]), inner[:colon]
                    except ValueError:
                        pass
                out += self._weights(inner, new)
            else:
                out.append((part, weight))
        return out

    @staticmethod
    def _groups(text: str) -> list[str]:
        """Top-level ``(…)`` groups and the text between them."""
        out, current, depth = [], "", 0
        for c in text:
            if c == "(":
                if depth == 0 and current:
                    out.append(current)
                    current = ""
                current += c
                depth += 1
            elif c == ")":
                depth -= 1
                current += c
                if depth == 0:
                    out.append(current)
                    current = ""
            else:
                current += c
        return out + ([current] if current else [])

    def words(self) -> list[tuple[str, float]]:
        return [(word, w) for t, w in self.pieces() for word in t.replace("\n", " ").split(" ") if word]

    def tokens(self) -> list[tuple[int, float]]:
        return [(i, round(w, 6)) for word, w in self.words() for i in ids(word)]


def ir_tokens(fragments) -> list[tuple[int, float]]:
    return [(i, w) for text, w in ir_runs(fragments) for i in ids(text)]


def check_comfyui(prompt: Prompt) -> None:
    positive, negative = comfyui.sides(prompt, [])
    (segment,) = lower(prompt, "comfyui").segments
    for text, side in ((positive, ir.flat(segment.positive)), (negative, segment.negative)):
        reader = ComfyUI(text)
        assert [w for w, _ in reader.words() if w.startswith("embedding:")] == [], text
        assert reader.tokens() == ir_tokens(side), text


# =========================================================================== Compel

def compel_tokens(text: str) -> list[tuple[int, float]]:
    """Compel's own parse of one side, each fragment tokenized on its own (as Compel does)."""
    (flat,) = parse(text).prompts
    return [(i, round(f.weight, 6)) for f in flat.children for i in ids(f.text)]


def ir_compel_tokens(fragments) -> list[tuple[int, float]]:
    from promptlang.diffusion.encode import pieces

    return [(i, round(w, 6)) for text, w in pieces(fragments) for i in ids(text)]


def check_compel(prompt: Prompt) -> list:
    """Compel fed the compel target's text gets the IR's tokens and weights, or a warning
    says where it cannot (and then it really does not)."""
    warnings: list = []
    out = emit("compel", prompt, warnings)
    positive, _, negative = out.partition("\nNegative prompt: ")
    (segment,) = lower(prompt, "compel").segments
    respaced = [w for w in warnings if "re-spaces" in w.message or "space after every" in w.message]
    same = all(compel_tokens(text) == ir_compel_tokens(side)
               for text, side in ((positive, segment.positive), (negative, segment.negative)) if side)
    assert same != bool(respaced), (out, warnings)
    return warnings


# =========================================================================== Midjourney

def midjourney(text: str):
    """How Midjourney reads a prompt: parameters start at ``--name``; the rest is a
    multi-prompt, ``text::weight`` parts (a bare ``::`` is weight 1; no ``::`` at all: one
    part of weight 1). Returns ([(words, weight)], {parameter: value})."""
    body, *rest = re.split(r"(?:^|\s)--(?=[a-z])", text)
    params = {}
    for item in rest:
        name, _, value = item.partition(" ")
        params[name] = value.strip()
    parts = []
    for words, weight in re.findall(r"(.*?)::(-?[\d.]+)?\s*", body):
        parts.append((_words(words), float(weight) if weight else 1.0))
    tail = re.sub(r"(.*?)::(-?[\d.]+)?\s*", "", body)
    if tail.strip() or not parts:
        parts.append((_words(tail), 1.0))
    return parts, params


def _words(text: str) -> list[str]:
    return re.findall(r"[^\s,]+", text)


def check_midjourney(prompt: Prompt) -> None:
    warnings: list = []
    parts, params = midjourney(emit("midjourney", prompt, warnings))
    (segment,) = lower(prompt, "midjourney").segments
    if isinstance(segment.positive, Blend):
        want = [(_words(ir.join_text(p.fragments)), float(number(p.weight))) for p in segment.positive.parts]
    elif all(f.weight == 1.0 for f in segment.positive):
        want = [(_words(ir.join_text(segment.positive)), 1.0)]
    else:
        want = [(_words(f.text), float(number(f.weight))) for f in ir.merged(segment.positive)]
    assert parts == want
    assert _words(params.get("no", "")) == _words(ir.join_text(segment.negative))


# =========================================================================== generated IRs

WORDS = ["a cat", "AND", "BREAK", "embedding:easynegative", "<lora:detail:0.8>", "16:9", "x|y", "...",
         "(tall)", "[old]", "a\\b", "\\", "ratio:", "wait... what", "hat", ":1.2)", "BREAKFAST", "émigré", "?!"]
ALPHABET = "abcxyz 019,.:|()[]\\<>!?_'"
TEXT = st.one_of(st.sampled_from(WORDS), st.text(ALPHABET, min_size=1, max_size=12))
WEIGHT = st.sampled_from([1.0, 1.0, 1.0, 1.1, 1.21, 0.9, 1.3, 0.5, 2.0, 1.1 ** 3])
JOIN = st.sampled_from([", ", ", ", " "])


def side(min_size=1):
    frag = st.builds(Fragment, TEXT, WEIGHT, JOIN)
    return st.lists(frag, min_size=min_size, max_size=4).map(
        lambda fs: tuple([Fragment(fs[0].text, fs[0].weight, "")] + fs[1:]) if fs else ())


@st.composite
def prompts(draw, max_segments=3):
    count = draw(st.integers(1, max_segments))
    by_step = draw(st.booleans())
    if by_step:
        marks = sorted(draw(st.sets(st.integers(1, 35), min_size=count - 1, max_size=count - 1)))
    else:
        marks = sorted(draw(st.sets(st.sampled_from([0.1, 0.25, 0.3, 0.4, 0.5, 0.55, 0.7, 0.95, 0.97, 0.123456789]),
                                    min_size=count - 1, max_size=count - 1)))
    segments = [Segment(0.0, draw(side()), draw(side(0)))]
    for mark in marks:
        step = mark if by_step else None
        start = min(1.0, mark / 30) if by_step else mark
        segments.append(Segment(start, draw(side()), draw(side(0)), step))
    return Prompt("p", tuple(segments), Settings(steps=30))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prompts())
@example(Prompt("p", (Segment(0.0, (Fragment("aspect 16:9", 1.0, ""),), ()),), Settings()))
def test_a1111_reads_back_the_ir_at_every_step(prompt):
    check_a1111(prompt)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prompts(max_segments=1))
@example(Prompt("p", (Segment(0.0, (Fragment("a\\", 1.0, ""), Fragment("b", 1.3, "")), ()),), Settings()))
def test_comfyui_reads_back_the_ir_tokens(prompt):
    check_comfyui(prompt)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prompts(max_segments=1).filter(lambda p: not re.search(r"::|--", str(p.segments))))
def test_midjourney_reads_back_the_ir_words_and_weights(prompt):
    check_midjourney(prompt)


def test_midjourney_warns_for_each_broken_up_separator():
    warnings = []
    out = emit("midjourney", one(F("a::b -- c", join=""), F("x::y")), warnings)
    assert out.startswith("a: :b - - c, x: :y")
    assert [w.message.split("(")[1].split(")")[0] for w in warnings] == [
        "at character 2 of `a::b -- c`", "at character 6 of `a::b -- c`", "at character 2 of `x::y`"]


COMPEL_TEXT = st.one_of(st.sampled_from(["a cat", "...", "wait... what", "hat, coat", "a.b", "?!.", "(x).",
                                         "1.5", "don't.", "x_.", "AND"]),
                        st.text("abcxyz 019,.:;!?'_()[]", min_size=1, max_size=12))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.builds(Fragment, COMPEL_TEXT, WEIGHT, JOIN), min_size=1, max_size=4))
def test_compel_gets_the_ir_tokens_or_a_warning(fragments):
    fragments = [Fragment(fragments[0].text, fragments[0].weight, "")] + fragments[1:]
    check_compel(Prompt("p", (Segment(0.0, tuple(fragments), ()),), Settings()))


# =========================================================================== the table

def one(*fragments, negative=(), steps=None) -> Prompt:
    return Prompt("p", (Segment(0.0, tuple(fragments), tuple(negative)),), Settings(steps=steps))


def F(text, weight=1.0, join=", "):
    return Fragment(text, weight, join)


@pytest.mark.parametrize("source,steps,switch", [
    # A1111 holds the first text through iteration int(at * N): B from 5 at 0.4 of 10 steps
    ('prompt p { subject "A" -> "B" at 0.4 }', 10, 5),
    ('prompt p { subject "A" -> "B" at 0.97 }', 10, 10),  # int(9.7) = 9: never switches
    ('prompt p { subject "A" -> "B" at 0.29 }', 100, 29),  # 0.29 * 100 = 28.999…: as A1111's float
    ('prompt p { subject "A" -> "B" at step 12 }', 30, 13),
    ('prompt p { subject "A" -> "B" at step 12 }', 10, 10),  # past the end: never
])
def test_render_and_a1111_share_the_schedule(source, steps, switch):
    (p,) = compile_source(source, "t.prompt").prompts
    assert ir.switch_steps(p, steps, steps)[1] == switch
    reader = A1111(a1111.sides(p)[0])
    assert [reader.at(i, steps) for i in range(steps)] == ["A"] * switch + ["B"] * (steps - switch)


def test_at_step_is_written_as_an_absolute_step_and_kept_apart_from_fractions():
    (p,) = compile_source('prompt p {\n subject "a" "cat" -> "dog" at step 12 "on a mat"\n steps 20\n}',
                          "t.prompt").prompts
    assert [s.step for s in p.segments] == [None, 12] and p.segments[1].start == 0.6
    assert emit("a1111", p) == "a [cat:dog:12] on a mat"
    assert ir.from_json(ir.to_json(p)) == p


def test_fractions_and_steps_do_not_mix():
    from promptlang.errors import PromptError

    with pytest.raises(PromptError, match="both at a fraction of the steps .line 2. and at an absolute step"):
        compile_source('prompt p {\n subject "a" -> "b" at 0.5,\n "c" -> "d" at step 3\n}', "t.prompt")


@pytest.mark.parametrize("at", ["step 0", "step 2.5", "step 1001"])
def test_a_step_is_a_whole_number_from_1(at):
    from promptlang.errors import PromptError

    with pytest.raises(PromptError, match="is not a step: a whole number from 1 to 1000"):
        compile_source(f'prompt p {{ subject "a" -> "b" at {at} }}', "t.prompt")


@pytest.mark.parametrize("prompt,written", [
    # a `|` anywhere made A1111 read every edit as text; a `:` broke the edit around it
    (Prompt("p", (Segment(0.0, (F("a|b", join=""), F("x:y")), ()), Segment(0.4, (F("a|b", join=""), F("z")), ())),
            Settings()), "a\\|b, [x\\:y:z:0.4]"),
    (one(F("aspect 16:9", join="")), "aspect 16:9()"),  # not `aspect 16` at AND weight 9
    (one(F("cats AND dogs, BREAK, <lora:x:1>", join="")), "cats AN\\D dogs, BREA\\K, <\\lora:x:1>"),
])
def test_a1111_cases_that_were_misread(prompt, written):
    assert a1111.sides(prompt)[0] == written
    check_a1111(prompt)


@pytest.mark.parametrize("prompt,written", [
    (one(F("a [b] \\c (d)", join=""), F("e", 1.2)), "a [b] \\c \\(d\\), (e:1.2)"),
    (one(F("embedding:easynegative x", 1.3, join="")), "(embedding :easynegative x:1.3)"),
    (one(F("x:1.5", 1.2, join="")), "(x:1.5:1.2)"),
])
def test_comfyui_writes_what_comfyui_reads(prompt, written):
    assert comfyui.sides(prompt)[0] == written
    check_comfyui(prompt)


def test_comfyui_warns_for_each_edit_stretch_and_blend():
    (p,) = compile_source('prompt p { subject "a" "cat" -> "dog" at 0.3 "x" -> "y" at 0.8 }', "t.prompt").prompts
    warnings = []
    assert emit("comfyui", p, warnings) == "a dog x"
    assert [w.message.split("; ")[1] for w in warnings] == [
        "what it reads from 0% to 30% (`a cat x`) is left out", "what it reads from 80% to 100% (`a dog y`) is left out"]
    assert all("ComfyUI cannot switch prompts" in w.message for w in warnings)
    assert [(w.span.line, w.span.column) for w in warnings] == [(1, 20), (1, 20)]  # the subject's text
    blend = Prompt("p", (Segment(0.0, Blend((Part(0.4, (F("a", join=""),)), Part(0.6, (F("b", join=""),)))), ()),),
                   Settings())
    warnings = []
    assert emit("comfyui", blend, warnings) == "b" and "cannot blend" in warnings[0].message


def test_compel_respacing_is_warned_at_its_place():
    warnings = check_compel(one(F("a", join=""), F("wait... what?!.", 1.3)))
    assert [w.message for w in warnings if "re-spaces" in w.message] == [
        "prompt `p`: Compel's parser re-spaces `...` inside a weighted run (at character 5 of `wait... what?!.`): "
        "CLIP gets `. . .`, other tokens",
        "prompt `p`: Compel's parser re-spaces `?!.` inside a weighted run (at character 13 of `wait... what?!.`): "
        "CLIP gets `?! .`, other tokens"]
    assert check_compel(one(F("a", join=""), F("hat, coat. 1.5", 1.3))) == []  # `.`/`,` next to words: same tokens


def test_plain_warns_for_each_weight_at_its_place():
    (p,) = compile_source('prompt p {\n subject "a":1.2 "b" "c"--\n}', "t.prompt").prompts
    warnings = []
    emit("plain", p, warnings)
    assert [(w.span.line, w.span.column) for w in warnings] == [(2, 10), (2, 22)]
    assert "`a` is written without its weight 1.2" in warnings[0].message


# =========================================================================== embeddings

def test_our_embedding_equals_compel_fed_our_compel_text(tiny):
    """encode(IR) == Compel(the compel target's text), on the tiny model, for texts whose
    tokens Compel's syntax can carry; and the re-spaced case is warned, not silent."""
    pytest.importorskip("compel")
    from compel import CompelForSD

    from promptlang.diffusion.encode import encode

    pipe = tiny.pipe if hasattr(tiny, "pipe") else tiny
    cases = [one(F("a photo", join=""), F("hat, coat. 1.5", 1.3), F("4k"), negative=[F("blurry", 0.8, join="")]),
             one(F("AND", join=""), F("x_y (z)", 0.7, " "))]
    for prompt in cases:
        warnings = []
        text = emit("compel", prompt, warnings)
        assert warnings == []
        positive, _, negative = text.partition("\nNegative prompt: ")
        ours = encode(prompt, pipe)
        ref = CompelForSD(pipe)(positive, negative_prompt=negative)
        assert ours["prompt_embeds"].shape == ref.embeds.shape
        assert (ours["prompt_embeds"] - ref.embeds).abs().max().item() < 1e-5
        assert (ours["negative_prompt_embeds"] - ref.negative_embeds).abs().max().item() < 1e-5


def test_a_step_edit_renders_shows_and_reproduces(tiny_cli, capsys):
    from pathlib import Path

    import numpy as np
    from PIL import Image

    Path("s.prompt").write_text('prompt s {\n subject "a cat" -> "a dog" at step 2, "x" -> "y" at step 3\n'
                                ' steps 4\n size 64x64\n seed 1\n}\n', encoding="utf-8")
    assert tiny_cli("render", "s.prompt", "--model", "builtin:tiny", "-o", "out", "-q") == 0
    capsys.readouterr()
    assert tiny_cli("show", "out/s-1.png") == 0
    shown = capsys.readouterr().out
    assert "after step 2: a dog, x" in shown and "after step 3: a dog, y" in shown
    assert "a [cat, x:[dog, x:dog, y:3]:2]" in shown  # the `parameters` chunk A1111 reads
    assert tiny_cli("reproduce", "out/s-1.png", "-o", "again", "-q") == 0
    same = [np.asarray(Image.open(p)) for p in ("out/s-1.png", "again/s-1.png")]
    assert np.array_equal(*same)


def test_compel_respacing_inside_a_blend_part_is_warned():
    part = Part(0.6, (F("a cat", join=""), F("wait...", 1.2, " ")))
    prompt = Prompt("p", (Segment(0.0, Blend((part, Part(0.4, (F("a dog", join=""),)))), ()),), Settings())
    warnings = []
    assert emit("compel", prompt, warnings) == '("a cat (wait...)1.2", "a dog").blend(0.6, 0.4)'
    assert [w.message.split(" (")[0] for w in warnings] == ["prompt `p`: Compel's parser re-spaces `...` inside a "
                                                            "weighted run"]


def test_embed_records_the_steps_of_step_edits(tiny_cli, capsys):
    import json
    from pathlib import Path

    from promptlang.artifacts.embeddings import load as load_embeddings

    Path("e.prompt").write_text('prompt e {\n subject "a cat" -> "a dog" at step 3\n steps 12\n}\n', encoding="utf-8")
    assert tiny_cli("embed", "e.prompt", "--model", "builtin:tiny", "-o", "emb") == 0
    _, meta = load_embeddings(Path("emb") / "e.safetensors")
    assert json.loads(meta["stages"]) == [0.25] and json.loads(meta["stage_steps"]) == [3]
