"""Fast CLIP token counting without torch or transformers.

Stable Diffusion's text encoder sees prompts through CLIP's byte-level BPE
tokenizer in windows of 77 ids: ``<|startoftext|>``, up to 75 prompt tokens,
``<|endoftext|>``.  :func:`count_tokens` returns how many of those 75 slots a
text uses.  It builds, with the Rust ``tokenizers`` library only, the same
pipeline Hugging Face ``transformers``' ``CLIPTokenizer`` builds, from the
``vocab.json``/``merges.txt`` shipped in :mod:`promptlang.data.clip`:

* normalizer: NFC, every whitespace run -> one space, lowercase;
* pre-tokenizer: CLIP's regex split, then byte-level mapping (no prefix space);
* model: BPE with ``end_of_word_suffix="</w>"`` and no continuing-subword prefix;
* ``<|startoftext|>``/``<|endoftext|>`` as special tokens matched verbatim.

Like transformers (and unlike OpenAI's original ``SimpleTokenizer``) it does
not run ``ftfy.fix_text`` or ``html.unescape``, so fullwidth letters, ligatures,
curly quotes and HTML entities may count differently from open_clip.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib.resources import files

from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers
from tokenizers.models import BPE

__all__ = ["CONTEXT", "count_tokens"]

CONTEXT = 75  # usable tokens per CLIP window: 77 minus BOS and EOS
_SPECIAL = ["<|startoftext|>", "<|endoftext|>"]
_SPLIT = r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""


@lru_cache(maxsize=1)
def _tokenizer() -> Tokenizer:
    data = files("promptlang.data.clip")
    vocab = json.loads(data.joinpath("vocab.json").read_text(encoding="utf-8"))
    lines = data.joinpath("merges.txt").read_text(encoding="utf-8").splitlines()
    merges = [tuple(line.split(" ")) for line in lines if line and not line.startswith("#version")]
    tok = Tokenizer(
        BPE(
            vocab=vocab,
            merges=merges,
            dropout=None,
            continuing_subword_prefix="",
            end_of_word_suffix="</w>",
            fuse_unk=False,
            unk_token="<|endoftext|>",
        )
    )
    tok.normalizer = normalizers.Sequence(
        [normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase()]
    )
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_SPLIT), behavior="removed", invert=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False),
        ]
    )
    tok.add_special_tokens(_SPECIAL)  # matched before normalization, as in transformers
    return tok


def count_tokens(text: str) -> int:
    """Number of CLIP tokens in ``text``, not counting BOS/EOS."""
    return len(_tokenizer().encode(text, add_special_tokens=False).ids)
