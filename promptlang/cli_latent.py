"""`promptlang walk | sheet`: latent walks, bilinear grids and comparison sheets.

Everything the command line can get wrong (prompt names, sizes, --vary values, files
that already exist) is checked before anything renders, and every file is written
atomically, so an error leaves nothing behind.
"""
from __future__ import annotations

import sys
from pathlib import Path

from .cli_render import cache_dir, check_free, parse_size
from .errors import PromptError


def add_commands(command, catalogs_option) -> None:
    p = command("walk", "Walk latent space between two prompts (--from A --to B), or render a bilinear grid "
                        "between four (--grid A B C D).", cmd_walk)
    p.add_argument("file", metavar="FILE")
    p.add_argument("--from", dest="start", metavar="A", help="the prompt at frame 0")
    p.add_argument("--to", dest="end", metavar="B", help="the prompt at the last frame")
    p.add_argument("--frames", type=int, metavar="N", help="frames in a walk, endpoints included (default 8)")
    p.add_argument("--grid", nargs=4, metavar=("A", "B", "C", "D"),
                   help="a grid with A top-left, B top-right, C bottom-left, D bottom-right")
    p.add_argument("--size", metavar="K", help="with --grid: tiles per side (default 3); the image size is "
                                               "--image-size")
    p.add_argument("--out", "-o", metavar="DIR", default="walks", help="output folder (default: walks)")
    p.add_argument("--model", "-m", metavar="MODEL", help="model (default: the first prompt's `model`); "
                                                          "builtin:tiny is a test model that renders noise")
    p.add_argument("--steps", type=int, metavar="N")
    p.add_argument("--image-size", metavar="WxH", help="override the image size, e.g. 512x512")
    p.add_argument("--animation", choices=("gif", "webp"), default="gif",
                   help="format of a walk's animation (default: gif)")
    p.add_argument("--device", choices=("cuda", "cpu"), help="default: cuda when there is one")
    p.add_argument("--overwrite", action="store_true", help="replace files that already exist")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the embeddings cache")
    catalogs_option(p)

    p = command("sheet", "Render prompts across seeds, models or slot values into one labelled grid "
                         "(rows: prompts x --vary values; columns: models x seeds).", cmd_sheet)
    p.add_argument("file", metavar="FILE")
    p.add_argument("--prompts", metavar="A,B,…", help="the prompts (rows); default: every prompt in the file")
    p.add_argument("--seeds", metavar="S,S,…", help="seeds (columns); default: each prompt's own seed")
    p.add_argument("--models", metavar="M,M,…", help="models (columns, before seeds)")
    p.add_argument("--vary", metavar="SLOT=V,V,…",
                   help="rows for each value of a slot or setting, e.g. style=van_gogh,dali,picasso or steps=10,20")
    p.add_argument("--out", "-o", metavar="OUT.png", help="the sheet (default: FILE's name + -sheet.png); "
                                                          "tiles go to OUT-tiles/")
    p.add_argument("--model", "-m", metavar="MODEL", help="the model when --models is not given")
    p.add_argument("--steps", type=int, metavar="N")
    p.add_argument("--image-size", metavar="WxH", help="override the image size, e.g. 512x512")
    p.add_argument("--device", choices=("cuda", "cpu"), help="default: cuda when there is one")
    p.add_argument("--overwrite", action="store_true", help="replace files that already exist")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the embeddings cache")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    catalogs_option(p)


# --------------------------------------------------------------------------- helpers

def _list(text, what, convert=str):
    if text is None:
        return None
    items = [v.strip() for v in text.split(",") if v.strip()]
    try:
        return [convert(v) for v in items]
    except ValueError:
        raise PromptError(f"--{what} {text}: expected a comma-separated list of whole numbers") from None


# --------------------------------------------------------------------------- walk

