"""``json``: the IR itself (DESIGN §5), one object per prompt."""
from __future__ import annotations

import json

from ..ir import to_json

NAME = "JSON"
CAN = frozenset({"edit", "alternate", "blend", "weights", "part_weights", "negative_weights", "lora",
                 "embedding"})  # the IR itself


def emit(prompt, warnings=None) -> str:
    return json.dumps(to_json(prompt), ensure_ascii=False, indent=2)
