"""The describe job: an image back to ``.prompt`` files, ranked against the style catalogs.

Plan (everything checked, nothing written): each image is decoded within bounds
(:func:`promptlang.artifacts.png.open_image`); one promptlang rendered carries its
provenance, which says exactly how it was made, so it is not ranked: its ``.prompt``
source is written back as ``STEM.prompt`` (``--ignore-provenance`` ranks it anyway).
Every other image gets ``STEM-1.prompt`` … ``STEM-N.prompt``. Files that exist are
refused before anything loads, unless ``overwrite``.

Run: the CLIP model loads once; every catalog entry's text (formats rendered with a
neutral subject) is embedded, or read from promptlang's cache (``describe/`` in the
cache folder: one safetensors file per catalog, keyed by the catalog's sha256, the
texts, and the text encoder's fingerprint, so a changed catalog or model is a miss, never
a stale hit); images are embedded in batches, ranked (:mod:`promptlang.ranking`), and
each candidate is written with its scores as comments, after it was compiled here: a
candidate that does not compile is never written.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import PromptError, suggest
from . import Event, ignore
from .common import check_free, folder, printable

RANK_VERSION = "1"  # bump when the texts embedded for an entry change
PLACEHOLDER = "a subject"
MAX_CAPTION = 300  # characters of a caption kept as the subject
BATCH = 16  # images per forward pass of the vision tower


@dataclass
class Item:
    """One image: ranked, or described by its provenance (``found`` set)."""

    path: Path
    outputs: list
    ranked: bool = False
    found: object = None
    message: str = ""  # what the provenance says, for an image that is not ranked
    kept: set = field(default_factory=set)  # with resume: outputs an interrupted run already wrote

    @property
    def todo(self) -> bool:
        """Something is left to write or say."""
        return not self.outputs or any(path not in self.kept for path in self.outputs)


@dataclass
class Plan:
    items: list
    out: Path
    model: str | None
    catalogs: list  # (use name, Catalog)
    search_dirs: list
    caption_model: str | None = None
    count: int = 4
    margin: float = 0.01
    styles: int = 2
    quality: int = 2
    cache: bool = True
    labels: list = field(default_factory=list)


def plan(images, out, *, use=("core",), search_dirs=(), model=None, caption_model=None, count: int = 4,
         margin: float = 0.01, styles: int = 2, quality: int = 2, ignore_provenance: bool = False,
         overwrite: bool = False, resume: bool = False, cache: bool = True) -> Plan:
    """Check everything, write nothing. ``resume``: a file an interrupted describe of the same
    image wrote (recognised by its first line) is kept, and what is missing is written; any
    other file in the way is still refused unless ``overwrite``."""
    from ..artifacts import records
    from ..artifacts.png import open_image

    out = folder(out)
    items = []
    for path in images:
        path = Path(path)
        _, text = open_image(path)  # every image decodes, within bounds, before anything is written
        if not ignore_provenance and {records.RENDER, records.WALK, records.SHEET} & set(text):
            items.append(_from_provenance(path, out))
        else:
            items.append(Item(path, [out / f"{path.stem}-{i}.prompt" for i in range(1, count + 1)], ranked=True))
    if resume:
        for item in items:
            item.kept = {path for path in item.outputs if _ours(path, item)}
    check_free([p for item in items for p in item.outputs if p not in item.kept], overwrite, resumable=True)
    the_plan = Plan(items, out, None, [], list(search_dirs), caption_model, count, margin, styles, quality, cache)
    if any(item.ranked and item.todo for item in items):
        from ..diffusion.clip import default_model, locate_clip

        the_plan.model = model or default_model()
        locate_clip(the_plan.model)
        if caption_model:
            from ..diffusion.caption import locate_captioner

            locate_captioner(caption_model)
        the_plan.catalogs = [(name, _catalog(name, search_dirs)) for name in dict.fromkeys(use)]
        the_plan.labels = labels([cat for _, cat in the_plan.catalogs])
        if not the_plan.labels:
            raise PromptError("the catalogs " + ", ".join(n for n, _ in the_plan.catalogs) + " hold no format, style "
                              "or quality entries to rank")
    return the_plan


def _first_line(image_name: str, number: int | None) -> str:
    """How every file describe writes for an image starts (what --resume recognises):
    ``number`` is the candidate's, None for the .prompt read from the image's provenance."""
    if number is None:
        return f"# From the provenance of {_comment(image_name)}: "
    from .. import __version__

    return f"# Described by promptlang {__version__} from {_comment(image_name)}: candidate {number} of "


def _ours(path: Path, item: Item) -> bool:
    if not path.is_file():
        return False
    number = None if item.found is not None else item.outputs.index(path) + 1
    try:
        with open(path, "rb") as handle:
            head = handle.read(1024).decode("utf-8", "replace")
    except OSError:
        return False
    return head.startswith(_first_line(item.path.name, number))


def _from_provenance(path: Path, out: Path) -> Item:
    from ..artifacts import records

    found = records.read(path)
    hint = "pass --ignore-provenance to rank it against the catalogs anyway"
    if records.RENDER in found.errors:
        err = found.errors[records.RENDER]
        raise PromptError(err.message, hint=hint)
    if found.render is not None:
        info = found.render
        what = (f"promptlang rendered it (prompt `{found.prompt.name}`, seed {info['seed']}, model "
                f"{info['model']}): its provenance says how, no guessing needed")
        if info.get("source"):
            return Item(path, [out / f"{path.stem}.prompt"], found=found)
        return Item(path, [], found=found, message=printable(
            f"{path}: {what}; it carries no .prompt source: `promptlang reproduce {path}` renders it again, "
            f"`promptlang show {path}` shows its prompt"))
    if found.walk is not None:
        names = " to ".join(f"`{q.name}`" for q in found.endpoints)
        return Item(path, [], found=found, message=printable(
            f"{path}: a frame of a promptlang {found.walk['kind']} from {names}: its provenance says how, no guessing "
            f"needed; `promptlang show {path}` shows the prompts, `promptlang reproduce {path}` renders it again "
            f"({hint})"))
    for chunk in (records.WALK, records.SHEET):
        if chunk in found.errors:
            raise PromptError(found.errors[chunk].message, hint=hint)
    return Item(path, [], found=found, message=printable(
        f"{path}: a promptlang sheet or one of its tiles: its provenance says how, no guessing needed; "
        f"`promptlang show {path}` shows what it holds ({hint})"))


def _catalog(name: str, search_dirs):
    from ..catalog import bundled_names, find, load

    path = find(name, search_dirs)
    if path is None:
        raise PromptError(f"no catalog named `{name}`{suggest(name, bundled_names())}",
                          hint="bundled catalogs: " + ", ".join(bundled_names())
                               + "; --catalogs DIR adds a folder of NAME.yaml files")
    return load(path)


def labels(catalogs) -> list:
    """A :class:`promptlang.ranking.Label` per ranked entry, in catalog order: its text as
    CLIP should read it (a format rendered with a neutral subject)."""
    from ..ranking import RANKED, Label
    from ..styleguide import NEUTRAL_SUBJECT, rendered_text

    out = []
    for cat in catalogs:
        for section in RANKED:
            for key, entry in cat.entries.get(section, {}).items():
                where = f"{cat.path}: {section}.{key}"
                out.append(Label(section, key, cat.name, rendered_text(entry, where, NEUTRAL_SUBJECT)))
    return out


# --------------------------------------------------------------------------- run

def run(the_plan: Plan, *, device=None, report=ignore) -> list[Path]:
    written = []
    kept = sum(len(item.kept) for item in the_plan.items)
    if kept:
        report(Event("info", f"{_count(kept, 'file is', 'files are')} already there from an interrupted run: kept "
                             "(resume)"))
    for item in the_plan.items:
        if item.found is not None and item.todo:
            written += _write_provenance(item, the_plan, report)
    ranked = [item for item in the_plan.items if item.ranked and item.todo]
    if not ranked:
        return written
    from ..artifacts.png import open_image
    from ..diffusion.clip import load_clip
    from ..ranking import cosine

    clip = load_clip(the_plan.model, device)
    if clip.test_model:
        report(Event("note", f"{the_plan.model} is a tiny random-weight test CLIP: it ranks by chance. It proves the "
                             "whole path works; give a real CLIP with --model (e.g. openai/clip-vit-large-patch14)"))
    texts = text_embeddings(clip, the_plan, report)
    captioner = None
    if the_plan.caption_model:
        from ..diffusion.caption import load_captioner

        captioner = load_captioner(the_plan.caption_model, device)
    done = 0
    for start in range(0, len(ranked), BATCH):
        batch = ranked[start:start + BATCH]
        pictures = [open_image(item.path)[0] for item in batch]  # again: the plan keeps no pixels in memory
        vectors = clip.embed_images(pictures)
        scores = cosine(vectors, texts)
        captions = captioner.caption(pictures) if captioner else [None] * len(batch)
        for item, vector, row, caption in zip(batch, vectors, scores, captions):
            written += _write_candidates(item, vector, row, caption, clip, the_plan, report)
            done += 1
            report(Event("progress", task="describe", done=done, total=len(ranked)))
    return written


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def cache_key(clip_identity: str, cat, texts) -> str:
    payload = {"rank": RANK_VERSION, "clip": clip_identity, "catalog": cat.sha256, "texts": list(texts)}
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode("utf-8")).hexdigest()


def text_embeddings(clip, the_plan: Plan, report=ignore):
    """Unit text vectors for ``the_plan.labels``, catalog by catalog from the cache when it
    has them (``(n_labels, dim)`` float32)."""
    import numpy as np

    from ..cache import entry_path

    identity = clip.identity()
    parts = []
    for name, cat in the_plan.catalogs:
        rows = [label for label in the_plan.labels if label.catalog == cat.name]
        texts = [label.text for label in rows]
        if not texts:
            continue
        key = cache_key(identity, cat, texts)
        path = entry_path("describe", key, ".safetensors") if the_plan.cache else None
        vectors = _cache_read(path, key, len(texts))
        if vectors is None:
            def progress(done, total, _task=f"embedding {name}"):
                report(Event("progress", task=_task, done=done, total=total))

            vectors = clip.embed_texts(texts, progress=progress)
            _cache_write(path, key, vectors, cat, clip.id)
            report(Event("info", f"catalog {name}: {_count(len(texts), 'entry', 'entries')} embedded with {clip.id}"
                                 + (" (cached for next time)" if path is not None else "")))
        else:
            report(Event("info", f"catalog {name}: {_count(len(texts), 'entry embedding', 'entry embeddings')} "
                                 "from the cache"))
        parts.append(vectors)
    return np.concatenate(parts)


def _cache_read(path, key: str, rows: int):
    if path is None or not path.is_file():
        return None
    from ..artifacts.embeddings import load

    try:
        tensors, meta = load(path)
    except PromptError:
        return None  # a damaged entry is a miss
    vectors = tensors.get("texts")
    if meta.get("key") != key or vectors is None or vectors.ndim != 2 or vectors.shape[0] != rows:
        return None
    return vectors.float().numpy()


def _cache_write(path, key: str, vectors, cat, model_id: str) -> None:
    if path is None:
        return
    import torch

    from ..artifacts.embeddings import save

    try:
        save(path, {"texts": torch.from_numpy(vectors)}, {"key": key, "catalog": cat.name, "model": model_id})
    except (OSError, PromptError):
        pass  # a cache that cannot be written is no reason to fail


# --------------------------------------------------------------------------- writing

def _write_provenance(item: Item, the_plan: Plan, report) -> list:
    if not item.outputs:
        report(Event("note", item.message))
        return []
    from ..files import write_bytes

    info = item.found.render
    (target,) = item.outputs
    s = item.found.prompt.settings
    used = (f"model {info['model']}, size {s.width}x{s.height}, steps {s.steps}, guidance {s.guidance:g}, "
            f"scheduler {s.scheduler or 'the model default'}, seed {info['seed']}")
    header = (_first_line(item.path.name, None) + "promptlang rendered it, so nothing is guessed.\n"
              f"# It was rendered as prompt `{item.found.prompt.name}` of this file with {_comment(used)}\n"
              "# (flags given to render win over what the file states).\n"
              f"# `promptlang reproduce {_comment(item.path.name)}` renders the same pixels again.\n")
    source = header + info["source"]
    the_plan.out.mkdir(parents=True, exist_ok=True)
    write_bytes(target, source.encode("utf-8"))
    report(Event("file", printable(f"prompt `{item.found.prompt.name}`, seed {info['seed']}: the .prompt it was "
                                   "rendered from, read from its provenance, not ranked"), path=target))
    try:
        from ..compiler import compile_source

        compile_source(source, str(target), search_dirs=the_plan.search_dirs, lint=False)
    except PromptError as exc:
        report(Event("warning", printable(f"{target}: does not compile here ({exc.message}); "
                                          f"`promptlang reproduce {item.path}` needs no catalogs")))
    return [target]


def _write_candidates(item: Item, vector, row, caption, clip, the_plan: Plan, report) -> list:
    from ..compiler import compile_source
    from ..files import write_bytes
    from ..ir import join_text
    from ..ranking import candidates, cosine, rank

    ranked = rank(row, the_plan.labels)
    chosen = candidates(ranked, the_plan.count, margin=the_plan.margin, styles=the_plan.styles,
                        quality=the_plan.quality)
    if len(chosen) < the_plan.count:
        report(Event("warning", f"{item.path}: the catalogs give only {len(chosen)} distinct candidates"))
    subject = clean_caption(caption) if caption is not None else ""
    qualify = len(the_plan.catalogs) > 1
    sources = []
    for number, (cand, target) in enumerate(zip(chosen, item.outputs), start=1):
        name = prompt_name(item.path.stem, number)
        for qualified in dict.fromkeys([qualify, True]):  # a key the grammar reads otherwise (`blend`) needs it
            text = source(cand, ranked, subject=subject, name=name, image=item.path.name, number=number,
                          total=len(chosen), model=the_plan.model, uses=[n for n, _ in the_plan.catalogs],
                          qualify=qualified, caption_model=the_plan.caption_model, margin=the_plan.margin)
            try:
                compiled = compile_source(text, str(target), search_dirs=the_plan.search_dirs, lint=False)
                break
            except PromptError:
                if qualified:
                    raise
        sources.append((target, text, join_text(compiled.prompts[0].segments[0].positive)))
    wholes = cosine(vector[None], clip.embed_texts([positive for _, _, positive in sources]))[0]
    written = []
    the_plan.out.mkdir(parents=True, exist_ok=True)
    for (target, text, _), whole in zip(sources, wholes):
        if target in item.kept:
            continue
        text = text.replace(WHOLE_MARK, f"{whole:.4f}", 1)
        write_bytes(target, text.encode("utf-8"))
        written.append(target)
        report(Event("file", f"candidate for {printable(item.path.name)}, whole prompt {whole:.3f}", path=target))
    return written


WHOLE_MARK = "@WHOLE@"  # stands for the whole prompt's score until it is known


def clean_caption(text: str) -> str:
    """A caption as a subject: printable, one line, at most :data:`MAX_CAPTION` characters."""
    text = "".join(c if c.isprintable() else " " for c in str(text))
    return " ".join(text.split())[:MAX_CAPTION].strip()


def _comment(text) -> str:
    """Text for a ``#`` comment: printable, and on one line."""
    return printable(text).replace("\n", " ").replace("\t", " ")


