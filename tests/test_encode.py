"""promptlang.encode: IR -> Compel Conjunction -> tensors, checked against Compel's own
output for the same weighted text on the same (tiny, saved and reloaded) model."""
from __future__ import annotations

import importlib
import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("compel")

from compel import Compel, CompelForSD, CompelForSDXL  # noqa: E402

from promptlang.errors import PromptError  # noqa: E402
from promptlang.ir import Fragment as F  # noqa: E402
from promptlang.ir import Segment, join_text  # noqa: E402
from promptlang.ir import Prompt as _Prompt  # noqa: E402
from promptlang.settings import Settings as Params  # noqa: E402


def Prompt(name, positive, negative, settings) -> _Prompt:
    """A prompt of one segment."""
    return _Prompt(name, (Segment(0.0, positive, negative),), settings)
from promptlang.diffusion.models import load_pipeline, save_tiny  # noqa: E402
from promptlang.artifacts import embeddings  # noqa: E402

# `promptlang.encode` is the function in the package namespace; the module is this:
enc = importlib.import_module("promptlang.diffusion.encode")

TOL = 1e-5

# id, positive IR, negative IR, the same positive and negative as Compel text (by hand)
CASES = [
    ("short",
     [F("a stock photo of a business meeting", join=""), F("4k")],
     [F("blurry", join="")],
     "a stock photo of a business meeting, 4k", "blurry"),
    ("design-example",
     [F("a stock photo of a business meeting", join=""), F("4k"), F("trending on artstation")],
     [F("blurry", join=""), F("low quality"), F("distorted hands", 1.3)],
     "a stock photo of a business meeting, 4k, trending on artstation",
     "blurry, low quality, (distorted hands)1.3"),
    ("subject-pieces",
     [F("a dragon", join=""), F("breathing", join=" "), F("blue fire", 1.1 * 1.1, join=" "),
      F("Alice in Wonderland book illustration")],
     [],
     "a dragon breathing (blue fire)1.2100000000000002, Alice in Wonderland book illustration", ""),
    ("weighted-first",
     [F("masterpiece", 1.2, join=""), F("a castle on a hill"), F("oil painting", 1.3)],
     [F("ugly", 1.1, join=""), F("deformed", 1.1)],
     "(masterpiece)1.2, a castle on a hill, (oil painting)1.3", "(ugly)1.1, (deformed)1.1"),
    ("down-weighted",
     [F("a cat", join=""), F("wearing a top hat", 0.5), F("studio lighting")],
     [F("text", 0.5, join=""), F("watermark")],
     "a cat, (wearing a top hat)0.5, studio lighting", "(text)0.5, watermark"),
    ("adjacent-equal-downweights",  # Compel merges these into one fragment: so must we
     [F("a portrait", join=""), F("red", 0.8, join=" "), F("hat", 0.8, join=" "), F("smiling", 0.8)],
     [F("blurry", join="")],
     "a portrait (red)0.8 (hat)0.8, (smiling)0.8", "blurry"),
    ("tiny-weight",  # Compel's syntax has no negative weights; ~0 is the lowest it can say
     [F("a bowl of fruit", join=""), F("bananas", 0.05), F("apples", 1.5)],
     [F("lowres", join="")],
     "a bowl of fruit, (bananas)0.05, (apples)1.5", "lowres"),
    ("literal-parentheses",
     [F("a cat (tabby)", join=""), F("a sign saying hello!", 1.2)],
     [F("blurry", join="")],
     r"a cat \(tabby\), (a sign saying hello!)1.2", "blurry"),
    ("long",  # > 77 tokens: two chunks, weights on both sides of the chunk boundary
     [F("an ancient lighthouse standing on a rocky cliff above a stormy sea at dusk", join=""),
      F("waves crashing against the rocks and sending spray high into the air"),
      F("a lone keeper holding a lantern in the doorway", 1.2),
      F("seagulls circling overhead in the fading orange light"),
      F("dark clouds gathering on the horizon"), F("oil painting", 1.3),
      F("impasto"), F("swirling dynamic brushstrokes", 0.7),
      F("in the style of Vincent van Gogh"), F("post-impressionism"),
      F("highly detailed"), F("dramatic lighting"), F("trending on artstation", 0.6),
      F("a small fishing boat fighting its way back to the harbour", 1.1)],
     [F("blurry", join=""), F("low quality"), F("worst quality"), F("jpeg artifacts"),
      F("distorted hands", 1.3)],
     "an ancient lighthouse standing on a rocky cliff above a stormy sea at dusk, "
     "waves crashing against the rocks and sending spray high into the air, "
     "(a lone keeper holding a lantern in the doorway)1.2, "
     "seagulls circling overhead in the fading orange light, dark clouds gathering on the horizon, "
     "(oil painting)1.3, impasto, (swirling dynamic brushstrokes)0.7, in the style of Vincent van Gogh, "
     "post-impressionism, highly detailed, dramatic lighting, (trending on artstation)0.6, "
     "(a small fishing boat fighting its way back to the harbour)1.1",
     "blurry, low quality, worst quality, jpeg artifacts, (distorted hands)1.3"),
]
IDS = [c[0] for c in CASES]


