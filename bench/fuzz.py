"""Fuzz driver of the compile path: whatever text it is given, promptlang answers with
prompts or a PromptError, in bounded time and memory.

    python bench/fuzz.py [--inputs 10000] [--seconds S] [--seed 0] [--workers 1] [--out FILE]

Inputs come round-robin from three generators, each seeded from ``--seed`` (a worker
has its own stream, ``f"{seed}:{worker}"``):

(a) random text from an alphabet weighted towards the language's own words and marks
    (keywords, slot, setting and catalog names, ``{ } , : + - " \\ # -> at blend``,
    numbers, strings) with whitespace oddities (U+2028, form feed, NUL, CR), combining
    marks and, now and then, a very long run of one character;
(b) byte mutations of the bundled examples: flip, insert, delete, duplicate a span,
    splice a 5,000-digit number or a run of 500 ``+``/``-``/spaces/commas;
(c) grammar-aware splices: lines and blocks of one example put into another, fields
    moved between blocks, ``extends`` rewired (self, cycles, missing names), catalog
    names swapped for near misses, whole files concatenated.

Each input (at most 300 KB) is compiled with ``promptlang.compile_source(text,
"fuzz.prompt")`` in a scratch folder holding copies of ``examples/*.yaml``; what
compiles is emitted with every text target. A PromptError is the expected refusal; a
crash is any other exception, a PromptError whose text holds "Traceback" or has no
``FILE:LINE:COL`` place, or whose span lies outside the text. An input that runs past
``--timeout`` (2 s of CPU time; 5x that in wall time for one that blocks) is a hang.
Each worker runs under an address-space limit (``--memory-gb``, 4) so that a
MemoryError is a crash, not a dead machine.

Crashes are grouped by signature (exception type + innermost promptlang frame); per
signature the driver keeps a count and the smallest reproducer, shrunk by deleting
lines, then chunks of characters, within a small time budget. The exit status is 1
when there is any crash or hang.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

import promptlang  # noqa: E402
from promptlang.targets import NAMES, emit  # noqa: E402

FILE = "fuzz.prompt"
MAX_INPUT = 300_000          # characters
PACKAGE = str(Path(promptlang.__file__).resolve().parent)
PLACE = re.compile(r"^[^\n]*:\d+:\d+: error: ")
EXAMPLES = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "examples").glob("*.prompt"))]
SLOTS = ["subject", "format", "style", "quality", "negative"]
SETTINGS = ["model", "size", "aspect", "steps", "guidance", "seed", "scheduler", "images"]


def _catalog_names() -> list[str]:
    names = []
    for path in (ROOT / "styles" / "core.yaml", ROOT / "examples" / "team.yaml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        names += [str(k) for s in SLOTS[1:] for k in (data.get(s) or {})]
    return names


CATALOG = _catalog_names()


class Hang(BaseException):
    """Raised by the alarm: not an Exception, so no `except Exception` in promptlang eats it."""


# ---------------------------------------------------------------- (a) random text

WORDS = ["prompt", "extends", "use", "defaults", "blend", "at", "core", "studio", '"./team.yaml"', *SLOTS,
         *SETTINGS]
MARKS = ["{", "}", ",", ":", "+", "-", '"', "\\", "#", "->", ".", "x", "_", "++", "--", ":1.3", "{{", "}}"]
SPACE = [" ", " ", " ", "\n", "\n", "\t", "\r\n", "\r", "\f", "\u2028", "\u2029", "\x00", "\x0b", "\x85",
         "\ufeff"]
OTHER = ["\u0301", "\u0308\u0301", "é", "日本", "猫", "\U0001f600", "İ", "ß", "\u200b", "\u202e", "ﬁ", "Ⅻ", "٣"]
STRINGS = ['"a cat"', '"x"', '""', '" , "', '"{{ subject }}"', '"{{ 7*7 }}"', '"a \\"q\\""', '"(red) [car]:1.5"',
           '"{% for x in y %}"', '"日本 の 猫"']


def _number(rnd: random.Random) -> str:
    kind = rnd.randrange(7)
    if kind == 0:
        return str(rnd.randrange(10))
    if kind == 1:
        return str(rnd.randrange(10 ** rnd.randint(1, 25)))
    if kind == 2:
        return f"{rnd.randrange(4097)}x{rnd.randrange(4097)}"
    if kind == 3:
        return f"{rnd.randrange(20)}:{rnd.randrange(20)}"
    if kind == 4:
        return rnd.choice(["0.4", "1e9", "1e999", ".5", "-1", "-0", "1.", "nan", "inf"])
    if kind == 5:
        return "9" * rnd.choice([400, 4300, 4301, 5000])
    return f"{rnd.random() * 10:.{rnd.randint(0, 6)}f}"


def _value(rnd: random.Random) -> str:
    """A field's value that is nearly right: weighted strings and names, blends, edits, odd numbers."""
    kind = rnd.randrange(6)
    if kind == 0:
        return _number(rnd)
    if kind == 1:
        return rnd.choice(STRINGS) + rnd.choice(["+" * rnd.choice([1, 3, 30, 100, 500]), "-" * rnd.choice([2, 100, 500]),
                                                 ":" + _number(rnd), ""])
    if kind == 2:
        return f"blend {rnd.choice(STRINGS)}:{_number(rnd)}, {rnd.choice(CATALOG)}:{_number(rnd)}"
    if kind == 3:
        return f"{rnd.choice(STRINGS)} -> {rnd.choice(STRINGS)} at {_number(rnd)}"
    if kind == 4:
        return ", ".join(rnd.choice(CATALOG + STRINGS) for _ in range(rnd.randint(1, 6)))
    if rnd.random() < 0.05:  # a long run inside a string (rare: some stages were quadratic in it)
        return '"a' + rnd.choice([" ", ",", ", ", "\t", "a "]) * int(10 ** rnd.uniform(3, 4.7)) + 'b"'
    return '"a' + rnd.choice([" ", ",", "\\", "{", "("]) * rnd.randint(10, 2000) + 'b"'


