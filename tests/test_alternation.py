"""Alternation `[cat | dog]`: a segment per turn, switched every denoising step by the one loop;
AUTOMATIC1111 writes it back as `[cat|dog]`, the other targets warn."""
import pytest

from promptlang import ir
from promptlang.compiler import compile_source
from promptlang.errors import PromptError
from promptlang.targets import emit


def compiled(body, head="use core\n"):
    return compile_source(f"{head}prompt p {{\n{body}\n}}\n", "t.prompt", lint=False).prompts[0]


def test_turns_are_segments_at_one_start():
    p = compiled('subject "a" ["cat" | "dog" | "cow"] "at dawn" -> "at dusk" at 0.5')
    assert [(s.start, s.every, s.phase, ir.join_text(s.positive)) for s in p.segments] == [
        (0.0, 3, 0, "a cat at dawn"), (0.0, 3, 1, "a dog at dawn"), (0.0, 3, 2, "a cow at dawn"),
        (0.5, 3, 0, "a cat at dusk"), (0.5, 3, 1, "a dog at dusk"), (0.5, 3, 2, "a cow at dusk")]
    assert ir.from_json(ir.to_json(p)).segments == p.segments


def test_two_alternations_cycle_together():
    p = compiled('subject ["a" | "b"] ["x" | "y" | "z"]')
    assert [ir.join_text(s.positive) for s in p.segments] == ["a x", "b y", "a z", "b x", "a y", "b z"]
    assert emit("a1111", p) == "[a x|b y|a z|b x|a y|b z]"


@pytest.mark.parametrize("starts, expected", [
    ([0, 0], [0, 1, 0, 1, 0, 1]),            # [cat | dog] over 6 iterations
    ([0, 0, 3, 3], [0, 1, 0, 3, 2, 3]),      # and an edit at iteration 3: the turn goes on by the step
])
def test_active_segment_each_iteration(starts, expected):
    segments = tuple(ir.Segment(0.0 if s == 0 else 0.5, (ir.Fragment(str(k)),), (), every=2, phase=k % 2)
                     for k, s in enumerate(starts))
    prompt = ir.Prompt("p", segments, None)
    assert [ir.active(prompt, starts, i) for i in range(6)] == expected


def test_targets():
    p = compiled('subject "a" ["cat" | "dog"] "in a field"\n format oil_painting')
    assert emit("a1111", p).startswith("an oil painting of a [cat|dog] in a field, impasto")
    for target in ("compel", "plain", "midjourney"):
        warnings = []
        assert "a cat in a field" in emit(target, p, warnings) and "dog" not in emit(target, p)
        assert any("cannot alternate words every step" in w.message for w in warnings)
    edit = compiled('subject "a" ["cat" | "dog"] "at dawn" -> "at dusk" at 0.5')
    assert emit("a1111", edit) == "a [cat|dog] at [dawn:dusk:0.5]"


@pytest.mark.parametrize("body, message", [
    ('steps ["1" | "2"]', "cannot alternate during sampling"),
    ('subject [{"a" | "b"} | "c"]', "not choices or wildcards"),
    ('subject ["a"]', "an alternation reads"),
])
def test_errors(body, message):
    with pytest.raises(PromptError, match=message):
        compiled(body)


def test_render_alternates(tiny_cli):
    import numpy as np
    from PIL import Image
    from pathlib import Path

    Path("a.prompt").write_text("defaults {\n size 64x64\n steps 4\n seed 3\n}\n"
                                'prompt both {\n subject "a" ["cat" | "dog"]\n}\n'
                                'prompt cat {\n subject "a cat"\n}\nprompt dog {\n subject "a dog"\n}\n')
    assert tiny_cli("render", "a.prompt", "-m", "builtin:tiny", "-o", "out", "-q") == 0
    both, cat, dog = (np.asarray(Image.open(f"out/{n}-3.png"), dtype=int) for n in ("both", "cat", "dog"))
    assert (both != cat).any() and (both != dog).any()
    assert tiny_cli("reproduce", "out/both-3.png", "-o", "again") == 0
    assert (np.asarray(Image.open("again/both-3.png"), dtype=int) == both).all()


def test_embed_keeps_the_turns(tiny_cli):
    import json
    from pathlib import Path

    from safetensors import safe_open

    Path("a.prompt").write_text('prompt p {\n subject "a" ["cat" | "dog"]\n}\n')
    assert tiny_cli("embed", "a.prompt", "-p", "p", "-m", "builtin:tiny", "-o", "p.safetensors") == 0
    with safe_open("p.safetensors", "pt") as f:
        meta, names = f.metadata(), set(f.keys())
    assert json.loads(meta["turns"]) == [[2, 0], [2, 1]] and json.loads(meta["stages"]) == [0.0]
    assert "stage1.prompt_embeds" in names
