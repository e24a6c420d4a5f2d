"""describe: an image back to .prompt files, ranked against the catalogs with CLIP.

Tiny random CLIP and BLIP models are built here, in code; the ranking is checked against
a direct computation (numpy by hand, and CLIPModel's own forward pass), the written files
are compiled, the cache is watched, and junk images must fail cleanly."""
import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from promptlang.cli import main
from promptlang.ranking import Label, candidates, cosine, rank

torch = pytest.importorskip("torch")


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    from promptlang.diffusion.clip import save_tiny_clip

    return save_tiny_clip(tmp_path_factory.mktemp("clip") / "tiny-clip", seed=3)


@pytest.fixture(scope="module")
def blip_dir(tmp_path_factory):
    from transformers import BertTokenizer, BlipConfig, BlipForConditionalGeneration

    folder = tmp_path_factory.mktemp("blip") / "tiny-blip"
    folder.mkdir()
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "red", "cat", "dog", "on", "the", "grass", "photo",
             "of", "blue", "sky"]
    (folder / "vocab.txt").write_text("\n".join(words) + "\n")
    config = BlipConfig(
        text_config=dict(vocab_size=len(words), hidden_size=32, intermediate_size=37, num_attention_heads=4,
                         num_hidden_layers=2, encoder_hidden_size=32, max_position_embeddings=64, bos_token_id=2,
                         eos_token_id=3, sep_token_id=3, pad_token_id=0),
        vision_config=dict(image_size=32, patch_size=8, hidden_size=32, intermediate_size=37, num_attention_heads=4,
                           num_hidden_layers=2), projection_dim=16)
    torch.manual_seed(0)
    BlipForConditionalGeneration(config).eval().save_pretrained(folder, safe_serialization=True)
    BertTokenizer(str(folder / "vocab.txt")).save_pretrained(folder)
    return folder


def picture(path, size=(48, 40), seed=0):
    from PIL import Image

    rng = np.random.default_rng(seed)
    Image.fromarray((rng.random((size[1], size[0], 3)) * 255).astype("uint8")).save(path)
    return Path(path)


def run(*argv):
    return main(["describe", *map(str, argv)])


def comments(text: str) -> dict:
    """``{(section, key): score}`` from the chosen lines of a candidate's comments."""
    return {(m[1], m[2]): float(m[3]) for m in re.finditer(r"^#   (format|style|quality)\s+([\w.]+)\s+(-?[\d.]+) ",
                                                           text, re.M)}


def direct_cosine(clip_dir, image, texts) -> np.ndarray:
    """CLIP's own answer: CLIPModel's forward gives logit_scale.exp() * cosine."""
    from transformers import CLIPModel, CLIPTokenizer

    from promptlang.diffusion.clip import OPENAI_MEAN, OPENAI_STD, preprocess

    model = CLIPModel.from_pretrained(clip_dir).eval()
    tok = CLIPTokenizer.from_pretrained(clip_dir)
    ids = tok(texts, padding=True, truncation=True, max_length=77, return_tensors="pt")
    pixels = torch.from_numpy(preprocess(image, 32, OPENAI_MEAN, OPENAI_STD))[None]
    with torch.no_grad():
        out = model(input_ids=ids["input_ids"], attention_mask=ids["attention_mask"], pixel_values=pixels)
        return (out.logits_per_image / model.logit_scale.exp()).numpy()[0]


# --------------------------------------------------------------------------- the arithmetic

def test_cosine_matches_a_hand_computation():
    rng = np.random.default_rng(1)
    images, texts = rng.normal(size=(3, 7)), rng.normal(size=(5, 7))
    got = cosine(images, texts)
    for i in range(3):
        for j in range(5):
            a, b = images[i], texts[j]
            expect = sum(x * y for x, y in zip(a, b)) / (sum(x * x for x in a) ** 0.5 * sum(y * y for y in b) ** 0.5)
            assert got[i, j] == pytest.approx(expect, abs=1e-5)


