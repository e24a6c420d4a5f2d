"""Where the pixels are made: the seam between jobs and the machines that run them.

A job cuts its work into tasks (:class:`Images`: one pipeline call of a prompt for some
seeds; :class:`Frames`: the frames of a walk or grid; :class:`Encodings`: the
conditioning ``embed`` writes) and hands them to a backend, which yields each task's
results as they are done. :class:`Local` runs them in this process, loading each model
once and keeping it; :class:`promptlang.jobs.ray_engine.Ray` spreads them over Ray
actors. Tasks are plain frozen dataclasses of IR and numbers, so they can be sent
elsewhere, and no job changes with the backend.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterator, Protocol

from .. import ir
from ..settings import PIXEL_SETTINGS, complete, validate


class Backend(Protocol):
    def run(self, tasks, progress=None) -> Iterator[tuple[object, object]]:
        """Yield ``(task, result)`` for every task as each is done: in the order given
        (:class:`Local`) or in the order they finish (a cluster), so a job matches results
        to its tasks by the task yielded, never by position."""

    def model(self, model_id: str):
        """The model as the backend loads it; a job reads ``.test_model`` (and ``.id``,
        ``.kind``, ``.native``) from it, nothing else."""


def completed(prompt: ir.Prompt, model) -> ir.Prompt:
    """The prompt's settings completed for the model that renders it (SDXL sizes an
    `aspect` to about 1024², SD to 512²), then checked against the one table of limits."""
    settings = complete(prompt.settings, native=model.native)
    validate(settings)
    return replace(prompt, settings=settings)


@dataclass(frozen=True)
class Images:
    """One pipeline call: ``prompt`` (model and settings stated) for each of ``seeds``.
    Result: ``(completed prompt, [PIL image per seed])``."""

    prompt: ir.Prompt
    seeds: tuple
    cache_dir: str | None = None

    @property
    def model(self) -> str:
        return self.prompt.settings.model

    def execute(self, model, progress=None):
        from ..diffusion.adapters import applied
        from ..diffusion.denoise import denoise
        from ..diffusion.encode import encode

        prompt = completed(self.prompt, model)
        model = applied(model, prompt.adapters)  # a view with the LoRAs and embeddings; the pipeline is unchanged
        conditioning = encode(prompt, model, cache_dir=self.cache_dir, batch_size=1)
        return prompt, denoise(model, prompt, conditioning.segments, seeds=list(self.seeds), progress=progress)


@dataclass(frozen=True)
class Frames:
    """The frames of a walk (two endpoints, positions ``(t, 0)``) or a grid (four corners,
    positions ``(u, v)``), every frame with the first endpoint's settings. Result: an
    iterator of ``(index, completed endpoints, image)``, frame by frame."""

    prompts: tuple
    positions: tuple
    cache_dir: str | None = None

    @property
    def model(self) -> str:
        return self.prompts[0].settings.model

    def execute(self, model, progress=None):
        return self._frames(model, progress)

    def _frames(self, model, progress):
        from ..diffusion import interpolate as mix
        from ..diffusion.denoise import denoise
        from ..diffusion.encode import encode, pad_lengths

        from ..diffusion.adapters import applied
        from ..errors import PromptError

        first = completed(self.prompts[0], model)
        different = [q for q in self.prompts if q.adapters != first.adapters]
        if different:
            raise PromptError(f"`{first.name}` and `{different[0].name}` load different LoRAs or embeddings: the "
                              "frames between them share one model, so every prompt must load the same ones")
        model = applied(model, first.adapters)
        s = first.settings
        frame = {name: getattr(s, name) for name in PIXEL_SETTINGS}
        prompts = [replace(q, settings=replace(q.settings, **frame)) for q in self.prompts]
        # one encode() per prompt, as a render does: batching changes the last bits of SDXL's pooled embedding
        tensors = [dict(encode(q, model, cache_dir=self.cache_dir, batch_size=1)) for q in prompts]
        tensors = [{k: v.to(model.device, dtype=model.dtype) for k, v in t.items()} for t in tensors]
        padded = pad_lengths(tensors, model, cache_dir=self.cache_dir)
        n = len(prompts)
        for index, (u, v) in enumerate(self.positions):
            noises = [mix.draw(model, q.settings.seed, s.width, s.height) for q in prompts]
            exact = mix.exact_endpoint(n, u, v)
            if exact is not None:
                cond = tensors[exact]
            else:
                cond = {name: mix.mix([t[name] for t in padded], u, v, mix.lerp) for name in padded[0]}
            latents = mix.mix([x[0] for x in noises], u, v, mix.slerp)
            generator = noises[mix.nearest(n, u, v)][1]
            (image,) = denoise(model, replace(first, name=f"frame {index}"), [cond], latents=latents,
                               generator=generator)
            yield index, prompts, image
            if progress is not None:
                progress(index + 1, len(self.positions))


@dataclass(frozen=True)
class Encodings:
    """The conditioning of ``prompts`` on model ``model_id`` (what ``embed`` writes), in one
    :func:`~promptlang.diffusion.encode.encode` call. Result: a list, in the prompts'
    order, of ``(completed prompt, segments, starts)``; ``segments`` are dicts of tensors
    on the CPU, one per segment."""

    model_id: str
    prompts: tuple
    cache_dir: str | None = None

    @property
    def model(self) -> str:
        return self.model_id

    def execute(self, model, progress=None):
        from ..diffusion.adapters import applied
        from ..diffusion.encode import encode

        prompts = [completed(p, model) for p in self.prompts]
        # prompts that load LoRAs or embeddings are encoded on their own view of the model
        plain = [i for i, p in enumerate(prompts) if not p.adapters]
        done = dict(zip(plain, encode([prompts[i] for i in plain], model, cache_dir=self.cache_dir)))
        for i, p in enumerate(prompts):
            if p.adapters:
                done[i] = encode(p, applied(model, p.adapters), cache_dir=self.cache_dir)
        out = []
        for prompt, conditioning in zip(prompts, (done[i] for i in range(len(prompts)))):
            segments = [{k: v.detach().to("cpu") for k, v in segment.items()} for segment in conditioning.segments]
            out.append((prompt, segments, list(conditioning.starts)))
        return out


class Local:
    """Runs tasks in this process. Each model is loaded once (per device) and kept, so
    several jobs (``build --render`` over many files) share it; ``models`` may be given
    pipelines already loaded, by model id. ``fast`` applies :mod:`promptlang.diffusion.fast`
    to the models this backend loads itself, never to one it was handed; ``where`` maps a model
    id to the path it is loaded from, where that differs."""

    def __init__(self, device: str | None = None, *, fast: bool = False, models: dict | None = None):
        self.device = device
        self.fast = fast
        self.models = dict(models or {})
        self.where: dict = {}  # model id -> the path to load it from (a Ray worker runs in another folder)
        self._own: set = set()

    def model(self, model_id: str):
        from ..diffusion.models import load, wrap

        if model_id not in self.models:
            self.models[model_id] = replace(load(self.where.get(model_id, model_id), self.device), id=model_id)
            self._own.add(model_id)
            if self.fast:
                from ..diffusion.fast import apply

                apply(self.models[model_id].pipe)
        model = self.models[model_id]
        if not hasattr(model, "native"):  # a pipeline handed over as it is
            model = self.models[model_id] = wrap(model, model_id)
        return model

    def close(self) -> None:
        """Nothing to stop (a cluster backend stops its workers here); models stay loaded."""

    def run(self, tasks, progress=None):
        for task in tasks:
            yield task, task.execute(self.model(task.model), progress)
