"""The command line: output layout, exit codes, --out, catalogs, tokens."""
import json
import subprocess
import sys

import pytest

from promptlang.cli import main

TWO = '''use core
prompt a {
    subject "a cat"
    format  watercolor
    negative blurry
}
prompt b extends a {
    style van_gogh:1.3
    seed 5
}
'''


def run(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_compile_blocks_with_headers(write, capsys):
    path = write("two.prompt", TWO)
    code, out, err = run(["compile", str(path)], capsys)
    assert code == 0
    blocks = out.rstrip("\n").split("\n\n")
    assert [b.splitlines()[0] for b in blocks] == ["# a", "# b"]
    assert all(b.splitlines()[2].startswith("Negative prompt: ") for b in blocks)
    assert '("in the style of Vincent van Gogh")1.3' in blocks[1]


def test_compile_one_prompt_has_no_header(write, capsys):
    path = write("two.prompt", TWO)
    code, out, _ = run(["compile", str(path), "--prompt", "b", "-t", "a1111"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 2 and not lines[0].startswith("#")
    assert "(in the style of Vincent van Gogh:1.3)" in lines[0]


def test_compile_json_is_an_array_in_file_order(write, capsys):
    path = write("two.prompt", TWO)
    code, out, _ = run(["compile", str(path), "-t", "json"], capsys)
    data = json.loads(out)
    assert [d["name"] for d in data] == ["a", "b"]
    assert data[1]["params"]["seed"] == 5
    assert {"text", "weight"} <= set(data[0]["positive"][0])


def test_unknown_prompt_name(write, capsys):
    path = write("two.prompt", TWO)
    code, out, err = run(["compile", str(path), "--prompt", "bb"], capsys)
    assert code == 1 and out == ""
    assert "no prompt named `bb`" in err and "did you mean `b`" in err


def test_out_is_written_atomically_and_not_on_error(write, tmp_path, capsys):
    good = write("two.prompt", TWO)
    target = tmp_path / "out.txt"
    assert run(["compile", str(good), "-o", str(target)], capsys)[0] == 0
    assert target.read_text().startswith("# a\n")
    bad = write("bad.prompt", 'prompt a {\n subject "x\n}\n')
    target2 = tmp_path / "never.txt"
    assert run(["compile", str(bad), "-o", str(target2)], capsys)[0] == 1
    assert not target2.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_check_many_files_reports_each(write, capsys):
    good = write("good.prompt", TWO)
    bad = write("bad.prompt", "prompt a {\n subject 'x'\n}\n")
    code, out, err = run(["check", str(good), str(bad)], capsys)
    assert code == 1
    assert "ok: " in out and "2 prompts" in out
    assert "bad.prompt:2:10: error:" in err


def test_missing_file(capsys, tmp_path):
    code, _, err = run(["check", str(tmp_path / "nope.prompt")], capsys)
    assert code == 1 and "no such file" in err


def test_usage_errors_exit_2(capsys):
    assert main(["compile"]) == 2
    assert "usage: promptlang compile" in capsys.readouterr().err
    assert main(["compile", "x.prompt", "--target", "dalle"]) == 2
    assert "'dalle' is not one of" in capsys.readouterr().err
    assert main([]) == 2
    assert "usage: promptlang" in capsys.readouterr().err


def test_tokens_per_prompt_and_slot(write, capsys):
    path = write("two.prompt", TWO)
    code, out, _ = run(["tokens", str(path), "--prompt", "b"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("b: positive ") and "/75" in lines[0]
    slots = {line.split()[0]: int(line.split()[1]) for line in lines[1:]}
    assert set(slots) == {"subject", "format", "style", "negative"}
    assert slots["subject"] == 2  # "a cat"


def test_catalog_list_show_validate(write, capsys):
    code, out, _ = run(["catalog", "list"], capsys)
    assert code == 0 and out.startswith("core ")
    code, out, _ = run(["catalog", "show", "core", "--section", "style"], capsys)
    assert code == 0 and "van_gogh" in out and "\nformat" not in out
    good = write("team.yaml", "name: team\nstyle:\n  a: {text: 'x'}\n")
    bad = write("bad.yaml", "name: team\nstyle:\n  a: {text: '{{ subject.__class__ }}'}\n")
    code, out, err = run(["catalog", "validate", str(good), str(bad)], capsys)
    assert code == 1 and "ok: " in out and "template refused by the sandbox" in err


def test_catalogs_folder_option(write, tmp_path, capsys):
    write("lib/studio.yaml", "name: studio\nstyle:\n  house: {text: 'house style'}\n")
    path = write("p.prompt", 'use studio\nprompt a {\n subject "x"\n style house\n}\n')
    assert run(["compile", str(path)], capsys)[0] == 1
    code, out, _ = run(["compile", str(path), "--catalogs", str(tmp_path / "lib"), "-t", "plain"], capsys)
    assert code == 0 and out == "x, house style\n"


def test_python_dash_m_and_help():
    result = subprocess.run([sys.executable, "-m", "promptlang", "compile", "--help"],
                            capture_output=True, text=True)
    assert result.returncode == 0 and "--target" in result.stdout


def test_no_traceback_on_bad_input(write):
    path = write("bad.prompt", "prompt {{{{ \"\n")
    result = subprocess.run([sys.executable, "-m", "promptlang", "check", str(path)],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "^" in result.stderr
