"""Jobs on the tiny model: plan -> run, the events they report, the backend seam, and one
loaded pipeline serving several jobs without changing it."""
import threading

import numpy as np
import pytest

import promptlang
from promptlang.artifacts import records
from promptlang.errors import PromptError
from promptlang.jobs import Event, collect
from promptlang.jobs import render as render_job
from promptlang.jobs.backend import Images, Local

torch = pytest.importorskip("torch")

SRC = '''prompt cat {
    subject "a cat" "in a hat"++
    negative "blurry"
    size 64x64
    steps 3
    seed 11
}
prompt dog {
    subject "a dog" -> "a wolf" at 0.5
    size 64x64
    steps 3
    seed 5
    scheduler euler_a
}
'''


@pytest.fixture(scope="module")
def compiled():
    return promptlang.compile_source(SRC)


def pixels(done):
    return np.asarray(done.image)


def test_two_jobs_at_once_on_one_pipeline_give_what_each_gives_alone(tiny, compiled):
    cat, dog = compiled.prompts
    alone = {p.name: pixels(promptlang.render(p, pipe=tiny, model="builtin:tiny")[0]) for p in (cat, dog)}
    scheduler, config = tiny.scheduler, dict(tiny.scheduler.config)
    got, errors = {}, []

    def job(prompt):
        try:
            for _ in range(3):
                got.setdefault(prompt.name, []).append(
                    pixels(promptlang.render(prompt, pipe=tiny, model="builtin:tiny")[0]))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=job, args=(p,)) for p in (cat, dog)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for name, images in got.items():
        assert all(np.array_equal(image, alone[name]) for image in images), name
    # the pipeline itself is as it was: its own scheduler (dog asked for euler_a), nothing of ours on it
    assert tiny.scheduler is scheduler and dict(tiny.scheduler.config) == config
    assert not [k for k in vars(tiny) if k.startswith("_promptlang")]


class Recording:
    """A backend that is not Local: it sees every task (plain data) before running it."""

    def __init__(self):
        self.inner = Local()
        self.tasks = []

    def model(self, model_id):
        return self.inner.model(model_id)

    def run(self, tasks, progress=None):
        for task in tasks:
            self.tasks.append(task)
            yield from self.inner.run([task], progress)


def test_the_render_job_runs_on_any_backend_and_reports_events(tiny_cli, compiled, in_tmp):
    events = []
    the_plan = render_job.plan(compiled.prompts, in_tmp / "out", source=render_job.Source.of(compiled),
                               model="builtin:tiny", images=2, batch=2)
    assert [p.name for p in the_plan.files] == ["cat-11.png", "cat-12.png", "dog-5.png", "dog-6.png"]
    assert not (in_tmp / "out").exists()  # a plan writes nothing
    backend = Recording()
    written = render_job.run(the_plan, backend=backend, report=collect(events))
    assert written == the_plan.files and all(p.is_file() for p in written)
    assert [type(t) for t in backend.tasks] == [Images, Images]
    assert [t.seeds for t in backend.tasks] == [(11, 12), (5, 6)]  # one pipeline call per batch
    kinds = [e.kind for e in events]
    assert kinds.count("file") == 4 and kinds[0] == "note" and "progress" in kinds
    assert [e.path for e in events if e.kind == "file"] == written
    progress = [e for e in events if e.kind == "progress" and e.task.startswith("dog")]
    assert progress[-1].done == progress[-1].total == 3  # every denoising step reported
    found = records.read(written[2])
    assert [s.start for s in found.prompt.segments] == [0.0, 0.5] and found.render["batch"] == 2


def test_a_plan_refuses_existing_files_and_unknown_models_before_anything_loads(compiled, in_tmp, monkeypatch):
    import promptlang.diffusion.models

    monkeypatch.setattr(promptlang.diffusion.models, "load_pipeline", lambda *a, **k: pytest.fail("loaded"))
    (in_tmp / "out").mkdir()
    (in_tmp / "out" / "dog-5.png").write_bytes(b"mine")
    with pytest.raises(PromptError, match="dog-5.png already exists"):
        render_job.plan(compiled.prompts, in_tmp / "out", model="builtin:tiny")
    with pytest.raises(PromptError, match="unknown builtin model `builtin:tiyn`"):
        render_job.plan(compiled.prompts, in_tmp / "new", model="builtin:tiyn")
    with pytest.raises(PromptError, match="only .safetensors checkpoints"):
        (in_tmp / "model.ckpt").write_bytes(b"pickle")
        render_job.plan(compiled.prompts, in_tmp / "new", model=str(in_tmp / "model.ckpt"))
    assert (in_tmp / "out" / "dog-5.png").read_bytes() == b"mine" and not (in_tmp / "new").exists()


def test_fast_mode_never_changes_a_pipeline_handed_over(tiny, compiled):
    before = {name: type(p).__name__ for name, p in tiny.unet.attn_processors.items()}
    with pytest.raises(PromptError, match="used as it is"):
        promptlang.render(compiled.prompts[0], pipe=tiny, fast=True)
    assert {name: type(p).__name__ for name, p in tiny.unet.attn_processors.items()} == before


def test_settings_are_completed_for_the_model_that_renders(compiled):
    """`aspect` is a ratio until the model is known: SDXL sizes it to about 1024², SD to 512²."""
    from promptlang.diffusion.models import load
    from promptlang.jobs.backend import completed
    from promptlang.jobs.common import prepare

    (p,) = promptlang.compile_source('prompt a { subject "x"\n aspect 16:9\n seed 1 }').prompts
    assert p.settings.width is None and p.settings.aspect == (16, 9)
    ready = prepare(p, model="builtin:tiny-sdxl")
    sd = completed(ready, load("builtin:tiny", "cpu")).settings
    xl = completed(ready, load("builtin:tiny-sdxl", "cpu")).settings
    assert (sd.width, sd.height) == (680, 384) and (xl.width, xl.height) == (1368, 768)
    assert (sd.steps, sd.guidance, sd.images) == (30, 7.5, 1)


def test_events_are_plain_data():
    event = Event("file", "seed 1", path=None)
    assert event.kind == "file" and event.done == 0
    with pytest.raises(AttributeError):
        event.kind = "warning"