def random_text(rnd: random.Random) -> str:
    pools = [(WORDS, 6), (MARKS, 6), (SPACE, 7), (CATALOG, 3), (STRINGS, 2), (OTHER, 1)]
    out = []
    for _ in range(int(rnd.expovariate(1 / 25)) + 1):
        r = rnd.random()
        if r < 0.1:
            out.append(_number(rnd) if r < 0.05 else f" {rnd.choice(SETTINGS + SLOTS)} {_number(rnd)}\n")
        elif r < 0.12:
            out.append(_value(rnd))
        elif r < 0.13:
            unit = rnd.choice(MARKS + SPACE + OTHER + ["a", "9", ", ", '"', "{", "prompt a {"])
            out.append(unit * int(10 ** rnd.uniform(2, 4.5)))  # 100 to 30,000 times
        else:
            pool = rnd.choices([p for p, _ in pools], [w for _, w in pools])[0]
            out.append(rnd.choice(pool))
    return "".join(out)


# ---------------------------------------------------------------- (b) byte mutations

SPLICES = [b"9" * 5000, b"+" * 500, b"-" * 500, b" " * 5000, b"," * 2000, b'"' * 501, b"{" * 300, b"\xe2\x80\xa8",
           b"\x00", b"\xff\xfe", b"\xcc\x81" * 50, b"1e309", b"-" + b"9" * 400]


DIGITS = re.compile(rb"[0-9]+")
QUOTE = re.compile(rb'"[^"\n]*"')


