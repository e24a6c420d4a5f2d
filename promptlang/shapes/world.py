"""A world of coloured shapes on coloured backgrounds, each picture with a caption.

``scene(seed)`` picks what is in a picture (shape, colours, size, position, format),
``draw(scene)`` paints it (32x32 RGB, numpy uint8) and ``caption(scene, rng)`` says it
in the words promptlang's catalogs use: "a red circle on a blue background, pixel art".
Everything is deterministic from the seed. Needs numpy and Pillow only.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np

SIZE = 32
SHAPES = ("circle", "square", "triangle", "star")
# well separated in RGB, so a picture's colours can be read back by nearest colour
COLOURS = {
    "red": (230, 30, 30),
    "yellow": (250, 225, 20),
    "green": (30, 170, 50),
    "blue": (30, 80, 230),
    "purple": (140, 40, 190),
    "white": (245, 245, 245),
    "black": (15, 15, 15),
}
SIZES = {"small": 6.5, "medium": 9.0, "large": 12.0}  # the shape's radius in pixels
FORMATS = ("flat", "outline", "pixel", "photo", "painting")
# how each format is said: a leading phrase ("a photo of a red circle") or a trailing tag
FORMAT_WORDS = {
    "flat": ("a flat illustration of {s}", "{s}, flat illustration"),
    "outline": ("a line drawing of {s}", "{s}, line art"),
    "pixel": ("pixel art of {s}", "{s}, pixel art"),
    "photo": ("a photo of {s}", "{s}, photo"),
    "painting": ("a painting of {s}", "{s}, painting"),
}
STRIPE_SHADE = 0.72  # the darker stripe of a painting, as a fraction of the colour


@dataclass(frozen=True)
class Scene:
    shape: str
    colour: str
    background: str
    size: str
    format: str
    x: float  # centre, in pixels
    y: float


def scene(seed: int, **fixed) -> Scene:
    """A random scene from ``seed``; keyword arguments fix any of its fields."""
    rng = random.Random(seed)
    shape = fixed.get("shape") or rng.choice(SHAPES)
    colour = fixed.get("colour") or rng.choice(list(COLOURS))
    background = fixed.get("background") or rng.choice([c for c in COLOURS if c != colour])
    size = fixed.get("size") or rng.choice(list(SIZES))
    fmt = fixed.get("format") or rng.choice(FORMATS)
    r = SIZES[size]
    margin = r + 2.5
    x = fixed.get("x", rng.uniform(margin, SIZE - margin))
    y = fixed.get("y", rng.uniform(margin, SIZE - margin))
    return Scene(shape, colour, background, size, fmt, x, y)


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def subject(sc: Scene, background: bool = True, size: bool = True) -> str:
    words = ([sc.size] if size and sc.size != "medium" else []) + [sc.colour, sc.shape]
    text = f"{_article(words[0])} {' '.join(words)}"
    return text + (f" on {_article(sc.background)} {sc.background} background" if background else "")


def subjects() -> list[str]:
    """Every subject the world has words for, as :func:`subject` says it (size, colour,
    shape and background): 504 texts."""
    return [subject(Scene(shape, colour, background, size, "flat", 0.0, 0.0))
            for size in SIZES for colour in COLOURS for shape in SHAPES for background in COLOURS
            if background != colour]


def caption(sc: Scene, rng: random.Random | None = None) -> str:
    """The scene in words. With ``rng``, a varied caption as training sees them (the
    background or format sometimes left unsaid, the format said either way); without,
    the full canonical one."""
    if rng is None:
        return FORMAT_WORDS[sc.format][1].format(s=subject(sc))
    s = subject(sc, background=rng.random() > 0.15, size=rng.random() > 0.2)
    if sc.format == "flat" and rng.random() < 0.5:
        return s
    return rng.choice(FORMAT_WORDS[sc.format]).format(s=s)


def _polygon(sc: Scene, scale: float):
    cx, cy, r = sc.x * scale, sc.y * scale, SIZES[sc.size] * scale
    if sc.shape == "square":
        h = r * 0.85
        return [(cx - h, cy - h), (cx + h, cy - h), (cx + h, cy + h), (cx - h, cy + h)]
    if sc.shape == "triangle":
        # pointing up, its centroid at the centre
        return [(cx + r * math.cos(math.radians(a)), cy + r * 1.1 * math.sin(math.radians(a)) + r * 0.1)
                for a in (-90, 30, 150)]
    if sc.shape == "star":
        points = []
        for i in range(10):
            a = math.radians(-90 + 36 * i)
            rr = r * 1.1 if i % 2 == 0 else r * 0.45
            points.append((cx + rr * math.cos(a), cy + rr * math.sin(a) + r * 0.1))
        return points
    return None  # circle


def _mask(sc: Scene, side: int, outline: bool = False, antialias: bool = True) -> np.ndarray:
    """Coverage of the shape on a ``side`` x ``side`` grid, floats in 0..1."""
    from PIL import Image, ImageDraw

    ss = 4 if antialias else 1
    scale = side / SIZE * ss
    img = Image.new("L", (side * ss, side * ss), 0)
    d = ImageDraw.Draw(img)
    width = max(1, round(2.0 * scale)) if outline else 0
    poly = _polygon(sc, scale)
    if poly is None:
        cx, cy, r = sc.x * scale, sc.y * scale, SIZES[sc.size] * scale
        box = [cx - r, cy - r, cx + r, cy + r]
        if outline:
            d.ellipse(box, outline=255, width=width)
        else:
            d.ellipse(box, fill=255)
    elif outline:
        d.polygon(poly, outline=255, width=width)
    else:
        d.polygon(poly, fill=255)
    if ss > 1:
        img = img.resize((side, side), Image.Resampling.BOX)
    return np.asarray(img, dtype=np.float32) / 255.0


def draw(sc: Scene, seed: int = 0) -> np.ndarray:
    """The picture of ``sc``: a ``(32, 32, 3)`` uint8 array. ``seed`` drives the photo
    noise only."""
    fg = np.array(COLOURS[sc.colour], dtype=np.float32)
    bg = np.array(COLOURS[sc.background], dtype=np.float32)
    if sc.format == "pixel":
        small = _mask(sc, SIZE // 2, antialias=False)
        m = np.repeat(np.repeat(small, 2, axis=0), 2, axis=1)
    else:
        m = _mask(sc, SIZE, outline=sc.format == "outline")
    img = bg * (1 - m[..., None]) + fg * m[..., None]
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    if sc.format == "painting":
        stripe = ((xx + yy) // 2) % 2 == 1
        img = np.where(stripe[..., None], img * STRIPE_SHADE, img)
    elif sc.format == "photo":
        rng = np.random.default_rng(seed)
        light = 1.12 - 0.24 * (yy / (SIZE - 1))  # lit from above
        img = img * light[..., None] + rng.normal(0, 16, size=img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def sample(seed: int, **fixed) -> tuple[np.ndarray, str, Scene]:
    """Picture, varied caption and scene for one seed (what training draws)."""
    sc = scene(seed, **fixed)
    return draw(sc, seed), caption(sc, random.Random(seed * 7919 + 1)), sc


def batch(seeds) -> tuple[np.ndarray, list[str], list[Scene]]:
    images, captions, scenes = [], [], []
    for s in seeds:
        i, c, sc = sample(int(s))
        images.append(i)
        captions.append(c)
        scenes.append(sc)
    return np.stack(images), captions, scenes
