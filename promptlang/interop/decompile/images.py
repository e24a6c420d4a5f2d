"""The prompts and settings other tools store in their PNGs, read from the text chunks.

* AUTOMATIC1111 (also Forge, SD.Next, Fooocus's "a1111" scheme and promptlang itself):
  ``parameters`` — the prompt, ``Negative prompt: …`` and a last line
  ``Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1, Size: 512x768, Model: …``.
* ComfyUI: ``prompt`` (the API graph: KSampler -> CLIPTextEncode, EmptyLatentImage,
  CheckpointLoaderSimple, LoraLoader) or, without it, ``workflow`` (the editor's graph).
* InvokeAI: ``invokeai_metadata`` (3.x and later) or ``sd-metadata`` (2.x); Compel syntax.
* Fooocus: ``parameters`` holding JSON (with ``fooocus_scheme``).
* promptlang: ``promptlang`` — the record :mod:`promptlang.artifacts.records` writes.

The chunks come from anyone: each is bounded in size, JSON nesting and graph walks
are bounded, and anything malformed is a PromptError that says which chunk, never a
traceback. Pure: the caller reads the file (``artifacts.png.text_chunks``).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ...errors import PromptError
from ...schedulers import lookup
from . import a1111, compel
from .model import Decompiled

MAX_CHUNK = 4 * 1024 * 1024   # characters of one chunk
MAX_NODES = 10_000            # nodes of a ComfyUI graph
MAX_HOPS = 64                 # links followed from a sampler to a text


@dataclass
class Found:
    """What an image says: ``kind`` (the tool), and either a decompiled prompt or, for a
    promptlang render, the ``.prompt`` source it carries (``source``, maybe None)."""

    kind: str
    decompiled: Decompiled | None = None
    source: str | None = None
    prompt: str | None = None


def read(chunks: dict, shown: str = "the image") -> Found:
    for key, value in chunks.items():
        if isinstance(value, str) and len(value) > MAX_CHUNK:
            raise PromptError(f"{shown}: the `{key}` chunk is longer than {MAX_CHUNK:,} characters")
    if "promptlang" in chunks:
        record = _json(chunks["promptlang"], "promptlang", shown)
        source = record.get("source") if isinstance(record, dict) else None
        name = record.get("prompt") if isinstance(record, dict) else None
        return Found("promptlang", source=source if isinstance(source, str) else None,
                     prompt=name if isinstance(name, str) else None)
    params = chunks.get("parameters")
    if isinstance(params, str) and params.lstrip().startswith("{"):
        return Found("Fooocus", fooocus(_json(params, "parameters", shown)))
    if isinstance(params, str) and params.strip():
        return Found("AUTOMATIC1111", parameters(params))
    if "prompt" in chunks or "workflow" in chunks:
        if "prompt" in chunks:
            graph = _json(chunks["prompt"], "prompt", shown)
        else:
            graph = from_workflow(_json(chunks["workflow"], "workflow", shown))
        return Found("ComfyUI", comfy(graph, shown))
    if "invokeai_metadata" in chunks:
        return Found("InvokeAI", invoke(_json(chunks["invokeai_metadata"], "invokeai_metadata", shown)))
    if "sd-metadata" in chunks:
        return Found("InvokeAI", invoke_v2(_json(chunks["sd-metadata"], "sd-metadata", shown)))
    keys = ", ".join(sorted(chunks)) or "none"
    raise PromptError(f"{shown}: no prompt metadata promptlang knows (text chunks: {keys[:200]})",
                      hint="decompile reads PNGs from AUTOMATIC1111, ComfyUI, InvokeAI, Fooocus and promptlang")


def _json(text, chunk: str, shown: str):
    try:
        return json.loads(text)
    except (ValueError, TypeError, RecursionError) as exc:
        raise PromptError(f"{shown}: the `{chunk}` chunk is not valid JSON ({str(exc)[:120]})") from None


# --------------------------------------------------------------------------- AUTOMATIC1111

_KV = re.compile(r'\s*([^,:"]{1,64}?):\s*("(?:\\.|[^\\"])*"|[^,]*)(?:,|$)')


def parameters(text: str) -> Decompiled:
    """The webui's ``parameters`` text -> Decompiled with settings."""
    lines = text.replace("\r\n", "\n").split("\n")
    at = next((i for i in range(len(lines) - 1, -1, -1) if lines[i].lstrip().startswith("Steps:")), None)
    info = {}
    if at is not None:
        for m in _KV.finditer(lines[at]):
            value = m.group(2).strip()
            if value.startswith('"'):
                try:
                    value = json.loads(value)
                except ValueError:
                    value = value.strip('"')
            info[m.group(1).strip()] = str(value)
        lines = lines[:at]
    d = a1111.read("\n".join(lines))
    _a1111_settings(info, d)
    return d


