"""Ray engine speed: images per second through `--engine ray` with 1 and 2 local workers,
next to the local engine, in the same run, and the overhead per image of going through Ray.

Every engine renders the same N images (builtin:tiny, SIZE², STEPS steps, one prompt per
image) through the render job itself (`promptlang.jobs.render.plan` + `run`: PNGs with
their provenance written atomically, as the CLI does), each warmed up first (model loaded
in every worker, two images rendered, not counted). Every engine runs torch on one thread (the local
engine in this process, each Ray worker in its own), so "2 workers" is two processes
of one thread each. The Ray cluster is started once, on this machine (its start is timed
apart), with room for the 1-worker and the 2-worker engines at once (they take turns).

The local engine is also timed alone before Ray starts (Ray's driver threads then
share its process). Reported: images/s of each, the speed-up of 2 workers over 1, and the overhead of Ray per
image, two ways: (a) seconds per image through 1 Ray worker minus seconds per image
locally (the whole job: render, send back, write; negative when the driver's PNG writing
overlaps the worker's next render, which the local engine does one after the other);
(b) the bare cost of the trip: an empty task (no render; it hands back an image of the
same size) through the same backend machinery, one at a time (latency) and N at once
(throughput), against the same task run locally. (c) 8 tasks that only wait 0.25 s (no
CPU) through each engine: whether the work really runs side by side, which a machine whose
cores are busy with other work cannot show with images. It also checks that every engine wrote
the same bytes (pixels and provenance).

    python bench/ray_speed.py [--images 24] [--size 128] [--steps 8] [--repeats 3]
"""
from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before torch: every engine on one thread
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")


def source(images: int, size: int, steps: int, offset: int = 0) -> str:
    subjects = ["a lighthouse on a cliff", "a bowl of fruit", "a red fox in snow", "a city at night"]
    lines = ["use core", "defaults {", f"    size {size}x{size}", f"    steps {steps}", '    model "builtin:tiny"', "}"]
    for i in range(images):
        lines += [f"prompt p{offset + i} {{", f'    subject "{subjects[i % len(subjects)]}, number {i}"',
                  "    format watercolor", "    negative blurry", f"    seed {1000 + offset + i}", "}"]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Empty:
    """A task that renders nothing and hands back a SIZE² image: the trip through a backend alone.
    (Defined in the script: cloudpickle sends it to the workers by value.)"""

    size: int
    index: int
    model: str = "builtin:tiny"

    def execute(self, model, progress=None):
        from PIL import Image

        return None, [Image.frombytes("RGB", (self.size, self.size), os.urandom(self.size * self.size * 3))]


@dataclass(frozen=True)
class Nap:
    """A task that waits ``seconds`` without using a CPU: how many run at once, whatever the load."""

    seconds: float
    index: int
    model: str = "builtin:tiny"

    def execute(self, model, progress=None):
        time.sleep(self.seconds)
        return os.getpid()


def trip(backend, size: int, count: int, one_by_one: bool) -> float:
    """Seconds per empty task through ``backend``: one task per run(), or all in one."""
    tasks = [Empty(size, i) for i in range(count)]
    start = time.perf_counter()
    for batch in ([[t] for t in tasks] if one_by_one else [tasks]):
        for _ in backend.run(batch):
            pass
    return (time.perf_counter() - start) / count


