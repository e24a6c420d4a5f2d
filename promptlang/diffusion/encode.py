"""Encode: IR prompts -> Compel ``Conjunction`` objects -> conditioning tensors.

Compel's weighting is the reference semantics, but its string parser (pyparsing) is
never used: :func:`to_conjunction` builds the ``Conjunction`` straight from the IR,
shaped exactly as Compel's parser would shape the equivalent weighted string, and
Compel's ``build_conditioning_tensor_for_conjunction`` turns it into tensors.

How an IR side becomes Compel fragments (this is what makes the token streams, the
per-token weights and the down-weighting masks identical to Compel's own):

* a fragment's ``join`` (``", "``, ``" "``) is separator text *outside* any weight, as
  in ``a, (b)1.3, c``: it is a weight-1.0 piece;
* whitespace-only joins carry no tokens; they only glue their neighbours;
* adjacent pieces of equal weight merge into one Compel fragment (Compel's parser
  merges ``(a)0.5 (b)0.5`` into ``("a b", 0.5)``, and down-weighting masks a whole
  fragment at a time, so merging changes the result).

Batching: Compel calls the text encoder once per 77-token chunk, per prompt, per
down-weighted fragment. :func:`encode` first lists every (token ids, mask) row that
Compel is going to ask for, across ``batch_size`` prompts, runs them through the text
encoder in one batch, and then lets Compel run unchanged against a stand-in encoder
that answers from those results (a row it did not foresee falls through to the real
encoder, so the result never depends on the prediction being complete).

SDXL details: the two encoders are used exactly as ``compel.CompelForSDXL`` uses them
(penultimate hidden states, not normalized; concatenated on the feature axis). The
pooled embedding is computed from the *clean* text (``ir.join_text``); Compel 2.5.1
instead pools its raw input string, weighting syntax included, so for weighted
prompts our pooled embedding differs from ``CompelForSDXL``'s on purpose. A blend's
pooled embedding is its parts' pooled embeddings mixed with the blend's normalized
weights, as Compel mixes the per-token embeddings.

The unit of encoding is a segment (:class:`ir.Segment`): a plain prompt has one, a
prompt edit several. Blends (``ir.Blend``) become a Compel ``Blend`` inside the
conjunction. :func:`encode` gives a :class:`Conditioning` per prompt: the tensors of its
first segment (a dict, ready for ``pipe(**tensors)``) with every segment's tensors in
``.segments``, all padded to one length, for the denoising loop to switch between.

An empty negative side on an SDXL model whose config says ``force_zeros_for_empty_prompt``
gives zero negative embeddings, as ``pipe(prompt)`` itself would.

torch and compel are imported inside the functions: importing this module is cheap.
"""
from __future__ import annotations

import hashlib
import json
import math
import types
import weakref
from pathlib import Path

from .. import ir
from ..errors import PromptError

ENCODE_VERSION = "1"  # bump when the tensors encode() produces for the same input change

__all__ = ["ENCODE_VERSION", "Conditioning", "to_conjunction", "encode", "pad_lengths", "default_cache_dir",
           "cache_key"]


# --------------------------------------------------------------------------- IR -> Compel

def pieces(fragments) -> list[tuple[str, float]]:
    """The (text, weight) runs Compel's parser would produce for these IR fragments.

    Not :func:`promptlang.ir.merged`: Compel treats a join with words in it (``", "``) as a
    run of weight 1 *between* two weighted runs, and only whitespace glues runs of equal
    weight, so merging here follows Compel's rules, not the text targets'."""
    runs: list[list] = []  # [text, weight]
    pending = ""  # whitespace waiting to glue two runs of equal weight

    def add(text: str, weight: float):
        nonlocal pending
        if runs and runs[-1][1] == weight:
            runs[-1][0] += pending + text
        else:
            runs.append([text, weight])
        pending = ""

    for frag in fragments:
        if not frag.text.strip():
            continue
        weight = float(frag.weight)
        if not math.isfinite(weight):
            raise PromptError(f"weight {frag.weight} on `{frag.text}` is not a finite number", frag.span)
        join = frag.join if runs else ""
        if join.strip():
            add(join, 1.0)
        else:
            pending = join
        add(frag.text, weight)
    return [(text.strip(), weight) for text, weight in runs] or [("", 1.0)]