def _a1111_settings(info: dict, d: Decompiled) -> None:
    sampler, schedule = info.pop("Sampler", None), info.pop("Schedule type", None)
    if sampler:
        label = sampler if not schedule or schedule in ("Automatic", "Uniform") else f"{sampler} {schedule}"
        _scheduler(d, label, f"Sampler `{sampler}`" + (f", Schedule type `{schedule}`" if schedule else ""))
    for key, name, kind in (("Steps", "steps", int), ("CFG scale", "guidance", float), ("Seed", "seed", int)):
        if key in info:
            value = info.pop(key)
            try:
                d.settings[name] = kind(value)
            except ValueError:
                d.note(f"{key} `{value}` is not a number; left out")
    size = info.pop("Size", None)
    if size:
        m = re.fullmatch(r"(\d{1,5})x(\d{1,5})", size)
        if m:
            d.settings["size"] = (int(m.group(1)), int(m.group(2)))
        else:
            d.note(f"Size `{size}` is not WIDTHxHEIGHT; left out")
    model = info.pop("Model", None)
    if model:
        d.settings["model"] = model
        d.note(f"`model` is the checkpoint's name in the webui (`{model}`): point it at the file or a "
               "Hugging Face id")
    for key in ("Model hash", "Version", "Lora hashes", "TI hashes"):
        info.pop(key, None)
    left = [f"{k}: {v}" for k, v in info.items()]
    if left:
        d.note("no promptlang setting for: " + "; ".join(left)[:300])


def _scheduler(d: Decompiled, label: str, said: str) -> None:
    found = lookup(label)
    if found:
        d.settings["scheduler"] = found
    else:
        d.note(f"{said}: no scheduler promptlang knows by that name; left out")


# --------------------------------------------------------------------------- ComfyUI

SAMPLERS = ("KSampler", "KSamplerAdvanced")
_COMFY_SAMPLERS = {"euler": "euler", "euler_ancestral": "euler_a", "heun": "heun", "dpm_2": "dpm2",
                   "dpm_2_ancestral": "dpm2_a", "dpmpp_2m": "dpmpp_2m", "dpmpp_2m_sde": "dpmpp_2m_sde",
                   "dpmpp_2m_sde_gpu": "dpmpp_2m_sde", "ddim": "ddim", "ddpm": "ddpm", "uni_pc": "unipc",
                   "uni_pc_bh2": "unipc", "dpmpp_2s_ancestral": "dpmpp_2s"}


def comfy_scheduler(d: Decompiled, sampler, schedule) -> None:
    if not isinstance(sampler, str):
        return
    name = _COMFY_SAMPLERS.get(sampler)
    if name and schedule == "karras":
        name = name + "_karras" if lookup(name + "_karras") else None
    elif name and schedule not in (None, "normal", "simple", "sgm_uniform"):
        name = None
    if name and lookup(name):
        d.settings["scheduler"] = name
    else:
        d.note(f"sampler `{sampler}` with scheduler `{schedule}`: no scheduler promptlang knows; left out")


def _link(value):
    return value if isinstance(value, list) and len(value) == 2 and isinstance(value[0], (str, int)) else None


