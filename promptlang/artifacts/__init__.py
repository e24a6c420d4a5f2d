"""Artifacts: every file promptlang writes and reads back.

``png`` (PNG text chunks, bounded reads),
``records`` (the one schema of what a render, walk frame, grid tile or sheet carries,
and its one validating reader), ``embeddings`` (``.safetensors`` files),
``grid`` (labelled grids of images).
"""
