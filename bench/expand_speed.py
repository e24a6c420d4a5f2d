"""Expansion speed: combinations per second from one prompt with choices to IR prompts and to
`plain` text, against dynamicprompts' CombinatorialPromptGenerator on the same template, in
the same run; and the peak memory of listing a 10^8-combination prompt lazily.

    python bench/expand_speed.py [--combinations 100000] [--repeats 3] [--lazy 200000]

The template has five choices of ten options each (10^5 combinations), as a dynamicprompts
user writes it; promptlang gets the .prompt that `decompile --from dynamicprompts` writes
for it, so both expand the same thing (the two lists are compared, word for word). Times
are the best of --repeats runs; the ratio is promptlang's rate over dynamicprompts'.
Goal: >= 10x per prompt to plain text, and flat memory while listing lazily.
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
import tracemalloc
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

WORDS = [
    ["red", "blue", "green", "golden", "pale", "dark", "bright", "rusty", "silver", "pink"],
    ["cat", "dog", "fox", "owl", "horse", "whale", "robot", "dragon", "knight", "wizard"],
    ["a forest", "a city", "the desert", "the sea", "a castle", "space", "a garden", "the snow", "a cave", "a market"],
    ["oil painting", "watercolor", "photo", "pixel art", "ink sketch", "3d render", "pastel", "mosaic", "collage",
     "woodcut"],
    ["at dawn", "at noon", "at dusk", "at night", "in fog", "in rain", "in storm", "in spring", "in autumn",
     "in winter"],
]


def template(choices: int, options: int) -> str:
    parts = ["{" + "|".join(WORDS[i % len(WORDS)][:options]) + "}" for i in range(choices)]
    return f"a {parts[0]} {parts[1]} in {parts[2]}, {parts[3]}, {', '.join(parts[4:])}"


def best(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--lazy", type=int, default=200_000, help="prompts listed of the 10^8 (memory check)")
    args = ap.parse_args()

    from dynamicprompts.generators import CombinatorialPromptGenerator

    from promptlang.expansion import Variation
    from promptlang.compiler import stream_file
    from promptlang.interop.dynamicprompts import decompile
    from promptlang.targets import plain

    text = template(5, 10)
    tmp = Path(tempfile.mkdtemp(prefix="expand-bench-"))
    os.chdir(tmp)
    Path("t.prompt").write_text(decompile(text, name="t"))
    variation = Variation(max=10**9)

    def dynamic():
        return CombinatorialPromptGenerator().generate(text, max_prompts=10**9)

    def to_ir():
        total, prompts, _ = stream_file("t.prompt", variation=variation)
        n = 0
        for _ in prompts:
            n += 1
        return n

    def to_plain():  # what `promptlang expand --target plain` writes
        total, texts, _ = stream_file("t.prompt", variation=variation, plain=True)
        return [text for _, text in texts]

    def to_plain_via_ir():  # every prompt built as IR, then emitted
        total, prompts, _ = stream_file("t.prompt", variation=variation)
        return [plain.emit(p) for p in prompts]

    t_dp, dp_out = best(dynamic, args.repeats)
    t_ir, n_ir = best(to_ir, args.repeats)
    t_plain, pl_out = best(to_plain, args.repeats)
    t_via, via_out = best(to_plain_via_ir, args.repeats)
    n = len(dp_out)
    same = [" ".join(s.split()) for s in dp_out] == pl_out == via_out
    print(f"template: {text[:70]}…  ({n:,} combinations; the same list from both: {same})")
    print(f"dynamicprompts {getattr(sys.modules.get('dynamicprompts'), '__version__', '')} combinatorial: "
          f"{t_dp:.2f} s  = {n / t_dp:>10,.0f} prompts/s")
    print(f"promptlang -> IR:                  {t_ir:.2f} s  = {n_ir / t_ir:>10,.0f} prompts/s   "
          f"ratio {t_dp / t_ir * n_ir / n:.1f}x")
    print(f"promptlang -> plain text:          {t_plain:.2f} s  = {n / t_plain:>10,.0f} prompts/s   "
          f"ratio {t_dp / t_plain:.1f}x   (expand --target plain)")
    print(f"promptlang -> IR -> plain.emit:    {t_via:.2f} s  = {n / t_via:>10,.0f} prompts/s   "
          f"ratio {t_dp / t_via:.1f}x")

    # 10^8 combinations: counted at once, then listed lazily; memory must stay flat
    Path("big.prompt").write_text(decompile(template(8, 10), name="big"))
    start = time.perf_counter()
    total, prompts, _ = stream_file("big.prompt", variation=variation)
    counted = time.perf_counter() - start
    tracemalloc.start()
    marks = []
    done = 0
    for step in (1_000, args.lazy // 4, args.lazy // 2, args.lazy):
        for _ in islice(prompts, step - done):
            pass
        done = step
        marks.append((step, tracemalloc.get_traced_memory()[1]))
    tracemalloc.stop()
    print(f"10^8 template: counted {total:,} combinations in {counted * 1000:.0f} ms (compile included)")
    print("peak traced memory while listing lazily: "
          + ", ".join(f"{step:,} prompts {peak / 1e6:.2f} MB" for step, peak in marks))
    flat = marks[-1][1] < marks[0][1] * 1.5 + 1e6
    ok = same and t_dp / t_plain >= 10 and flat
    print(f"goal >= 10x to plain text and flat memory: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
