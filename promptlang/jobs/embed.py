"""The embed job: prompts -> Compel-weighted embeddings files (``.safetensors``)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ..errors import PromptError
from . import Event, ignore
from .backend import Local, completed
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
    return Plan(list(prompts), paths, models, source_hash(compiled), compiled.file.path,
                str(cache_dir) if cache_dir else None)


def run(the_plan: Plan, *, backend=None, report=ignore) -> list[Path]:
    from .. import __version__
    from ..artifacts import embeddings
    from ..diffusion.encode import encode
    from ..targets import compel

    backend = backend or Local()
    written = []
    for model_id in dict.fromkeys(the_plan.models.values()):  # one model at a time, in file order
        group = [(p, path) for p, path in zip(the_plan.prompts, the_plan.paths) if the_plan.models[p.name] == model_id]
        notes([model_id], report)
        model = backend.model(model_id)
        prompts = [completed(p, model) for p, _ in group]
        for (prompt, path), conditioning in zip(group, encode(prompts, model, cache_dir=the_plan.cache_dir)):
            tensors, meta = embeddings.pack(conditioning.segments, conditioning.starts,
                                            [(s.every, s.phase) for s in prompt.segments])
            meta.update({"promptlang_version": __version__, "model": model_id, "prompt": prompt.name,
                         "compel": compel.emit(prompt), "source_sha256": the_plan.digest,
                         "source": the_plan.source_path})
            embeddings.save(path, tensors, meta)
            written.append(path)
            report(Event("file", ", ".join(f"{k} {tuple(v.shape)}" for k, v in tensors.items()), path=path))
    return written
