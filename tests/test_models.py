"""promptlang.diffusion.models: tiny random-weight pipelines, loading by path / id / file, errors."""
from __future__ import annotations

import sys

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from promptlang.errors import PromptError  # noqa: E402
from promptlang.diffusion.models import build_tiny, is_test_model, load, load_pipeline, model_kind, save_tiny  # noqa: E402

KINDS = [("sd", "StableDiffusionPipeline"), ("sdxl", "StableDiffusionXLPipeline")]


def _state(pipe) -> dict:
    names = ["unet", "vae", "text_encoder", "text_encoder_2"]
    return {f"{n}.{k}": v for n in names if getattr(pipe, n, None) is not None
            for k, v in getattr(pipe, n).state_dict().items()}


def _same_weights(a, b) -> bool:
    sa, sb = _state(a), _state(b)
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """kind -> folder holding a saved build_tiny(kind)."""
    root = tmp_path_factory.mktemp("models")
    return {kind: save_tiny(root / kind, kind) for kind, _ in KINDS}


def test_import_does_not_import_torch():
    import subprocess

    code = "import promptlang.diffusion.models, sys; print('torch' in sys.modules, 'diffusers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("kind,cls", KINDS)
def test_build_tiny(kind, cls):
    pipe = build_tiny(kind)
    assert type(pipe).__name__ == cls
    assert model_kind(pipe) == kind
    assert is_test_model(pipe)
    assert not [k for k in vars(pipe) if k.startswith("_promptlang")]  # nothing of ours is kept on the pipeline
    assert pipe.vae_scale_factor == 8
    with torch.no_grad():  # a real VAE's geometry: 64x64 pixels -> 8x8 latents with 4 channels
        latents = pipe.vae.encode(torch.zeros(1, 3, 64, 64)).latent_dist.mean
    assert tuple(latents.shape) == (1, 4, 8, 8)
    assert pipe.scheduler.config.steps_offset == 1
    assert pipe.tokenizer("a cat").input_ids == [49406, 320, 2368, 49407]  # the real CLIP vocabulary
    assert pipe.tokenizer.model_max_length == 77
    if kind == "sdxl":
        assert pipe.unet.config.cross_attention_dim == (pipe.text_encoder.config.hidden_size
                                                        + pipe.text_encoder_2.config.hidden_size)
    else:
        assert pipe.safety_checker is None


@pytest.mark.parametrize("kind,cls", KINDS)
def test_build_tiny_is_deterministic(kind, cls):
    assert _same_weights(build_tiny(kind, seed=0), build_tiny(kind, seed=0))
    assert not _same_weights(build_tiny(kind, seed=0), build_tiny(kind, seed=1))


def test_build_tiny_leaves_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    build_tiny("sd")
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("kind,cls", KINDS)
def test_save_and_load_by_path(saved, kind, cls):
    pipe = load_pipeline(str(saved[kind]), "cpu")
    assert type(pipe).__name__ == cls
    assert model_kind(pipe) == kind
    assert pipe.dtype == torch.float32
    assert is_test_model(pipe)
    model = load(str(saved[kind]), "cpu")
    assert (model.id, model.kind, model.test_model, model.native) == (str(saved[kind]), kind, True,
                                                                      1024 if kind == "sdxl" else 512)
    assert _same_weights(pipe, build_tiny(kind))


@pytest.mark.parametrize("model,kind", [("builtin:tiny", "sd"), ("builtin:tiny-sdxl", "sdxl")])
def test_load_builtin(model, kind):
    pipe = load_pipeline(model, "cpu")
    assert model_kind(pipe) == kind and is_test_model(pipe) and pipe.dtype == torch.float32


@pytest.mark.parametrize("dtype,expected", [(None, torch.float32), ("fp32", torch.float32),
                                            ("bf16", torch.bfloat16), (torch.bfloat16, torch.bfloat16)])
def test_dtype(dtype, expected):
    assert load_pipeline("builtin:tiny", "cpu", dtype=dtype).text_encoder.dtype == expected


