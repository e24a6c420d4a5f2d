"""`catalog import` speed: a generated AUTOMATIC1111 styles.csv of 800 styles and a Fooocus
sdxl_styles.json of 300, each shaped like the real files (categories in the names,
`{prompt}`, weights, negatives); then the first compile of a prompt that uses the
imported catalog, cold (validated) and cached (promptlang's catalog cache).

    python bench/import_speed.py
"""
from __future__ import annotations

import csv
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CATEGORIES = ["Photo", "Artist", "Movement", "Game", "sai", "mre", "Fooocus"]


def styles_csv(n: int) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "prompt", "negative_prompt"])
    for i in range(n):
        cat = CATEGORIES[i % len(CATEGORIES)]
        prompt = (f"(in the style number {i}, moody:1.2)" if i % 3 == 0
                  else f"{{prompt}}, (style number {i}:1.2), detailed, [soft] light, film grain" if i % 3 == 1
                  else f"a cinematic still of {{prompt}}, style {i}, moody, sharp focus, 35mm")
        writer.writerow([f"{cat}: Style {i}", prompt, f"blurry, (lowres:1.3), cartoon {i}"])
    return "\ufeff" + out.getvalue()


def fooocus_json(n: int) -> str:
    return json.dumps([{"name": f"{CATEGORIES[i % len(CATEGORIES)].lower()}-style {i}",
                        "prompt": f"style {i} of {{prompt}} . vibrant, highly detailed, ((masterpiece))",
                        "negative_prompt": "ugly, deformed, noisy, blurry"} for i in range(n)], indent=4)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["PROMPTLANG_CACHE"] = str(tmp / "cache")
        from promptlang import catalog, interop
        from promptlang.compiler import compile_file

        (tmp / "styles.csv").write_text(styles_csv(800), encoding="utf-8")
        (tmp / "sdxl_styles.json").write_text(fooocus_json(300), encoding="utf-8")
        for name in ("styles.csv", "sdxl_styles.json"):
            best = float("inf")
            for _ in range(3):
                start = time.perf_counter()
                data, warnings, kind = interop.import_path(tmp / name)
                yaml_bytes = interop.to_yaml(data)
                best = min(best, time.perf_counter() - start)
            entries = sum(len(data.get(s, {})) for s in catalog.SECTIONS)
            out = tmp / f"{data['name']}.yaml"
            out.write_bytes(yaml_bytes)
            print(f"import {name:<17} {entries:4d} entries, {len(warnings):4d} warnings, "
                  f"{len(yaml_bytes) / 1e3:6.1f} KB  {best * 1000:7.1f} ms  ({kind})")

        (tmp / "a.prompt").write_text('use "styles.yaml"\nuse "sdxl_styles.yaml"\nprompt a {\n'
                                      '    subject "a cat"\n    format artist_style_1\n'
                                      '    style photo_style_0\n}\n', encoding="utf-8")
        catalog._load_cached.cache_clear()
        os.environ["PROMPTLANG_CACHE"] = "off"
        start = time.perf_counter()
        compile_file(tmp / "a.prompt")
        cold = time.perf_counter() - start
        os.environ["PROMPTLANG_CACHE"] = str(tmp / "cache")
        catalog._load_cached.cache_clear()
        compile_file(tmp / "a.prompt")  # fills the cache
        catalog._load_cached.cache_clear()  # a new process: only the on-disk cache is left
        start = time.perf_counter()
        compile_file(tmp / "a.prompt")
        cached = time.perf_counter() - start
        print(f"compile using both imported catalogs: cold {cold * 1000:6.1f} ms, cached {cached * 1000:6.1f} ms")


if __name__ == "__main__":
    main()
