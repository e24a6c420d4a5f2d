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

Start-up: building that pipeline costs 50-70 ms (the Rust BPE model reading 49,408
ids and 48,894 merges), more than everything else `promptlang compile` does. Texts
of plain ASCII (printable characters, spaces, tabs and line breaks), which are almost
all prompts, are counted instead by :func:`ascii_pieces`, the same BPE written in a
few lines of Python over ``merges.txt`` alone (about 9 ms to read). For such texts
every step of the pipeline is simple: NFC and lowercasing are plain ASCII, each
character is its own byte-level symbol, and CLIP's regex classes are ``[a-z]``,
``[0-9]`` and the rest. tests/test_startup_pieces.py checks the two give the same
tokens on a table of texts and on random ones; anything else (any other character,
or CLIP's special tokens written out) goes through the ``tokenizers`` pipeline.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

__all__ = ["CONTEXT", "count_tokens"]

CONTEXT = 75  # usable tokens per CLIP window: 77 minus BOS and EOS
_DATA = Path(__file__).resolve().parent / "data" / "clip"  # a plain folder, in a wheel too (not importlib.resources: 2 ms)
_SPECIAL = ["<|startoftext|>", "<|endoftext|>"]
_SPLIT = r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""


@lru_cache(maxsize=1)
def _tokenizer():
    import json

    from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import BPE

    vocab = json.loads((_DATA / "vocab.json").read_text(encoding="utf-8"))
    lines = (_DATA / "merges.txt").read_text(encoding="utf-8").splitlines()
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


_ASCII = re.compile(r"[\t\n\r\x20-\x7e]*")
_ASCII_SPLIT = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d|[a-z]+|[0-9]|[^\sa-z0-9]+")


def count_tokens(text: str) -> int:
    """Number of CLIP tokens in ``text``, not counting BOS/EOS."""
    if "<|" not in text and _ASCII.fullmatch(text):
        return sum(_word_count(word) for word in _ASCII_SPLIT.findall(text.lower()))
    return len(_tokenizer().encode(text, add_special_tokens=False).ids)


# Reading merges.txt into a table takes about 9 ms, more than compiling a prompt, and the
# words of a team's prompts and catalogs repeat from run to run: how many tokens each word
# is made of is kept in promptlang's cache (JSON, keyed by the merges file and this
# version), read once per process and written back at exit when it learnt new words.
MAX_WORDS = 50_000
_words: dict | None = None
_learnt: list = []


def _words_key() -> str:
    from . import __version__

    stat = (_DATA / "merges.txt").stat()
    return f"clip-words-{__version__}-{stat.st_size}-{stat.st_mtime_ns}"


def _word_count(word: str) -> int:
    global _words
    if _words is None:
        from .cache import read_json

        cached = read_json("tokens", _words_key())
        _words = cached if isinstance(cached, dict) else {}
    if len(word) > LONG_WORD:
        return len(_long_word(word))
    count = _words.get(word)
    if type(count) is not int:
        count = len(_bpe(word))
        if len(_words) < MAX_WORDS:
            _words[word] = count
            if not _learnt:
                import atexit

                atexit.register(_save_words)
            _learnt.append(word)
    return count


def _save_words() -> None:
    from .cache import write_json

    if _learnt and _words is not None:
        write_json("tokens", _words_key(), _words)
        _learnt.clear()


def ascii_pieces(text: str) -> list[str] | None:
    """CLIP's tokens for a plain-ASCII text without special tokens; None for any other text."""
    if "<|" in text or not _ASCII.fullmatch(text):
        return None
    out: list[str] = []
    for word in _ASCII_SPLIT.findall(text.lower()):
        out += _long_word(word) if len(word) > LONG_WORD else _bpe(word)
    return out


# The BPE below merges one pair at a time, each time scanning the word: quadratic in the
# word's length. Words longer than this (a run of 10,000 commas is one word) go to the
# `tokenizers` pipeline, whose BPE is linear-logarithmic and gives the same tokens.
LONG_WORD = 64


def _long_word(word: str) -> list[str]:
    return _tokenizer().encode(word, add_special_tokens=False).tokens


@lru_cache(maxsize=1)
def _ranks() -> dict[str, int]:
    """``"left right"`` -> merge rank, from merges.txt (its first line is a version header)."""
    lines = (_DATA / "merges.txt").read_text(encoding="utf-8").split("\n")
    lines = [line for line in lines[1:] if line]
    return dict(zip(lines, range(len(lines))))


@lru_cache(maxsize=4096)
def _bpe(word: str) -> tuple[str, ...]:
    """One pre-tokenized word merged as ``tokenizers``' BPE merges it: lowest rank first."""
    symbols = list(word[:-1]) + [word[-1] + "</w>"]
    ranks = _ranks()
    while len(symbols) > 1:
        best, at = None, -1
        for i in range(len(symbols) - 1):
            rank = ranks.get(symbols[i] + " " + symbols[i + 1])
            if rank is not None and (best is None or rank < best):
                best, at = rank, i
        if best is None:
            break
        symbols[at:at + 2] = [symbols[at] + symbols[at + 1]]
    return tuple(symbols)