def mutate(rnd: random.Random) -> str:
    buf = bytearray(rnd.choice(EXAMPLES).encode("utf-8"))
    for _ in range(rnd.randint(1, 8)):
        at = rnd.randrange(len(buf) + 1)
        kind = rnd.randrange(9)
        if kind >= 6:  # aimed: a number made huge, a weight run after a string, a long run in a string
            spots = [m for m in (DIGITS if kind == 6 else QUOTE).finditer(bytes(buf))]
            if spots:
                m = rnd.choice(spots)
                if kind == 6:
                    big = rnd.choice([b"9" * 4301, b"9" * 5000, b"1" + b"0" * 400, b"99999999999999999999", b"0" * 50])
                    buf[m.start():m.end()] = big
                elif kind == 7:
                    buf[m.end():m.end()] = rnd.choice([b"+" * 500, b"-" * 500, b"+" * 100, b":" + b"9" * 400, b":1e400"])
                elif rnd.random() < 0.015:  # rare: a quadratic stage spends seconds on one
                    run = rnd.choice([b" ", b",", b", "]) * int(10 ** rnd.uniform(3, 4.7))
                    buf[m.start() + 1:m.start() + 1] = run
                continue
        if kind == 0 and at < len(buf):
            buf[at] ^= 1 << rnd.randrange(8)
        elif kind == 1:
            buf[at:at] = bytes([rnd.randrange(256) if rnd.random() < 0.5 else rnd.choice(b'{}",:+-#\n \\x.')])
        elif kind == 2:
            del buf[at:at + rnd.choice([1, 1, 2, 8, 40])]
        elif kind == 3:
            span = bytes(buf[at:at + rnd.choice([1, 4, 16, 80, 400])])
            buf[at:at] = span * rnd.choice([1, 2, 10, 100])
        else:
            buf[at:at] = rnd.choice(SPLICES)
    return buf[:MAX_INPUT].decode("utf-8", errors="replace")


# ---------------------------------------------------------------- (c) grammar-aware splices

BLOCK = re.compile(r"^(?:prompt|defaults)\b[^\n]*\{.*?^\}[^\n]*\n?", re.M | re.S)
HEADER = re.compile(r"^prompt[ \t]+(\w+)([ \t]+extends[ \t]+\w+)?", re.M)
FIELD = re.compile(r"^[ \t]+\w+[^\n]*\n", re.M)
WORD = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*\b")


def near_miss(rnd: random.Random, name: str) -> str:
    i = rnd.randrange(len(name))
    return rnd.choice([name[:i] + name[i + 1:], name[:i] + name[i] + name[i:], name[:i] + "x" + name[i + 1:],
                       name[:i] + name[i + 1:i + 2] + name[i:i + 1] + name[i + 2:], name.upper(), name + "_",
                       "core." + name, "studio." + name, "cor." + name, "core.core." + name, name + ".x"]) or "x"


