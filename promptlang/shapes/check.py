"""Read a picture of the shapes world back: its background colour, the shape's colour,
the shape, and the format, from simple image statistics (numpy only).

:func:`read` gives a :class:`Reading`; :func:`matches` compares it with a
:class:`~promptlang.shapes.world.Scene`. Written for 32x32 pictures of
:mod:`promptlang.shapes.world` (other sizes are resized to it first). On the world's own
pictures it is right nearly always (see tests/test_shapes_world.py); on a model's
renders it measures how well the model follows its prompt (bench/shapes_adherence.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import world

_NAMES = list(world.COLOURS)
THRESHOLD = 62.0  # RGB distance from the background that counts as the shape (half the closest pair)
# every colour, plain and as the darker stripe of a painting, maps back to its name
_REFS = np.array([world.COLOURS[n] for n in _NAMES] + [[v * world.STRIPE_SHADE for v in world.COLOURS[n]]
                                                       for n in _NAMES], dtype=np.float32)


@dataclass(frozen=True)
class Reading:
    colour: str | None  # the shape's colour; None when no shape stands out
    background: str
    shape: str | None
    format: str
    shares: dict  # colour name -> share of the picture's pixels nearest to it


def nearest(rgb) -> str:
    d = ((_REFS - np.asarray(rgb, dtype=np.float32)) ** 2).sum(-1)
    return _NAMES[int(d.argmin()) % len(_NAMES)]


def _as_array(image) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        from PIL import Image

        image = image.convert("RGB")
        if image.size != (world.SIZE, world.SIZE):
            image = image.resize((world.SIZE, world.SIZE), Image.Resampling.BOX)
        image = np.asarray(image)
    return image.astype(np.float32)


def _blur(img: np.ndarray) -> np.ndarray:
    p = np.pad(img, ((1, 1), (1, 1), (0, 0)), mode="edge")
    h, w = img.shape[:2]
    return sum(p[dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)) / 9.0


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """The mask with every region not reachable from the border filled in."""
    outside = np.zeros_like(mask)
    outside[0, :], outside[-1, :], outside[:, 0], outside[:, -1] = (~mask[0, :], ~mask[-1, :],
                                                                    ~mask[:, 0], ~mask[:, -1])
    while True:
        grown = outside.copy()
        grown[1:, :] |= outside[:-1, :]
        grown[:-1, :] |= outside[1:, :]
        grown[:, 1:] |= outside[:, :-1]
        grown[:, :-1] |= outside[:, 1:]
        grown &= ~mask
        if (grown == outside).all():
            return ~outside
        outside = grown


def colour_shares(image) -> dict:
    """The share of the picture's pixels nearest to each colour."""
    img = _as_array(image)
    d = ((img[:, :, None, :] - _REFS[None, None]) ** 2).sum(-1)
    idx = d.argmin(-1) % len(_NAMES)
    return {n: float((idx == i).mean()) for i, n in enumerate(_NAMES)}


