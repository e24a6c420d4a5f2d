"""promptlang: text-to-image prompts as code.

``parse`` -> ``compile`` (resolve catalogs to the IR) -> text targets (``emit``),
or ``encode``/``render`` (these import torch, diffusers and compel lazily).
"""
from __future__ import annotations

__version__ = "0.1.0"

from .catalog import Catalog
from .catalog import load as load_catalog
from .compiler import Compiled, compile_file, compile_source
from .errors import PromptError
from .ir import Fragment, Params, Prompt
from .syntax import parse
from .targets import emit


def compile(source_or_path, *, target: str | None = None, search_dirs=()):
    """Compile a `.prompt` file (a path) or text (a string containing a newline or `{`).

    Returns the list of IR prompts, or with ``target`` the list of emitted strings.
    """
    import os

    text = str(source_or_path)
    if isinstance(source_or_path, os.PathLike) or ("\n" not in text and "{" not in text):
        result = compile_file(source_or_path, search_dirs=search_dirs)
    else:
        result = compile_source(text, search_dirs=search_dirs)
    if target is None:
        return result.prompts
    return [emit(target, p) for p in result.prompts]


def __getattr__(name):
    """``promptlang.encode`` and ``promptlang.render`` import torch: only when first asked for.

    Each is its module, made callable (calling it runs the function of the same name),
    so ``promptlang.render(...)`` and ``promptlang.render.save_png`` both work whatever
    was imported first.
    """
    if name in ("encode", "render"):
        import importlib

        module = importlib.import_module(f"{__name__}.{name}")  # the module is callable: it runs the function
        globals()[name] = module
        return module
    raise AttributeError(f"module 'promptlang' has no attribute {name!r}")


__all__ = ["Catalog", "Compiled", "Fragment", "Params", "Prompt", "PromptError", "compile", "compile_file",
           "compile_source", "emit", "load_catalog", "parse", "__version__"]
