"""CLIP models for ``describe``: an image encoder and its matching text encoder.

:func:`load_clip` understands these model strings (:func:`locate_clip` checks one
without loading anything, so a typo fails while a job plans):

* a ``transformers.CLIPModel`` folder (``config.json`` with ``model_type: clip``,
  ``model.safetensors``, tokenizer files; without tokenizer files the shipped CLIP
  vocabulary is used, the same for every OpenAI/OpenCLIP model);
* a Hugging Face id in the local cache, offline (``openai/clip-vit-large-patch14``);
  when it is missing the error names the ``hf download`` command;
* a Stable Diffusion folder or cached id whose text encoder is CLIP, when it also holds a
  matching vision tower (``image_encoder/``); a text encoder alone cannot look at an
  image, so the error then names the CLIP model that text encoder came from;
* ``builtin:shapes``: the small CLIP trained on shapes that ships in
  ``promptlang/data/shapes/clip`` (when this installation has it);
* ``builtin:tiny-clip``: a tiny random-weight CLIP built in code. It ranks by chance: it
  exists, like ``builtin:tiny``, to prove the whole path on any machine.

A :class:`Clip` embeds texts and images to unit vectors (numpy float32) in the shared
space; cosine similarity is then a dot product (see :mod:`promptlang.ranking`). Weights
are read from safetensors only. torch and transformers are imported inside functions.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import PromptError, suggest

TINY_CLIP = "builtin:tiny-clip"
SHAPES = "builtin:shapes"
BUILTIN_CLIP = (TINY_CLIP, SHAPES)
REAL_CLIP = "openai/clip-vit-large-patch14"
# the CLIP a Stable Diffusion text encoder comes from, by its width (SD 1.x and SDXL's first
# encoder: ViT-L/14; SD 2.x: OpenCLIP ViT-H/14; SDXL's second: OpenCLIP ViT-bigG/14)
CLIP_OF_WIDTH = {768: REAL_CLIP, 1024: "laion/CLIP-ViT-H-14-laion2B-s32B-b79K",
                 1280: "laion/CLIP-ViT-bigG-14-laion2B-39B-b160k"}
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
MAX_CONFIG = 1024 * 1024  # bytes of a config.json / preprocessor_config.json we read


def shapes_folder() -> Path:
    return Path(__file__).resolve().parent.parent / "data" / "shapes" / "clip"


def default_model() -> str:
    """``builtin:shapes`` when this installation ships it, else ``openai/clip-vit-large-patch14``."""
    return SHAPES if (shapes_folder() / "config.json").is_file() else REAL_CLIP


# --------------------------------------------------------------------------- where a model is

def download_hint(repo: str) -> str:
    return (f"on a machine with network run `hf download {repo}` (then copy the Hugging Face cache folder "
            f"here), or pass a local CLIP folder with --model")


def hub_folder(model: str, what: str = "CLIP model") -> Path:
    """The folder of a Hugging Face id in the local cache, offline; a PromptError naming the
    download command when it is not there."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    try:
        return Path(snapshot_download(model, local_files_only=True))
    except HFValidationError:
        raise PromptError(f"{what} `{model}` is neither a local folder nor a valid Hugging Face id",
                          hint="give a folder, a Hugging Face id (owner/name), " + " or ".join(BUILTIN_CLIP)) from None
    except (LocalEntryNotFoundError, FileNotFoundError, OSError):
        from huggingface_hub import constants

        raise PromptError(f"{what} `{model}` is not in the local Hugging Face cache ({constants.HF_HUB_CACHE})",
                          hint=download_hint(model)) from None


def read_config(path: Path) -> dict:
    """A model's JSON config, read within a size limit (a PromptError if it is not JSON)."""
    from ..files import read_limited

    try:
        data = json.loads(read_limited(path, MAX_CONFIG, "a model config"))
    except ValueError as exc:
        raise PromptError(f"{path}: not a JSON model config ({exc})") from None
    if not isinstance(data, dict):
        raise PromptError(f"{path}: not a JSON model config (not an object)")
    return data


def _looks_like_path(model: str) -> bool:
    return model.startswith((".", "/", "~")) or model.count("/") > 1 or "\\" in model


