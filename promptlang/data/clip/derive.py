"""Re-derive CLIP's ``vocab.json`` and ``merges.txt`` from OpenAI's BPE file.

The source is ``bpe_simple_vocab_16e6.txt.gz`` as shipped by OpenAI CLIP (and
copied verbatim into the ``open-clip-torch`` wheel as
``open_clip/bpe_simple_vocab_16e6.txt.gz``).  The vocabulary is built exactly
as CLIP's ``SimpleTokenizer`` builds it:

1. the 256 ``bytes_to_unicode`` characters, in that order;
2. the same 256 characters with ``</w>`` appended;
3. the first 48,894 merges (lines ``1 .. 49152-256-2`` of the file), joined;
4. ``<|startoftext|>`` and ``<|endoftext|>``.

That gives 49,408 ids.  ``merges.txt`` is written in the format Hugging Face's
``CLIPTokenizer`` / ``tokenizers.models.BPE`` reads: a ``#version: 0.2`` line
followed by the same 48,894 merges, one per line.

Usage::

    python -m promptlang.data.clip.derive open_clip_torch-*.whl
    python -m promptlang.data.clip.derive bpe_simple_vocab_16e6.txt.gz --out DIR
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL_MEMBER = "open_clip/bpe_simple_vocab_16e6.txt.gz"
N_MERGES = 49152 - 256 - 2  # 48,894, as in CLIP's SimpleTokenizer
SPECIAL_TOKENS = ("<|startoftext|>", "<|endoftext|>")
VOCAB_SIZE = 256 * 2 + N_MERGES + len(SPECIAL_TOKENS)  # 49,408


def bytes_to_unicode() -> dict[int, str]:
    """CLIP/GPT-2's reversible byte -> printable-unicode-character table."""
    bs = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    cs = bs[:]
    n = 0
    for b in range(2**8):
        if b not in bs:
            bs.append(b)
            cs.append(2**8 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def read_bpe_text(path: Path) -> str:
    """Return the decoded BPE text from a ``.txt.gz`` file or an open_clip wheel."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            try:
                raw = zf.read(WHEEL_MEMBER)
            except KeyError:
                raise SystemExit(f"{path}: no member {WHEEL_MEMBER!r}") from None
        return gzip.decompress(raw).decode("utf-8")
    with gzip.open(path) as fh:
        return fh.read().decode("utf-8")


def derive(bpe_text: str) -> tuple[dict[str, int], list[str]]:
    """Build (vocab, merges) from the BPE file's text, as SimpleTokenizer does."""
    lines = bpe_text.split("\n")[1 : N_MERGES + 1]
    merges = [tuple(line.split()) for line in lines]
    if len(merges) != N_MERGES or any(len(m) != 2 for m in merges):
        raise ValueError("unexpected BPE file: wrong number or shape of merges")
    alphabet = list(bytes_to_unicode().values())
    tokens = alphabet + [c + "</w>" for c in alphabet]
    tokens += ["".join(m) for m in merges]
    tokens += SPECIAL_TOKENS
    vocab = {tok: i for i, tok in enumerate(tokens)}
    if len(vocab) != VOCAB_SIZE:
        raise ValueError(f"vocab has {len(vocab)} unique entries, expected {VOCAB_SIZE}")
    return vocab, [" ".join(m) for m in merges]


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temp file in the same dir + os.replace."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; package data must be world-readable
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m promptlang.data.clip.derive",
        description=(
            "Re-derive CLIP's vocab.json (49,408 entries) and merges.txt "
            "(Hugging Face format) from OpenAI's bpe_simple_vocab_16e6.txt.gz."
        ),
    )
    parser.add_argument(
        "source",
        type=Path,
        help=f"bpe_simple_vocab_16e6.txt.gz, or an open-clip-torch wheel containing {WHEEL_MEMBER}",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="output directory (default: the promptlang/data/clip package directory)",
    )
    args = parser.parse_args(argv)

    try:
        vocab, merges = derive(read_bpe_text(args.source))
    except (OSError, UnicodeDecodeError, ValueError, zipfile.BadZipFile) as exc:
        parser.error(f"{args.source}: {exc}")
    args.out.mkdir(parents=True, exist_ok=True)
    write_atomic(args.out / "vocab.json", json.dumps(vocab, ensure_ascii=False) + "\n")
    write_atomic(args.out / "merges.txt", "#version: 0.2\n" + "\n".join(merges) + "\n")
    print(f"wrote {len(vocab)} tokens and {len(merges)} merges to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
