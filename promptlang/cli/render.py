"""`promptlang embed | render`: the commands that load a model (torch, imported lazily)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import click

from ..errors import PromptError
from . import Command, options
from .common import cache_dir, check_free, compile_and_warn, note_test_model, quiet_libraries, selected


def source_hash(result) -> str:
    h = hashlib.sha256(result.file.source.encode("utf-8"))
    for cat in result.scope.catalogs:
        h.update(f"\0{cat.name}\0{cat.version}\0{cat.sha256}".encode())
    return h.hexdigest()


# --------------------------------------------------------------------------- embed

@click.command(cls=Command, short_help="Compile prompts to Compel-weighted embeddings (.safetensors).")
@click.argument("file", type=click.Path(dir_okay=False))
@options.prompt("only this prompt; -o is then the file to write")
@options.model("model id, folder, .safetensors file or builtin:tiny (default: the file's `model`)")
@options.out("PATH", "with --prompt: OUT.safetensors; without: a folder that gets NAME.safetensors per prompt",
             required=True)
@options.overwrite
@options.device
@options.no_cache
@options.catalogs
def embed(file, prompt, model, out, overwrite, device, no_cache, catalogs) -> int:
    """Compile prompts to Compel-weighted embeddings (.safetensors)."""
    quiet_libraries()
    from ..encode import encode
    from ..models import load_pipeline
    from ..render import default_device

    result = compile_and_warn(file, catalogs)
    prompts = selected(result, prompt)
    out = Path(out)
    if prompt:
        if out.is_dir():
            raise PromptError(f"--out {out} is a folder; with --prompt give the file to write (NAME.safetensors)")
        paths = [out]
    else:
        if out.suffix == ".safetensors":
            raise PromptError(f"--out {out}: without --prompt every prompt gets its own file, so give a folder",
                              hint="or pick one prompt with --prompt NAME")
        paths = [out / f"{p.name}.safetensors" for p in prompts]
    models = {p.name: model or p.settings.model for p in prompts}
    for p in prompts:
        if not models[p.name]:
            raise PromptError(f"prompt `{p.name}` names no model: give --model or `model \"…\"` in the file",
                              hint="`--model builtin:tiny` works on any machine (a random-weight test model)")
    if out.exists() and not out.is_dir() and not prompt:
        raise PromptError(f"--out {out} is a file; without --prompt give a folder")
    check_free(paths, overwrite)
    digest = source_hash(result)
    for name in dict.fromkeys(models.values()):  # one pipeline per model, in file order
        group = [(p, path) for p, path in zip(prompts, paths) if models[p.name] == name]
        note_test_model(name)
        pipe = load_pipeline(name, device or default_device())
        tensors = encode([p for p, _ in group], pipe, cache_dir=cache_dir(no_cache))
        for (p, path), t in zip(group, tensors):
            save_embedding(p, path, t, name, digest, result)
    return 0


def save_embedding(prompt, path: Path, t: dict, model: str, digest: str, result) -> None:
    """Business logic that belongs in jobs/: the embeddings file's metadata."""
    from .. import __version__
    from ..encode import save_embeddings
    from ..targets import compel

    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"promptlang_version": __version__, "model": model, "prompt": prompt.name,
            "compel": compel.emit(prompt), "source_sha256": digest, "source": result.file.path}
    if len(prompt.segments) > 1:  # the tensors of segment k are named stage{k}.…; it starts at this fraction
        meta["stages"] = json.dumps([segment.start for segment in prompt.segments[1:]])
    save_embeddings(path, t, meta)
    print(f"{path}: {', '.join(f'{k} {tuple(v.shape)}' for k, v in t.items())}")


# --------------------------------------------------------------------------- render

@click.command(cls=Command, short_help="Render prompts to PNG images that carry their provenance.")
@click.argument("file", type=click.Path(dir_okay=False))
@options.prompt()
@options.model()
@options.out("DIR", "output folder (default: renders)", default="renders")
@options.images
@options.seed
@options.steps
@options.guidance
@options.scheduler
@options.image_size
@options.device
@options.batch
@options.overwrite
@options.fast
@options.no_cache
@options.quiet
@options.catalogs
def render(file, prompt, model, out, images, seed, steps, guidance, scheduler, image_size, device, batch,
           overwrite, fast, no_cache, quiet, catalogs) -> int:
    """Render prompts to PNG images that carry their provenance (never over an existing PNG
    without --overwrite)."""
    quiet_libraries()
    from ..render import effective

    result = compile_and_warn(file, catalogs)
    width, height = image_size or (None, None)
    prompts = [effective(p, model=model, images=images, seed=seed, steps=steps, guidance=guidance,
                         scheduler=scheduler, width=width, height=height)
               for p in selected(result, prompt)]
    written = render_to_folder(result, prompts, Path(out), device=device, batch=batch, progress=not quiet,
                               cache_dir=cache_dir(no_cache), overwrite=overwrite, fast=fast)
    print(f"rendered {len(written)} image{'s' * (len(written) != 1)} into {out}/")
    return 0


def planned_pngs(prompts, out: Path, overwrite: bool) -> list[Path]:
    """Every file a render will write, checked before anything is rendered."""
    from ..render import Rendered

    if out.exists() and not out.is_dir():
        raise PromptError(f"--out {out} is a file, not a folder")
    names = []
    for p in prompts:
        for i in range(p.settings.images):
            names.append(out / Rendered(None, p, p.settings.seed + i, i, p.settings.model, False).filename)
    check_free(names, overwrite)
    return names


def render_to_folder(result, prompts, out: Path, *, device=None, batch=1, progress=True, cache_dir=None,
                     overwrite=False, fast=False, pipes=None) -> list[Path]:
    """Render (effective) prompts of a compiled file into ``out``, saving each PNG as it is done.
    Business logic that belongs in jobs/ (the render job)."""
    quiet_libraries()
    from ..render import render, save_png

    planned_pngs(prompts, out, overwrite)
    for model in sorted({p.settings.model for p in prompts}):
        note_test_model(model)
    written = []

    def save(done):
        out.mkdir(parents=True, exist_ok=True)  # only once there is an image: a failed run leaves no folder
        path = save_png(done, out / done.filename, source=result.file.source, source_path=result.file.path,
                        catalogs=result.scope.catalogs)
        written.append(path)
        print(f"{path}  (seed {done.seed}, {done.prompt.settings.width}x{done.prompt.settings.height}, "
              f"{done.prompt.settings.steps} steps)")

    render(prompts, device=device, batch_size=batch, progress=progress, cache_dir=cache_dir, on_image=save,
           fast=fast, pipes=pipes)
    return written
