"""Diffusion: from the IR to pixels with diffusers (torch is imported lazily, inside functions).

``models`` (where a pipeline comes from, and the :class:`~promptlang.diffusion.models.Model`
wrapper that keeps what promptlang knows about it off the pipeline), ``encode`` (IR ->
Compel objects -> conditioning tensors, and the embeddings cache), ``denoise`` (the one
denoising loop: a prompt's segments switched inside diffusers' sampling loop),
``interpolate`` (lerp, slerp and starting noise for walks and grids), ``fast`` (the
usual diffusers speed-ups).
"""
