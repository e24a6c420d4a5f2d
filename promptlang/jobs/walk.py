"""Walks and grids: frames between prompts in latent space, with their provenance.

A walk from A to B renders ``count`` frames at ``t = i / (count - 1)``, then an
animation (GIF or WebP) and a captioned contact sheet. A grid renders K×K tiles with
A top-left, B top-right, C bottom-left and D bottom-right, then one labelled image.
Frame 0 of a walk (each corner of a grid) is pixel-identical to that prompt's render;
every frame PNG carries a ``promptlang-walk`` record, so ``reproduce`` remakes it.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import PromptError
from . import Event, ignore
from .backend import Frames, Local
from .common import check_adapters, check_free, check_models, check_walkable, folder, notes, prepare
from .render import Source


@dataclass
class Plan:
    kind: str  # "walk" or "grid"
    prompts: list  # the endpoints, prepared (model and seed set)
    count: int  # frames of a walk, or tiles per side of a grid
    out: Path
    files: list  # the frame PNGs, then the animation and contact sheet (walk) or the grid image
    animation: str = "gif"
    source: Source = field(default_factory=Source)
    cache_dir: str | None = None
    warnings: list = field(default_factory=list)

    @property
    def positions(self) -> list:
        if self.kind == "grid":
            k = self.count
            return [(col / (k - 1), row / (k - 1)) for row in range(k) for col in range(k)]
        return [(i / (self.count - 1), 0.0) for i in range(self.count)]

    @property
    def frames(self) -> list:
        return self.files[:len(self.positions)]


def frame_file(out: Path, kind: str, names, count: int, index: int) -> Path:
    """The PNG of frame ``index`` (row-major in a grid); ``count`` is a walk's number of
    frames or a grid's tiles per side."""
    if kind == "grid":
        row, col = divmod(index, count)
        return out / f"grid-{'-'.join(names)}-r{row:02d}-c{col:02d}.png"
    digits = max(3, len(str(count - 1)))
    return out / f"walk-{names[0]}-{names[1]}-{index:0{digits}d}.png"


def plan(compiled, names, count: int, out, *, animation: str = "gif", overwrite: bool = False, model=None,
         cache_dir=None, **overrides) -> Plan:
    """A walk (two ``names``) or a grid (four), checked before anything loads."""
    from ..settings import PIXEL_SETTINGS, complete

    if len(names) not in (2, 4):
        raise PromptError("a walk has two endpoints (--from, --to) and a grid four corners (--grid A B C D)")
    kind = "walk" if len(names) == 2 else "grid"
    if count < 2:
        raise PromptError(f"a {kind} needs at least 2 {'frames' if kind == 'walk' else 'tiles per side'}, "
                          f"not {count}")
    prompts = [compiled.prompt(n) for n in names]
    check_walkable(prompts, compiled.file.source)
    model = model or next((p.settings.model for p in prompts if p.settings.model), None)
    prompts = [prepare(p, model=model, images=1, **overrides) for p in prompts]
    different = [p for p in prompts if p.adapters != prompts[0].adapters]
    if different:
        raise PromptError(f"`{prompts[0].name}` and `{different[0].name}` load different LoRAs or embeddings: "
                          f"every frame of a {kind} is made with one model, so its prompts must load the same ones",
                          different[0].span, source=compiled.file.source,
                          hint="give them the same `lora` list (and the same embeddings)")
    check_models([prompts[0].settings.model])
    out = folder(out)
    files = [frame_file(out, kind, names, count, i) for i in range(count * count if kind == "grid" else count)]
    if kind == "grid":
        files.append(out / f"grid-{'-'.join(names)}.png")
    else:
        stem = f"walk-{names[0]}-{names[1]}"
        files += [out / f"{stem}.{animation}", out / f"{stem}-sheet.png"]
    check_free(files, overwrite)
    first = complete(prompts[0].settings)
    warnings = []
    for p in prompts[1:]:
        other = complete(p.settings)
        diffs = [f"{name} {getattr(other, name)} (not {getattr(first, name)})"
                 for name in PIXEL_SETTINGS
                 if getattr(other, name) != getattr(first, name)]
        if diffs:
            warnings.append(f"`{p.name}` states {', '.join(diffs)}: every frame uses `{prompts[0].name}`'s "
                            "settings, so its frame is not its plain render")
    return Plan(kind, prompts, count, out, files, animation, Source.of(compiled),
                str(cache_dir) if cache_dir else None, warnings)