def _flattened(fragments):
    from compel.prompt_parser import FlattenedPrompt, Fragment

    children = []
    for text, weight in pieces(fragments):
        child = Fragment("", weight)
        child.text = text  # set directly: Fragment() would unescape "\(" in literal text
        children.append(child)
    return FlattenedPrompt(children)


def to_conjunction(fragments, blend=()):
    """A ``compel.prompt_parser.Conjunction`` for one IR side: one ``FlattenedPrompt``,
    or, given an :class:`ir.Blend` (or its parts), one ``Blend`` of them with
    their weights, normalized as Compel's ``("a", "b").blend(0.6, 0.4)`` normalizes them."""
    from compel.prompt_parser import Blend, Conjunction

    if isinstance(fragments, ir.Blend):
        fragments, blend = (), fragments.parts
    if blend:
        return Conjunction([Blend([_flattened(part.fragments) for part in blend],
                                  [float(part.weight) for part in blend])])
    return Conjunction([_flattened(fragments)])


def _flat_prompts(conjunction) -> list:
    """The FlattenedPrompts Compel will encode for a conjunction (a Blend's parts included)."""
    from compel.prompt_parser import Blend

    return [q for p in conjunction.prompts for q in (p.prompts if isinstance(p, Blend) else [p])]


# --------------------------------------------------------------------------- the encoders

def _compels(pipe, kind: str) -> list:
    """Compel objects configured exactly as CompelForSD / CompelForSDXL configure them (with
    multi-vector textual-inversion tokens expanded, see :class:`_Vectors`)."""
    from compel import CompelForSD, CompelForSDXL

    if kind == "sd":
        compels = [CompelForSD(pipe).compel]
    else:
        wrapper = CompelForSDXL(pipe)
        compels = [wrapper.compel_1, wrapper.compel_2]
    for compel in compels:
        provider = compel.conditioning_provider
        if provider.textual_inversion_manager is None:
            expand = _Vectors.of(provider.tokenizer)
            if expand is not None:
                provider.textual_inversion_manager = expand
    return compels


class _Vectors:
    """Compel's textual-inversion manager for a tokenizer with multi-vector embeddings
    (tokens ``name``, ``name_1``, … as diffusers and :mod:`promptlang.diffusion.adapters`
    add them): the token ``name`` is followed by the others, at the token-id level (Compel's
    own ``DiffusersTextualInversionManager`` decodes and re-encodes the whole text)."""

    def __init__(self, expansions: dict):
        self.expansions = expansions

    @classmethod
    def of(cls, tokenizer):
        added = getattr(tokenizer, "added_tokens_encoder", None) or {}
        expansions = {}
        for token, token_id in added.items():
            more, i = [], 1
            while f"{token}_{i}" in added:
                more.append(added[f"{token}_{i}"])
                i += 1
            if more:
                expansions[token_id] = [token_id] + more
        return cls(expansions) if expansions else None

    def expand_textual_inversion_token_ids_if_necessary(self, token_ids: list) -> list:
        return [j for i in token_ids for j in self.expansions.get(i, (i,))]


class _ReplayEncoder:
    """Stands in for a CLIP text encoder inside Compel: answers each call from rows
    encoded in advance (``results``), falling through to the real encoder otherwise."""

    def __init__(self, encoder, results: dict):
        self._encoder = encoder
        self._results = results

    def __getattr__(self, name):  # device, dtype, text_model, config, …
        return getattr(self._encoder, name)

    def __call__(self, input_ids, attention_mask=None, output_hidden_states=False, return_dict=True):
        import torch

        if input_ids.shape[0] == 1:
            row = self._results.get(_row_key(input_ids[0], attention_mask))
            if row is not None:
                last, penultimate, pooled = (t.unsqueeze(0) for t in row)
                return types.SimpleNamespace(last_hidden_state=last, pooler_output=pooled,
                                             hidden_states=(penultimate, last) if output_hidden_states else None)
        with torch.no_grad():
            return self._encoder(input_ids, attention_mask, output_hidden_states=output_hidden_states,
                                 return_dict=return_dict)


