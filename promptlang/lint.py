"""Warnings that need the CLIP tokenizer: a side longer than CLIP's 75-token window."""
from __future__ import annotations

from .errors import Warning_
from .ir import join_text, timeline


def token_warnings(prompts, source: str | None = None) -> list[Warning_]:
    from .tokens import CONTEXT, count_tokens

    out = []
    for prompt in prompts:
        stages = timeline(prompt)  # every stage of a prompt edit and every part of a blend counts
        sides = (("positive", [frags for s in stages for frags in ([p.positive for p in s.blend] or [s.positive])]),
                 ("negative", [s.negative for s in stages]))
        for side, variants in sides:
            variants = [join_text(frags) for frags in variants if frags]
            if not variants:
                continue
            n = max(count_tokens(text) for text in dict.fromkeys(variants))
            if n > CONTEXT:
                out.append(Warning_(f"prompt `{prompt.name}`: the {side} prompt is {n} CLIP tokens, over the "
                                    f"{CONTEXT}-token window; Compel encodes it in {-(-n // CONTEXT)} chunks, "
                                    "other tools may cut it off", prompt.span, source))
    return out