def walk_plan(args, result):
    """Check the arguments and return ``(kind, prompts, count, files)``; nothing rendered or written."""
    from .latent import check_walkable
    from .render import effective

    if args.grid and (args.start or args.end):
        raise PromptError("give either --from A --to B (a walk) or --grid A B C D (a grid), not both")
    if not args.grid and not (args.start and args.end):
        raise PromptError("walk needs --from A --to B, or --grid A B C D",
                          hint="e.g. `promptlang walk FILE --from cat --to dog --frames 8`")
    width, height = parse_size(args.image_size, "--image-size")
    if args.grid:
        if args.frames is not None:
            raise PromptError("--frames is for a walk (--from/--to); a grid's size is --size K")
        try:
            count = int(args.size) if args.size is not None else 3
        except ValueError:
            raise PromptError(f"--size {args.size}: with --grid it is the number of tiles per side, such as 4",
                              hint="the image size is --image-size WxH") from None
        if count < 2:
            raise PromptError(f"--size {count}: a grid needs at least 2 tiles per side")
        names = list(args.grid)
    else:
        if args.size is not None:
            raise PromptError("--size is a grid's tiles per side (with --grid); the image size is --image-size WxH")
        count = 8 if args.frames is None else args.frames
        if count < 2:
            raise PromptError(f"--frames {count}: a walk needs at least 2 frames (the two endpoints)")
        names = [args.start, args.end]
    prompts = [result.prompt(n) for n in names]
    check_walkable(prompts)
    model = args.model or next((p.settings.model for p in prompts if p.settings.model), None)
    prompts = [effective(p, model=model, steps=args.steps, width=width, height=height, images=1) for p in prompts]
    out = Path(args.out)
    kind = "grid" if args.grid else "walk"
    files = [frame_file(out, kind, names, count, i) for i in range(count * count if args.grid else count)]
    if args.grid:
        files.append(out / f"grid-{'-'.join(names)}.png")
    else:
        stem = f"walk-{names[0]}-{names[1]}"
        files += [out / f"{stem}.{args.animation}", out / f"{stem}-sheet.png"]
    return kind, prompts, count, files


def frame_file(out: Path, kind: str, names, count: int, index: int) -> Path:
    """The PNG `promptlang walk` writes for frame ``index`` (row-major in a grid); ``count``
    is the number of frames of a walk, or the tiles per side of a grid."""
    if kind == "grid":
        row, col = divmod(index, count)
        return out / f"grid-{'-'.join(names)}-r{row:02d}-c{col:02d}.png"
    digits = max(3, len(str(count - 1)))
    return out / f"walk-{names[0]}-{names[1]}-{index:0{digits}d}.png"


def cmd_walk(args) -> int:
    from .cli_render import _compile, _note_test_model
    from .latent import grid_frames, save_frame, save_image, walk_frames
    from .models import load_pipeline
    from .render import default_device
    from .sheet import labelled_grid, save_sheet

    result = _compile(args)
    kind, prompts, count, files = walk_plan(args, result)
    check_free(files, args.overwrite)
    model = prompts[0].settings.model
    _note_test_model(model)
    pipe = load_pipeline(model, args.device or default_device())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tiles = files[:count * count] if kind == "grid" else files[:count]

    def save(frame):
        path = save_frame(frame, tiles[frame.index], source=result.file.source, source_path=result.file.path,
                          catalogs=result.scope.catalogs)
        where = f"t={frame.t:.3f}" if kind == "walk" else f"u={frame.u:.3f} v={frame.v:.3f}"
        print(f"{path}  ({where})")

    warnings: list = []
    if kind == "walk":
        frames = walk_frames(pipe, *prompts, count, cache_dir=cache_dir(args), on_frame=save, warnings=warnings)
    else:
        frames = grid_frames(pipe, *prompts, count, cache_dir=cache_dir(args), on_frame=save, warnings=warnings)
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    names = [p.name for p in prompts]
    record = {"format": 1, "kind": kind, "endpoints": names, "seeds": [p.settings.seed for p in prompts],
              "model": model, "source_path": result.file.path, "tiles": [f.name for f in tiles]}
    if kind == "walk":
        images = [f.image for f in frames]
        animation = files[count]
        extra = {"lossless": True} if animation.suffix == ".webp" else {}
        save_image(images[0], animation, save_all=True, append_images=images[1:], duration=150, loop=0, **extra)
        print(animation)
        per_row = min(count, 8)
        rows = [images[i:i + per_row] for i in range(0, count, per_row)]
        captions = []
        for i in range(0, count, per_row):
            captions.append([_walk_caption(f, names) for f in frames[i:i + per_row]])
        layout = labelled_grid(rows, captions=captions, title=f"{names[0]} -> {names[1]}, {count} frames")
        print(save_sheet(layout, files[count + 1], dict(record, t=[f.t for f in frames])))
    else:
        grid = [[f.image for f in frames[r * count:(r + 1) * count]] for r in range(count)]
        captions = [[_corner_caption(r, c, count, names) for c in range(count)] for r in range(count)]
        layout = labelled_grid(grid, row_labels=[f"v={r / (count - 1):.2f}" for r in range(count)],
                               col_labels=[f"u={c / (count - 1):.2f}" for c in range(count)], captions=captions,
                               title=f"{names[0]} (top left), {names[1]} (top right), {names[2]} (bottom left), "
                                     f"{names[3]} (bottom right)")
        print(save_sheet(layout, files[-1], record))
    return 0