def _row_key(ids, mask) -> tuple:
    ids = tuple(ids.tolist())
    mask = tuple(mask.reshape(-1).tolist()) if mask is not None else (1,) * len(ids)
    return ids, mask


def _predicted_rows(provider, conjunction) -> list:
    """The (ids, mask) rows Compel's EmbeddingsProvider will encode for this conjunction
    (mirrors ``get_embeddings_for_weighted_prompt_fragments`` in MASK down-weight mode)."""
    from compel.embeddings_provider import DownweightMode

    rows = []
    n = provider.max_token_count
    for prompt in _flat_prompts(conjunction):
        texts = [c.text for c in prompt.children]
        weights = [c.weight for c in prompt.children]
        tokens, _, mask = provider.get_token_ids_and_expand_weights(texts, weights, device="cpu")
        masks = [mask]
        if provider.downweight_mode == DownweightMode.MASK and any(w < 1 for w in weights):
            ranges = provider._get_token_ranges_for_fragments(tokens.tolist(), texts)
            for (start, end), weight in zip(ranges, weights):
                if weight < 1 and start is not None:
                    without = mask.clone()
                    without[start:end + 1] = 0
                    if not provider.truncate_to_model_max_length:
                        without[0::n] = 1
                        without[n - 1::n] = 1
                    masks.append(without)
        for m in masks:
            rows += [(tokens[i:i + n], m[i:i + n]) for i in range(0, len(tokens), n)]
    return rows


def _empty_row(provider) -> tuple:
    """The row behind Compel's ``empty_z``: BOS, EOS, padding (no mask)."""
    import torch

    ids = provider.bos_sequence + provider.eos_sequence
    ids += [provider.tokenizer.pad_token_id] * (provider.max_token_count - len(ids))
    return torch.tensor(ids, dtype=torch.long), torch.ones(len(ids), dtype=torch.long)


def _encode_rows(encoder, rows, rows_per_call: int = 64) -> dict:
    """Run the distinct rows through the text encoder in batches: key -> (last, penultimate, pooled)."""
    import torch

    distinct = {}
    for ids, mask in rows:
        distinct.setdefault(_row_key(ids, mask), (ids, mask))
    keys, results = list(distinct), {}
    device = encoder.device
    for start in range(0, len(keys), rows_per_call):
        batch = [distinct[k] for k in keys[start:start + rows_per_call]]
        ids = torch.stack([r[0] for r in batch]).to(device)
        mask = torch.stack([r[1] for r in batch]).to(device)
        with torch.no_grad():
            out = encoder(ids, mask, output_hidden_states=True, return_dict=True)
        pooled = out.pooler_output if hasattr(out, "pooler_output") else out.text_embeds
        for i, key in enumerate(keys[start:start + rows_per_call]):
            results[key] = (out.last_hidden_state[i], out.hidden_states[-2][i], pooled[i])
    return results


def _pad_to(tensor, length: int, empty):
    import torch

    while tensor.shape[1] < length:
        tensor = torch.cat([tensor, empty.to(tensor.device, tensor.dtype)], dim=1)
    return tensor