def quote(text: str) -> str:
    """``text`` as a .prompt string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def prompt_name(stem: str, number: int) -> str:
    base = re.sub(r"[^A-Za-z0-9_]+", "_", stem).strip("_")[:60] or "image"
    if not re.match(r"[A-Za-z_]", base):
        base = f"image_{base}"
    return f"{base}_{number}"


def _ref(scored, qualify: bool) -> str:
    return f"{scored.label.catalog}.{scored.key}" if qualify else scored.key


def _score(scored) -> str:
    return f"{scored.score:.4f} ({scored.margin:+.4f})"


def source(cand, ranked: dict, *, subject: str, name: str, image: str, number: int, total: int, model: str,
           uses, qualify: bool, caption_model: str | None, margin: float, alternatives: int = 5) -> str:
    """The text of one candidate ``.prompt`` file: scores as comments, then ``use`` lines and
    the prompt. The whole prompt's score is :data:`WHOLE_MARK` until it is known."""
    lines = [_first_line(image, number) + f"{total}.",
             f"# Scores: cosine similarity of the image and each entry's text under the CLIP model {_comment(model)};",
             "# in brackets the margin above the median of the entry's section. Styles and quality boosters",
             f"# are kept when their margin is at least {margin:g}.",
             f"# whole prompt (its positive text against the image): {WHOLE_MARK}"]
    picked = {id(s) for s in ([cand.format] if cand.format else []) + list(cand.styles) + list(cand.quality)}
    chosen_lines = []
    for section, items in (("format", [cand.format] if cand.format else []), ("style", cand.styles),
                           ("quality", cand.quality)):
        for s in items:
            chosen_lines.append(f"#   {section:<8} {_ref(s, qualify):<28} {_score(s)}")
        others = [s for s in ranked.get(section, []) if id(s) not in picked][:alternatives]
        if others:
            chosen_lines.append(f"#   {section} also close: " + ", ".join(f"{_ref(s, qualify)} {s.score:.4f}"
                                                                           for s in others))
    lines += ["#", "# chosen (and the next best of each section):", *chosen_lines]
    if subject:
        lines.append(f"# subject: the caption of {_comment(caption_model)}")
    lines += [""] + [f"use {n}" for n in uses] + ["", f"prompt {name} {{"]
    if subject:
        lines.append(f"    subject {quote(subject)}")
    else:
        lines.append(f"    subject {quote(PLACEHOLDER)}  # fill in: what the picture shows "
                     "(--caption-model writes a caption here)")
    if cand.format:
        lines.append(f"    format  {_ref(cand.format, qualify)}")
    if cand.styles:
        lines.append("    style   " + ", ".join(_ref(s, qualify) for s in cand.styles))
    if cand.quality:
        lines.append("    quality " + ", ".join(_ref(s, qualify) for s in cand.quality))
    lines += ["}", ""]
    return "\n".join(lines)