def _shape(filled: np.ndarray) -> str | None:
    ys, xs = np.nonzero(filled)
    if len(ys) < 6:
        return None
    y0, y1, x0, x1 = ys.min(), ys.max(), xs.min(), xs.max()
    box = filled[y0:y1 + 1, x0:x1 + 1]
    h, w = box.shape
    fill = box.mean()
    widths = box.sum(1).astype(np.float32) / w
    top = widths[: max(1, h // 4)].mean()
    mid = widths[h // 4: max(h // 4 + 1, 3 * h // 4)].mean()
    bottom = widths[-max(1, h // 4):].mean()
    # a star's lower part has two legs: rows with two runs of pixels
    legs = 0
    for row in box[int(h * 0.7):]:
        runs = int(row[0]) + int(np.count_nonzero(row[1:] & ~row[:-1]))
        legs += runs >= 2
    if fill > 0.86 and top > 0.75:
        return "square"
    if legs >= 1 and fill < 0.62:
        return "star"
    if bottom > top + 0.35 and bottom >= mid:
        return "triangle"
    if fill > 0.62 and top < 0.85 and bottom < 0.85:
        return "circle"
    if fill < 0.5:
        return "star"
    return "triangle" if bottom > top else "circle"


def _grow(mask: np.ndarray, n: int) -> np.ndarray:
    for _ in range(n):
        g = mask.copy()
        g[1:, :] |= mask[:-1, :]
        g[:-1, :] |= mask[1:, :]
        g[:, 1:] |= mask[:, :-1]
        g[:, :-1] |= mask[:, 1:]
        mask = g
    return mask


def _format(img: np.ndarray, sharp: np.ndarray, filled: np.ndarray) -> str:
    grey = img.mean(-1)
    a = np.abs(grey[1:, 1:] - grey[:-1, :-1]).mean()  # across diagonal stripes
    b = np.abs(grey[1:, :-1] - grey[:-1, 1:]).mean()  # along them
    if a > 6 and a > 2.2 * b:
        return "painting"
    away = ~_grow(filled, 2)  # the background, clear of the shape's edges
    hf = np.abs(img - _blur(img)).mean(-1)[away].mean() if away.sum() > 20 else 0.0
    if hf > 5 or _lit_from_above(grey, away):
        return "photo"
    hollow = _fill_holes(sharp)
    holes = (hollow & ~sharp).sum()
    if holes >= max(6, 0.15 * hollow.sum()):
        return "outline"
    within, across = _by_pixel_pair(np.abs(np.diff(grey, axis=1)), np.abs(np.diff(grey, axis=0)))
    if across > 50 and within < 0.35 * across or _on_a_coarse_grid(sharp):
        return "pixel"
    return "flat"


def _lit_from_above(grey: np.ndarray, away: np.ndarray) -> bool:
    """A photo's light falls from the top: its background's top third is clearly brighter
    than its bottom third (every other format has an even background). Survives the
    blur of a model's decoder, which smooths a photo's grain away."""
    rows = np.arange(grey.shape[0])[:, None]
    third = grey.shape[0] // 3
    top, bottom = grey[(rows < third) & away], grey[(rows >= grey.shape[0] - third) & away]
    if len(top) < 10 or len(bottom) < 10:
        return False
    return top.mean() - bottom.mean() > 3 and top.mean() > 1.06 * bottom.mean()


def _on_a_coarse_grid(sharp: np.ndarray) -> bool:
    """Pixel art is drawn at half resolution: the shape's edges fall between pixel pairs
    (between columns 1|2, 3|4, …), where a smooth drawing's fall anywhere. Read from where
    the shape mask changes, which a decoder's blur moves less than it blurs the colours."""
    off, on = (int(v) for v in _by_pixel_pair(sharp[:, 1:] != sharp[:, :-1], sharp[1:, :] != sharp[:-1, :]))
    return on + off >= 16 and on >= 0.8 * (on + off)


def _by_pixel_pair(dx: np.ndarray, dy: np.ndarray) -> tuple:
    """Sums of horizontal (``dx``) and vertical (``dy``) neighbour differences: those within
    a pixel pair (columns 0|1, 2|3, …) and those across two pairs (1|2, 3|4, …)."""
    return dx[:, 0::2].sum() + dy[0::2, :].sum(), dx[:, 1::2].sum() + dy[1::2, :].sum()


def read(image) -> Reading:
    """What a picture shows: an RGB numpy array (H, W, 3) or a PIL image."""
    img = _as_array(image)
    smooth = _blur(img)
    border = np.concatenate([smooth[:2].reshape(-1, 3), smooth[-2:].reshape(-1, 3),
                             smooth[2:-2, :2].reshape(-1, 3), smooth[2:-2, -2:].reshape(-1, 3)])
    bg_rgb = np.median(border, axis=0)
    background = nearest(bg_rgb)
    dist = np.sqrt(((smooth - bg_rgb) ** 2).sum(-1))
    raw = dist > THRESHOLD
    # the same unblurred: thin lines stay thin (an outline is hollow), a colour stays pure
    sharp_dist = np.sqrt(((img - bg_rgb) ** 2).sum(-1))
    sharp = (sharp_dist > THRESHOLD) & _grow(raw, 1)
    filled = _fill_holes(raw) | _fill_holes(sharp)
    shares = colour_shares(img)
    fmt = _format(img, sharp, filled)
    if fmt in ("painting", "photo"):  # texture: trust the smoothed picture only
        filled = _fill_holes(raw)
    if raw.sum() < 4:
        return Reading(None, background, None, fmt, shares)
    pixels = (smooth if fmt == "photo" else img)[raw]
    d = (dist if fmt == "photo" else sharp_dist)[raw]
    colour = nearest(np.median(pixels[d >= np.percentile(d, 50)], axis=0))
    return Reading(colour, background, _shape(filled), fmt, shares)


def matches(reading: Reading, scene: world.Scene) -> dict:
    """Which of colour, shape, background and format agree with the scene."""
    return {"colour": reading.colour == scene.colour, "shape": reading.shape == scene.shape,
            "background": reading.background == scene.background, "format": reading.format == scene.format}
