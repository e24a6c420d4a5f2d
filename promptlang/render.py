"""IR -> pixels with a diffusers pipeline (fp16 on CUDA, fp32 on CPU), and PNGs with provenance.

Image ``i`` of a prompt uses seed ``seed + i``, drawn from a CPU ``torch.Generator`` so
the starting noise is the same on any device. Files are written atomically (a temp
file, then a rename): an interrupted render leaves no half-written PNG.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, replace
from pathlib import Path

from . import ir
from .errors import PromptError
from .files import atomic_path
from .settings import complete, validate


@dataclass
class Rendered:
    image: object  # PIL.Image.Image
    prompt: ir.Prompt  # settings are the effective ones (completed)
    seed: int
    index: int
    model: str
    test_model: bool
    batch: int = 1
    fast: bool = False

    @property
    def filename(self) -> str:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.prompt.name):
            raise PromptError(f"prompt name {self.prompt.name!r} cannot be a file name")
        return f"{self.prompt.name}-{self.seed}.png"


def native_size(model: str | None, pipe=None) -> int:
    """The side of the square a model renders natively: 1024 for SDXL, 512 otherwise; asked of
    the pipeline when one is at hand, else read from the model's name (`builtin:tiny-sdxl`)."""
    if pipe is not None:
        from .models import model_kind

        return 1024 if model_kind(pipe) == "sdxl" else 512
    return 1024 if model and "xl" in model.lower() else 512


def effective(prompt: ir.Prompt, *, model=None, images=None, seed=None, steps=None, guidance=None,
              scheduler=None, width=None, height=None, native: int | None = None) -> ir.Prompt:
    """The prompt with command-line overrides applied, checked against the one table of limits,
    a seed chosen if none was given, and its settings completed for the model (``native``:
    its native side; by default :func:`native_size` of the model)."""
    p = prompt.settings
    changes = {k: v for k, v in dict(model=model, images=images, seed=seed, steps=steps, guidance=guidance,
                                     scheduler=scheduler, width=width, height=height).items() if v is not None}
    if scheduler is not None:
        from .schedulers import SCHEDULERS, lookup
        from .errors import suggest

        if lookup(scheduler) is None:
            raise PromptError(f"unknown scheduler `{scheduler}`{suggest(scheduler, SCHEDULERS)}",
                              hint="schedulers: " + ", ".join(SCHEDULERS))
        changes["scheduler"] = lookup(scheduler)
    params = validate(replace(p, **changes))
    if params.seed is None:
        params = replace(params, seed=secrets.randbelow(2**32))
    if not params.model:
        raise PromptError(f"prompt `{prompt.name}` names no model: add `model \"…\"` to the file or pass --model",
                          hint="`--model builtin:tiny` renders noise with a tiny test model, on any machine")
    return replace(prompt, settings=complete(params, native=native or native_size(params.model)))


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def render(prompts, pipe=None, *, model=None, device=None, images=None, seed=None, steps=None, guidance=None,
           scheduler=None, width=None, height=None, batch_size: int = 1, progress: bool = False, cache_dir=None,
           on_image=None, fast: bool = False, pipes: dict | None = None) -> list[Rendered]:
    """Render IR prompts; returns a :class:`Rendered` per image (``.image`` is a PIL image).

    ``pipe``: a diffusers SD/SDXL pipeline you already hold (not reloaded); otherwise
    ``model`` (or the prompt's own ``model``) is loaded with
    :func:`promptlang.models.load_pipeline` on ``device`` (CUDA when there is one).
    ``batch_size``: images per pipeline call; 1 (the default) makes every image
    pixel-identical to rendering it alone. ``on_image(rendered)`` is called as each
    image is done (the CLI saves it there, so an interrupted run keeps what is finished).
    ``fast``: apply :func:`promptlang.fast.apply` to the pipeline first.
    ``pipes``: a dict kept across calls so each (model, device) is loaded once.

    A prompt edit (``"a cat" -> "a dog" at 0.4``) switches the conditioning through
    the pipeline's ``callback_on_step_end``: iteration ``i`` uses the last stage whose
    start, ``floor(at * iterations)``, is at most ``i``.
    """
    import torch

    from .encode import encode, stage_tensors
    from .models import is_test_model, load_pipeline
    from .schedulers import make

    single = isinstance(prompts, ir.Prompt)
    prompts = [prompts] if single else list(prompts)
    if pipe is not None and model is None:
        model = getattr(pipe, "_promptlang_model", None) or getattr(pipe, "name_or_path", None) or "<pipeline>"
    native = native_size(model, pipe) if pipe is not None else None
    prompts = [effective(p, model=model, native=native,
                         images=images, seed=seed, steps=steps, guidance=guidance, scheduler=scheduler,
                         width=width, height=height)
               for p in prompts]
    pipes = {} if pipes is None else pipes
    out: list[Rendered] = []
    for prompt in prompts:
        p = prompt.settings
        current = pipe
        if current is None:
            key = (p.model, device)
            if key not in pipes:
                pipes[key] = load_pipeline(p.model, device or default_device())
            current = pipes[key]
        if fast:
            from .fast import apply

            apply(current)
        original_scheduler = current.scheduler
        if p.scheduler:
            current.scheduler = make(p.scheduler, original_scheduler.config)
        try:
            execution = getattr(current, "_execution_device", None) or current.device
            dtype = current.unet.dtype
            stages = [{k: v.to(execution, dtype=dtype) for k, v in t.items()}
                      for t in stage_tensors(encode(prompt, current, cache_dir=cache_dir))]
            starts = ir.switch_steps(prompt, _timestep_count(current, p.steps)) if len(prompt.segments) > 1 else [0]
            first = _active(starts, 0)
            for start in range(0, p.images, batch_size):
                count = min(batch_size, p.images - start)
                seeds = [p.seed + start + i for i in range(count)]
                generators = [torch.Generator("cpu").manual_seed(s) for s in seeds]
                batch = {k: v.expand(count, *v.shape[1:]) if count > 1 else v for k, v in stages[first].items()}
                current.set_progress_bar_config(
                    disable=not progress, leave=False,
                    desc=f"{prompt.name} image {start + 1}{f'-{start + count}' if count > 1 else ''}/{p.images}")
                switch = _switcher(stages, starts, count) if len(stages) > 1 else None
                result = _call(current, prompt, batch, generators, callback=switch)
                for i, image in enumerate(result.images):
                    done = Rendered(image, prompt, seeds[i], start + i, p.model, is_test_model(current),
                                    batch=count, fast=fast)
                    out.append(done)
                    if on_image is not None:
                        on_image(done)
        finally:
            current.scheduler = original_scheduler
    return out


