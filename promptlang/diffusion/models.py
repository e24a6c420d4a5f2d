"""Model construction and loading: where a diffusers pipeline comes from.

``load_pipeline(model, device)`` understands five kinds of model string:

* ``builtin:tiny`` / ``builtin:tiny-sdxl``: a tiny random-weight SD / SDXL pipeline
  built in code (:func:`build_tiny`). It renders noise, in about a second on a CPU;
  it exists to prove the whole path on any machine, and :class:`Model` says so.
* ``builtin:shapes``: a tiny *trained* SD pipeline shipped in the package
  (``promptlang/data/shapes``): 32x32 pictures of coloured shapes that follow their
  prompts ("a red circle on a blue background, pixel art"), a fraction of a second
  each on a CPU. See :mod:`promptlang.shapes`.
* a local diffusers folder (one with ``model_index.json``);
* a single-file ``.safetensors`` checkpoint (``from_single_file``; offline this
  needs the matching diffusers config folder, see :func:`_load_single_file`);
* anything else: a Hugging Face id, looked up in the local HF cache only.

:func:`load` gives a :class:`Model`: the pipeline with what promptlang knows about it
(its id, SD or SDXL, whether it is a test model). Nothing is stored on the diffusers
objects themselves, so one loaded pipeline can serve several jobs.

Every failure a user can cause is a :class:`~promptlang.errors.PromptError`.
torch and diffusers are imported inside the functions: importing this module is cheap.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import PromptError, suggest

BUILTIN = {"builtin:tiny": "sd", "builtin:tiny-sdxl": "sdxl", "builtin:shapes": "sd"}
#: the builtin models that render noise (the others are trained)
TEST_MODELS = ("builtin:tiny", "builtin:tiny-sdxl")

_SD_CLASSES = ("StableDiffusionPipeline",)
_SDXL_CLASSES = ("StableDiffusionXLPipeline",)


# --------------------------------------------------------------------------- tiny models

def _clip_folder() -> str:
    from importlib.resources import files

    return str(files("promptlang.data.clip"))


def shapes_folder() -> Path:
    """The shipped diffusers folder of ``builtin:shapes`` (its CLIPModel is in ``clip/``)."""
    from importlib.resources import files

    return Path(str(files("promptlang.data") / "shapes"))


def _tokenizer():
    # transformers 5 ignores vocab_file=/merges_file= silently: load the folder instead.
    from transformers import CLIPTokenizer

    return CLIPTokenizer.from_pretrained(_clip_folder(), model_max_length=77)


def _text_config(**extra):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        vocab_size=49408, max_position_embeddings=77, hidden_size=32, intermediate_size=37,
        num_attention_heads=4, num_hidden_layers=2, projection_dim=32, hidden_act="quick_gelu",
        bos_token_id=49406, eos_token_id=49407, pad_token_id=49407, **extra)


def _vae():
    from diffusers import AutoencoderKL

    # four blocks: three downsamplings, so 512x512 pixels -> 64x64 latents, like real SD VAEs
    return AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1, norm_num_groups=8,
        block_out_channels=(8, 16, 16, 16), sample_size=512,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4)


def _scheduler():
    from diffusers import EulerDiscreteScheduler

    return EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                  steps_offset=1, timestep_spacing="leading")


def build_tiny(kind: str = "sd", seed: int = 0):
    """A tiny random-weight ``StableDiffusionPipeline`` (``kind="sd"``) or
    ``StableDiffusionXLPipeline`` (``kind="sdxl"``), identical for equal seeds.

    Real tokenizer (the shipped CLIP vocabulary), real VAE downsampling (x8), CLIP text
    encoders of 2 layers x 32, a UNet of two blocks (32, 64 channels). Builds in well
    under a second on a CPU.
    """
    import torch
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    if kind not in ("sd", "sdxl"):
        raise PromptError(f"unknown tiny model kind `{kind}`", hint="use `sd` or `sdxl`")
    unet_common = dict(
        sample_size=64, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(32, 64),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if kind == "sd":
            unet = UNet2DConditionModel(cross_attention_dim=32, attention_head_dim=8, **unet_common)
            pipe = StableDiffusionPipeline(
                vae=_vae(), text_encoder=CLIPTextModel(_text_config()), tokenizer=_tokenizer(),
                unet=unet, scheduler=_scheduler(), safety_checker=None, feature_extractor=None,
                requires_safety_checker=False)
        else:
            unet = UNet2DConditionModel(
                cross_attention_dim=64,  # 32 (encoder 1) + 32 (encoder 2), concatenated
                attention_head_dim=(2, 4), use_linear_projection=True, transformer_layers_per_block=(1, 2),
                addition_embed_type="text_time", addition_time_embed_dim=8,
                projection_class_embeddings_input_dim=6 * 8 + 32,  # 6 time ids x 8 + pooled (32)
                **unet_common)
            pipe = StableDiffusionXLPipeline(
                vae=_vae(), text_encoder=CLIPTextModel(_text_config()), tokenizer=_tokenizer(),
                text_encoder_2=CLIPTextModelWithProjection(_text_config()), tokenizer_2=_tokenizer(),
                unet=unet, scheduler=_scheduler(), image_encoder=None, feature_extractor=None)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def save_tiny(path, kind: str = "sd", seed: int = 0) -> Path:
    """Save :func:`build_tiny` as a diffusers folder at ``path`` (for tests); returns the path."""
    path = Path(path)
    pipe = build_tiny(kind, seed)
    with _quiet_loading():
        pipe.save_pretrained(path, safe_serialization=True)
    return path


def is_test_model(pipe) -> bool:
    """True for a random-weight test pipeline (``builtin:tiny`` or a saved copy of one):
    recognised by its text encoder's shape, which no real model has."""
    config = getattr(getattr(pipe, "text_encoder", None), "config", None)
    return getattr(config, "hidden_size", None) == 32 and getattr(config, "num_hidden_layers", None) == 2


