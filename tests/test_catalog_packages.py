"""Catalog packages: the entry-point group `promptlang.catalogs`, `catalog list`'s
sources, `catalog new`, and a scaffolded package built and installed into a venv."""
from __future__ import annotations

import os
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import promptlang
from promptlang import catalog
from promptlang.cli import main
from promptlang.compiler import compile_file
from promptlang.errors import PromptError
from promptlang.scaffold import package_files

ROOT = Path(promptlang.__file__).resolve().parent.parent


class FakeDist:
    def __init__(self, name="studio-styles", version="1.2.0", files=()):
        self.metadata = {"Name": name}
        self.version = version
        self.files = list(files)


class FakePoint:
    def __init__(self, name, value, dist):
        self.name, self.value, self.dist = name, value, dist


@pytest.fixture
def packages(monkeypatch):
    """Installs fake entry points: {name: (value, dist)}."""
    import importlib.metadata

    points = []

    def install(name, value, dist=None):
        points.append(FakePoint(name, value, dist or FakeDist()))

    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group=None: list(points))
    return install


def make_package(tmp_path, monkeypatch, name="studio", module="studio_styles") -> Path:
    folder = tmp_path / "site" / module
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("raise RuntimeError('a catalog package is never imported')\n")
    (folder / "catalog.yaml").write_text(package_files(name)[f"src/{name}_styles/catalog.yaml"])
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    return folder / "catalog.yaml"


def test_use_finds_an_installed_package_without_importing_it(tmp_path, monkeypatch, packages):
    path = make_package(tmp_path, monkeypatch)
    packages("studio", "studio_styles:catalog.yaml")
    assert catalog.find("studio") == path
    prompt = tmp_path / "a.prompt"
    prompt.write_text('use studio\nprompt a {\n subject "a cat"\n style studio_look\n}\n')
    text = compile_file(prompt).prompts[0].segments[0].positive
    assert "soft film grain" in " ".join(piece.text for piece in text)
    assert "studio_styles" not in sys.modules


def test_folders_and_bundled_catalogs_come_before_packages(tmp_path, monkeypatch, packages):
    make_package(tmp_path, monkeypatch)
    packages("core", "studio_styles:catalog.yaml")
    packages("studio", "studio_styles:catalog.yaml")
    assert catalog.find("core").parent == catalog.styles_dir()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "studio.yaml").write_text("name: studio\n")
    assert catalog.find("studio", [mine]) == mine / "studio.yaml"


def test_packages_are_looked_up_only_for_names_no_folder_has(packages, monkeypatch):
    import importlib.metadata

    def boom(group=None):
        raise AssertionError("entry points read for a bundled catalog")

    monkeypatch.setattr(importlib.metadata, "entry_points", boom)
    assert catalog.find("core") is not None


@pytest.mark.parametrize("value, words", [
    ("studio_styles:missing.yaml", "studio_styles/missing.yaml is not installed"),
    ("studio_styles", "is not `module:file.yaml`"),
    ("studio_styles:../x.yaml", "is not the name of a .yaml file"),
    ("studio_styles:catalog.py", "is not the name of a .yaml file"),
    ("not a module:catalog.yaml", "is not a module name"),
    ("nowhere_styles:catalog.yaml", "nowhere_styles/catalog.yaml is not installed"),
])
def test_a_broken_entry_point_is_an_error_naming_the_distribution(tmp_path, monkeypatch, packages, value, words):
    make_package(tmp_path, monkeypatch)
    packages("studio", value)
    with pytest.raises(PromptError) as err:
        catalog.find("studio")
    assert "package studio-styles 1.2.0" in err.value.message and words in err.value.message


def test_a_broken_package_is_reported_where_it_is_used(tmp_path, monkeypatch, packages, capsys):
    packages("studio", "studio_styles:gone.yaml")
    prompt = tmp_path / "a.prompt"
    prompt.write_text('use studio\nprompt a {\n subject "a cat"\n}\n')
    monkeypatch.chdir(tmp_path)
    assert main(["compile", str(prompt)]) != 0
    err = capsys.readouterr().err
    assert "package studio-styles 1.2.0" in err and "Traceback" not in err


