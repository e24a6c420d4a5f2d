"""Fooocus' ``sdxl_styles*.json`` and the ComfyUI SDXL prompt styler's JSON: a list of
``{"name", "prompt", "negative_prompt"}`` with ``{prompt}`` where the user's prompt goes."""
from __future__ import annotations

import json

from ..errors import PromptError
from .common import Builder


def looks_like(text: str) -> bool:
    return text.lstrip("\ufeff \t\r\n").startswith("[")


def read(text: str, shown: str, builder: Builder) -> None:
    """Add the styles of a Fooocus or styler JSON file to ``builder``."""
    try:
        data = json.loads(text.lstrip("\ufeff"))
    except json.JSONDecodeError as exc:
        raise PromptError(f"{shown}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise PromptError(f"{shown}: not a style list: nested too deeply") from None
    if not isinstance(data, list):
        raise PromptError(f"{shown}: not a Fooocus or SDXL prompt styler file: expected a list of "
                          f'{{"name", "prompt", "negative_prompt"}}, got a JSON {type(data).__name__}')
    for i, item in enumerate(data, 1):
        where = f"{shown}: item {i}"
        if not isinstance(item, dict):
            builder.warn(where, f"expected an object with name and prompt, got {type(item).__name__}; skipped")
            continue
        name, prompt, negative = (item.get(k, "") for k in ("name", "prompt", "negative_prompt"))
        bad = [k for k, v in (("name", name), ("prompt", prompt), ("negative_prompt", negative))
               if v is not None and not isinstance(v, str)]
        if bad:
            builder.warn(where, f"{', '.join(bad)}: expected text; skipped")
            continue
        unknown = sorted(set(item) - {"name", "prompt", "negative_prompt"})
        if unknown:
            builder.warn(where, f"`{name}`: fields not carried: {', '.join(map(str, unknown))[:80]}")
        builder.add(where, name or "", prompt or "", negative or "")


def write(rows) -> bytes:
    """``rows``: (name, prompt, negative) -> the bytes of a Fooocus/styler JSON file."""
    doc = [{"name": n, "prompt": p, "negative_prompt": neg} for n, p, neg in rows]
    return (json.dumps(doc, indent=4, ensure_ascii=False) + "\n").encode("utf-8")
