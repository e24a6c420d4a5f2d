"""The show job: what a promptlang PNG carries, as lines for a person or as JSON.

Three kinds of PNG: a render (also a walk's endpoint frames and a sheet's tiles, which
say where they sit), a walk frame or grid tile between the endpoints (a
``promptlang-walk`` record only), and a sheet, contact sheet or grid image (a
``promptlang-sheet`` record). Every line comes from the PNG and is made printable.
"""
from __future__ import annotations

from pathlib import Path

from .. import ir
from .common import printable


def record(image) -> dict:
    """The PNG's record, as ``show --json`` prints it: its render, else its walk frame,
    else its sheet; a render that is also a walk's endpoint or a sheet's tile carries
    that record too, under ``walk`` or ``sheet``."""
    from ..artifacts import records

    found = records.read(image)
    chunks = [(records.RENDER, found.render), (records.WALK, found.walk), (records.SHEET, found.sheet)]
    main = None
    for chunk, value in chunks:
        if chunk in found.errors:
            raise found.errors[chunk]
        main = main or value
    if main is found.render:
        extra = {"walk": found.walk, "sheet": found.sheet}
        main = dict(main, **{k: v for k, v in extra.items() if v is not None})
    return main


def lines(image) -> list[str]:
    """``promptlang show``: what the PNG is and everything needed to make it again."""
    from ..artifacts import records

    found = records.read(image)
    if found.render is not None or records.RENDER in found.errors:
        out = _render_lines(found)
    elif found.walk is not None or records.WALK in found.errors:
        out = describe_frame(found.need(records.WALK), found.endpoints)
    else:
        out = describe_sheet(image, found.need(records.SHEET))
    return [printable(line) for line in out]


def _render_lines(found) -> list[str]:
    from ..artifacts import records
    from ..targets import compel

    info = found.need(records.RENDER)
    prompt = found.prompt
    s = prompt.settings
    out = [f"prompt:    {info['prompt']}" + (f"  (from {info['source_path']})" if info.get("source_path") else ""),
           f"model:     {info['model']}" + ("  (random-weight test model)" if info.get("test_model") else ""),
           f"seed:      {info['seed']}   size: {s.width}x{s.height}   steps: {s.steps}   guidance: {s.guidance:g}"
           f"   scheduler: {s.scheduler or 'model default'}"]
    if found.walk is not None:  # a walk's endpoint frame, or a grid's corner
        out.append(f"{found.walk['kind']}:{' ' * (10 - len(found.walk['kind']))}"
                   f"{position_line(found.walk, info['prompt'])}")
    elif records.WALK in found.errors:
        out.append(f"walk:      {found.errors[records.WALK].message}")
    if found.sheet is not None and "row" in found.sheet:  # a tile of `promptlang sheet`
        tile = found.sheet
        out.append(f"sheet:     row {tile['row']} ({tile.get('row_label')}), column {tile['col']} "
                   f"({tile.get('col_label')}) of {tile.get('sheet')}")
    elif records.SHEET in found.errors:
        out.append(f"sheet:     {found.errors[records.SHEET].message}")
    if prompt.origin:  # an expanded prompt: which values its choices got
        o = prompt.origin
        drawn = f"random, seed {o.seed}" if o.mode == "random" else o.mode
        out.append(f"expanded:  prompt {o.prompt} #{o.index} ({drawn})")
        for i, (choice, value) in enumerate(o.choices):
            out.append(f"{'choices:' if i == 0 else '':<11}{choice} = {value!r}")
    out.append("compel:    " + compel.emit(prompt).replace("\n", "\n           "))
    if len(prompt.segments) > 1:  # the compel line above is only the longest segment
        for i, (segment, start) in enumerate(zip(prompt.segments, ir.fractions(prompt))):
            parts = ir.texts(segment.positive)
            blend = f" (blend of {len(parts)} parts)" if isinstance(segment.positive, ir.Blend) else ""
            shown = ir.join_text(ir.heaviest(segment.positive).fragments) if blend else ir.join_text(parts[0])
            turn = f" (every {segment.every} steps, turn {segment.phase + 1})" if segment.every > 1 else ""
            when = f"after step {segment.step}" if segment.step is not None else f"from {start:.0%} of the steps"
            out.append(f"{'stages:' if i == 0 else '':<11}{when}: {shown}{blend}{turn}")
    for cat in info.get("catalogs", []):
        out.append(f"catalog:   {cat['name']} {cat['version']}  sha256 {cat['sha256'][:16]}…")
    for a in prompt.adapters:
        weight = f" weight {a.weight:g}" if a.kind == "lora" else ""
        sha = f"sha256 {a.sha256[:16]}…" if a.sha256 else "sha256 not recorded"
        out.append(f"{a.kind + ':':<11}{a.name}{weight}  {sha}  {a.file}")
    versions = ", ".join(f"{k} {v}" for k, v in info.get("versions", {}).items() if v)
    out.append(f"versions:  {versions}")
    if found.parameters:
        out.append("parameters (AUTOMATIC1111):\n  " + found.parameters.replace("\n", "\n  "))
    if info.get("source"):
        out.append("source:\n  " + info["source"].rstrip("\n").replace("\n", "\n  "))
    return out


