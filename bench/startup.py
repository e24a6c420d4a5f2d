"""Start-up time of the `promptlang` command, beside `python -c pass`.

    python bench/startup.py [--runs 20] [--why]

Runs each command as a fresh subprocess of the installed ``promptlang`` script (the one
beside ``sys.executable``; ``python -m promptlang`` where there is none) from the
repository root, ``--runs`` times (default 20), round-robin so that load from other
jobs on a shared machine hits every command alike, and prints the median wall time,
the ratio to ``python -c pass`` and the time above it. Exits 1 if a command fails or
the `compile` median is over the 100 ms goal (``--no-goal`` only reports).

promptlang keeps validated catalogs and CLIP token counts in its cache folder (see
``promptlang/cache.py``); the rows run with that cache as a user has it after a first
run, and one row runs `compile` with ``PROMPTLANG_CACHE=off`` (every catalog validated
and the BPE merges read, every time).

``--why`` also prints the ten slowest imports (cumulative, ``-X importtime``) of
``compile examples/meeting.prompt``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_MS = 100.0
BASELINE = ("python -c pass", [sys.executable, "-c", "pass"])
_SCRIPT = Path(sys.executable).with_name("promptlang")
PROMPTLANG = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "promptlang"]
COMMANDS = [
    ("check examples/meeting.prompt", [*PROMPTLANG, "check", "examples/meeting.prompt"]),
    ("compile examples/meeting.prompt", [*PROMPTLANG, "compile", "examples/meeting.prompt"]),
    ("--help", [*PROMPTLANG, "--help"]),
]
COLD = ("compile, PROMPTLANG_CACHE=off", [*PROMPTLANG, "compile", "examples/meeting.prompt"])
# The same compile without the command line (click, the lazy command table): the core alone.
CORE = ("core: compile_file + emit (no CLI)",
        [sys.executable, "-c", "import sys; from promptlang.compiler import compile_file; "
         "from promptlang.targets import emit; r = compile_file('examples/meeting.prompt'); "
         "sys.stdout.write(''.join(emit('compel', p) for p in r.prompts))"])


def run_once(argv, env, name: str = "") -> float:
    if name == COLD[0]:
        env = dict(env, PROMPTLANG_CACHE="off")
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"`{' '.join(argv[1:])}` failed (exit {proc.returncode}):\n"
                         + proc.stderr.decode("utf-8", "replace"))
    return wall * 1000


def import_breakdown(env, top: int = 10) -> list[tuple[int, int, str]]:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "promptlang", "compile",
                           "examples/meeting.prompt"], cwd=ROOT, env=env, capture_output=True, text=True)
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, cum_us, name = (part.strip() for part in line[len("import time:"):].split("|"))
        rows.append((int(cum_us), int(self_us), name))
    return sorted(rows, reverse=True)[:top]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Start-up time of the promptlang command.")
    parser.add_argument("--runs", type=int, default=20, help="runs of each command (default 20)")
    parser.add_argument("--why", action="store_true", help="also show the 10 slowest imports of `compile`")
    parser.add_argument("--no-goal", action="store_true", help="do not fail when over the 100 ms goal")
    args = parser.parse_args(argv)

    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("OMP_NUM_THREADS", "1")
    # An installed package has its .pyc files; without them every run compiles promptlang's
    # sources again (about 40 ms). The untimed first round writes them.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    everything = [BASELINE, *COMMANDS, COLD, CORE]
    for name, cmd in everything:  # warm the OS file cache, .pyc files and promptlang's cache, untimed
        run_once(cmd, env, name)
    times: dict[str, list[float]] = {name: [] for name, _ in everything}
    for _ in range(args.runs):
        for name, cmd in everything:
            times[name].append(run_once(cmd, env, name))

    base = statistics.median(times[BASELINE[0]])
    print(f"median wall of {args.runs} runs each  (Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f})")
    print(f"{'command':<34}{'median':>9}{'min':>9}{'× pass':>9}{'above pass':>12}")
    for name, _ in everything:
        med = statistics.median(times[name])
        print(f"{name:<34}{med:>7.1f}ms{min(times[name]):>7.1f}ms{med / base:>8.1f}×{med - base:>10.1f}ms")
    compile_ms = statistics.median(times[COMMANDS[1][0]])
    verdict = "PASS" if compile_ms <= GOAL_MS else "FAIL"
    print(f"goal: compile median ≤ {GOAL_MS:.0f} ms: {verdict} ({compile_ms:.1f} ms)")

    if args.why:
        print("\nslowest imports of `compile examples/meeting.prompt` (-X importtime, cumulative):")
        for cum, own, name in import_breakdown(env):
            print(f"  {cum / 1000:>7.1f} ms  (own {own / 1000:>5.1f} ms)  {name.strip()}")
    return 0 if verdict == "PASS" or args.no_goal else 1


if __name__ == "__main__":
    sys.exit(main())
