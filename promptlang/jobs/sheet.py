"""The sheet job: AUTOMATIC1111's X/Y plot for `.prompt` files.

**Rows are what is drawn**: each selected prompt, times each ``--vary`` value;
**columns are how it is drawn**: each model, times each seed. With no seeds a prompt
keeps its own; with no models the file's (or ``--model``'s). ``--vary SLOT=v1,v2``
swaps the named slot (or setting, such as ``steps=10,20``) of each prompt for each
value in turn: the value is parsed as that one field and the prompt resolved again with
it, against the file's catalogs (an unknown name fails with its did-you-mean before
anything renders).

Every tile is an ordinary render (saved in ``OUT-tiles/`` with its provenance, whose IR
holds the varied slot) plus a ``promptlang-sheet`` chunk naming its row and column; the
sheet's own chunk lists the labels, the layout and every tile.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from .. import ast, ir
from ..errors import PromptError
from . import Event, ignore
from .backend import Local
from .common import check_free, check_models, notes, out_file, prepare
from .render import Source, images


def varied(compiled, name: str, slot: str, value: str) -> ir.Prompt:
    """Prompt ``name`` with ``slot`` (or a setting) replaced by ``value``, resolved again
    against the file's catalogs. Errors name the ``--vary`` value."""
    from ..expansion import resolve
    from ..syntax import parse_field

    compiled.prompt(name)  # a bad prompt name fails with its did-you-mean
    where = f"--vary {slot}={value}"
    try:
        node = parse_field(slot, value, where)
    except PromptError as exc:
        raise PromptError(f"{where}: not a valid `{slot}` value: {exc.message}",
                          hint="slots: subject, format, style, quality, negative; settings such as steps, "
                               "guidance, seed, scheduler, size; values are catalog names or quoted text") from None
    drop = {node.name} | ({"size", "aspect"} if node.name in ("size", "aspect") else set())
    target = compiled.prompt(name)
    base = target.origin.prompt if target.origin else name  # `NAME.k`: the k-th prompt NAME expands to
    decls = [dataclasses.replace(d, body=body) if d.name == base else d
             for d in compiled.file.prompts for body in [_replaced(d.body, node, drop)]]
    try:
        prompts, _ = resolve(dataclasses.replace(compiled.file, prompts=tuple(decls)), compiled.scope,
                             compiled.variation, only=name if target.origin is None else base)
    except PromptError as exc:
        if exc.span is not None and exc.span.file == where:  # the error is in the value itself
            raise PromptError(f"{where}: {exc.message}", hint=exc.hint) from None
        raise
    same = [p for p in prompts if p.name == name]
    return same[0] if same else prompts[0]  # the value took the choice away: one prompt is left


def _as_choice(compiled, name: str, slot: str, values) -> list | None:
    """``--vary style=van_gogh,dali`` on a prompt without choices, as the choice
    ``style {van_gogh | dali}``: the prompts it expands to, one per value in order, each named
    as the prompt and recording its pick. None where a value is no option of a choice (an
    edit, a blend, a setting) or the prompt has choices of its own: then each value is
    resolved on its own (:func:`varied`), with errors that name it."""
    from ..expansion import Variation
    from ..expansion import resolve
    from ..syntax import SLOTS, parse_field

    if slot not in SLOTS or compiled.prompt(name).origin:
        return None
    where = f"--vary {slot}=" + ",".join(values)
    try:
        node = parse_field(slot, "{" + " | ".join(values) + "}", where)
    except PromptError:
        return None
    decls = tuple(dataclasses.replace(d, body=_replaced(d.body, node, {slot})) if d.name == name else d
                  for d in compiled.file.prompts)
    try:
        prompts, _ = resolve(dataclasses.replace(compiled.file, prompts=decls), compiled.scope,
                             Variation(max=len(values)), only=name)
    except PromptError:
        return None  # said again, value by value, by `varied`
    if len(prompts) != len(values):
        return None
    return [dataclasses.replace(p, name=name) for p in prompts]


def _replaced(body: ast.Block, node, drop: set) -> ast.Block:
    is_slot = isinstance(node, ast.Slot)
    return dataclasses.replace(
        body, slots=tuple(s for s in body.slots if s.name not in drop) + ((node,) if is_slot else ()),
        params=tuple(p for p in body.params if p.name not in drop) + (() if is_slot else (node,)))


@dataclass
class Tile:
    row: int
    col: int
    prompt: ir.Prompt  # prepared (model and seed set)
    row_label: str
    col_label: str
    vary: str | None = None
    filename: str = ""


@dataclass
class Plan:
    tiles: list  # Tile, row-major
    row_labels: list
    col_labels: list
    out: Path
    source: Source = field(default_factory=Source)
    cache_dir: str | None = None

    @property
    def tiles_dir(self) -> Path:
        return self.out.with_name(f"{self.out.stem}-tiles")

    @property
    def files(self) -> list[Path]:
        """Every file the sheet writes: the sheet, then the tiles."""
        return [self.out] + [self.tiles_dir / t.filename for t in self.tiles]

    @property
    def models(self) -> list:
        return list(dict.fromkeys(t.prompt.settings.model for t in self.tiles))


