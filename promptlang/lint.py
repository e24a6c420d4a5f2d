"""Warnings that need the CLIP tokenizer: a side longer than CLIP's 75-token window."""
from __future__ import annotations

from .errors import Warning_
from .ir import join_text, texts


def side_texts(prompt) -> dict[str, list[str]]:
    """Each side's distinct texts: every segment of a schedule and every part of a blend."""
    sides = {"positive": [frags for s in prompt.segments for frags in texts(s.positive)],
             "negative": [s.negative for s in prompt.segments]}
    return {side: list(dict.fromkeys(join_text(frags) for frags in variants)) for side, variants in sides.items()}


def longest(texts) -> int:
    """The most CLIP tokens among the texts (0 for none); linear in their length (see
    :data:`promptlang.tokens.LONG_WORD`)."""
    from .tokens import count_tokens

    return max((count_tokens(text) for text in texts if text), default=0)


def token_warnings(prompts, source: str | None = None) -> list[Warning_]:
    from .tokens import CONTEXT

    out = []
    for prompt in prompts:
        for side, variants in side_texts(prompt).items():
            n = longest(variants)
            if n > CONTEXT:
                out.append(Warning_(f"prompt `{prompt.name}`: the {side} prompt is {n} CLIP tokens, over the "
                                    f"{CONTEXT}-token window; Compel encodes it in {-(-n // CONTEXT)} chunks, "
                                    "other tools may cut it off", prompt.span, source))
    return out
