"""Warnings that need the CLIP tokenizer: a side longer than CLIP's 75-token window."""
from __future__ import annotations

from .errors import Warning_
from .ir import join_text


def token_warnings(prompts, source: str | None = None) -> list[Warning_]:
    from .tokens import CONTEXT, count_tokens

    out = []
    for prompt in prompts:
        for side, frags in (("positive", prompt.positive), ("negative", prompt.negative)):
            if not frags:
                continue
            n = count_tokens(join_text(frags))
            if n > CONTEXT:
                out.append(Warning_(f"prompt `{prompt.name}`: the {side} prompt is {n} CLIP tokens, over the "
                                    f"{CONTEXT}-token window; Compel encodes it in {-(-n // CONTEXT)} chunks, "
                                    "other tools may cut it off", prompt.span, source))
    return out
