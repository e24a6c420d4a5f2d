"""LoRAs and textual-inversion embeddings: the language, catalogs, targets, rendering
(tiny LoRAs and embeddings built here, in code), provenance and reproduction."""
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import promptlang
from promptlang.errors import PromptError

CATALOG = '''name: team
version: 1.0.0
lora:
  detail:
    file: loras/detail.safetensors
    trigger: "highly detailed"
    weight: 0.5
  peft_style:
    file: loras/peft.safetensors
embedding:
  neggy:
    file: loras/neggy.safetensors
'''


def kohya_lora(pipe, seed=0, rank=4):
    """A kohya/A1111-style LoRA for the tiny SD model: attention of the UNet and the text encoder."""
    import torch

    g = torch.Generator().manual_seed(seed)
    out = {}
    # text-encoder names as real files write them (transformers 4's CLIP had a `text_model` level)
    for prefix, module in (("lora_unet_", pipe.unet), ("lora_te_text_model_", pipe.text_encoder)):
        for name, layer in module.named_modules():
            if isinstance(layer, torch.nn.Linear) and name.rsplit(".", 1)[-1] in ("to_q", "to_k", "to_v", "q_proj",
                                                                                    "v_proj"):
                key = prefix + name.replace(".", "_")
                out[f"{key}.lora_down.weight"] = torch.randn(rank, layer.in_features, generator=g)
                out[f"{key}.lora_up.weight"] = torch.randn(layer.out_features, rank, generator=g) * 0.5
                out[f"{key}.alpha"] = torch.tensor(float(rank) / 2)
    return out


def peft_lora(pipe, seed=1, rank=2):
    """A diffusers/peft-style LoRA (unet.… lora_A/lora_B) on the UNet's conv_in and a text-encoder layer."""
    import torch

    g = torch.Generator().manual_seed(seed)
    conv = pipe.unet.conv_in
    q = pipe.text_encoder.encoder.layers[0].mlp.fc1
    return {"unet.conv_in.lora_A.weight": torch.randn(rank, conv.in_channels, 3, 3, generator=g),
            "unet.conv_in.lora_B.weight": torch.randn(conv.out_channels, rank, 1, 1, generator=g),
            "text_encoder.text_model.encoder.layers.0.mlp.fc1.lora_A.weight": torch.randn(rank, q.in_features,
                                                                                             generator=g),
            "text_encoder.text_model.encoder.layers.0.mlp.fc1.lora_B.weight": torch.randn(q.out_features, rank,
                                                                                             generator=g)}


