"""Render speed: plain diffusers vs `promptlang render` vs promptlang's fast mode.

On a GPU (the real measurement) it builds full-size SD 1.5 (and, with --sdxl, SDXL)
pipelines from their standard configs with random weights — timings do not depend
on the weights' values — and renders at 512² (1024² for SDXL), 50 steps, batch 1 and
batch 8. It reports steps/s, seconds per image and peak GPU memory for:

  (a) plain:  the diffusers pipeline called with a prompt string,
  (b) render: promptlang.render() of the same prompt (Compel encoding from the IR),
  (b') edit:  promptlang.render() of the same prompt with a prompt edit
              (`"a lighthouse …" -> "a castle …" at 0.5`): the conditioning is
              swapped by callback_on_step_end halfway; its cost over (b),
  (c) fast:   the same with promptlang.diffusion.fast.apply() (SDPA, fused QKV, channels-last,
              torch.compile of the UNet; compile time is excluded by a warm-up).

Without a GPU it runs the same three on the CPU with the tiny builtin model (overhead
ratio only; the fast mode's torch.compile is skipped there unless --compile).

    python bench/render_speed.py                 # CUDA if present, else CPU tiny
    python bench/render_speed.py --sdxl          # add SDXL (GPU)
    python bench/render_speed.py --device cpu --steps 20 --size 256
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

PROMPT = '''use core
prompt bench {
    subject  "a lighthouse on a cliff" "at dusk"+
    format   oil_painting
    style    van_gogh:1.2, post_impressionism
    quality  highly_detailed, trending_on_artstation
    negative blurry, low_quality, "distorted hands":1.3
    seed     1
}
prompt bench_edit extends bench {
    subject  "a lighthouse on a cliff" -> "a castle on a cliff" at 0.5 "at dusk"+
}
'''


def full_sd(device, dtype):
    """SD 1.5 architecture (UNet 859.5 M parameters) with random weights."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from promptlang.diffusion.models import _tokenizer

    unet = UNet2DConditionModel(
        sample_size=64, in_channels=4, out_channels=4, layers_per_block=2, cross_attention_dim=768,
        block_out_channels=(320, 640, 1280, 1280), attention_head_dim=8,
        down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3)
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2,
                        block_out_channels=(128, 256, 512, 512), sample_size=512,
                        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4)
    text = CLIPTextModel(CLIPTextConfig(vocab_size=49408, hidden_size=768, intermediate_size=3072,
                                        num_hidden_layers=12, num_attention_heads=12, max_position_embeddings=77,
                                        hidden_act="quick_gelu", projection_dim=768))
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=_tokenizer(), unet=unet,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    return pipe.to(device=device, dtype=dtype)


def full_sdxl(device, dtype):
    """SDXL base architecture (UNet 2.6 B parameters) with random weights."""
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    from promptlang.diffusion.models import _tokenizer

    unet = UNet2DConditionModel(
        sample_size=128, in_channels=4, out_channels=4, layers_per_block=2, cross_attention_dim=2048,
        block_out_channels=(320, 640, 1280), attention_head_dim=(5, 10, 20), use_linear_projection=True,
        transformer_layers_per_block=(1, 2, 10), addition_embed_type="text_time", addition_time_embed_dim=256,
        projection_class_embeddings_input_dim=2816,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"))
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2,
                        block_out_channels=(128, 256, 512, 512), sample_size=1024,
                        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4)
    one = CLIPTextModel(CLIPTextConfig(vocab_size=49408, hidden_size=768, intermediate_size=3072,
                                       num_hidden_layers=12, num_attention_heads=12, hidden_act="quick_gelu"))
    two = CLIPTextModelWithProjection(CLIPTextConfig(vocab_size=49408, hidden_size=1280, intermediate_size=5120,
                                                     num_hidden_layers=32, num_attention_heads=20,
                                                     hidden_act="gelu", projection_dim=1280))
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                       steps_offset=1, timestep_spacing="leading")
    pipe = StableDiffusionXLPipeline(vae=vae, text_encoder=one, tokenizer=_tokenizer(), text_encoder_2=two,
                                     tokenizer_2=_tokenizer(), unet=unet, scheduler=scheduler)
    return pipe.to(device=device, dtype=dtype)


