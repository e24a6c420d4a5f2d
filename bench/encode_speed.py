"""Encoding speed: promptlang's IR -> Conjunction path vs Compel's string path.

    PYTHONPATH=. python bench/encode_speed.py [--prompts 200] [--full-clip 16]

On the tiny builtin SD model (random weights: timing does not depend on the values)
it encodes generated prompts of realistic size (8-15 positive fragments, 3-6
negative, about a third weighted, some of them down-weighted) four ways:

* ``compel string``: ``CompelForSD(pipe)(text, negative_prompt=neg)`` on the
  equivalent weighted strings (runs Compel's pyparsing parser, one prompt at a time);
* ``promptlang, unbatched``: ``encode(..., _batched=False)``: Conjunctions built
  from the IR, Compel's tensor code, one text-encoder call per row as Compel does it;
* ``promptlang, batched``: ``encode(..., batch_size=8)``: the same with the
  text-encoder rows of 8 prompts run as one batch;
* ``cache hit``: ``encode(..., cache_dir=…)`` with every prompt already cached.

``--full-clip N`` repeats the comparison for N prompts with an SD1.5-sized text
encoder (CLIP ViT-L/14 text tower, 123 M parameters, random weights), where the
text encoder, not Python, dominates. Figures are medians per prompt.
"""
from __future__ import annotations

import argparse
import importlib
import random
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
warnings.filterwarnings("ignore")

from promptlang.ir import Fragment, Segment  # noqa: E402
from promptlang.ir import Prompt as _Prompt  # noqa: E402
from promptlang.settings import Settings  # noqa: E402


def Prompt(name, positive, negative, settings):  # noqa: N802 - a prompt of one segment
    return _Prompt(name, (Segment(0.0, positive, negative),), settings)

SUBJECTS = ["a business meeting", "a dragon breathing blue fire", "a lighthouse on a cliff at dusk",
            "two friends eating salad in a cafe", "an old fisherman mending nets", "a fox in the snow",
            "a futuristic city skyline", "a bowl of fruit on a wooden table"]
MODIFIERS = ["a stock photo", "oil painting", "impasto", "swirling dynamic brushstrokes", "watercolor",
             "in the style of Vincent van Gogh", "post-impressionism", "surrealism", "4k",
             "highly detailed", "trending on artstation", "very beautiful", "dramatic lighting",
             "golden hour", "soft focus", "wide angle lens", "cinematic composition", "muted colors",
             "volumetric fog", "sharp focus", "35mm film grain", "intricate details", "studio lighting"]
NEGATIVES = ["blurry", "low quality", "worst quality", "jpeg artifacts", "distorted hands",
             "extra fingers", "watermark", "text", "cropped", "deformed"]
WEIGHTS = [1.1, 1.21, 1.3, 0.9, 0.8, 0.5]


def make_prompts(n: int, seed: int = 0) -> list[tuple[Prompt, str, str]]:
    """n IR prompts, each with the equivalent Compel strings (positive, negative)."""
    rnd = random.Random(seed)

    def side(texts):
        frags = [Fragment(t, rnd.choice(WEIGHTS) if rnd.random() < 0.35 else 1.0, ", " if i else "")
                 for i, t in enumerate(texts)]
        text = "".join(f.join + (f.text if f.weight == 1.0 else f"({f.text}){f.weight}") for f in frags)
        return tuple(frags), text

    out = []
    for i in range(n):
        pos, pos_text = side([rnd.choice(SUBJECTS)] + rnd.sample(MODIFIERS, rnd.randint(7, 14)))
        neg, neg_text = side(rnd.sample(NEGATIVES, rnd.randint(3, 6)))
        out.append((Prompt(f"p{i}", pos, neg, Settings()), pos_text, neg_text))
    return out


def per_prompt(seconds: list[float], sizes: list[int]) -> float:
    return statistics.median(s / k for s, k in zip(seconds, sizes))


