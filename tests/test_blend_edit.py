"""Blends (`subject blend "a dog":0.6, "a bowl of fruit":0.4`) and prompt editing over
steps (`"a cat" -> "a dog" at 0.4`): syntax, resolution, text targets, embeddings
(against Compel's own blend) and rendering (the switch observed inside the UNet)."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

import promptlang
from promptlang import ast, ir
from promptlang.errors import PromptError
from promptlang.syntax import parse
from promptlang.targets import emit


def compiled(source: str):
    return promptlang.compile_source(source, "t.prompt")


def texts(fragments) -> str:
    return ir.join_text(fragments)


# --------------------------------------------------------------------------- syntax

def test_blend_parses_to_a_blended_slot():
    file = parse('prompt a {\n  subject blend "a dog":0.6, "a bowl of fruit":0.4\n}')
    (slot,) = file.prompts[0].body.slots
    assert slot.name == "subject" and slot.blend is not None and slot.blend.line == 2
    assert [(p.pieces[0].text, p.pieces[0].weight) for p in slot.phrases] == [("a dog", 0.6),
                                                                              ("a bowl of fruit", 0.4)]


def test_edit_parses_with_both_sides_and_weights():
    file = parse('prompt a { subject "a" "cat"++ -> "dog":0.8 at 0.25 "on a mat" }')
    pieces = file.prompts[0].body.slots[0].phrases[0].pieces
    edit = pieces[1]
    assert isinstance(edit, ast.Edit)
    assert (edit.before.text, edit.before.weight) == ("cat", pytest.approx(1.21))
    assert (edit.after.text, edit.after.weight, edit.at) == ("dog", 0.8, 0.25)
    assert [p.text for p in (pieces[0], pieces[2])] == ["a", "on a mat"]


def test_blend_and_at_stay_usable_as_names_elsewhere():
    """`blend` is a keyword only right after a slot name, `at` only after an edit."""
    file = parse('prompt a { style x, blend, at }')
    assert [p.pieces[0].name for p in file.prompts[0].body.slots[0].phrases] == ["x", "blend", "at"]


# --------------------------------------------------------------------------- resolution

BLEND = '''use core
prompt a {
    subject blend "a dog":0.6, "a bowl of fruit":0.4
    format  oil_painting
    style   van_gogh
}
'''


def test_each_blend_part_is_a_whole_prompt_through_the_template():
    (p,) = compiled(BLEND).prompts
    (segment,) = p.segments
    blend = segment.positive
    assert [part.weight for part in blend.parts] == [0.6, 0.4]
    dog, fruit = (texts(part.fragments) for part in blend.parts)
    assert dog.startswith("an oil painting of a dog, impasto") and dog.endswith("Vincent van Gogh")
    assert fruit.startswith("an oil painting of a bowl of fruit, impasto")
    assert ir.heaviest(blend) is blend.parts[0]  # for targets without blends


def test_blend_of_styles_unites_their_negatives():
    (p,) = compiled('use core\nprompt a {\n subject "a cat"\n style blend van_gogh:1, dali:2\n}').prompts
    (segment,) = p.segments
    assert ir.heaviest(segment.positive) is segment.positive.parts[1]  # dali weighs more
    assert {"photo", "photorealistic"} <= {t.strip() for f in segment.negative for t in f.text.split(",")}


@pytest.mark.parametrize("at,expected", [
    ("0", ["a dog on a mat"]),
    ("1", ["a cat on a mat"]),
    ("0.4", ["a cat on a mat", "a dog on a mat"]),
])
def test_edit_stages(at, expected):
    (p,) = compiled(f'prompt a {{ subject "a" "cat" -> "dog" at {at} "on a mat" }}').prompts
    assert [texts(s.positive) for s in p.segments] == expected
    assert [s.start for s in p.segments] == [0.0] + ([float(at)] if len(expected) > 1 else [])


def test_empty_sides_add_and_remove_words():
    (p,) = compiled('prompt a { subject "a cat", "" -> "wearing a hat" at 0.3, "smiling" -> "" at 0.6 }').prompts
    assert [(s.start, texts(s.positive)) for s in p.segments] == [
        (0.0, "a cat, smiling"), (0.3, "a cat, wearing a hat, smiling"), (0.6, "a cat, wearing a hat")]


def test_edit_of_catalog_entries_brings_their_negatives():
    (p,) = compiled('use core\nprompt a {\n subject "a cat"\n format stock_photo -> oil_painting at 0.5\n}').prompts
    first, second = p.segments
    assert texts(first.positive).startswith("a stock photo of a cat")
    assert texts(second.positive).startswith("an oil painting of a cat")
    assert texts(first.negative) != texts(second.negative)


def test_blend_and_edit_together():
    (p,) = compiled('prompt a {\n subject blend "a dog", "a fox":3\n style "sketch" -> "watercolor" at 0.5\n}').prompts
    first, later = p.segments
    assert [texts(part) for part in ir.texts(first.positive)] == ["a dog, sketch", "a fox, sketch"]
    assert [texts(part) for part in ir.texts(later.positive)] == ["a dog, watercolor", "a fox, watercolor"]
    assert texts(ir.flat(later.positive)) == "a fox, watercolor"


def test_extends_inherits_a_blend_and_overrides_it():
    src = 'prompt a { subject blend "a dog", "a fox" }\nprompt b extends a { style "ink" }\n' \
          'prompt c extends a { subject "a cat" }'
    a, b, c = compiled(src).prompts
    assert [texts(x) for x in ir.texts(b.segments[0].positive)] == ["a dog, ink", "a fox, ink"]
    assert c.segments == (ir.Segment(0.0, c.segments[0].positive, ()),) and texts(c.segments[0].positive) == "a cat"


def test_too_many_variants_is_an_error():
    edits = ", ".join(f'"w{i}" -> "v{i}" at 0.{i + 1:02d}' for i in range(8))
    parts = ", ".join(f'"p{i}"' for i in range(10))
    with pytest.raises(PromptError, match="variants"):
        compiled(f'prompt a {{\n subject blend {parts}\n style {edits}\n}}')


def test_json_round_trip_keeps_blend_and_segments():
    (p,) = compiled('prompt a {\n subject blend "a dog":0.6, "a fox":0.4\n style "ink" -> "oil" at 0.5\n}').prompts
    data = json.loads(emit("json", p))
    assert data["version"] == 2
    assert [b["weight"] for b in data["segments"][0]["blend"]] == [0.6, 0.4] and data["segments"][1]["start"] == 0.5
    assert [f["text"] for f in data["positive"]] == ["a dog, ink"]  # the heaviest part, for readers of v1
    back = ir.from_json(data)
    assert back == p


def test_plain_prompts_json_adds_only_version_and_settings():
    (p,) = compiled('prompt a { subject "a cat" }').prompts
    assert set(json.loads(emit("json", p))) == {"version", "name", "positive", "negative", "params", "settings"}


# --------------------------------------------------------------------------- text targets

@pytest.mark.parametrize("source,expected", [
    ('prompt a { subject "a" "cat" -> "dog" at 0.4 "on a mat" }', "a [cat:dog:0.4] on a mat"),
    ('prompt a { subject "a cat", "" -> "hat" at 0.3, "smiling" }', "a cat[, hat:0.3], smiling"),
    ('prompt a { subject "a cat", "hat" -> "" at 0.3 }', "a cat[, hat::0.3]"),
    ('prompt a { subject "a cat":1.3 -> "a dog" at 0.5 }', "[(a cat:1.3):a dog:0.5]"),
    ('prompt a { subject "a cat" -> "a dog" at 1 }', "a cat"),
    ('prompt a { subject "a cat" -> "a dog" at 0 }', "a dog"),
])
def test_a1111_writes_prompt_editing(source, expected):
    warnings = []
    (p,) = compiled(source).prompts
    assert emit("a1111", p, warnings) == expected
    assert warnings == []


@pytest.mark.parametrize("source", [
    'prompt a { subject "a" "cat" -> "dog" at 0.4 "on a mat", "" -> "wearing a (tall) hat" at 0.7 }',
    'use core\nprompt a {\n subject "a cat"\n format stock_photo -> oil_painting at 0.5\n'
    ' style van_gogh, "x":1.2 -> "y" at 0.25\n}',
])
@pytest.mark.parametrize("steps", [4, 10, 30])
def test_a1111_edits_read_back_as_each_stage(source, steps):
    """Expanding the emitted `[a:b:when]` at every step (A1111's sampler counter, from 0) gives
    that step's stage text (the reader is tests/test_targets_exact.py's, which checks weights too)."""
    from promptlang.targets.a1111 import _side
    from test_targets_exact import A1111

    (p,) = compiled(source).prompts
    out = emit("a1111", p)
    positive, _, negative = out.partition("\nNegative prompt: ")
    starts = ir.switch_steps(p, steps)
    stages = p.segments
    for step in range(steps):
        k = max(i for i, s in enumerate(starts) if s <= step)
        assert A1111(positive).at(step, steps) == _side(p, stages[k].positive, None)
        if negative:
            assert A1111(negative, False).at(step, steps) == _side(p, stages[k].negative, None)


def test_midjourney_writes_a_blend_as_a_multi_prompt():
    (p,) = compiled('prompt a { subject blend "a dog":0.6, "a bowl of fruit":0.4 }').prompts
    assert emit("midjourney", p) == "a dog::0.6 a bowl of fruit::0.4"


@pytest.mark.parametrize("target,subject", [
    ("a1111", '"a dog"'), ("plain", '"a dog"'),
    ("compel", '"a dog (tabby)"'),  # parentheses cannot go inside Compel's quoted blend parts
])
def test_targets_without_blends_warn_and_write_the_heaviest_part(target, subject):
    (p,) = compiled(f'prompt a {{ subject blend {subject}:0.4, "a bowl of fruit":0.6 }}').prompts
    warnings = []
    out = emit(target, p, warnings)
    assert out == "a bowl of fruit"
    assert len(warnings) == 1 and "cannot blend" in warnings[0].message and "0.6" in warnings[0].message


@pytest.mark.parametrize("target", ["compel", "midjourney", "plain"])
def test_targets_without_editing_warn_and_write_the_longest_stage(target):
    (p,) = compiled('prompt a { subject "a cat" -> "a dog" at 0.3 }').prompts
    warnings = []
    out = emit(target, p, warnings)
    assert out == "a dog"  # from 30 % to 100 %: the longest stretch
    assert len(warnings) == 1 and "during sampling" in warnings[0].message


@pytest.mark.parametrize("source", [
    'prompt a { subject blend "a dog":0.6, "a bowl of fruit":0.4 }',
    'use core\nprompt a {\n subject blend "a dog running"++, "a cat":3\n format oil_painting:1.2\n'
    ' quality 4k, highly_detailed:0.7\n}',
    'use core\nprompt a {\n subject "a lighthouse"\n style blend van_gogh:1.3, dali, monet:0.5\n}',
])
def test_compel_blend_parses_in_compel_to_our_blend(source):
    pytest.importorskip("compel")
    from compel import Compel

    from promptlang.diffusion.encode import to_conjunction
    from promptlang.diffusion.models import build_tiny

    tok = build_tiny("sd").tokenizer  # CLIP's tokenizer: fragments compare as tokens
    (p,) = compiled(source).prompts
    warnings = []
    text = emit("compel", p, warnings)
    positive = text.partition("\nNegative prompt: ")[0]
    assert warnings == [] and ".blend(" in positive
    (theirs,) = Compel.parse_prompt_string(positive).prompts
    (ours,) = to_conjunction(p.segments[0].positive).prompts
    assert theirs.weights == pytest.approx(ours.weights)
    assert len(theirs.prompts) == len(ours.prompts)
    for a, b in zip(theirs.prompts, ours.prompts):
        assert [f.weight for f in a.children] == pytest.approx([f.weight for f in b.children])
        assert [tok.tokenize(f.text) for f in a.children] == [tok.tokenize(f.text) for f in b.children]


def test_compel_text_of_fallback_parses_in_compel():
    pytest.importorskip("compel")
    from compel import Compel

    (p,) = compiled('prompt a { subject blend "a (dog)":0.6, "fruit":0.4\n style "x":1.2 -> "y" at 0.7 }').prompts
    parsed = Compel.parse_prompt_string(emit("compel", p)).prompts[0].children
    assert [(f.text, f.weight) for f in parsed] == [("a (dog),", 1.0), ("x", 1.2)]


# --------------------------------------------------------------------------- embeddings

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def pipes():
    from promptlang.diffusion.models import build_tiny

    return {kind: build_tiny(kind) for kind in ("sd", "sdxl")}


@pytest.mark.parametrize("kind", ["sd", "sdxl"])
def test_blend_embeddings_equal_compels_blend(pipes, kind):
    from compel import CompelForSD, CompelForSDXL

    from promptlang.diffusion.encode import encode

    pipe = pipes[kind]
    (p,) = compiled('prompt a {\n subject blend "a dog":0.6, "a bowl of fruit":0.4\n style "oil painting":1.2\n'
                    ' negative "blurry"\n}').prompts
    ours = encode(p, pipe)
    wrapper = (CompelForSD if kind == "sd" else CompelForSDXL)(pipe)
    theirs = wrapper('("a dog, (oil painting)1.2", "a bowl of fruit, (oil painting)1.2").blend(0.6, 0.4)',
                     negative_prompt="blurry")
    assert ours["prompt_embeds"].shape == theirs.embeds.shape
    assert (ours["prompt_embeds"] - theirs.embeds).abs().max().item() < 1e-5
    assert (ours["negative_prompt_embeds"] - theirs.negative_embeds).abs().max().item() < 1e-5
    # and it is neither part alone
    (segment,) = p.segments
    for part in segment.positive.parts:
        alone = encode(replace(p, segments=(ir.Segment(0, part.fragments, segment.negative),)), pipe)["prompt_embeds"]
        assert (alone - ours["prompt_embeds"]).abs().max().item() > 1e-3
    if kind == "sdxl":  # pooled: the parts' pooled embeddings, mixed 0.6 : 0.4
        pooled = [encode(replace(p, segments=(ir.Segment(0, part.fragments, segment.negative),)),
                         pipe)["pooled_prompt_embeds"] for part in segment.positive.parts]
        expected = 0.6 * pooled[0] + 0.4 * pooled[1]
        assert (ours["pooled_prompt_embeds"] - expected).abs().max().item() < 1e-5


def test_blend_weights_are_shares():
    """Weights 3 and 2 mean 0.6 and 0.4, as in Compel (normalized by their sum)."""
    from promptlang.diffusion.encode import to_conjunction

    (p,) = compiled('prompt a { subject blend "a":3, "b":2 }').prompts
    (blend,) = to_conjunction(p.segments[0].positive).prompts
    assert blend.weights == [3.0, 2.0] and blend.normalize_weights


def test_staged_prompt_encodes_every_stage_at_one_length(pipes):
    from promptlang.diffusion.encode import encode

    long = ", ".join(["a very long description of a lighthouse"] * 12)
    (p,) = compiled(f'prompt a {{ subject "a cat" -> "{long}" at 0.5 }}').prompts
    conditioning = encode(p, pipes["sd"])
    stages = conditioning.segments
    assert conditioning.starts == [0.0, 0.5] and stages[0] == dict(conditioning)
    assert len(stages) == 2
    assert stages[0]["prompt_embeds"].shape == stages[1]["prompt_embeds"].shape
    assert stages[0]["prompt_embeds"].shape[1] > 77


# --------------------------------------------------------------------------- rendering

SWITCH = '''prompt edit { subject "a red cat" -> "a blue dog" at 0.5
 negative "blurry" }
prompt early { subject "a red cat" -> "a blue dog" at 0.01
 negative "blurry" }
prompt a_then_b_at0 { subject "a red cat" -> "a blue dog" at 0
 negative "blurry" }
prompt a_then_b_at1 { subject "a red cat" -> "a blue dog" at 1
 negative "blurry" }
prompt cat { subject "a red cat"
 negative "blurry" }
prompt dog { subject "a blue dog"
 negative "blurry" }
'''


def _spy(pipe):
    """Record the text conditioning (positive half) the UNet sees at every iteration."""
    seen, forward = [], pipe.unet.forward

    def spy(*args, **kwargs):
        hidden = kwargs["encoder_hidden_states"]
        seen.append(hidden[hidden.shape[0] // 2:].clone())
        return forward(*args, **kwargs)

    pipe.unet.forward = spy
    return seen, lambda: setattr(pipe.unet, "forward", forward)


@pytest.mark.parametrize("kind", ["sd", "sdxl"])
# AUTOMATIC1111's counting: the first text for iterations 0 .. int(at * steps), the second after
# (none at 0.97 of 10, or 0.99 of 7); `at step K` is the same with int(at * steps) = K
@pytest.mark.parametrize("steps,at,switch", [(6, "0.5", 4), (10, "0.35", 4), (10, "0.4", 5), (10, "0.97", 10),
                                             (7, "0.99", 7), (4, "0.2", 1), (6, "step 2", 3), (4, "step 9", 4)])
def test_conditioning_switches_at_the_right_step(pipes, kind, steps, at, switch):
    from promptlang.diffusion.encode import encode
    from promptlang.jobs.render import render

    pipe = pipes[kind]
    result = compiled(SWITCH.replace("at 0.5", f"at {at}"))
    seen, restore = _spy(pipe)
    try:
        render(result.prompt("edit"), pipe, steps=steps, seed=3, width=64, height=64, images=2, batch_size=2)
    finally:
        restore()
    cat, dog = (encode(result.prompt(n), pipe)["prompt_embeds"] for n in ("cat", "dog"))
    assert len(seen) == steps
    for i, hidden in enumerate(seen):
        assert hidden.shape[0] == 2  # both images of the batch switch
        expected = cat if i < switch else dog
        assert (hidden - expected).abs().max().item() < 1e-5, f"iteration {i}"


@pytest.mark.parametrize("kind", ["sd", "sdxl"])
def test_at_0_and_at_1_equal_plain_renders(pipes, kind):
    from promptlang.jobs.render import render

    pipe = pipes[kind]
    result = compiled(SWITCH)

    def pixels(name):
        (done,) = render(result.prompt(name), pipe, steps=4, seed=11, width=64, height=64)
        return done.image.tobytes()

    assert pixels("a_then_b_at0") == pixels("dog")
    assert pixels("a_then_b_at1") == pixels("cat")
    # 0.01 × 4 steps: A1111 still holds the first text for iteration 0, then switches
    assert pixels("early") not in (pixels("dog"), pixels("cat"))
    edited = pixels("edit")
    assert edited not in (pixels("cat"), pixels("dog"))
    assert pixels("edit") == edited  # reproducible


def test_second_order_scheduler_switches_by_iteration(pipes):
    """Heun evaluates the UNet 2N-1 times for N steps; A1111 counts its second-order samplers
    as 2N iterations: `at 0.5` of 4 steps holds the first text for iterations 0 .. int(0.5 * 8)."""
    from promptlang.diffusion.encode import encode
    from promptlang.jobs.render import render

    pipe = pipes["sd"]
    result = compiled(SWITCH)
    prompt = result.prompt("edit")
    seen, restore = _spy(pipe)
    try:
        render(prompt, pipe, steps=4, seed=3, width=64, height=64, scheduler="heun")
    finally:
        restore()
    cat, dog = (encode(result.prompt(n), pipe)["prompt_embeds"] for n in ("cat", "dog"))
    assert len(seen) == 7
    switch = 5  # int(0.5 * 8) + 1
    assert [bool((h - cat).abs().max() < 1e-5) for h in seen] == [i < switch for i in range(7)]
    assert all((h - dog).abs().max() < 1e-5 for h in seen[switch:])


def test_blend_renders_and_reproduces(pipes):
    from promptlang.jobs.render import render

    result = compiled('prompt a { subject blend "a dog":0.6, "a bowl of fruit":0.4 }\n'
                      'prompt dog { subject "a dog" }')
    pipe = pipes["sd"]
    (one,) = render(result.prompt("a"), pipe, steps=3, seed=5, width=64, height=64)
    (two,) = render(result.prompt("a"), pipe, steps=3, seed=5, width=64, height=64)
    (dog,) = render(result.prompt("dog"), pipe, steps=3, seed=5, width=64, height=64)
    assert one.image.tobytes() == two.image.tobytes() != dog.image.tobytes()


def test_cli_render_and_reproduce_an_edited_prompt(tiny_cli, write, capsys):
    from PIL import Image

    from promptlang.artifacts.records import read

    path = write("e.prompt", 'prompt e {\n subject "a" "cat" -> "dog" at 0.5 "on a mat"\n'
                             ' seed 9\n steps 4\n size 64x64\n}\n')
    assert tiny_cli("render", str(path), "--model", "builtin:tiny", "-o", "out", "-q") == 0
    (png,) = (path.parent / "out").glob("*.png")
    found = read(png)
    info, parameters = found.render, found.parameters
    assert info["ir"]["segments"][1]["start"] == 0.5
    assert parameters.startswith("a [cat:dog:0.5] on a mat")
    capsys.readouterr()
    assert tiny_cli("show", str(png)) == 0
    shown = capsys.readouterr().out
    assert "from 0% of the steps: a cat on a mat" in shown and "from 50% of the steps: a dog on a mat" in shown
    assert tiny_cli("reproduce", str(png), "-o", "again", "-q") == 0
    (again,) = (path.parent / "again").glob("*.png")
    assert Image.open(again).tobytes() == Image.open(png).tobytes()
    capsys.readouterr()


def test_embed_cli_writes_every_stage(tiny_cli, write, capsys):
    from promptlang.artifacts.embeddings import load as load_embeddings

    path = write("e.prompt", 'prompt e { subject "a cat" -> "a dog" at 0.25 }\n')
    assert tiny_cli("embed", str(path), "--model", "builtin:tiny", "-o", "emb") == 0
    tensors, meta = load_embeddings(path.parent / "emb" / "e.safetensors")
    assert {"prompt_embeds", "negative_prompt_embeds", "stage1.prompt_embeds",
            "stage1.negative_prompt_embeds"} == set(tensors)
    assert json.loads(meta["stages"]) == [0.25]
    assert (tensors["prompt_embeds"] - tensors["stage1.prompt_embeds"]).abs().max() > 1e-3
    capsys.readouterr()


def test_walk_refuses_an_edited_prompt(tiny_cli, write, capsys):
    path = write("w.prompt", 'prompt a { subject "a cat" -> "a dog" at 0.5 }\nprompt b { subject "a fox" }\n')
    code = tiny_cli("walk", str(path), "--from", "a", "--to", "b", "--frames", "3", "--model", "builtin:tiny",
                    "-o", "walks")
    err = capsys.readouterr().err
    assert code == 1 and "switches text during sampling" in err and "Traceback" not in err
    assert not (path.parent / "walks").exists()


# --------------------------------------------------------------------------- token counts

LONG = ", ".join(["a very long description of a lighthouse on a cliff"] * 8)


@pytest.mark.parametrize("source", [
    f'prompt a {{ subject blend "a cat":3, "{LONG}":1 }}',  # the long part is the lighter one
    f'prompt a {{ subject "a cat" -> "{LONG}" at 0.9 }}',   # the long stage is the shorter one
])
def test_token_warning_counts_every_part_and_stage(source):
    result = compiled(source)
    assert texts(ir.flat(result.prompts[0].segments[0].positive)) == "a cat"
    assert any("CLIP tokens" in w.message and "positive" in w.message for w in result.warnings)


def test_tokens_command_reports_the_longest_variant(write, capsys):
    from promptlang.cli import main
    from promptlang.tokens import count_tokens

    path = write("t.prompt", f'prompt a {{ subject blend "a cat":3, "{LONG}":1 }}\n')
    assert main(["tokens", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"positive {count_tokens(LONG)}/75" in out and "longest of 2" in out
