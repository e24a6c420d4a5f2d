"""LoRAs and textual-inversion embeddings as files: where they are, how big they may be,
and the sha256 each must have. No torch here (this is part of the language core);
:mod:`promptlang.diffusion.adapters` loads them.

A render checks every file a prompt needs while it is planned (:func:`hashed`): the file
is there, a ``.safetensors`` file within the size limit, and its sha256 matches the one
its catalog states or its PNG records. The hash then travels in the IR; the loader
checks the bytes it reads against it again, so what is recorded is what was rendered.
"""
from __future__ import annotations

import hashlib
from dataclasses import replace

from . import ir
from .errors import PromptError
from .files import read_limited

MAX_BYTES = {"lora": 4 << 30, "embedding": 16 << 20}  # an SDXL LoRA is up to ~1.7 GB; an embedding a few KB
WHAT = {"lora": "LoRA", "embedding": "embedding"}


def read(adapter: ir.Adapter) -> bytes:
    """The file's bytes, checked: a .safetensors file, within the limit, with the sha256
    ``adapter`` holds (when it holds one)."""
    what = WHAT[adapter.kind]
    if not adapter.file.endswith(".safetensors"):
        raise PromptError(f"{what} `{adapter.name}`: {adapter.file} is not a .safetensors file (pickle files "
                          "such as .pt, .bin and .ckpt can run code when loaded, and are never read)")
    try:
        data = read_limited(adapter.file, MAX_BYTES[adapter.kind], f"a {what} file")
    except PromptError as exc:
        raise PromptError(f"{what} `{adapter.name}`: {exc.message}",
                          hint="the file was moved, renamed or deleted since the prompt named it"
                          if "no such file" in exc.message else exc.hint) from None
    sha = hashlib.sha256(data).hexdigest()
    if adapter.sha256 is not None and sha != adapter.sha256:
        raise PromptError(f"{what} `{adapter.name}`: {adapter.file} has changed: its sha256 is {sha[:16]}…, "
                          f"not {adapter.sha256[:16]}… as its catalog states or the image records",
                          hint="put back the file with that hash (or, for a catalog, update its `sha256`)")
    return data


def hashed(prompt: ir.Prompt) -> ir.Prompt:
    """The prompt with every adapter's file checked (see :func:`read`) and its sha256 set."""
    if not prompt.adapters:
        return prompt
    out = []
    for adapter in prompt.adapters:
        try:
            sha = hashlib.sha256(read(adapter)).hexdigest()
        except PromptError as exc:
            raise PromptError(f"prompt `{prompt.name}`: {exc.message}", prompt.span, hint=exc.hint) from None
        out.append(replace(adapter, sha256=sha))
    return replace(prompt, adapters=tuple(out))