def plan(compiled, out, *, prompts=None, seeds=None, models=None, vary=None, model=None, overwrite=False,
         cache_dir=None, **overrides) -> Plan:
    """Every tile's prompt and labels, all checked (names, values, sizes, files) before
    anything renders. ``vary``: ``(slot, [values])``."""
    from ..settings import complete

    if models and model:
        raise PromptError("give a column per model (models) or one model, not both")
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise PromptError(f"--out {out}: the sheet is a PNG; give a file name ending in .png")
    out_file(out)
    names = list(prompts) if prompts else [p.name for p in compiled.prompts]
    for n in names:
        compiled.prompt(n)
    if seeds is not None and not seeds:
        raise PromptError("--seeds: give at least one seed")
    if models is not None and not models:
        raise PromptError("--models: give at least one model")
    rows = []  # (label, prompt, vary text)
    for n in names:
        if vary:
            slot, values = vary
            chosen = _as_choice(compiled, n, slot, values)
            rows += [(f"{n} · {slot}={v}", chosen[i] if chosen else varied(compiled, n, slot, v), f"{slot}={v}")
                     for i, v in enumerate(values)]
        else:
            prompt = compiled.prompt(n)
            picked = ", ".join(v for _, v in prompt.origin.choices) if prompt.origin else ""
            rows.append((f"{n} · {picked}" if picked else n, prompt, None))  # an expanded prompt: its picks
    cols = [(m, s) for m in (list(models) if models else [None]) for s in (list(seeds) if seeds else [None])]

    def col_label(m, s):
        parts = ([m] if m else []) + ([f"seed {s}"] if s is not None else [])
        return " · ".join(parts) or "seed from the file"

    tiles = []
    for r, (label, prompt, vary_text) in enumerate(rows):
        for c, (m, s) in enumerate(cols):
            ready = prepare(prompt, model=m or model, seed=s, images=1, **overrides)
            tile = Tile(r, c, ready, label, col_label(m, s), vary_text)
            tile.filename = f"{out.stem}-r{r:02d}-c{c:02d}-{ready.name}-{ready.settings.seed}.png"
            tiles.append(tile)
    sizes = {(x.width, x.height) for x in (complete(t.prompt.settings) for t in tiles)}
    if len(sizes) > 1:
        listed = ", ".join(f"{w}x{h}" for w, h in sorted(sizes))
        raise PromptError(f"the sheet's prompts have different sizes ({listed}); tiles must all be one size",
                          hint="give --image-size WxH")
    the_plan = Plan(tiles, [r[0] for r in rows], [col_label(m, s) for m, s in cols], out, Source.of(compiled),
                    str(cache_dir) if cache_dir else None)
    check_models(the_plan.models)
    check_free(the_plan.files, overwrite)
    return the_plan


def run(the_plan: Plan, *, backend=None, report=ignore):
    """Render every tile (model by model), save the tiles and then the sheet; returns the layout."""
    from ..artifacts import png, records
    from ..artifacts.grid import labelled_grid

    backend = backend or Local()
    notes(the_plan.models, report)
    grid = [[None] * len(the_plan.col_labels) for _ in the_plan.row_labels]
    done_count, total = 0, len(the_plan.tiles)
    report(Event("progress", task="sheet", done=0, total=total))
    for model in the_plan.models:
        tiles = [t for t in the_plan.tiles if t.prompt.settings.model == model]
        labels = [f"tile {the_plan.tiles.index(t) + 1}/{total} (r{t.row:02d} c{t.col:02d})" for t in tiles]
        for tile, done in zip(tiles, images([t.prompt for t in tiles], backend, cache_dir=the_plan.cache_dir,
                                            report=report, labels=labels)):
            the_plan.tiles_dir.mkdir(parents=True, exist_ok=True)  # once there is a tile: a failure leaves none
            path = the_plan.tiles_dir / tile.filename
            # an ordinary render's provenance, and the tile's place in the sheet
            chunks = records.render_chunks(done.prompt, model=done.model, seed=done.seed, index=0,
                                           source=the_plan.source.text, source_path=the_plan.source.path,
                                           catalog_list=the_plan.source.catalogs, test_model=done.test_model)
            chunks[records.SHEET] = {"row": tile.row, "col": tile.col, "row_label": tile.row_label,
                                     "col_label": tile.col_label, "vary": tile.vary, "sheet": the_plan.out.name}
            png.save(done.image, path, chunks)
            grid[tile.row][tile.col] = done.image
            done_count += 1
            report(Event("file", f"{tile.row_label}; {tile.col_label}", path=path))
            report(Event("progress", task="sheet", done=done_count, total=total))
    layout = labelled_grid(grid, row_labels=the_plan.row_labels, col_labels=the_plan.col_labels)
    record = {
        "format": records.FORMAT, "kind": "sheet", "source_path": the_plan.source.path,
        "rows": "prompts x --vary values", "columns": "models x seeds",
        "row_labels": the_plan.row_labels, "col_labels": the_plan.col_labels,
        "tiles": [{"row": t.row, "col": t.col, "prompt": t.prompt.name, "seed": t.prompt.settings.seed,
                   "model": t.prompt.settings.model, "vary": t.vary,
                   "file": f"{the_plan.tiles_dir.name}/{t.filename}"} for t in the_plan.tiles],
        "layout": layout.as_dict(),
    }
    png.save(layout.image, the_plan.out, {records.SHEET: record})
    rows, cols = layout.rows, layout.cols
    report(Event("file", f"{rows} row{'s' * (rows != 1)} x {cols} column{'s' * (cols != 1)} of "
                         f"{layout.tile[0]}x{layout.tile[1]} tiles", path=the_plan.out))
    return layout
