"""Compile speed: promptlang's .prompt -> Compel text path vs Compel's own string parser.

    .venv/bin/python bench/compile_speed.py [--prompts 1000] [--compel-sample 200] [--seed 0]

1. Generates one `.prompt` file of N realistic prompts (``use core``; each prompt has a
   subject of 2-3 quoted pieces side by side, some weighted; a format, 1-3 styles,
   2-4 quality entries and 2-5 negatives from the bundled core catalog, names read
   from ``styles/core.yaml``; size, seed, steps; about a fifth ``extends`` an earlier
   prompt). Deterministic for a given ``--seed``.
2. Times the whole file: ``compile_source(text, lint=False)`` plus
   ``targets.compel.emit`` for every prompt, ``--repeats`` times; reports the median
   of total / N. Then each stage on its own: parse (``syntax.parse``), catalogs
   (``resolve.load_scope``, once per file), resolve (``expansion.resolve``), emit.
3. Times Compel's own parser, ``compel.Compel.parse_prompt_string(s)``, on the
   emitted positive strings: K of them (``--compel-sample``), each once, median.
   Compel needs 0.1-1 s a prompt here, so all N would take many minutes; a time
   budget (``--compel-budget``) stops it early on a slow machine and says so. The
   K parses run in slices between the repeats of step 2, so that other load on a
   shared machine falls on both sides of the ratio; CPU time is reported too.
4. Prints both medians, the ratio Compel / promptlang per prompt and PASS/FAIL
   against the goal (at least 50x).
5. Pathological inputs at 1,000 / 10,000 / 100,000 characters: (a) a subject string
   of `(` (valid; the emitter escapes them), (b) a line of unmatched `"`, (c) a run
   of `{`, (d) `prompt a {` openings never closed. (b)-(d) must fail with a
   PromptError, in time that grows at most linearly (CPU time, best of 3, so that
   other load on the machine does not blur the growth); (e) a run of spaces and (f) a
   run of commas inside a subject and a negative string (valid: they compile, also
   linearly; both were quadratic once, 65 s for 160,000 spaces). Compel's parser gets
   ``"(" * 10000 + "cat"``, the short ``((((((((cat with red ball`` (compel issue
   #77) and promptlang's escaped output of (a), each in a subprocess with a 20 s limit.

The exit status is 0 when the speed goal and the pathological checks pass. The run
takes about two minutes on a 2-core machine (three when the machine is busy).
"""
from __future__ import annotations

import argparse
import datetime
import gc
import os
import platform
import queue
import random
import statistics
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # compel imports transformers

import yaml  # noqa: E402

import promptlang  # noqa: E402
from promptlang import syntax  # noqa: E402
from promptlang.expansion import resolve  # noqa: E402
from promptlang.resolve import load_scope  # noqa: E402
from promptlang.targets import compel as compel_target  # noqa: E402

GOAL = 50.0            # Compel parse time / promptlang time per prompt
COMPEL_LIMIT_S = 20.0  # per pathological Compel parse
PATH = "bench.prompt"

SUBJECT_HEADS = [
    "an old fisherman", "a red fox", "a lighthouse", "a business meeting", "two friends", "a dragon",
    "a small robot", "a ballerina", "a bowl of fruit", "a futuristic city skyline", "a tabby cat",
    "an astronaut", "a medieval castle", "a steam locomotive", "a hummingbird", "a street market",
    "一群女性朋友", "a jazz trio", "a mountain village", "a vintage sports car", "a knight in armor",
]
SUBJECT_ACTIONS = [
    "mending nets", "sleeping in the snow", "breathing blue fire", "eating salad and laughing",
    "reading a book", "dancing in the rain", "playing chess", "drinking tea", "watching the sunset",
    "crossing a bridge", "在咖啡店裡吃沙拉並歡笑", "flying over the rooftops", "repairing a clock",
]
SUBJECT_SETTINGS = [
    "at dawn", "on a cliff at dusk", "in a busy cafe", "under neon lights", "in a misty forest",
    "on a snowy mountain pass", "by the sea", "in a cluttered workshop", "at golden hour",
    "inside a cathedral", "on a rainy street",
]
NEGATIVE_LITERALS = ["distorted hands", "extra fingers", "deformed face", "watermark text", "cropped head",
                     "blurry background", "duplicate limbs"]
