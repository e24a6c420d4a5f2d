"""Catalog versions (`use studio >= 1.2`), promptlang.lock and `check --locked`, `catalog diff`."""
from __future__ import annotations

import pytest

from promptlang import lock, syntax
from promptlang.cli import main
from promptlang.cli.common import compile_path as compile_file
from promptlang.errors import PromptError

STUDIO = "name: studio\nversion: {version}\nrequires: [core]\nstyle:\n  house: {{ text: \"muted teal\" }}\n"
PROMPT = 'prompt a {\n subject "x"\n style house\n}\n'


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project in tmp_path (the current folder): styles/studio.yaml (version 1.4.0)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "promptlang.toml").write_text('[catalogs]\nfolders = ["styles"]\n')
    (tmp_path / "styles").mkdir()
    (tmp_path / "styles" / "studio.yaml").write_text(STUDIO.format(version="1.4.0"))
    return tmp_path


def prompt(root, use: str, name: str = "a.prompt"):
    path = root / name
    path.write_text(f"use {use}\n{PROMPT}")
    return path


# ---------------------------------------------------------------- grammar

@pytest.mark.parametrize("line, expected", [
    ("use core", ()),
    ("use core >= 1", ((">=", "1"),)),
    ("use core >= 1.2, < 2", ((">=", "1.2"), ("<", "2"))),
    ('use "./team.yaml" == 1.0.0', (("==", "1.0.0"),)),
    ("use core != 1.0.0rc1,<=3,>0.1", (("!=", "1.0.0rc1"), ("<=", "3"), (">", "0.1"))),
])
def test_use_with_constraints_parses(line, expected):
    use = syntax.parse(line + "\n").uses[0]
    assert tuple((c.op, c.version) for c in use.constraints) == expected


@pytest.mark.parametrize("line, col", [
    ("use core >=", 12), ("use core >= x", 13), ("use core >= 1.2,", 17), ("use core >= 1.2 < 2", 17),
    ('use core >= "1"', 13),
])
def test_bad_constraints_are_syntax_errors_with_a_caret(line, col):
    with pytest.raises(PromptError) as info:
        syntax.parse(line, "t.prompt")
    text = str(info.value)
    assert f"t.prompt:1:{col}: error: a version constraint reads" in text
    assert text.splitlines()[2] == "    " + " " * (col - 1) + "^" * (len(text.splitlines()[2]) - 4 - col + 1)


# ---------------------------------------------------------------- checking versions

@pytest.mark.parametrize("constraint, ok", [
    (">= 1.2", True), (">= 1.4", True), (">= 1.10", False), ("> 1.4", False), ("> 1.3.9", True),
    ("< 2", True), ("< 1.4", False), ("<= 1.4.0", True), ("<= 1.3", False), ("== 1.4", True),
    ("== 1.4.1", False), ("!= 1.4.0", False), ("!= 1.5", True), (">= 1.2, < 2", True), (">= 1.2, < 1.4", False),
])
def test_each_operator(project, constraint, ok):
    path = prompt(project, f"studio {constraint}")
    if ok:
        assert compile_file(path).prompts
    else:
        with pytest.raises(PromptError) as info:
            compile_file(path)
        err = info.value
        assert err.message.startswith("catalog `studio` is version 1.4.0 (styles/studio.yaml), but `")
        assert err.span.line == 1 and err.span.column > len("use studio")


def test_a_mismatch_points_at_the_failing_constraint(project, capsys):
    prompt(project, "studio >= 1.2, < 1.3")
    assert main(["check", "a.prompt"]) == 1
    err = capsys.readouterr().err
    assert "a.prompt:1:20: error: catalog `studio` is version 1.4.0 (styles/studio.yaml), but `< 1.3` is required" in err
    assert "    use studio >= 1.2, < 1.3\n                       ^^^^^" in err


def test_a_bundled_catalog_is_named_bundled(project):
    with pytest.raises(PromptError, match=r"catalog `core` is version 1.0.0 \(bundled\), but `>= 2` is required"):
        compile_file(prompt(project, "core >= 2"))


def test_an_uncomparable_catalog_version(project):
    (project / "styles" / "studio.yaml").write_text(STUDIO.format(version="beta"))
    with pytest.raises(PromptError, match="has version `beta`, which is not a version"):
        compile_file(prompt(project, "studio >= 1"))
    assert compile_file(prompt(project, "studio")).prompts  # no constraint: not compared


def test_project_require_is_checked(project, capsys):
    (project / "promptlang.toml").write_text('[catalogs]\nfolders = ["styles"]\nrequire = ["core", "studio >= 2"]\n')
    prompt(project, "studio")
    assert main(["check", "a.prompt"]) == 1
    err = capsys.readouterr().err
    assert "promptlang.toml:3:1: error: catalog `studio` is version 1.4.0 (styles/studio.yaml), but `>= 2`" in err
    (project / "promptlang.toml").write_text('[catalogs]\nfolders = ["styles"]\nrequire = ["studio >= 1, < 2"]\n')
    assert main(["check", "a.prompt"]) == 0