@dataclass(frozen=True, eq=False)
class Model:
    """A loaded pipeline and what promptlang knows about it. Nothing is kept on the
    pipeline itself: renders make their own view of it (see
    :func:`promptlang.diffusion.denoise.denoise`), so one Model serves several jobs."""

    pipe: object
    id: str
    kind: str  # "sd" or "sdxl"
    test_model: bool = False
    # the LoRAs and embeddings applied to this view of a pipeline (kind, name, sha256, weight),
    # see promptlang.diffusion.adapters.applied; part of the embeddings cache's key
    adapters: tuple = ()

    @property
    def native(self) -> int:
        """The side, in pixels, the model was trained at (what `aspect` sizes to)."""
        small = _small_native(self.pipe)
        return small or (1024 if self.kind == "sdxl" else 512)

    @property
    def device(self):
        return getattr(self.pipe, "_execution_device", None) or self.pipe.device

    @property
    def dtype(self):
        return self.pipe.unet.dtype


def _small_native(pipe) -> int | None:
    """The side a model made for tiny pictures was trained at (``builtin:shapes``: 32),
    read from its UNet and VAE; None for every ordinary model."""
    try:
        side = int(pipe.unet.config.sample_size) * 2 ** (len(pipe.vae.config.block_out_channels) - 1)
    except (AttributeError, TypeError):
        return None
    return side if side < 256 else None


def wrap(pipe, model_id: str | None = None) -> Model:
    """A :class:`Model` for a pipeline you already hold (nothing is reloaded or changed)."""
    if isinstance(pipe, Model):
        return pipe
    name = model_id or getattr(pipe, "name_or_path", None) or "<pipeline>"
    return Model(pipe, str(name), model_kind(pipe), is_test_model(pipe))


def load(model: str, device: str | None = None, **kwargs) -> Model:
    """:func:`load_pipeline` wrapped in a :class:`Model` that remembers ``model`` as its id."""
    return wrap(load_pipeline(model, device or default_device(), **kwargs), model)


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def model_kind(pipe) -> str:
    """``"sd"`` or ``"sdxl"``; a :class:`PromptError` for any other pipeline."""
    names = {cls.__name__ for cls in type(pipe).__mro__}
    if names & {"StableDiffusionXLPipeline", "StableDiffusionXLImg2ImgPipeline",
                "StableDiffusionXLInpaintPipeline"}:
        return "sdxl"
    if names & {"StableDiffusionPipeline", "StableDiffusionImg2ImgPipeline",
                "StableDiffusionInpaintPipeline"}:
        return "sd"
    raise PromptError(f"{type(pipe).__name__} is not a Stable Diffusion or SDXL pipeline",
                      hint="promptlang encodes and renders for SD 1.x/2.x and SDXL models")


