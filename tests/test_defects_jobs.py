"""Nothing lost: outputs and the files around them (issue 9, items 1-3, 7, 14, 18)."""
import os
import stat
import threading

import pytest

from promptlang.artifacts import records
from promptlang.cli import main

from conftest import tamper  # noqa: E402

SRC = '''use core
prompt cat {
    subject "a cat"
    format  watercolor
    negative blurry
    size 64x64
    steps 2
    seed 11
    images 2
}
'''
UNSEEDED = 'prompt moon {\n    subject "the moon"\n    size 64x64\n    steps 2\n}\n'


def run(capsys, *argv):
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


# --------------------------------------------------------------------------- item 1: -o

def test_output_to_a_device_writes_through_it(write, capsys):
    path = write("cat.prompt", SRC)
    code, _, err = run(capsys, "compile", str(path), "-o", os.devnull)
    assert code == 0, err
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)  # still the device, not a file put in its place


def test_output_to_a_fifo_writes_through_it(write, tmp_path, capsys):
    path = write("cat.prompt", SRC)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()), daemon=True)
    reader.start()
    code, _, err = run(capsys, "compile", str(path), "-o", str(fifo))
    reader.join(10)
    assert code == 0, err
    assert got and got[0].startswith(b"a watercolor painting of a cat")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_output_through_a_symlink_replaces_its_target_and_keeps_the_link(write, tmp_path, capsys):
    path = write("cat.prompt", SRC)
    (tmp_path / "real.txt").write_text("old")
    (tmp_path / "link.txt").symlink_to("real.txt")
    code, _, err = run(capsys, "compile", str(path), "-o", str(tmp_path / "link.txt"))
    assert code == 1 and "already exists" in err and (tmp_path / "real.txt").read_text() == "old"
    code, _, err = run(capsys, "compile", str(path), "-o", str(tmp_path / "link.txt"), "--overwrite")
    assert code == 0, err
    assert (tmp_path / "link.txt").is_symlink() and (tmp_path / "real.txt").read_text().startswith("a watercolor")


def test_compile_never_writes_over_its_input_even_through_a_link(write, tmp_path, capsys):
    path = write("cat.prompt", SRC)
    (tmp_path / "alias.prompt").symlink_to("cat.prompt")
    for out in (str(path), str(tmp_path / "alias.prompt")):
        code, _, err = run(capsys, "compile", str(path), "-o", out, "--overwrite")
        assert code == 1 and "is the input file" in err
    assert path.read_text() == SRC


# --------------------------------------------------------------------------- item 2: build

def test_build_refuses_two_inputs_that_would_write_one_output(write, tmp_path, capsys):
    write("a/same.prompt", SRC)
    write("b/same.prompt", SRC.replace("a cat", "a dog"))
    code, _, err = run(capsys, "build", str(tmp_path / "a"), str(tmp_path / "b"), "-o", str(tmp_path / "out"))
    assert code == 1 and "two outputs would be written to" in err and "same." in err
    assert not (tmp_path / "out").exists()


def test_build_renders_are_never_overwritten_and_unseeded_prompts_keep_their_seed(tiny_cli, write, in_tmp, capsys):
    write("src/moon.prompt", UNSEEDED)
    args = ["build", "src", "-o", "out", "--render", "builtin:tiny", "-q"]
    assert tiny_cli(*args) == 0
    (first,) = (in_tmp / "out" / "renders" / "moon").iterdir()
    before = first.stat().st_mtime_ns
    capsys.readouterr()
    assert tiny_cli(*args) == 1 and "already exists" in capsys.readouterr().err
    assert first.stat().st_mtime_ns == before
    assert tiny_cli(*args, "--overwrite") == 0
    assert [p.name for p in (in_tmp / "out" / "renders" / "moon").iterdir()] == [first.name]  # same seed: no pile


# --------------------------------------------------------------------------- item 3: resume

def test_render_resumes_after_an_interruption(tiny_cli, write, in_tmp, capsys):
    path = write("cat.prompt", SRC)
    assert tiny_cli("render", str(path), "--model", "builtin:tiny", "-o", "out", "-q") == 0
    kept = in_tmp / "out" / "cat-11.png"
    before = kept.stat().st_mtime_ns
    (in_tmp / "out" / "cat-12.png").unlink()  # as if Ctrl-C came before the second image
    capsys.readouterr()
    assert tiny_cli("render", str(path), "--model", "builtin:tiny", "-o", "out", "-q") == 1
    assert "--resume" in capsys.readouterr().err
    assert tiny_cli("render", str(path), "--model", "builtin:tiny", "-o", "out", "-q", "--resume") == 0
    out = capsys.readouterr().out
    assert "cat-12.png" in out and "cat-11.png" not in out and "1 already there, kept" in out
    assert kept.stat().st_mtime_ns == before and (in_tmp / "out" / "cat-12.png").is_file()
    # a PNG made with other settings is not this render: resume does not keep it
    assert tiny_cli("render", str(path), "--model", "builtin:tiny", "-o", "out", "-q", "--resume",
                    "--steps", "3") == 1
    assert "already exists" in capsys.readouterr().err


