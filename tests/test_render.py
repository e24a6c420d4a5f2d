"""Rendering on CPU with tiny random-weight models: reproducibility, provenance, errors."""
import json
import os

import numpy as np
import pytest
from PIL import Image

import promptlang
from promptlang.cli import main

from conftest import tamper  # noqa: E402
from promptlang.schedulers import SCHEDULERS

SRC = '''use core
prompt cat {
    subject "a cat" "in a hat"++
    format  watercolor
    negative blurry
    size 64x64
    steps 2
    seed 11
}
'''


def pixels(path):
    return np.asarray(Image.open(path).convert("RGB"))


def test_same_seed_same_pixels_other_seed_other_pixels(tiny):
    (prompt,) = promptlang.compile_source(SRC).prompts
    a = promptlang.render(prompt, pipe=tiny)[0]
    b = promptlang.render(prompt, pipe=tiny)[0]
    c = promptlang.render(prompt, pipe=tiny, seed=12)[0]
    assert a.image.size == (64, 64) and a.seed == 11
    assert np.array_equal(np.asarray(a.image), np.asarray(b.image))
    assert not np.array_equal(np.asarray(a.image), np.asarray(c.image))


def test_images_use_consecutive_seeds(tiny):
    (prompt,) = promptlang.compile_source(SRC).prompts
    three = promptlang.render(prompt, pipe=tiny, images=3)
    assert [r.seed for r in three] == [11, 12, 13]
    alone = promptlang.render(prompt, pipe=tiny, seed=13)[0]
    assert np.array_equal(np.asarray(three[2].image), np.asarray(alone.image))


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_every_scheduler_renders(tiny, name):
    (prompt,) = promptlang.compile_source(SRC).prompts
    (done,) = promptlang.render(prompt, pipe=tiny, scheduler=name)
    assert done.prompt.settings.scheduler == name
    assert np.isfinite(np.asarray(done.image, dtype=float)).all()
    # the pipeline's own scheduler is put back after the render
    assert tiny.scheduler.config.get("steps_offset") == 1