@pytest.mark.parametrize("model,words", [
    ("./no/such/folder", ["./no/such/folder", "not found"]),
    ("/definitely/missing/model.safetensors", ["model.safetensors", "not found"]),
    ("builtin:huge", ["builtin:huge", "builtin:tiny"]),
    ("not a valid id!", ["not a valid id!"]),
])
def test_missing_model(model, words):
    with pytest.raises(PromptError) as err:
        load_pipeline(model, "cpu")
    assert all(w in str(err.value) for w in words)


def test_unknown_hf_id_names_id_and_cache(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(PromptError) as err:
        load_pipeline("promptlang-test/no-such-model", "cpu")
    text = str(err.value)
    assert "promptlang-test/no-such-model" in text
    assert str(tmp_path / "hub") in text
    assert "hf download promptlang-test/no-such-model" in text


def test_hf_id_from_the_local_cache(tmp_path, monkeypatch):
    """An id resolves offline through the HF cache layout (refs/main -> snapshots/<commit>)."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    repo, commit = tmp_path / "hub" / "models--someone--tiny-sd", "0123456789abcdef" * 2 + "01234567"
    save_tiny(repo / "snapshots" / commit, "sd")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    pipe = load_pipeline("someone/tiny-sd", "cpu")
    assert model_kind(pipe) == "sd" and load("someone/tiny-sd", "cpu").id == "someone/tiny-sd"
    assert _same_weights(pipe, build_tiny("sd"))


def test_folder_without_model_index(tmp_path):
    with pytest.raises(PromptError, match="model_index.json"):
        load_pipeline(str(tmp_path), "cpu")


def test_pickle_checkpoints_are_refused(tmp_path):
    path = tmp_path / "model.ckpt"
    path.write_bytes(b"not really a pickle")
    with pytest.raises(PromptError, match=r"\.safetensors"):
        load_pipeline(str(path), "cpu")


def _checkpoint(path, keys):
    from safetensors.torch import save_file

    save_file({k: torch.zeros(2, 2) for k in keys}, str(path))
    return path


@pytest.mark.parametrize("keys,words", [
    (["model.diffusion_model.output_blocks.11.0.skip_connection.weight"],
     ["stable-diffusion-v1-5/stable-diffusion-v1-5", "hf download", "config="]),
    (["conditioner.embedders.1.model.transformer.resblocks.9.mlp.c_proj.bias"],
     ["stabilityai/stable-diffusion-xl-base-1.0"]),
    (["lora_unet_down_blocks_0.alpha"], ["not a Stable Diffusion checkpoint"]),
])
def test_single_file_offline_errors(tmp_path, monkeypatch, keys, words):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda *a, **k: None)
    path = _checkpoint(tmp_path / "model.safetensors", keys)
    with pytest.raises(PromptError) as err:
        load_pipeline(str(path), "cpu")
    assert all(w in str(err.value) for w in words), str(err.value)


def test_damaged_single_file(tmp_path):
    path = tmp_path / "broken.safetensors"
    path.write_bytes(b"\x00" * 10)
    with pytest.raises(PromptError, match="cannot read"):
        load_pipeline(str(path), "cpu")


def test_model_kind_rejects_other_objects():
    with pytest.raises(PromptError, match="not a Stable Diffusion"):
        model_kind(object())


@pytest.mark.parametrize("kind", ["sd", "sdxl"])
def test_render_is_reproducible(kind):
    pipe = build_tiny(kind)

    def render(seed):
        return pipe("a cat", num_inference_steps=2, height=64, width=64, output_type="np",
                    generator=torch.Generator("cpu").manual_seed(seed)).images

    first, again, other = render(7), render(7), render(8)
    assert first.shape == (1, 64, 64, 3)
    assert (first == again).all()
    assert not (first == other).all()


def test_render_pil_size():
    pipe = build_tiny("sd")
    image = pipe("a cat", num_inference_steps=2, height=64, width=96,
                 generator=torch.Generator("cpu").manual_seed(0)).images[0]
    assert image.size == (96, 64)
