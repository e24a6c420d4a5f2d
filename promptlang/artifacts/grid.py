"""Labelled grids of images: contact sheets, X/Y plots, a grid's labelled picture.

:func:`labelled_grid` lays tiles out in rows and columns with row labels in a left
margin, column labels in a top margin (wrapped to the tile width), an optional title
line and optional captions under each tile; text is Pillow's default font, sized to
the tiles. The geometry is returned with the image so callers can record it.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import PromptError

BACKGROUND = (255, 255, 255)
INK = (0, 0, 0)


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