def splice(rnd: random.Random) -> str:
    text = rnd.choice(EXAMPLES)
    for _ in range(rnd.randint(1, 3)):
        other = rnd.choice(EXAMPLES)
        op = rnd.randrange(8)
        if op == 0:  # a line of another example
            lines, extra = text.splitlines(keepends=True), other.splitlines(keepends=True)
            lines.insert(rnd.randrange(len(lines) + 1), rnd.choice(extra))
            text = "".join(lines)
        elif op == 1:  # a block of another example in place of one of ours (or added)
            ours, theirs = list(BLOCK.finditer(text)), list(BLOCK.finditer(other))
            block = rnd.choice(theirs).group(0)
            if ours and rnd.random() < 0.6:
                m = rnd.choice(ours)
                text = text[:m.start()] + block + text[m.end():]
            else:
                text += "\n" + block
        elif op == 2:  # a field moved (or copied) to another block
            fields = list(FIELD.finditer(text))
            blocks = list(BLOCK.finditer(text))
            if fields and blocks:
                f = rnd.choice(fields)
                line = f.group(0)
                if rnd.random() < 0.7:
                    text = text[:f.start()] + text[f.end():]
                blocks = list(BLOCK.finditer(text))
                if blocks:
                    b = rnd.choice(blocks)
                    at = text.index("{", b.start()) + 1
                    text = text[:at] + "\n" + line + text[at:]
        elif op == 3:  # extends rewired: self, cycles, later or missing names
            headers = list(HEADER.finditer(text))
            if headers:
                names = [h.group(1) for h in headers]
                h = rnd.choice(headers)
                target = rnd.choice(names + [h.group(1), "nope", near_miss(rnd, rnd.choice(names))])
                new = f"prompt {h.group(1)}" + ("" if rnd.random() < 0.15 else f" extends {target}")
                text = text[:h.start()] + new + text[h.end():]
        elif op == 4:  # a catalog (or prompt) name swapped for a near miss
            words = [m for m in WORD.finditer(text) if m.group(0) in CATALOG or rnd.random() < 0.05]
            if words:
                m = rnd.choice(words)
                text = text[:m.start()] + near_miss(rnd, m.group(0)) + text[m.end():]
        elif op == 5:  # two whole files together: duplicate names, two `use`s, two `defaults`
            text = text + rnd.choice(["\n", "", "\n\n"]) + other
        else:  # a field's value replaced by one that is nearly right
            fields = list(FIELD.finditer(text))
            if fields:
                f = rnd.choice(fields)
                name = f.group(0).split()[0] if rnd.random() < 0.8 else rnd.choice(SLOTS + SETTINGS)
                text = text[:f.start()] + f"    {name} {_value(rnd)}\n" + text[f.end():]
    return text[:MAX_INPUT]


GENERATORS = (("random text", random_text), ("byte mutation", mutate), ("splice", splice))


# ---------------------------------------------------------------- running one input

def _where(tb) -> str:
    """The innermost promptlang frame of a traceback as `promptlang/x.py:LINE` (else the innermost)."""
    frames = traceback.extract_tb(tb)
    ours = [f for f in frames if f.filename.startswith(PACKAGE)]
    frame = (ours or frames or [None])[-1]
    if frame is None:
        return "?"
    name = os.path.relpath(frame.filename, ROOT) if frame.filename.startswith(str(ROOT)) else frame.filename
    return f"{name}:{frame.lineno}"


def _span_outside(span, text: str) -> bool:
    lines = text.split("\n")
    return not (1 <= span.line <= len(lines) and 1 <= span.column <= len(lines[span.line - 1]) + 1
                and span.end_line >= span.line and 0 <= span.start <= len(text))


def _on_alarm(signum, frame):
    raise Hang()


def run_one(text: str, timeout: float) -> tuple[str, str | None, str]:
    """``(outcome, signature, detail)``: outcome is ``ok``, ``error`` (PromptError), ``crash`` or ``hang``."""
    # CPU time (ITIMER_PROF), so that other load on a shared machine does not make hangs;
    # wall time (ITIMER_REAL, 5x) as the backstop for an input that blocks without working
    old_handlers = [signal.signal(s, _on_alarm) for s in (signal.SIGPROF, signal.SIGALRM)]
    signal.setitimer(signal.ITIMER_PROF, timeout)
    signal.setitimer(signal.ITIMER_REAL, 5 * timeout)
    try:
        try:
            result = promptlang.compile_source(text, FILE)
            for warning in result.warnings:
                str(warning)
            for prompt in result.prompts:
                for target in NAMES:
                    warnings = []
                    emit(target, prompt, warnings)
                    for warning in warnings:
                        str(warning)
            return "ok", None, ""
        except promptlang.PromptError as err:
            message = str(err)
            problem = ("PromptError holding a traceback" if "Traceback" in message else
                       "PromptError without FILE:LINE:COL" if not PLACE.match(message) else
                       "PromptError with a span outside the text"
                       if err.span is not None and err.span.file == FILE and _span_outside(err.span, text) else None)
            if problem is None:
                return "error", None, ""
            return "crash", f"{problem} @ {_where(err.__traceback__)}", message[:300]
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
            signal.setitimer(signal.ITIMER_REAL, 0)
            for sig, handler in zip((signal.SIGPROF, signal.SIGALRM), old_handlers):
                signal.signal(sig, handler)
    except Hang as hang:
        frames = [f for f in traceback.extract_tb(hang.__traceback__) if f.filename.startswith(PACKAGE)]
        where = f"{os.path.relpath(frames[-1].filename, ROOT)}:{frames[-1].name}" if frames else "?"
        return "hang", f"hang @ {where}", (f"over {timeout:g} s CPU or {5 * timeout:g} s wall; interrupted at "
                                           f"{_where(hang.__traceback__)}")
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - any of these is a crash
        return "crash", f"{type(exc).__name__} @ {_where(exc.__traceback__)}", f"{type(exc).__name__}: {exc}"[:300]


