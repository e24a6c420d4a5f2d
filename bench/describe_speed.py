"""describe: images per second, and the cost of ranking against a 10,000-entry catalog.

    python bench/describe_speed.py                 # builtin:tiny-clip on the CPU
    python bench/describe_speed.py --full --device cuda   # a full-size CLIP ViT-L/14 built
                                                          # from its config (random weights)

Prints, for the model chosen:

* the 10,000 entries' text embeddings computed (the first run of a catalog) against read
  from promptlang's cache (every later run), in the same run, and the ratio;
* ranking one image against the 10,000 entries (cosine, per-section ranking with margins,
  four distinct candidates), median of 20 images;
* images per second through the vision tower alone (batches of 16, 512x512 pictures);
* images per second through the whole ``describe`` job (decode, embed, rank, compile and
  write four candidates, score each whole prompt), with the bundled ``core`` catalog
  cached, over 16 PNG files.

Timing does not depend on the weights' values, so random weights measure speed honestly.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def catalog_text(entries: int) -> str:
    third = entries // 3
    lines = ["name: big", "version: 1.0.0", "format:"]
    lines += [f'  f{i}:\n    text: "a kind of picture number {i} of {{{{ subject }}}}, made with care"'
              for i in range(entries - 2 * third)]
    lines.append("style:")
    lines += [f'  s{i}:\n    text: "in the style number {i}, with some words to make it longer"' for i in range(third)]
    lines.append("quality:")
    lines += [f'  q{i}:\n    text: "quality booster {i}, highly detailed"' for i in range(third)]
    return "\n".join(lines) + "\n"


def full_clip(device: str):
    """A CLIP ViT-L/14 (openai/clip-vit-large-patch14's shapes) with random weights."""
    import torch
    from transformers import CLIPConfig, CLIPModel

    from promptlang.diffusion.clip import _from_clip_model
    from promptlang.diffusion.models import _tokenizer

    config = CLIPConfig(
        text_config=dict(hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
                         max_position_embeddings=77, vocab_size=49408, projection_dim=768),
        vision_config=dict(hidden_size=1024, intermediate_size=4096, num_attention_heads=16, num_hidden_layers=24,
                           image_size=224, patch_size=14, projection_dim=768),
        projection_dim=768)
    model = CLIPModel(config).eval()
    clip = _from_clip_model(model, "ViT-L/14 (random weights)", _tokenizer())
    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    for module in (clip.text_model, clip.text_projection, clip.vision_model, clip.visual_projection):
        module.to(device=device, dtype=dtype)
    return clip


def sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--full", action="store_true", help="a full-size CLIP ViT-L/14 (random weights)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--entries", type=int, default=10_000)
    args = parser.parse_args()

    import numpy as np
    import torch
    from PIL import Image

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["PROMPTLANG_CACHE"] = str(tmp / "cache")
        from promptlang import catalog
        from promptlang.diffusion.clip import TINY_CLIP, load_clip
        from promptlang.jobs import describe as job
        from promptlang.ranking import candidates, cosine, rank

        clip = full_clip(args.device) if args.full else load_clip(TINY_CLIP, args.device)
        print(f"model: {clip.id} on {args.device} ({sum(p.numel() for m in (clip.text_model, clip.vision_model) for p in m.parameters()) / 1e6:.1f} M parameters); torch threads {torch.get_num_threads()}")

        (tmp / "big.yaml").write_text(catalog_text(args.entries), encoding="utf-8")
        big = catalog.load(tmp / "big.yaml")
        labels = job.labels([big])
        the_plan = job.Plan([], tmp / "out", clip.id, [("big", big)], [], labels=labels)
        start = time.perf_counter()
        texts = job.text_embeddings(clip, the_plan)
        sync(args.device)
        uncached = time.perf_counter() - start
        cached_runs = []
        for _ in range(3):
            start = time.perf_counter()
            again = job.text_embeddings(clip, the_plan)
            cached_runs.append(time.perf_counter() - start)
        cached = min(cached_runs)
        assert np.allclose(again, texts, atol=1e-3)
        print(f"{len(labels):,} entries' text embeddings: computed {uncached:8.3f} s   from the cache "
              f"{cached * 1000:8.1f} ms   (x{uncached / cached:,.0f} faster cached; the cache-key fingerprint included)")

        rng = np.random.default_rng(0)
        pictures = [Image.fromarray((rng.random((512, 512, 3)) * 255).astype("uint8")) for _ in range(64)]
        vectors = clip.embed_images(pictures[:20])
        costs = []
        for v in vectors:
            start = time.perf_counter()
            chosen = candidates(rank(cosine(v[None], texts)[0], labels), 4)
            costs.append(time.perf_counter() - start)
        assert len(chosen) == 4
        print(f"ranking one image against {len(labels):,} entries (cosine, rank, 4 candidates): "
              f"{statistics.median(costs) * 1000:.1f} ms (median of 20)")

        clip.embed_images(pictures[:16])  # warm-up
        sync(args.device)
        start = time.perf_counter()
        for i in range(0, len(pictures), 16):
            clip.embed_images(pictures[i:i + 16])
        sync(args.device)
        seconds = time.perf_counter() - start
        print(f"vision tower: {len(pictures) / seconds:8.1f} images/s (batches of 16, 512x512 pictures)")

        if args.full:
            return  # the whole job loads its model by name: timed with the tiny model
        files = []
        for i, picture in enumerate(pictures[:16]):
            files.append(tmp / f"img{i}.png")
            picture.save(files[-1])
        first = job.plan(files[:1], tmp / "warm", model=TINY_CLIP)
        job.run(first)  # fills the cache of core's text embeddings
        start = time.perf_counter()
        done = job.plan(files, tmp / "described", model=TINY_CLIP)
        written = job.run(done)
        seconds = time.perf_counter() - start
        assert len(written) == 4 * len(files)
        print(f"whole describe job: {len(files) / seconds:8.1f} images/s ({len(files)} PNGs, 4 candidates each, "
              "core catalog cached; model load included)")


if __name__ == "__main__":
    main()