def test_render_cli_provenance_show_and_reproduce(write, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write("cat.prompt", SRC)
    assert main(["render", str(path), "--model", "builtin:tiny", "-o", "out", "--images", "2", "-q"]) == 0
    out, err = capsys.readouterr()
    assert "builtin:tiny is a tiny random-weight test model: it renders noise" in err
    first, second = tmp_path / "out" / "cat-11.png", tmp_path / "out" / "cat-12.png"
    assert first.exists() and second.exists()
    chunks = Image.open(first).text
    record = json.loads(chunks["promptlang"])
    assert record["seed"] == 11 and record["prompt"] == "cat" and record["model"] == "builtin:tiny"
    assert record["source"] == SRC and record["catalogs"][0]["name"] == "core"
    assert len(record["catalogs"][0]["sha256"]) == 64
    assert record["ir"]["params"]["width"] == 64 and record["test_model"] is True
    assert {"promptlang", "torch", "diffusers"} <= set(record["versions"])
    assert chunks["parameters"].splitlines()[0].startswith("a watercolor painting of a cat (in a hat:1.21)")
    assert "Negative prompt: blurry" in chunks["parameters"]
    assert "Steps: 2, Sampler: Default, CFG scale: 7.5, Seed: 11, Size: 64x64" in chunks["parameters"]

    assert main(["show", str(second)]) == 0
    shown = capsys.readouterr().out
    assert "seed:      12" in shown and "(random-weight test model)" in shown

    assert main(["reproduce", str(second), "-o", "again"]) == 0
    assert np.array_equal(pixels(second), pixels(tmp_path / "again" / "cat-12.png"))
    # never overwrite silently
    capsys.readouterr()
    assert main(["render", str(path), "--model", "builtin:tiny", "-o", "out", "-q"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main(["render", str(path), "--model", "builtin:tiny", "-o", "out", "-q", "--overwrite"]) == 0


@pytest.mark.parametrize("args, message", [
    (["--model", "no-such-org/no-such-model"], "no-such-org/no-such-model"),
    (["--model", "./missing-folder"], "missing-folder"),
    (["--model", "builtin:huge"], "unknown builtin model"),
])
def test_render_errors_leave_no_files(write, tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    path = write("cat.prompt", SRC)
    assert main(["render", str(path), "-o", "out", "-q", *args]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_no_model_anywhere_is_a_clear_error(write, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write("cat.prompt", SRC)
    assert main(["render", str(path), "-q"]) == 1
    assert "names no model" in capsys.readouterr().err


def test_saved_tiny_model_renders_like_builtin(tmp_path, tiny):
    from promptlang.diffusion.models import load_pipeline, save_tiny

    folder = save_tiny(tmp_path / "tiny-sd", "sd")
    loaded = load_pipeline(str(folder), "cpu")
    (prompt,) = promptlang.compile_source(SRC).prompts
    a = promptlang.render(prompt, pipe=loaded)[0]
    b = promptlang.render(prompt, pipe=tiny)[0]
    assert np.array_equal(np.asarray(a.image), np.asarray(b.image))


def test_sdxl_tiny_renders(tmp_path):
    from promptlang.diffusion.models import load_pipeline

    pipe = load_pipeline("builtin:tiny-sdxl", "cpu")
    (prompt,) = promptlang.compile_source(SRC).prompts
    (done,) = promptlang.render(prompt, pipe=pipe)
    assert done.image.size == (64, 64)


@pytest.mark.gpu
def test_fp16_render_on_cuda():
    import torch

    from promptlang.diffusion.models import load_pipeline

    pipe = load_pipeline("builtin:tiny", "cuda")
    assert pipe.unet.dtype == torch.float16
    (prompt,) = promptlang.compile_source(SRC).prompts
    a = promptlang.render(prompt, pipe=pipe)[0]
    b = promptlang.render(prompt, pipe=pipe)[0]
    assert np.array_equal(np.asarray(a.image), np.asarray(b.image))


TWO = SRC + '''prompt dog extends cat {
    subject "a dog"
}
'''


def test_embed_cli_files_metadata_and_round_trip(write, tmp_path, capsys, monkeypatch, tiny):
    import torch

    from promptlang.artifacts.embeddings import load as load_embeddings
    from promptlang.diffusion.encode import encode

    monkeypatch.chdir(tmp_path)
    path = write("two.prompt", TWO)
    assert main(["embed", str(path), "--model", "builtin:tiny", "-o", "emb", "--no-cache"]) == 0
    assert sorted(p.name for p in (tmp_path / "emb").iterdir()) == ["cat.safetensors", "dog.safetensors"]
    tensors, meta = load_embeddings(tmp_path / "emb" / "dog.safetensors")
    assert set(tensors) == {"prompt_embeds", "negative_prompt_embeds"}
    assert tensors["prompt_embeds"].shape == tensors["negative_prompt_embeds"].shape
    assert meta["prompt"] == "dog" and meta["model"] == "builtin:tiny"
    assert meta["compel"].startswith("a watercolor painting of a dog")
    assert len(meta["source_sha256"]) == 64 and meta["promptlang_version"] == promptlang.__version__
    expected = encode(promptlang.compile_source(TWO).prompts[1], tiny)
    assert torch.allclose(tensors["prompt_embeds"], expected["prompt_embeds"], atol=1e-6)
    # the tensors drive the pipeline as they are
    image = tiny(**tensors, num_inference_steps=2, width=64, height=64,
                 generator=torch.Generator().manual_seed(0)).images[0]
    assert image.size == (64, 64)

    assert main(["embed", str(path), "--model", "builtin:tiny", "--prompt", "cat", "-o", "one.safetensors"]) == 0
    assert load_embeddings(tmp_path / "one.safetensors")[1]["prompt"] == "cat"
    capsys.readouterr()
    assert main(["embed", str(path), "--model", "builtin:tiny", "-o", "many.safetensors"]) == 1
    assert "give a folder" in capsys.readouterr().err
    assert not (tmp_path / "many.safetensors").exists()


def test_python_api_names_work_after_importing_the_modules(tiny):
    import promptlang.diffusion.encode as encode_module
    import promptlang.jobs.render as render_module

    (prompt,) = promptlang.compile_source(SRC).prompts
    assert promptlang.encode(prompt, tiny)["prompt_embeds"].shape[0] == 1
    assert promptlang.render(prompt, pipe=tiny)[0].seed == 11
    assert render_module.render(prompt, pipe=tiny)[0].seed == 11 and encode_module.encode is promptlang.encode


_tamper = tamper


@pytest.mark.parametrize("change, message", [
    (lambda r: r["ir"].__setitem__("name", "../../escape"), "bad prompt name"),
    (lambda r: r.__setitem__("seed", "7"), "bad seed"),
    (lambda r: r["ir"]["settings"].__setitem__("scheduler", "bogus"), "unknown scheduler"),
    (lambda r: r.pop("model"), "bad model"),
])
def test_untrusted_png_chunks_are_refused(write, tmp_path, capsys, monkeypatch, change, message):
    monkeypatch.chdir(tmp_path)
    path = write("cat.prompt", SRC)
    assert main(["render", str(path), "--model", "builtin:tiny", "-o", "out", "-q"]) == 0
    _tamper(tmp_path / "out" / "cat-11.png", tmp_path / "evil.png", change)
    for command in (["show", "evil.png"], ["reproduce", "evil.png", "-o", "again", "-q"]):
        capsys.readouterr()
        assert main(command) == 1
        err = capsys.readouterr().err
        assert "promptlang chunk is damaged" in err and message in err
    assert not (tmp_path / "again").exists() and not (tmp_path.parent / "escape-11.png").exists()


def test_show_never_prints_terminal_escapes(write, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write("cat.prompt", SRC)
    assert main(["render", str(path), "--model", "builtin:tiny", "-o", "out", "-q"]) == 0
    _tamper(tmp_path / "out" / "cat-11.png", tmp_path / "esc.png", lambda r: r.__setitem__("source", "\x1b[2J boom"))
    capsys.readouterr()
    assert main(["show", "esc.png"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\\x1b[2J boom" in out


def test_outputs_are_readable_by_others(write, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write("cat.prompt", SRC)
    old = os.umask(0o022)
    try:
        assert main(["render", str(path), "--model", "builtin:tiny", "-o", "out", "-q"]) == 0
    finally:
        os.umask(old)
    assert (tmp_path / "out" / "cat-11.png").stat().st_mode & 0o777 == 0o644


def test_scheduler_names_ignore_the_models_own_scheduler_settings():
    from diffusers import DPMSolverMultistepScheduler

    from promptlang.schedulers import make

    base = DPMSolverMultistepScheduler(use_karras_sigmas=True, algorithm_type="sde-dpmsolver++", solver_order=3)
    euler = make("euler", base.config)
    assert type(euler).__name__ == "EulerDiscreteScheduler" and not euler.config.use_karras_sigmas
    two_m = make("dpmpp_2m", base.config)
    assert (two_m.config.algorithm_type, two_m.config.solver_order, two_m.config.use_karras_sigmas) == \
        ("dpmsolver++", 2, False)
    assert make("dpmpp_2m_karras", base.config).config.use_karras_sigmas


@pytest.mark.parametrize("flag, message", [(["--seed", "-1"], "-1 is not in the range 0<=x<=4294967295"),
                                           (["--seed", str(2**64)], "is not in the range"),
                                           (["--guidance", "nan"], "'nan' is not a finite number")])
def test_render_flag_ranges(write, tmp_path, capsys, monkeypatch, flag, message):
    monkeypatch.chdir(tmp_path)
    path = write("cat.prompt", SRC)
    assert main(["render", str(path), "--model", "builtin:tiny", "-o", "out", "-q", *flag]) == 2  # a usage error
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_out_naming_a_file_is_a_clear_error(write, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write("cat.prompt", SRC)
    assert main(["render", str(path), "--model", "builtin:tiny", "-o", "cat.prompt", "-q"]) == 1
    assert "is a file, not a folder" in capsys.readouterr().err


def test_build_render_loads_each_model_once(write, tmp_path, monkeypatch, tiny, capsys):
    import promptlang.diffusion.models

    calls = []
    monkeypatch.setattr(promptlang.diffusion.models, "load_pipeline", lambda model, device="cpu", **kw: calls.append(model) or tiny)
    write("src/a.prompt", SRC)
    write("src/b.prompt", SRC.replace("prompt cat", "prompt hat"))
    assert main(["build", str(tmp_path / "src"), "-o", str(tmp_path / "out"), "--render", "builtin:tiny"]) == 0
    assert calls == ["builtin:tiny"]
    assert (tmp_path / "out" / "renders" / "a" / "cat-11.png").exists()
    assert (tmp_path / "out" / "renders" / "b" / "hat-11.png").exists()
    err = capsys.readouterr().err
    assert err.count("random-weight test model") == 1  # said once for the whole build


def test_build_counts_target_warnings_and_lists_them_on_request(write, tmp_path, capsys):
    write("src/w.prompt", 'prompt w {\n    subject "a" "cat"++ "on a mat"\n}\n')
    assert main(["build", str(tmp_path / "src"), "-o", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "warning:" not in err
    assert "target warnings (1 midjourney, 1 plain)" in err and "--warnings lists them" in err
    assert main(["build", str(tmp_path / "src"), "-o", str(tmp_path / "out"), "--overwrite", "--warnings"]) == 0
    err = capsys.readouterr().err
    assert "plain text has no weights" in err and "Midjourney weights whole parts" in err
    assert "target warnings" not in err
