"""Projects: promptlang.toml, paths anywhere inside the project, `promptlang init`."""
from __future__ import annotations

from pathlib import Path

import pytest

from promptlang import project
from promptlang.cli import main
from promptlang.cli.common import compile_and_warn, default_out, search_dirs
from promptlang.compiler import compile_file
from promptlang.errors import PromptError

TEAM = "name: team\nrequires: [core]\nstyle:\n  house: { text: \"muted teal\" }\n"
PROMPT = 'prompt a {{\n subject "x"\n style {style}\n}}\n'


def make(tmp_path: Path, toml: str | None = "[project]\nname = \"demo\"\n") -> Path:
    root = tmp_path / "proj"
    (root / "styles").mkdir(parents=True)
    (root / "prompts").mkdir()
    (root / "styles" / "team.yaml").write_text(TEAM)
    if toml is not None:
        (root / "promptlang.toml").write_text(toml)
    return root


def write_prompt(root: Path, use: str, style: str = "house", name: str = "a.prompt") -> Path:
    path = root / "prompts" / name
    path.write_text(f"use {use}\n" + PROMPT.format(style=style))
    return path


def test_use_a_path_up_to_the_project_root(tmp_path):
    root = make(tmp_path)
    result = compile_file(write_prompt(root, '"../styles/team.yaml"'))
    assert "muted teal" in result.prompts[0].segments[0].positive[0].text


def test_requires_may_go_anywhere_inside_the_project(tmp_path):
    root = make(tmp_path)
    (root / "styles" / "sub").mkdir()
    (root / "styles" / "sub" / "child.yaml").write_text("name: child\nrequires: [../team.yaml]\n")
    assert compile_file(write_prompt(root, '"../styles/sub/child.yaml"')).prompts


@pytest.mark.parametrize("target", ['"../../outside.yaml"', '"/etc/passwd"', '"../styles/../../outside.yaml"',
                                    '"../link.yaml"'])
def test_escapes_from_the_project_are_refused(tmp_path, target):
    root = make(tmp_path)
    (tmp_path / "outside.yaml").write_text("name: outside\nstyle:\n  house: { text: leaked }\n")
    (root / "link.yaml").symlink_to(tmp_path / "outside.yaml")
    with pytest.raises(PromptError) as info:
        compile_file(write_prompt(root, target))
    assert "outside the project folder" in info.value.message or "absolute" in info.value.message
    text = str(info.value)
    assert ":1:5: error:" in text and "^^^" in text


def test_requires_leaving_the_project_is_refused(tmp_path):
    root = make(tmp_path)
    (tmp_path / "outside.yaml").write_text("name: outside\n")
    (root / "styles" / "bad.yaml").write_text("name: bad\nrequires: [../../outside.yaml]\n")
    with pytest.raises(PromptError, match="outside the project folder"):
        compile_file(write_prompt(root, '"../styles/bad.yaml"'))


def test_without_a_project_a_file_outside_the_current_folder_keeps_its_own_folder(tmp_path, monkeypatch):
    root = make(tmp_path, toml=None)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with pytest.raises(PromptError, match="outside the folder of a.prompt"):
        compile_file(write_prompt(root, '"../styles/team.yaml"'))
    monkeypatch.chdir(root)  # without a project, the root is the current folder
    assert compile_file(write_prompt(root, '"../styles/team.yaml"')).prompts


def test_find_walks_up_to_the_nearest_toml(tmp_path):
    root = make(tmp_path)
    assert project.find_root(root / "prompts") == root
    assert project.find(root / "prompts").name == "demo"
    assert project.find_root(tmp_path) is None


