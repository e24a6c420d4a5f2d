"""The render job: prompts -> PNGs with provenance, and ``promptlang.render()`` in Python.

Image ``i`` of a prompt uses seed ``seed + i``; files are named ``PROMPT-SEED.png``,
checked before anything renders (never overwritten without ``overwrite``), and written
atomically as each image is done, so an interrupted run keeps every finished image whole.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from .. import ir
from . import Event, ignore
from .backend import Images, Local
from .common import check_free, check_models, file_name, folder, image_count, notes, prepare, stable_seed


@dataclass
class Rendered:
    """One image: ``prompt`` holds the effective (completed) settings it was made with."""

    image: object  # PIL.Image.Image
    prompt: ir.Prompt
    seed: int
    index: int
    model: str
    test_model: bool
    batch: int = 1
    fast: bool = False

    @property
    def filename(self) -> str:
        return file_name(self.prompt, self.seed)


@dataclass(frozen=True)
class Source:
    """Where prompts came from, for the provenance of what they make."""

    text: str | None = None
    path: str | None = None
    catalogs: tuple = ()

    @classmethod
    def of(cls, compiled) -> "Source":
        return cls(compiled.file.source, compiled.file.path, tuple(compiled.scope.catalogs))


def images(prompts, backend, *, batch: int = 1, cache_dir=None, fast: bool = False, report=ignore, labels=None,
           only=None):
    """Render prepared prompts (see :func:`~promptlang.jobs.common.prepare`) through ``backend``;
    yield a :class:`Rendered` per image, in order, as each batch is done. ``labels``: one
    per prompt, naming its progress bar (default ``NAME image i/N``). ``only``: a set of
    ``(prompt index, image index)`` pairs to render (the rest are skipped; default: all)."""
    tasks = []  # (task, index of its prompt, the image indices it renders, images of the prompt)
    for k, prompt in enumerate(prompts):
        s = prompt.settings
        count = image_count(prompt)
        wanted = [i for i in range(count) if only is None or (k, i) in only]
        for at in range(0, len(wanted), batch):
            indices = tuple(wanted[at:at + batch])
            tasks.append((Images(prompt, tuple(s.seed + i for i in indices), str(cache_dir) if cache_dir else None),
                          k, indices, count))
    by_task = {id(task): (k, indices, count) for task, k, indices, count in tasks}

    def label(task) -> str:
        k, indices, count = by_task[id(task)]
        if labels is not None:
            return labels[k]
        last = f"-{indices[-1] + 1}" if len(indices) > 1 else ""
        return f"{task.prompt.name} image {indices[0] + 1}{last}/{count}"

    current = {"task": ""}

    def progress(done, total):
        report(Event("progress", task=current["task"], done=done, total=total))

    def run_tasks():
        for task, _, _, _ in tasks:
            current["task"] = label(task)
            yield task

    for task, (prompt, made) in backend.run(run_tasks(), progress):
        _, indices, _ = by_task[id(task)]
        model = backend.model(task.model)
        for i, image in enumerate(made):
            yield Rendered(image, prompt, task.seeds[i], indices[i], task.model, model.test_model,
                           batch=len(task.seeds), fast=fast)


def save(done: Rendered, path, source: Source) -> Path:
    """Write one image with its provenance chunks, atomically."""
    from ..artifacts import png, records

    chunks = records.render_chunks(done.prompt, model=done.model, seed=done.seed, index=done.index,
                                   source=source.text, source_path=source.path, catalog_list=source.catalogs,
                                   test_model=done.test_model, batch=done.batch, fast=done.fast)
    return png.save(done.image, path, chunks)


@dataclass
class Plan:
    prompts: list  # prepared prompts
    out: Path
    files: list  # every PNG the run will write, in order
    source: Source = field(default_factory=Source)
    batch: int = 1
    cache_dir: str | None = None
    fast: bool = False
    done: list = field(default_factory=list)  # with resume: the PNGs already there, whole, not rendered again
    todo: set | None = None  # with resume: the (prompt, image) pairs still to render


def _shared_seeds(stated, prepared, overrides) -> list:
    """The prompts one prompt's choices expand to (``NAME.1``, ``NAME.2`` …) share the seed chosen
    for the first of them when none is stated: they then differ only in their picks (a sheet
    over a wildcard compares like with like)."""
    if overrides.get("seed") is not None:
        return prepared
    first, out = {}, []
    for before, after in zip(stated, prepared):
        if before.origin and before.settings.seed is None:
            seed = first.setdefault(before.origin.prompt, after.settings.seed)
            after = replace(after, settings=replace(after.settings, seed=seed))
        out.append(after)
    return out


def plan(prompts, out, *, source: Source = Source(), overwrite: bool = False, resume: bool = False, batch: int = 1,
         cache_dir=None, fast: bool = False, stable_seeds: bool = False, **overrides) -> Plan:
    """Check everything a render of ``prompts`` into folder ``out`` needs, before anything
    loads: settings (``overrides`` as :func:`prepare` takes them), names, files to write.

    ``resume``: an image whose PNG is already there, whole and made from this very prompt
    and seed (an interrupted run), is kept and not rendered again; any other file in the
    way is still refused unless ``overwrite``. ``stable_seeds``: a prompt that states no
    seed gets one made from the source file's name and its own name (:func:`stable_seed`), the same
    every run, where it would get a random one."""
    from ..errors import PromptError

    if batch < 1:
        raise PromptError("--batch must be at least 1")
    if resume and not stable_seeds and overrides.get("seed") is None:
        unseeded = [p.name for p in prompts if p.settings.seed is None]
        if unseeded:
            raise PromptError(f"--resume needs to know the seeds, and prompt `{unseeded[0]}` states none "
                              "(each run would pick new random ones)", hint="give --seed S, or `seed N` in the file")
    try:
        prompts = _shared_seeds(prompts, [prepare(p, default_seed=stable_seed(Path(str(source.path)).name, p.name)
                                                  if stable_seeds else None, **overrides) for p in prompts], overrides)
    except PromptError as exc:  # a LoRA or embedding file: shown under its place in the file
        if exc.source is None and exc.span is not None and source.text is not None and exc.span.file == source.path:
            exc.source = source.text
        raise
    check_models(p.settings.model for p in prompts)
    out = folder(out)
    places = [(k, i, out / file_name(p, p.settings.seed + i))
              for k, p in enumerate(prompts) for i in range(image_count(p))]
    done, todo = [], None
    if resume:
        done = [path for k, i, path in places if _already(path, prompts[k], prompts[k].settings.seed + i)]
        todo = {(k, i) for k, i, path in places if path not in done}
    check_free([path for _, _, path in places if path not in done], overwrite, resumable=True)
    return Plan(prompts, out, [path for _, _, path in places], source, batch,
                str(cache_dir) if cache_dir else None, fast, done, todo)


def _already(path: Path, prompt: ir.Prompt, seed: int) -> bool:
    """True when ``path`` is a whole PNG of this prompt at this seed (as a finished render writes it)."""
    if not path.is_file():
        return False
    from ..artifacts import records
    from ..errors import PromptError

    try:
        found = records.read(path)
    except PromptError:
        return False
    made = found.prompt
    words = ("positive", "negative", "segments", "timing", "adapters")  # as the record keeps them (weights to 6 decimals)
    if made is None or made.name != prompt.name or \
            [ir.to_json(made).get(k) for k in words] != [ir.to_json(prompt).get(k) for k in words]:
        return False
    if (made.settings.seed, made.settings.model) != (seed, prompt.settings.model):
        return False
    from ..settings import PIXEL_SETTINGS as keys, complete

    have = tuple(getattr(made.settings, k) for k in keys)
    return any(have == tuple(getattr(complete(prompt.settings, native=n), k) for k in keys) for n in (32, 512, 1024))


def run(the_plan: Plan, *, backend=None, report=ignore) -> list[Path]:
    """Render the plan, saving each PNG as it is done; report each file written."""
    backend = backend or Local(fast=the_plan.fast)
    notes((p.settings.model for p in the_plan.prompts), report)
    if the_plan.done:
        report(Event("info", f"{len(the_plan.done)} of {len(the_plan.files)} images are already there, whole: "
                             "kept (resume)"))
    written = []
    for done in images(the_plan.prompts, backend, batch=the_plan.batch, cache_dir=the_plan.cache_dir,
                       fast=the_plan.fast, report=report, only=the_plan.todo):
        the_plan.out.mkdir(parents=True, exist_ok=True)  # only once there is an image: a failed run leaves none
        path = save(done, the_plan.out / done.filename, the_plan.source)
        written.append(path)
        s = done.prompt.settings
        report(Event("file", f"seed {done.seed}, {s.width}x{s.height}, {s.steps} steps", path=path))
    return written


def render(prompts, pipe=None, *, model=None, device=None, batch_size: int = 1,
           cache_dir=None, on_image=None, fast: bool = False, progress=None, **overrides) -> list[Rendered]:
    """Render IR prompts in this process; returns a :class:`Rendered` per image (``.image``
    is a PIL image). Nothing is written.

    ``pipe``: a diffusers SD/SDXL pipeline you already hold (used as it is, never changed);
    otherwise ``model`` (or each prompt's own ``model``) is loaded on ``device``.
    ``overrides``: ``images``, ``seed``, ``steps``, ``guidance``, ``scheduler``,
    ``width``, ``height``. ``batch_size``: images per pipeline call (1 makes every image
    pixel-identical to rendering it alone). ``on_image(rendered)`` is called as each is done.
    """
    single = isinstance(prompts, ir.Prompt)
    prompts = [prompts] if single else list(prompts)
    backend = Local(device, fast=fast)
    if pipe is not None:
        from ..diffusion.models import wrap

        if fast:
            from ..errors import PromptError

            raise PromptError("fast=True changes the pipeline's modules, and a pipeline you hand over is used "
                              "as it is", hint="call promptlang.diffusion.fast.apply(pipe) yourself first")
        wrapped = wrap(pipe, model)
        model = wrapped.id
        backend.models[model] = wrapped
    prepared = [prepare(p, model=model, **overrides) for p in prompts]

    def report(event):
        if progress is not None and event.kind == "progress":
            progress(event.done, event.total)

    out = []
    for done in images(prepared, backend, batch=batch_size, cache_dir=cache_dir, fast=fast, report=report):
        out.append(done)
        if on_image is not None:
            on_image(done)
    return out
