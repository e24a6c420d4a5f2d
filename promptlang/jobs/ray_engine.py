"""The Ray engine: a job's tasks spread over Ray actors, one pipeline loaded per actor.

:class:`Ray` is a backend like :class:`~promptlang.jobs.backend.Local` (``run(tasks,
progress)``, ``model(id)``): each actor holds a ``Local`` backend of its own, so a model is
loaded once per actor and kept for every task it is given. Tasks go out a few per actor
(while one renders the next is already there) and come back as they finish
(``ray.wait``); the job on this machine writes the files, atomically, as before, so a
run through Ray writes the same files with the same provenance as a local one.

Actors take a GPU each (``num_gpus=1``) where the cluster has GPUs, otherwise CPUs
(``num_cpus`` = the torch threads each one uses). Ray is imported only when this engine
is used; without it the error names the extra to install. An error in a worker comes
back as a :class:`~promptlang.errors.PromptError` naming the worker and the prompt, never
as a remote traceback.
"""
from __future__ import annotations

import os
import types
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import PromptError
from . import Event, ignore

INSTALL = "pip install 'promptlang-sd[ray]'"
PER_ACTOR = 2  # tasks handed to an actor at once: one running, one waiting, so it never idles on the driver
START_TIMEOUT = 300.0  # seconds for the actors to start (a cluster without room for them never does)
FREE_WAIT = 10.0  # seconds to wait for resources an earlier run's workers are giving back
CPUS_PER_WORKER = 4  # without --workers on CPUs: one actor per this many CPUs of the cluster


def available() -> bool:
    """Whether Ray is installed (found, not imported: importing it takes a while)."""
    from importlib.util import find_spec

    try:
        return find_spec("ray") is not None
    except (ImportError, ValueError):  # a module entry of None (blocked), or one without a spec
        return False


def import_ray():
    """``ray``, or a PromptError that says how to install it."""
    try:
        import ray
    except ImportError:
        raise PromptError("the ray engine needs Ray, which is not installed here",
                          hint=f"{INSTALL}, or use --engine local") from None
    return ray


@dataclass(frozen=True)
class About:
    """What the driver knows of a model loaded on the workers (what jobs read of a model)."""

    id: str
    kind: str
    test_model: bool
    versions: tuple = ()  # (package, version) pairs of the worker that loaded it

    @property
    def native(self) -> int:
        return 1024 if self.kind == "sdxl" else 512


def _about(model) -> About:
    from ..artifacts.records import versions

    return About(model.id, model.kind, model.test_model, tuple(sorted(versions().items())))


def _failure(exc: BaseException) -> tuple[str, str | None]:
    """``(message, hint)`` of an error raised in a worker, for the driver to raise again."""
    if isinstance(exc, PromptError):
        return exc.message, exc.hint
    return f"{type(exc).__name__}: {exc}", None


class Worker:
    """The body of one Ray actor: a :class:`~promptlang.jobs.backend.Local` backend of its own.
    Methods return ``("ok", …)`` or ``("error", (message, hint))``: errors travel as words."""

    def __init__(self, device: str | None, fast: bool, threads: int):
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
        import torch

        torch.set_num_threads(threads)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:  # only settable before any parallel work; a fresh actor has done none
            pass
        from .backend import Local

        self.local = Local(device, fast=fast)

    def ready(self):
        return "ok", True

    def about(self, model_id: str, where: str | None = None):
        try:
            if where:
                self.local.where[model_id] = where
            return "ok", _about(self.local.model(model_id))
        except Exception as exc:  # noqa: BLE001 - sent back as words, raised on the driver
            return "error", _failure(exc)

    def run(self, task, where: str | None = None):
        try:
            if where:
                self.local.where[task.model] = where
            model = self.local.model(task.model)
            result = task.execute(model, None)
            if isinstance(result, types.GeneratorType):  # frames: a generator cannot travel, its list can
                result = list(result)
            return "ok", (result, _about(model))
        except Exception as exc:  # noqa: BLE001
            return "error", _failure(exc)


