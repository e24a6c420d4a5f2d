"""Labelled grids of images (contact sheets, X/Y plots) and the `promptlang sheet` logic.

:func:`labelled_grid` lays tiles out in rows and columns with row labels in a left
margin, column labels in a top margin (wrapped to the tile width), an optional title
line and optional captions under each tile; text is Pillow's default font, sized to
the tiles. The geometry is returned with the image so callers can record it.

`promptlang sheet` (:func:`plan` + :func:`render_sheet`) is AUTOMATIC1111's X/Y plot
for `.prompt` files. **Rows are what is drawn**: each selected prompt, times each
``--vary`` value; **columns are how it is drawn**: each model, times each seed. With no
``--seeds`` a prompt keeps its own seed; with no ``--models`` the file's (or
``--model``'s) model. ``--vary SLOT=v1,v2`` swaps the named slot (or setting, such as
``steps=10,20``) of each prompt for each value in turn: the value is parsed as that
slot's text and the file is resolved again with it (so an unknown catalog name fails
with the catalog's did-you-mean, before anything renders).

Every tile is an ordinary render of a (possibly varied) prompt: it is saved beside
the sheet, in ``OUT-tiles/``, with the normal provenance (its IR holds the varied slot,
so ``promptlang reproduce`` re-renders it) plus a ``promptlang-sheet`` chunk naming its
row and column. The sheet PNG's ``promptlang-sheet`` chunk lists the row and column
labels, the tile size, the margins and every tile's prompt, seed, model and file.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from . import ir
from .errors import PromptError

CHUNK = "promptlang-sheet"
BACKGROUND = (255, 255, 255)
INK = (0, 0, 0)


# --------------------------------------------------------------------------- layout

@dataclass
class Layout:
    image: object  # PIL.Image.Image
    left: int  # width of the row-label margin
    top: int  # height of the title + column-label margin
    caption: int  # height of the caption strip under each tile
    tile: tuple  # (width, height)
    rows: int
    cols: int

    def as_dict(self) -> dict:
        return {"left": self.left, "top": self.top, "caption": self.caption, "tile": list(self.tile),
                "rows": self.rows, "cols": self.cols}


def font_for(tile_width: int):
    """Pillow's default font at a size that reads well next to tiles of this width."""
    from PIL import ImageFont

    size = max(10, min(28, tile_width // 12))
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: one bitmap size
        return ImageFont.load_default()


def _text_size(font, text: str) -> tuple[int, int]:
    from PIL import Image, ImageDraw

    box = ImageDraw.Draw(Image.new("RGB", (1, 1))).multiline_textbbox((0, 0), text or " ", font=font)
    return box[2] - box[0], box[3] - box[1]


def _wrap(font, text: str, width: int) -> str:
    """Break ``text`` into lines no wider than ``width`` pixels (at spaces, or anywhere if a word is too long)."""
    lines, line = [], ""
    for word in text.split(" "):
        trial = f"{line} {word}" if line else word
        if _text_size(font, trial)[0] <= width or not line:
            line = trial
        else:
            lines.append(line)
            line = word
        while _text_size(font, line)[0] > width and len(line) > 1:
            cut = len(line) - 1
            while cut > 1 and _text_size(font, line[:cut])[0] > width:
                cut -= 1
            lines.append(line[:cut])
            line = line[cut:]
    lines.append(line)
    return "\n".join(lines)


def labelled_grid(tiles, *, row_labels=None, col_labels=None, captions=None, title: str | None = None,
                  pad: int = 6) -> Layout:
    """Lay out ``tiles`` (a list of rows of PIL images, ``None`` for an empty cell; all
    the size of the first) with labels. ``captions``: rows of text drawn under each tile.
    Returns a :class:`Layout` (the image and its margins)."""
    from PIL import Image, ImageDraw

    rows = len(tiles)
    cols = max(len(r) for r in tiles)
    first = next(t for r in tiles for t in r if t is not None)
    tw, th = first.size
    font = font_for(tw)
    line_h = _text_size(font, "Ag")[1]
    left = 0
    if row_labels:
        row_text = [_wrap(font, str(s), max(tw, 4 * line_h)) for s in row_labels]
        left = max(_text_size(font, s)[0] for s in row_text) + 2 * pad
    top = 0
    title_text = _wrap(font, title, left + cols * tw - 2 * pad) if title else None
    if title_text:
        top += _text_size(font, title_text)[1] + 2 * pad
    title_h = top
    if col_labels:
        col_text = [_wrap(font, str(s), tw - 2) for s in col_labels]
        top += max(_text_size(font, s)[1] for s in col_text) + 2 * pad
    caption = 0
    if captions:
        cap_text = [[_wrap(font, str(c), tw - 2) for c in r] for r in captions]
        caption = max(_text_size(font, c)[1] for r in cap_text for c in r) + pad
    sheet = Image.new("RGB", (left + cols * tw, top + rows * (th + caption)), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    if title_text:
        draw.multiline_text((pad, pad), title_text, fill=INK, font=font)
    for c in range(cols if col_labels else 0):
        w, h = _text_size(font, col_text[c])
        draw.multiline_text((left + c * tw + (tw - w) // 2, title_h + pad), col_text[c], fill=INK, font=font,
                            align="center")
    for r in range(rows):
        y = top + r * (th + caption)
        if row_labels:
            w, h = _text_size(font, row_text[r])
            draw.multiline_text((left - pad - w, y + (th - h) // 2), row_text[r], fill=INK, font=font, align="right")
        for c, tile in enumerate(tiles[r]):
            if tile is None:
                continue
            if tile.size != (tw, th):
                raise PromptError(f"tiles must all be {tw}x{th}; one is {tile.size[0]}x{tile.size[1]}")
            sheet.paste(tile.convert("RGB"), (left + c * tw, y))
            if captions:
                w, _ = _text_size(font, cap_text[r][c])
                draw.multiline_text((left + c * tw + (tw - w) // 2, y + th + pad // 2), cap_text[r][c], fill=INK,
                                    font=font, align="center")
    return Layout(sheet, left, top, caption, (tw, th), rows, cols)


def save_sheet(layout: Layout, path, record: dict) -> Path:
    """Write a sheet PNG with a ``promptlang-sheet`` text chunk (``record`` + the layout), atomically."""
    from PIL.PngImagePlugin import PngInfo

    from .latent import save_image

    meta = PngInfo()
    meta.add_itxt(CHUNK, json.dumps(dict(record, layout=layout.as_dict()), ensure_ascii=False, sort_keys=True))
    return save_image(layout.image, path, pnginfo=meta)


def read_record(path) -> dict:
    """The ``promptlang-sheet`` record of a sheet PNG (or of a sheet's tile: its row and column)."""
    from .provenance import png_text

    text = png_text(path)
    if CHUNK not in text:
        raise PromptError(f"{path}: has no `{CHUNK}` chunk")
    try:
        record = json.loads(text[CHUNK])
    except ValueError as exc:
        raise PromptError(f"{path}: its `{CHUNK}` chunk is damaged ({exc})") from None
    if not isinstance(record, dict):
        raise PromptError(f"{path}: its `{CHUNK}` chunk is damaged (not a JSON object)")
    return record


# --------------------------------------------------------------------------- --vary

def parse_vary(text: str) -> tuple[str, list[str]]:
    """``"style=van_gogh,dali"`` -> ``("style", ["van_gogh", "dali"])``."""
    slot, eq, values = text.partition("=")
    slot = slot.strip()
    items = [v.strip() for v in values.split(",") if v.strip()]
    if not eq or not slot or not items:
        raise PromptError(f"--vary {text}: expected SLOT=VALUE,VALUE,… such as style=van_gogh,dali")
    return slot, items


def varied(result, name: str, slot: str, value: str) -> ir.Prompt:
    """Prompt ``name`` of a compiled file with ``slot`` (or a setting) replaced by ``value``,
    resolved again against the file's catalogs. Errors name the ``--vary`` value."""
    from . import syntax
    from .resolve import resolve

    result.prompt(name)  # a bad prompt name fails with its did-you-mean
    where = f"--vary {slot}={value}"
    try:
        block = syntax.parse(f"prompt _ {{\n{slot} {value}\n}}\n", where).prompts[0].body
    except PromptError as exc:
        raise PromptError(f"{where}: not a valid `{slot}` value: {exc.message}",
                          hint="slots: subject, format, style, quality, negative; settings such as steps, "
                               "guidance, seed, scheduler, size; values are catalog names or quoted text") from None
    new_slots = {s.name: s for s in block.slots}
    new_params = {p.name: p for p in block.params}
    if not new_slots and not new_params:
        raise PromptError(f"{where}: `{slot}` is neither a slot nor a setting")
    drop = set(new_slots) | set(new_params)
    if drop & {"size", "aspect"}:
        drop |= {"size", "aspect"}
    file = result.file
    decls = []
    for decl in file.prompts:
        if decl.name == name:
            body = decl.body
            body = dataclasses.replace(
                body, slots=tuple(s for s in body.slots if s.name not in drop) + tuple(new_slots.values()),
                params=tuple(p for p in body.params if p.name not in drop) + tuple(new_params.values()))
            decl = dataclasses.replace(decl, body=body)
        decls.append(decl)
    try:
        prompts, _ = resolve(dataclasses.replace(file, prompts=tuple(decls)), result.scope)
    except PromptError as exc:
        if exc.span is not None and exc.span.file == where:  # the error is in the value itself
            raise PromptError(f"{where}: {exc.message}", hint=exc.hint) from None
        raise
    return next(p for p in prompts if p.name == name)


# --------------------------------------------------------------------------- the sheet

@dataclass
class Tile:
    row: int
    col: int
    prompt: ir.Prompt  # effective (model and seed set)
    row_label: str
    col_label: str
    vary: str | None = None
    filename: str = ""
    rendered: object = None  # promptlang.render.Rendered


@dataclass
class Plan:
    tiles: list  # Tile, row-major
    row_labels: list
    col_labels: list
    models: list = field(default_factory=list)


def plan(result, *, prompts=None, seeds=None, models=None, vary=None, model=None, steps=None,
         width=None, height=None, stem: str = "sheet") -> Plan:
    """What a sheet renders: every tile's effective prompt and labels, all checked
    (names, values, sizes) before anything renders."""
    from .render import effective

    names = list(prompts) if prompts else [p.name for p in result.prompts]
    for n in names:
        result.prompt(n)
    if seeds is not None and not seeds:
        raise PromptError("--seeds: give at least one seed")
    if models is not None and not models:
        raise PromptError("--models: give at least one model")
    rows = []  # (label, ir.Prompt, vary text)
    for n in names:
        if vary:
            slot, values = vary
            for value in values:
                rows.append((f"{n} · {slot}={value}", varied(result, n, slot, value), f"{slot}={value}"))
        else:
            rows.append((n, result.prompt(n), None))
    model_list = list(models) if models else [None]
    seed_list = list(seeds) if seeds else [None]
    cols = [(m, s) for m in model_list for s in seed_list]

    def col_label(m, s):
        parts = ([m] if m else []) + ([f"seed {s}"] if s is not None else [])
        return " · ".join(parts) or "seed from the file"

    tiles = []
    for r, (label, prompt, vary_text) in enumerate(rows):
        for c, (m, s) in enumerate(cols):
            eff = effective(prompt, model=m or model, seed=s, steps=steps, width=width, height=height, images=1)
            tile = Tile(r, c, eff, label, col_label(m, s), vary_text)
            tile.filename = f"{stem}-r{r:02d}-c{c:02d}-{eff.name}-{eff.settings.seed}.png"
            tiles.append(tile)
    sizes = {(t.prompt.settings.width, t.prompt.settings.height) for t in tiles}
    if len(sizes) > 1:
        listed = ", ".join(f"{w}x{h}" for w, h in sorted(sizes))
        raise PromptError(f"the sheet's prompts have different sizes ({listed}); tiles must all be one size",
                          hint="give --image-size WxH")
    return Plan(tiles, [r[0] for r in rows], [col_label(m, s) for m, s in cols],
                sorted({t.prompt.settings.model for t in tiles}))


def render_sheet(result, the_plan: Plan, out: Path, *, device=None, cache_dir=None, progress=False,
                 on_tile=None) -> Layout:
    """Render every tile (one pipeline per model), save the tiles in ``OUT-tiles/`` and the sheet at ``out``."""
    from .latent import save_image
    from .models import load_pipeline
    from .provenance import a1111_parameters, pnginfo, record
    from .render import default_device, render

    tiles_dir = tiles_folder(out)
    tiles_dir.mkdir(parents=True, exist_ok=True)
    catalogs = result.scope.catalogs
    for model in the_plan.models:
        pipe = load_pipeline(model, device or default_device())
        for tile in (t for t in the_plan.tiles if t.prompt.settings.model == model):
            (done,) = render(tile.prompt, pipe=pipe, model=model, cache_dir=cache_dir, progress=progress)
            tile.rendered = done
            meta = pnginfo(record(done.prompt, model=model, seed=done.seed, index=0, source=result.file.source,
                                  source_path=result.file.path, catalogs=catalogs, test_model=done.test_model),
                           a1111_parameters(done.prompt, model=model, seed=done.seed))
            meta.add_itxt(CHUNK, json.dumps({"row": tile.row, "col": tile.col, "row_label": tile.row_label,
                                             "col_label": tile.col_label, "vary": tile.vary,
                                             "sheet": out.name}, ensure_ascii=False, sort_keys=True))
            save_image(done.image, tiles_dir / tile.filename, pnginfo=meta)
            if on_tile is not None:
                on_tile(tile)
        del pipe
    grid = [[None] * len(the_plan.col_labels) for _ in the_plan.row_labels]
    for tile in the_plan.tiles:
        grid[tile.row][tile.col] = tile.rendered.image
    layout = labelled_grid(grid, row_labels=the_plan.row_labels, col_labels=the_plan.col_labels)
    save_sheet(layout, out, sheet_record(result, the_plan, tiles_dir))
    return layout


def tiles_folder(out: Path) -> Path:
    return out.with_name(f"{out.stem}-tiles")


def sheet_record(result, the_plan: Plan, tiles_dir: Path) -> dict:
    return {
        "format": 1,
        "kind": "sheet",
        "source_path": result.file.path,
        "rows": "prompts x --vary values",
        "columns": "models x seeds",
        "row_labels": the_plan.row_labels,
        "col_labels": the_plan.col_labels,
        "tiles": [{"row": t.row, "col": t.col, "prompt": t.prompt.name, "seed": t.prompt.settings.seed,
                   "model": t.prompt.settings.model, "vary": t.vary,
                   "file": str(tiles_dir.name + "/" + t.filename)} for t in the_plan.tiles],
    }


def targets(the_plan: Plan, out: Path) -> list[Path]:
    """Every file the sheet will write (the sheet, then the tiles)."""
    folder = tiles_folder(out)
    return [out] + [folder / t.filename for t in the_plan.tiles]
