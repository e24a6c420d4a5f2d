"""Load a prompt's LoRAs and textual-inversion embeddings for one render, without
changing the loaded pipeline.

:func:`applied` gives a :class:`~promptlang.diffusion.models.Model` over a *view* of the
pipeline: the modules an adapter touches are structural copies (``copy.deepcopy`` with
every parameter and buffer mapped to itself, so the copy shares all weights and costs
only the module objects), and only the copies are changed:

* an embedding (read with safetensors, never pickle) adds its token(s) to a copy of the
  tokenizer and a new, longer token-embedding table to the copied text encoder. This is
  what diffusers' ``load_textual_inversion`` does, done here because it resizes the
  embedding table *in place* (``weight.data = …``), which would change the shared
  parameter. A multi-vector embedding ``name`` gets tokens ``name``, ``name_1``, … as in
  diffusers; :func:`promptlang.diffusion.encode` expands ``name`` to all of them.
* a LoRA is merged into copies of the weights it touches: ``W + weight × alpha/rank ×
  up @ down`` (what AUTOMATIC1111 and ComfyUI do). diffusers' ``load_lora_weights`` +
  ``set_adapters`` would inject peft layers into the shared modules instead; besides
  changing them, its text-encoder path needs a peft newer than the package registries
  here offer (transformers 5.24 asks for peft >= 0.22; 0.21.2 is the newest). Read are
  kohya/A1111 files (``lora_unet_…``/``lora_te_…``/``lora_te1_…``/``lora_te2_…`` with
  ``lora_down``/``lora_up``/``alpha``; UNet names in diffusers' layout, as kohya writes them
  for SD 1.x, or in the original SGM layout, ``input_blocks_4_1_…``, as it writes them for
  SDXL) and diffusers/peft files (``unet.…``/``text_encoder.…`` with
  ``lora_A``/``lora_B``). A key that names no layer of the model is an error, not skipped.

So the pipeline a job was handed is the same object, with the same weights, after the
job (DESIGN §8.11); the next prompt without adapters renders exactly as before.
"""
from __future__ import annotations

import copy
import inspect
import itertools
import re
import weakref

from .. import ir
from ..adapters import read
from ..errors import PromptError

__all__ = ["applied", "rebuilt", "structural_copy"]

_VIEWS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # Model -> (adapters, its last view)


def structural_copy(module):
    """A copy of ``module``'s object tree that shares every parameter and buffer."""
    memo = {id(t): t for t in itertools.chain(module.parameters(), module.buffers())}
    return copy.deepcopy(module, memo)


def rebuilt(pipe, **components):
    """A new pipeline of ``pipe``'s class over its components, some replaced (nothing is copied)."""
    accepted = inspect.signature(type(pipe).__init__).parameters
    current = pipe.components
    settings = {k: v for k, v in dict(pipe.config).items()
                if k in accepted and k not in current and not k.startswith("_")}
    out = type(pipe)(**{**current, **components}, **settings)
    out.set_progress_bar_config(disable=True)
    return out


def applied(model, adapters) -> object:
    """``model`` itself when ``adapters`` is empty; otherwise a Model over a view of its
    pipeline with the embeddings loaded and the LoRAs merged (see the module's docstring)."""
    from .models import Model, wrap

    adapters = tuple(adapters)
    if not adapters:
        return model
    model = wrap(model)  # a pipeline handed over as it is
    # The last view made for this model is kept (weakly: it goes with the model), so the
    # batches and images of one prompt load its files once. Only adapters whose sha256 is
    # known are kept: the key is then the files' contents, names and weights.
    key = adapters if all(a.sha256 for a in adapters) else None
    kept = _VIEWS.get(model) if key is not None else None
    if kept is not None and kept[0] == key:
        return kept[1]
    pipe = model.pipe
    copies: dict = {}

    def copy_of(name: str):
        if name not in copies:
            original = getattr(pipe, name, None)
            if original is None:
                raise PromptError(f"the {model.kind.upper()} pipeline has no {name}: cannot load adapters into it")
            copies[name] = copy.deepcopy(original) if name.startswith("tokenizer") else structural_copy(original)
        return copies[name]

    for adapter in (a for a in adapters if a.kind == "embedding"):
        _add_embedding(adapter, _tensors(adapter), model.kind, copy_of)
    loras = [a for a in adapters if a.kind == "lora"]
    if loras:
        if getattr(pipe.unet, "original_attn_processors", None) is not None:
            raise PromptError("LoRAs cannot be merged into a pipeline whose attention projections are fused "
                              "(fast mode)", hint="render without --fast")
        _merge_loras(loras, model.kind, pipe, copy_of)
    view = Model(rebuilt(pipe, **copies), model.id, model.kind, model.test_model,
                 adapters=tuple((a.kind, a.name, a.sha256, a.weight) for a in adapters))
    if key is not None:
        try:
            _VIEWS[model] = (key, view)
        except TypeError:  # not weakly referable: not kept
            pass
    return view