def test_project_require_syntax_error(project, capsys):
    (project / "promptlang.toml").write_text('[catalogs]\nrequire = ["studio >= x"]\n')
    prompt(project, '"styles/studio.yaml"')
    assert main(["check", "a.prompt"]) == 1
    assert "promptlang.toml:2:1: error: [catalogs] require: 'studio >= x': a version constraint" in \
        capsys.readouterr().err


# ---------------------------------------------------------------- the lock

def test_lock_is_written_sorted_and_stable(project, capsys):
    prompt(project, "studio")
    assert main(["lock"]) == 0
    first = (project / "promptlang.lock").read_text()
    records = lock.loads(first)
    assert [(r["name"], r["version"], r["source"]) for r in records] == [
        ("core", "1.0.0", "bundled"), ("studio", "1.4.0", "styles/studio.yaml")]
    assert all(len(r["sha256"]) == 64 for r in records)
    assert main(["lock", "a.prompt"]) == 1  # not over an existing lock without --overwrite
    assert "already exists" in capsys.readouterr().err
    assert main(["lock", "a.prompt", "--overwrite"]) == 0
    assert (project / "promptlang.lock").read_text() == first


def test_check_locked_passes_then_fails_on_a_change(project, capsys):
    prompt(project, "studio")
    assert main(["check", "--locked", "a.prompt"]) == 1
    assert "no promptlang.lock" in capsys.readouterr().err
    assert main(["lock"]) == 0
    assert main(["check", "--locked", "a.prompt"]) == 0
    studio = project / "styles" / "studio.yaml"
    studio.write_text(studio.read_text().replace("muted teal", "loud teal"))
    capsys.readouterr()
    assert main(["check", "--locked", "a.prompt"]) == 1
    err = capsys.readouterr().err
    assert "catalog `studio` (styles/studio.yaml) changed since promptlang.lock was written" in err
    assert main(["check", "a.prompt"]) == 0  # without --locked the lock is not read


def test_check_locked_names_a_new_version_and_a_missing_catalog(project, capsys):
    (project / "b.prompt").write_text('use core\nprompt b { subject "x" }\n')
    assert main(["lock", "b.prompt"]) == 0
    prompt(project, "studio")
    assert main(["check", "--locked", "a.prompt"]) == 1
    assert "catalog `studio` (styles/studio.yaml) is not in promptlang.lock" in capsys.readouterr().err
    assert main(["lock", "--overwrite"]) == 0
    (project / "styles" / "studio.yaml").write_text(STUDIO.format(version="1.5.0"))
    assert main(["check", "--locked", "--json", "a.prompt"]) == 1
    assert "catalog `studio` (styles/studio.yaml) is version 1.5.0; promptlang.lock has 1.4.0" in \
        capsys.readouterr().out


def test_mismatches_table():
    locked = [{"name": "a", "version": "1", "source": "a.yaml", "sha256": "0" * 64}]
    same = [dict(locked[0])]
    assert lock.mismatches(same, locked) == []
    assert "changed since" in lock.mismatches([{**same[0], "sha256": "1" * 64}], locked)[0]
    assert "is version 2" in lock.mismatches([{**same[0], "version": "2"}], locked)[0]
    assert "is not in" in lock.mismatches([{**same[0], "source": "b.yaml"}], locked)[0]
    assert lock.loads(lock.dumps(locked)) == locked
    with pytest.raises(ValueError):
        lock.loads("format = 9\n")


# ---------------------------------------------------------------- catalog diff

def test_catalog_diff(project, capsys):
    new = project / "styles" / "studio2.yaml"
    new.write_text("name: studio\nversion: 2.0.0\nstyle:\n  house: { text: \"loud teal\", weight: 1.2, tags: [brand] }\n"
                   "  neon: \"neon lights\"\nformat:\n  poster: \"a poster of {{ subject }}\"\n")
    assert main(["catalog", "diff", "styles/studio.yaml", "styles/studio2.yaml"]) == 0
    out = capsys.readouterr().out
    assert out == ("--- studio 1.4.0 (styles/studio.yaml)\n"
                   "+++ studio 2.0.0 (styles/studio2.yaml)\n"
                   "format:\n"
                   "  + poster: \"a poster of {{ subject }}\"\n"
                   "style:\n"
                   "  + neon: \"neon lights\"\n"
                   "  ~ house\n"
                   "      text: \"muted teal\" -> \"loud teal\"\n"
                   "      weight: 1 -> 1.2\n"
                   "      tags: [] -> [brand]\n"
                   "2 added, 0 removed, 1 changed\n")
    assert main(["catalog", "diff", "styles/studio2.yaml", "studio"]) == 0
    out = capsys.readouterr().out
    assert "  - neon: \"neon lights\"\n" in out and "0 added, 2 removed, 1 changed" in out
    assert main(["catalog", "diff", "core", "core"]) == 0
    assert capsys.readouterr().out.endswith("no entries differ\n")
