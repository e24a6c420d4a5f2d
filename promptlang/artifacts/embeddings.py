"""Embeddings files (``.safetensors``): what ``promptlang embed`` writes and the cache keeps.

A file holds one prompt's conditioning: ``prompt_embeds``, ``negative_prompt_embeds``
(+ ``pooled_prompt_embeds``, ``negative_pooled_prompt_embeds`` for SDXL) for its first
segment, ready for ``pipe(**tensors)``. A prompt edit's later segments follow as
``stage1.prompt_embeds`` …, with the fractions of the steps at which they start in the
``stages`` metadata (JSON); edits written ``at step K`` list those steps in
``stage_steps`` too (their fractions are then of the steps the prompt states). This naming is the file format only: :func:`pack` and
:func:`unpack` are the one place that knows it; in memory a conditioning is a list of
dicts, one per segment. Metadata values are strings.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import PromptError
from ..files import atomic_path, size_within

MAX_FILE = 2 * 1024 * 1024 * 1024  # bytes of an embeddings file we are willing to open


def pack(segments: list[dict], starts=(), turns=()) -> tuple[dict, dict]:
    """``(tensors, metadata)`` for a file: segment 0 bare, segment k as ``stage{k}.NAME``.
    ``turns``: (every, phase) of each segment where an alternation (``[a | b]``) takes turns
    a step each; kept as ``turns`` metadata (JSON) beside ``stages``."""
    tensors = dict(segments[0])
    for k, later in enumerate(segments[1:], start=1):
        tensors.update({f"stage{k}.{name}": t for name, t in later.items()})
    meta = {"stages": json.dumps([float(s) for s in list(starts)[1:]])} if len(segments) > 1 else {}
    if any(every > 1 for every, _ in turns):
        meta["turns"] = json.dumps([[int(every), int(phase)] for every, phase in turns])
    return tensors, meta


def unpack(tensors: dict) -> list[dict]:
    """One dict per segment from a file's tensors (the inverse of :func:`pack`)."""
    out = [{name: t for name, t in tensors.items() if not name.startswith("stage")}]
    k = 1
    while f"stage{k}.prompt_embeds" in tensors:
        prefix = f"stage{k}."
        out.append({name[len(prefix):]: t for name, t in tensors.items() if name.startswith(prefix)})
        k += 1
    return out


def save(path, tensors: dict, metadata: dict | None = None) -> Path:
    """Write tensors (+ string metadata) to a ``.safetensors`` file, atomically."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {name: t.detach().to("cpu").contiguous() for name, t in tensors.items()}
    meta = {str(k): str(v) for k, v in (metadata or {}).items()}
    with atomic_path(path) as tmp:
        save_file(data, tmp, metadata=meta)
    return path


def load(path, device=None) -> tuple[dict, dict]:
    """``(tensors, metadata)`` from a ``.safetensors`` file (never pickle)."""
    from safetensors import safe_open

    size_within(path, MAX_FILE, "an embeddings file")
    try:
        with safe_open(str(path), framework="pt", device=str(device) if device else "cpu") as f:
            return {name: f.get_tensor(name) for name in f.keys()}, dict(f.metadata() or {})
    except Exception as exc:  # safetensors raises its own error types for damaged files
        raise PromptError(f"{path}: not a readable .safetensors embeddings file ({exc})") from None