def _encode_group(segments, compels, kind: str, force_zeros: bool, batched: bool) -> list[dict]:
    """Encode a few segments with all their text encoders; one dict of tensors each."""
    import torch

    conjunctions = [(to_conjunction(s.positive), to_conjunction(s.negative)) for s in segments]
    per_encoder = []  # for each compel: [(pos, neg), …] per prompt
    with torch.no_grad():
        for compel in compels:
            provider = compel.conditioning_provider
            real = provider.text_encoder
            if batched:
                rows = [_empty_row(provider)]  # Compel's padding row ("empty_z") rides along
                rows += [r for pair in conjunctions for c in pair for r in _predicted_rows(provider, c)]
                provider.text_encoder = _ReplayEncoder(real, _encode_rows(real, rows))
            try:
                empty = provider.empty_z
                pairs = [tuple(compel.build_conditioning_tensor_for_conjunction(c)[0] for c in pair)
                         for pair in conjunctions]
            finally:
                provider.text_encoder = real
            per_encoder.append((pairs, empty))

        out = []
        for i in range(len(segments)):
            length = max(t.shape[1] for pairs, _ in per_encoder for t in pairs[i])
            pos = torch.cat([_pad_to(pairs[i][0], length, e) for pairs, e in per_encoder], dim=-1)
            neg = torch.cat([_pad_to(pairs[i][1], length, e) for pairs, e in per_encoder], dim=-1)
            out.append({"prompt_embeds": pos, "negative_prompt_embeds": neg})

        if kind == "sdxl":
            compel = compels[1]
            # per prompt: the positive (or each part of its blend), then the negative
            sides = [[*ir.texts(s.positive), s.negative] for s in segments]
            texts = [ir.join_text(side) for group in sides for side in group]
            pooled = compel.conditioning_provider.get_pooled_embeddings(texts, device=compel.device)
            pooled = pooled.to(out[0]["prompt_embeds"].dtype)
            at = 0
            for segment, group, tensors in zip(segments, sides, out):
                rows = pooled[at:at + len(group)]
                at += len(group)
                tensors["negative_pooled_prompt_embeds"] = rows[-1:]
                if isinstance(segment.positive, ir.Blend):  # parts' pooled embeddings, mixed by normalized weights
                    weights = torch.tensor([part.weight for part in segment.positive.parts], dtype=rows.dtype,
                                           device=rows.device)
                    mixed = (rows[:-1] * (weights / weights.sum())[:, None]).sum(0, keepdim=True)
                    tensors["pooled_prompt_embeds"] = mixed
                else:
                    tensors["pooled_prompt_embeds"] = rows[0:1]
                if force_zeros and not any(f.text.strip() for f in segment.negative):
                    tensors["negative_prompt_embeds"] = torch.zeros_like(tensors["negative_prompt_embeds"])
                    tensors["negative_pooled_prompt_embeds"] = torch.zeros_like(tensors["pooled_prompt_embeds"])
    return out


# --------------------------------------------------------------------------- public API

class Conditioning(dict):
    """A prompt's conditioning: the tensors of its first segment (``prompt_embeds``,
    ``negative_prompt_embeds`` and for SDXL the pooled pair), ready for
    ``pipe(**conditioning)``, and ``segments``: one such dict per segment of the prompt
    (the first included), all padded to one length, with ``starts`` (the fraction of the
    steps at which each takes over)."""

    def __init__(self, segments: list[dict], starts):
        super().__init__(segments[0])
        self.segments = list(segments)
        self.starts = [float(s) for s in starts]


def encode(prompts, model, *, batch_size: int = 8, cache_dir=None, _batched: bool = True):
    """Conditioning tensors for IR prompts on a diffusers SD or SDXL pipeline (or a
    :class:`~promptlang.diffusion.models.Model`).

    ``prompts``: one :class:`ir.Prompt` (returns one :class:`Conditioning`) or a list
    (returns a list, in order). Tensors have shape ``(1, 77*k, D)``: long prompts are
    chunked by Compel, never truncated, and positive and negative are padded to the
    same length. A blend is encoded as Compel's blend of its parts.

    ``batch_size``: one-segment prompts whose text-encoder work is batched together (the
    segments of a prompt edit are encoded each alone, exactly as that text alone would be).
    ``cache_dir``: a folder of ``.safetensors`` files keyed by :func:`cache_key`
    (``None``: no cache). A hit loads the tensors instead of encoding.
    """
    from .models import wrap

    single = isinstance(prompts, ir.Prompt)
    prompts = [prompts] if single else list(prompts)
    if not all(isinstance(p, ir.Prompt) for p in prompts):
        raise TypeError("encode() takes promptlang.ir.Prompt objects (see promptlang.compile)")
    model = wrap(model)
    pipe, kind = model.pipe, model.kind
    for attr in ("tokenizer", "text_encoder") + (("tokenizer_2", "text_encoder_2") if kind == "sdxl" else ()):
        if getattr(pipe, attr, None) is None:
            raise PromptError(f"the {kind.upper()} pipeline has no {attr}: cannot encode prompts")
    if batch_size < 1:
        raise PromptError(f"batch_size must be at least 1, not {batch_size}")

    plain = [i for i, prompt in enumerate(prompts) if len(prompt.segments) == 1]
    results: list = [None] * len(prompts)
    encoded = _encode_segments([prompts[i].segments[0] for i in plain], [prompts[i].name for i in plain], model,
                               batch_size, cache_dir, _batched)
    for i, tensors in zip(plain, encoded):
        results[i] = Conditioning([tensors], [0.0])
    for i, prompt in enumerate(prompts):
        if results[i] is None:
            # each segment on its own, so that it encodes exactly as that text alone would
            # (batching changes the last bits of SDXL's pooled embedding)
            segments = [_encode_segments([segment], [prompt.name], model, 1, cache_dir, _batched)[0]
                        for segment in prompt.segments]
            results[i] = Conditioning(pad_lengths(segments, model, cache_dir=cache_dir),
                                      [segment.start for segment in prompt.segments])
    return results[0] if single else results