def _tensors(adapter: ir.Adapter) -> dict:
    from safetensors import SafetensorError
    from safetensors.torch import load

    data = read(adapter)
    try:
        return load(data)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise PromptError(f"{'LoRA' if adapter.kind == 'lora' else 'embedding'} `{adapter.name}`: "
                          f"{adapter.file} is not a readable safetensors file ({exc})") from None


# --------------------------------------------------------------------------- embeddings

def _vectors(adapter: ir.Adapter, tensors: dict, kind: str) -> dict:
    """encoder name -> (n, D) vectors, from the layouts in use: one tensor (diffusers:
    ``{token: vectors}``), ``emb_params`` (AUTOMATIC1111), ``clip_l``/``clip_g`` (SDXL)."""
    def fail(problem: str) -> PromptError:
        return PromptError(f"embedding `{adapter.name}`: {adapter.file} {problem}",
                           hint="a textual-inversion embedding holds one tensor (or `emb_params`; for SDXL "
                                "`clip_l` and `clip_g`)")

    if "clip_l" in tensors or "clip_g" in tensors:
        if kind != "sdxl":
            raise fail("is an SDXL embedding (`clip_l`/`clip_g`), and the model is SD")
        if not {"clip_l", "clip_g"} <= set(tensors):
            raise fail("has only one of `clip_l` and `clip_g`")
        out = {"text_encoder": tensors["clip_l"], "text_encoder_2": tensors["clip_g"]}
    elif kind == "sdxl":
        raise fail("is an SD embedding; an SDXL model needs `clip_l` and `clip_g`")
    elif "emb_params" in tensors:
        out = {"text_encoder": tensors["emb_params"]}
    elif len(tensors) == 1:
        out = {"text_encoder": next(iter(tensors.values()))}
    else:
        raise fail(f"holds {len(tensors)} tensors ({', '.join(sorted(tensors)[:4])}…), not one embedding")
    for name, vectors in out.items():
        if vectors.dim() == 1:
            out[name] = vectors = vectors[None]
        if vectors.dim() != 2 or not 1 <= vectors.shape[0] <= 75:
            raise fail(f"has a tensor of shape {tuple(vectors.shape)}, not (vectors, width) with 1 to 75 vectors")
        if not vectors.is_floating_point() or not bool(vectors.isfinite().all()):
            raise fail("holds values that are not finite numbers")
    return out


def _add_embedding(adapter: ir.Adapter, tensors: dict, kind: str, copy_of) -> None:
    import torch

    for encoder_name, vectors in _vectors(adapter, tensors, kind).items():
        tokenizer = copy_of(encoder_name.replace("text_encoder", "tokenizer"))
        encoder = copy_of(encoder_name)
        table = encoder.get_input_embeddings()
        if vectors.shape[1] != table.weight.shape[1]:
            raise PromptError(f"embedding `{adapter.name}`: {adapter.file} has vectors of width {vectors.shape[1]}, "
                              f"and this model's text encoder takes {table.weight.shape[1]} (an embedding made "
                              "for another model)")
        tokens = [adapter.name] + [f"{adapter.name}_{i}" for i in range(1, vectors.shape[0])]
        vocab = tokenizer.get_vocab()
        taken = [t for t in tokens if t in vocab or t.lower() in vocab]
        if taken:
            raise PromptError(f"embedding `{adapter.name}`: `{taken[0]}` is already a token of the model's "
                              "tokenizer", hint="name the embedding's catalog entry something that is not a word")
        tokenizer.add_tokens(tokens)
        ids = tokenizer.convert_tokens_to_ids(tokens)
        weight = table.weight
        grown = torch.zeros(len(tokenizer), weight.shape[1], dtype=weight.dtype, device=weight.device)
        grown[:weight.shape[0]] = weight.detach()
        grown[ids] = vectors.to(weight.device, weight.dtype)
        encoder.set_input_embeddings(torch.nn.Embedding(grown.shape[0], grown.shape[1], _weight=grown,
                                                        _freeze=True))