@pytest.fixture
def project(tmp_path, tiny, monkeypatch):
    """A project with a catalog of two LoRAs and an embedding (two vectors), built for builtin:tiny."""
    import torch
    from safetensors.torch import save_file

    (tmp_path / "promptlang.toml").write_text("", encoding="utf-8")
    (tmp_path / "loras").mkdir()
    save_file(kohya_lora(tiny), str(tmp_path / "loras" / "detail.safetensors"))
    save_file(peft_lora(tiny), str(tmp_path / "loras" / "peft.safetensors"))
    vectors = torch.randn(2, 32, generator=torch.Generator().manual_seed(5)) * 3
    save_file({"emb_params": vectors}, str(tmp_path / "loras" / "neggy.safetensors"))
    (tmp_path / "team.yaml").write_text(CATALOG, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def prompt_file(project, body, name="p.prompt"):
    path = project / name
    path.write_text('use "./team.yaml"\nprompt p {\n    subject "a cat"\n    size 64x64\n    steps 2\n    seed 3\n'
                    + body + "\n}\n", encoding="utf-8")
    return path


def one(path):
    (prompt,) = promptlang.compile(str(path))
    return prompt


def pixels(done):
    return np.asarray(done.image)


# ------------------------------------------------------------------ language and IR

def test_lora_field_catalog_and_path_weights_triggers_and_inheritance(project):
    path = project / "p.prompt"
    path.write_text('''use "./team.yaml"
defaults { lora detail }
prompt a { subject "a cat" }
prompt b extends a {
    subject "a dog"
    lora += "loras/peft.safetensors":0.3
    negative neggy:1.2, "blurry"
}
prompt c extends a { lora peft_style:2 }
''', encoding="utf-8")
    a, b, c = promptlang.compile(str(path))
    assert [(x.kind, x.name, x.weight) for x in a.adapters] == [("lora", "detail", 0.5)]
    assert a.adapters[0].file == str(project / "loras" / "detail.safetensors")
    assert promptlang.ir.join_text(a.segments[0].positive) == "a cat, highly detailed"
    assert [(x.kind, x.name, x.weight) for x in b.adapters] == [
        ("lora", "detail", 0.5), ("lora", "peft", 0.3), ("embedding", "neggy", 1.0)]
    assert (b.segments[0].negative[0].text, b.segments[0].negative[0].weight) == ("neggy", 1.2)
    assert [(x.name, x.weight) for x in c.adapters] == [("peft_style", 2.0)]
    assert promptlang.ir.join_text(c.segments[0].positive) == "a cat"  # no trigger words


def test_json_ir_round_trips_adapters_and_reads_old_files(project):
    prompt = one(prompt_file(project, "    lora detail:0.8\n    negative neggy"))
    data = promptlang.ir.to_json(prompt)
    assert data["adapters"][0] == {"kind": "lora", "name": "detail", "file": prompt.adapters[0].file,
                                   "weight": 0.4, "sha256": None}
    assert promptlang.ir.from_json(json.loads(json.dumps(data))).adapters == prompt.adapters
    del data["adapters"]
    assert promptlang.ir.from_json(data).adapters == ()
    plain = one(prompt_file(project, "", "q.prompt"))
    assert "adapters" not in promptlang.ir.to_json(plain)


@pytest.mark.parametrize("body, message", [
    ("    lora detial", "unknown lora `detial`; did you mean `detail`?"),
    ('    lora "loras/x.pt"', "a quoted LoRA is a path to a .safetensors file"),
    ('    lora "../outside.safetensors"', "points outside the project folder"),
    ('    lora "/etc/x.safetensors"', "must be relative"),
    ("    lora detail detail", "missing comma"),
    ('    lora "a.safetensors" -> "b.safetensors" at 0.5', "cannot change during sampling"),
    ('    lora blend "a.safetensors":1, "b.safetensors":1', "LoRAs cannot be blended"),
    ("    lora detail, detail:2", "lists the LoRA `detail` twice"),
    ("    lora += ", "needs a value"),
    ("    style detail", "is a lora entry"),
])
def test_lora_mistakes_point_at_the_place(project, body, message):
    path = prompt_file(project, body)
    with pytest.raises(PromptError) as info:
        promptlang.compile(str(path))
    text = info.value.format() if hasattr(info.value, "format") else str(info.value)
    assert message in str(text), text


@pytest.mark.parametrize("entry, message", [
    ("  x:\n    file: loras/x.bin\n", "expected a .safetensors file"),
    ("  x:\n    file: /abs/x.safetensors\n", "relative to the catalog"),
    ("  x:\n    trigger: y\n", "lora.x.file: is missing"),
    ("  x:\n    file: a.safetensors\n    sha256: abc\n", "expected 64 hexadecimal digits"),
    ("  x:\n    file: a.safetensors\n    trigers: y\n", "unknown field; did you mean `trigger`?"),
    ("  x: loras/x.safetensors\n", "expected a mapping with `file`"),
])
def test_catalog_lora_entries_are_validated(tmp_path, entry, message):
    from promptlang import catalog

    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\nlora:\n" + entry, encoding="utf-8")
    with pytest.raises(PromptError) as info:
        catalog.load(path)
    assert message in info.value.message


def test_catalog_file_may_not_leave_its_project(tmp_path, monkeypatch):
    inner = tmp_path / "proj"
    inner.mkdir()
    (inner / "promptlang.toml").write_text("", encoding="utf-8")
    (inner / "team.yaml").write_text("name: team\nlora:\n  x:\n    file: ../../x.safetensors\n", encoding="utf-8")
    (inner / "p.prompt").write_text('use "./team.yaml"\nprompt p { subject "a"\n lora x }\n', encoding="utf-8")
    monkeypatch.chdir(inner)
    with pytest.raises(PromptError) as info:
        promptlang.compile(str(inner / "p.prompt"))
    assert "lora.x.file" in str(info.value) and "points outside the catalog's project folder" in str(info.value)


# ------------------------------------------------------------------ targets

def test_targets_write_or_warn(project):
    prompt = one(prompt_file(project, "    lora detail:0.8, peft_style\n    negative neggy, \"blurry\""))
    warnings = []
    text = promptlang.targets.emit("a1111", prompt, warnings)
    assert text.splitlines()[0] == "a cat, highly detailed <lora:detail:0.4><lora:peft:1>"  # by file name
    assert text.splitlines()[1] == "Negative prompt: neggy, blurry"
    assert warnings == []
    # ComfyUI loads an embedding by its file's name, written `embedding:NAME`; LoRAs are nodes
    warnings = []
    text = promptlang.targets.emit("comfyui", prompt, warnings)
    assert text.splitlines()[1] == "Negative prompt: embedding:neggy, blurry"
    said = [w.message for w in warnings]
    assert sum("cannot load LoRAs" in m for m in said) == 2 and not any("embeddings" in m for m in said), said
    for target in ("compel", "plain", "midjourney"):
        warnings = []
        promptlang.targets.emit(target, prompt, warnings)
        said = [w.message for w in warnings]
        assert sum("cannot load LoRAs: `detail` (weight 0.4)" in m for m in said) == 1, said
        assert sum("cannot load LoRAs: `peft_style`" in m for m in said) == 1, said
        assert sum("cannot load textual-inversion embeddings: `neggy`" in m for m in said) == 1, said


# ------------------------------------------------------------------ rendering

def test_lora_changes_pixels_weight_zero_does_not_and_the_pipeline_is_left_as_it_was(project, tiny):
    before = {name: p.detach().clone() for name, p in tiny.unet.named_parameters()}
    text_before = {name: p.detach().clone() for name, p in tiny.text_encoder.named_parameters()}
    plain = one(prompt_file(project, "", "a.prompt"))
    with_lora = one(prompt_file(project, '    lora "loras/detail.safetensors"', "b.prompt"))
    zero = one(prompt_file(project, '    lora "loras/detail.safetensors":0', "c.prompt"))
    other = one(prompt_file(project, "    lora peft_style", "d.prompt"))
    base = pixels(promptlang.render(plain, pipe=tiny)[0])
    changed = pixels(promptlang.render(with_lora, pipe=tiny)[0])
    assert np.abs(changed.astype(int) - base).max() > 0
    assert np.array_equal(pixels(promptlang.render(zero, pipe=tiny)[0]), base)
    assert np.abs(pixels(promptlang.render(other, pipe=tiny)[0]).astype(int) - base).max() > 0
    # a render without the LoRA after ones with it: the same pixels, the same modules and weights
    assert np.array_equal(pixels(promptlang.render(plain, pipe=tiny)[0]), base)
    assert all(type(m).__name__ != "LoraLayer" for m in tiny.unet.modules())
    after = dict(tiny.unet.named_parameters())
    assert set(after) == set(before) and all(torch_equal(after[n], before[n]) for n in before)
    after = dict(tiny.text_encoder.named_parameters())
    assert set(after) == set(text_before) and all(torch_equal(after[n], text_before[n]) for n in text_before)


def torch_equal(a, b):
    import torch

    return torch.equal(a.detach(), b)


def test_a_lora_on_the_text_encoder_changes_the_embeddings(project, tiny):
    from promptlang.diffusion.adapters import applied
    from promptlang.diffusion.encode import encode
    from promptlang.diffusion.models import wrap

    prompt = promptlang.adapters.hashed(one(prompt_file(project, '    lora "loras/detail.safetensors"')))
    model = wrap(tiny, "builtin:tiny")
    plain = encode(prompt, model)["prompt_embeds"]
    loaded = encode(prompt, applied(model, prompt.adapters))["prompt_embeds"]
    assert not np.allclose(plain.numpy(), loaded.numpy())
    assert np.array_equal(encode(prompt, model)["prompt_embeds"].numpy(), plain.numpy())


def test_embedding_token_reaches_the_text_encoder_with_all_its_vectors(project, tiny):
    from promptlang.diffusion.adapters import applied
    from promptlang.diffusion.encode import _compels
    from promptlang.diffusion.models import wrap

    prompt = promptlang.adapters.hashed(one(prompt_file(project, "    negative neggy")))
    model = applied(wrap(tiny, "builtin:tiny"), prompt.adapters)
    provider = _compels(model.pipe, "sd")[0].conditioning_provider
    ids = provider.get_token_ids(["neggy, blurry"], include_start_and_end_markers=False)[0]
    vocab = model.pipe.tokenizer.get_vocab()
    assert ids[:2] == [vocab["neggy"], vocab["neggy_1"]] and len(ids) == 4  # neggy neggy_1 , blurry
    table = model.pipe.text_encoder.get_input_embeddings().weight
    from safetensors.torch import load_file

    vectors = load_file(str(project / "loras" / "neggy.safetensors"))["emb_params"]
    assert np.allclose(table[ids[:2]].detach().numpy(), vectors.numpy())
    # the pipeline's own tokenizer and text encoder are untouched
    assert "neggy" not in tiny.tokenizer.get_vocab()
    assert tiny.text_encoder.get_input_embeddings().weight.shape[0] == 49408


def test_embedding_changes_pixels_against_the_same_word_without_it(project, tiny):
    with_embedding = one(prompt_file(project, "    negative neggy", "a.prompt"))
    without = promptlang.ir.from_json({**promptlang.ir.to_json(with_embedding), "adapters": []})
    a = pixels(promptlang.render(with_embedding, pipe=tiny)[0])
    b = pixels(promptlang.render(without, pipe=tiny)[0])
    assert np.abs(a.astype(int) - b).max() > 0
    assert "neggy" not in tiny.tokenizer.get_vocab()


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b"\x80\x04not safetensors"), "is not a readable safetensors file"),
    (lambda p: p.unlink(), "no such file"),
])
def test_broken_or_missing_files_are_clear_errors(project, tiny, make, message):
    make(project / "loras" / "detail.safetensors")
    prompt = one(prompt_file(project, "    lora detail"))
    with pytest.raises(PromptError) as info:
        promptlang.render(prompt, pipe=tiny)
    assert message in info.value.message and "detail" in info.value.message


