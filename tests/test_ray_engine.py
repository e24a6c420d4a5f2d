"""The Ray engine (`--engine ray`): a local Ray instance on the CPU, builtin:tiny, and the
same files as the local engine, byte for byte (pixels and provenance)."""
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SRC = '''use core
defaults {
    size 64x64
    steps 2
    model "builtin:tiny"
}
prompt cat {
    subject "a cat"
    negative blurry
    seed 1
    images 2
}
prompt dog {
    subject "a dog on a long road" "under a bright sun"++
    format watercolor
    seed 2
}
prompt fox {
    subject "a fox" -> "a wolf" at 0.5
    seed 3
}
prompt bowl {
    subject "a bowl of fruit"
    seed 4
}
'''
NAMES = ["bowl-4.png", "cat-1.png", "cat-2.png", "dog-2.png", "fox-3.png"]


@pytest.fixture(scope="module")
def ray_cluster():
    """One small local Ray instance for the module: 2 CPUs, no dashboard, workers' logs kept
    off this terminal, one torch thread in every worker, this checkout's promptlang first."""
    import ray  # in the test extra: CI runs these
    path = os.pathsep.join([str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
             runtime_env={"env_vars": {"OMP_NUM_THREADS": "1", "PYTHONPATH": path}})

    @ray.remote(num_cpus=0)
    def where():
        import promptlang.jobs.ray_engine as engine

        return engine.__file__

    assert Path(ray.get(where.remote())).resolve().is_relative_to(ROOT)  # the workers run this code
    yield ray
    ray.shutdown()


@pytest.fixture
def ray_cli(ray_cluster, in_tmp, capsys):
    """Run `promptlang …` in this process (the Ray engine uses the module's Ray instance);
    returns (status, stdout, stderr)."""
    from promptlang.cli import main

    def run(*argv):
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err
    return run


def pngs(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.png"))}


def pixels_and_record(path: Path):
    from PIL import Image

    image = Image.open(path)
    return image.tobytes(), dict(image.text)


def test_ray_renders_the_same_files_as_the_local_engine(tiny_cli, ray_cli):
    (Path("a.prompt")).write_text(SRC, encoding="utf-8")
    assert tiny_cli("render", "a.prompt", "-o", "local") == 0
    code, out, err = ray_cli("render", "a.prompt", "-o", "ray", "--engine", "ray", "--workers", "2")
    assert code == 0, err
    assert "2 workers" in out and "rendered 5 images into ray/" in out
    assert "Traceback" not in err
    local, ray = pngs(Path("local")), pngs(Path("ray"))
    assert sorted(local) == sorted(ray) == NAMES
    for name in NAMES:
        (pixels_l, record_l), (pixels_r, record_r) = (pixels_and_record(Path(d) / name) for d in ("local", "ray"))
        assert pixels_l == pixels_r, name
        assert record_l == record_r and '"seed"' in record_r["promptlang"], name
        assert local[name] == ray[name], name  # the whole file, byte for byte


def test_ray_resume_renders_only_what_is_missing(tiny_cli, ray_cli):
    Path("a.prompt").write_text(SRC, encoding="utf-8")
    assert tiny_cli("render", "a.prompt", "-o", "local", "-p", "cat") == 0
    kept = Path("local/cat-1.png")
    before = kept.stat().st_mtime_ns, kept.stat().st_ino
    Path("local/cat-2.png").unlink()
    code, out, err = ray_cli("render", "a.prompt", "-o", "local", "-p", "cat", "--engine", "ray", "--resume")
    assert code == 0, err
    assert "1 of 2 images are already there" in out and "rendered 1 image" in out
    assert (kept.stat().st_mtime_ns, kept.stat().st_ino) == before  # not written again
    assert Path("local/cat-2.png").is_file()
    # the image Ray made again is the one the local engine makes
    assert tiny_cli("render", "a.prompt", "-o", "again", "-p", "cat") == 0
    assert Path("again/cat-2.png").read_bytes() == Path("local/cat-2.png").read_bytes()
    # without --resume the files in the way are refused, before Ray is asked for anything
    code, _, err = ray_cli("render", "a.prompt", "-o", "local", "-p", "cat", "--engine", "ray")
    assert code == 1 and "already exists" in err


def test_build_render_through_ray(tiny_cli, ray_cli):
    """`build --render`: the text targets and the renders, the images the same as a local build's."""
    Path("a.prompt").write_text(SRC.replace("    seed 3\n", ""), encoding="utf-8")  # fox: build's stable seed
    assert tiny_cli("build", "a.prompt", "-o", "local", "--render", "builtin:tiny", "-q") == 0
    code, out, err = ray_cli("build", "a.prompt", "-o", "ray", "--render", "builtin:tiny", "--engine", "ray")
    assert code == 0, err
    local, ray = pngs(Path("local/renders/a")), pngs(Path("ray/renders/a"))
    assert len(local) == 5 and local == ray
    assert Path("ray/a.compel").read_text() == Path("local/a.compel").read_text()


def test_an_error_in_a_worker_is_a_clear_message(ray_cli):
    """A model folder that passes the checks on this machine but cannot load on the worker."""
    from promptlang.diffusion.models import save_tiny

    save_tiny("broken")
    for weights in Path("broken/unet").glob("*.safetensors"):
        weights.write_bytes(b"not safetensors")
    Path("a.prompt").write_text(SRC, encoding="utf-8")
    code, out, err = ray_cli("render", "a.prompt", "-o", "out", "--engine", "ray", "-m", "./broken")
    assert code == 1
    assert "error: Ray worker 1 failed on prompt `" in err and "cannot load" in err and "broken" in err
    assert "Traceback" not in err and "RayTaskError" not in err
    assert not Path("out").exists()  # nothing written, not even the folder


@dataclass(frozen=True)
class Fails:
    """A task that raises an everyday exception in the worker, or ends the worker's process."""

    how: str
    model: str = "builtin:tiny"

    def execute(self, model, progress=None):
        if self.how == "exit":
            os._exit(3)  # as the kernel's OOM killer would end it
        return {}["no such key"]


def test_a_worker_that_raises_or_dies(ray_cluster):
    """Any exception in a worker, and a worker that dies: one line each, naming the worker."""
    from promptlang.errors import PromptError
    from promptlang.jobs.ray_engine import Ray

    ray_cluster.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import tests/
    with Ray(workers=1) as backend:
        with pytest.raises(PromptError) as raised:
            list(backend.run([Fails("raise")]))
        assert str(raised.value) == "error: Ray worker 1 failed: KeyError: 'no such key'"
        with pytest.raises(PromptError) as raised:
            list(backend.run([Fails("exit")]))
        message = str(raised.value)
        assert message.startswith("error: Ray worker 1 stopped: ") and "out of memory" in message
        assert "Traceback" not in message and len(message.splitlines()) == 2  # the error and its hint


def test_embed_through_ray_writes_the_same_embeddings(tiny_cli, ray_cli):
    import torch

    from promptlang.artifacts.embeddings import load

    Path("a.prompt").write_text(SRC, encoding="utf-8")
    assert tiny_cli("embed", "a.prompt", "-o", "local") == 0
    code, out, err = ray_cli("embed", "a.prompt", "-o", "ray", "--engine", "ray", "--workers", "1")
    assert code == 0, err
    names = sorted(p.name for p in Path("local").iterdir())
    assert names == sorted(p.name for p in Path("ray").iterdir()) == [
        "bowl.safetensors", "cat.safetensors", "dog.safetensors", "fox.safetensors"]
    for name in names:
        # safetensors writes its metadata in hash-map order, different in every process (local
        # runs differ from each other too): the tensors and the metadata are what must agree
        (a, meta_a), (b, meta_b) = load(Path("local") / name), load(Path("ray") / name)
        assert meta_a == meta_b and meta_b["model"] == "builtin:tiny"
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
    _, fox_meta = load(Path("ray/fox.safetensors"))
    assert "stage1.prompt_embeds" in load(Path("ray/fox.safetensors"))[0] and fox_meta["stages"] == "[0.5]"


def test_the_backend_streams_results_and_reports_progress(ray_cluster, tmp_path):
    """The Python API: `Ray` as a job's backend, its events, and what it says of the model."""
    from promptlang import compile as compile_text
    from promptlang.jobs import collect
    from promptlang.jobs import render as job
    from promptlang.jobs.ray_engine import Ray

    prompts = compile_text(SRC)
    the_plan = job.plan(prompts, tmp_path / "out")
    events = []
    with Ray(workers=2, report=collect(events)) as backend:
        written = job.run(the_plan, backend=backend, report=collect(events))
        assert backend.model("builtin:tiny").test_model is True
    assert sorted(p.name for p in written) == NAMES
    progress = [(e.done, e.total) for e in events if e.kind == "progress"]
    assert progress[0] == (0, 5) and progress[-1] == (5, 5) and len(progress) == 6
    assert [e.message for e in events if e.kind == "info"][0].startswith("Ray: a local cluster, 2 workers")
    assert ray_cluster.is_initialized()  # a Ray it did not start is left running


def test_more_workers_than_the_cluster_holds(ray_cli):
    Path("a.prompt").write_text(SRC, encoding="utf-8")
    code, _, err = ray_cli("render", "a.prompt", "-o", "out", "--engine", "ray", "--workers", "3")
    assert code == 1 and "Traceback" not in err
    assert "3 Ray workers need 3 CPUs, and the cluster has 2\n" in err


def test_ray_options_need_the_ray_engine(tiny_cli, capsys):
    Path("a.prompt").write_text(SRC, encoding="utf-8")
    assert tiny_cli("render", "a.prompt", "--address", "auto") == 2
    assert "--address needs --engine ray" in capsys.readouterr().err
    assert tiny_cli("embed", "a.prompt", "-o", "e", "--workers", "2") == 2
    assert tiny_cli("render", "a.prompt", "--engine", "spark") == 2


def test_without_ray_the_error_says_what_to_install(tiny_cli, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if it were not installed
    Path("a.prompt").write_text(SRC, encoding="utf-8")
    assert tiny_cli("render", "a.prompt", "--engine", "ray") == 1
    err = capsys.readouterr().err
    assert "pip install 'promptlang-sd[ray]'" in err and "Traceback" not in err
    assert not Path("renders").exists()


def test_the_command_starts_and_stops_its_own_local_cluster(tiny_cli, ray_cluster):
    """`promptlang render --engine ray` in a process of its own: it starts a local Ray, renders
    and shuts it down; nothing of Ray's logging reaches the terminal."""
    Path("a.prompt").write_text(SRC, encoding="utf-8")
    assert tiny_cli("render", "a.prompt", "-o", "local", "-p", "dog") == 0
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               OMP_NUM_THREADS="1")
    env.pop("RAY_ADDRESS", None)
    done = subprocess.run([sys.executable, "-m", "promptlang", "render", "a.prompt", "-o", "ray", "-p", "dog",
                           "--engine", "ray", "--workers", "1"], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines() == [line for line in done.stderr.strip().splitlines()
                                                if line.startswith("note: builtin:tiny")]
    assert "Ray: a local cluster, 1 worker, 1 CPU thread each" in done.stdout
    assert Path("ray/dog-2.png").read_bytes() == Path("local/dog-2.png").read_bytes()