# --------------------------------------------------------------------------- LoRAs

_KOHYA = {"lora_unet_": "unet", "lora_te_": "text_encoder", "lora_te1_": "text_encoder",
          "lora_te2_": "text_encoder_2"}
_DIFFUSERS = ("unet.", "text_encoder.", "text_encoder_2.")
_ENDS = {"lora_down.weight": "down", "lora_up.weight": "up", "alpha": "alpha",
         "lora_A.weight": "down", "lora_B.weight": "up", "lora.down.weight": "down", "lora.up.weight": "up",
         "lora_linear_layer.down.weight": "down", "lora_linear_layer.up.weight": "up"}


_SGM = re.compile(r"(input_blocks|output_blocks)_(\d+)_(\d+)_(.+)|(middle_block)_(\d+)_(.+)")
_SGM_RESNET = {"in_layers_2": "conv1", "out_layers_3": "conv2", "emb_layers_1": "time_emb_proj",
               "skip_connection": "conv_shortcut", "in_layers_0": "norm1", "out_layers_0": "norm2"}
_SGM_TOP = {"input_blocks_0_0": "conv_in", "time_embed_0": "time_embedding_linear_1",
            "time_embed_2": "time_embedding_linear_2", "label_emb_0_0": "add_embedding_linear_1",
            "label_emb_0_2": "add_embedding_linear_2", "out_2": "conv_out"}


def _sgm_to_diffusers(name: str, layers_per_block: int) -> str:
    """A kohya SDXL UNet name in the original (SGM) layout, ``input_blocks_4_1_transformer_blocks_0_attn1_to_q``,
    as diffusers names the module, ``down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q``
    (underscores for dots, as kohya writes them). Names already in diffusers' layout pass through."""
    for sgm, ours in _SGM_TOP.items():
        if name == sgm:
            return ours
    found = _SGM.fullmatch(name)
    if found is None:
        return name
    if found.group(5):
        where, i, j, rest = "middle_block", int(found.group(6)), 0, found.group(7)
    else:
        where, i, j, rest = found.group(1), int(found.group(2)), int(found.group(3)), found.group(4)
    for sgm, ours in _SGM_RESNET.items():
        if rest == sgm:
            rest = ours
    per = layers_per_block + 1
    if where == "input_blocks":
        block, layer = (i - 1) // per, (i - 1) % per
        if rest.startswith("op"):  # the downsampler: input_blocks_3_0_op
            return f"down_blocks_{block}_downsamplers_0_conv"
        return f"down_blocks_{block}_{'resnets' if j == 0 else 'attentions'}_{layer}_{rest}"
    if where == "middle_block":
        inner = {0: "resnets_0", 1: "attentions_0", 2: "resnets_1"}.get(i)
        return f"mid_block_{inner}_{rest}" if inner else name
    block, layer = i // per, i % per
    if rest.startswith("conv") and j >= 1 and not rest.startswith(("conv1", "conv2", "conv_shortcut")):
        return f"up_blocks_{block}_upsamplers_0_{rest}"
    return f"up_blocks_{block}_{'resnets' if j == 0 else 'attentions'}_{layer}_{rest}"