#: what the shrinker deletes, pass by pass: lines, then words and runs, then characters
#: (a run of 8+ equal characters stays one unit: a 4,301-digit number is not cut digit by digit)
RUN_OF_ONE = re.compile(r"(.)\1{7,}", re.S)
UNITS = [re.compile(r"[^\n]*\n|[^\n]+"), re.compile(r"\s+|\w+|(.)\1*", re.S), re.compile(r"(.)\1{7,}|.", re.S)]


def shrink(text: str, signature: str, timeout: float, budget: float) -> str:
    """The smallest text found (deleting chunks of lines, then of words, then of characters:
    ddmin) that still fails with ``signature``, within ``budget`` seconds."""
    deadline = time.monotonic() + budget
    best = text
    for unit in UNITS:
        units = [m.group(0) for m in unit.finditer(best)]
        chunk = max(1, len(units) // 2)
        while units and time.monotonic() < deadline:
            i, removed = 0, False
            while i < len(units) and time.monotonic() < deadline:
                candidate = units[:i] + units[i + chunk:]
                if run_one("".join(candidate), timeout)[1] == signature:
                    units, removed = candidate, True
                else:
                    i += chunk
            if not removed:
                if chunk == 1:
                    break
                chunk = max(1, chunk // 2)
        best = "".join(units)
    at = 0  # then each run of 8+ equal characters cut to the shortest that still fails (bisection)
    while (m := RUN_OF_ONE.search(best, at)) and time.monotonic() < deadline:
        lo, hi = 0, len(m.group(0))  # hi fails; find the least length that does
        while lo + 1 < hi and time.monotonic() < deadline:
            mid = (lo + hi) // 2
            if run_one(best[:m.start()] + m.group(1) * mid + best[m.end():], timeout)[1] == signature:
                hi = mid
            else:
                lo = mid
        best = best[:m.start()] + m.group(1) * hi + best[m.end():]
        at = m.start() + hi
    return best


RUN = re.compile(r"(.{1,4}?)\1{9,}", re.S)


def literal(text: str) -> str:
    """A Python expression for ``text``: string literals, a run of 40+ characters that repeats a unit
    of 1-4 characters written as ``'unit' * n``."""
    shown, at = [], 0
    for m in RUN.finditer(text):
        unit, count = m.group(1), len(m.group(0)) // len(m.group(1))
        if count * len(unit) < 40:
            continue
        if m.start() > at:
            shown.append(repr(text[at:m.start()]))
        shown.append(f"{unit!r} * {count}")
        at = m.start() + count * len(unit)
    if at < len(text):
        shown.append(repr(text[at:]))
    return " + ".join(shown) or "''"


# ---------------------------------------------------------------- a worker

def work(task: dict) -> dict:
    """Runs ``task["inputs"]`` inputs (or until ``task["deadline"]``); returns the tallies."""
    if task.get("memory_gb"):
        limit = int(task["memory_gb"] * 2 ** 30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    rnd = random.Random(f"{task['seed']}:{task['worker']}")
    scratch = tempfile.mkdtemp(prefix="promptlang-fuzz-")
    for path in (ROOT / "examples").glob("*.yaml"):
        shutil.copy(path, scratch)
    shutil.copytree(ROOT / "examples" / "wildcards", Path(scratch) / "wildcards")  # `use wildcards "./wildcards"`
    before = os.getcwd()
    tally = {"inputs": 0, "shrinking": 0.0, "ok": 0, "error": 0, "crash": 0, "hang": 0, "signatures": {},
             "slowest": {"ms": 0.0, "size": 0, "text": ""}, "by_generator": {n: 0 for n, _ in GENERATORS}}
    next_note = time.monotonic() + 30
    try:
        os.chdir(scratch)
        for i in range(task["inputs"]):
            if time.monotonic() >= task["deadline"]:
                break
            name, generate = GENERATORS[i % len(GENERATORS)]
            text = generate(rnd)
            t0 = time.perf_counter()
            outcome, signature, detail = run_one(text, task["timeout"])
            ms = (time.perf_counter() - t0) * 1000
            tally["inputs"] += 1
            tally["by_generator"][name] += 1
            tally[outcome] += 1
            if ms > tally["slowest"]["ms"] and outcome != "hang":
                tally["slowest"] = {"ms": ms, "size": len(text), "text": text}
            if signature is not None:
                entry = tally["signatures"].setdefault(signature, {"count": 0, "kind": outcome, "detail": detail,
                                                                   "reproducer": None, "shrinks": 0})
                entry["count"] += 1
                best = entry["reproducer"]
                if entry["shrinks"] < (1 if outcome == "hang" else 3) and (best is None or len(text) < len(best)):
                    entry["shrinks"] += 1  # a hang is shrunk once, with twice the budget: each try may take 2 s
                    s0 = time.monotonic()
                    small = shrink(text, signature, task["timeout"],
                                   task["shrink_seconds"] * (2 if outcome == "hang" else 1))
                    tally["shrinking"] += time.monotonic() - s0
                    if best is None or len(small) < len(best):
                        entry["reproducer"] = small
            if task["worker"] == 0 and task.get("progress") and time.monotonic() >= next_note:
                next_note += 30
                print(f"  worker 0: {tally['inputs']:,} inputs, {tally['crash']} crashes, {tally['hang']} hangs",
                      file=sys.stderr, flush=True)
    finally:
        os.chdir(before)
        shutil.rmtree(scratch, ignore_errors=True)
    return tally


def merge(tallies: list[dict]) -> dict:
    total = {"inputs": 0, "shrinking": 0.0, "ok": 0, "error": 0, "crash": 0, "hang": 0, "signatures": {},
             "slowest": {"ms": 0.0, "size": 0, "text": ""}, "by_generator": {n: 0 for n, _ in GENERATORS}}
    for t in tallies:
        for key in ("inputs", "shrinking", "ok", "error", "crash", "hang"):
            total[key] += t[key]
        for name, count in t["by_generator"].items():
            total["by_generator"][name] += count
        if t["slowest"]["ms"] > total["slowest"]["ms"]:
            total["slowest"] = t["slowest"]
        for sig, entry in t["signatures"].items():
            have = total["signatures"].setdefault(sig, dict(entry, count=0))
            have["count"] += entry["count"]
            if len(entry["reproducer"]) < len(have["reproducer"]):
                have["reproducer"], have["detail"] = entry["reproducer"], entry["detail"]
    return total


def run(inputs: int = 10_000, seconds: float | None = None, seed: int = 0, workers: int = 1, *,
        timeout: float = 2.0, memory_gb: float | None = None, shrink_seconds: float = 5.0,
        progress: bool = False) -> dict:
    """The fuzz run, in this process (``workers=1``) or in ``workers`` processes; the merged tallies
    plus ``seconds`` (wall time) and ``rate`` (inputs a second)."""
    started = time.monotonic()
    deadline = started + seconds if seconds else float("inf")
    tasks = [{"inputs": inputs // workers + (k < inputs % workers), "deadline": deadline, "seed": seed, "worker": k,
              "timeout": timeout, "memory_gb": memory_gb, "shrink_seconds": shrink_seconds, "progress": progress}
             for k in range(workers)]
    if workers == 1:
        tallies = [work(tasks[0])]
    else:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(workers) as pool:
            tallies = pool.map(work, tasks, chunksize=1)
    total = merge(tallies)
    total["seconds"] = time.monotonic() - started
    total["rate"] = total["inputs"] / total["seconds"] if total["seconds"] else 0.0
    fuzzing = total["seconds"] - total["shrinking"] / workers  # wall time less the workers' mean shrinking
    total["rate_fuzzing"] = total["inputs"] / fuzzing if fuzzing > 0 else total["rate"]
    return total


def report(total: dict, seed: int, workers: int) -> str:
    lines = [f"fuzz: {total['inputs']:,} inputs in {total['seconds']:.1f} s ({total['rate']:,.0f} inputs/s), "
             f"seed {seed}, {workers} worker{'s' * (workers > 1)}; {total['rate_fuzzing']:,.0f} inputs/s not "
             f"counting {total['shrinking']:.1f} s spent shrinking reproducers",
             "  generators: " + ", ".join(f"{n} {c:,}" for n, c in total["by_generator"].items()),
             f"  compiled and emitted with {len(NAMES)} targets: {total['ok']:,}; PromptError: {total['error']:,}; "
             f"crashes: {total['crash']:,}; hangs: {total['hang']:,}"]
    sigs = sorted(total["signatures"].items(), key=lambda kv: -kv[1]["count"])
    for kind in ("crash", "hang"):
        mine = [(s, e) for s, e in sigs if e["kind"] == kind]
        lines.append(f"  {kind} signatures: {len(mine)}")
        for sig, entry in mine:
            lines += [f"    {sig}: {entry['count']:,} input{'s' * (entry['count'] > 1)}",
                      f"      {entry['detail'].splitlines()[0] if entry['detail'] else ''}"[:200],
                      f"      reproducer ({len(entry['reproducer']):,} chars): {literal(entry['reproducer'])}"[:2000]]
    slow = total["slowest"]
    lines.append(f"  slowest input: {slow['ms']:,.1f} ms, {slow['size']:,} chars: {literal(slow['text'][:80])}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=10_000, help="inputs to run (default 10,000)")
    parser.add_argument("--seconds", type=float, help="stop at this time budget")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1, help="processes, each its own seed stream")
    parser.add_argument("--out", help="write the reproducers (and the slowest input) as JSON lines")
    parser.add_argument("--timeout", type=float, default=2.0, help="CPU seconds an input may take (default 2)")
    parser.add_argument("--memory-gb", type=float, default=4.0, help="address-space limit a worker (default 4)")
    parser.add_argument("--shrink-seconds", type=float, default=5.0, help="shrinking budget a reproducer")
    args = parser.parse_args(argv)
    os.environ.setdefault("PROMPTLANG_CACHE", tempfile.mkdtemp(prefix="promptlang-fuzz-cache-"))
    total = run(args.inputs, args.seconds, args.seed, args.workers, timeout=args.timeout,
                memory_gb=args.memory_gb, shrink_seconds=args.shrink_seconds, progress=True)
    print(report(total, args.seed, args.workers))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as out:
            for sig, entry in total["signatures"].items():
                out.write(json.dumps({"signature": sig, "kind": entry["kind"], "count": entry["count"],
                                      "detail": entry["detail"], "reproducer": entry["reproducer"]}) + "\n")
            slow = total["slowest"]
            out.write(json.dumps({"signature": "slowest", "kind": "slowest", "ms": round(slow["ms"], 1),
                                  "reproducer": slow["text"]}) + "\n")
    return 1 if total["crash"] or total["hang"] else 0


if __name__ == "__main__":
    sys.exit(main())