def test_rank_sorts_each_section_and_measures_margins_from_its_median():
    labels = [Label("format", f"f{i}", "c", "") for i in range(3)] + \
             [Label("style", f"s{i}", "c", "") for i in range(4)] + [Label("negative", "n", "c", "")]
    scores = [0.1, 0.3, 0.2, 0.05, 0.4, 0.4, 0.0, 0.9]
    ranked = rank(scores, labels)
    assert [s.key for s in ranked["format"]] == ["f1", "f2", "f0"]
    assert [s.key for s in ranked["style"]] == ["s1", "s2", "s0", "s3"]  # a tie keeps catalog order
    assert ranked["quality"] == [] and "negative" not in ranked  # negatives are not ranked
    assert ranked["format"][0].margin == pytest.approx(0.3 - 0.2)
    assert ranked["style"][-1].margin == pytest.approx(0.0 - np.median([0.05, 0.4, 0.4, 0.0]))
    with pytest.raises(ValueError):
        rank(scores[:-1], labels)


def test_candidates_are_distinct_and_the_first_is_the_best_of_each_section():
    rng = np.random.default_rng(7)
    labels = ([Label("format", f"f{i}", "c", "") for i in range(5)] + [Label("style", f"s{i}", "c", "")
              for i in range(9)] + [Label("quality", f"q{i}", "c", "") for i in range(6)])
    scores = rng.normal(size=len(labels))
    ranked = rank(scores, labels)
    chosen = candidates(ranked, 6, margin=0.0, styles=2, quality=1)
    assert len(chosen) == 6 and len({c.picks() for c in chosen}) == 6
    best = chosen[0]
    formats = [i for i, lb in enumerate(labels) if lb.section == "format"]
    assert best.format.key == labels[max(formats, key=lambda i: scores[i])].key
    styles = sorted((i for i, lb in enumerate(labels) if lb.section == "style"), key=lambda i: -scores[i])
    median = np.median(scores[styles])
    above = [labels[i].key for i in styles if scores[i] - median >= 0.0]
    assert [s.key for s in best.styles] == above[:2]
    # every later candidate is one step away from the first in one list
    assert chosen[1].format.key != best.format.key and chosen[1].styles == best.styles
    # a high margin keeps no style at all
    assert all(not c.styles for c in candidates(ranked, 3, margin=10.0))
    # a small catalog has only so many combinations
    few = rank([0.1, 0.2], [Label("format", "a", "c", ""), Label("format", "b", "c", "")])
    assert len(candidates(few, 4)) == 2


def test_candidates_from_ten_thousand_entries_are_quick():
    import time

    labels = [Label(("format", "style", "quality")[i % 3], f"k{i}", "c", "") for i in range(10_000)]
    ranked = rank(np.random.default_rng(0).normal(size=10_000), labels)
    start = time.perf_counter()
    chosen = candidates(ranked, 16, margin=0.0)
    assert len({c.picks() for c in chosen}) == 16
    assert time.perf_counter() - start < 2.0  # lazily: not billions of combinations first


# --------------------------------------------------------------------------- models

def test_a_clip_folder_embeds_as_clipmodel_itself_computes(clip_dir):
    from PIL import Image

    from promptlang.diffusion.clip import load_clip

    clip = load_clip(str(clip_dir), "cpu")
    image = Image.new("RGB", (50, 37), (30, 140, 200))
    texts = ["an oil painting of a subject", "a stock photo of a subject, 4k", "pixel art"]
    got = cosine(clip.embed_images([image]), clip.embed_texts(texts))[0]
    assert got == pytest.approx(direct_cosine(clip_dir, image, texts), abs=1e-5)
    assert clip.test_model  # the tiny shape says so