def timed(fn, device, repeats):
    import torch

    times = []
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(name, pipe, prompt, edited, device, steps, size, batch, repeats, fast_compile):
    import torch

    import promptlang
    from promptlang.diffusion.fast import apply
    from promptlang.targets import a1111

    positive, negative = a1111.sides(prompt)
    pipe.set_progress_bar_config(disable=True)
    gens = lambda: [torch.Generator("cpu").manual_seed(1 + i) for i in range(batch)]  # noqa: E731

    def plain():
        pipe(prompt=[positive] * batch, negative_prompt=[negative] * batch, num_inference_steps=steps,
             width=size, height=size, generator=gens())

    def ours():
        promptlang.render(prompt, pipe=pipe, images=batch, batch_size=batch, steps=steps, width=size, height=size)

    def edit():
        promptlang.render(edited, pipe=pipe, images=batch, batch_size=batch, steps=steps, width=size, height=size)

    rows = {}
    for label, fn in (("plain", plain), ("render", ours), ("edit", edit)):
        fn()  # warm-up
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        seconds = timed(fn, device, repeats)
        peak = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else float("nan")
        rows[label] = (seconds, peak)
    applied = apply(pipe, compile=fast_compile)
    ours()  # warm-up (pays torch.compile)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    seconds = timed(ours, device, repeats)
    rows["fast"] = (seconds, torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else float("nan"))
    print(f"\n{name}: {size}x{size}, {steps} steps, batch {batch}, median of {repeats}  (fast: {', '.join(applied)})")
    print(f"  {'mode':<8}{'s/call':>9}{'steps/s':>9}{'s/image':>9}{'peak GiB':>10}")
    for label, (sec, peak) in rows.items():
        print(f"  {label:<8}{sec:>9.3f}{steps / sec:>9.2f}{sec / batch:>9.3f}{peak:>10.2f}")
    plain_s = rows["plain"][0]
    print(f"  promptlang overhead over plain: {100 * (rows['render'][0] / plain_s - 1):+.1f}% (target <= 3%)")
    print(f"  prompt edit (->) over render:   {100 * (rows['edit'][0] / rows['render'][0] - 1):+.1f}% "
          "(encodes two conditionings, swaps once)")
    print(f"  fast mode speed-up over plain:  {plain_s / rows['fast'][0]:.2f}x (target >= 1.5x at batch 1 on a GPU)")
    return rows


def main(argv=None) -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, help="default: 50 on CUDA, 20 on CPU")
    parser.add_argument("--size", type=int, help="default: 512 (SD) on CUDA, 256 on CPU")
    parser.add_argument("--batches", default=None, help="comma list; default 1,8 on CUDA, 1,2 on CPU")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sdxl", action="store_true", help="also SDXL at 1024² (GPU)")
    parser.add_argument("--compile", action="store_true", help="torch.compile in fast mode on CPU too")
    args = parser.parse_args(argv)

    import promptlang
    prompt, edited = promptlang.compile_source(PROMPT, "bench.prompt").prompts
    cuda = args.device == "cuda"
    steps = args.steps or (50 if cuda else 20)
    batches = [int(b) for b in (args.batches or ("1,8" if cuda else "1,2")).split(",")]
    name = torch.cuda.get_device_name() if cuda else "CPU"
    print(f"render_speed: {name}, torch {torch.__version__}, promptlang {promptlang.__version__}")
    if cuda:
        runs = [("SD 1.5 (random weights, full size)", lambda: full_sd("cuda", torch.float16), args.size or 512)]
        if args.sdxl:
            runs.append(("SDXL (random weights, full size)", lambda: full_sdxl("cuda", torch.float16),
                         args.size or 1024))
    else:
        from promptlang.diffusion.models import load_pipeline
        runs = [("builtin:tiny on CPU (overhead ratio only)", lambda: load_pipeline("builtin:tiny", "cpu"),
                 args.size or 256)]
    for title, build, size in runs:
        for batch in batches:
            pipe = build()  # fresh per batch size, so fast mode starts from a plain pipeline
            measure(title, pipe, prompt, edited, args.device, steps, size, batch, args.repeats, args.compile or None)
            del pipe
            if cuda:
                torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