def comfy(graph, shown: str = "the image") -> Decompiled:
    if not isinstance(graph, dict) or len(graph) > MAX_NODES:
        raise PromptError(f"{shown}: the ComfyUI graph is not a dict of at most {MAX_NODES:,} nodes")
    nodes = {str(k): v for k, v in graph.items() if isinstance(v, dict) and isinstance(v.get("inputs"), dict)}
    samplers = sorted((k for k, v in nodes.items() if v.get("class_type") in SAMPLERS),
                      key=lambda k: (len(k), k))
    if not samplers:
        raise PromptError(f"{shown}: the ComfyUI graph has no KSampler; nothing to read settings from")
    out = Decompiled("ComfyUI")
    if len(samplers) > 1:
        out.note(f"the graph has {len(samplers)} samplers; the first (node {samplers[0]}) is read")
    inputs = nodes[samplers[0]]["inputs"]

    def follow(value, want, hops=0):
        """The node a link leads to whose class is in ``want``, through conditioning/model nodes."""
        link = _link(value)
        if link is None or hops > MAX_HOPS:
            return None
        node = nodes.get(str(link[0]))
        if node is None:
            return None
        if node.get("class_type") in want:
            return node
        for key in ("conditioning", "conditioning_1", "conditioning_to", "model", "samples", "latent"):
            if _link(node["inputs"].get(key)):
                return follow(node["inputs"][key], want, hops + 1)
        return None

    def text(value, hops=0) -> str:
        node = follow(value, ("CLIPTextEncode", "CLIPTextEncodeSDXL"))
        if node is None:
            if value is not None:
                out.note("a conditioning input does not lead to a CLIPTextEncode node; left out")
            return ""
        ins = node["inputs"]
        t = ins.get("text", ins.get("text_g"))
        if isinstance(t, str):
            if node.get("class_type") == "CLIPTextEncodeSDXL" and ins.get("text_l") not in (None, t):
                out.note("CLIPTextEncodeSDXL's text_l differs from text_g; text_g is read")
            return t
        source = follow(t, ("PrimitiveNode", "String", "PrimitiveString", "Text Multiline", "ShowText|pysssss"))
        for key in ("value", "string", "text"):
            if source and isinstance(source["inputs"].get(key), str):
                return source["inputs"][key]
        out.note("a prompt text comes from a node promptlang cannot read; left out")
        return ""

    positive, negative = text(inputs.get("positive")), text(inputs.get("negative"))
    read_text = a1111.read_comfy(positive, negative or "")
    out.positive, out.negative = read_text.positive, read_text.negative
    for n in read_text.notes:
        out.note(n)
    seed = inputs.get("seed", inputs.get("noise_seed"))
    for name, value, kind in (("seed", seed, int), ("steps", inputs.get("steps"), int),
                              ("guidance", inputs.get("cfg"), float)):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out.settings[name] = kind(value)
        elif value is not None:
            out.note(f"the sampler's {name} is not a number in the graph (it comes from another node); left out")
    comfy_scheduler(out, inputs.get("sampler_name"), inputs.get("scheduler"))
    latent = follow(inputs.get("latent_image"), ("EmptyLatentImage", "EmptySD3LatentImage"))
    if latent:
        w, h = latent["inputs"].get("width"), latent["inputs"].get("height")
        if isinstance(w, int) and isinstance(h, int):
            out.settings["size"] = (w, h)
        if isinstance(latent["inputs"].get("batch_size"), int):
            out.settings["images"] = latent["inputs"]["batch_size"]
    elif inputs.get("latent_image") is not None:
        out.note("the latent image is not an EmptyLatentImage (img2img?); the size is left out")
    _comfy_model(nodes, inputs.get("model"), out)
    return out