def frame_record(base: dict, kind: str, names, index: int, u: float, v: float, grid: int | None) -> dict:
    from ..diffusion.interpolate import shares

    row, col = (index // grid, index % grid) if grid else (0, index)
    info = dict(base, frame=index, row=row, col=col, weights=shares(names, u, v))
    if kind == "grid":
        info.update(u=u, v=v)
    else:
        info["t"] = u
    return info


def save_frame(image, path, info: dict, source: Source, endpoint=None) -> Path:
    """A frame PNG: its ``promptlang-walk`` record and, when it is exactly an endpoint, that
    endpoint's ordinary render chunks too."""
    from ..artifacts import png, records

    chunks = {}
    if endpoint is not None:
        chunks = records.render_chunks(endpoint, model=info["model"], seed=endpoint.settings.seed, index=0,
                                       source=source.text, source_path=source.path, catalog_list=source.catalogs,
                                       test_model=info["test_model"])
    walk = dict(info, source=source.text, source_path=source.path, catalogs=records.catalogs(source.catalogs))
    return png.save(image, path, {**chunks, records.WALK: walk})


def run(the_plan: Plan, *, backend=None, report=ignore) -> list[Path]:
    from ..artifacts import records
    from ..diffusion.interpolate import exact_endpoint

    backend = backend or Local()
    notes([the_plan.prompts[0].settings.model], report)
    for w in the_plan.warnings:
        report(Event("warning", w))
    kind, count = the_plan.kind, the_plan.count
    grid = count if kind == "grid" else None
    names = [p.name for p in the_plan.prompts]
    positions = the_plan.positions
    task = Frames(tuple(the_plan.prompts), tuple(positions), the_plan.cache_dir)
    model = backend.model(task.model)
    images, written = [], []

    def progress(done, total):
        report(Event("progress", task=f"{kind} {'-'.join(names)}", done=done, total=total))

    for _, frames in backend.run([task], progress):
        for index, prompts, image in frames:
            if index == 0:
                base = records.walk(kind, prompts, model=task.model, test_model=model.test_model,
                                    count=len(positions), grid=grid)
            u, v = positions[index]
            info = frame_record(base, kind, names, index, u, v, grid)
            exact = exact_endpoint(len(prompts), u, v)
            the_plan.out.mkdir(parents=True, exist_ok=True)
            path = save_frame(image, the_plan.frames[index], info, the_plan.source,
                              None if exact is None else prompts[exact])
            images.append(image)
            written.append(path)
            where = f"t={u:.3f}" if kind == "walk" else f"u={u:.3f} v={v:.3f}"
            report(Event("file", where, path=path))
    written += _composites(the_plan, images, names, report)
    return written


def _composites(the_plan: Plan, images, names, report) -> list[Path]:
    """A walk's animation and contact sheet, or a grid's labelled image."""
    from ..artifacts import png, records
    from ..artifacts.grid import labelled_grid

    kind, count, files = the_plan.kind, the_plan.count, the_plan.files
    record = {"format": records.FORMAT, "kind": kind, "endpoints": names,
              "seeds": [p.settings.seed for p in the_plan.prompts], "model": the_plan.prompts[0].settings.model,
              "source_path": the_plan.source.path, "tiles": [f.name for f in the_plan.frames]}
    out = []
    if kind == "walk":
        animation = files[count]
        extra = {"lossless": True} if animation.suffix == ".webp" else {}
        out.append(png.save(images[0], animation, save_all=True, append_images=images[1:], duration=150, loop=0,
                            **extra))
        report(Event("file", "animation", path=animation))
        ts = [u for u, _ in the_plan.positions]
        per_row = min(count, 8)
        rows = [images[i:i + per_row] for i in range(0, count, per_row)]
        captions = [[names[0] if t == 0 else names[1] if t == 1 else f"t={t:.2f}" for t in ts[i:i + per_row]]
                    for i in range(0, count, per_row)]
        layout = labelled_grid(rows, captions=captions, title=f"{names[0]} -> {names[1]}, {count} frames")
        record = dict(record, t=ts)
        target = files[count + 1]
    else:
        rows = [images[r * count:(r + 1) * count] for r in range(count)]
        corners = {(0, 0): names[0], (0, count - 1): names[1], (count - 1, 0): names[2],
                   (count - 1, count - 1): names[3]}
        captions = [[corners.get((r, c), "") for c in range(count)] for r in range(count)]
        layout = labelled_grid(rows, row_labels=[f"v={r / (count - 1):.2f}" for r in range(count)],
                               col_labels=[f"u={c / (count - 1):.2f}" for c in range(count)], captions=captions,
                               title=f"{names[0]} (top left), {names[1]} (top right), {names[2]} (bottom left), "
                                     f"{names[3]} (bottom right)")
        target = files[-1]
    out.append(png.save(layout.image, target, {records.SHEET: dict(record, layout=layout.as_dict())}))
    report(Event("file", "contact sheet" if kind == "walk" else "labelled grid", path=target))
    return out


def reproduce_frame(found, out, *, model=None, overwrite=False, backend=None, report=ignore) -> Path:
    """Render a walk frame or grid tile again from its record alone (``found``: what
    :func:`promptlang.artifacts.records.read` gave)."""
    record = found.need("promptlang-walk")
    prompts = found.endpoints
    out = folder(out)
    count = record["grid"] if record["kind"] == "grid" else record["frames"]
    target = frame_file(out, record["kind"], [e["name"] for e in record["endpoints"]], count, record["frame"])
    check_free([target], overwrite)
    model = model or record["model"]
    check_models([model])
    prompts = [replace(p, settings=replace(p.settings, model=model)) for p in prompts]
    for prompt in prompts:
        check_adapters(found.path, prompt)
    notes([model], report)
    backend = backend or Local()
    position = (float(record["u"]), float(record["v"])) if record["kind"] == "grid" else (float(record["t"]), 0.0)
    task = Frames(tuple(prompts), (position,), None)
    loaded = backend.model(model)
    for _, frames in backend.run([task]):
        for _, _, image in frames:
            out.mkdir(parents=True, exist_ok=True)  # only once there is an image
            from ..artifacts import png, records

            png.save(image, target, {records.WALK: dict(record, model=model, test_model=loaded.test_model)})
    where = f"u={record['u']:.3f} v={record['v']:.3f}" if record["kind"] == "grid" else f"t={record['t']:.3f}"
    report(Event("file", f"{record['kind']} frame {record['frame']}, {where}, reproduced from {found.path}",
                 path=target))
    return target
