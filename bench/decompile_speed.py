"""How fast `promptlang decompile` reads other tools' prompts, against Compel's own parser.

    .venv/bin/python bench/decompile_speed.py [--repeats 5] [--compel-budget 60]

- Decompiles every prompt of the corpus (tests/fixtures/corpus/*.txt, 111 prompts in
  A1111, ComfyUI, Compel and Midjourney syntax) to `.prompt` text, with catalog matching
  against `core` and without, `--repeats` times; prints the median time per prompt.
- Reads the Compel prompts of the corpus with promptlang's Compel reader and with
  Compel's own string parser (`Compel.parse_prompt_string`, what InvokeAI and diffusers
  users pay per prompt), each prompt once per repeat, interleaved; prints both medians and
  the ratio.
- Hostile text (the best of three runs each): 1,000 / 10,000 / 64,000 characters of `(`, `[`, `[a:` and `cat+ ` through
  the readers; the time must grow about linearly (exit 1 when the 64k case takes more than
  4x what 10k extrapolates to linearly, or over 3 s, or any input raises something other
  than a PromptError).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from promptlang.errors import PromptError  # noqa: E402
from promptlang.interop.decompile import decompile  # noqa: E402


def corpus():
    out = []
    for path in sorted((ROOT / "tests" / "fixtures" / "corpus").glob("*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            if line.startswith("Negative prompt:"):
                out[-1] = (out[-1][0], out[-1][1] + "\n" + line)
            else:
                out.append((path.stem, line))
    return out


def per_prompt(cases, catalogs, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for tool, text in cases:
            decompile(text, tool, catalogs=catalogs)
        times.append((time.perf_counter() - start) / len(cases))
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--compel-budget", type=float, default=60.0)
    args = parser.parse_args()
    from promptlang.resolve import load_scope
    from promptlang.syntax import parse

    cases = corpus()
    core = load_scope(parse("use core\n", "bench"), ()).catalogs
    plain = per_prompt(cases, (), args.repeats)
    matched = per_prompt(cases, core, args.repeats)
    print(f"corpus: {len(cases)} prompts")
    print(f"decompile, no catalog matching : {plain * 1e3:8.3f} ms a prompt")
    print(f"decompile, matching `core`     : {matched * 1e3:8.3f} ms a prompt")

    from promptlang.interop.decompile import compel as reader
    from promptlang.interop.decompile.model import Decompiled

    compel_cases = [text.split("\n")[0] for tool, text in cases if tool == "compel"]
    ours, theirs = [], []
    try:
        from compel.prompt_parser import PromptParser
        compel_parser = PromptParser()
    except Exception as exc:  # noqa: BLE001 (the comparison is optional)
        print(f"Compel's parser not available ({exc}); comparison left out")
        compel_parser = None
    deadline = time.perf_counter() + args.compel_budget
    for _ in range(args.repeats):
        for text in compel_cases:
            start = time.perf_counter()
            reader.side(text, Decompiled("Compel"))
            ours.append(time.perf_counter() - start)
            if compel_parser is not None and time.perf_counter() < deadline:
                start = time.perf_counter()
                compel_parser.parse_conjunction(text)
                theirs.append(time.perf_counter() - start)
    print(f"Compel syntax, promptlang's reader: {statistics.median(ours) * 1e3:8.3f} ms a prompt "
          f"({len(ours)} reads)")
    if theirs:
        print(f"Compel syntax, Compel's own parser: {statistics.median(theirs) * 1e3:8.3f} ms a prompt "
              f"({len(theirs)} parses); ratio Compel / promptlang: "
              f"{statistics.median(theirs) / statistics.median(ours):.0f}x")

    ok = True
    for name, unit, tool in (("(", "(", "a1111"), ("[", "[", "a1111"), ("[a:", "[a:", "a1111"),
                             ("cat+ ", "cat+ ", "compel"), ("(x)1.1 ", "(x)1.1 ", "compel"),
                             ("a::2 ", "a::2 ", "midjourney"), ("BREAK ", " BREAK", "a1111")):
        row = []
        for size in (1_000, 10_000, 64_000):
            text = (unit * (size // len(unit) + 1))[:size] + " cat"
            best = float("inf")
            for _ in range(3):  # the best of three: a shared machine's other load adds noise, never speed
                start = time.perf_counter()
                try:
                    decompile(text, tool)
                except PromptError:
                    pass
                except Exception as exc:  # noqa: BLE001
                    print(f"FAIL {name!r} x{size}: {type(exc).__name__}: {exc}")
                    ok = False
                best = min(best, time.perf_counter() - start)
            row.append(best)
        linear = row[2] <= 4 * 6.4 * row[1] + 0.05 and row[2] < 3.0  # within 4x of linear from 10k
        ok &= linear
        print(f"hostile {name!r:9} ({tool:10}): 1k {row[0] * 1e3:8.2f} ms, 10k {row[1] * 1e3:8.2f} ms, "
              f"64k {row[2] * 1e3:8.2f} ms  {'ok' if linear else 'FAIL (not linear)'}")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
