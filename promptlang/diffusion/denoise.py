"""The one denoising loop: a prompt's schedule of segments on a loaded model.

Every render goes through :func:`denoise` — plain renders, batches, prompt edits, walk
frames, sheet tiles and reproductions — so segment switching, seeds and error messages
exist once. It runs diffusers' own sampling loop on a *view* of the pipeline: a new
pipeline object over the same modules with its own scheduler (made from the prompt's
``scheduler`` or a fresh copy of the model's), so the loaded pipeline is never changed
and two jobs on one model give the same pixels as each alone.

Segments switch inside the loop through ``callback_on_step_end``: iteration ``i``
(0-based) uses the last segment whose start, :func:`promptlang.ir.switch_steps`, is at
most ``i``: AUTOMATIC1111's counting, where second-order schedulers such as Heun take
2N−1 iterations for N steps and count 2N; and of an alternation's segments the one whose
phase is ``i % every`` (:func:`promptlang.ir.active`).
"""
from __future__ import annotations

from .. import ir
from ..errors import PromptError


def view(model, scheduler: str | None):
    """A pipeline over ``model``'s modules with a scheduler of its own (nothing is copied)."""
    from ..schedulers import make
    from .adapters import rebuilt

    pipe = model.pipe
    config = pipe.scheduler.config
    fresh = make(scheduler, config) if scheduler else type(pipe.scheduler).from_config(config)
    return rebuilt(pipe, scheduler=fresh)


def iterations(pipe, steps: int) -> int:
    """How many denoising iterations ``steps`` gives with ``pipe``'s scheduler (2N−1 for Heun)."""
    counter = type(pipe.scheduler).from_config(pipe.scheduler.config)
    counter.set_timesteps(steps)
    return len(counter.timesteps)




def _expand(tensor, count: int):
    return tensor.expand(count, *tensor.shape[1:]) if count > 1 else tensor


def denoise(model, prompt: ir.Prompt, conditioning: list[dict], *, seeds=None, latents=None, generator=None,
            progress=None) -> list:
    """Render one batch of images of ``prompt`` (its settings completed: see
    :func:`promptlang.settings.complete`); returns PIL images.

    ``conditioning``: one dict of tensors per segment of the prompt (what
    :func:`promptlang.diffusion.encode.encode` gives), on any device.
    ``seeds``: one image per seed, each drawn from its own CPU generator (so the noise is
    the same on any device). Or ``latents`` (a batch of one) and the ``generator`` that
    drew them, for walks, whose starting noise is mixed.
    ``progress(done, total)``: called after each iteration.
    """
    import torch

    s = prompt.settings
    pipe = view(model, s.scheduler)
    device, dtype = model.device, model.dtype
    segments = [{k: v.to(device, dtype=dtype) for k, v in c.items()} for c in conditioning]
    if len(segments) != len(prompt.segments):
        raise ValueError(f"{len(segments)} conditionings for {len(prompt.segments)} segments")
    total = iterations(pipe, s.steps)
    starts = ir.switch_steps(prompt, total, s.steps) if len(segments) > 1 else [0]
    if latents is not None:
        count, generators, extra = 1, [generator], {"latents": latents}
    else:
        count, extra = len(seeds), {}
        generators = [torch.Generator("cpu").manual_seed(int(seed)) for seed in seeds]
    first = ir.active(prompt, starts, 0) if len(segments) > 1 else 0
    tensors = {k: _expand(v, count) for k, v in segments[first].items()}

    def on_step(pipe, i, t, kwargs):
        if progress is not None:
            progress(i + 1, total)
        now, then = ir.active(prompt, starts, i), ir.active(prompt, starts, i + 1)
        if now == then:
            return {}
        segment = segments[then]
        cfg = pipe.do_classifier_free_guidance
        pos, neg = _expand(segment["prompt_embeds"], count), _expand(segment["negative_prompt_embeds"], count)
        out = {"prompt_embeds": torch.cat([neg, pos]) if cfg else pos}
        if "pooled_prompt_embeds" in segment:  # SDXL: the pooled embedding rides in add_text_embeds
            pos = _expand(segment["pooled_prompt_embeds"], count)
            neg = _expand(segment["negative_pooled_prompt_embeds"], count)
            out["add_text_embeds"] = torch.cat([neg, pos]) if cfg else pos
        return out

    callback = on_step if len(segments) > 1 or progress is not None else None
    if callback is not None:
        extra["callback_on_step_end"] = callback  # diffusers takes prompt_embeds/add_text_embeds back from it
    try:
        result = pipe(**tensors, num_inference_steps=s.steps, guidance_scale=s.guidance, width=s.width,
                      height=s.height, generator=generators, output_type="pil", **extra)
    except torch.cuda.OutOfMemoryError:
        raise PromptError(f"prompt `{prompt.name}`: out of GPU memory at {s.width}x{s.height}",
                          hint="render smaller, with --batch 1, or on --device cpu") from None
    except (ValueError, RuntimeError) as exc:
        raise PromptError(f"prompt `{prompt.name}`: the diffusers pipeline failed: {exc}",
                          hint=f"scheduler {s.scheduler or 'default'}, {s.steps} steps, {s.width}x{s.height}") \
            from None
    return list(result.images)