def _walk_caption(frame, names) -> str:
    if frame.t == 0:
        return f"{names[0]}"
    if frame.t == 1:
        return f"{names[1]}"
    return f"t={frame.t:.2f}"


def _corner_caption(r, c, k, names) -> str:
    corners = {(0, 0): names[0], (0, k - 1): names[1], (k - 1, 0): names[2], (k - 1, k - 1): names[3]}
    return corners.get((r, c), "")


# --------------------------------------------------------------------------- sheet

def sheet_plan(args, result):
    """Check the arguments; return ``(plan, out)`` with every tile's prompt resolved. Nothing rendered."""
    from .sheet import parse_vary, plan

    if args.models and args.model:
        raise PromptError("give --models M1,M2 (a column per model) or --model M, not both")
    width, height = parse_size(args.image_size, "--image-size")
    out = Path(args.out) if args.out else Path(f"{Path(args.file).stem}-sheet.png")
    if out.suffix.lower() != ".png":
        raise PromptError(f"--out {out}: the sheet is a PNG; give a file name ending in .png")
    if not (out.parent if str(out.parent) else Path(".")).is_dir():
        raise PromptError(f"--out {out}: the folder {out.parent} does not exist")
    the_plan = plan(result, prompts=_list(args.prompts, "prompts"), seeds=_list(args.seeds, "seeds", int),
                    models=_list(args.models, "models"), vary=parse_vary(args.vary) if args.vary else None,
                    model=args.model, steps=args.steps, width=width, height=height, stem=out.stem)
    return the_plan, out


def cmd_sheet(args) -> int:
    from .cli_render import _compile, _note_test_model
    from .sheet import render_sheet, targets

    result = _compile(args)
    the_plan, out = sheet_plan(args, result)
    check_free(targets(the_plan, out), args.overwrite)
    for model in the_plan.models:
        _note_test_model(model)

    def done(tile):
        print(f"{tile.filename}  ({tile.row_label}; {tile.col_label})")

    layout = render_sheet(result, the_plan, out, device=args.device, cache_dir=cache_dir(args),
                          progress=not args.quiet, on_tile=done)
    print(f"{out}  ({layout.rows} rows x {layout.cols} columns of {layout.tile[0]}x{layout.tile[1]} tiles)")
    return 0


# --------------------------------------------------------------------------- show / reproduce a frame

def _where(record) -> str:
    if record["kind"] == "grid":
        return f"u={record['u']:.3f} v={record['v']:.3f}"
    return f"t={record['t']:.3f}"