def test_model_errors_are_clear(tmp_path, clip_dir):
    from promptlang.diffusion.clip import locate_clip
    from promptlang.errors import PromptError

    with pytest.raises(PromptError, match="no vision tower"):
        locate_clip("builtin:tiny")
    with pytest.raises(PromptError, match="did you mean `builtin:tiny-clip`"):
        locate_clip("builtin:tiny-clp")
    with pytest.raises(PromptError, match=r"hf download openai/clip-vit-base-patch99"):
        locate_clip("openai/clip-vit-base-patch99")
    with pytest.raises(PromptError, match="not found"):
        locate_clip(str(tmp_path / "nowhere"))
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "config.json").write_text('{"model_type": "clip"}')
    with pytest.raises(PromptError, match="no .safetensors"):
        __import__("promptlang.diffusion.clip", fromlist=["load_clip"]).load_clip(str(bare), "cpu")
    (bare / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(PromptError, match="not CLIP"):
        locate_clip(str(bare))


def test_builtin_shapes_is_its_folder_or_a_clear_error(monkeypatch, tmp_path, clip_dir):
    from promptlang.diffusion import clip
    from promptlang.errors import PromptError

    monkeypatch.setattr(clip, "shapes_folder", lambda: tmp_path / "absent")
    with pytest.raises(PromptError, match="builtin:shapes is not in this installation"):
        clip.locate_clip("builtin:shapes")
    assert clip.default_model() == clip.REAL_CLIP
    monkeypatch.setattr(clip, "shapes_folder", lambda: clip_dir)
    assert clip.locate_clip("builtin:shapes") == ("clip", clip_dir)
    assert clip.default_model() == "builtin:shapes"


def test_a_stable_diffusion_folder_needs_a_vision_tower(tmp_path):
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    from promptlang.diffusion.clip import load_clip, locate_clip
    from promptlang.diffusion.models import save_tiny
    from promptlang.errors import PromptError

    sd = save_tiny(tmp_path / "sd", "sd")
    assert locate_clip(str(sd))[0] == "sd"
    with pytest.raises(PromptError, match="no vision\\s+tower.*") as err:
        load_clip(str(sd), "cpu")
    assert "openai/clip-vit-large-patch14" in str(err.value)
    xl = save_tiny(tmp_path / "xl", "sdxl")  # text_encoder_2 has a projection (32)
    vision = CLIPVisionModelWithProjection(CLIPVisionConfig(
        image_size=32, patch_size=8, hidden_size=32, intermediate_size=37, num_attention_heads=4,
        num_hidden_layers=2, projection_dim=32))
    vision.save_pretrained(xl / "image_encoder", safe_serialization=True)
    clip = load_clip(str(xl), "cpu")
    assert clip.embed_images([__import__("PIL.Image", fromlist=["Image"]).new("RGB", (40, 40))]).shape == (1, 32)
    assert clip.embed_texts(["a cat"]).shape == (1, 32)


# --------------------------------------------------------------------------- the command

def test_describe_writes_candidates_that_compile_with_their_scores(in_tmp, clip_dir, capsys):
    from PIL import Image

    from promptlang.compiler import compile_file
    from promptlang.jobs.describe import labels
    from promptlang.catalog import find, load

    image = picture(in_tmp / "photo.png")
    assert run(image, "--model", clip_dir, "-o", "out") == 0
    written = sorted((in_tmp / "out").glob("*.prompt"))
    assert [p.name for p in written] == [f"photo-{i}.prompt" for i in range(1, 5)]
    assert main(["check", *map(str, written)]) == 0
    texts = [p.read_text() for p in written]
    assert len({re.sub(r"#.*", "", t) for t in texts}) == 4  # four distinct prompts
    # the scores in the comments are CLIP's own cosines of the image and the entries' texts
    rows = labels([load(find("core"))])
    direct = direct_cosine(clip_dir, Image.open(image).convert("RGB"), [lb.text for lb in rows])
    by_key = {(lb.section, lb.key): d for lb, d in zip(rows, direct)}
    chosen = comments(texts[0])
    assert chosen and all(score == pytest.approx(by_key[k], abs=2e-4) for k, score in chosen.items())
    best_format = max((k for k in by_key if k[0] == "format"), key=by_key.get)
    assert ("format", best_format[1]) in chosen
    first = compile_file(written[0]).prompts[0]
    assert first.name == "photo_1"
    assert "placeholder" not in texts[0] and 'subject "a subject"  # fill in' in texts[0]
    assert "whole prompt (its positive text against the image): " in texts[0] and "@WHOLE@" not in texts[0]
    assert "photo-1.prompt" in capsys.readouterr().out


def test_outputs_are_never_replaced_without_overwrite(in_tmp, clip_dir, capsys):
    image = picture(in_tmp / "photo.png")
    (in_tmp / "out").mkdir()
    (in_tmp / "out" / "photo-3.prompt").write_text("mine")
    assert run(image, "--model", clip_dir, "-o", "out") == 1
    assert "photo-3.prompt already exists" in capsys.readouterr().err
    assert sorted(p.name for p in (in_tmp / "out").iterdir()) == ["photo-3.prompt"]
    assert (in_tmp / "out" / "photo-3.prompt").read_text() == "mine"
    assert run(image, "--model", clip_dir, "-o", "out", "--overwrite", "-c", "3") == 0
    assert (in_tmp / "out" / "photo-3.prompt").read_text().startswith("# Described")


def test_text_embeddings_are_cached_per_catalog_and_model(in_tmp, clip_dir, monkeypatch, capsys):
    from promptlang.diffusion.clip import Clip

    calls = []
    real = Clip.embed_texts
    monkeypatch.setattr(Clip, "embed_texts", lambda self, texts, **kw: calls.append(len(texts)) or real(
        self, texts, **kw))
    cats = in_tmp / "cats"
    cats.mkdir()
    team = cats / "team.yaml"
    team.write_text("name: team\nversion: 1.0.0\nformat:\n  poster:\n    text: \"a poster of {{ subject }}\"\n"
                    "style:\n  noir:\n    text: \"film noir\"\n  neon:\n    text: \"neon lights\"\n")
    image = picture(in_tmp / "a.png")
    args = [image, "--model", clip_dir, "--use", "team", "--catalogs", cats, "--overwrite", "-c", "1"]
    assert run(*args) == 0
    assert "3 entries embedded" in capsys.readouterr().out
    first = (in_tmp / "described" / "a-1.prompt").read_text()
    calls.clear()
    assert run(*args) == 0  # the second run: only the candidate's whole prompt is embedded
    assert "3 entry embeddings from the cache" in capsys.readouterr().out
    assert calls == [1]
    assert (in_tmp / "described" / "a-1.prompt").read_text() == first
    team.write_text(team.read_text().replace("film noir", "film noir, deep shadows"))
    calls.clear()
    assert run(*args) == 0  # the catalog changed: a miss
    assert "3 entries embedded" in capsys.readouterr().out and calls[0] == 3
    calls.clear()
    assert run(*args, "--no-cache") == 0
    assert calls[0] == 3


def test_a_caption_model_writes_the_subject(in_tmp, clip_dir, blip_dir):
    from PIL import Image

    from promptlang.compiler import compile_file
    from promptlang.diffusion.caption import load_captioner
    from promptlang.targets import plain

    image = picture(in_tmp / "p.png", seed=4)
    assert run(image, "--model", clip_dir, "--caption-model", blip_dir, "-c", "2") == 0
    expect = load_captioner(str(blip_dir), "cpu").caption([Image.open(image).convert("RGB")])[0]
    assert expect
    prompt = compile_file(in_tmp / "described" / "p-2.prompt").prompts[0]
    assert " ".join(expect.split()) in plain.emit(prompt)
    assert "fill in" not in (in_tmp / "described" / "p-1.prompt").read_text()


def test_a_rendered_png_is_described_by_its_provenance(tiny_cli, in_tmp, capsys):
    src = in_tmp / "meeting.prompt"
    src.write_text('use core\nprompt meeting {\n    subject "a business meeting"\n    format stock_photo\n'
                   '    size 64x64\n    steps 2\n    seed 5\n}\n')
    assert tiny_cli("render", src, "--model", "builtin:tiny", "-o", "renders") == 0
    capsys.readouterr()
    png = in_tmp / "renders" / "meeting-5.png"
    # no CLIP is located or loaded for it: even a CLIP that does not exist is never asked for
    assert tiny_cli("describe", png, "--model", "nowhere/no-such-clip", "-o", "back") == 0
    out = capsys.readouterr().out
    assert "provenance" in out and "not ranked" in out
    written = in_tmp / "back" / "meeting-5.prompt"
    text = written.read_text()
    assert text.endswith(src.read_text()) and "promptlang reproduce meeting-5.png" in text
    assert main(["check", str(written)]) == 0
    assert not (in_tmp / "back" / "meeting-5-1.prompt").exists()
    # --ignore-provenance ranks it anyway
    assert tiny_cli("describe", png, "--ignore-provenance", "--model", "builtin:tiny-clip", "-o", "back",
                    "-c", "2") == 0
    assert (in_tmp / "back" / "meeting-5-2.prompt").is_file()


def test_damaged_provenance_is_an_error_unless_ignored(tiny_cli, in_tmp, capsys):
    from conftest import Raw, tamper

    src = in_tmp / "m.prompt"
    src.write_text('prompt m {\n    subject "x"\n    size 64x64\n    steps 1\n    seed 1\n}\n')
    assert tiny_cli("render", src, "--model", "builtin:tiny", "-o", "r") == 0
    tamper(in_tmp / "r" / "m-1.png", in_tmp / "bad.png", lambda record: Raw("{not json"))
    capsys.readouterr()
    assert tiny_cli("describe", in_tmp / "bad.png", "--model", "builtin:tiny-clip") == 1
    err = capsys.readouterr().err
    assert "damaged" in err and "--ignore-provenance" in err and "Traceback" not in err
    assert not (in_tmp / "described").exists()
    assert tiny_cli("describe", in_tmp / "bad.png", "--model", "builtin:tiny-clip", "--ignore-provenance",
                    "-c", "1") == 0


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + \
        chunk(b"IEND", b"")


@pytest.mark.parametrize("name, make, message", [
    ("notes.png", lambda p: p.write_text("hello, not an image"), "not an image promptlang reads"),
    ("truncated.png", lambda p: p.write_bytes(picture(p.with_name("whole.png"), (64, 64)).read_bytes()[:300]),
     "damaged or truncated"),
    ("bomb.png", lambda p: p.write_bytes(_png_header_only(100_000, 100_000)), "too large to decode"),
    ("claims.png", lambda p: p.write_bytes(_png_header_only(9000, 9000)), "too large to decode"),
    ("empty.png", lambda p: p.write_bytes(b""), "not an image promptlang reads"),
    ("folder.png", lambda p: p.mkdir(), "folder"),
    ("missing.png", lambda p: None, "no such file"),
])
def test_junk_images_fail_clearly_and_write_nothing(in_tmp, name, make, message, capsys):
    path = in_tmp / name
    make(path)
    good = picture(in_tmp / "good.png")
    code = run(good, path, "--model", "builtin:tiny-clip")
    err = capsys.readouterr().err
    assert code in (1, 2) and message in err and "Traceback" not in err
    assert not (in_tmp / "described").exists()  # the good image before it was not described either


def test_a_huge_file_is_refused_before_it_is_read(in_tmp, monkeypatch, capsys):
    from promptlang.artifacts import png

    monkeypatch.setattr(png, "MAX_FILE", 1000)
    image = picture(in_tmp / "big.png", (64, 64))
    assert image.stat().st_size > 1000
    assert run(image, "--model", "builtin:tiny-clip") == 1
    assert "too large for an image" in capsys.readouterr().err


def test_bad_arguments(in_tmp, capsys, clip_dir):
    image = picture(in_tmp / "a.png")
    assert run(image, "--model", "builtin:tiny") == 1
    assert "no vision tower" in capsys.readouterr().err
    assert run(image, "--model", clip_dir, "--use", "cor") == 1
    assert "did you mean `core`" in capsys.readouterr().err
    assert run(image, "-c", "0") == 2
    assert run() == 2
    (in_tmp / "sub").mkdir()
    assert run(image, picture(in_tmp / "sub" / "a.png", seed=2), "--model", clip_dir) == 1
    assert "two outputs would be written" in capsys.readouterr().err
    assert not (in_tmp / "described").exists()


def test_listed_in_the_commands_and_help():
    from click.testing import CliRunner

    from promptlang.cli import COMMANDS, cli

    assert "describe" in COMMANDS
    result = CliRunner().invoke(cli, ["describe", "--help"])
    assert result.exit_code == 0 and "--ignore-provenance" in result.output and "--caption-model" in result.output


def test_keys_the_grammar_reads_otherwise_are_qualified(in_tmp, clip_dir):
    from promptlang.compiler import compile_file

    cats = in_tmp / "cats"
    cats.mkdir()
    (cats / "kw.yaml").write_text("name: kw\nversion: 1.0.0\nstyle:\n  blend:\n    text: \"blended colours\"\n"
                                  "  noir:\n    text: \"film noir\"\n")
    image = picture(in_tmp / "a.png")
    assert run(image, "--model", clip_dir, "--use", "kw", "--catalogs", cats, "--margin", "-1", "--styles", "8",
               "-c", "1") == 0
    text = (in_tmp / "described" / "a-1.prompt").read_text()
    assert "kw.blend" in text  # `style blend` would read as the start of a blend
    prompt = compile_file(in_tmp / "described" / "a-1.prompt", search_dirs=[cats]).prompts[0]
    assert "blended colours" in " ".join(f.text for f in prompt.segments[0].positive)


def test_several_catalogs_are_used_and_qualified(in_tmp, clip_dir, capsys):
    cats = in_tmp / "cats"
    cats.mkdir()
    (cats / "team.yaml").write_text("name: team\nversion: 1.0.0\nformat:\n  poster:\n    text: \"a poster of "
                                    "{{ subject }}\"\n")
    image = picture(in_tmp / "a.png")
    assert run(image, "--model", clip_dir, "--use", "core", "--use", "team", "--catalogs", cats, "-c", "8") == 0
    texts = [p.read_text() for p in sorted((in_tmp / "described").glob("*.prompt"))]
    assert len(texts) == 8 and all("use core\nuse team\n" in t for t in texts)
    assert all(re.search(r"format  (core|team)\.", t) for t in texts)
    assert "catalog team: 1 entry embedded" in capsys.readouterr().out
    assert main(["check", "--catalogs", str(cats), *map(str, (in_tmp / "described").glob("*.prompt"))]) == 0


def test_a_walk_frame_points_at_its_provenance(tiny_cli, in_tmp, capsys):
    from conftest import LATENT_SRC

    (in_tmp / "l.prompt").write_text(LATENT_SRC)
    assert tiny_cli("walk", in_tmp / "l.prompt", "--from", "cat", "--to", "dog", "--frames", "3", "-o", "walks",
                    "--model", "builtin:tiny") == 0
    capsys.readouterr()
    frame = next((in_tmp / "walks").glob("walk-cat-dog-001.png"))
    assert tiny_cli("describe", frame, "-o", "back") == 0
    err = capsys.readouterr().err
    assert "a frame of a promptlang walk from `cat` to `dog`" in err and "promptlang reproduce" in err
    assert not (in_tmp / "back").exists()


def test_the_default_model_is_named_with_its_download_command(in_tmp, monkeypatch, capsys, tmp_path):
    import huggingface_hub.constants

    from promptlang.diffusion import clip

    monkeypatch.setattr(clip, "shapes_folder", lambda: tmp_path / "absent")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    assert run(picture(in_tmp / "a.png")) == 1
    err = capsys.readouterr().err
    assert "openai/clip-vit-large-patch14` is not in the local Hugging Face cache" in err
    assert "hf download openai/clip-vit-large-patch14" in err
    assert not (in_tmp / "described").exists()


def test_a_phone_photo_is_turned_as_its_exif_says(tmp_path):
    from PIL import Image

    from promptlang.artifacts.png import open_image

    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees
    Image.new("RGB", (60, 20), (200, 0, 0)).save(tmp_path / "p.jpg", exif=exif.tobytes())
    image, _ = open_image(tmp_path / "p.jpg")
    assert image.size == (20, 60) and image.mode == "RGB"


@pytest.mark.gpu
def test_describe_on_cuda_in_half_precision(in_tmp, clip_dir):
    from PIL import Image

    from promptlang.diffusion.clip import load_clip

    image = Image.new("RGB", (64, 64), (10, 200, 30))
    texts = ["a photo of a subject", "pixel art"]
    on_gpu = load_clip(str(clip_dir), "cuda")
    assert on_gpu.dtype == torch.float16
    got = cosine(on_gpu.embed_images([image]), on_gpu.embed_texts(texts))[0]
    assert got == pytest.approx(direct_cosine(clip_dir, image, texts), abs=5e-3)
    assert run(picture(in_tmp / "a.png"), "--model", clip_dir, "--device", "cuda", "-c", "2") == 0
    assert main(["check", *map(str, (in_tmp / "described").glob("*.prompt"))]) == 0


def test_an_image_that_looks_like_an_entry_ranks_it_first(in_tmp, clip_dir, monkeypatch):
    """The wiring, end to end: rows of every catalog line up with their entries. An image
    whose embedding *is* team.poster's text embedding must pick it, at a cosine of 1."""
    from promptlang.diffusion.clip import Clip

    cats = in_tmp / "cats"
    cats.mkdir()
    (cats / "team.yaml").write_text("name: team\nversion: 1.0.0\nformat:\n  poster:\n    text: \"a screen-printed "
                                    "poster of {{ subject }}, bold flat colours\"\n")
    real = Clip.embed_texts
    monkeypatch.setattr(Clip, "embed_images", lambda self, images: np.repeat(
        real(self, ["a screen-printed poster of a subject, bold flat colours"]), len(images), axis=0))
    assert run(picture(in_tmp / "a.png"), "--model", clip_dir, "--use", "core", "--use", "team", "--catalogs", cats,
               "-c", "2") == 0
    first = (in_tmp / "described" / "a-1.prompt").read_text()
    assert "format  team.poster" in first
    assert comments(first)[("format", "team.poster")] == pytest.approx(1.0, abs=1e-4)
    assert "format  team.poster" not in (in_tmp / "described" / "a-2.prompt").read_text()


def test_another_model_is_a_cache_miss(in_tmp, clip_dir, capsys, tmp_path):
    from promptlang.diffusion.clip import save_tiny_clip

    other = save_tiny_clip(tmp_path / "other-clip", seed=11)
    image = picture(in_tmp / "a.png")
    assert run(image, "--model", clip_dir, "-c", "1", "-o", "one") == 0
    capsys.readouterr()
    assert run(image, "--model", other, "-c", "1", "-o", "two") == 0
    assert "entries embedded with" in capsys.readouterr().out
    assert run(image, "--model", other, "-c", "1", "-o", "three") == 0
    assert "from the cache" in capsys.readouterr().out


def test_resume_keeps_what_an_interrupted_run_wrote(in_tmp, clip_dir, capsys):
    images = [picture(in_tmp / "a.png", seed=1), picture(in_tmp / "b.png", seed=2)]
    assert run(*images, "--model", clip_dir) == 0
    out = in_tmp / "described"
    whole = {p.name: p.read_text() for p in out.glob("*.prompt")}
    assert len(whole) == 8
    for name in ("a-3.prompt", "a-4.prompt", "b-1.prompt", "b-2.prompt", "b-3.prompt", "b-4.prompt"):
        (out / name).unlink()  # as if it stopped after a-2
    (out / "a-1.prompt").write_text(whole["a-1.prompt"])
    stamp = (out / "a-1.prompt").stat().st_mtime_ns
    capsys.readouterr()
    assert run(*images, "--model", clip_dir) == 1  # without --resume nothing is replaced
    assert "a-1.prompt already exists" in capsys.readouterr().err
    assert run(*images, "--model", clip_dir, "--resume") == 0
    assert "2 files are already there from an interrupted run: kept" in capsys.readouterr().out
    assert {p.name: p.read_text() for p in out.glob("*.prompt")} == whole  # the same files, deterministically
    assert (out / "a-1.prompt").stat().st_mtime_ns == stamp
    # a file describe did not write is still in the way
    (out / "b-2.prompt").write_text("my notes")
    assert run(*images, "--model", clip_dir, "--resume") == 1
    assert "b-2.prompt already exists" in capsys.readouterr().err
    assert (out / "b-2.prompt").read_text() == "my notes"


@pytest.mark.parametrize("suffix, ok", [(".jpg", True), (".webp", True), (".gif", True), (".bmp", True),
                                        (".tiff", False)])
def test_image_formats(in_tmp, suffix, ok, capsys):
    from PIL import Image

    path = in_tmp / f"pic{suffix}"
    Image.new("RGBA", (40, 30), (10, 20, 200, 128)).convert("RGB" if suffix in (".jpg", ".bmp") else "RGBA").save(path)
    code = run(path, "--model", "builtin:tiny-clip", "-c", "1")
    if ok:
        assert code == 0 and (in_tmp / "described" / "pic-1.prompt").is_file()
    else:
        assert code == 1 and "not an image promptlang reads (formats: PNG, JPEG, WEBP, GIF, BMP)" in capsys.readouterr().err


def test_the_whole_prompt_score_is_the_compiled_text_against_the_image(in_tmp, clip_dir):
    from PIL import Image

    from promptlang.compiler import compile_file
    from promptlang.targets import plain

    image = picture(in_tmp / "w.png", seed=9)
    assert run(image, "--model", clip_dir, "-c", "2") == 0
    for n in (1, 2):
        path = in_tmp / "described" / f"w-{n}.prompt"
        written = float(re.search(r"whole prompt \(its positive text against the image\): (-?[\d.]+)",
                                  path.read_text())[1])
        text = plain.emit(compile_file(path).prompts[0]).split("\nNegative prompt:")[0]  # what a user would copy
        assert written == pytest.approx(direct_cosine(clip_dir, Image.open(image).convert("RGB"), [text])[0],
                                        abs=2e-4)
