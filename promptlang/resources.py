"""Where the grammar and the bundled catalogs live.

In a checkout (and an editable install) they are the top-level ``grammars/`` and
``styles/`` folders; a built wheel carries them inside the package as
``promptlang/grammars`` and ``promptlang/styles`` (see ``pyproject.toml``).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


@lru_cache(maxsize=None)
def _folder(name: str) -> Path:
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"promptlang is installed without its {name}/ folder (looked in "
                            f"{_PACKAGE / name} and {_PACKAGE.parent / name})")


def grammar_file() -> Path:
    return _folder("grammars") / "promptlang.lark"


def styles_dir() -> Path:
    return _folder("styles")