def _timestep_count(pipe, steps: int) -> int:
    """How many denoising iterations ``steps`` gives with the pipeline's scheduler (twice
    as many, less one, for second-order schedulers such as Heun)."""
    pipe.scheduler.set_timesteps(steps)
    return len(pipe.scheduler.timesteps)


def _active(starts: list[int], step: int) -> int:
    """The stage in force at iteration ``step``: the last one that has started."""
    return max(k for k, s in enumerate(starts) if s <= step)


def _switcher(stages: list[dict], starts: list[int], count: int):
    """A ``callback_on_step_end`` that swaps in the next stage's conditioning after the
    iteration before it starts (prompt editing, as AUTOMATIC1111's ``[a:b:at]``)."""
    import torch

    def expand(t):
        return t.expand(count, *t.shape[1:]) if count > 1 else t

    def callback(pipe, i, t, kwargs):
        now, then = _active(starts, i), _active(starts, i + 1)
        if now == then:
            return {}
        stage = stages[then]
        cfg = pipe.do_classifier_free_guidance
        pos, neg = expand(stage["prompt_embeds"]), expand(stage["negative_prompt_embeds"])
        out = {"prompt_embeds": torch.cat([neg, pos]) if cfg else pos}
        if "pooled_prompt_embeds" in stage:  # SDXL: the pooled embedding rides in add_text_embeds
            pos, neg = expand(stage["pooled_prompt_embeds"]), expand(stage["negative_pooled_prompt_embeds"])
            out["add_text_embeds"] = torch.cat([neg, pos]) if cfg else pos
        return out

    return callback


def _call(pipe, prompt: ir.Prompt, tensors: dict, generators, callback=None):
    """One pipeline call; what the pipeline raises becomes a PromptError that says what to change."""
    import torch

    p = prompt.settings
    extra = {"callback_on_step_end": callback} if callback is not None else {}
    try:
        return pipe(**tensors, num_inference_steps=p.steps, guidance_scale=p.guidance, width=p.width,
                    height=p.height, generator=generators, output_type="pil", **extra)
    except torch.cuda.OutOfMemoryError:
        raise PromptError(f"prompt `{prompt.name}`: out of GPU memory at {p.width}x{p.height}",
                          hint="render smaller, with --batch 1, or on --device cpu") from None
    except (ValueError, RuntimeError) as exc:
        raise PromptError(f"prompt `{prompt.name}`: the diffusers pipeline failed: {exc}",
                          hint=f"scheduler {p.scheduler or 'default'}, {p.steps} steps, {p.width}x{p.height}") \
            from None


def save_png(rendered: Rendered, path: str | Path, *, source: str | None = None, source_path: str | None = None,
             catalogs=()) -> Path:
    """Write the image with its provenance chunks, atomically."""
    from .provenance import a1111_parameters, pnginfo, record

    path = Path(path)
    info = record(rendered.prompt, model=rendered.model, seed=rendered.seed, index=rendered.index, source=source,
                  source_path=source_path, catalogs=catalogs, test_model=rendered.test_model,
                  batch=rendered.batch, fast=rendered.fast)
    params = a1111_parameters(rendered.prompt, model=rendered.model, seed=rendered.seed)
    with atomic_path(path) as tmp:
        rendered.image.save(tmp, format="PNG", pnginfo=pnginfo(info, params))
    return path


# `promptlang.render` names both this module and the public function (DESIGN §2); once the
# module is imported Python binds the package attribute to the module, so the module
# answers calls too (as promptlang.encode does).
class _CallableModule(__import__("types").ModuleType):
    def __call__(self, *args, **kwargs):
        return render(*args, **kwargs)


__import__("sys").modules[__name__].__class__ = _CallableModule
