"""Catalog loading time against catalog size: cold (validated) and cached (promptlang's
JSON cache), for a ~200 KB and a ~2 MB generated catalog. Linear loading shows as a
ratio near the size ratio (about 9); the quadratic validator of issue 9 showed ~45.
Then the time to first compile of a `.prompt` that uses a 10,000-entry catalog, as a
user sees it (`python -m promptlang compile`, a fresh process): cold (cache off) and
cached, beside the same compile with only the bundled `core` catalog.

    python bench/catalog_speed.py
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def catalog_text(entries: int) -> str:
    lines = ["name: big", "version: 1.0.0", "style:"]
    for i in range(entries):
        lines.append(f'  s{i}:\n    text: "in the style number {i}, with some words to make it longer"\n'
                     "    tags: [a, b]")
    return "\n".join(lines) + "\n"


def timed(load, path) -> float:
    best = float("inf")
    for _ in range(3):
        load.cache_clear()
        start = time.perf_counter()
        load(str(path), path.stat().st_size, path.stat().st_mtime_ns, path.name)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PROMPTLANG_CACHE"] = str(Path(tmp) / "cache")
        from promptlang import cache, catalog

        rows = []
        for entries in (2_200, 19_500):
            path = Path(tmp) / f"c{entries}.yaml"
            path.write_text(catalog_text(entries), encoding="utf-8")
            os.environ["PROMPTLANG_CACHE"] = "off"
            cold = timed(catalog._load_cached, path)
            os.environ["PROMPTLANG_CACHE"] = str(Path(tmp) / "cache")
            catalog._load_cached.cache_clear()
            catalog.load(path)  # fills the cache
            cached = timed(catalog._load_cached, path)
            rows.append((path.stat().st_size, cold, cached))
            print(f"{path.stat().st_size / 1e6:5.2f} MB  cold {cold * 1000:7.1f} ms  cached {cached * 1000:6.1f} ms")
        (s0, c0, k0), (s1, c1, k1) = rows
        print(f"size x{s1 / s0:.1f}: cold x{c1 / c0:.1f}, cached x{k1 / k0:.1f}")
        assert cache.folder() is not None
        first_compile(Path(tmp))


def first_compile(tmp: Path) -> None:
    import statistics
    import subprocess

    (tmp / "big.yaml").write_text(catalog_text(10_000), encoding="utf-8")
    (tmp / "big.prompt").write_text('use "./big.yaml"\nprompt p {\n    subject "a harbor"\n    style s9999\n}\n')
    (tmp / "core.prompt").write_text('use core\nprompt p {\n    subject "a harbor"\n    style van_gogh\n}\n')
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)

    def wall(prompt: str, cache_setting: str) -> float:
        runs = []
        for _ in range(5):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "promptlang", "compile", prompt], cwd=tmp, check=True,
                           env=dict(env, PROMPTLANG_CACHE=cache_setting), stdout=subprocess.DEVNULL)
            runs.append(time.perf_counter() - start)
        return statistics.median(runs) * 1000

    cached_dir = str(tmp / "cache-first")
    wall("big.prompt", cached_dir)  # fills the cache (and writes .pyc files)
    print("first compile, median of 5 fresh processes:")
    print(f"  10,000-entry catalog  cold (PROMPTLANG_CACHE=off) {wall('big.prompt', 'off'):7.1f} ms"
          f"  cached {wall('big.prompt', cached_dir):7.1f} ms")
    print(f"  bundled core only     cold (PROMPTLANG_CACHE=off) {wall('core.prompt', 'off'):7.1f} ms"
          f"  cached {wall('core.prompt', cached_dir):7.1f} ms")


if __name__ == "__main__":
    main()
