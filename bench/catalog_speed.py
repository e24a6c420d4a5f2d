"""Catalog loading time against catalog size: cold (validated) and cached (promptlang's
JSON cache), for a ~200 KB and a ~2 MB generated catalog. Linear loading shows as a
ratio near the size ratio (about 9); the quadratic validator of issue 9 showed ~45.

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


if __name__ == "__main__":
    main()