def _prompt(case) -> Prompt:
    name, pos, neg, _, _ = case
    return Prompt(name, tuple(pos), tuple(neg), Params())


@pytest.fixture(scope="module")
def pipes(tmp_path_factory):
    """kind -> tiny pipeline saved to a temp folder and loaded back by path."""
    root = tmp_path_factory.mktemp("encode-models")
    return {kind: load_pipeline(str(save_tiny(root / kind, kind)), "cpu") for kind in ("sd", "sdxl")}


@pytest.fixture(scope="module")
def encoded(pipes):
    """kind -> {case id: tensors}, all cases encoded in one batched call."""
    return {kind: dict(zip(IDS, enc.encode([_prompt(c) for c in CASES], pipe, batch_size=4)))
            for kind, pipe in pipes.items()}


def _close(a, b) -> bool:
    return a.shape == b.shape and (a - b).abs().max().item() <= TOL


# --------------------------------------------------------------------------- conjunctions

@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_conjunction_matches_compel_parser(pipes, case):
    """Same fragments (as tokens) and weights as Compel's own parse of the text."""
    tok = pipes["sd"].tokenizer
    _, pos, neg, pos_text, neg_text = case
    for fragments, text in ((pos, pos_text), (neg, neg_text)):
        ours = enc.to_conjunction(fragments).prompts[0].children
        theirs = Compel.parse_prompt_string(text).prompts[0].children
        assert [f.weight for f in ours] == pytest.approx([f.weight for f in theirs])
        assert [tok.tokenize(f.text) for f in ours] == [tok.tokenize(f.text) for f in theirs]


@pytest.mark.parametrize("fragments,expected", [
    ([], [("", 1.0)]),
    ([F("a", join=""), F("b")], [("a, b", 1.0)]),
    ([F("a", 1.3, join=""), F("b", 1.3)], [("a", 1.3), (",", 1.0), ("b", 1.3)]),
    ([F("a", 1.3, join=""), F("b", 1.3, join=" ")], [("a b", 1.3)]),
    ([F("a", join=""), F("b", 0.5, join=" "), F("c", join=" ")], [("a", 1.0), ("b", 0.5), ("c", 1.0)]),
    ([F("a", join=""), F("", 2.0), F("b")], [("a, b", 1.0)]),
])
def test_pieces(fragments, expected):
    assert enc.pieces(fragments) == expected


def test_non_finite_weight_is_an_error(pipes):
    prompt = Prompt("p", (F("a", math.inf, join=""),), (), Params())
    with pytest.raises(PromptError, match="finite"):
        enc.encode(prompt, pipes["sd"])


# --------------------------------------------------------------------------- tensors vs Compel

@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_sd_matches_compel(pipes, encoded, case):
    got = encoded["sd"][case[0]]
    ref = CompelForSD(pipes["sd"])(case[3], negative_prompt=case[4])
    assert set(got) == {"prompt_embeds", "negative_prompt_embeds"}
    assert _close(got["prompt_embeds"], ref.embeds)
    assert _close(got["negative_prompt_embeds"], ref.negative_embeds)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_sdxl_matches_compel(pipes, encoded, case):
    pipe, got = pipes["sdxl"], encoded["sdxl"][case[0]]
    _, pos, neg, pos_text, neg_text = case
    ref = CompelForSDXL(pipe)(pos_text, negative_prompt=neg_text)
    assert _close(got["prompt_embeds"], ref.embeds)
    if neg:
        assert _close(got["negative_prompt_embeds"], ref.negative_embeds)
    else:  # force_zeros_for_empty_prompt, as pipe(prompt) does
        assert not got["negative_prompt_embeds"].any() and not got["negative_pooled_prompt_embeds"].any()
        assert got["negative_prompt_embeds"].shape == ref.negative_embeds.shape
    # pooled: from the clean text (Compel pools its raw input, weighting syntax included)
    provider = CompelForSDXL(pipe).compel_2.conditioning_provider
    assert _close(got["pooled_prompt_embeds"], provider.get_pooled_embeddings([join_text(pos)]))
    if pos_text == join_text(pos):  # no weighting syntax: Compel pools the same text
        assert _close(got["pooled_prompt_embeds"], ref.pooled_embeds)
    if neg and neg_text == join_text(neg):
        assert _close(got["negative_pooled_prompt_embeds"], ref.negative_pooled_embeds)


