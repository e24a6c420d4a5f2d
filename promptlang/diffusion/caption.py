"""Image captioning for ``describe``'s subject: a BLIP model through transformers.

``--caption-model`` names a local ``BlipForConditionalGeneration`` folder (config.json
with ``model_type: blip``, safetensors weights, its tokenizer files) or a Hugging Face
id in the local cache (``Salesforce/blip-image-captioning-base``), loaded offline.
Without one, ``describe`` writes a placeholder subject to fill in. Greedy decoding: the
same image gives the same caption every time.

``builtin:shapes`` captions by choosing instead (:class:`ChoiceCaptioner`): its world
has a closed vocabulary, so the caption is the subject of that world ("a red circle on
a blue background") whose text the shapes CLIP finds nearest the picture: zero-shot
classification, the same every run.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import PromptError, suggest
from .clip import (OPENAI_MEAN, OPENAI_STD, SHAPES, _looks_like_path, _normalization, _safetensors_only, hub_folder,
                   load_clip, locate_clip, read_config)

REAL_CAPTIONER = "Salesforce/blip-image-captioning-base"
MAX_NEW_TOKENS = 30


def locate_captioner(model: str) -> Path:
    """The folder of a BLIP captioning model (or of ``builtin:shapes``' CLIP), checked
    without loading it."""
    if model == SHAPES:
        return locate_clip(SHAPES)[1]
    if model.startswith("builtin:"):
        raise PromptError(f"unknown builtin captioning model `{model}`{suggest(model, [SHAPES])}",
                          hint=f"builtin captioning models: {SHAPES}; or a BLIP model such as {REAL_CAPTIONER}")
    path = Path(model).expanduser()
    if not path.is_dir():
        if path.exists() or _looks_like_path(model):
            raise PromptError(f"captioning model `{model}` not found: no such folder",
                              hint=f"give a BlipForConditionalGeneration folder or a cached id such as {REAL_CAPTIONER}")
        path = hub_folder(model, "captioning model")
    config = path / "config.json"
    if not config.is_file():
        raise PromptError(f"{model}: not a transformers model folder (no config.json)")
    model_type = read_config(config).get("model_type")
    if model_type != "blip":
        raise PromptError(f"{model}: a `{model_type}` model; --caption-model takes a BLIP captioning model",
                          hint=f"such as {REAL_CAPTIONER}")
    _safetensors_only(path, model)
    return path


@dataclass(frozen=True, eq=False)
class Captioner:
    id: str
    model: object
    tokenizer: object
    image_size: int
    mean: tuple = OPENAI_MEAN
    std: tuple = OPENAI_STD

    def caption(self, images) -> list[str]:
        """One caption per PIL image."""
        import numpy as np
        import torch

        from .clip import preprocess

        model = self.model
        param = next(model.parameters())
        pixels = torch.from_numpy(np.stack([preprocess(im, self.image_size, self.mean, self.std) for im in images]))
        with torch.inference_mode():
            ids = model.generate(pixel_values=pixels.to(param.device, param.dtype), max_new_tokens=MAX_NEW_TOKENS,
                                 do_sample=False, num_beams=1)
        return [text.strip() for text in self.tokenizer.batch_decode(ids, skip_special_tokens=True)]


@dataclass(frozen=True, eq=False)
class ChoiceCaptioner:
    """Captions by choosing: of a fixed list of ``texts``, the one a CLIP model finds nearest
    each image (``vectors``: the texts' unit embeddings)."""

    id: str
    clip: object
    texts: tuple
    vectors: object

    def caption(self, images) -> list[str]:
        from ..ranking import cosine

        best = cosine(self.clip.embed_images(images), self.vectors).argmax(axis=1)
        return [self.texts[int(i)] for i in best]


def shapes_captioner(device: str | None = None) -> ChoiceCaptioner:
    """``builtin:shapes``' captioner: every subject of the shapes world, ranked by its CLIP."""
    from ..shapes.world import subjects

    clip = load_clip(SHAPES, device)
    texts = tuple(subjects())
    return ChoiceCaptioner(SHAPES, clip, texts, clip.embed_texts(texts))


def load_captioner(model: str, device: str | None = None) -> Captioner | ChoiceCaptioner:
    if model == SHAPES:
        return shapes_captioner(device)
    import torch
    from transformers import AutoTokenizer, BlipForConditionalGeneration

    from .models import _quiet_loading, default_device

    folder = locate_captioner(model)
    device = device or default_device()
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise PromptError(f"device `{device}` asked for, but torch sees no CUDA GPU", hint="use --device cpu")
    dtype = torch.float16 if str(device).startswith("cuda") else torch.float32
    with _quiet_loading():
        try:
            loaded = BlipForConditionalGeneration.from_pretrained(str(folder), use_safetensors=True,
                                                                  local_files_only=True)
            tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        except Exception as exc:  # transformers raises many types; a user sees one
            raise PromptError(f"{model}: cannot load the captioning model: {exc}") from None
    loaded = loaded.to(device=device, dtype=dtype).eval()
    mean, std = _normalization(folder)
    return Captioner(model, loaded, tokenizer, int(loaded.config.vision_config.image_size), mean, std)