class Ray:
    """Runs tasks on Ray actors. ``address``: an existing cluster (``ray start --head`` prints
    it; ``auto`` finds one on this machine; default ``$RAY_ADDRESS``); None starts a local one
    for this run (or uses the Ray this process already started). ``workers``: actors to start (default: one per
    GPU, or one per four CPUs). ``device``: ``cpu`` keeps the actors off the GPUs. ``report``
    gets progress (images done, of all the workers together) and a line saying where the
    work runs; ``progress`` given to :meth:`run` is called with the same counts when there is
    no ``report`` (steps within an image, which a local run reports, stay on the workers).

    Use it as a context manager (or call :meth:`close`): the actors stop, and a cluster
    this backend started shuts down."""

    def __init__(self, address: str | None = None, *, workers: int | None = None, device: str | None = None,
                 fast: bool = False, report=ignore):
        if workers is not None and workers < 1:
            raise PromptError("--workers must be at least 1")
        self.address = address or os.environ.get("RAY_ADDRESS") or None  # ray.init() would follow it too
        self.workers = workers
        self.device = device
        self.fast = fast
        self.report = report
        self.models: dict = {}  # model id -> About, as the workers loaded it
        self._ray = None
        self._actors: list = []
        self._started_ray = False
        self._warned_versions = False

    # ------------------------------------------------------------------ the cluster

    def start(self) -> None:
        """Connect to (or start) Ray and start the actors; done by the first task."""
        if self._actors:
            return
        ray = self._ray = import_ray()
        if not ray.is_initialized():
            self._init(ray)
        total = ray.cluster_resources()
        if self.device == "cuda" and not total.get("GPU"):
            raise PromptError("--device cuda: the Ray cluster has no GPUs", hint="leave out --device, or use cpu")
        on_gpu = bool(total.get("GPU")) and self.device != "cpu"
        kind = "GPU" if on_gpu else "CPU"
        wanted = self.workers or (int(total.get("GPU", 0)) if on_gpu
                                  else max(1, int(total.get("CPU", 0)) // CPUS_PER_WORKER))
        free = _free(ray, total, {kind: wanted, "CPU": wanted})  # an earlier run's workers may still be stopping
        gpus, cpus = int(free.get("GPU", 0)), int(free.get("CPU", 0))  # what is free now, not what exists
        count = self.workers or (gpus if on_gpu else max(1, cpus // CPUS_PER_WORKER))
        if count < 1:
            raise PromptError(f"the Ray cluster has no free GPU (of {int(total['GPU'])})",
                              hint="wait for its other work, or use --device cpu")
        for what, have, need in (("GPU", gpus, count if on_gpu else 0), ("CPU", cpus, count)):
            if need > have:  # actors that cannot be placed would wait for ever
                many = "s need" if count != 1 else " needs"
                whole = int(total.get(what, 0))
                state = f"has {whole}" if need > whole else f"has {have} free now (of {whole})"
                raise PromptError(f"{count} Ray worker{many} {need} {what}{'s' * (need != 1)}, and the cluster {state}",
                                  hint=f"use --workers {whole} or fewer" if need > whole else
                                  "wait for the cluster's other work, or use fewer --workers")
        threads = 1 if on_gpu else max(1, cpus // count)
        if os.environ.get("OMP_NUM_THREADS", "").isdigit():  # the caller caps threads: so do the workers
            threads = min(threads, max(1, int(os.environ["OMP_NUM_THREADS"])))
        env = {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
               "TRANSFORMERS_VERBOSITY": "error", "DIFFUSERS_VERBOSITY": "error"}
        options = {"num_gpus": 1, "num_cpus": 1} if on_gpu else {"num_cpus": threads}
        actor = ray.remote(Worker).options(runtime_env={"env_vars": env}, **options)
        device = None if on_gpu else "cpu"
        self._actors = [actor.remote(device, self.fast, threads) for _ in range(count)]
        ready, _ = ray.wait([a.ready.remote() for a in self._actors], num_returns=count, timeout=START_TIMEOUT)
        if len(ready) < count:
            self.close()
            raise PromptError(f"Ray started {len(ready)} of {count} workers in {START_TIMEOUT:.0f} s",
                              hint="the cluster may lack room for them (see `ray status`)")
        for ref in ready:
            self._get(ref, None)  # an actor that could not start (promptlang missing on a node) says so here
        where = f"the cluster at {self.address}" if self.address else "a local cluster"
        unit = "1 GPU each" if on_gpu else f"{threads} CPU thread{'s' * (threads != 1)} each"
        self.report(Event("info", f"Ray: {where}, {count} worker{'s' * (count != 1)}, {unit}"))

    def _init(self, ray) -> None:
        import logging

        quiet = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
        if self.address:
            try:
                ray.init(address=self.address, **quiet)
            except Exception as exc:  # noqa: BLE001 - ConnectionError, RuntimeError, ValueError… by version
                raise PromptError(f"could not connect to the Ray cluster at {self.address}: {exc}",
                                  hint="start one with `ray start --head` and pass the address it prints") from None
        else:
            ray.init(num_cpus=max(os.cpu_count() or 1, self.workers or 1), **quiet)
        self._started_ray = True

    def close(self) -> None:
        """Stop the actors; shut Ray down if this backend started it."""
        ray, self._ray = self._ray, None
        if ray is None:
            return
        for a in self._actors:
            try:
                ray.kill(a)
            except Exception:  # noqa: BLE001 - an actor already gone
                pass
        self._actors = []
        if self._started_ray and ray.is_initialized():
            ray.shutdown()
        self._started_ray = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ the backend

    def model(self, model_id: str) -> About:
        """What the workers loaded for ``model_id`` (loading it on one worker if none has yet)."""
        if model_id not in self.models:
            self.start()
            self._learn(model_id, self._get(self._actors[0].about.remote(model_id, _where(model_id)), None))
        return self.models[model_id]

    def run(self, tasks, progress=None):
        given = list(tasks)  # what the job handed over, yielded back as it is (jobs match results by it)
        if not given:  # (a resumed run with nothing left to do starts no cluster)
            return
        self.start()
        # workers run in another folder (or on other machines): paths go as absolute ones, and
        # workers elsewhere do not share this machine's embeddings cache
        tasks = [replace(t, cache_dir=None if self.address else os.path.abspath(t.cache_dir))
                 if getattr(t, "cache_dir", None) else t for t in given]
        where = {t.model: _where(t.model) for t in tasks}
        ray = self._ray
        load = [0] * len(self._actors)
        pending: dict = {}  # ref -> (index of the task, actor)
        done, at, total = 0, 0, len(tasks)
        units = sum(_units(t) for t in tasks)  # images (frames, prompts) done, as the bar counts them
        self._progress(progress, 0, units)
        try:
            while at < total or pending:
                while at < total and min(load) < PER_ACTOR:
                    k = load.index(min(load))
                    pending[self._actors[k].run.remote(tasks[at], where[tasks[at].model])] = (at, k)
                    load[k] += 1
                    at += 1
                (ref,), _ = ray.wait(list(pending), num_returns=1)
                index, k = pending.pop(ref)
                load[k] -= 1
                result, about = self._get(ref, tasks[index], worker=k)
                self._learn(tasks[index].model, about)
                done += _units(tasks[index])
                self._progress(progress, done, units)
                yield given[index], result
        finally:
            for ref in pending:  # a failed or abandoned run: the queued work is not wanted
                try:
                    ray.cancel(ref)
                except Exception:  # noqa: BLE001
                    pass

    def _get(self, ref, task, worker: int | None = None):
        """The value of a worker's answer; its error raised here, as a PromptError."""
        ray = self._ray
        who = f"Ray worker {worker + 1}" if worker is not None else "a Ray worker"
        on = f" on prompt `{_name(task)}`" if _name(task) else ""
        try:
            status, value = ray.get(ref)
        except ray.exceptions.RayActorError as exc:  # its process died: Ray's first sentence says how
            raise PromptError(f"{who} stopped{on}: {_first_line(exc).split('. ')[0].rstrip('.')}",
                              hint="a worker that runs out of memory is killed; try fewer --workers, and check that "
                                   "every node has promptlang-sd[render] installed") from None
        except ray.exceptions.RayError as exc:
            raise PromptError(f"{who} failed{on}: {_first_line(exc)}") from None
        if status != "ok":
            message, hint = value
            raise PromptError(f"{who} failed{on}: {message}", hint=hint)
        return value

    def _learn(self, model_id: str, about: About) -> None:
        if model_id not in self.models:
            self.models[model_id] = about
            self._check_versions(about)

    def _check_versions(self, about: About) -> None:
        from ..artifacts.records import versions

        here = versions()
        differ = [f"{name} {there} (here {here.get(name)})" for name, there in about.versions
                  if here.get(name) != there]
        if differ and not self._warned_versions:
            self._warned_versions = True
            self.report(Event("warning", "the Ray workers run " + ", ".join(differ) + "; the PNGs record this "
                                         "machine's versions"))

    def _progress(self, progress, done: int, total: int) -> None:
        if self.report is not ignore:
            self.report(Event("progress", task=f"Ray, {len(self._actors)} workers", done=done, total=total))
        elif progress is not None:
            progress(done, total)


def _where(model_id: str) -> str | None:
    """The absolute path of a model that is a folder or file here (None: a builtin or a hub id)."""
    from ..diffusion.models import locate

    kind, path = locate(model_id)
    return str(Path(path).resolve()) if kind in ("folder", "file") else None


def _free(ray, total: dict, need: dict, wait: float = FREE_WAIT) -> dict:
    """The cluster's free resources, once they cover ``need`` or after ``wait`` seconds
    (actors killed a moment ago give theirs back a little later); at once when the whole
    cluster (``total``) could not cover it."""
    import time

    deadline = time.monotonic() + wait
    while True:
        free = ray.available_resources()
        if all(free.get(k, 0) >= n for k, n in need.items()) or time.monotonic() > deadline or \
                any(total.get(k, 0) < n for k, n in need.items()):
            return free
        time.sleep(0.2)


def _units(task) -> int:
    """What a task makes, in the units a person counts: images, frames or prompts."""
    for name in ("seeds", "positions", "prompts"):
        if hasattr(task, name):
            return len(getattr(task, name))
    return 1


def _name(task) -> str | None:
    """The name of the (first) prompt of a task, if it has one."""
    prompt = getattr(task, "prompt", None) or (getattr(task, "prompts", None) or (None,))[0]
    return getattr(prompt, "name", None)


def _first_line(exc: BaseException) -> str:
    """A remote error's own words, without the traceback Ray wraps them in."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException) and str(cause):
        return f"{type(cause).__name__}: {str(cause).strip().splitlines()[0]}"
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else type(exc).__name__