def test_catalog_list_shows_sources_and_versions(tmp_path, monkeypatch, packages, capsys):
    make_package(tmp_path, monkeypatch)
    packages("studio", "studio_styles:catalog.yaml")
    packages("broken", "broken_styles:catalog.yaml", FakeDist("broken-styles", "0.0.1"))
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "team.yaml").write_text("name: team\nversion: 2.0.0\n")
    assert main(["catalog", "list", "--catalogs", str(mine)]) == 1
    out, err = capsys.readouterr()
    lines = {line.split()[0]: line for line in out.splitlines() if line and not line.startswith(" ")}
    assert lines["core"].split()[1] == "1.0.0" and lines["core"].endswith("(bundled)")
    assert lines["team"].split()[1] == "2.0.0" and lines["team"].endswith(f"({mine / 'team.yaml'})")
    assert lines["studio"].split()[1] == "0.1.0" and lines["studio"].endswith("(package studio-styles 1.2.0)")
    assert "broken-styles 0.0.1" in err and "Traceback" not in err


def test_catalog_new_writes_a_package_and_keeps_existing_files(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["catalog", "new", "studio"]) == 0
    root = tmp_path / "studio-styles"
    assert {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} == {
        "pyproject.toml", "README.md", "tests/test_catalog.py",
        "src/studio_styles/__init__.py", "src/studio_styles/catalog.yaml"}
    assert 'studio = "studio_styles:catalog.yaml"' in (root / "pyproject.toml").read_text()
    cat = catalog.load(root / "src/studio_styles/catalog.yaml")
    assert cat.name == "studio" and all(cat.entries.values())
    capsys.readouterr()
    assert main(["catalog", "new", "studio"]) != 0
    assert "--overwrite" in capsys.readouterr().err
    assert main(["catalog", "new", "studio", "--overwrite"]) == 0
    assert main(["catalog", "new", "other", "elsewhere"]) == 0
    assert (tmp_path / "elsewhere" / "src/other_styles/catalog.yaml").is_file()
    assert main(["catalog", "new", "bad-name"]) != 0


def test_scaffolded_files_are_valid(tmp_path):
    import tomllib

    files = package_files("Team_2")
    data = tomllib.loads(files["pyproject.toml"])
    assert data["project"]["entry-points"]["promptlang.catalogs"] == {"Team_2": "team_2_styles:catalog.yaml"}
    path = tmp_path / "c.yaml"
    path.write_text(files["src/team_2_styles/catalog.yaml"])
    assert catalog.load(path).name == "Team_2"
    compile(files["tests/test_catalog.py"], "test_catalog.py", "exec")


def _venv(tmp_path: Path) -> Path:
    """A venv that sees this interpreter's packages (promptlang, hatchling, pip, pytest):
    --system-site-packages reaches only the base interpreter's, so a .pth adds ours."""
    env = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(env)],
                   check=True, timeout=120)
    python = env / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True, timeout=60).stdout.strip()
    ours = [str(ROOT), *site.getsitepackages(), sysconfig.get_paths()["purelib"]]
    Path(purelib, "_promptlang_parent.pth").write_text("\n".join(dict.fromkeys(ours)) + "\n")
    return python


def test_a_scaffolded_package_installs_and_use_finds_it(tmp_path):
    pytest.importorskip("hatchling")
    subprocess.run([sys.executable, "-m", "promptlang", "catalog", "new", "studio", str(tmp_path / "pkg")],
                   check=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    python = _venv(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL")}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    run = lambda *args, cwd=tmp_path: subprocess.run(  # noqa: E731
        [str(python), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    done = run("-m", "pip", "install", "--no-index", "--no-build-isolation", "--no-deps", str(tmp_path / "pkg"))
    assert done.returncode == 0, done.stdout + done.stderr
    prompt = tmp_path / "a.prompt"
    prompt.write_text('use studio\nprompt a {\n subject "a cat"\n format studio_photo\n}\n')
    done = run("-m", "promptlang", "compile", str(prompt), "--target", "a1111")
    assert done.returncode == 0, done.stderr
    assert "a photo of a cat, 35mm" in done.stdout
    done = run("-m", "promptlang", "catalog", "list")
    assert done.returncode == 0, done.stderr
    assert "(package studio-styles 0.1.0)" in done.stdout
    # the package's own test passes once installed
    done = run("-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path / "pkg" / "tests"), cwd=tmp_path / "pkg")
    assert done.returncode == 0, done.stdout + done.stderr