def run(pipe, cases, label: str, batch_size: int = 8) -> None:
    from compel import CompelForSD

    enc = importlib.import_module("promptlang.diffusion.encode")
    prompts = [c[0] for c in cases]
    compel = CompelForSD(pipe)
    compel(cases[0][1], negative_prompt=cases[0][2])  # warm up
    enc.encode(prompts[:2], pipe)

    times = []
    for _, pos, neg in cases:
        t = time.perf_counter()
        compel(pos, negative_prompt=neg)
        times.append(time.perf_counter() - t)
    t_compel = statistics.median(times)

    times = []
    for _, pos, neg in cases:
        t = time.perf_counter()
        compel.compel.parse_prompt_string(pos), compel.compel.parse_prompt_string(neg)
        times.append(time.perf_counter() - t)
    t_parse = statistics.median(times)

    def timed(batch, **kw):
        seconds, sizes = [], []
        for start in range(0, len(prompts), batch):
            group = prompts[start:start + batch]
            t = time.perf_counter()
            enc.encode(group, pipe, batch_size=batch, **kw)
            seconds.append(time.perf_counter() - t)
            sizes.append(len(group))
        return per_prompt(seconds, sizes)

    t_unbatched = timed(1, _batched=False)
    t_batched = timed(batch_size)
    with tempfile.TemporaryDirectory() as cache:
        enc.encode(prompts, pipe, cache_dir=cache)  # fill
        t_hit_batch = timed(batch_size, cache_dir=cache)
        t_hit_single = timed(1, cache_dir=cache)

    # sanity: the two paths agree
    ref = compel(cases[0][1], negative_prompt=cases[0][2])
    got = enc.encode(prompts[0], pipe)
    diff = max((got["prompt_embeds"] - ref.embeds).abs().max().item(),
               (got["negative_prompt_embeds"] - ref.negative_embeds).abs().max().item())

    ms = lambda s: f"{s * 1000:8.2f} ms"  # noqa: E731
    print(f"\n== {label}: {len(cases)} prompts, median per prompt (positive + negative) ==")
    print(f"compel string path (CompelForSD)      {ms(t_compel)}")
    print(f"  of which pyparsing parse alone       {ms(t_parse)}")
    print(f"promptlang encode, unbatched           {ms(t_unbatched)}   x{t_compel / t_unbatched:5.2f} vs compel")
    print(f"promptlang encode, batch_size={batch_size}        {ms(t_batched)}   x{t_compel / t_batched:5.2f} vs compel")
    print(f"cache hit, {batch_size} prompts a call              {ms(t_hit_batch)}   x{t_compel / t_hit_batch:5.1f} vs compel")
    print(f"cache hit, 1 prompt a call              {ms(t_hit_single)}   x{t_compel / t_hit_single:5.1f} vs compel")
    print(f"max |promptlang - compel| on prompt 0   {diff:.2e}")


def full_clip_pipe(tiny):
    """The tiny pipeline with an SD1.5-sized random CLIP text encoder swapped in."""
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    config = CLIPTextConfig(vocab_size=49408, max_position_embeddings=77, hidden_size=768,
                            intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
                            hidden_act="quick_gelu", bos_token_id=49406, eos_token_id=49407,
                            pad_token_id=49407)
    tiny.text_encoder = CLIPTextModel(config).eval()
    return tiny


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=200)
    ap.add_argument("--full-clip", type=int, default=16, metavar="N",
                    help="prompts for the SD1.5-sized text encoder run (0: skip)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch CPU threads (default 1: steadier figures on a shared machine)")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)

    from promptlang.diffusion.models import build_tiny

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    t = time.perf_counter()
    pipe = build_tiny("sd")
    print(f"build_tiny('sd'): {time.perf_counter() - t:.2f} s")
    cases = make_prompts(args.prompts)
    tokens = [len(pipe.tokenizer(c[1], verbose=False).input_ids) - 2 for c in cases]
    print(f"prompts: positive {min(tokens)}-{max(tokens)} CLIP tokens (median {statistics.median(tokens)}), "
          f"{sum(t > 75 for t in tokens)} over 75")
    run(pipe, cases, "tiny SD (CLIP text 2 x 32)")
    if args.full_clip:
        run(full_clip_pipe(pipe), cases[:args.full_clip], "SD1.5-sized CLIP text encoder (12 x 768)")


if __name__ == "__main__":
    main()