def test_lora_for_another_model_is_refused(project, tiny):
    from safetensors.torch import save_file
    import torch

    save_file({"lora_unet_mid_block_nothing_here.lora_down.weight": torch.zeros(2, 4),
               "lora_unet_mid_block_nothing_here.lora_up.weight": torch.zeros(4, 2)},
              str(project / "loras" / "other.safetensors"))
    prompt = one(prompt_file(project, '    lora "loras/other.safetensors"'))
    with pytest.raises(PromptError, match="names no linear or convolution layer"):
        promptlang.render(prompt, pipe=tiny)


def test_catalog_sha256_is_checked(project, tiny):
    data = (project / "loras" / "detail.safetensors").read_bytes()
    good = hashlib.sha256(data).hexdigest()
    (project / "team.yaml").write_text(CATALOG.replace("weight: 0.5", f"weight: 0.5\n    sha256: {good}"),
                                       encoding="utf-8")
    prompt = one(prompt_file(project, "    lora detail"))
    assert prompt.adapters[0].sha256 == good
    assert promptlang.render(prompt, pipe=tiny)
    (project / "loras" / "detail.safetensors").write_bytes(data + b" ")
    with pytest.raises(PromptError, match="has changed: its sha256 is"):
        promptlang.render(prompt, pipe=tiny)