def _comfy_model(nodes: dict, value, out: Decompiled) -> None:
    for _ in range(MAX_HOPS):
        link = _link(value)
        node = nodes.get(str(link[0])) if link else None
        if node is None:
            return
        kind, ins = node.get("class_type"), node["inputs"]
        if kind in ("LoraLoader", "LoraLoaderModelOnly"):
            name = ins.get("lora_name")
            strength = ins.get("strength_model", 1.0)
            if isinstance(name, str):
                out.loras.append((re.sub(r"\.(safetensors|pt|ckpt)$", "", name.replace("\\", "/").split("/")[-1]),
                                  float(strength) if isinstance(strength, (int, float)) else 1.0))
        elif kind in ("CheckpointLoaderSimple", "CheckpointLoader", "UNETLoader"):
            name = ins.get("ckpt_name", ins.get("unet_name"))
            if isinstance(name, str):
                out.settings["model"] = name
                out.note(f"`model` is the checkpoint's file name in ComfyUI (`{name}`): point it at the file or a "
                         "Hugging Face id")
            return
        value = ins.get("model")
    return


#: the editor's ``widgets_values`` order, for the nodes read
_WIDGETS = {
    "CLIPTextEncode": ("text",),
    "KSampler": ("seed", None, "steps", "cfg", "sampler_name", "scheduler", "denoise"),
    "KSamplerAdvanced": (None, "noise_seed", None, "steps", "cfg", "sampler_name", "scheduler"),
    "EmptyLatentImage": ("width", "height", "batch_size"),
    "CheckpointLoaderSimple": ("ckpt_name",),
    "LoraLoader": ("lora_name", "strength_model", "strength_clip"),
}


def from_workflow(workflow) -> dict:
    """ComfyUI's editor graph (``workflow``) as the API graph :func:`comfy` reads."""
    if not isinstance(workflow, dict) or not isinstance(workflow.get("nodes"), list) \
            or len(workflow["nodes"]) > MAX_NODES:
        raise PromptError(f"the ComfyUI workflow is not a graph of at most {MAX_NODES:,} nodes")
    links = {}
    for link in workflow.get("links") or []:
        if isinstance(link, list) and len(link) >= 5:
            links[link[0]] = [link[1], link[2]]
    graph = {}
    for node in workflow["nodes"]:
        if not isinstance(node, dict) or "id" not in node:
            continue
        kind = node.get("type")
        inputs = {}
        for name, value in zip(_WIDGETS.get(kind, ()), node.get("widgets_values") or []):
            if name:
                inputs[name] = value
        for slot in node.get("inputs") or []:
            if isinstance(slot, dict) and slot.get("link") in links:
                inputs[slot.get("name")] = links[slot["link"]]
        graph[str(node["id"])] = {"class_type": kind, "inputs": inputs}
    return graph


# --------------------------------------------------------------------------- InvokeAI, Fooocus

_INVOKE = {"euler_k": "euler_karras", "euler_a": "euler_a", "heun_k": "heun_karras", "kdpm_2": "dpm2",
           "kdpm_2_k": "dpm2_karras", "kdpm_2_a": "dpm2_a", "kdpm_2_a_k": "dpm2_a_karras",
           "dpmpp_2m_k": "dpmpp_2m_karras", "dpmpp_2m_sde_k": "dpmpp_2m_sde_karras", "dpmpp_2s_k": "dpmpp_2s_karras",
           "unipc_k": "unipc_karras"}


