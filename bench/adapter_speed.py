"""What loading a LoRA or an embedding for one render costs (promptlang.diffusion.adapters).

A render with adapters works on a *view* of the loaded pipeline: structural copies of the
modules an adapter touches (every weight shared), the LoRA merged into copies of the
weights it changes, an embedding's tokens added to a copied tokenizer and a new token table.
The reference it beats, measured in the same run: copying the modules outright
(``copy.deepcopy``), the other way to leave the loaded pipeline unchanged.

Models: SD 1.5's real UNet and CLIP-L text-encoder configs with random weights (timings do
not depend on the values), fp32 on the CPU (``--small`` halves the UNet's channels for a
quick run). LoRA: rank 16 on every attention projection of the UNet and text encoder
(SD 1.5's usual kohya layout: 192 + 48 layers), written to a .safetensors file.

    python bench/adapter_speed.py [--small] [--repeats 3]
"""
from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
from pathlib import Path


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="half the UNet's channels")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    import torch
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel
    from safetensors.torch import save_file
    from transformers import CLIPTextConfig, CLIPTextModel

    from promptlang import ir
    from promptlang.adapters import hashed
    from promptlang.diffusion import models
    from promptlang.diffusion.adapters import applied, structural_copy

    torch.set_num_threads(1)
    channels = (160, 320, 640, 640) if args.small else (320, 640, 1280, 1280)
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        unet = UNet2DConditionModel(block_out_channels=channels, cross_attention_dim=768, attention_head_dim=8)
        text = CLIPTextModel(CLIPTextConfig(hidden_size=768, intermediate_size=3072, num_attention_heads=12,
                                            num_hidden_layers=12, projection_dim=768))
    pipe = StableDiffusionPipeline(vae=models._vae(), text_encoder=text, tokenizer=models._tokenizer(), unet=unet,
                                   scheduler=models._scheduler(), safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    params = sum(p.numel() for p in unet.parameters()) + sum(p.numel() for p in text.parameters())
    print(f"models: UNet channels {channels}, CLIP-L text encoder; {params / 1e6:.0f} M parameters, fp32, CPU "
          f"(built in {time.perf_counter() - start:.1f} s)")

    g = torch.Generator().manual_seed(0)
    lora = {}
    for prefix, module in (("lora_unet_", unet), ("lora_te_text_model_", text)):
        for name, layer in module.named_modules():
            if isinstance(layer, torch.nn.Linear) and name.rsplit(".", 1)[-1] in (
                    "to_q", "to_k", "to_v", "q_proj", "k_proj", "v_proj", "out_proj") or name.endswith("to_out.0"):
                key = prefix + name.replace(".", "_")
                lora[f"{key}.lora_down.weight"] = torch.randn(16, layer.in_features, generator=g) * 0.01
                lora[f"{key}.lora_up.weight"] = torch.randn(layer.out_features, 16, generator=g) * 0.01
                lora[f"{key}.alpha"] = torch.tensor(8.0)
    folder = Path(tempfile.mkdtemp(prefix="promptlang-bench-"))
    save_file(lora, str(folder / "lora.safetensors"))
    save_file({"emb_params": torch.randn(4, 768, generator=g)}, str(folder / "emb.safetensors"))
    size = (folder / "lora.safetensors").stat().st_size
    print(f"LoRA: rank 16, {len(lora) // 3} layers, {size / 1e6:.1f} MB; embedding: 4 vectors")

    model = models.wrap(pipe, "bench")
    unhashed = ir.Prompt("b", (), ir.Settings(), adapters=(
        ir.Adapter("lora", "lora", str(folder / "lora.safetensors"), 0.8),))
    with_lora = hashed(ir.Prompt("b", (), ir.Settings(), adapters=(
        ir.Adapter("lora", "lora", str(folder / "lora.safetensors"), 0.8),)))
    with_emb = hashed(ir.Prompt("b", (), ir.Settings(), adapters=(
        ir.Adapter("embedding", "benchemb", str(folder / "emb.safetensors")),)))

    rows = [
        ("structural copy of UNet + text encoder", lambda: (structural_copy(unet), structural_copy(text))),
        ("reference: copy.deepcopy of UNet + text encoder", lambda: (copy.deepcopy(unet), copy.deepcopy(text))),
        ("applied(): LoRA read, checked, merged into a view",
         lambda: applied(models.wrap(pipe, "bench"), with_lora.adapters)),  # a new Model: nothing kept
        ("applied() again, same model and LoRA (the kept view)", lambda: applied(model, with_lora.adapters)),
        ("applied(): embedding (tokenizer copy + token table)",
         lambda: applied(models.wrap(pipe, "bench"), with_emb.adapters)),
        ("sha256 of the LoRA file (planning a render)", lambda: hashed(unhashed)),
    ]
    figures = {}
    for label, fn in rows:
        fn()  # warm
        figures[label] = median_time(fn, args.repeats)
        print(f"{label:<55} {figures[label] * 1000:9.1f} ms")
    ours = figures["structural copy of UNet + text encoder"]
    ref = figures["reference: copy.deepcopy of UNet + text encoder"]
    print(f"ratio deepcopy / structural copy: {ref / ours:.1f}x")
    with_view = applied(model, with_lora.adapters)
    assert all(a is b for a, b in zip(unet.parameters(), pipe.unet.parameters()))
    changed = sum(not torch.equal(a, b) for a, b in zip(with_view.pipe.unet.parameters(), unet.parameters()))
    print(f"view: {changed} UNet weights replaced; the loaded pipeline's weights are the same objects as before")
    return 0


if __name__ == "__main__":
    sys.exit(main())