SIZES = ["512x512", "768x512", "512x768", "1024x1024", "640x448", "896x512"]
PIECE_WEIGHTS = ["++", "+", "-", ":1.2", ":1.3", ":0.8", ":1.15"]
ENTRY_WEIGHTS = [":1.2", ":1.3", ":0.8", ":0.9", "+", "++", "-"]


# ---------------------------------------------------------------- the generated file

def core_names() -> dict[str, list[str]]:
    data = yaml.safe_load((ROOT / "styles" / "core.yaml").read_text(encoding="utf-8"))
    return {section: [str(k) for k in data[section]] for section in ("format", "style", "quality", "negative")}


def make_source(n: int, seed: int) -> tuple[str, int]:
    """A `.prompt` file of n prompts; also how many of them use `extends`."""
    rnd = random.Random(seed)
    names = core_names()

    def weighted(item: str, p: float, choices) -> str:
        return item + rnd.choice(choices) if rnd.random() < p else item

    def subject() -> str:
        pieces = [rnd.choice(SUBJECT_HEADS), rnd.choice(SUBJECT_ACTIONS)]
        if rnd.random() < 0.6:
            pieces.append(rnd.choice(SUBJECT_SETTINGS))
        return " ".join(weighted(f'"{p}"', 0.35, PIECE_WEIGHTS) for p in pieces)

    def entries(section: str, lo: int, hi: int, p: float) -> str:
        return ", ".join(weighted(e, p, ENTRY_WEIGHTS) for e in rnd.sample(names[section], rnd.randint(lo, hi)))

    def negatives() -> str:
        count = rnd.randint(2, 5)
        items = rnd.sample(names["negative"], count - 1)
        items.insert(rnd.randrange(count), f'"{rnd.choice(NEGATIVE_LITERALS)}":1.3')
        return ", ".join(items)

    lines = ["# generated by bench/compile_speed.py", "use core", "",
             "defaults {", '    model    "stable-diffusion-v1-5/stable-diffusion-v1-5"',
             "    steps    30", "    guidance 7.5", "}", ""]
    depth: list[int] = []
    extended = 0
    for i in range(n):
        parents = [j for j in range(i) if depth[j] < 3]
        if parents and rnd.random() < 0.2:
            parent = rnd.choice(parents)
            depth.append(depth[parent] + 1)
            extended += 1
            lines.append(f"prompt p{i:05d} extends p{parent:05d} {{")
            lines.append(f"    format   {rnd.choice(names['format'])}")
            lines.append(f"    style    {entries('style', 1, 3, 0.6)}")
            if rnd.random() < 0.5:
                lines.append(f'    subject  {subject()}')
            lines.append(f"    seed     {rnd.randrange(2**32)}")
        else:
            depth.append(0)
            lines.append(f"prompt p{i:05d} {{")
            lines.append(f"    subject  {subject()}")
            lines.append(f"    format   {rnd.choice(names['format'])}")
            lines.append(f"    style    {entries('style', 1, 3, 0.6)}")
            lines.append(f"    quality  {entries('quality', 2, 4, 0.25)}")
            lines.append(f"    negative {negatives()}")
            lines.append(f"    size     {rnd.choice(SIZES)}")
            lines.append(f"    seed     {rnd.randrange(2**32)}")
            lines.append(f"    steps    {rnd.randint(20, 50)}")
        lines.append("}")
        lines.append("")
    return "\n".join(lines), extended


# ---------------------------------------------------------------- helpers