def locate_clip(model: str) -> tuple[str, Path | None]:
    """Where a CLIP model string points, checked without loading: ``("builtin", None)``,
    ``("clip", folder)`` or ``("sd", folder)``."""
    if model.startswith("builtin:"):
        if model in ("builtin:tiny", "builtin:tiny-sdxl"):
            raise PromptError(f"{model} is a diffusion test model: its CLIP has a text encoder but no vision tower, "
                              "so it cannot look at an image",
                              hint=f"use {TINY_CLIP} (random weights: proves the path, ranks by chance), "
                                   f"{SHAPES}, or a real CLIP such as {REAL_CLIP}")
        if model == SHAPES:
            if not (shapes_folder() / "config.json").is_file():
                raise PromptError(f"{SHAPES} is not in this installation (no CLIP model in {shapes_folder()})",
                                  hint=f"use {TINY_CLIP} to try the path, or a real CLIP: {download_hint(REAL_CLIP)}")
            return "clip", shapes_folder()
        if model != TINY_CLIP:
            raise PromptError(f"unknown builtin CLIP model `{model}`{suggest(model, BUILTIN_CLIP)}",
                              hint="builtin CLIP models: " + ", ".join(BUILTIN_CLIP))
        return "builtin", None
    path = Path(model).expanduser()
    if path.is_file():
        raise PromptError(f"{model}: a CLIP model is a folder (config.json, model.safetensors and tokenizer files), "
                          "not a single file")
    if not path.is_dir():
        if path.exists() or _looks_like_path(model):
            raise PromptError(f"CLIP model `{model}` not found: no such folder",
                              hint="give a CLIPModel folder, a Hugging Face id in the local cache, or "
                                   + " / ".join(BUILTIN_CLIP))
        path = hub_folder(model)
    if (path / "model_index.json").is_file():
        return "sd", path
    if (path / "config.json").is_file():
        model_type = read_config(path / "config.json").get("model_type")
        if model_type == "clip":
            return "clip", path
        raise PromptError(f"{model}: a `{model_type}` model, not CLIP (config.json says model_type "
                          f"{json.dumps(model_type)})", hint=f"describe ranks with a CLIP model such as {REAL_CLIP}")
    raise PromptError(f"{model}: neither a CLIP model folder (config.json) nor a Stable Diffusion folder "
                      "(model_index.json)", hint=f"save one with CLIPModel.save_pretrained(folder), or {download_hint(REAL_CLIP)}")


def _safetensors_only(folder: Path, model: str) -> None:
    if not any(folder.glob("*.safetensors")):
        raise PromptError(f"{model}: {folder} has no .safetensors weights (pickle weights, .bin, can run code when "
                          "loaded; promptlang reads safetensors only)",
                          hint="convert it once where you trust it: model.save_pretrained(folder, "
                               "safe_serialization=True)")


# --------------------------------------------------------------------------- the model