def render(backend, text: str, out: Path) -> float:
    """Seconds to render and write every prompt of ``text`` into ``out`` through ``backend``."""
    from promptlang import compile as compile_text
    from promptlang.jobs import render as job

    the_plan = job.plan(compile_text(text), out)
    start = time.perf_counter()
    job.run(the_plan, backend=backend)
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each engine (the median is reported)")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    import ray

    from promptlang.jobs.backend import Local
    from promptlang.jobs.ray_engine import Ray

    cpus = os.cpu_count() or 1
    print(f"{args.images} images of builtin:tiny, {args.size}x{args.size}, {args.steps} steps; one torch thread "
          f"per engine process; {cpus} CPUs, load average {os.getloadavg()[0]:.1f}; ray {ray.__version__}, "
          f"torch {torch.__version__}")
    work = Path(tempfile.mkdtemp(prefix="ray-speed-"))
    text = source(args.images, args.size, args.steps)
    warm = source(2, args.size, args.steps, offset=10_000)  # one image for each worker: both load the model

    # the local engine first alone, before Ray's threads share this process with it
    alone = Local("cpu")
    render(alone, warm, work / "warm-0")
    before = [render(alone, text, work / f"alone-{r}") for r in range(args.repeats)]

    start = time.perf_counter()
    # 1 + 2 workers stay up together (the engines take turns; only one renders at a time)
    ray.init(num_cpus=max(cpus, 3), include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    print(f"Ray local cluster start: {time.perf_counter() - start:.2f} s")

    engines = {"local": lambda: Local("cpu"), "ray, 1 worker": lambda: Ray(workers=1),
               "ray, 2 workers": lambda: Ray(workers=2)}
    times: dict = {name: [] for name in engines}
    backends = {}
    for name, make in engines.items():  # start and warm every engine: actors up, model loaded
        start = time.perf_counter()
        backends[name] = make()
        render(backends[name], warm, work / f"warm-{len(backends)}")
        print(f"{name}: start + model load + two images: {time.perf_counter() - start:.2f} s")
    for r in range(args.repeats):  # engines take turns, so load on a shared machine hits each alike
        for name, backend in backends.items():
            times[name].append(render(backend, text, work / f"{name}-{r}".replace(" ", "").replace(",", "-")))
    naps = {}
    for name, backend in backends.items():
        start = time.perf_counter()
        pids = {pid for _, pid in backend.run([Nap(0.25, i) for i in range(8)])}
        naps[name] = (time.perf_counter() - start, len(pids))
    trips = {}
    for name in ("local", "ray, 1 worker"):
        for one_by_one in (True, False):
            trips[name, one_by_one] = statistics.median(
                trip(backends[name], args.size, args.images, one_by_one) for _ in range(args.repeats))
    for backend in backends.values():
        backend.close()
    ray.shutdown()

    print()
    print(f"| engine | seconds for {args.images} images (median of {args.repeats}) | images/s | s/image |")
    print("|---|---|---|---|")
    rate = {}
    for name, runs in {"local, before Ray started": before, **times}.items():
        t = statistics.median(runs)
        rate[name] = args.images / t
        print(f"| {name} | {t:.2f} (runs: {', '.join(f'{x:.2f}' for x in runs)}) | {rate[name]:.2f} | "
              f"{t / args.images * 1000:.0f} ms |")
    per_local = 1 / rate["local"]
    per_ray = 1 / rate["ray, 1 worker"]
    print()
    print(f"2 workers / 1 worker: {rate['ray, 2 workers'] / rate['ray, 1 worker']:.2f}x; "
          f"2 workers / local: {rate['ray, 2 workers'] / rate['local']:.2f}x")
    print(f"(a) overhead of Ray per image, whole job (1 worker - local): {(per_ray - per_local) * 1000:+.1f} ms "
          f"({(per_ray / per_local - 1) * 100:+.1f} % of a local image)")
    for one_by_one, what in ((True, "one task at a time (latency)"), (False, f"{args.images} tasks at once")):
        bare = trips["ray, 1 worker", one_by_one] - trips["local", one_by_one]
        print(f"(b) the trip alone, {what}: {trips['ray, 1 worker', one_by_one] * 1000:.1f} ms through Ray, "
              f"{trips['local', one_by_one] * 1000:.2f} ms locally: {bare * 1000:+.1f} ms an image "
              f"({bare / per_local * 100:.1f} % of a local image)")

    print("(c) 8 tasks that wait 0.25 s each without a CPU (is the work spread?): " + "; ".join(
        f"{name} {t:.2f} s in {n} process{'es' * (n != 1)}" for name, (t, n) in naps.items()))

    first = sorted((work / "local-0").glob("*.png"))
    same = all((work / folder / p.name).read_bytes() == p.read_bytes() for p in first
               for folder in ("ray-1worker-0", "ray-2workers-0"))
    print(f"same bytes from every engine ({len(first)} PNGs): {'yes' if same else 'NO'}")
    return 0 if same and len(first) == args.images else 1


if __name__ == "__main__":
    sys.exit(main())