def compile_and_emit(text: str, path: str = PATH) -> list[str]:
    compiled = promptlang.compile_source(text, path, lint=False)
    return [compel_target.emit(p) for p in compiled.prompts]


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except (AttributeError, OSError):
        return "n/a"


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def fmt(seconds: float) -> str:
    """Seconds as µs / ms / s, three significant figures or so."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def positive_side(emitted: str) -> str:
    return emitted.split("\nNegative prompt: ", 1)[0]


def negative_side(emitted: str) -> str:
    parts = emitted.split("\nNegative prompt: ", 1)
    return parts[1] if len(parts) == 2 else ""


# ---------------------------------------------------------------- Compel in a subprocess

_CHILD = r"""
import os, sys, time, warnings
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
warnings.filterwarnings("ignore")
from compel import Compel
case = sys.stdin.readline().rstrip("\n").encode().decode("unicode_escape")
print("ready", flush=True)
sys.stdin.readline()  # go
t0 = time.perf_counter()
try:
    Compel.parse_prompt_string(case)
    outcome = "parsed"
except BaseException as exc:  # RecursionError and friends
    outcome = type(exc).__name__
print(f"{time.perf_counter() - t0:.6f} {outcome}", flush=True)
"""


def compel_guarded(cases: list[str], limit: float) -> list[tuple[str, float | None]]:
    """Compel's parser on each case, each in a fresh interpreter: (outcome, seconds or None).

    The interpreters import compel side by side first; then the cases run one at a
    time, each with ``limit`` seconds for the parse alone (the import is not counted).
    A child over its limit is killed.
    """
    children = []
    for case in cases:
        proc = subprocess.Popen([sys.executable, "-c", _CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True, cwd=str(ROOT))
        lines: queue.Queue = queue.Queue()

        def pump(proc=proc, lines=lines):
            for line in proc.stdout:
                lines.put(line.strip())
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        proc.stdin.write(case.encode("unicode_escape").decode("ascii") + "\n")
        proc.stdin.flush()
        children.append((proc, lines))
    results = []
    try:
        ready = []
        for proc, lines in children:
            try:
                ready.append(lines.get(timeout=180) == "ready")
            except queue.Empty:
                ready.append(False)
        for (proc, lines), ok in zip(children, ready):
            if not ok:
                results.append(("compel did not start", None))
                continue
            t0 = time.perf_counter()
            proc.stdin.write("go\n")
            proc.stdin.flush()
            try:
                result = lines.get(timeout=limit)
            except queue.Empty:
                results.append((f"did not finish in {limit:.0f} s", None))
                proc.kill()
                continue
            if not result:
                results.append(("child died", time.perf_counter() - t0))
                continue
            seconds, outcome = result.split(" ", 1)
            results.append((outcome, float(seconds)))
    finally:
        for proc, _ in children:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    return results


# ---------------------------------------------------------------- pathological inputs

def patho_text(case: str, size: int) -> tuple[str, str]:
    """(text, what it is) for a pathological case of about ``size`` characters of trouble."""
    if case == "a":
        return ('use core\nprompt a {\n    subject "' + "(" * size + 'cat"\n    format stock_photo\n}\n',
                f'subject string of {size:,} `(`')
    if case == "b":
        count = size - 1 if size % 2 == 0 else size  # odd: an even count pairs up into empty strings ""
        return 'use core\nprompt a {\n    subject ' + '"' * count + "\n}\n", f"{count:,} `\"` on one line"
    if case == "c":
        return "use core\nprompt a " + "{" * size + "\n", f"{size:,} `{{`"
    if case == "d":
        count = size // len("prompt a {\n")
        return "use core\n" + "prompt a {\n" * count, f"{count:,} `prompt a {{` never closed"
    if case in "ef":
        run = (" " if case == "e" else ",") * (size // 2)
        return (f'use core\nprompt a {{\n    subject "a{run}b"\n    negative "c{run}d"\n    format stock_photo\n}}\n',
                f"{size // 2:,} {'spaces' if case == 'e' else 'commas'} in subject and negative")
    raise ValueError(case)


def run_patho(case: str, size: int, repeats: int, collect: bool = True) -> dict:
    """Best of ``repeats``, wall and CPU time; ``collect=False`` switches Python's cyclic GC off meanwhile."""
    text, what = patho_text(case, size)
    times, cpu, outcome, message = [], [], "", ""
    if not collect:
        gc.collect()
        gc.disable()
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        try:
            out = compile_and_emit(text, "patho.prompt")
            outcome = "compiled"
            if case == "a" and "\\(" * size not in out[0]:
                outcome = "compiled, NOT ESCAPED"
            message = f"{len(out[0]):,} characters of Compel text"
        except promptlang.PromptError as exc:
            rendered = str(exc)  # what the user sees: part of the cost
            outcome = "PromptError"
            message = rendered.splitlines()[0]
            message += f"  [diagnostic {len(rendered):,} chars]"
        except BaseException as exc:  # anything else is a bug
            outcome = f"{type(exc).__name__} (not a PromptError!)"
            message = str(exc).splitlines()[0][:200] if str(exc) else ""
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    if not collect:
        gc.enable()
    return {"case": case, "size": size, "what": what, "chars": len(text), "outcome": outcome,
            "message": message, "wall": min(times), "time": min(cpu)}


