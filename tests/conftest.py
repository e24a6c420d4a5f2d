import os
from pathlib import Path

import pytest

# Tiny-model tests oversubscribe a small machine: one torch thread each (subprocesses too).
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
# promptlang's on-disk caches (catalogs, token counts, embeddings) go to a folder of the test run
os.environ["PROMPTLANG_CACHE"] = __import__("tempfile").mkdtemp(prefix="promptlang-cache-")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.prompt"))

# four prompts with their own seeds, for walks, grids and reproducing their frames
LATENT_SRC = '''use core
defaults {
    size 64x64
    steps 2
}
prompt cat {
    subject "a cat"
    negative blurry
    seed 1
}
prompt dog {
    subject "a dog on a long road under a bright sun"
    format watercolor
    seed 2
}
prompt fruit {
    subject "a bowl of fruit"
    seed 3
}
prompt tower {
    subject "the Eiffel Tower"
    seed 4
}
'''


def pytest_configure(config):
    try:
        import torch
    except ImportError:  # the core installs without torch
        return
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)


def pytest_collection_modifyitems(config, items):
    try:
        import torch
        has_cuda = torch.cuda.is_available()
    except Exception:
        has_cuda = False
    if has_cuda:
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def write(tmp_path):
    """Write files into tmp_path: write("a.prompt", text) -> Path."""
    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path
    return _write


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def tiny():
    """One builtin:tiny pipeline for the whole run (renders never change it: they use views of it)."""
    from promptlang.diffusion.models import load_pipeline
    return load_pipeline("builtin:tiny", "cpu")


@pytest.fixture
def tiny_cli(tiny, monkeypatch, in_tmp):
    """Run `promptlang ...` in-process; every model load gets the one shared tiny pipeline."""
    import promptlang.diffusion.models
    from promptlang.cli import main

    monkeypatch.setattr(promptlang.diffusion.models, "load_pipeline", lambda model, device="cpu", **kw: tiny)
    return lambda *argv: main(list(argv))


class Raw(str):
    """The whole text of a chunk, for a change that is not an edit of the record."""


def tamper(src, dst, change, chunk: str = "promptlang") -> None:
    """Copy a PNG with its ``chunk`` record changed: ``change(record)`` edits it in place (what
    it returns is ignored), or returns :class:`Raw` text to put there instead."""
    import json

    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    image = Image.open(src)
    record = json.loads(image.text[chunk])
    text = change(record)
    meta = PngInfo()
    meta.add_itxt(chunk, text if isinstance(text, Raw) else json.dumps(record))
    image.save(dst, pnginfo=meta)