# --------------------------------------------------------------------------- loading

def _dtype(dtype, device: str):
    import torch

    if dtype is None:
        return torch.float16 if str(device).startswith("cuda") else torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    names = {"fp16": torch.float16, "float16": torch.float16, "half": torch.float16,
             "bf16": torch.bfloat16, "bfloat16": torch.bfloat16,
             "fp32": torch.float32, "float32": torch.float32, "float": torch.float32}
    if str(dtype).lower() not in names:
        raise PromptError(f"unknown dtype `{dtype}`", hint="use fp16, bf16 or fp32")
    return names[str(dtype).lower()]


def _dtype_kwarg(dtype) -> dict:
    """diffusers >= 0.36 spells it ``dtype=`` (``torch_dtype=`` is deprecated); older ones
    only know ``torch_dtype=`` and would silently ignore ``dtype=``."""
    try:
        from diffusers.utils.deprecation_utils import _resolve_dtype  # noqa: F401
    except ImportError:
        return {"torch_dtype": dtype}
    return {"dtype": dtype}


def _hf_cache() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def _looks_like_path(model: str) -> bool:
    return (model.startswith((".", "/", "~")) or model.count("/") > 1 or "\\" in model
            or model.endswith((".safetensors", ".ckpt", ".pt", ".bin")))


def load_pipeline(model: str, device: str = "cpu", dtype=None, local_files_only: bool = True,
                  config: str | None = None):
    """A ready diffusers pipeline for ``model`` on ``device`` (safety checker off).

    ``dtype``: a ``torch.dtype`` or ``"fp16"``/``"bf16"``/``"fp32"``; by default fp16 on
    CUDA and fp32 elsewhere. ``local_files_only``: never touch the network (default).
    ``config``: for a single-file checkpoint, a local diffusers folder (or cached HF id)
    that supplies the configs and tokenizers; by default the one diffusers would pick.
    :func:`load` gives the same wrapped in a :class:`Model`.
    """
    import torch

    torch_dtype = _dtype(dtype, device)
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise PromptError(f"device `{device}` asked for, but torch sees no CUDA GPU",
                          hint=f"use --device cpu (torch {torch.__version__} is installed)")
    if model == "builtin:shapes":
        locate(model)
        with _quiet_loading():
            pipe = _load_folder(shapes_folder(), torch_dtype, model)
        pipe = pipe.to(device)
    elif model.startswith("builtin:"):
        locate(model)
        pipe = build_tiny(BUILTIN[model])
        pipe = pipe.to(device=device, dtype=torch_dtype) if torch_dtype != torch.float32 else pipe.to(device)
    else:
        with _quiet_loading():
            pipe = _load(model, torch_dtype, local_files_only, config)
        pipe = pipe.to(device)  # already in torch_dtype: from_pretrained keeps fp32-only modules right
    pipe.set_progress_bar_config(disable=True)
    return pipe


class _quiet_loading:
    """No "Loading pipeline components" / "Loading weights" progress bars while loading."""

    def __enter__(self):
        from diffusers.utils import logging as dlog
        from transformers.utils import logging as tlog

        self._was = (dlog.is_progress_bar_enabled(), tlog.is_progress_bar_enabled())
        dlog.disable_progress_bar()
        tlog.disable_progress_bar()

    def __exit__(self, *exc):
        from diffusers.utils import logging as dlog
        from transformers.utils import logging as tlog

        if self._was[0]:
            dlog.enable_progress_bar()
        if self._was[1]:
            tlog.enable_progress_bar()