# ---------------------------------------------------------------- main

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prompts", type=int, default=1000, help="prompts in the generated file (default 1000)")
    ap.add_argument("--compel-sample", type=int, default=200,
                    help="emitted strings Compel's parser is timed on, each once (default 200)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the generator (default 0)")
    ap.add_argument("--compel-budget", type=float, default=60.0,
                    help="seconds at most for step 3; fewer strings are measured if it runs out (default 60)")
    ap.add_argument("--repeats", type=int, default=5, help="repeats of the whole-file compile (default 5)")
    ap.add_argument("--skip-compel-patho", action="store_true",
                    help="do not run Compel on the pathological strings (saves about 30 s)")
    args = ap.parse_args(argv)
    if args.prompts < 1 or args.compel_sample < 1 or args.repeats < 1:
        ap.error("--prompts, --compel-sample and --repeats must be at least 1")
    n = args.prompts
    started = time.perf_counter()

    from importlib.metadata import version

    print(f"promptlang compile speed  {datetime.date.today()}  Python {platform.python_version()}  "
          f"{platform.machine()}  {os.cpu_count()} CPUs  lark {version('lark')}  compel {version('compel')}  "
          f"PyYAML {version('PyYAML')}")
    print(f"load average at start: {_load()} (other processes on the machine slow every figure alike)")
    print()

    # 1. the file
    text, extended = make_source(n, args.seed)
    print(f"[1] generated file: {n:,} prompts ({extended:,} with `extends`), {len(text):,} characters, "
          f"{text.count(chr(10)):,} lines, seed {args.seed}")

    # 2 + 3. promptlang on the whole file and Compel's parser on a sample of what it emitted, interleaved:
    # repeat r compiles the whole file, then Compel parses the r-th slice of the sample, so that a change
    # of load on a shared machine hits both sides of the ratio alike. Wall and CPU time are both kept.
    cold, emitted = timed(compile_and_emit, text)  # builds the Lark parser, imports the target
    assert len(emitted) == n
    t_import, _ = timed(lambda: __import__("compel").Compel)
    from compel import Compel

    k = min(args.compel_sample, n)
    sample = random.Random(args.seed + 1).sample(emitted, k)
    slices = [sample[r::args.repeats] for r in range(args.repeats)]
    totals, totals_cpu = [], []
    compel_times, compel_cpu, compel_failures, budget_hit, measured_strings = [], [], 0, False, []
    for r in range(args.repeats):
        c0 = time.process_time()
        totals.append(timed(compile_and_emit, text)[0])
        totals_cpu.append(time.process_time() - c0)
        t_slice = time.perf_counter()
        for s in slices[r]:
            if time.perf_counter() - t_slice > args.compel_budget / args.repeats:
                budget_hit = True
                break
            positive = positive_side(s)
            c0, t0 = time.process_time(), time.perf_counter()
            try:
                Compel.parse_prompt_string(positive)
            except Exception:  # noqa: BLE001 - counted and reported
                compel_failures += 1
            compel_times.append(time.perf_counter() - t0)
            compel_cpu.append(time.process_time() - c0)
            measured_strings.append(positive)
    per_prompt = statistics.median(totals) / n
    per_prompt_cpu = statistics.median(totals_cpu) / n
    measured = len(compel_times)
    compel_med = statistics.median(compel_times)
    compel_med_cpu = statistics.median(compel_cpu)

    print(f"[2] compile_source(lint=False) + compel emit, whole file: median {fmt(statistics.median(totals))} "
          f"over {args.repeats} repeats (min {fmt(min(totals))}, max {fmt(max(totals))}; first, cold run "
          f"{fmt(cold)}); CPU time median {fmt(statistics.median(totals_cpu))}")
    print(f"    per prompt: {fmt(per_prompt)} (CPU {fmt(per_prompt_cpu)})")

    stage_times: dict[str, list[float]] = {"parse": [], "load_scope": [], "resolve": [], "emit": []}
    for _ in range(min(args.repeats, 3)):
        t_parse, file = timed(syntax.parse, text, PATH)
        t_scope, scope = timed(load_scope, file)
        t_resolve, (prompts, _warnings) = timed(resolve, file, scope)
        t_emit, _ = timed(lambda: [compel_target.emit(p) for p in prompts])
        for key, value in zip(stage_times, (t_parse, t_scope, t_resolve, t_emit)):
            stage_times[key].append(value)
    stages = {k: statistics.median(v) for k, v in stage_times.items()}
    stage_sum = sum(stages.values())
    print("    stages, timed separately afterwards (median of each; per prompt = file time / N):")
    for key, label in (("parse", "parse     syntax.parse"), ("load_scope", "catalogs  resolve.load_scope"),
                       ("resolve", "resolve   expansion.resolve"), ("emit", "emit      targets.compel.emit")):
        print(f"      {label:32s} {fmt(stages[key]):>10s} per file  {fmt(stages[key] / n):>9s} per prompt  "
              f"{100 * stages[key] / stage_sum:4.1f} %")

    lint_times = [timed(promptlang.compile_source, text, PATH)[0] for _ in range(2)]
    print(f"    (with lint=True, the default, which counts CLIP tokens: {fmt(statistics.median(lint_times) / n)} "
          "per prompt, compile only)")

    # a one-prompt file, as the CLI or a notebook cell compiles it: loads the catalog every time
    single_src, _ = make_source(1, args.seed)
    single = [timed(compile_and_emit, single_src)[0] for _ in range(20)]
    single_med = statistics.median(single)
    print(f"    a one-prompt file, compiled + emitted alone (catalog loaded each call): median {fmt(single_med)} "
          "over 20 calls")

    neg_k = min(20, k)
    neg_times, neg_failures = [], 0
    for s in sample[:neg_k]:
        t0 = time.perf_counter()
        try:
            Compel.parse_prompt_string(negative_side(s))
        except Exception:  # noqa: BLE001
            neg_failures += 1
        neg_times.append(time.perf_counter() - t0)
    pos_chars = statistics.median(len(s) for s in measured_strings)
    print(f"[3] Compel.parse_prompt_string on the emitted POSITIVE strings: measured on {measured} of the {n:,} "
          f"strings (random sample, each parsed once, in {args.repeats} slices between the repeats of [2]); "
          f"median length {pos_chars:.0f} characters")
    if budget_hit:
        print(f"    (only {measured} of the {k} requested: the {args.compel_budget:.0f} s budget "
              "(--compel-budget) for this step ran out)")
    print(f"    median {fmt(compel_med)} (min {fmt(min(compel_times))}, max {fmt(max(compel_times))}; CPU median "
          f"{fmt(compel_med_cpu)}); Compel raised on {compel_failures} of them; import of compel itself "
          f"{fmt(t_import)} (not counted)")
    print(f"    the negative side costs another {fmt(statistics.median(neg_times))} a prompt (median of {neg_k}; "
          f"Compel raised on {neg_failures}); the ratio below leaves it out, so it favours Compel")

    # 4. the ratio
    ratio = compel_med / per_prompt
    ratio_cpu = compel_med_cpu / per_prompt_cpu
    verdict = "PASS" if ratio >= GOAL else "FAIL"
    print(f"[4] promptlang {fmt(per_prompt)} per prompt (parse + resolve + emit, both sides)  vs  "
          f"Compel {fmt(compel_med)} per prompt (parse, positive side only)")
    print(f"    ratio {ratio:,.0f}x  (goal >= {GOAL:.0f}x): {verdict}    (in CPU time: {fmt(per_prompt_cpu)} vs "
          f"{fmt(compel_med_cpu)}, {ratio_cpu:,.0f}x)")
    single_ratio = compel_med / single_med
    print(f"    one-prompt file compiled alone: {fmt(single_med)}, ratio {single_ratio:,.1f}x (the catalog YAML "
          "is read and validated on every compile_source call)")

    # 5. pathological inputs
    print("[5] pathological inputs: CPU time of this process, best of 3 (wall time beside it); it includes "
          "compile + emit, or raising and rendering the PromptError")
    rows = []
    baseline = []
    for _ in range(5):
        c0 = time.process_time()
        compile_and_emit('use core\nprompt a {\n    subject "cat"\n    format stock_photo\n}\n', "patho.prompt")
        baseline.append(time.process_time() - c0)
    base = min(baseline)
    print(f"    baseline: the same one-prompt file as (a) with subject \"cat\": {fmt(base)}")
    patho_ok = True
    for case in "abcdef":
        previous = None
        for size in (1_000, 10_000, 100_000):
            row = run_patho(case, size, 3)
            rows.append(row)
            per_k = row["time"] / (size / 1000)
            growth = f"x{row['time'] / previous:5.1f}" if previous else "      "
            previous = row["time"]
            print(f"    ({case}) {row['what']:34s} {row['chars']:>8,} chars  {fmt(row['time']):>10s}  "
                  f"{fmt(per_k):>9s}/1k chars  {growth}  (wall {fmt(row['wall']):>9s})  {row['outcome']}")
            print(f"          {row['message'][:150]}")
            expected = "compiled" if case in "aef" else "PromptError"
            if row["outcome"] != expected:
                patho_ok = False
    no_gc = {size: run_patho("b", size, 3, collect=False)["time"] for size in (10_000, 100_000)}
    print(f"    (b) again with Python's cyclic GC switched off: 10k {fmt(no_gc[10_000])}, 100k {fmt(no_gc[100_000])} "
          f"(x{no_gc[100_000] / no_gc[10_000]:.1f}; {fmt(no_gc[100_000] / 100)}/1k chars): the rest of the growth "
          "is the GC walking the live parse tree")
    even_text = 'use core\nprompt a {\n    subject ' + '"' * 10_000 + "\n}\n"
    try:
        even = compile_and_emit(even_text, "patho.prompt")
        even_note = f"compiles (5,000 empty strings \"\"), emitted Compel text {even[0]!r}"
    except promptlang.PromptError as exc:
        even_note = "PromptError: " + str(exc).splitlines()[0]
    print(f"    note: an EVEN count, 10,000 `\"` on one line: {even_note}")

    def linear(case: str) -> bool:
        t = {r["size"]: r["time"] for r in rows if r["case"] == case}
        # linear or better: 10x the input costs at most 20x the time (room for noise and for Python's
        # cyclic GC, which grows a little faster than linear with many live objects), or stays under 5 ms;
        # quadratic growth would be about 100x
        return t[100_000] <= max(20 * t[10_000], 0.005)

    linear_ok = all(linear(c) for c in "abcdef")
    fail_fast = max(r["time"] for r in rows if r["case"] in "bcd")
    print(f"    (b)-(d) raise PromptError: {'yes' if patho_ok else 'NO'}; slowest failure {fmt(fail_fast)}; "
          f"growth 10k -> 100k linear or better in every case: {'yes' if linear_ok else 'NO'}")

    compel_patho = []
    if not args.skip_compel_patho:
        print(f"    Compel's parser, each in a fresh interpreter, limit {COMPEL_LIMIT_S:.0f} s for the parse "
              "(import not counted):")
        cases = [('"(" * 10000 + "cat"', "(" * 10000 + "cat"),
                 ('"((((((((cat with red ball"', "((((((((cat with red ball"),
                 ('(a) as emitted: "\\\\(" * 10000 + "cat"', "\\(" * 10000 + "cat")]
        for (label, _), (outcome, seconds) in zip(cases, compel_guarded([c for _, c in cases], COMPEL_LIMIT_S)):
            shown = fmt(seconds) if seconds is not None else "-"
            compel_patho.append((label, outcome, shown))
            print(f"      {label:40s} {shown:>10s}  {outcome}")

    # 6. summary
    print()
    print("=" * 100)
    print("SUMMARY")
    print("-" * 100)
    table = [
        ("file", f"{n:,} prompts, {len(text):,} chars, seed {args.seed}"),
        ("promptlang, whole file", f"{fmt(statistics.median(totals))} (median of {args.repeats})"),
        ("promptlang per prompt", f"{fmt(per_prompt)}  = parse {fmt(stages['parse'] / n)} + catalogs "
                                  f"{fmt(stages['load_scope'] / n)} + resolve {fmt(stages['resolve'] / n)} "
                                  f"+ emit {fmt(stages['emit'] / n)}"),
        ("catalog load (once per file)", fmt(stages["load_scope"])),
        ("one-prompt file, alone", fmt(single_med)),
        ("Compel parse per prompt", f"{fmt(compel_med)} (positive side, median of {measured} sampled strings)"),
        ("ratio Compel / promptlang", f"{ratio:,.0f}x   goal >= {GOAL:.0f}x   {verdict}   "
                                      f"(CPU time: {ratio_cpu:,.0f}x)"),
        ("ratio, one-prompt file", f"{single_ratio:,.1f}x"),
    ]
    for case in "abcdef":
        r = {row["size"]: row for row in rows if row["case"] == case}
        table.append((f"pathological ({case}), CPU",
                      f"1k {fmt(r[1_000]['time'])}, 10k {fmt(r[10_000]['time'])}, 100k {fmt(r[100_000]['time'])}"
                      f"  -> {r[100_000]['outcome']}"))
    for label, outcome, shown in compel_patho:
        table.append((f"Compel {label[:40]}", f"{shown} {outcome}"))
    width = max(len(k) for k, _ in table)
    for key, value in table:
        print(f"{key:{width}s}  {value}")
    print("-" * 100)
    overall = verdict == "PASS" and patho_ok and linear_ok
    print(f"load average at end: {_load()}")
    print(f"overall: {'PASS' if overall else 'FAIL'}  (speed goal {verdict}; pathological inputs "
          f"{'ok' if patho_ok and linear_ok else 'NOT ok'})   wall time {time.perf_counter() - started:.0f} s")
    return 0 if overall else 1


if __name__ == "__main__":
    sys.exit(main())