# ------------------------------------------------------------------ provenance

def test_render_records_hashes_show_prints_them_reproduce_checks_them(project, tiny_cli, capsys):
    path = prompt_file(project, "    lora detail:0.8\n    negative neggy")
    assert tiny_cli("render", str(path), "--model", "builtin:tiny", "-o", "out", "-q") == 0
    png = project / "out" / "p-3.png"
    record = json.loads(Image.open(png).text["promptlang"])
    files = {a["name"]: a for a in record["ir"]["adapters"]}
    for name in ("detail", "neggy"):
        assert files[name]["sha256"] == hashlib.sha256(Path(files[name]["file"]).read_bytes()).hexdigest()
    assert files["detail"]["weight"] == 0.4
    assert "<lora:detail:0.4>" in Image.open(png).text["parameters"]
    capsys.readouterr()
    assert tiny_cli("show", str(png)) == 0
    shown = capsys.readouterr().out
    assert "lora:      detail weight 0.4  sha256 " + files["detail"]["sha256"][:16] in shown
    assert "embedding: neggy  sha256 " + files["neggy"]["sha256"][:16] in shown
    assert tiny_cli("reproduce", str(png), "-o", "again") == 0
    assert np.array_equal(np.asarray(Image.open(png)), np.asarray(Image.open(project / "again" / "p-3.png")))
    lora = project / "loras" / "detail.safetensors"
    lora.write_bytes(lora.read_bytes()[:-1] + b" ")
    capsys.readouterr()
    assert tiny_cli("reproduce", str(png), "-o", "third") == 1
    err = capsys.readouterr().err
    assert "cannot reproduce" in err and "LoRA `detail`" in err and "has changed" in err
    assert not (project / "third").exists()
    lora.unlink()
    assert tiny_cli("reproduce", str(png), "-o", "third") == 1
    assert "no such file" in capsys.readouterr().err
    # a record whose hash was taken out, or damaged, is refused before anything loads
    from conftest import tamper

    tamper(png, project / "nohash.png", lambda r: r["ir"]["adapters"][1].update(sha256=None))
    assert tiny_cli("reproduce", str(project / "nohash.png"), "-o", "fourth") == 1
    assert "without the sha256 of its file" in capsys.readouterr().err
    tamper(png, project / "badhash.png", lambda r: r["ir"]["adapters"][0].update(sha256="xyz"))
    assert tiny_cli("reproduce", str(project / "badhash.png"), "-o", "fourth") == 1
    assert "promptlang chunk is damaged (bad adapter sha256)" in capsys.readouterr().err
    assert not (project / "fourth").exists()



