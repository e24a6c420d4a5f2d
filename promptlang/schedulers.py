"""Scheduler names -> diffusers scheduler classes (data only: no diffusers import here).

Names are written as in the table (``dpmpp_2m_karras``) or as AUTOMATIC1111 shows
them (``"DPM++ 2M Karras"``, ``"Euler a"``): :func:`normalize` maps the second to the first.
"""
from __future__ import annotations

import re

# name: (diffusers class, extra config, the A1111 sampler label)
SCHEDULERS: dict[str, tuple[str, dict, str]] = {
    "ddim": ("DDIMScheduler", {}, "DDIM"),
    "ddpm": ("DDPMScheduler", {}, "DDPM"),
    "pndm": ("PNDMScheduler", {"skip_prk_steps": True}, "PLMS"),
    "euler": ("EulerDiscreteScheduler", {}, "Euler"),
    "euler_karras": ("EulerDiscreteScheduler", {"use_karras_sigmas": True}, "Euler Karras"),
    "euler_a": ("EulerAncestralDiscreteScheduler", {}, "Euler a"),
    "heun": ("HeunDiscreteScheduler", {}, "Heun"),
    "heun_karras": ("HeunDiscreteScheduler", {"use_karras_sigmas": True}, "Heun Karras"),
    "dpm2": ("KDPM2DiscreteScheduler", {}, "DPM2"),
    "dpm2_karras": ("KDPM2DiscreteScheduler", {"use_karras_sigmas": True}, "DPM2 Karras"),
    "dpm2_a": ("KDPM2AncestralDiscreteScheduler", {}, "DPM2 a"),
    "dpm2_a_karras": ("KDPM2AncestralDiscreteScheduler", {"use_karras_sigmas": True}, "DPM2 a Karras"),
    "dpmpp_2m": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++", "solver_order": 2}, "DPM++ 2M"),
    "dpmpp_2m_karras": ("DPMSolverMultistepScheduler",
                        {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": True},
                        "DPM++ 2M Karras"),
    "dpmpp_2m_sde": ("DPMSolverMultistepScheduler", {"algorithm_type": "sde-dpmsolver++"}, "DPM++ 2M SDE"),
    "dpmpp_2m_sde_karras": ("DPMSolverMultistepScheduler",
                            {"algorithm_type": "sde-dpmsolver++", "use_karras_sigmas": True},
                            "DPM++ 2M SDE Karras"),
    "dpmpp_2s": ("DPMSolverSinglestepScheduler", {}, "DPM++ 2S"),
    "dpmpp_2s_karras": ("DPMSolverSinglestepScheduler", {"use_karras_sigmas": True}, "DPM++ 2S Karras"),
    "unipc": ("UniPCMultistepScheduler", {}, "UniPC"),
    "unipc_karras": ("UniPCMultistepScheduler", {"use_karras_sigmas": True}, "UniPC Karras"),
}


def normalize(name: str) -> str:
    """``"DPM++ 2M Karras"`` -> ``dpmpp_2m_karras``; ``"Euler a"`` -> ``euler_a``."""
    text = name.strip().lower().replace("++", "pp").replace("+", "p")
    return re.sub(r"[\s\-]+", "_", text)


def lookup(name: str) -> str | None:
    key = normalize(name)
    return key if key in SCHEDULERS else None


# Reset first: a model's own scheduler config (often DPM++ Karras, order 3) must not leak
# into the scheduler a name asks for.
_BASE = {"use_karras_sigmas": False, "use_exponential_sigmas": False, "use_beta_sigmas": False,
         "algorithm_type": "dpmsolver++", "solver_order": 2}


def make(name: str, config):
    """A diffusers scheduler for ``name`` from a pipeline scheduler's ``config``."""
    import inspect

    import diffusers

    class_name, extra, _ = SCHEDULERS[normalize(name)]
    cls = getattr(diffusers, class_name)
    accepted = inspect.signature(cls.__init__).parameters
    settings = {k: v for k, v in {**_BASE, **extra}.items() if k in accepted}
    return cls.from_config({k: v for k, v in dict(config).items() if k not in _BASE}, **settings)


def a1111_label(name: str | None) -> str:
    return SCHEDULERS[normalize(name)][2] if name and lookup(name) else "Default"