def _layers(adapter: ir.Adapter, tensors: dict, pipe) -> dict:
    """(component, module path) -> {"down", "up", "alpha"?} for every layer the file changes."""
    import torch

    names: dict = {}  # component -> {kohya name: module path}
    modules: dict = {}  # component -> {module path: module}
    out: dict = {}

    def fail(key: str, problem: str) -> PromptError:
        return PromptError(f"LoRA `{adapter.name}`: {adapter.file}: `{key[:120]}` {problem}",
                           hint="promptlang reads kohya/AUTOMATIC1111 LoRAs (lora_unet_…, lora_te_…) and "
                                "diffusers/peft LoRAs (unet.…, text_encoder.…) made for this kind of model")

    for key, tensor in tensors.items():
        end = next((e for e in _ENDS if key.endswith("." + e)), None)
        if end is None:
            raise fail(key, "is not a part of a LoRA this version reads (LyCORIS, LoHa, LoKr and DoRA are not read)")
        base = key[:-len(end) - 1]
        prefix = next((p for p in _KOHYA if base.startswith(p)), None)
        if prefix is not None:
            component = _KOHYA[prefix]
            module = getattr(pipe, component, None)
            if module is None:
                raise fail(key, f"is for a {component} the model does not have")
            if component not in names:
                names[component] = {n.replace(".", "_"): n for n, _ in module.named_modules() if n}
            rest = base[len(prefix):]
            if component == "unet":
                rest = _sgm_to_diffusers(rest, module.config.layers_per_block)
            path = names[component].get(rest)
            if path is None and rest.startswith("text_model_"):  # transformers 5's CLIP has no text_model level
                path = names[component].get(rest[len("text_model_"):])
        else:
            prefix = next((p for p in _DIFFUSERS if base.startswith(p)), None)
            if prefix is None:
                raise fail(key, "names no part of the model (keys start with lora_unet_, lora_te_, unet. or "
                                "text_encoder.)")
            component, path = prefix[:-1], base[len(prefix):]
            module = getattr(pipe, component, None)
            if module is None:
                raise fail(key, f"is for a {component} the model does not have")
        if component not in modules:
            modules[component] = dict(module.named_modules())
        if path and path not in modules[component] and path.startswith("text_model."):
            path = path[len("text_model."):]
        target = modules[component].get(path) if path else None
        if not isinstance(target, (torch.nn.Linear, torch.nn.Conv2d)):
            raise fail(key, "names no linear or convolution layer of this model (a LoRA made for another model?)")
        out.setdefault((component, path), {})[_ENDS[end]] = tensor
    for (component, path), parts in out.items():
        if "down" not in parts or "up" not in parts:
            raise fail(f"{component}.{path}", "has only one of its two matrices (down/up, A/B)")
    return out


def _merge_loras(loras, kind: str, pipe, copy_of) -> None:
    """Merge each LoRA, at its weight, into copies of the layers it changes."""
    import torch

    merged: dict = {}  # (component, path) -> new weight (float32 while summing)
    originals: dict = {}
    for adapter in loras:
        for (component, path), parts in _layers(adapter, _tensors(adapter), pipe).items():
            if component not in originals:
                originals[component] = dict(getattr(pipe, component).named_modules())
            layer = originals[component][path]
            weight = layer.weight
            down = parts["down"].to(weight.device, torch.float32)  # merged where the weight lives (GPU: fast)
            up = parts["up"].to(weight.device, torch.float32)
            rank = down.shape[0] if down.dim() >= 2 else 0
            alpha = parts.get("alpha")
            if rank < 1 or up.dim() < 2 or (alpha is not None and alpha.numel() != 1) \
                    or not (torch.isfinite(down).all() and torch.isfinite(up).all()
                            and (alpha is None or torch.isfinite(alpha).all())):
                raise PromptError(f"LoRA `{adapter.name}`: {adapter.file}: the matrices for {component}.{path} are "
                                  f"not a LoRA's (shapes {tuple(up.shape)} and {tuple(down.shape)}, or values that "
                                  "are not finite numbers)")
            scale = float(alpha) / rank if alpha is not None else 1.0
            try:
                delta = (up.reshape(up.shape[0], -1) @ down.reshape(rank, -1)).reshape(weight.shape)
            except RuntimeError:
                raise PromptError(f"LoRA `{adapter.name}`: {adapter.file}: the matrices for {component}.{path} "
                                  f"({tuple(up.shape)} and {tuple(down.shape)}) do not fit its weight "
                                  f"{tuple(weight.shape)} (a LoRA made for another model?)") from None
            key = (component, path)
            if key not in merged:
                merged[key] = weight.detach().float().clone()
            merged[key] += (adapter.weight * scale) * delta
    modules = {component: dict(copy_of(component).named_modules()) for component, _ in merged}
    for (component, path), new in merged.items():
        layer = modules[component][path]
        layer.weight = torch.nn.Parameter(new.to(layer.weight.dtype), requires_grad=False)
