"""The embed job: prompts -> Compel-weighted embeddings files (``.safetensors``)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import PromptError
from . import Event, ignore
from .backend import Encodings, Local
from .common import check_free, check_models, folder, notes, out_file


def source_hash(compiled) -> str:
    """sha256 of the source and the names, versions and hashes of its catalogs."""
    h = hashlib.sha256(compiled.file.source.encode("utf-8"))
    for cat in compiled.scope.catalogs:
        h.update(f"\0{cat.name}\0{cat.version}\0{cat.sha256}".encode())
    return h.hexdigest()


@dataclass
class Plan:
    prompts: list
    paths: list
    models: dict  # prompt name -> model
    digest: str
    source_path: str
    cache_dir: str | None = None


def plan(compiled, prompts, out, *, one_file: bool, model=None, overwrite: bool = False, cache_dir=None) -> Plan:
    """``one_file``: ``out`` is the file of the single prompt; otherwise a folder that
    gets ``NAME.safetensors`` per prompt."""
    out = Path(out)
    if one_file:
        if out.is_dir():
            raise PromptError(f"--out {out} is a folder; with --prompt give the file to write (NAME.safetensors)")
        paths = [out_file(out)]
    else:
        if out.suffix == ".safetensors":
            raise PromptError(f"--out {out}: without --prompt every prompt gets its own file, so give a folder",
                              hint="or pick one prompt with --prompt NAME")
        if out.exists() and not out.is_dir():
            raise PromptError(f"--out {out} is a file; without --prompt give a folder")
        paths = [folder(out) / f"{p.name}.safetensors" for p in prompts]
    models = {p.name: model or p.settings.model for p in prompts}
    for p in prompts:
        if not models[p.name]:
            raise PromptError(f"prompt `{p.name}` names no model: give --model or `model \"…\"` in the file",
                              hint="`--model builtin:tiny` works on any machine (a random-weight test model)")
    check_models(models.values())
    check_free(paths, overwrite)
    from ..adapters import hashed

    prompts = [hashed(p) for p in prompts]  # the LoRA/embedding files there and checked, before anything loads
    return Plan(list(prompts), paths, models, source_hash(compiled), compiled.file.path,
                str(cache_dir) if cache_dir else None)


def run(the_plan: Plan, *, backend=None, report=ignore) -> list[Path]:
    """Encode each model's prompts as one task (in file order) through ``backend`` and
    write a file per prompt, atomically, as its task is done."""
    from .. import __version__
    from ..artifacts import embeddings
    from ..targets import compel

    backend = backend or Local()
    tasks, paths = [], {}  # paths: id(task) -> the files of its prompts
    for model_id in dict.fromkeys(the_plan.models.values()):  # one task per model, in file order
        group = [(p, path) for p, path in zip(the_plan.prompts, the_plan.paths) if the_plan.models[p.name] == model_id]
        tasks.append(Encodings(model_id, tuple(p for p, _ in group), the_plan.cache_dir))
        paths[id(tasks[-1])] = [path for _, path in group]
    notes(the_plan.models.values(), report)
    written = []
    for task, results in backend.run(tasks):
        for path, (prompt, segments, starts) in zip(paths[id(task)], results):
            tensors, meta = embeddings.pack(segments, starts, [(s.every, s.phase) for s in prompt.segments])
            if any(s.step is not None for s in prompt.segments):  # `at step K`: the fraction is only shown
                meta["stage_steps"] = json.dumps([s.step for s in prompt.segments[1:]])
            meta.update({"promptlang_version": __version__, "model": task.model_id, "prompt": prompt.name,
                         "compel": compel.emit(prompt), "source_sha256": the_plan.digest,
                         "source": the_plan.source_path})
            embeddings.save(path, tensors, meta)
            written.append(path)
            report(Event("file", ", ".join(f"{k} {tuple(v.shape)}" for k, v in tensors.items()), path=path))
    return written
