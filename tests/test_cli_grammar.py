"""One command-line grammar: typed values (a bad one is a usage error, exit 2), --help
everywhere, -o never overwrites silently, --json, quiet broken pipes, a light start-up."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from promptlang.cli import COMMANDS, main
from promptlang.jobs import Event

ROOT = Path(__file__).resolve().parent.parent

SRC = '''use core
prompt cat {
    subject "a cat"
    negative blurry
    size 64x64
    steps 2
    seed 1
}
prompt dog {
    subject "a dog"
    seed 2
}
'''

GRID = ["--grid", "cat", "dog", "cat", "dog"]


@pytest.fixture
def src(in_tmp):
    (in_tmp / "s.prompt").write_text(SRC, encoding="utf-8")
    return in_tmp


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


# --------------------------------------------------------------------------- bad values: exit 2, before any work

@pytest.mark.parametrize("argv, message", [
    (["render", "s.prompt", "--steps", "x"], "'x' is not a valid integer"),
    (["render", "s.prompt", "--steps", "0"], "--steps"),
    (["render", "s.prompt", "--steps", "1001"], "--steps"),
    (["render", "s.prompt", "--image-size", "big"], "expected WIDTHxHEIGHT"),
    (["render", "s.prompt", "--image-size", "65x64"], "width 65 must be a multiple of 8"),
    (["render", "s.prompt", "--image-size", "64x8192"], "height 8192 must be a multiple of 8 between 32 and 4096"),
    (["render", "s.prompt", "--images", "0"], "--images"),
    (["render", "s.prompt", "-n", "65"], "--images"),
    (["render", "s.prompt", "--seed", "-1"], "--seed"),
    (["render", "s.prompt", "--seed", "4294967296"], "--seed"),
    (["render", "s.prompt", "--guidance", "51"], "--guidance"),
    (["render", "s.prompt", "--guidance", "nan"], "--guidance"),
    (["render", "s.prompt", "--batch", "0"], "--batch"),
    (["render", "s.prompt", "--device", "tpu"], "'tpu' is not one of"),
    (["render", "s.prompt", "--scheduler", "eular"], "unknown scheduler `eular`; did you mean `euler`?"),
    (["render", "s.prompt", "--size", "64x64"], "No such option"),  # renamed: --image-size
    (["build", "s.prompt", "--size", "64x64"], "No such option"),
    (["build", "s.prompt", "--render", "builtin:tiny", "--image-size", "64"], "expected WIDTHxHEIGHT"),
    (["build", "s.prompt", "--targets", "a1111,nope"], "unknown target `nope`"),
    (["walk", "s.prompt", *GRID, "--tiles", "1"], "--tiles"),
    (["walk", "s.prompt", *GRID, "--tiles", "33"], "--tiles"),
    (["walk", "s.prompt", *GRID, "--tiles", "64x64"], "'64x64' is not a valid integer"),
    (["walk", "s.prompt", *GRID, "--size", "3"], "No such option"),  # renamed: --tiles
    (["walk", "s.prompt", "--from", "cat", "--to", "dog", "--frames", "1"], "--frames"),
    # issue 9 item 11: flags are held to the same limits as the file's settings
    (["render", "s.prompt", "--steps", "1000000000"], "--steps"),
    (["render", "s.prompt", "--images", "100000"], "--images"),
    (["walk", "s.prompt", "--from", "cat", "--to", "dog", "--frames", "1000000"], "--frames"),
    (["build", "s.prompt", "--render", "builtin:tiny", "--steps", "1001"], "--steps"),
    (["sheet", "s.prompt", "--steps", "0"], "--steps"),
    (["walk", "s.prompt", "--from", "cat", "--to", "dog", "--image-size", "60x64"], "multiple of 8"),
    (["walk", "s.prompt", "--from", "cat", "--to", "dog", "--animation", "mp4"], "'mp4' is not one of"),
    (["sheet", "s.prompt", "--seeds", "1,two"], "whole numbers"),
    (["sheet", "s.prompt", "--seeds", "1,-2"], "whole numbers"),
    (["sheet", "s.prompt", "--image-size", "64"], "WIDTHxHEIGHT"),
    (["sheet", "s.prompt", "--image-size", "30x64"], "multiple of 8"),
    (["compile", "s.prompt", "--target", "nope"], "'nope' is not one of"),
    (["compile", "s.prompt", "--bogus"], "No such option"),
    (["compile"], "Missing argument 'FILE'"),
    (["check"], "Missing argument"),
    (["nonsense"], "No such command"),
    (["catalog", "show", "core", "--section", "colour"], "'colour' is not one of"),
    (["check", "s.prompt", "--catalogs", "no-such-folder"], "no-such-folder"),
    (["embed", "s.prompt"], "Missing option '-o'"),
])
def test_bad_values_are_usage_errors(src, capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2, err
    assert out == ""
    assert f"usage: promptlang {argv[0]}" in err or "usage: promptlang [OPTIONS]" in err, err
    assert message in err, err
    assert sorted(p.name for p in src.iterdir()) == ["s.prompt"]  # nothing written


def test_no_command_prints_the_help_and_exits_2(capsys):
    code, out, err = run(capsys)
    assert code == 2 and out == "" and "usage: promptlang" in err and "compile" in err


def test_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("promptlang ")


# --------------------------------------------------------------------------- --help

HELP = [[name] for name in COMMANDS] + [["catalog", sub] for sub in ("list", "show", "validate")]


@pytest.mark.parametrize("argv", HELP, ids=[" ".join(a) for a in HELP])
def test_every_command_has_help(capsys, argv):
    code, out, err = run(capsys, *argv, "--help")
    assert code == 0 and err == ""
    assert out.startswith(f"usage: promptlang {' '.join(argv)}")


def test_one_spelling_everywhere(capsys):
    for name in ("render", "build", "walk", "sheet"):
        code, out, _ = run(capsys, name, "--help")
        assert "--image-size WxH" in out and "--size" not in out.replace("--image-size", ""), name
    for name in ("compile", "build", "embed", "render", "reproduce", "walk", "sheet"):
        code, out, _ = run(capsys, name, "--help")
        assert "-o, --out" in out and "--overwrite" in out, name
    code, out, _ = run(capsys, "walk", "--help")
    assert "--tiles K" in out


def test_top_help_names_every_command_and_completion(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for name in COMMANDS:
        assert f"  {name} " in out
    assert "_PROMPTLANG_COMPLETE" in out


# --------------------------------------------------------------------------- never overwrite silently

def test_compile_out_refuses_an_existing_file(src, capsys):
    target = src / "s.txt"
    target.write_text("keep me", encoding="utf-8")
    code, _, err = run(capsys, "compile", "s.prompt", "-o", "s.txt")
    assert code == 1 and "s.txt already exists" in err and "--overwrite" in err
    assert target.read_text(encoding="utf-8") == "keep me"
    code, _, _ = run(capsys, "compile", "s.prompt", "-o", "s.txt", "--overwrite")
    assert code == 0 and target.read_text(encoding="utf-8").startswith("# cat\n")


@pytest.mark.parametrize("extra", [[], ["--overwrite"]])
def test_compile_out_never_writes_over_its_input(src, capsys, extra):
    code, _, err = run(capsys, "compile", "s.prompt", "-o", "./s.prompt", *extra)
    assert code == 1 and "is the input file" in err
    assert (src / "s.prompt").read_text(encoding="utf-8") == SRC


def test_build_refuses_existing_outputs_and_replaces_them_with_overwrite(src, capsys):
    (src / "t.prompt").write_text(SRC, encoding="utf-8")
    code, out, _ = run(capsys, "build", "s.prompt", "t.prompt", "-o", "out", "--targets", "plain,a1111")
    assert code == 0 and "built 2 of 2 files into out/" in out
    files = sorted((src / "out").iterdir())
    assert [p.name for p in files] == ["s.a1111", "s.plain", "t.a1111", "t.plain"]
    (src / "out" / "t.plain").write_text("old", encoding="utf-8")
    before = {p: p.stat().st_mtime_ns for p in files}
    code, out, err = run(capsys, "build", "s.prompt", "t.prompt", "-o", "out", "--targets", "plain,a1111")
    assert code == 1 and out == ""
    assert "out/s.plain already exists (and 3 more)" in err.replace(os.sep, "/")
    assert {p: p.stat().st_mtime_ns for p in files} == before  # nothing written, not even the first file
    code, out, _ = run(capsys, "build", "s.prompt", "t.prompt", "-o", "out", "--targets", "plain,a1111",
                       "--overwrite", "-q")
    assert code == 0 and "built" not in out  # --quiet drops the summary, not the files written
    assert (src / "out" / "t.plain").read_text(encoding="utf-8").startswith("# cat\n")


# --------------------------------------------------------------------------- --json

WARNED = '''prompt a {
    subject "a cat"
    negative "blurry", "blurry"++
}
'''


def test_check_json(src, capsys):
    (src / "w.prompt").write_text(WARNED, encoding="utf-8")
    (src / "bad.prompt").write_text("prompt a {\n subject 'x'\n}\n", encoding="utf-8")
    code, out, err = run(capsys, "check", "--json", "s.prompt", "w.prompt", "bad.prompt")
    assert code == 1 and err == ""
    good, warned, bad = json.loads(out)
    assert good == {"path": "s.prompt", "ok": True, "prompts": ["cat", "dog"], "warnings": [], "error": None,
                    "errors": []}
    (w,) = warned["warnings"]
    assert (w["file"], w["line"], w["column"]) == ("w.prompt", 3, 24) and "comes twice" in w["message"]
    assert bad["ok"] is False and bad["prompts"] == []
    assert (bad["error"]["file"], bad["error"]["line"], bad["error"]["column"]) == ("bad.prompt", 2, 10)
    assert bad["errors"] == [bad["error"]]


def test_check_json_lists_every_error(src, capsys):
    (src / "two.prompt").write_text('use core\nprompt a {\n subject "x"\n style core.van_goh, cor.dali\n}\n',
                                    encoding="utf-8")
    code, out, _ = run(capsys, "check", "--json", "two.prompt")
    (record,) = json.loads(out)
    assert code == 1 and [(e["line"], e["column"]) for e in record["errors"]] == [(4, 8), (4, 22)]
    assert record["error"] == record["errors"][0]


def test_tokens_json(src, capsys):
    code, out, _ = run(capsys, "tokens", "s.prompt", "--json")
    assert code == 0
    cat, dog = json.loads(out)
    assert cat["prompt"] == "cat" and cat["context"] == 75 and cat["slots"]["subject"] == 2
    assert set(dog) == {"prompt", "positive", "negative", "context", "variants", "slots"}
    code, out, _ = run(capsys, "tokens", "s.prompt", "--json", "-p", "dog")
    assert [r["prompt"] for r in json.loads(out)] == ["dog"]


# --------------------------------------------------------------------------- the reporter

def test_reporter_lines_and_bars(capsys):
    from promptlang.cli.report import Reporter

    report = Reporter()
    report(Event("file", "out/a.png  (seed 1)"))
    report(Event("info", "built 1 of 1 files"))
    report(Event("warning", "a thing"))
    report(Event("note", "builtin:tiny renders noise"))
    for done in range(4):
        report(Event("progress", task="render", done=done, total=3))
    assert report._bars == {}  # closed when done == total
    out, err = capsys.readouterr()
    assert out == "out/a.png  (seed 1)\nbuilt 1 of 1 files\n"
    assert "warning: a thing\n" in err and "note: builtin:tiny renders noise\n" in err and "render" in err
    quiet = Reporter(quiet=True)
    quiet(Event("info", "chatter"))
    quiet(Event("progress", task="render", done=1, total=3))
    quiet(Event("warning", "w.prompt:1:1: warning: kept"))
    out, err = capsys.readouterr()
    assert out == "" and err == "w.prompt:1:1: warning: kept\n"


# --------------------------------------------------------------------------- processes

def _env():
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def test_broken_pipe_exits_quietly(tmp_path):
    many = "".join(f'prompt p{i} {{\n    subject "a lighthouse number {i} on a cliff at dusk"\n}}\n'
                   for i in range(400))
    (tmp_path / "many.prompt").write_text(many, encoding="utf-8")
    script = (f'"{sys.executable}" -m promptlang compile many.prompt -t json 2>err.txt | head -c1 >/dev/null; '
              'echo "${PIPESTATUS[0]}"')
    result = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, env=_env())
    assert result.stdout.strip() == "0"
    assert (tmp_path / "err.txt").read_text() == ""


def _modules_after(argv, cwd):
    code = ("import sys, contextlib, io\nfrom promptlang.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    code = main({argv!r})\n"
            "print(code, sorted(m for m in sys.modules if m.startswith('promptlang.cli.') "
            "or m.split('.')[0] in ('torch', 'diffusers', 'PIL', 'compel', 'rich', 'tqdm', 'transformers')))")
    result = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, env=_env())
    assert result.returncode == 0, result.stderr
    status, modules = result.stdout.split(" ", 1)
    return int(status), eval(modules)


def test_help_imports_no_command_module_and_no_torch(tmp_path):
    assert _modules_after(["--help"], tmp_path) == (0, [])


def test_compile_imports_only_its_own_command_module(tmp_path):
    (tmp_path / "s.prompt").write_text(SRC, encoding="utf-8")
    status, modules = _modules_after(["compile", "s.prompt"], tmp_path)
    assert status == 0
    assert modules == ["promptlang.cli.common", "promptlang.cli.options", "promptlang.cli.report",
                       "promptlang.cli.text"]


def test_shell_completion():
    env = {**_env(), "_PROMPTLANG_COMPLETE": "bash_complete", "COMP_WORDS": "promptlang com", "COMP_CWORD": "1"}
    result = subprocess.run([sys.executable, "-m", "promptlang"], capture_output=True, text=True, env=env)
    assert result.returncode == 0 and "plain,compile" in result.stdout.splitlines()


@pytest.mark.parametrize("exc, code, message", [
    (KeyboardInterrupt(), 130, "interrupted\n"),
    (OSError(28, "No space left on device", "out/s.plain"), 1, "error: out/s.plain: No space left on device\n"),
    (BrokenPipeError(32, "Broken pipe"), 0, ""),
    (ValueError("a bug"), 1, "error: internal error (ValueError: a bug)"),
])
def test_what_a_command_raises_becomes_a_message_and_a_status(src, capsys, monkeypatch, exc, code, message):
    import promptlang.cli.text

    def boom(*args, **kwargs):
        raise exc

    monkeypatch.delenv("PROMPTLANG_DEBUG", raising=False)
    monkeypatch.setattr(promptlang.cli.text, "compile_path", boom)
    status, out, err = run(capsys, "check", "s.prompt")
    assert status == code and out == ""
    assert err.startswith(message) if message else err == ""