def locate(model: str, local_files_only: bool = True) -> tuple[str, Path | None]:
    """Where a model string points, checked without loading anything (jobs call it while
    planning, so a typo fails before the first image): ``("builtin", None)``,
    ``("folder", path)``, ``("file", path)`` or ``("hub", folder in the cache)``. A
    PromptError for anything that cannot load."""
    if model.startswith("builtin:"):
        if model not in BUILTIN:
            raise PromptError(f"unknown builtin model `{model}`{suggest(model, BUILTIN)}",
                              hint="builtin models: " + ", ".join(BUILTIN))
        if model == "builtin:shapes" and not (shapes_folder() / "model_index.json").is_file():
            raise PromptError("builtin:shapes is missing from this installation (promptlang/data/shapes)",
                              hint="reinstall promptlang, or retrain it: python -m promptlang.shapes.train")
        return "builtin", None
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "model_index.json").is_file():
            raise PromptError(f"{model}: not a diffusers model folder (no model_index.json)",
                              hint="save a pipeline with `pipe.save_pretrained(folder)`, or pass a "
                                   ".safetensors checkpoint")
        return "folder", path
    if path.is_file():
        if path.suffix != ".safetensors":
            raise PromptError(f"{model}: only .safetensors checkpoints are supported",
                              hint="pickle checkpoints (.ckpt, .pt, .bin) can run code when loaded; "
                                   "convert the file to .safetensors")
        return "file", path
    if path.exists() or _looks_like_path(model):
        raise PromptError(f"model `{model}` not found: no such file or folder",
                          hint="give a diffusers folder (with model_index.json), a .safetensors "
                               "checkpoint, a Hugging Face id, or builtin:tiny")
    return "hub", _hub_folder(model, local_files_only)


def _load(model: str, dtype, local_files_only: bool, config: str | None):
    kind, path = locate(model, local_files_only)
    if kind == "file":
        return _load_single_file(path, dtype, local_files_only, config, model)
    return _load_folder(path, dtype, model)


def _load_folder(path: Path, dtype, model: str, **kwargs):
    index = path / "model_index.json"
    if not index.is_file():
        raise PromptError(f"{model}: not a diffusers model folder (no model_index.json)",
                          hint="save a pipeline with `pipe.save_pretrained(folder)`, or pass a "
                               ".safetensors checkpoint")
    cls = _pipeline_class(json.loads(index.read_text(encoding="utf-8")).get("_class_name"), model)
    extra = {"safety_checker": None, "requires_safety_checker": False} if cls.__name__ in _SD_CLASSES else {}
    variant = _variant(path)
    try:
        pipe = cls.from_pretrained(path, local_files_only=True, variant=variant, use_safetensors=True,
                                   **_dtype_kwarg(dtype), **extra, **kwargs)
    except Exception as exc:  # diffusers/transformers raise many types; a user sees one
        if not any(path.rglob("*.safetensors")):
            raise PromptError(f"{model}: this folder has only pickle weights (.bin), which can run code when "
                              "loaded; promptlang loads safetensors only",
                              hint="convert it once where you trust it: pipe.save_pretrained(folder, "
                                   "safe_serialization=True)") from None
        raise PromptError(f"{model}: cannot load the diffusers folder: {exc}") from None
    return pipe


def _pipeline_class(class_name: str | None, model: str):
    import diffusers

    if class_name in _SD_CLASSES + _SDXL_CLASSES:
        return getattr(diffusers, class_name)
    raise PromptError(f"{model}: `{class_name}` models are not supported",
                      hint="promptlang renders with StableDiffusionPipeline or StableDiffusionXLPipeline models")


def _variant(path: Path) -> str | None:
    """``"fp16"`` when a folder holds only fp16-variant weights (as some HF repos do)."""
    unet = path / "unet"
    if not unet.is_dir():
        return None
    names = [p.name for p in unet.iterdir()]
    plain = any(n.startswith("diffusion_pytorch_model.") and n.count(".") == 1 for n in names)
    return "fp16" if not plain and any(".fp16." in n for n in names) else None


def _download_hint(repo: str, what: str = "") -> str:
    return (f"on a machine with network run `hf download {repo}{what}` (then copy the "
            f"cache folder here), or pass a local diffusers folder")


