"""Prompt adherence of builtin:shapes: how often a render shows what its prompt says.

For N seeded scenes of the shapes world (promptlang.shapes.world), the scene's caption
("a red circle on a blue background, pixel art") is rendered with builtin:shapes through
promptlang.render (Compel encoding, the shipped Euler scheduler) at 32x32, and
promptlang.shapes.check reads the picture back: the shape's colour, the background
colour, the shape and the format. It prints the share that matches, per attribute,
next to two references measured in the same run: chance (a uniform guess) and the
checker on the world's own pictures of the same scenes (its ceiling).

    python bench/shapes_adherence.py                # 300 renders, 20 steps
    python bench/shapes_adherence.py -n 100 --steps 10 --guidance 5
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", type=int, default=300, help="renders (default 300)")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--guidance", type=float, default=7.5)
    p.add_argument("--seed", type=int, default=10_000, help="first scene seed (default 10000: not a training seed)")
    p.add_argument("--batch", type=int, default=10, help="images per pipeline call")
    p.add_argument("--model", default="builtin:shapes", help="a retrained folder, to compare (default builtin:shapes)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = p.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    import promptlang
    from promptlang.diffusion.models import load_pipeline
    from promptlang.shapes import check, world

    scenes = [world.scene(args.seed + i) for i in range(args.n)]
    source = "\n".join(f'prompt s{i} {{\n  subject "{world.caption(sc)}"\n  seed {args.seed + i}\n}}'
                       for i, sc in enumerate(scenes))
    prompts = promptlang.compile(source)
    pipe = load_pipeline(args.model, "cpu")
    start = time.perf_counter()
    done = promptlang.render(prompts, pipe=pipe, model=args.model, steps=args.steps,
                             guidance=args.guidance, batch_size=args.batch)
    seconds = time.perf_counter() - start
    keys = ("colour", "shape", "background", "format")
    hits, ceiling, per_format = Counter(), Counter(), {}
    for i, (sc, r) in enumerate(zip(scenes, done)):
        m = check.matches(check.read(r.image), sc)
        hits.update(k for k in keys if m[k])
        per_format.setdefault(sc.format, Counter()).update(k for k in keys if m[k])
        per_format[sc.format]["n"] += 1
        own = check.matches(check.read(world.draw(sc, args.seed + i)), sc)
        ceiling.update(k for k in keys if own[k])
    chance = {"colour": 1 / len(world.COLOURS), "shape": 1 / len(world.SHAPES),
              "background": 1 / (len(world.COLOURS) - 1), "format": 1 / len(world.FORMATS)}
    n = args.n
    figures = {k: {"renders": hits[k] / n, "world": ceiling[k] / n, "chance": chance[k],
                   "x_chance": (hits[k] / n) / chance[k]} for k in keys}
    if args.json:
        print(json.dumps({"n": n, "steps": args.steps, "guidance": args.guidance, "seconds": seconds,
                          "figures": figures}, indent=1))
        return 0
    print(f"{args.model}, {n} renders at 32x32, {args.steps} steps, guidance {args.guidance}: "
          f"{seconds:.1f} s ({seconds / n * 1000:.0f} ms per image, 1 CPU thread)")
    print(f"{'':12}{'renders':>9}{'world':>8}{'chance':>8}{'x chance':>10}")
    for k in keys:
        f = figures[k]
        print(f"{k:12}{f['renders']:9.1%}{f['world']:8.1%}{f['chance']:8.1%}{f['x_chance']:10.1f}")
    print("per format (renders):  " + "  ".join(
        f"{fmt} " + "/".join(f"{c[k] / c['n']:.0%}" for k in keys) for fmt, c in sorted(per_format.items()))
          + "   (colour/shape/background/format)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
