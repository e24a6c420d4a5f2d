"""The reproduce job: render an image again from the provenance its PNG carries.

A render (or a walk endpoint, or a sheet tile) is rendered from the IR in its
``promptlang`` chunk, so neither the ``.prompt`` file nor its catalogs are needed; a
walk frame or grid tile from its ``promptlang-walk`` record. A sheet, contact sheet or
grid image is made of tiles: reproduce one of those instead. Every record is validated
whole (:func:`promptlang.artifacts.records.read`) before any model loads.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..errors import PromptError
from . import Event, ignore
from .backend import Local
from .common import check_adapters, check_free, check_models, folder, notes, printable
from .render import Rendered, Source, images, save


def run(image, out, *, model=None, overwrite: bool = False, backend=None, report=ignore) -> Path:
    from ..artifacts import records
    from .walk import reproduce_frame

    found = records.read(image)
    if found.render is None and records.RENDER not in found.errors:
        if found.walk is not None or records.WALK in found.errors:
            return reproduce_frame(found, out, model=model, overwrite=overwrite, backend=backend, report=report)
        sheet = found.need(records.SHEET)
        from .show import sheet_tiles, sheet_what

        tiles = sheet_tiles(image, sheet)
        example = f", such as {tiles[0]}" if tiles else ""
        raise PromptError(printable(f"{image}: is {sheet_what(sheet)}, laid out from {len(tiles)} tiles, not one "
                                    f"render: reproduce one of its tiles{example}"))
    info = found.need(records.RENDER)
    prompt = found.prompt
    model = model or info["model"]
    prompt = replace(prompt, settings=replace(prompt.settings, model=model))
    check_adapters(image, prompt)
    out = folder(out)
    target = out / f"{Path(image).stem}.png"  # the name it had: reproduced tiles of one sheet never collide
    check_free([target], overwrite)
    check_models([model])
    notes([model], report)
    if info.get("batch", 1) > 1 or info.get("fast"):
        how = f"in a batch of {info['batch']}" if info.get("batch", 1) > 1 else "in fast mode"
        report(Event("note", f"{image} was rendered {how}; re-rendered alone its pixels may differ in the last bit"))
    (done,) = images([prompt], backend or Local(), report=report)
    done = Rendered(done.image, done.prompt, done.seed, int(info.get("index", 0)), done.model, done.test_model)
    out.mkdir(parents=True, exist_ok=True)
    save(done, target, Source(info.get("source"), info.get("source_path"), tuple(info.get("catalogs") or ())))
    report(Event("file", f"seed {done.seed}, reproduced from {image}", path=target))
    return target

