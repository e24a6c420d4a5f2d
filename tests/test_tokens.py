"""promptlang.tokens.count_tokens must agree with transformers' CLIPTokenizer."""

import subprocess
import sys
from importlib.resources import files

import pytest

from promptlang.tokens import CONTEXT, _tokenizer, count_tokens

LONG = ", ".join(["a beautiful landscape painting with mountains and rivers"] * 10)

CASES = [
    "",
    "   ",
    "a cat",
    "x",
    "A photograph of an astronaut riding a horse on Mars, highly detailed, 8k",
    "一幅描繪未來城市景觀的油畫",
    "東京の夜景、ネオンサイン、雨",
    "한국어 프롬프트 테스트",
    "Привет мир, красивый закат над морем",
    "مرحبا بالعالم",
    "café crème brûlée, naïve façade, Ångström, Øresund",
    "combining e\u0301 vs precomposed \u00e9",
    "a happy dog 🐶🎉 with sunglasses 😎",
    "family 👨‍👩‍👧‍👦 flags 🇯🇵🇫🇷 skin tone 👍🏽",
    "masterpiece, (best quality:1.5), [ugly:0.8], {blue|red} eyes",
    "768x512 wallpaper, 1.5 aspect, 3:2, 16:9, 100%",
    "1234567890 3.14159 1e10 -42 +7",
    "don't stop, it's the artist's style, we're done, they've gone, I'm here, you'll see, he'd go",
    "DON'T SHOUT IT'S LOUD",
    "multiple    spaces\tand\ttabs\nand\n\nnewlines   ",
    "non\u00a0breaking\u2003em space\u200bzero width\u3000ideographic",
    "!!!??? ... --- *** ### @@@ $$$",
    "hyphen-ated words and under_scores and CamelCaseWords",
    "email@example.com https://example.com/path?q=1&x=2",
    "tom &amp; jerry &lt;3",
    "quotes “curly” ‘single’ «guillemets» and `backticks`",
    "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ and ligature ﬁ",
    "a<|endoftext|>b <|startoftext|> <|ENDOFTEXT|>",
    LONG,
    " ".join(f"word{i}" for i in range(120)),
]


@pytest.fixture(scope="module")
def hf_tokenizer():
    transformers = pytest.importorskip("transformers")
    folder = str(files("promptlang.data.clip"))
    return transformers.CLIPTokenizer.from_pretrained(folder)


@pytest.mark.parametrize("text", CASES)
def test_count_matches_transformers(hf_tokenizer, text):
    expected = hf_tokenizer(text, add_special_tokens=False).input_ids
    assert count_tokens(text) == len(expected)
    assert _tokenizer().encode(text, add_special_tokens=False).ids == expected


def test_vocab_shape():
    assert CONTEXT == 75
    assert _tokenizer().get_vocab_size() == 49408
    assert count_tokens(LONG) > CONTEXT


def test_no_torch_or_transformers_import():
    code = (
        "import sys, promptlang.tokens as t; t.count_tokens('a cat'); "
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, "
        "sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers'))"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
