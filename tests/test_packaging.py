"""Packaging: the wheel carries what the code reads, works away from the checkout, and
a checkout (editable install) reads the top-level grammars/ and styles/ (DESIGN §2).

Building the wheel takes a few seconds (hatchling, no build isolation: hatchling is
in the `test` extra). Installed code runs in a subprocess whose working folder is a
scratch folder, never the repository.
"""
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

import promptlang
from promptlang import resources

from conftest import ROOT

SOURCE = 'use core\nprompt p {\n  subject "a business meeting"\n  format stock_photo\n  negative blurry\n}\n'
WHEEL_FILES = [
    "promptlang/__init__.py",
    "promptlang/grammars/promptlang.lark",
    "promptlang/styles/core.yaml",
    "promptlang/data/clip/vocab.json",
    "promptlang/data/clip/merges.txt",
    "promptlang/data/clip/LICENSE",
    "promptlang/styles/shapes.yaml",
    "promptlang/data/shapes/model_index.json",
    "promptlang/data/shapes/unet/diffusion_pytorch_model.safetensors",
    "promptlang/data/shapes/tokenizer/vocab.json",
    "promptlang/data/shapes/clip/model.safetensors",
    "promptlang/data/shapes/TRAINING.json",
]


def run(args, *, cwd, env=None, timeout=120):
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{args}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


def python(code: str, *, cwd, pythonpath=None, args=()):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath:
        env["PYTHONPATH"] = str(pythonpath)
    return run([sys.executable, "-c", textwrap.dedent(code), *map(str, args)], cwd=cwd, env=env)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    pytest.importorskip("hatchling", reason="hatchling is in the `test` extra; install it to build the wheel")
    out = tmp_path_factory.mktemp("wheel")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-cache-dir",
         "--disable-pip-version-check", "-q", "-w", str(out), str(ROOT)], cwd=out, timeout=300)
    [built] = out.glob("*.whl")
    return built


@pytest.fixture(scope="module")
def site(wheel, tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("site")
    run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--disable-pip-version-check", "-q",
         "--target", str(target), str(wheel)], cwd=target)
    return target


# -- (a) the wheel's contents -----------------------------------------------------------

def test_wheel_contains_the_data_the_code_reads(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        entry_points = zf.read(f"{dist_info}/entry_points.txt").decode()
        metadata = zf.read(f"{dist_info}/METADATA").decode()
    missing = [n for n in WHEEL_FILES if n not in names]
    assert not missing, f"{wheel.name} lacks {missing}"
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.startswith(("tests/", "examples/", "bench/"))]
    assert "promptlang = promptlang.cli:main" in entry_points
    hard = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:") and "extra ==" not in line]
    assert not [line for line in hard if any(h in line for h in ("torch", "diffusers", "compel"))], hard


def test_wheel_styles_match_the_checkout(wheel):
    with zipfile.ZipFile(wheel) as zf:
        for path in [*(ROOT / "styles").glob("*.yaml"), ROOT / "grammars" / "promptlang.lark"]:
            inside = f"promptlang/{path.parent.name}/{path.name}"
            assert zf.read(inside) == path.read_bytes(), inside


# -- (b) the installed wheel, away from the checkout -------------------------------------

def test_installed_wheel_works_outside_the_checkout(site, tmp_path):
    result = python("""
        import sys
        from pathlib import Path
        import promptlang
        from promptlang import resources
        from promptlang.tokens import count_tokens

        site = Path(sys.argv[1]).resolve()
        for used in (promptlang.__file__, resources.grammar_file(), resources.styles_dir()):
            assert Path(used).resolve().is_relative_to(site), f"{used} is not from the wheel"
        [text] = promptlang.compile(sys.argv[2], target="compel")
        positive, negative = text.split("\\nNegative prompt: ")
        assert positive == "a stock photo of a business meeting", text
        assert negative.startswith("blurry"), text
        assert count_tokens(positive) == 7, count_tokens(positive)
        print("ok")
    """, cwd=tmp_path, pythonpath=site, args=[site, SOURCE])
    assert result.stdout.strip() == "ok"


def test_installed_wheel_runs_the_cli(site, tmp_path):
    (tmp_path / "p.prompt").write_text(SOURCE, encoding="utf-8")
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "PYTHONPATH": str(site)}
    result = run([sys.executable, "-m", "promptlang", "compile", "p.prompt", "--target", "plain"], cwd=tmp_path,
                 env=env)
    assert result.stdout.startswith("a stock photo of a business meeting\nNegative prompt: blurry")
    result = run([sys.executable, "-m", "promptlang", "tokens", "p.prompt"], cwd=tmp_path, env=env)
    assert "p:" in result.stdout


# -- (c) the checkout --------------------------------------------------------------------

def test_checkout_reads_top_level_grammars_and_styles():
    assert Path(promptlang.__file__).resolve().parent == ROOT / "promptlang"
    assert resources.grammar_file().resolve() == ROOT / "grammars" / "promptlang.lark"
    assert resources.styles_dir().resolve() == ROOT / "styles"
    assert resources.grammar_file().is_file()


# -- (d) the commands --------------------------------------------------------------------

def test_python_dash_m_help(tmp_path):
    result = run([sys.executable, "-m", "promptlang", "--help"], cwd=tmp_path)
    assert "compile" in result.stdout and "usage:" in result.stdout


def test_console_script(tmp_path):
    script = Path(sys.executable).parent / ("promptlang.exe" if os.name == "nt" else "promptlang")
    assert script.is_file(), f"no console script at {script}: is the project installed (pip install -e .)?"
    assert "usage:" in run([str(script), "--help"], cwd=tmp_path).stdout
    (tmp_path / "p.prompt").write_text(SOURCE, encoding="utf-8")
    result = run([str(script), "compile", "p.prompt", "--target", "compel"], cwd=tmp_path)
    assert result.stdout.startswith("a stock photo of a business meeting")


# -- (e) the text path imports no heavy library -------------------------------------------

def test_text_targets_import_no_torch(tmp_path):
    (tmp_path / "p.prompt").write_text(SOURCE, encoding="utf-8")
    result = python("""
        import contextlib, io, sys
        import promptlang
        from promptlang.cli import main
        from promptlang.targets import NAMES, emit

        for prompt in promptlang.compile_source(sys.argv[1], "p.prompt").prompts:
            for target in NAMES:
                emit(target, prompt)
        with contextlib.redirect_stdout(io.StringIO()):
            for target in NAMES:
                assert main(["compile", "p.prompt", "--target", target]) == 0
            assert main(["check", "p.prompt"]) == 0
            assert main(["tokens", "p.prompt"]) == 0
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "diffusers", "compel", "transformers"))
        print(heavy)
    """, cwd=tmp_path, args=[SOURCE])
    assert result.stdout.strip() == "[]"
