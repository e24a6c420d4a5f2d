"""Counting CLIP tokens stays fast on pathological words (issue 9, item 10: found by bench/fuzz.py)."""
import time

import pytest

from promptlang import tokens


@pytest.mark.parametrize("word", ["," * 20_000, "a" * 5_000, "!?" * 3_000, "x" * 65, "x" * 64])
def test_long_words_count_as_the_tokenizers_pipeline_does_and_fast(word):
    start = time.perf_counter()
    counted = tokens.count_tokens(f"a cat {word} on a mat")
    elapsed = time.perf_counter() - start
    reference = len(tokens._tokenizer().encode(f"a cat {word} on a mat", add_special_tokens=False).ids)
    assert counted == reference
    assert elapsed < 2.0  # the pure-Python BPE took minutes on a 20,000-comma word
