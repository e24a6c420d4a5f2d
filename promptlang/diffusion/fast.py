"""Fast mode for rendering (``promptlang render --fast``): the usual diffusers speed-ups.

* SDPA attention (``AttnProcessor2_0``: PyTorch's fused scaled-dot-product attention),
* fused QKV projections in the UNet and VAE attention layers,
* channels-last memory layout for the UNet and VAE,
* ``torch.compile`` of the UNet (``mode="max-autotune-no-cudagraphs"`` on CUDA; off on CPU
  unless asked, where compiling costs minutes and gains little).

Everything is applied in place and is idempotent; it does not change the numbers beyond
floating-point reordering.
"""
from __future__ import annotations

import weakref

# pipelines already made fast (kept here, not as an attribute on the pipeline)
_APPLIED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def apply(pipe, *, compile: bool | None = None) -> list[str]:
    """Apply the speed-ups to ``pipe``; returns what was applied (for logs and benchmarks)."""
    import torch

    done = []
    if pipe in _APPLIED:
        return _APPLIED[pipe]
    try:
        from diffusers.models.attention_processor import AttnProcessor2_0

        pipe.unet.set_attn_processor(AttnProcessor2_0())
        pipe.vae.set_attn_processor(AttnProcessor2_0())
        done.append("sdpa")
    except Exception:  # models whose processors cannot be swapped keep their own
        pass
    for module in (pipe.unet, pipe.vae):
        fuse = getattr(module, "fuse_qkv_projections", None)
        if fuse is not None:
            try:
                fuse()
                done.append(f"fused-qkv:{type(module).__name__}")
            except Exception:
                pass
    pipe.unet.to(memory_format=torch.channels_last)
    pipe.vae.to(memory_format=torch.channels_last)
    done.append("channels-last")
    on_cuda = pipe.device.type == "cuda"
    if compile if compile is not None else on_cuda:
        pipe.unet = torch.compile(pipe.unet, mode="max-autotune-no-cudagraphs" if on_cuda else "default",
                                  fullgraph=False)
        done.append("torch.compile(unet)")
    _APPLIED[pipe] = done
    return done