def pad_lengths(tensors: list[dict], model, *, cache_dir=None) -> list[dict]:
    """Make every dict's token axis the same length (prompts over 77 tokens have more
    chunks) by appending the encoding of an empty prompt, as Compel pads positive and negative."""
    lengths = {t["prompt_embeds"].shape[1] for t in tensors}
    if len(lengths) == 1:
        return tensors
    import torch

    longest = max(lengths)
    empty = _encode_segments([ir.Segment(0.0, (), ())], [""], model, 1, cache_dir, True)[0]["prompt_embeds"]
    out = []
    for t in tensors:
        t = dict(t)
        for name in ("prompt_embeds", "negative_prompt_embeds"):
            x = t[name]
            while x.shape[1] < longest:
                x = torch.cat([x, empty.to(x.device, x.dtype)], dim=1)
            t[name] = x
        out.append(t)
    return out


def _encode_segments(segments, names, model, batch_size: int, cache_dir, batched: bool) -> list[dict]:
    from .models import wrap

    model = wrap(model)
    pipe, kind = model.pipe, model.kind
    results: list = [None] * len(segments)
    keys = [None] * len(segments)
    if cache_dir is not None:
        identity = _encoder_identity(pipe, kind)
        if getattr(model, "adapters", ()):  # a LoRA's weight is not in the sampled values when it is 0
            identity = hashlib.sha256(f"{identity}|{json.dumps(model.adapters)}".encode()).hexdigest()
        for i, segment in enumerate(segments):
            keys[i] = cache_key(segment, identity)
            results[i] = _cache_read(Path(cache_dir), keys[i], pipe)

    todo = [i for i, r in enumerate(results) if r is None]
    if todo:
        with _no_length_warning():
            _encode_todo(todo, segments, names, results, keys, model, batch_size, cache_dir, batched)
    return results


class _LengthWarning:
    """A logging filter for transformers' "Token indices sequence length is longer than the
    specified maximum ... indexing errors": Compel tokenizes without truncation and chunks
    long prompts itself, so the warning is wrong here (filtered while we encode, not
    switched off on the caller's tokenizer)."""

    @staticmethod
    def filter(record) -> bool:
        return "Token indices sequence length is longer" not in record.getMessage()


class _no_length_warning:
    def __enter__(self):
        import logging

        self._logger = logging.getLogger("transformers.tokenization_utils_base")
        self._logger.addFilter(_LengthWarning)

    def __exit__(self, *exc):
        self._logger.removeFilter(_LengthWarning)


def _encode_todo(todo, segments, names, results, keys, model, batch_size: int, cache_dir, batched: bool):
    """Encode the segments at ``todo`` (those the cache did not have) in groups of ``batch_size``."""
    compels = _compels(model.pipe, model.kind)
    force_zeros = bool(getattr(model.pipe.config, "force_zeros_for_empty_prompt", False))
    for start in range(0, len(todo), batch_size):
        group = todo[start:start + batch_size]
        encoded = _encode_group([segments[i] for i in group], compels, model.kind, force_zeros, batched)
        for i, tensors in zip(group, encoded):
            results[i] = tensors
            if cache_dir is not None:
                _cache_write(Path(cache_dir), keys[i], tensors, segments[i], names[i], model)


def default_cache_dir() -> Path | None:
    """``embeddings/`` in promptlang's cache folder (``~/.cache/promptlang/embeddings``; see
    :mod:`promptlang.cache`), or None when caching is off."""
    from ..cache import folder

    root = folder()
    return None if root is None else root / "embeddings"