@pytest.mark.parametrize("toml, where, message", [
    ('[project]\nname = "x\n', "promptlang.toml:2:", "not valid TOML"),
    ('[project]\nname = "x"\n[catalogs]\nfolders = "styles"\n', "promptlang.toml:4:1:",
     "[catalogs] folders: expected a list of folder paths"),
    ('[project]\nname = "x"\ncolour = 1\n', "promptlang.toml:3:1:", "[project] unknown key `colour`"),
    ('[paint]\nx = 1\n', "promptlang.toml:1:1:", "unknown table [paint]"),
    ('[render]\n\nmodel = 3\n', "promptlang.toml:3:1:", "[render] model: expected a model id"),
    ('[catalogs]\nrequire = ["core", 2]\n', "promptlang.toml:2:1:", "[catalogs] require: expected a list"),
    ('[catalogs]\nfolders = ["nope"]\n', "promptlang.toml:2:1:", "no such folder 'nope'"),
    ('[catalogs]\nfolders = ["../.."]\n', "promptlang.toml:2:1:", "points outside the project folder"),
    ('name = "x"\n', "promptlang.toml:1:1:", "`name`: keys belong in a table"),
])
def test_bad_project_files(tmp_path, monkeypatch, capsys, toml, where, message):
    root = make(tmp_path, toml)
    monkeypatch.chdir(root)
    write_prompt(root, "core", style="van_gogh")
    assert main(["check", "prompts/a.prompt"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(where), err
    assert message in err and "^" in err


def test_catalog_folders_are_searched(tmp_path, monkeypatch):
    root = make(tmp_path, '[catalogs]\nfolders = ["styles"]\nrequire = ["core"]\n')
    monkeypatch.delenv("PROMPTLANG_CATALOGS", raising=False)
    path = write_prompt(root, "team")
    assert search_dirs((), near=path) == [(root / "styles").resolve()]
    assert main(["check", str(path)]) == 0
    other = tmp_path / "other"
    other.mkdir()
    assert search_dirs((str(other),), near=path)[0] == other  # --catalogs first


def test_render_defaults(tmp_path, monkeypatch):
    root = make(tmp_path, '[render]\nmodel = "builtin:tiny"\nout = "pictures"\n')
    path = write_prompt(root, '"../styles/team.yaml"')
    (root / "prompts" / "b.prompt").write_text('use core\ndefaults {\n model "mine"\n}\n'
                                                'prompt b {\n subject "x"\n}\n')
    assert compile_and_warn(path).prompts[0].settings.model == "builtin:tiny"
    assert compile_and_warn(root / "prompts" / "b.prompt").prompts[0].settings.model == "mine"  # the file wins
    assert default_out(path, None, "renders") == "pictures"
    assert default_out(path, "flag", "renders") == "flag"
    monkeypatch.chdir(tmp_path)
    assert default_out(tmp_path / "x.prompt", None, "renders") == "renders"


def test_init_writes_a_project_that_checks(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["init", "demo"]) == 0
    out = capsys.readouterr().out
    assert "demo/promptlang.toml" in out and "demo/prompts/example.prompt" in out
    assert project.find(tmp_path / "demo").name == "demo"
    assert main(["check", "demo/prompts/example.prompt"]) == 0
    assert main(["compile", "demo/prompts/example.prompt"]) == 0
    assert "muted teal" in capsys.readouterr().out
    before = (tmp_path / "demo" / "styles" / "team.yaml").read_text()
    (tmp_path / "demo" / "styles" / "team.yaml").write_text("name: mine\n")
    assert main(["init", "demo"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert (tmp_path / "demo" / "styles" / "team.yaml").read_text() == "name: mine\n"
    assert main(["init", "demo", "--overwrite"]) == 0
    assert (tmp_path / "demo" / "styles" / "team.yaml").read_text() == before


def test_init_usage_and_file_errors(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "f").write_text("x")
    assert main(["init", "f"]) == 2  # click: a file where a folder is asked for
    assert main(["init", "f/sub"]) == 1
    assert "Traceback" not in capsys.readouterr().err
    assert main(["init", "a", "b"]) == 2
    assert main(["init", "--nope"]) == 2