def test_resume_needs_seeds(write, capsys):
    path = write("moon.prompt", UNSEEDED)
    code, _, err = run(capsys, "render", str(path), "--model", "builtin:tiny", "-o", "out", "--resume")
    assert code == 1 and "--resume needs to know the seeds" in err


# --------------------------------------------------------------------------- item 14: the seed range

@pytest.mark.parametrize("argv", [["--seed", "4294967295", "--images", "2"], ["--seed", "4294967294", "-n", "3"]])
def test_seeds_of_every_image_stay_in_range(write, capsys, argv):
    path = write("cat.prompt", SRC)
    code, _, err = run(capsys, "render", str(path), "--model", "builtin:tiny", "-o", "out", *argv)
    assert code == 1 and "goes past 4,294,967,295" in err


def test_a_file_seed_at_the_top_with_several_images_is_refused(write, capsys):
    path = write("cat.prompt", SRC.replace("seed 11", "seed 4294967295"))
    code, _, err = run(capsys, "render", str(path), "--model", "builtin:tiny", "-o", "out")
    assert code == 1 and "goes past" in err


# --------------------------------------------------------------------------- items 7, 18: records

@pytest.fixture(scope="module")
def rendered(tiny, tmp_path_factory):
    import promptlang.diffusion.models

    root = tmp_path_factory.mktemp("rendered")
    (root / "cat.prompt").write_text(SRC)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(promptlang.diffusion.models, "load_pipeline", lambda model, device="cpu", **kw: tiny)
        mp.chdir(root)
        assert main(["render", "cat.prompt", "--model", "builtin:tiny", "-o", "out", "-q", "-n", "1"]) == 0
        assert main(["embed", "cat.prompt", "--model", "builtin:tiny", "-o", "emb", "--no-cache"]) == 0
        assert main(["reproduce", "out/cat-11.png", "-o", "again", "-q"]) == 0
    return root


_tamper = tamper


@pytest.mark.parametrize("change, message", [
    (lambda r: r["ir"]["positive"][0].__setitem__("weight", 1e308), "a weight is not a number"),
    (lambda r: r["ir"]["negative"][0].__setitem__("weight", float("nan")), "a weight"),
    (lambda r: r["ir"].__setitem__("segments", [{"start": 0.5, "positive": r["ir"]["positive"], "negative": []}]),
     "bad segment starts"),
    (lambda r: r["ir"].__setitem__("segments", [{"start": float("nan"), "positive": r["ir"]["positive"],
                                                   "negative": []}]), "bad segment starts"),
    (lambda r: r.__setitem__("batch", "two"), "bad batch"),
    (lambda r: r.pop("prompt"), "bad prompt"),
    (lambda r: r.__setitem__("versions", ["torch"]), "bad versions"),
    (lambda r: r.__setitem__("source", {"a": 1}), "bad source"),
    (lambda r: r.__setitem__("index", -1), "bad index"),
    (lambda r: r["ir"]["settings"].__setitem__("steps", 10**9), "out of range"),
    (lambda r: r.__setitem__("catalogs", [{"name": 1}]), "bad catalogs"),
])
def test_records_are_validated_whole_before_anything_loads(rendered, tmp_path, capsys, change, message):
    _tamper(rendered / "out" / "cat-11.png", tmp_path / "evil.png", change)
    for command in (["show", str(tmp_path / "evil.png")], ["reproduce", str(tmp_path / "evil.png"), "-o",
                                                            str(tmp_path / "again")]):
        code, out, err = run(capsys, *command)
        assert code == 1 and "promptlang chunk is damaged" in err and message in err, err
    assert not (tmp_path / "again").exists()


def test_outputs_share_one_permission_and_a_reproduction_keeps_its_catalogs(rendered):
    png = (rendered / "out" / "cat-11.png").stat().st_mode & 0o777
    emb = (rendered / "emb" / "cat.safetensors").stat().st_mode & 0o777
    assert png == emb and emb & 0o044  # readable by others, as the umask allows
    first = records.read(rendered / "out" / "cat-11.png").render["catalogs"]
    again = records.read(rendered / "again" / "cat-11.png").render["catalogs"]
    assert first and again == first and first[0]["path"] == "styles/core.yaml"


def test_a_huge_aspect_is_an_error_not_an_overflow(capsys):
    """Found by bench/fuzz.py: `aspect 1000…0:9` overflowed a float division."""
    import promptlang
    from promptlang.errors import PromptError

    with pytest.raises(PromptError, match="at most 8 times apart"):
        promptlang.compile_source('prompt n {\n    subject "x"\n    aspect 1' + "0" * 310 + ':9\n}\n')