def position_line(record, name: str | None = None) -> str:
    """Where a frame sits: ``frame 1 (t=0.500) of 3 frames, from `a` to `b``` or a grid's tile."""
    names = [e["name"] for e in record["endpoints"]]
    if record["kind"] == "grid":
        k = record["grid"]
        text = (f"tile row {record['row']}, column {record['col']} ({_where(record)}) of a {k}x{k} grid "
                f"with corners `{names[0]}` (top left), `{names[1]}` (top right), `{names[2]}` (bottom left), "
                f"`{names[3]}` (bottom right)")
    else:
        text = (f"frame {record['frame']} ({_where(record)}) of {record['frames']} frames, "
                f"from `{names[0]}` to `{names[1]}`")
    return text + (f"; this frame is exactly `{name}`'s render" if name else "")


def describe_frame(record) -> list[str]:
    """``promptlang show`` for a walk frame or grid tile: what it mixes and how to render it again."""
    from .latent import _shares, endpoints
    from .targets import compel

    prompts = endpoints(record)
    u, v = (record["u"], record["v"]) if record["kind"] == "grid" else (record["t"], 0.0)
    shares = _shares(list(range(len(prompts))), u, v)  # per endpoint, even when two share a name
    corners = record.get("corners") or []
    label = max(len(p.name) for p in prompts)
    where = max((len(str(c)) for c in corners), default=0) + 2
    digits = max(len(str(p.settings.seed)) for p in prompts)
    lines = [f"{record['kind']}:{' ' * (10 - len(record['kind']))}{position_line(record)}"
             + (f"  (from {record['source_path']})" if record.get("source_path") else "")]
    for i, prompt in enumerate(prompts):
        corner = f"({corners[i]})" if i < len(corners) else ""
        lines.append(f"{'prompts:' if i == 0 else '':<11}{prompt.name:<{label}}  {corner:<{where}} "
                     f"seed {prompt.settings.seed:<{digits}}  share {shares[i] * 100:.4g}%")
    p = prompts[0].settings
    lines.append(f"model:     {record['model']}" + ("  (random-weight test model)" if record.get("test_model") else ""))
    lines.append(f"settings:  size: {p.width}x{p.height}   steps: {p.steps}   guidance: {p.guidance:g}   "
                 f"scheduler: {p.scheduler or 'model default'}   (`{prompts[0].name}`'s, for every frame)")
    lines.append(f"mixing:    embeddings: {record.get('embeddings', 'lerp')}; noise: {record.get('noise', 'slerp')}")
    for i, prompt in enumerate(prompts):
        indent = " " * (11 + label + 2)
        text = compel.emit(prompt).replace("\n", "\n" + indent)
        lines.append(f"{'compel:' if i == 0 else '':<11}{prompt.name + ':':<{label + 2}}{text}")
    for cat in record.get("catalogs") or []:
        lines.append(f"catalog:   {cat['name']} {cat['version']}  sha256 {str(cat['sha256'])[:16]}…")
    versions = ", ".join(f"{k} {v}" for k, v in (record.get("versions") or {}).items() if v)
    lines.append(f"versions:  {versions}")
    if record.get("source"):
        lines.append("source:\n  " + record["source"].rstrip("\n").replace("\n", "\n  "))
    return lines


def cmd_reproduce_frame(args) -> int:
    """``promptlang reproduce`` for a walk frame or grid tile that is not exactly an endpoint."""
    from .cli_render import _note_test_model
    from .latent import read_record, reproduce, save_record
    from .models import is_test_model, load_pipeline
    from .render import default_device

    record = read_record(args.image)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise PromptError(f"--out {out} is a file, not a folder")
    count = record["grid"] if record["kind"] == "grid" else record["frames"]
    target = frame_file(out, record["kind"], [e["name"] for e in record["endpoints"]], count, record["frame"])
    check_free([target], args.overwrite)
    model = args.model or record["model"]
    _note_test_model(model)
    pipe = load_pipeline(model, args.device or default_device())
    image = reproduce(args.image, pipe=pipe)
    out.mkdir(parents=True, exist_ok=True)  # only once there is an image: a failed run leaves no folder
    save_record(image, dict(record, model=model, test_model=is_test_model(pipe)), target)
    print(f"{target}  ({record['kind']} frame {record['frame']}, {_where(record)}, reproduced from {args.image})")
    return 0
