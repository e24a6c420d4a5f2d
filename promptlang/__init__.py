"""promptlang: text-to-image prompts as code.

``parse`` -> ``compile`` (resolve catalogs to the IR) -> text targets (``emit``),
or ``encode``/``render`` (these import torch, diffusers and compel lazily).
"""
from __future__ import annotations

__version__ = "0.1.0"

# The public names are imported when first used (PEP 562), so that `import promptlang`
# (and `from promptlang import __version__`, which the command line does first) costs
# nothing: the parser, YAML and Jinja come in only with the command that needs them.
_LAZY = {
    "Catalog": ("catalog", "Catalog"),
    "load_catalog": ("catalog", "load"),
    "Compiled": ("compiler", "Compiled"),
    "compile_file": ("compiler", "compile_file"),
    "compile_source": ("compiler", "compile_source"),
    "PromptError": ("errors", "PromptError"),
    "Fragment": ("ir", "Fragment"),
    "Params": ("ir", "Params"),
    "Prompt": ("ir", "Prompt"),
    "parse": ("syntax", "parse"),
    "emit": ("targets", "emit"),
    "Settings": ("settings", "Settings"),
    # encoding and rendering import torch, diffusers and compel: only when first used
    "encode": ("diffusion.encode", "encode"),
    "render": ("jobs.render", "render"),
}
_SUBMODULES = ("adapters", "ast", "catalog", "choices", "compiler", "errors", "expansion", "ir", "lint", "resolve",
               "settings", "syntax", "targets", "template", "tokens", "artifacts", "diffusion", "jobs")


def compile(source_or_path, *, target: str | None = None, search_dirs=(), variation=None):
    """Compile a `.prompt` file (a path) or text (a string containing a newline or `{`).
    ``variation`` (:class:`promptlang.expansion.Variation`): how prompts with choices expand
    (every combination, at most 1,000, by default).

    Returns the list of IR prompts, or with ``target`` the list of emitted strings.
    """
    import os

    from .compiler import compile_file, compile_source
    from .targets import emit

    text = str(source_or_path)
    if isinstance(source_or_path, os.PathLike) or ("\n" not in text and "{" not in text):
        result = compile_file(source_or_path, search_dirs=search_dirs, variation=variation)
    else:
        result = compile_source(text, search_dirs=search_dirs, variation=variation)
    if target is None:
        return result.prompts
    return [emit(target, p) for p in result.prompts]


def __getattr__(name):
    """The public API, imported on first use; ``promptlang.encode`` and ``promptlang.render``
    (:func:`promptlang.diffusion.encode.encode`, :func:`promptlang.jobs.render.render`) import torch."""
    import importlib

    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(f"{__name__}.{module}"), attr)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'promptlang' has no attribute {name!r}")


__all__ = ["Catalog", "Compiled", "Fragment", "Params", "Prompt", "PromptError", "Settings", "compile",
           "compile_file", "compile_source", "emit", "encode", "load_catalog", "parse", "render", "__version__"]


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