@dataclass(frozen=True, eq=False)
class Clip:
    """A loaded CLIP: text and image towers with their projections into one space."""

    id: str
    text_model: object  # -> pooler_output
    text_projection: object
    vision_model: object
    visual_projection: object
    tokenizer: object
    image_size: int
    mean: tuple
    std: tuple
    test_model: bool = False

    @property
    def device(self):
        return next(self.text_projection.parameters()).device

    @property
    def dtype(self):
        return next(self.text_projection.parameters()).dtype

    @property
    def max_tokens(self) -> int:
        return int(getattr(self.text_model.config, "max_position_embeddings", 77))

    def embed_texts(self, texts, batch_size: int = 256, progress=None):
        """Unit vectors ``(len(texts), dim)``, float32 numpy; texts over the model's 77
        tokens are cut there (CLIP reads no further)."""
        import numpy as np
        import torch

        out = []
        texts = list(texts)
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                chunk = texts[start:start + batch_size]
                tokens = self.tokenizer(chunk, padding=True, truncation=True, max_length=self.max_tokens,
                                        return_tensors="pt")
                pooled = self.text_model(input_ids=tokens["input_ids"].to(self.device),
                                         attention_mask=tokens["attention_mask"].to(self.device)).pooler_output
                out.append(_unit(self.text_projection(pooled)))
                if progress is not None:
                    progress(min(start + batch_size, len(texts)), len(texts))
        dim = self.text_projection.out_features
        return np.concatenate(out) if out else np.zeros((0, dim), dtype=np.float32)

    def pixels(self, images):
        """The images as the vision tower reads them: the short side resized to its input
        size (bicubic), the centre cropped square, normalized by the model's mean and std."""
        import numpy as np
        import torch

        return torch.from_numpy(np.stack([preprocess(im, self.image_size, self.mean, self.std) for im in images]))

    def embed_images(self, images):
        """Unit vectors ``(len(images), dim)`` for PIL images, float32 numpy."""
        import torch

        with torch.inference_mode():
            pixels = self.pixels(images).to(self.device, self.dtype)
            pooled = self.vision_model(pixel_values=pixels).pooler_output
            return _unit(self.visual_projection(pooled))

    def identity(self) -> str:
        """A fingerprint of what decides the text embeddings: the tokenizer, the text tower's
        class and config, dtype, and values sampled from each of its weights (a fine-tune
        saved in the same folder is another identity; the same weights under two names are one)."""
        import torch

        from .encode import _tokenizer_identity

        h = hashlib.sha256(_tokenizer_identity(self.tokenizer).encode())
        config = {k: v for k, v in self.text_model.config.to_dict().items()
                  if not k.startswith("_") and k not in ("transformers_version", "dtype", "torch_dtype")}
        h.update(f"{type(self.text_model).__name__}|{json.dumps(config, sort_keys=True, default=str)}".encode())
        samples = []
        for module in (self.text_model, self.text_projection):
            for name, param in module.named_parameters():
                flat = param.detach().reshape(-1)
                samples.append(flat[::max(1, flat.numel() // 16)][:16].float().cpu())
                h.update(f"{name}|{tuple(param.shape)}|{param.dtype}|{param.device.type}".encode())
        h.update(torch.cat(samples).numpy().tobytes())
        return h.hexdigest()


def _unit(features):
    import numpy as np

    array = features.detach().float().cpu().numpy().astype(np.float32)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return array / np.where(norms == 0, 1.0, norms)


def preprocess(image, size: int, mean, std):
    """One PIL image as a ``(3, size, size)`` float32 array, CLIP's way."""
    import numpy as np
    from PIL import Image

    w, h = image.size
    scale = size / min(w, h)
    resized = image.convert("RGB").resize((max(size, round(w * scale)), max(size, round(h * scale))),
                                          Image.Resampling.BICUBIC)
    left, top = (resized.width - size) // 2, (resized.height - size) // 2
    crop = np.asarray(resized.crop((left, top, left + size, top + size)), dtype=np.float32) / 255.0
    return ((crop - np.array(mean, np.float32)) / np.array(std, np.float32)).transpose(2, 0, 1).copy()


def tiny_clip_model(seed: int = 0, projection_dim: int = 16):
    """A tiny random-weight ``transformers.CLIPModel`` (2 layers of 32 each side, 32x32
    pixels in patches of 8, the real CLIP vocabulary): builds in well under a second."""
    import torch
    from transformers import CLIPConfig, CLIPModel

    config = CLIPConfig(
        text_config=dict(vocab_size=49408, max_position_embeddings=77, hidden_size=32, intermediate_size=37,
                         num_attention_heads=4, num_hidden_layers=2, hidden_act="quick_gelu",
                         bos_token_id=49406, eos_token_id=49407, pad_token_id=49407),
        vision_config=dict(image_size=32, patch_size=8, hidden_size=32, intermediate_size=37,
                           num_attention_heads=4, num_hidden_layers=2, hidden_act="quick_gelu"),
        projection_dim=projection_dim)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return CLIPModel(config).eval()


def save_tiny_clip(path, seed: int = 0) -> Path:
    """:func:`tiny_clip_model` saved as a CLIPModel folder with tokenizer files (for tests)."""
    from .models import _quiet_loading, _tokenizer

    path = Path(path)
    with _quiet_loading():
        tiny_clip_model(seed).save_pretrained(path, safe_serialization=True)
        _tokenizer().save_pretrained(path)
    return path


def _from_clip_model(model, model_id: str, tokenizer, mean=OPENAI_MEAN, std=OPENAI_STD, test_model=False) -> Clip:
    return Clip(model_id, model.text_model, model.text_projection, model.vision_model, model.visual_projection,
                tokenizer, int(model.config.vision_config.image_size), tuple(mean), tuple(std), test_model)


def _tokenizer_of(folder: Path):
    from transformers import CLIPTokenizer

    from .models import _tokenizer

    if (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file():
        return CLIPTokenizer.from_pretrained(str(folder), model_max_length=77)
    return _tokenizer()  # the CLIP BPE is one vocabulary for every OpenAI/OpenCLIP model


def _normalization(folder: Path) -> tuple:
    path = folder / "preprocessor_config.json"
    if not path.is_file():
        return OPENAI_MEAN, OPENAI_STD
    config = read_config(path)
    mean, std = config.get("image_mean", OPENAI_MEAN), config.get("image_std", OPENAI_STD)
    ok = all(isinstance(v, (list, tuple)) and len(v) == 3 and all(isinstance(x, (int, float)) for x in v)
             for v in (mean, std)) and all(x > 0 for x in std)
    if not ok:
        raise PromptError(f"{path}: image_mean and image_std must be three numbers each (std above 0)")
    return tuple(mean), tuple(std)


def load_clip(model: str, device: str | None = None) -> Clip:
    """A loaded :class:`Clip` for ``model`` (see the module's docstring), fp16 on CUDA."""
    import torch

    from .models import _quiet_loading, default_device

    device = device or default_device()
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise PromptError(f"device `{device}` asked for, but torch sees no CUDA GPU",
                          hint=f"use --device cpu (torch {torch.__version__} is installed)")
    dtype = torch.float16 if str(device).startswith("cuda") else torch.float32
    kind, folder = locate_clip(model)
    with _quiet_loading():
        if kind == "builtin":
            from .models import _tokenizer

            clip = _from_clip_model(tiny_clip_model(), model, _tokenizer(), test_model=True)
        elif kind == "clip":
            clip = _load_clip_folder(folder, model)
        else:
            clip = _load_sd_clip(folder, model)
    for module in (clip.text_model, clip.text_projection, clip.vision_model, clip.visual_projection):
        module.to(device=device, dtype=dtype).eval()
    if model == SHAPES and clip.test_model:  # small, but trained: not a random-weight test model
        from dataclasses import replace

        clip = replace(clip, test_model=False)
    return clip


def _load_clip_folder(folder: Path, model: str) -> Clip:
    from transformers import CLIPModel

    _safetensors_only(folder, model)
    try:
        loaded = CLIPModel.from_pretrained(str(folder), use_safetensors=True, local_files_only=True)
    except Exception as exc:  # transformers raises many types; a user sees one
        raise PromptError(f"{model}: cannot load the CLIP model: {exc}") from None
    mean, std = _normalization(folder)
    tiny = loaded.config.text_config.hidden_size == 32 and loaded.config.text_config.num_hidden_layers == 2
    return _from_clip_model(loaded, model, _tokenizer_of(folder), mean, std, test_model=tiny)


def _load_sd_clip(folder: Path, model: str) -> Clip:
    """The CLIP inside a Stable Diffusion folder: its vision tower (``image_encoder/``) with
    the text encoder that shares its space (one with a projection of the same width)."""
    from transformers import CLIPTextModelWithProjection, CLIPVisionModelWithProjection

    text_names = [n for n in ("text_encoder_2", "text_encoder") if (folder / n / "config.json").is_file()]
    if not text_names:
        raise PromptError(f"{model}: this Stable Diffusion folder has no CLIP text encoder")
    texts = {n: read_config(folder / n / "config.json") for n in text_names}
    vision = folder / "image_encoder" / "config.json"
    width = texts[text_names[-1]].get("hidden_size")
    source = CLIP_OF_WIDTH.get(width, REAL_CLIP)
    if not vision.is_file():
        raise PromptError(f"{model}: its text encoder is CLIP's (the text tower of {source}), but it has no vision "
                          "tower (image_encoder/), and describe must look at the image",
                          hint=f"use --model {source}: {download_hint(source)}")
    vision_config = read_config(vision)
    dim = vision_config.get("projection_dim")
    match = next((n for n in text_names if "WithProjection" in str(texts[n].get("architectures"))
                  and texts[n].get("projection_dim") == dim), None)
    if match is None:
        raise PromptError(f"{model}: its vision tower (image_encoder/, projection {dim}) has no text encoder in the "
                          "same space beside it", hint=f"use the whole CLIP model instead: --model {source}")
    for sub in ("image_encoder", match):
        _safetensors_only(folder / sub, model)
    try:
        text = CLIPTextModelWithProjection.from_pretrained(str(folder / match), use_safetensors=True,
                                                           local_files_only=True)
        seeing = CLIPVisionModelWithProjection.from_pretrained(str(folder / "image_encoder"), use_safetensors=True,
                                                               local_files_only=True)
    except Exception as exc:
        raise PromptError(f"{model}: cannot load its CLIP encoders: {exc}") from None
    tok_folder = folder / ("tokenizer_2" if match == "text_encoder_2" else "tokenizer")
    mean, std = _normalization(folder / "feature_extractor")
    tiny = text.config.hidden_size == 32 and text.config.num_hidden_layers == 2
    return Clip(model, text.text_model, text.text_projection, seeing.vision_model, seeing.visual_projection,
                _tokenizer_of(tok_folder), int(seeing.config.image_size), mean, std, tiny)
