"""Ranking an image against catalog entries: arithmetic on arrays, nothing else.

``describe`` embeds an image and every entry's text into one CLIP space; this module
turns those vectors into choices. It knows no model and no file:

* :func:`cosine`: the cosine similarity of every image with every text;
* :func:`rank`: one image's scores, per section, best first, each with its *margin*:
  how far it stands above the median score of its section (CLIP's raw cosines sit in a
  narrow band that differs by model and image; the margin says which entries stand out);
* :func:`candidates`: N distinct candidate prompts from a ranking (below).

Candidates. The first takes the best format, and the top ``styles`` styles and top
``quality`` boosters among those whose margin is at least ``margin`` (none when none
stand out). Each further candidate moves one step down one list: the next format, or
the window of styles (or boosters) shifted by one, in order of how many steps it has
moved in all (formats first on a tie), so the N candidates are N distinct combinations,
each as close to the best as the others allow: Midjourney's ``/describe`` gives four
different takes on one image in the same spirit.

Negatives are not ranked: an image shows what is in it, not what was kept out (a
format's own negatives still come with it when the prompt compiles).
"""
from __future__ import annotations

from dataclasses import dataclass

RANKED = ("format", "style", "quality")


@dataclass(frozen=True, slots=True)
class Label:
    """What one text embedding stands for: a catalog entry (``index``: its row)."""

    section: str
    key: str
    catalog: str
    text: str


@dataclass(frozen=True, slots=True)
class Scored:
    label: Label
    index: int  # row of the label among the texts
    score: float  # cosine similarity with the image
    margin: float  # score - median score of the section

    @property
    def key(self) -> str:
        return self.label.key


@dataclass(frozen=True, slots=True)
class Candidate:
    format: Scored | None
    styles: tuple
    quality: tuple

    def picks(self) -> tuple:
        """Which entries, as ``(section, catalog, key)`` (what makes two candidates the same)."""
        items = ([self.format] if self.format else []) + list(self.styles) + list(self.quality)
        return tuple((s.label.section, s.label.catalog, s.key) for s in items)


def normalize(vectors):
    """Rows scaled to length 1 (a zero row stays zero)."""
    import numpy as np

    a = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(a, axis=-1, keepdims=True)
    return a / np.where(norms == 0, 1.0, norms)


def cosine(images, texts):
    """``(n_images, n_texts)`` cosine similarities of two stacks of row vectors."""
    return normalize(images) @ normalize(texts).T


def rank(scores, labels) -> dict:
    """One image's ``scores`` (one per label) as ``{section: [Scored, best first]}``; ties
    keep catalog order. Every section of :data:`RANKED` is present (maybe empty)."""
    import numpy as np

    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (len(labels),):
        raise ValueError(f"{scores.shape[0] if scores.ndim else 0} scores for {len(labels)} labels")
    sections = np.array([label.section for label in labels])
    out = {}
    for section in RANKED:
        rows = np.flatnonzero(sections == section)
        if not len(rows):
            out[section] = []
            continue
        values = scores[rows]
        median = float(np.median(values))
        order = rows[np.argsort(-values, kind="stable")]  # stable: ties keep catalog order
        out[section] = [Scored(labels[i], int(i), float(scores[i]), float(scores[i]) - median) for i in order]
    return out


def candidates(ranked: dict, count: int, *, margin: float = 0.01, styles: int = 2, quality: int = 2) -> list:
    """Up to ``count`` distinct :class:`Candidate` s from :func:`rank`'s result (fewer when
    the catalogs do not hold that many combinations)."""
    formats = ranked.get("format", [])
    lists = [[s for s in ranked.get("style", []) if s.margin >= margin],
             [s for s in ranked.get("quality", []) if s.margin >= margin]]
    sizes = [styles, quality]
    # how far each list's window can move: a window of k over q items has q - k + 1 places
    places = [max(1, len(items) - k + 1) if k > 0 else 1 for items, k in zip(lists, sizes)]
    axes = (max(1, len(formats)), *places)
    out, seen = [], set()
    for a, b, c in _steps(axes):
        if len(out) >= count:
            break
        candidate = Candidate(formats[a] if formats else None,
                              tuple(lists[0][b:b + sizes[0]]), tuple(lists[1][c:c + sizes[1]]))
        if candidate.picks() not in seen:
            seen.add(candidate.picks())
            out.append(candidate)
    return out


def _steps(axes):
    """Every ``(a, b, c)`` below ``axes``, by ``a + b + c``, then formats moving first;
    lazily (a catalog of 10,000 entries has billions, and a few are wanted)."""
    for total in range(sum(axes) - 2):
        for c in range(min(total, axes[2] - 1) + 1):
            for b in range(min(total - c, axes[1] - 1) + 1):
                a = total - b - c
                if a < axes[0]:
                    yield a, b, c