def _number(d: Decompiled, data: dict, key: str, name: str, kind) -> None:
    value = data.get(key)
    if isinstance(value, str) and re.fullmatch(r"-?\d+(\.\d+)?", value.strip()):
        value = float(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        d.settings[name] = kind(value)
    elif value is not None:
        d.note(f"`{key}` {str(value)[:40]!r} is not a number; left out")


def invoke(data) -> Decompiled:
    if not isinstance(data, dict):
        raise PromptError("the `invokeai_metadata` chunk is not a JSON object")
    pos, neg = data.get("positive_prompt"), data.get("negative_prompt")
    d = compel.read(pos if isinstance(pos, str) else "", neg if isinstance(neg, str) else "")
    d.source = "InvokeAI"
    for key, name, kind in (("seed", "seed", int), ("steps", "steps", int), ("cfg_scale", "guidance", float)):
        _number(d, data, key, name, kind)
    if isinstance(data.get("width"), int) and isinstance(data.get("height"), int):
        d.settings["size"] = (data["width"], data["height"])
    sched = data.get("scheduler")
    if isinstance(sched, str):
        _scheduler(d, _INVOKE.get(sched, sched), f"scheduler `{sched}`")
    model = data.get("model")
    name = model.get("name", model.get("model_name")) if isinstance(model, dict) else model
    if isinstance(name, str):
        d.settings["model"] = name
    for lora in data.get("loras") or []:
        if isinstance(lora, dict):
            m = lora.get("model") or lora.get("lora") or {}
            n = m.get("name", m.get("model_name")) if isinstance(m, dict) else None
            if isinstance(n, str):
                w = lora.get("weight", 1.0)
                d.loras.append((n, float(w) if isinstance(w, (int, float)) else 1.0))
    return d


def invoke_v2(data) -> Decompiled:
    image = data.get("image") if isinstance(data, dict) else None
    if not isinstance(image, dict):
        raise PromptError("the `sd-metadata` chunk has no `image` object")
    prompt = image.get("prompt")
    if isinstance(prompt, list) and prompt and isinstance(prompt[0], dict):
        prompt = prompt[0].get("prompt")
    text = prompt if isinstance(prompt, str) else ""
    negative = " ".join(re.findall(r"\[([^\[\]]*)\]", text))  # InvokeAI 2: `[words]` are negative
    d = compel.read(re.sub(r"\[[^\[\]]*\]", "", text), negative)
    d.source = "InvokeAI"
    for key, name, kind in (("seed", "seed", int), ("steps", "steps", int), ("cfg_scale", "guidance", float)):
        _number(d, image, key, name, kind)
    if isinstance(image.get("width"), int) and isinstance(image.get("height"), int):
        d.settings["size"] = (image["width"], image["height"])
    if isinstance(image.get("sampler"), str):
        name = image["sampler"].removeprefix("k_")  # InvokeAI 2 names k-diffusion samplers `k_euler_a`
        _scheduler(d, _INVOKE.get(name, name), f"sampler `{image['sampler']}`")
    return d


def fooocus(data) -> Decompiled:
    if not isinstance(data, dict):
        raise PromptError("the Fooocus `parameters` chunk is not a JSON object")
    pos, neg = data.get("prompt"), data.get("negative_prompt")
    d = a1111.read(pos if isinstance(pos, str) else "", neg if isinstance(neg, str) else "")
    d.source = "Fooocus"
    _number(d, data, "seed", "seed", int)
    _number(d, data, "steps", "steps", int)
    _number(d, data, "guidance_scale", "guidance", float)
    size = data.get("resolution")
    m = re.fullmatch(r"\(?\s*(\d{1,5})\s*[,x×]\s*(\d{1,5})\s*\)?", str(size)) if size is not None else None
    if m:
        d.settings["size"] = (int(m.group(1)), int(m.group(2)))
    if isinstance(data.get("sampler"), str):
        comfy_scheduler(d, data["sampler"], data.get("scheduler"))
    if isinstance(data.get("base_model"), str):
        d.settings["model"] = data["base_model"]
    styles = data.get("styles")
    if styles and styles != "[]":
        d.note(f"Fooocus styles {str(styles)[:120]} were applied on top of this prompt: import the styles file "
               "with `promptlang catalog import` to use them")
    for lora in data.get("loras") or []:
        if isinstance(lora, (list, tuple)) and len(lora) >= 2 and isinstance(lora[0], str):
            try:
                d.loras.append((re.sub(r"\.safetensors$", "", lora[0]), float(lora[1])))
            except (TypeError, ValueError):
                d.note(f"LoRA {str(lora)[:60]}: its weight is not a number; left out")
    return d
