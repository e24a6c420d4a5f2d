"""The shapes world: a tiny synthetic world of coloured shapes with captions, the
checker that reads a picture of it back, and the training of ``builtin:shapes``.

* :mod:`.world` draws a captioned picture from a seed (numpy + Pillow only);
* :mod:`.check` reads a picture's shape, colours and format with image statistics;
* :mod:`.train` trains the tiny Stable-Diffusion-shaped model that ships in
  ``promptlang/data/shapes`` (``python -m promptlang.shapes.train``; CI never retrains).

Nothing here is imported by ``import promptlang``.
"""