def _hub_folder(model: str, local_files_only: bool) -> Path:
    """The folder of a Hugging Face id in the local cache (offline unless asked)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    try:
        folder = snapshot_download(model, local_files_only=local_files_only)
    except HFValidationError:
        raise PromptError(f"model `{model}` is neither a local path nor a valid Hugging Face id",
                          hint="give a diffusers folder, a .safetensors file, a Hugging Face id "
                               "(owner/name) or builtin:tiny") from None
    except (LocalEntryNotFoundError, FileNotFoundError, OSError) as exc:
        where = f"not in the local Hugging Face cache ({_hf_cache()})" if local_files_only else f"not available ({exc})"
        raise PromptError(f"model `{model}` is {where}", hint=_download_hint(model)) from None
    path = Path(folder)
    if not (path / "model_index.json").is_file():
        raise PromptError(f"model `{model}` in the Hugging Face cache ({_hf_cache()}) is incomplete: "
                          f"no model_index.json", hint=_download_hint(model))
    return path


class _LazyCheckpoint:
    """Just enough of a state dict for diffusers' ``infer_diffusers_model_type``: the
    keys of a .safetensors file, each tensor read only when asked for."""

    def __init__(self, handle):
        self._handle = handle
        self._keys = set(handle.keys())

    def __contains__(self, key):
        return key in self._keys

    def __getitem__(self, key):
        return self._handle.get_tensor(key)

    def __iter__(self):
        return iter(self._keys)

    def get(self, key, default=None):
        return self[key] if key in self._keys else default

    def keys(self):
        return self._keys


def _checkpoint_type(path: Path) -> str:
    """diffusers' name for the checkpoint's model type (``v1``, ``v2``, ``xl_base``, …)."""
    from diffusers.loaders.single_file_utils import CHECKPOINT_KEY_NAMES, infer_diffusers_model_type
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            checkpoint = _LazyCheckpoint(handle)
            kind = infer_diffusers_model_type(checkpoint)
            if kind == "v1" and CHECKPOINT_KEY_NAMES["v1"] not in checkpoint:
                kind = "unknown"  # diffusers' fallback: nothing matched (a LoRA, a VAE, …)
            return kind
    except Exception as exc:  # a damaged or foreign file: say so, no traceback
        raise PromptError(f"{path}: cannot read the checkpoint: {exc}") from None


def _load_single_file(path: Path, dtype, local_files_only: bool, config: str | None, model: str):
    import diffusers
    from diffusers.loaders.single_file_utils import DIFFUSERS_DEFAULT_PIPELINE_PATHS

    kind = _checkpoint_type(path)
    if kind in ("v1", "v2"):
        cls = diffusers.StableDiffusionPipeline
    elif kind == "xl_base":
        cls = diffusers.StableDiffusionXLPipeline
    else:
        raise PromptError(f"{model}: not a Stable Diffusion checkpoint (diffusers reads it as `{kind}`)",
                          hint="promptlang renders full SD 1.x/2.x and SDXL base checkpoints")
    repo = config or DIFFUSERS_DEFAULT_PIPELINE_PATHS[kind]["pretrained_model_name_or_path"]
    if not Path(repo).expanduser().is_dir():
        # diffusers would silently go online for the config when it is not cached: check first
        from huggingface_hub import try_to_load_from_cache

        if local_files_only and not isinstance(try_to_load_from_cache(repo, "model_index.json"), str):
            raise PromptError(
                f"{model}: a single-file checkpoint needs the diffusers config of `{repo}`, which is "
                f"not in the local Hugging Face cache ({_hf_cache()})",
                hint=_download_hint(repo, ' --include "*.json" "*.txt"')
                + " as load_pipeline(..., config=FOLDER)")
    extra = {"safety_checker": None, "requires_safety_checker": False} if kind != "xl_base" else {}
    try:
        folder = Path(repo).expanduser()
        pipe = cls.from_single_file(str(path), config=str(folder) if folder.is_dir() else repo,
                                    local_files_only=local_files_only, **_dtype_kwarg(dtype), **extra)
    except Exception as exc:  # diffusers/transformers raise many types; a user sees one
        raise PromptError(f"{model}: cannot load the checkpoint: {exc}") from None
    return pipe
