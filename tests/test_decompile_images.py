"""Decompile PNGs: the prompts and settings other tools store (issue 11, part 3), and the
command line. Test images are built here with Pillow, with each tool's chunks."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from promptlang.cli import main
from promptlang.compiler import compile_source
from promptlang.errors import PromptError
from promptlang.interop.decompile.images import read

A1111 = ("a (cat:1.2) on a [red:blue:0.4] mat, masterpiece <lora:add_detail:0.6>\n"
         "Negative prompt: (worst quality:1.4), blurry\n"
         "Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 1234567, Size: 512x768, "
         "Model hash: abc123, Model: dreamshaper_8, Clip skip: 2, Version: v1.10.0")

COMFY = {
    "3": {"class_type": "KSampler", "inputs": {"seed": 42, "steps": 20, "cfg": 8.0, "sampler_name": "euler_ancestral",
                                               "scheduler": "normal", "denoise": 1.0, "model": ["10", 0],
                                               "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["5", 0]}},
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "v1-5-pruned-emaonly.safetensors"}},
    "10": {"class_type": "LoraLoader", "inputs": {"lora_name": "detail_tweaker.safetensors", "strength_model": 0.8,
                                                   "strength_clip": 0.8, "model": ["4", 0], "clip": ["4", 1]}},
    "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 768, "height": 512, "batch_size": 2}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "beautiful scenery, (purple galaxy bottle:1.2)",
                                                     "clip": ["10", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "text, watermark", "clip": ["10", 1]}},
}


def png(path, chunks: dict):
    info = PngInfo()
    for key, value in chunks.items():
        info.add_text(key, value if isinstance(value, str) else json.dumps(value))
    Image.new("RGB", (8, 8), "white").save(path, pnginfo=info)
    return str(path)


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def compiles(text: str):
    """The decompiled file compiles."""
    (prompt,) = compile_source(text, lint=False).prompts
    return prompt


def test_a1111_parameters(tmp_path, capsys):
    code, out, err = run(capsys, "decompile", png(tmp_path / "a.png", {"parameters": A1111}), "--no-match")
    assert code == 0
    for line in ('subject  "a" "cat":1.2 "on a" "red" -> "blue" at 0.4 "mat", "masterpiece"',
                 'negative "worst quality":1.4, "blurry"', 'lora     "loras/add_detail.safetensors":0.6', 'model    "dreamshaper_8"',
                 "size     512x768", "steps    28", "guidance 6.5", "seed     1234567", "scheduler dpmpp_2m_karras"):
        assert line in [l.strip() for l in out.splitlines()], (line, out)
    assert "Clip skip: 2" in out and "warning: no promptlang setting for: Clip skip: 2" in err
    p = compiles(out)
    assert (p.settings.steps, p.settings.guidance, p.settings.seed, p.settings.scheduler) == \
        (28, 6.5, 1234567, "dpmpp_2m_karras")
    assert (p.settings.width, p.settings.height) == (512, 768)


def test_comfyui_prompt_graph(tmp_path, capsys):
    code, out, err = run(capsys, "decompile", png(tmp_path / "c.png", {"prompt": COMFY}), "--no-match")
    assert code == 0, err
    p = compiles(out)
    assert p.segments[0].positive[1].text == "purple galaxy bottle" and p.segments[0].positive[1].weight == 1.2
    assert ", ".join(f.text for f in p.segments[0].negative) == "text, watermark"
    s = p.settings
    assert (s.seed, s.steps, s.guidance, s.scheduler, s.width, s.height, s.images) == (42, 20, 8.0, "euler_a", 768, 512, 2)
    assert s.model == "v1-5-pruned-emaonly.safetensors"
    assert 'lora     "loras/detail_tweaker.safetensors":0.8' in out


def test_comfyui_workflow_only(tmp_path, capsys):
    workflow = {"nodes": [
        {"id": 3, "type": "KSampler", "widgets_values": [7, "fixed", 25, 5.5, "dpmpp_2m", "karras", 1.0],
         "inputs": [{"name": "positive", "link": 1}, {"name": "negative", "link": 2}, {"name": "latent_image", "link": 3}]},
        {"id": 6, "type": "CLIPTextEncode", "widgets_values": ["a red fox in the snow"]},
        {"id": 7, "type": "CLIPTextEncode", "widgets_values": ["blurry"]},
        {"id": 5, "type": "EmptyLatentImage", "widgets_values": [512, 512, 1]}],
        "links": [[1, 6, 0, 3, 1, "CONDITIONING"], [2, 7, 0, 3, 2, "CONDITIONING"], [3, 5, 0, 3, 3, "LATENT"]]}
    code, out, err = run(capsys, "decompile", png(tmp_path / "w.png", {"workflow": workflow}), "--no-match")
    assert code == 0, err
    p = compiles(out)
    assert p.segments[0].positive[0].text == "a red fox in the snow"
    assert (p.settings.seed, p.settings.steps, p.settings.scheduler) == (7, 25, "dpmpp_2m_karras")


def test_invokeai_and_fooocus(tmp_path, capsys):
    invoke = {"positive_prompt": "a (castle)1.2 on a hill", "negative_prompt": "fog", "seed": 9, "steps": 30,
              "cfg_scale": 7, "scheduler": "dpmpp_2m_k", "width": 768, "height": 512,
              "model": {"name": "juggernaut"}}
    code, out, _ = run(capsys, "decompile", png(tmp_path / "i.png", {"invokeai_metadata": invoke}), "--no-match")
    p = compiles(out)
    assert p.segments[0].positive[1].weight == 1.2 and p.settings.scheduler == "dpmpp_2m_karras"
    assert p.settings.model == "juggernaut" and p.settings.seed == 9
    fooocus = {"prompt": "a (lighthouse:1.3), storm", "negative_prompt": "", "seed": "77", "steps": 30,
               "guidance_scale": 4, "resolution": "(1152, 896)", "sampler": "dpmpp_2m_sde_gpu",
               "scheduler": "karras", "base_model": "juggernautXL_v8", "styles": "['Fooocus V2']"}
    code, out, err = run(capsys, "decompile", png(tmp_path / "f.png", {"parameters": fooocus,
                                                                       "fooocus_scheme": "fooocus"}), "--no-match")
    p = compiles(out)
    assert (p.settings.seed, p.settings.width, p.settings.height) == (77, 1152, 896)
    assert p.settings.scheduler == "dpmpp_2m_sde_karras" and "Fooocus styles" in err


def test_promptlang_png_says_so(tmp_path, capsys):
    record = {"format": 1, "prompt": "cat", "source": "prompt cat {\n    subject \"a cat\"\n}\n"}
    path = png(tmp_path / "p.png", {"promptlang": record, "parameters": "a cat\nSteps: 30, Seed: 1"})
    code, out, err = run(capsys, "decompile", path)
    assert code == 0
    assert "is a promptlang render" in err and "promptlang reproduce" in err and "promptlang show" in err
    assert 'subject "a cat"' in out


@pytest.mark.parametrize("chunks, message", [
    ({}, "no prompt metadata"),
    ({"prompt": "{not json"}, "not valid JSON"),
    ({"prompt": json.dumps({"1": {"class_type": "CLIPTextEncode", "inputs": {"text": "x"}}})}, "no KSampler"),
    ({"prompt": "[" * 100_000}, "not valid JSON"),
])
def test_junk_is_a_clear_error(tmp_path, capsys, chunks, message):
    code, out, err = run(capsys, "decompile", png(tmp_path / "j.png", chunks))
    assert code == 1 and message in err and "Traceback" not in err and out == ""


def test_not_an_image_and_oversized(tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"junk" * 10)
    code, _, err = run(capsys, "decompile", str(bad))
    assert code == 1 and "not a readable image" in err
    with pytest.raises(PromptError, match="longer than"):
        read({"parameters": "x" * (4 * 1024 * 1024 + 1)})


GRAPH_VALUE = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
                           lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=6), kids, max_size=3),
                           max_leaves=20)
NODE = st.fixed_dictionaries({"class_type": st.sampled_from(["KSampler", "CLIPTextEncode", "EmptyLatentImage",
                                                             "LoraLoader", "CheckpointLoaderSimple", "X"]),
                              "inputs": st.dictionaries(st.sampled_from(["seed", "steps", "cfg", "positive", "negative",
                                                                         "text", "model", "latent_image", "width",
                                                                         "lora_name", "ckpt_name", "sampler_name"]),
                                                        GRAPH_VALUE | st.lists(st.sampled_from(["1", "2", "3"]),
                                                                               min_size=2, max_size=2), max_size=6)})


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["parameters", "prompt", "workflow", "invokeai_metadata", "sd-metadata",
                                        "promptlang"]),
                       st.text(max_size=300) | st.dictionaries(st.sampled_from(["1", "2", "3"]), NODE, max_size=3)
                       .map(json.dumps), max_size=2))
def test_fuzz_metadata_never_crashes(chunks):
    """Whatever the chunks hold: a Found, or a PromptError; nothing else."""
    from promptlang.interop.decompile import write

    try:
        found = read(chunks)
        if found.decompiled is not None:
            write([("x", found.decompiled)])
    except PromptError:
        pass


# --------------------------------------------------------------------------- the command line

def test_cli_text_file_and_out(tmp_path, capsys):
    code, out, _ = run(capsys, "decompile", "--from", "a1111", "a (cat:1.2), in the style of Vincent van Gogh")
    assert code == 0 and "use core" in out and "style    van_gogh" in out
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("# my prompts\na cat::2 a dog --ar 16:9\n\nNegative prompt: nothing\nfox --seed 3\n")
    target = tmp_path / "out.prompt"
    code, out, _ = run(capsys, "decompile", "--from", "midjourney", "--file", str(prompts), "-o", str(target))
    assert code == 0 and out == ""
    text = target.read_text()
    assert "prompt decompiled_1 {" in text and "prompt decompiled_2 {" in text and text.count("# decompiled") == 1
    assert [p.name for p in compile_source(text).prompts] == ["decompiled_1", "decompiled_2"]
    code, _, err = run(capsys, "decompile", "--from", "midjourney", "--file", str(prompts), "-o", str(target))
    assert code == 1 and "--overwrite" in err
    assert run(capsys, "decompile", "--from", "midjourney", "--file", str(prompts), "-o", str(target),
               "--overwrite")[0] == 0
    code, _, err = run(capsys, "decompile", "--from", "a1111", "--file", str(prompts), "-o", str(prompts))
    assert code == 1 and "input file" in err


@pytest.mark.parametrize("args, message", [
    (["decompile", "a cat"], "--from TOOL is needed"),
    (["decompile", "--from", "dalle", "x"], "Invalid value"),
    (["decompile"], "give the prompt text"),
    (["decompile", "--from", "a1111", "x", "--name", "no spaces"], "letters, digits"),
])
def test_cli_usage_errors(capsys, args, message):
    code, _, err = run(capsys, *args)
    assert code == 2 and message in err


def test_cli_name_and_no_match(capsys):
    code, out, _ = run(capsys, "decompile", "--from", "a1111", "--name", "owl", "--no-match",
                       "in the style of Vincent van Gogh")
    assert "prompt owl {" in out and "van_gogh" not in out and "use core" not in out


def test_invokeai_2_and_comfy_sdxl(tmp_path, capsys):
    old = {"image": {"prompt": [{"prompt": "a (red)1.2 barn [blurry, fog]", "weight": 1}], "seed": 3, "steps": 20,
                     "cfg_scale": 7.5, "sampler": "k_euler_a", "width": 512, "height": 512}}
    code, out, err = run(capsys, "decompile", png(tmp_path / "i2.png", {"sd-metadata": old}), "--no-match")
    p = compiles(out)
    assert ", ".join(f.text for f in p.segments[0].negative) == "blurry, fog"
    assert p.segments[0].positive[1].text == "red" and p.settings.seed == 3
    assert p.settings.scheduler == "euler_a"
    graph = {"1": {"class_type": "KSamplerAdvanced", "inputs": {"noise_seed": 5, "steps": 30, "cfg": 6,
                                                                 "sampler_name": "dpmpp_2m", "scheduler": "karras",
                                                                 "positive": ["2", 0], "negative": ["3", 0]}},
             "2": {"class_type": "CLIPTextEncodeSDXL", "inputs": {"text_g": "a fox", "text_l": "a fox"}},
             "3": {"class_type": "ConditioningCombine", "inputs": {"conditioning_1": ["4", 0]}},
             "4": {"class_type": "CLIPTextEncode", "inputs": {"text": "ugly"}}}
    code, out, err = run(capsys, "decompile", png(tmp_path / "x.png", {"prompt": graph}), "--no-match")
    p = compiles(out)
    assert p.segments[0].positive[0].text == "a fox" and p.segments[0].negative[0].text == "ugly"
    assert (p.settings.seed, p.settings.scheduler) == (5, "dpmpp_2m_karras")


def test_image_and_from_is_a_usage_error(tmp_path, capsys):
    code, _, err = run(capsys, "decompile", "--from", "a1111", png(tmp_path / "a.png", {"parameters": A1111}))
    assert code == 2 and "an image says which tool" in err


def test_out_never_written_on_error(tmp_path, capsys):
    target = tmp_path / "out.prompt"
    code, _, _ = run(capsys, "decompile", png(tmp_path / "j.png", {}), "-o", str(target))
    assert code == 1 and not target.exists() and not list(tmp_path.glob(".out.prompt*"))


def test_stdin_file(monkeypatch, capsys):
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"a (cat:1.3)\nNegative prompt: dog\n")))
    code, out, _ = run(capsys, "decompile", "--from", "a1111", "--file", "-", "--no-match")
    assert code == 0 and '"cat":1.3' in out and 'negative "dog"' in out


def test_positional_file_of_prompts_and_long_text(tmp_path, capsys):
    prompts = tmp_path / "p.txt"
    prompts.write_text("a cat\na dog\n")
    code, out, _ = run(capsys, "decompile", "--from", "a1111", str(prompts), "--no-match")
    assert code == 0 and "prompt decompiled_2 {" in out
    code, _, err = run(capsys, "decompile", str(prompts))
    assert code == 2 and "give --from TOOL" in err
    jpg = tmp_path / "a.jpg"
    Image.new("RGB", (8, 8)).save(jpg)
    code, _, err = run(capsys, "decompile", str(jpg))
    assert code == 1 and "PNG files only" in err
    code, out, err = run(capsys, "decompile", "--from", "a1111", "--no-match", "x" * 5000 + "/" + "y" * 300)
    assert code == 0 and "internal error" not in err and "x" * 100 in out


def test_a_missing_image_is_said_to_be_missing(tmp_path, capsys, monkeypatch):
    """`decompile photo.png` where there is no such file: that, not a demand for --from."""
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "decompile", "photo.png")
    assert code == 1 and "photo.png: no such file" in err and "--from" not in err and not out
