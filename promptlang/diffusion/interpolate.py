"""Interpolation for walks and grids: lerp for embeddings, slerp for starting noise.

A *walk* from prompt A to prompt B sits at ``t`` in [0, 1]: its conditioning is
``lerp(A, B, t)`` of every tensor, its starting noise ``slerp(noise(A.seed),
noise(B.seed), t)``. A *grid* does the same in two directions (``u`` along the rows,
``v`` down the columns) between four corners: along the top and bottom rows by ``u``,
then between them by ``v``. ``t``/``u``/``v`` of exactly 0 or 1 give an endpoint's
tensors themselves, so endpoint frames are pixel-identical to plain renders.

:func:`noise` draws the latents exactly as the pipeline would for a seed (the same CPU
``torch.Generator``, shape and dtype, through diffusers' ``randn_tensor``).

torch and diffusers are imported inside the functions: importing this module is cheap.
"""
from __future__ import annotations

import math

PARALLEL = 0.9995  # |cos θ| above this: the vectors are (anti)parallel, slerp's formula is unstable


# --------------------------------------------------------------------------- interpolation

def lerp(a, b, t: float):
    """Linear interpolation ``a + (b - a) * t``; ``t = 0`` gives ``a`` and ``t = 1`` gives ``b`` exactly.

    Computed in float32 (or wider) and returned in ``a``'s dtype.
    """
    end = _endpoint(a, b, t)
    if end is not None:
        return end
    t, work = float(t), _work_dtype(a)
    a32, b32 = a.to(work), b.to(work)
    return (a32 + (b32 - a32) * t).to(a.dtype)


def _endpoint(a, b, t: float):
    """``a`` or ``b`` themselves (copied) at ``t`` 0 or 1, so endpoints are exact; else None."""
    _same_shape(a, b)
    if float(t) == 0.0:
        return a.clone()
    if float(t) == 1.0:
        return b.clone()
    return None


def slerp(a, b, t: float):
    """Spherical interpolation between ``a`` and ``b``, per sample (dim 0), flattened.

    ``sin((1-t)θ)/sin θ · a + sin(tθ)/sin θ · b`` with θ the angle between the two
    samples: for Gaussian noise (whose samples live near a sphere) the result keeps the
    norm a sample of that noise has, where lerp would shrink it towards the middle.
    Nearly parallel vectors fall back to :func:`lerp`; nearly opposite vectors (no unique
    great circle) turn through a fixed direction orthogonal to ``a``, with the norm
    interpolated linearly, so there is never a NaN. ``t = 0`` and ``t = 1`` return
    ``a`` and ``b`` exactly.
    """
    import torch

    end = _endpoint(a, b, t)
    if end is not None:
        return end
    t, work = float(t), _work_dtype(a)
    n = a.shape[0] if a.dim() > 1 else 1
    fa, fb = a.to(work).reshape(n, -1), b.to(work).reshape(n, -1)
    out = torch.empty_like(fa)
    for i in range(n):
        out[i] = _slerp_row(fa[i], fb[i], t)
    return out.reshape(a.shape).to(a.dtype)


def _slerp_row(a, b, t: float):
    import torch

    na, nb = a.norm(), b.norm()
    if na == 0 or nb == 0:
        return a + (b - a) * t
    dot = float(torch.clamp((a @ b) / (na * nb), -1.0, 1.0))
    if dot > PARALLEL:
        return a + (b - a) * t
    if dot < -PARALLEL:
        unit = a / na
        ortho = _orthogonal(unit)
        norm = na + (nb - na) * t
        return norm * (math.cos(math.pi * t) * unit + math.sin(math.pi * t) * ortho)
    theta = math.acos(dot)
    s = math.sin(theta)
    return (math.sin((1 - t) * theta) / s) * a + (math.sin(t * theta) / s) * b


def _orthogonal(unit):
    """A unit vector orthogonal to ``unit`` (deterministic: Gram-Schmidt on a rolled copy, or a basis vector)."""
    import torch

    for candidate in (torch.roll(unit, 1), torch.zeros_like(unit).index_fill_(0, torch.tensor([0]), 1.0),
                      torch.zeros_like(unit).index_fill_(0, torch.tensor([unit.numel() - 1]), 1.0)):
        v = candidate - (candidate @ unit) * unit
        if v.norm() > 1e-6:
            return v / v.norm()
    return torch.zeros_like(unit)  # a 1-element vector has no orthogonal direction


def _work_dtype(t):
    import torch

    if t.dtype == torch.float64 or t.device.type in ("cpu", "cuda"):
        return torch.float64
    return torch.float32


def _same_shape(a, b):
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"cannot interpolate tensors of shapes {tuple(a.shape)} and {tuple(b.shape)}")


# --------------------------------------------------------------------------- noise

def draw(model, seed: int, width: int, height: int):
    """``(latents, generator)``: the noise ``model``'s pipeline draws for ``seed`` at
    ``width``×``height`` (before the scheduler's ``init_noise_sigma`` scaling, which the
    pipeline applies to ``latents=`` too), and the CPU generator after that draw."""
    import torch
    from diffusers.utils.torch_utils import randn_tensor

    pipe = model.pipe
    generator = torch.Generator("cpu").manual_seed(int(seed))
    scale = pipe.vae_scale_factor
    shape = (1, pipe.unet.config.in_channels, int(height) // scale, int(width) // scale)
    latents = randn_tensor(shape, generator=[generator], device=model.device, dtype=model.dtype)
    return latents, generator


# --------------------------------------------------------------------------- positions

def mix(values, u: float, v: float, fn):
    """Interpolate endpoint values: 2 (walk, by u) or 4 (grid: top by u, bottom by u, then by v)."""
    if len(values) == 2:
        return fn(values[0], values[1], u)
    return fn(fn(values[0], values[1], u), fn(values[2], values[3], u), v)


def shares(names, u: float, v: float) -> dict:
    """Each endpoint's share of the mix at (u, v), by name (endpoints with one name add up)."""
    if len(names) == 2:
        weights = [1 - u, u]
    else:
        weights = [(1 - u) * (1 - v), u * (1 - v), (1 - u) * v, u * v]
    out: dict = {}
    for name, s in zip(names, weights):
        out[name] = round(out.get(name, 0.0) + s, 6)
    return out


def exact_endpoint(n: int, u: float, v: float):
    """The endpoint (0..n-1) that position (u, v) is exactly, or None."""
    corners = [(0.0, 0.0), (1.0, 0.0)] if n == 2 else [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)]
    for i, corner in enumerate(corners):
        if (u, v if n == 4 else 0.0) == corner:
            return i
    return None


def nearest(n: int, u: float, v: float) -> int:
    """The endpoint nearest to (u, v): its generator draws the per-step noise of ancestral schedulers."""
    if n == 2:
        return 0 if u < 0.5 else 1
    return (1 if u >= 0.5 else 0) + (2 if v >= 0.5 else 0)
