"""What every job shares: settings from flags, the files a job will write, notes."""
from __future__ import annotations

import os
import secrets
from dataclasses import replace
from pathlib import Path

from .. import ir
from ..errors import PromptError
from . import Event

TEST_MODEL_NOTE = ("{model} is a tiny random-weight test model: it renders noise, in about a second on a CPU. "
                   "It proves the whole path works; give a real model with --model or `model` in the file.")


def stable_seed(*parts: str) -> int:
    """A seed that is the same every run for the same names (``build`` gives it to prompts
    that state none, so rebuilding does not scatter new files): sha256, first 32 bits."""
    import hashlib

    return int(hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:8], 16)


def prepare(prompt: ir.Prompt, *, model=None, images=None, seed=None, steps=None, guidance=None, scheduler=None,
            width=None, height=None, default_seed: int | None = None) -> ir.Prompt:
    """The prompt with flag overrides applied, checked against the one table of limits,
    a seed chosen where none is stated (``default_seed``, or a random one), and a model
    required. ``width``/``height`` replace a stated ``size`` or ``aspect``."""
    from ..errors import suggest
    from ..schedulers import SCHEDULERS, lookup
    from ..settings import LIMITS, validate

    changes = {k: v for k, v in dict(model=model, images=images, seed=seed, steps=steps, guidance=guidance,
                                     width=width, height=height).items() if v is not None}
    if width is not None or height is not None:
        changes["aspect"] = None
    if scheduler is not None:
        if lookup(scheduler) is None:
            raise PromptError(f"unknown scheduler `{scheduler}`{suggest(scheduler, SCHEDULERS)}",
                              hint="schedulers: " + ", ".join(SCHEDULERS))
        changes["scheduler"] = lookup(scheduler)
    settings = replace(prompt.settings, **changes)
    validate(settings)
    last = LIMITS["seed"][1]
    count = settings.images or 1
    if settings.seed is None and default_seed is not None:
        settings = replace(settings, seed=min(default_seed, last - count + 1))
    elif settings.seed is None:  # a random seed whose images' seeds all fit in the range
        settings = replace(settings, seed=secrets.randbelow(last - count + 2))
    elif settings.seed + count - 1 > last:
        raise PromptError(f"prompt `{prompt.name}`: seed {settings.seed:,} with {count} images goes past "
                          f"{last:,} (image i uses seed + i)", hint=f"use a seed of at most {last - count + 1:,}")
    if not settings.model:
        raise PromptError(f"prompt `{prompt.name}` names no model: add `model \"…\"` to the file or pass --model",
                          hint="`--model builtin:shapes` renders coloured shapes with a tiny trained model, on any machine")
    from ..adapters import hashed

    return hashed(replace(prompt, settings=settings))  # every LoRA/embedding file there, checked, its sha256 set


def image_count(prompt: ir.Prompt) -> int:
    return prompt.settings.images or 1


def check_free(paths, overwrite: bool, resumable: bool = False) -> None:
    """Refuse, before anything runs, to replace files unless ``overwrite`` says so, and to
    write two outputs to one path. A device or FIFO is written through, not replaced, so
    it needs no ``overwrite``."""
    from ..files import special

    seen: set = set()
    for p in paths:
        key = os.path.realpath(p)
        if key in seen:
            raise PromptError(f"two outputs would be written to {p}",
                              hint="give them different names or folders")
        seen.add(key)
    existing = [str(p) for p in paths if Path(p).exists() and not special(p)]
    if existing and not overwrite:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        resume = ", --resume to keep the images an interrupted run finished" if resumable else ""
        raise PromptError(f"{existing[0]} already exists{more}",
                          hint=f"pass --overwrite to replace{resume}, or choose another output with -o")


def folder(out) -> Path:
    """``out`` as an output folder (made, with its parents, once there is something to put
    in it): neither it nor a parent may be a file."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise PromptError(f"--out {out} is a file, not a folder")
    parent = next((p for p in out.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise PromptError(f"--out {out}: {parent} is a file, not a folder")
    return out


def out_file(out) -> Path:
    """``out`` as an output file: its folder must exist, and it may not be a folder."""
    out = Path(out)
    if out.is_dir():
        raise PromptError(f"--out {out} is a folder; give the file to write")
    where = out.parent if str(out.parent) else Path(".")
    if not where.is_dir():
        raise PromptError(f"--out {out}: the folder {where} does not exist")
    return out


def check_models(models) -> None:
    """Fail while planning, before anything loads or is written, for a model that cannot
    load (an unknown builtin, a path that is not there, a pickle file, an id not in the cache)."""
    from ..diffusion.models import locate

    for model in dict.fromkeys(models):
        locate(model)


def notes(models, report) -> None:
    """Say so when a model is a random-weight test model."""
    from ..diffusion.models import TEST_MODELS

    for model in dict.fromkeys(models):
        if model in TEST_MODELS:
            report(Event("note", TEST_MODEL_NOTE.format(model=model)))


def file_name(prompt: ir.Prompt, seed: int) -> str:
    """``PROMPT-SEED.png``; a name that cannot be a file name is refused."""
    from ..artifacts.records import NAME

    if not NAME.fullmatch(prompt.name):
        raise PromptError(f"prompt name {prompt.name!r} cannot be a file name")
    return f"{prompt.name}-{seed}.png"


def check_walkable(prompts, source: str | None = None) -> None:
    """A walk or grid mixes one conditioning per prompt: a prompt edit has several.
    ``source``: the file's text, so the error shows the line and a caret."""
    for q in prompts:
        if len(q.segments) > 1:
            raise PromptError(f"prompt `{q.name}` switches text during sampling (`->`): a walk or grid mixes one "
                              "conditioning per prompt", q.span, source=source,
                              hint="walk between prompts without `->` (a `blend` is fine)")


def printable(text) -> str:
    """Text from a PNG is untrusted: no terminal escape sequences reach the screen."""
    return "".join(c if c.isprintable() or c in "\n\t" else f"\\x{ord(c):02x}" for c in str(text))


def check_adapters(image, prompt) -> None:
    """Every LoRA and embedding the image was made with is there, with the sha256 it
    recorded (a record without the hash is refused: it could not be checked)."""
    from ..adapters import hashed

    for adapter in prompt.adapters:
        if adapter.sha256 is None:
            raise PromptError(printable(f"{image}: its record names the {adapter.kind} `{adapter.name}` without the "
                                        "sha256 of its file, so the file cannot be checked"))
    try:
        hashed(prompt)
    except PromptError as exc:
        raise PromptError(printable(f"{image}: cannot reproduce: {exc.message}"), hint=exc.hint) from None
