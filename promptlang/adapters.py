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
import os
import stat
from dataclasses import replace

from . import ir
from .errors import PromptError
from .files import read_limited, size_within

MAX_BYTES = {"lora": 4 << 30, "embedding": 16 << 20}  # an SDXL LoRA is up to ~1.7 GB; an embedding a few KB
WHAT = {"lora": "LoRA", "embedding": "embedding"}


def _named(adapter: ir.Adapter, exc: PromptError) -> PromptError:
    return PromptError(f"{WHAT[adapter.kind]} `{adapter.name}`: {exc.message}",
                       hint="put the file there, or correct the path (a catalog's `file` is relative to the "
                            "catalog)" if "no such file" in exc.message else exc.hint)


def _suffix(adapter: ir.Adapter) -> None:
    if not adapter.file.endswith(".safetensors"):
        raise PromptError(f"{WHAT[adapter.kind]} `{adapter.name}`: {adapter.file} is not a .safetensors file "
                          "(pickle files such as .pt, .bin and .ckpt can run code when loaded, and are never read)")


def read(adapter: ir.Adapter) -> bytes:
    """The file's bytes, checked: a .safetensors file, within the limit, with the sha256
    ``adapter`` holds (when it holds one). The loader hashes the very bytes it loads."""
    _suffix(adapter)
    try:
        data = read_limited(adapter.file, MAX_BYTES[adapter.kind], f"a {WHAT[adapter.kind]} file")
    except PromptError as exc:
        raise _named(adapter, exc) from None
    _same(adapter, hashlib.sha256(data).hexdigest())
    return data


def sha256(adapter: ir.Adapter) -> str:
    """The sha256 of the file, read in pieces (a LoRA may be gigabytes), checked as :func:`read` checks."""
    _suffix(adapter)
    limit = MAX_BYTES[adapter.kind]
    try:
        size_within(adapter.file, limit, f"a {WHAT[adapter.kind]} file")
        h, total = hashlib.sha256(), 0
        fd = os.open(adapter.file, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))  # a FIFO never blocks
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise PromptError(f"{adapter.file}: is not a regular file")
            while chunk := handle.read(1 << 20):
                total += len(chunk)
                if total > limit:
                    raise PromptError(f"{adapter.file}: too large for a {WHAT[adapter.kind]} file "
                                      f"(at most {limit:,} bytes)")
                h.update(chunk)
    except PromptError as exc:
        raise _named(adapter, exc) from None
    except IsADirectoryError:
        raise PromptError(f"{WHAT[adapter.kind]} `{adapter.name}`: {adapter.file} is a folder, not a "
                          f"{WHAT[adapter.kind]} file") from None
    except OSError as exc:
        raise PromptError(f"{WHAT[adapter.kind]} `{adapter.name}`: {adapter.file}: cannot read: "
                          f"{exc.strerror or exc}") from None
    return _same(adapter, h.hexdigest())


def _same(adapter: ir.Adapter, sha: str) -> str:
    what = WHAT[adapter.kind]
    if adapter.sha256 is not None and sha != adapter.sha256:
        raise PromptError(f"{what} `{adapter.name}`: {adapter.file} has changed: its sha256 is {sha[:16]}…, "
                          f"not {adapter.sha256[:16]}… as its catalog states or the image records",
                          hint="put back the file with that hash (or, for a catalog, update its `sha256`)")
    return sha


def hashed(prompt: ir.Prompt) -> ir.Prompt:
    """The prompt with every adapter's file checked (see :func:`read`) and its sha256 set."""
    if not prompt.adapters:
        return prompt
    out = []
    for adapter in prompt.adapters:
        try:
            sha = sha256(adapter)
        except PromptError as exc:
            raise PromptError(f"prompt `{prompt.name}`: {exc.message}", adapter.span or prompt.span,
                              hint=exc.hint) from None
        out.append(replace(adapter, sha256=sha))
    return replace(prompt, adapters=tuple(out))