# --------------------------------------------------------------------------- cache

def _encoder_identity(pipe, kind: str) -> str:
    """A fingerprint of what decides the embeddings: the model kind, tokenizers and text
    encoders (class, config, dtype, device type, 16 values sampled from every weight).
    Not the model name: fine-tunes that share a text encoder share cache entries, correctly."""
    import torch

    h = hashlib.sha256(f"{kind}|zeros:{getattr(pipe.config, 'force_zeros_for_empty_prompt', False)}".encode())
    pairs = [("tokenizer", "text_encoder")] + ([("tokenizer_2", "text_encoder_2")] if kind == "sdxl" else [])
    for tok_name, enc_name in pairs:
        tok, enc = getattr(pipe, tok_name), getattr(pipe, enc_name)
        h.update(_tokenizer_identity(tok).encode())
        config = {k: v for k, v in enc.config.to_dict().items()
                  if not k.startswith("_") and k not in ("transformers_version", "dtype", "torch_dtype")}
        h.update(f"{type(enc).__name__}|{json.dumps(config, sort_keys=True, default=str)}".encode())
        samples = []
        for name, param in enc.named_parameters():
            flat = param.detach().reshape(-1)
            step = max(1, flat.numel() // 16)
            samples.append(flat[::step][:16].float())
            h.update(f"{name}|{tuple(param.shape)}|{param.dtype}|{param.device.type}".encode())
        h.update(torch.cat(samples).cpu().numpy().tobytes())
    return h.hexdigest()


_IDENTITIES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # tokenizer -> (size, identity)


def _tokenizer_identity(tok) -> str:
    cached = _IDENTITIES.get(tok)
    if cached and cached[0] == len(tok):
        return cached[1]
    vocab = json.dumps(sorted(tok.get_vocab().items()), ensure_ascii=False)
    ident = (f"{type(tok).__name__}|{len(tok)}|{tok.model_max_length}|{tok.pad_token}|"
             f"{hashlib.sha256(vocab.encode()).hexdigest()}")
    try:
        _IDENTITIES[tok] = (len(tok), ident)
    except TypeError:  # an object that cannot be weakly referenced: no memo
        pass
    return ident


def _compel_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("compel")
    except PackageNotFoundError:
        return "unknown"


def _side(fragments) -> list:
    return [[f.text, float(f.weight), f.join] for f in fragments]


def cache_key(segment: ir.Segment, identity: str) -> str:
    """sha256 of everything that decides a segment's tensors: the encoders' identity,
    both sides' fragments (text, weight, join), the encode and Compel versions."""
    payload = {"encode": ENCODE_VERSION, "compel": _compel_version(), "encoders": identity,
               "positive": _side(ir.flat(segment.positive)), "negative": _side(segment.negative)}
    if isinstance(segment.positive, ir.Blend):
        payload["blend"] = [[float(part.weight), _side(part.fragments)] for part in segment.positive.parts]
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _cache_path(cache_dir: Path, key: str) -> Path:
    return cache_dir / key[:2] / f"{key}.safetensors"


def _cache_read(cache_dir: Path, key: str, pipe):
    from ..artifacts.embeddings import load as load_embeddings

    path = _cache_path(cache_dir, key)
    if not path.is_file():
        return None
    try:
        tensors, meta = load_embeddings(path)
    except PromptError:
        return None  # unreadable entry: encode again and overwrite it
    if meta.get("key") != key:
        return None
    encoder = pipe.text_encoder
    return {name: t.to(encoder.device, encoder.dtype) for name, t in tensors.items()}


def _cache_write(cache_dir: Path, key: str, tensors: dict, segment, name: str, model):
    from ..artifacts.embeddings import save as save_embeddings

    meta = {"key": key, "kind": model.kind, "prompt": name, "model": model.id,
            "promptlang_encode": ENCODE_VERSION,
            "source": json.dumps({"positive": _side(ir.flat(segment.positive)), "negative": _side(segment.negative)},
                                 ensure_ascii=False)}
    try:
        save_embeddings(_cache_path(cache_dir, key), tensors, meta)
    except (OSError, PromptError):
        pass  # a cache that cannot be written is no reason to fail the encode