def test_sdxl_embedding_and_lora_on_both_text_encoders(tmp_path, monkeypatch):
    import torch
    from safetensors.torch import save_file

    from promptlang.diffusion.models import build_tiny

    pipe = build_tiny("sdxl")
    g = torch.Generator().manual_seed(2)
    (tmp_path / "promptlang.toml").write_text("", encoding="utf-8")
    save_file({"clip_l": torch.randn(1, 32, generator=g) * 3, "clip_g": torch.randn(1, 32, generator=g) * 3},
              str(tmp_path / "xl_emb.safetensors"))
    layer = pipe.text_encoder_2.text_model.encoder.layers[1].self_attn.k_proj
    save_file({"text_encoder_2.text_model.encoder.layers.1.self_attn.k_proj.lora_A.weight":
               torch.randn(2, layer.in_features, generator=g),
               "text_encoder_2.text_model.encoder.layers.1.self_attn.k_proj.lora_B.weight":
               torch.randn(layer.out_features, 2, generator=g)}, str(tmp_path / "xl_lora.safetensors"))
    (tmp_path / "xl.yaml").write_text("name: xl\nembedding:\n  xlemb:\n    file: xl_emb.safetensors\n",
                                      encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    src = 'use "./xl.yaml"\nprompt p {\n subject "a cat"\n size 64x64\n steps 2\n seed 1\n%s\n}\n'
    plain, emb, lora = (promptlang.compile(src % body) for body in ("", " style xlemb",
                                                                    ' lora "xl_lora.safetensors"'))
    base = pixels(promptlang.render(plain[0], pipe=pipe)[0])
    without = promptlang.ir.from_json({**promptlang.ir.to_json(emb[0]), "adapters": []})
    assert np.abs(pixels(promptlang.render(emb[0], pipe=pipe)[0]).astype(int)
                  - pixels(promptlang.render(without, pipe=pipe)[0])).max() > 0
    assert np.abs(pixels(promptlang.render(lora[0], pipe=pipe)[0]).astype(int) - base).max() > 0
    assert np.array_equal(pixels(promptlang.render(plain[0], pipe=pipe)[0]), base)
    assert "xlemb" not in pipe.tokenizer.get_vocab() and "xlemb" not in pipe.tokenizer_2.get_vocab()


def test_sd_embedding_on_an_sdxl_model_is_a_clear_error(project):
    from promptlang.diffusion.models import build_tiny

    prompt = one(prompt_file(project, "    negative neggy"))
    with pytest.raises(PromptError, match="is an SD embedding; an SDXL model needs `clip_l` and `clip_g`"):
        promptlang.render(prompt, pipe=build_tiny("sdxl"))


def test_sdxl_kohya_lora_in_the_original_block_layout(tmp_path, monkeypatch):
    """kohya writes SDXL UNet names in the SGM layout (input_blocks_3_1_…): mapped to diffusers' modules."""
    import torch
    from safetensors.torch import save_file

    from promptlang.diffusion.adapters import _layers
    from promptlang.diffusion.models import build_tiny

    pipe = build_tiny("sdxl")
    g = torch.Generator().manual_seed(4)
    shapes = {  # kohya name -> (module in diffusers' layout)
        "lora_unet_input_blocks_3_1_transformer_blocks_0_attn2_to_k": "down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k",
        "lora_unet_output_blocks_1_1_proj_out": "up_blocks.0.attentions.1.proj_out",
        "lora_unet_input_blocks_1_0_in_layers_2": "down_blocks.0.resnets.0.conv1",
        "lora_unet_middle_block_1_proj_in": "mid_block.attentions.0.proj_in",
        "lora_te2_text_model_encoder_layers_0_mlp_fc1": "text_model.encoder.layers.0.mlp.fc1",
    }
    tensors = {}
    for key, path in shapes.items():
        component = pipe.text_encoder_2 if key.startswith("lora_te2_") else pipe.unet
        layer = dict(component.named_modules())[path]
        if isinstance(layer, torch.nn.Conv2d):
            down = torch.randn(2, layer.in_channels, *layer.kernel_size, generator=g)
            up = torch.randn(layer.out_channels, 2, 1, 1, generator=g)
        else:
            down, up = torch.randn(2, layer.in_features, generator=g), torch.randn(layer.out_features, 2, generator=g)
        tensors.update({f"{key}.lora_down.weight": down, f"{key}.lora_up.weight": up, f"{key}.alpha": torch.tensor(1.0)})
    (tmp_path / "promptlang.toml").write_text("", encoding="utf-8")
    save_file(tensors, str(tmp_path / "xl_kohya.safetensors"))
    monkeypatch.chdir(tmp_path)
    adapter = promptlang.ir.Adapter("lora", "xl_kohya", str(tmp_path / "xl_kohya.safetensors"))
    found = _layers(adapter, tensors, pipe)
    assert {path for _, path in found} == set(shapes.values())
    src = 'prompt p {\n subject "a cat"\n size 64x64\n steps 2\n seed 1\n%s\n}\n'
    (plain,), (lora,) = (promptlang.compile(src % body) for body in ("", ' lora "xl_kohya.safetensors"'))
    base = pixels(promptlang.render(plain, pipe=pipe)[0])
    assert np.abs(pixels(promptlang.render(lora, pipe=pipe)[0]).astype(int) - base).max() > 0
    assert np.array_equal(pixels(promptlang.render(plain, pipe=pipe)[0]), base)


@pytest.mark.parametrize("make, message", [
    (lambda p: p.mkdir(), "is a folder"),
    (lambda p: __import__("os").mkfifo(p), "is not a regular file"),
])
def test_a_lora_that_is_not_a_file_is_refused_without_waiting(project, tiny, make, message):
    make(project / "loras" / "odd.safetensors")
    prompt = one(prompt_file(project, '    lora "loras/odd.safetensors"'))
    with pytest.raises(PromptError) as info:
        promptlang.render(prompt, pipe=tiny)
    assert message in info.value.message


def test_a_pickle_file_named_by_an_untrusted_record_is_never_read(project, tiny):
    (project / "loras" / "evil.pt").write_bytes(b"\x80\x04 pickle")
    prompt = one(prompt_file(project, "    lora detail"))
    data = promptlang.ir.to_json(prompt)
    data["adapters"][0]["file"] = str(project / "loras" / "evil.pt")
    with pytest.raises(PromptError, match="is not a .safetensors file"):
        promptlang.render(promptlang.ir.from_json(data), pipe=tiny)


def test_walk_loads_the_endpoints_loras_and_refuses_different_ones(project, tiny_cli, capsys):
    from promptlang.artifacts import records
    from promptlang.jobs import walk as walk_job

    (project / "w.prompt").write_text('''use "./team.yaml"
defaults { size 64x64
 steps 2
 lora detail }
prompt a { subject "a cat"
 seed 1 }
prompt b { subject "a dog"
 seed 2 }
prompt c { subject "a cow"
 seed 3
 lora peft_style }
''', encoding="utf-8")
    assert tiny_cli("walk", "w.prompt", "--from", "a", "--to", "b", "--frames", "3", "-o", "out",
                    "--model", "builtin:tiny", "--no-cache", "-q") == 0
    assert tiny_cli("render", "w.prompt", "--model", "builtin:tiny", "-o", "r", "-q", "--no-cache") == 0
    first = np.asarray(Image.open(project / "out" / "walk-a-b-000.png").convert("RGB"))
    assert np.array_equal(first, np.asarray(Image.open(project / "r" / "a-1.png").convert("RGB")))
    middle = project / "out" / "walk-a-b-001.png"
    again = walk_job.reproduce_frame(records.read(middle), project / "again")
    assert np.array_equal(np.asarray(Image.open(again)), np.asarray(Image.open(middle)))
    capsys.readouterr()
    assert tiny_cli("walk", "w.prompt", "--from", "a", "--to", "c", "--frames", "3", "-o", "out2",
                    "--model", "builtin:tiny", "-q") == 1
    err = capsys.readouterr().err
    assert "load different LoRAs or embeddings" in err and "w.prompt:9:" in err
    assert not (project / "out2").exists()
    lora = project / "loras" / "detail.safetensors"
    lora.write_bytes(lora.read_bytes() + b" ")
    with pytest.raises(PromptError, match="has changed"):
        walk_job.reproduce_frame(records.read(middle), project / "again2")


def test_catalog_show_lists_loras_and_embeddings(project, capsys):
    from promptlang.cli import main

    assert main(["catalog", "show", "./team.yaml"]) == 0
    out = capsys.readouterr().out
    assert "lora (2)\n  detail      loras/detail.safetensors  [trigger: highly detailed]  [weight 0.5]" in out
    assert "embedding (1)\n  neggy  loras/neggy.safetensors" in out


def test_export_skips_files_and_diff_sees_a_changed_file(project):
    from promptlang import catalog, interop, lock

    cat = catalog.load(project / "team.yaml")
    data, warnings, count = interop.export(cat, "a1111-csv")
    assert count == 0 and b"detail" not in data
    assert any("lora.detail: warning: a lora is a file, not a style; skipped" in w for w in warnings)
    (project / "team2.yaml").write_text(CATALOG.replace("loras/detail.safetensors", "loras/detail2.safetensors"),
                                        encoding="utf-8")
    changed = lock.diff(cat, catalog.load(project / "team2.yaml"))
    assert changed == {"lora": {"added": [], "removed": [], "changed": {
        "detail": {"file": ("loras/detail.safetensors", "loras/detail2.safetensors")}}}}


def test_a_catalog_with_files_reads_back_from_the_cache_whole(project):
    from promptlang import catalog

    digest = "ab" * 32
    (project / "team.yaml").write_text(CATALOG.replace("weight: 0.5", f"weight: 0.5\n    sha256: {digest}"),
                                       encoding="utf-8")
    first = catalog.load(project / "team.yaml")
    catalog._load_cached.cache_clear()
    again = catalog.load(project / "team.yaml")  # from promptlang's on-disk cache
    assert again == first and again.sha256 == first.sha256
    entry = again.get("lora", "detail")
    assert (entry.file, entry.sha256, entry.text, entry.weight) == ("loras/detail.safetensors", digest,
                                                                    "highly detailed", 0.5)


@pytest.mark.parametrize("tensors, message", [
    ({"lora_unet_conv_in.lora_down.weight": [0, 4, 3, 3], "lora_unet_conv_in.lora_up.weight": [32, 0, 1, 1]},
     "are not a LoRA's"),
    ({"lora_unet_conv_in.lora_down.weight": [2, 4, 3, 3], "lora_unet_conv_in.lora_up.weight": "nan"},
     "not finite numbers"),
    ({"lora_unet_conv_in.lora_down.weight": [2, 4, 3, 3], "lora_unet_conv_in.lora_up.weight": [32, 2, 1, 1],
      "lora_unet_conv_in.alpha": [3]}, "are not a LoRA's"),
    ({"lora_unet_conv_in.lora_down.weight": [2, 5, 3, 3], "lora_unet_conv_in.lora_up.weight": [32, 2, 1, 1]},
     "do not fit its weight"),
    ({"lora_unet_conv_in.lora_down.weight": [2, 4, 3, 3]}, "has only one of its two matrices"),
    ({"lora_unet_conv_in.hada_w1_a": [2, 4]}, "LyCORIS, LoHa, LoKr and DoRA are not read"),
    ({"something_else.lora_down.weight": [2, 4]}, "names no part of the model"),
])
def test_damaged_loras_are_clear_errors(project, tiny, tensors, message):
    import torch
    from safetensors.torch import save_file

    made = {k: torch.full((32, 2, 1, 1), float("nan")) if v == "nan" else torch.ones(v) for k, v in tensors.items()}
    save_file(made, str(project / "loras" / "bad.safetensors"))
    prompt = one(prompt_file(project, '    lora "loras/bad.safetensors"'))
    with pytest.raises(PromptError) as info:
        promptlang.render(prompt, pipe=tiny)
    assert message in info.value.message and "LoRA `bad`" in info.value.message


def test_damaged_embedding_is_a_clear_error(project, tiny):
    import torch
    from safetensors.torch import save_file

    save_file({"emb_params": torch.full((1, 32), float("inf"))}, str(project / "loras" / "neggy.safetensors"))
    with pytest.raises(PromptError, match="holds values that are not finite numbers"):
        promptlang.render(one(prompt_file(project, "    negative neggy")), pipe=tiny)
    save_file({"emb_params": torch.ones(1, 16)}, str(project / "loras" / "neggy.safetensors"))
    with pytest.raises(PromptError, match="has vectors of width 16, and this model's text encoder takes 32"):
        promptlang.render(one(prompt_file(project, "    negative neggy")), pipe=tiny)


def test_loras_are_refused_on_a_pipeline_with_fused_projections(project):
    from promptlang.diffusion import fast
    from promptlang.diffusion.adapters import applied
    from promptlang.diffusion.models import build_tiny, wrap

    pipe = build_tiny("sd")
    applied_steps = fast.apply(pipe, compile=False)
    assert any(step.startswith("fused-qkv") for step in applied_steps)
    prompt = promptlang.adapters.hashed(one(prompt_file(project, "    lora detail")))
    with pytest.raises(PromptError, match="fused .fast mode."):
        applied(wrap(pipe, "builtin:tiny"), prompt.adapters)


def test_embed_encodes_with_the_prompts_embeddings_and_loras(project, tiny_cli, tiny):
    from promptlang.artifacts.embeddings import load as load_embeddings
    from promptlang.diffusion.adapters import applied
    from promptlang.diffusion.encode import encode
    from promptlang.diffusion.models import wrap

    path = prompt_file(project, "    negative neggy\n    lora detail")
    assert tiny_cli("embed", str(path), "--model", "builtin:tiny", "-o", "emb", "--no-cache") == 0
    tensors, _ = load_embeddings(project / "emb" / "p.safetensors")
    prompt = promptlang.adapters.hashed(one(path))
    model = wrap(tiny, "builtin:tiny")
    want = encode(prompt, applied(model, prompt.adapters))
    assert np.array_equal(tensors["negative_prompt_embeds"].numpy(), want["negative_prompt_embeds"].numpy())
    assert not np.allclose(tensors["negative_prompt_embeds"].numpy(),
                           encode(prompt, model)["negative_prompt_embeds"].numpy())


def test_the_last_view_is_kept_for_the_next_batch_of_the_same_prompt(project, tiny):
    import gc

    from promptlang.diffusion import adapters as loader
    from promptlang.diffusion.models import wrap

    prompt = promptlang.adapters.hashed(one(prompt_file(project, "    lora detail\n    negative neggy")))
    model = wrap(tiny, "builtin:tiny")
    first = loader.applied(model, prompt.adapters)
    assert loader.applied(model, prompt.adapters) is first
    heavier = tuple(promptlang.ir.Adapter(a.kind, a.name, a.file, a.weight * 2, a.sha256) for a in prompt.adapters)
    other = loader.applied(model, heavier)
    assert other is not first and loader.applied(model, heavier) is other
    unhashed = one(prompt_file(project, "    lora detail", "u.prompt")).adapters  # no sha256: never kept
    assert loader.applied(model, unhashed) is not loader.applied(model, unhashed)
    import weakref

    ref, count = weakref.ref(model), len(loader._VIEWS)
    del model, first, other
    gc.collect()
    assert ref() is None and len(loader._VIEWS) == count - 1  # the kept view goes with its model


def test_sheet_varies_a_loras_weight_row_by_row(project, tiny_cli, tiny):
    path = prompt_file(project, "    lora detail")
    assert tiny_cli("sheet", str(path), "--vary", "lora=detail:0,detail:1,\"loras/peft.safetensors\"",
                    "--seeds", "3", "-o", "cmp.png", "--model", "builtin:tiny", "--no-cache", "-q") == 0
    record = json.loads(Image.open(project / "cmp.png").text["promptlang-sheet"])
    assert record["row_labels"] == ["p · lora=detail:0", "p · lora=detail:1", 'p · lora="loras/peft.safetensors"']
    tiles = [np.asarray(Image.open(project / t["file"]).convert("RGB")) for t in record["tiles"]]
    adapters = [json.loads(Image.open(project / t["file"]).text["promptlang"])["ir"]["adapters"]
                for t in record["tiles"]]
    assert [[(a["name"], a["weight"]) for a in row] for row in adapters] == [
        [("detail", 0.0)], [("detail", 0.5)], [("peft", 1.0)]]
    record0 = json.loads(Image.open(project / record["tiles"][0]["file"]).text["promptlang"])
    without = promptlang.ir.from_json({**record0["ir"], "adapters": []})  # the trigger words stay
    assert np.array_equal(tiles[0], pixels(promptlang.render(without, pipe=tiny, seed=3)[0]))  # weight 0: as without
    assert not np.array_equal(tiles[0], tiles[1]) and not np.array_equal(tiles[1], tiles[2])


def test_a1111_names_files_as_a1111_finds_them(project):
    (project / "team.yaml").write_text(CATALOG.replace("  neggy:\n    file: loras/neggy.safetensors",
                                                       "  neggy:\n    file: loras/other_name.safetensors"),
                                       encoding="utf-8")
    prompt = one(prompt_file(project, "    lora peft_style:0.7\n    negative neggy"))
    warnings = []
    text = promptlang.targets.emit("a1111", prompt, warnings)
    assert "<lora:peft:0.7>" in text  # the entry `peft_style` is the file loras/peft.safetensors
    assert [w.message for w in warnings] == [
        "prompt `p`: AUTOMATIC1111 finds embeddings by file name: `neggy` is in other_name.safetensors, so it "
        "reads `neggy` as words (name the entry `other_name`)"]


def test_a_missing_file_is_shown_under_its_place_in_the_prompt(project, tiny_cli, capsys):
    (project / "loras" / "detail.safetensors").unlink()
    path = prompt_file(project, "    negative neggy\n    lora peft_style, detail:2")
    assert tiny_cli("render", str(path), "--model", "builtin:tiny", "-o", "out", "-q") == 1
    err = capsys.readouterr().err
    assert "p.prompt:8:22: error: prompt `p`: LoRA `detail`: " in err and "no such file" in err
    line, caret = err.splitlines()[1:3]
    assert line.endswith("lora peft_style, detail:2") and caret.index("^") == line.index("detail") and \
        caret.strip() == "^^^^^^"
    assert "put the file there, or correct the path" in err and not (project / "out").exists()


@pytest.mark.gpu
def test_fp16_lora_and_embedding_on_cuda_leave_the_pipeline_as_it_was(project):
    import torch

    from promptlang.diffusion.models import load_pipeline

    pipe = load_pipeline("builtin:tiny", "cuda")
    assert pipe.unet.dtype == torch.float16
    weights = {n: p.detach().clone() for n, p in pipe.unet.named_parameters()}
    plain = one(prompt_file(project, "", "a.prompt"))
    loaded = one(prompt_file(project, '    lora "loras/detail.safetensors"\n    negative neggy', "b.prompt"))
    zero = one(prompt_file(project, '    lora "loras/detail.safetensors":0', "c.prompt"))
    base = pixels(promptlang.render(plain, pipe=pipe)[0])
    assert np.abs(pixels(promptlang.render(loaded, pipe=pipe)[0]).astype(int) - base).max() > 0
    assert np.array_equal(pixels(promptlang.render(zero, pipe=pipe)[0]), base)
    assert np.array_equal(pixels(promptlang.render(plain, pipe=pipe)[0]), base)
    assert all(torch.equal(p, weights[n]) for n, p in pipe.unet.named_parameters())
