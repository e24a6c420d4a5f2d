"""The training script of builtin:shapes, run for a few steps: it writes a pipeline folder
that loads and renders like the shipped one, with its record, never over an existing
folder without --overwrite, and reuses trained stages when asked."""
from __future__ import annotations

import json

import pytest

from promptlang.shapes import train

FEW = ["--vae-steps", "2", "--clip-steps", "2", "--unet-steps", "2"]


def test_a_short_run_writes_a_folder_that_renders(tmp_path, capsys):
    import promptlang
    from promptlang.diffusion.models import load_pipeline

    out = tmp_path / "shapes"
    assert train.main(["--out", str(out), "--stages", str(tmp_path / "stages"), *FEW]) == 0
    record = json.loads((out / "TRAINING.json").read_text())
    assert record["seed"] == 0 and not record["reused_stages"]
    assert {k: v["steps"] for k, v in record["stages"].items()} == {"vae": 2, "clip": 2, "unet": 2}
    assert record["stages"]["unet"]["text_lr"] == 1e-3
    assert record["seconds"] == pytest.approx(sum(v["seconds"] for v in record["stages"].values()), abs=0.2)
    assert (out / "clip" / "model.safetensors").is_file() and not list(out.rglob("*.bin"))
    pipe = load_pipeline(str(out), "cpu")
    (result,) = promptlang.render(promptlang.compile('prompt p { subject "a red circle" }')[0], pipe=pipe,
                                  model=str(out), seed=1, steps=2)
    assert result.image.size == (32, 32)

    # the same seed and stage steps again: the VAE and CLIP come from --stages, not retrained
    again = tmp_path / "again"
    assert train.main(["--out", str(again), "--stages", str(tmp_path / "stages"), *FEW, "--text-lr", "0"]) == 0
    assert "vae and clip reused" in capsys.readouterr().out
    second = json.loads((again / "TRAINING.json").read_text())
    assert second["reused_stages"] and second["stages"]["vae"] == record["stages"]["vae"]
    # with --text-lr 0 the pipeline's text encoder is CLIP's text tower, unchanged
    from safetensors.numpy import load_file

    tower = load_file(again / "clip" / "model.safetensors")
    encoder = load_file(again / "text_encoder" / "model.safetensors")
    key = next(k for k in encoder if k.endswith("final_layer_norm.weight"))
    assert (tower["text_model.final_layer_norm.weight"] == encoder[key]).all()


def test_an_existing_folder_is_kept_without_overwrite(tmp_path, capsys):
    out = tmp_path / "shapes"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(SystemExit) as exc:
        train.main(["--out", str(out), *FEW])
    assert exc.value.code == 2 and "--overwrite" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "mine"