def _where(rec) -> str:
    if rec["kind"] == "grid":
        return f"u={rec['u']:.3f} v={rec['v']:.3f}"
    return f"t={rec['t']:.3f}"


def position_line(rec, name: str | None = None) -> str:
    """Where a frame sits: ``frame 1 (t=0.500) of 3 frames, from `a` to `b``` or a grid's tile."""
    names = [e["name"] for e in rec["endpoints"]]
    if rec["kind"] == "grid":
        k = rec["grid"]
        text = (f"tile row {rec['row']}, column {rec['col']} ({_where(rec)}) of a {k}x{k} grid "
                f"with corners `{names[0]}` (top left), `{names[1]}` (top right), `{names[2]}` (bottom left), "
                f"`{names[3]}` (bottom right)")
    else:
        text = f"frame {rec['frame']} ({_where(rec)}) of {rec['frames']} frames, from `{names[0]}` to `{names[1]}`"
    return text + (f"; this frame is exactly `{name}`'s render" if name else "")


def describe_frame(rec, prompts) -> list[str]:
    """A walk frame or grid tile: what it mixes and how to render it again."""
    from ..diffusion.interpolate import shares
    from ..targets import compel

    u, v = (rec["u"], rec["v"]) if rec["kind"] == "grid" else (rec["t"], 0.0)
    share = shares(list(range(len(prompts))), u, v)  # per endpoint, even when two share a name
    corners = rec.get("corners") or []
    label = max(len(p.name) for p in prompts)
    where = max((len(str(c)) for c in corners), default=0) + 2
    digits = max(len(str(p.settings.seed)) for p in prompts)
    out = [f"{rec['kind']}:{' ' * (10 - len(rec['kind']))}{position_line(rec)}"
           + (f"  (from {rec['source_path']})" if rec.get("source_path") else "")]
    for i, prompt in enumerate(prompts):
        corner = f"({corners[i]})" if i < len(corners) else ""
        out.append(f"{'prompts:' if i == 0 else '':<11}{prompt.name:<{label}}  {corner:<{where}} "
                   f"seed {prompt.settings.seed:<{digits}}  share {share[i] * 100:.4g}%")
    s = prompts[0].settings
    out.append(f"model:     {rec['model']}" + ("  (random-weight test model)" if rec.get("test_model") else ""))
    out.append(f"settings:  size: {s.width}x{s.height}   steps: {s.steps}   guidance: {s.guidance:g}   "
               f"scheduler: {s.scheduler or 'model default'}   (`{prompts[0].name}`'s, for every frame)")
    out.append(f"mixing:    embeddings: {rec.get('embeddings', 'lerp')}; noise: {rec.get('noise', 'slerp')}")
    for i, prompt in enumerate(prompts):
        indent = " " * (11 + label + 2)
        text = compel.emit(prompt).replace("\n", "\n" + indent)
        out.append(f"{'compel:' if i == 0 else '':<11}{prompt.name + ':':<{label + 2}}{text}")
    for cat in rec.get("catalogs") or []:
        out.append(f"catalog:   {cat['name']} {cat['version']}  sha256 {str(cat['sha256'])[:16]}…")
    versions = ", ".join(f"{k} {v}" for k, v in (rec.get("versions") or {}).items() if v)
    out.append(f"versions:  {versions}")
    if rec.get("source"):
        out.append("source:\n  " + rec["source"].rstrip("\n").replace("\n", "\n  "))
    return out


def sheet_what(rec) -> str:
    names = rec.get("endpoints") or []
    if rec.get("kind") == "walk":
        return f"the contact sheet of a walk from `{names[0]}` to `{names[1]}`"
    if rec.get("kind") == "grid":
        return f"the labelled image of a grid between `{'`, `'.join(names)}`"
    return "a sheet"


def sheet_tiles(path, rec) -> list[str]:
    """The tile files a sheet names, as paths next to it."""
    folder = Path(path).parent
    return [str(folder / (t["file"] if isinstance(t, dict) else t)) for t in rec.get("tiles") or []]


def describe_sheet(path, rec) -> list[str]:
    lay = rec["layout"]
    rows, cols = lay["rows"], lay["cols"]
    out = [f"sheet:     {sheet_what(rec)}: {rows} row{'s' * (rows != 1)} x {cols} column{'s' * (cols != 1)} of "
           f"{lay['tile'][0]}x{lay['tile'][1]} tiles" + (f"  (from {rec['source_path']})" if rec.get("source_path")
                                                        else "")]
    if rec.get("row_labels"):
        out.append("rows:      " + " | ".join(map(str, rec["row_labels"])))
    if rec.get("col_labels"):
        out.append("columns:   " + " | ".join(map(str, rec["col_labels"])))
    if rec.get("seeds"):
        out.append("seeds:     " + ", ".join(map(str, rec["seeds"])))
    if rec.get("model"):
        out.append(f"model:     {rec['model']}")
    for i, (tile, file) in enumerate(zip(rec.get("tiles") or [], sheet_tiles(path, rec))):
        about = f"  ({tile['prompt']}, seed {tile['seed']}, {tile['model']})" if isinstance(tile, dict) else ""
        out.append(f"{'tiles:' if i == 0 else '':<11}{file}{about}")
    out.append("each tile carries its own provenance: `promptlang show TILE`, `promptlang reproduce TILE`")
    return out