@pytest.mark.parametrize("kind", ["sd", "sdxl"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_positive_and_negative_have_equal_shapes(encoded, kind, case):
    got = encoded[kind][case[0]]
    assert got["prompt_embeds"].shape == got["negative_prompt_embeds"].shape
    assert got["prompt_embeds"].shape[0] == 1 and got["prompt_embeds"].shape[1] % 77 == 0
    if kind == "sdxl":
        assert got["pooled_prompt_embeds"].shape == got["negative_pooled_prompt_embeds"].shape == (1, 32)


def test_long_prompt_is_not_truncated(encoded):
    assert encoded["sd"]["long"]["prompt_embeds"].shape[1] == 2 * 77
    assert encoded["sd"]["long"]["negative_prompt_embeds"].shape[1] == 2 * 77


def test_empty_negative_on_sd_is_the_empty_prompt(pipes, encoded):
    ref = CompelForSD(pipes["sd"])("x", negative_prompt="")
    assert _close(encoded["sd"]["subject-pieces"]["negative_prompt_embeds"], ref.negative_embeds)


# --------------------------------------------------------------------------- batching

class _Counter:
    """Counts the forward calls of a text encoder."""

    def __init__(self, module, monkeypatch):
        self.calls = 0
        original = module.forward

        def forward(*args, **kwargs):
            self.calls += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(module, "forward", forward)


@pytest.mark.parametrize("kind", ["sd", "sdxl"])
def test_batched_equals_unbatched(pipes, encoded, kind):
    plain = enc.encode([_prompt(c) for c in CASES], pipes[kind], _batched=False)
    for case_id, tensors in zip(IDS, plain):
        for name, value in tensors.items():
            assert _close(encoded[kind][case_id][name], value), (case_id, name)


def test_batching_calls_the_encoder_once_per_batch(pipes, monkeypatch):
    pipe = pipes["sd"]
    counter = _Counter(pipe.text_encoder, monkeypatch)
    enc.encode([_prompt(c) for c in CASES], pipe, batch_size=len(CASES))
    assert counter.calls == 1  # every row Compel wanted was foreseen and batched
    counter.calls = 0
    enc.encode([_prompt(c) for c in CASES], pipe, _batched=False)
    assert counter.calls > 3 * len(CASES)


def test_single_prompt_gives_a_dict(pipes):
    one = enc.encode(_prompt(CASES[0]), pipes["sd"])
    assert isinstance(one, dict)
    assert isinstance(enc.encode([_prompt(CASES[0])], pipes["sd"]), list)


@pytest.mark.parametrize("kind", ["sd", "sdxl"])
def test_tensors_drive_the_pipeline(pipes, encoded, kind):
    image = pipes[kind](**encoded[kind]["design-example"], num_inference_steps=2, height=64, width=64,
                        output_type="np", generator=torch.Generator("cpu").manual_seed(0)).images
    assert image.shape == (1, 64, 64, 3)


def test_not_a_stable_diffusion_pipeline():
    with pytest.raises(PromptError, match="not a Stable Diffusion"):
        enc.encode(_prompt(CASES[0]), object())


# --------------------------------------------------------------------------- cache and files

@pytest.mark.parametrize("kind", ["sd", "sdxl"])
def test_cache_hit_loads_without_encoding(pipes, tmp_path, monkeypatch, kind):
    pipe, prompts = pipes[kind], [_prompt(c) for c in CASES[:4]]
    first = enc.encode(prompts, pipe, cache_dir=tmp_path)
    assert len(list(tmp_path.rglob("*.safetensors"))) == len(prompts)

    def boom(*args, **kwargs):
        raise AssertionError("the text encoder ran on a cache hit")

    for name in ("text_encoder", "text_encoder_2"):
        if getattr(pipe, name, None) is not None:
            monkeypatch.setattr(getattr(pipe, name), "forward", boom)
    second = enc.encode(prompts, pipe, cache_dir=tmp_path)
    for a, b in zip(first, second):
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_cache_key_changes_with_what_matters(pipes):
    pipe = pipes["sd"]
    ident = enc._encoder_identity(pipe, "sd")
    base = Prompt("p", (F("a cat", join=""), F("4k")), (F("blurry", join=""),), Params())
    variants = [
        Prompt("p", (F("a cat", join=""), F("4k", 1.1)), base.segments[0].negative, Params()),
        Prompt("p", (F("a cat", join=""), F("4k", join=" ")), base.segments[0].negative, Params()),
        Prompt("p", base.segments[0].positive, (F("blurry", 1.2, join=""),), Params()),
        Prompt("p", base.segments[0].positive, (), Params()),
    ]
    keys = {enc.cache_key(p.segments[0], ident) for p in [base] + variants}
    assert len(keys) == 1 + len(variants)
    # the segment's start does not change its tensors, so not the key either
    assert enc.cache_key(Segment(0.4, base.segments[0].positive, base.segments[0].negative), ident) == \
        enc.cache_key(base.segments[0], ident)


def test_identity_changes_with_the_weights(pipes):
    pipe = pipes["sd"]
    before = enc._encoder_identity(pipe, "sd")
    assert enc._encoder_identity(pipe, "sd") == before
    weight = next(p for n, p in pipe.text_encoder.named_parameters() if n.endswith("final_layer_norm.weight"))
    with torch.no_grad():
        weight.add_(1.0)
    try:
        assert enc._encoder_identity(pipe, "sd") != before
    finally:
        with torch.no_grad():
            weight.sub_(1.0)


def test_damaged_cache_entry_is_re_encoded(pipes, tmp_path):
    pipe, prompt = pipes["sd"], _prompt(CASES[0])
    first = enc.encode(prompt, pipe, cache_dir=tmp_path)
    (entry,) = tmp_path.rglob("*.safetensors")
    entry.write_bytes(b"garbage")
    again = enc.encode(prompt, pipe, cache_dir=tmp_path)
    assert torch.equal(first["prompt_embeds"], again["prompt_embeds"])
    assert embeddings.load(entry)[1]["key"] == entry.stem  # rewritten


def test_save_load_round_trip(tmp_path, encoded):
    tensors = encoded["sdxl"]["long"]
    meta = {"model": "builtin:tiny-sdxl", "source": "prompt dragon { subject \"a dragon\" }", "é": "ü"}
    path = embeddings.save(tmp_path / "sub" / "dragon.safetensors", tensors, meta)
    loaded, loaded_meta = embeddings.load(path)
    assert loaded.keys() == tensors.keys()
    assert all(torch.equal(loaded[k], tensors[k]) for k in tensors)
    assert loaded_meta == meta
    assert [p.name for p in path.parent.iterdir()] == ["dragon.safetensors"]  # no temp files left


@pytest.mark.parametrize("content", [None, b"", b"\x00" * 64])
def test_load_embeddings_errors(tmp_path, content):
    path = tmp_path / "e.safetensors"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(PromptError, match="e.safetensors"):
        embeddings.load(path)


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("PROMPTLANG_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert enc.default_cache_dir() == tmp_path / "promptlang" / "embeddings"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert enc.default_cache_dir().parts[-3:] == (".cache", "promptlang", "embeddings")
    monkeypatch.setenv("PROMPTLANG_CACHE", "off")
    assert enc.default_cache_dir() is None
    monkeypatch.setenv("PROMPTLANG_CACHE", str(tmp_path / "mine"))
    assert enc.default_cache_dir() == tmp_path / "mine" / "embeddings"


def test_import_does_not_import_torch():
    import subprocess
    import sys

    code = ("import promptlang.diffusion.encode, promptlang.artifacts.embeddings, sys; "
            "print('torch' in sys.modules, 'compel' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_package_attribute_stays_callable():
    """`promptlang.encode(...)` is the function, even after `from promptlang.diffusion.encode import …`."""
    import subprocess
    import sys

    code = ("import promptlang; from promptlang.diffusion.encode import pad_lengths; "
            "print(callable(promptlang.encode) and promptlang.encode.__name__ == 'encode')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True"]
