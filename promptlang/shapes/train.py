"""Train ``builtin:shapes``: a tiny Stable-Diffusion-shaped model of the shapes world.

    python -m promptlang.shapes.train --overwrite          # retrain the shipped model in place
    python -m promptlang.shapes.train --out /tmp/shapes [--seed 0] [--unet-steps 1500]

Three stages, each a standard diffusers/transformers class, so every render path of
promptlang (schedulers, Compel weighting, blends, edits, walks) runs on the result:

1. ``AutoencoderKL`` 32x32x3 <-> 16x16x4, reconstruction loss plus a small KL term;
2. ``CLIPModel`` (text and image towers) trained contrastively on captions and
   pictures, in groups of four that differ only in their shape; the whole CLIPModel is
   saved (``OUT/clip``) for describing pictures;
3. ``UNet2DConditionModel`` trained with the DDPM epsilon loss on the text encoder's
   hidden states, a caption dropped 10 % of the time (classifier-free guidance). The
   text encoder starts as CLIP's text tower and is fine-tuned with the UNet
   (``--text-lr``): it becomes the pipeline's ``CLIPTextModel``.

Everything is drawn fresh from :mod:`promptlang.shapes.world` by seed, so a run is
reproducible from ``--seed`` (on the same torch build). Weights are written as fp16
safetensors (they load as fp32), with ``OUT/TRAINING.json``: the seed, steps, time,
git commit and loss curves. CI never runs this; the shipped run took 32 minutes on this
2-core CPU (two torch threads for the UNet). It replaces an existing OUT only with --overwrite.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from . import world

TEXT_DIM = 48
MAX_TOKENS = 77
CLIP_TOKENS = 24  # captions are short; the towers are causal, so padding further changes nothing before it


def _tokenizer():
    from importlib.resources import files

    from transformers import CLIPTokenizer

    return CLIPTokenizer.from_pretrained(str(files("promptlang.data.clip")), model_max_length=MAX_TOKENS)


def build(seed: int):
    """Fresh (untrained) VAE, CLIPModel and UNet, identical for equal seeds."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(seed)
    # one downsampling: 32x32x3 <-> 16x16x4. Two (8x8x4) blurred a small star into a blob
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1, norm_num_groups=16,
        block_out_channels=(32, 64), sample_size=world.SIZE,
        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2)
    clip = CLIPModel(CLIPConfig(
        text_config=dict(vocab_size=49408, max_position_embeddings=MAX_TOKENS, hidden_size=TEXT_DIM,
                         intermediate_size=4 * TEXT_DIM, num_attention_heads=4, num_hidden_layers=3,
                         hidden_act="quick_gelu", bos_token_id=49406, eos_token_id=49407, pad_token_id=49407),
        vision_config=dict(image_size=world.SIZE, patch_size=4, hidden_size=64, intermediate_size=128,
                           num_attention_heads=4, num_hidden_layers=3, hidden_act="quick_gelu"),
        projection_dim=TEXT_DIM))
    unet = UNet2DConditionModel(
        sample_size=world.SIZE // 2, in_channels=4, out_channels=4, layers_per_block=1,
        block_out_channels=(32, 64, 96), norm_num_groups=16, cross_attention_dim=TEXT_DIM, attention_head_dim=8,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"))
    return vae, clip, unet


def scheduler_config() -> dict:
    """Stable Diffusion's noise schedule (what the shipped scheduler and training use)."""
    return dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear")


class Data:
    """Seeded batches: step ``i`` of stage ``k`` draws pictures ``base + i*n .. +n``."""

    def __init__(self, seed: int):
        self.seed = seed

    def _first(self, stage: int, step: int, n: int) -> int:
        return (self.seed * 1_000 + stage) * 10_000_000 + step * n

    @staticmethod
    def _tensor(images):
        """uint8 pictures ``(n, 32, 32, 3)`` as a float batch ``(n, 3, 32, 32)`` in -1..1."""
        import numpy as np
        import torch

        return torch.from_numpy(np.ascontiguousarray(np.stack(images))).permute(0, 3, 1, 2).float() / 127.5 - 1

    def batch(self, stage: int, step: int, n: int):
        start = self._first(stage, step, n)
        images, captions, _ = world.batch(range(start, start + n))
        return self._tensor(images), captions

    def contrasts(self, stage: int, step: int, n: int):
        """Like :meth:`batch`, but in groups of four pictures alike but for their shape: a
        contrastive batch whose captions differ by a shape word only, so CLIP learns shapes,
        not just colours (which alone tell most random pairs apart)."""
        start = self._first(stage, step, n)
        drawn = [world.sample(seed, shape=shape) for seed in range(start, start + n, len(world.SHAPES))
                 for shape in world.SHAPES][:n]
        return self._tensor([image for image, _, _ in drawn]), [text for _, text, _ in drawn]


class Curve:
    def __init__(self, name: str, every: int):
        self.name, self.every, self.points, self._sum, self._n = name, every, [], 0.0, 0
        self.start = time.time()

    def add(self, step: int, loss: float):
        self._sum += loss
        self._n += 1
        if self._n == self.every:
            avg = self._sum / self._n
            self.points.append([step + 1, round(avg, 5)])
            print(f"{self.name} step {step + 1} loss {avg:.5f} ({time.time() - self.start:.0f}s)", flush=True)
            self._sum, self._n = 0.0, 0


def _lr(step: int, steps: int, peak: float, warm: int = 50) -> float:
    if step < warm:
        return peak * (step + 1) / warm
    return peak * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, steps - warm)))


def train_vae(vae, data: Data, steps: int, n: int = 32):
    import torch

    opt = torch.optim.AdamW(vae.parameters(), lr=2e-3, weight_decay=0.0)
    curve = Curve("vae", 50)
    vae.train()
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = _lr(step, steps, 2e-3)
        x, _ = data.batch(1, step, n)
        post = vae.encode(x).latent_dist
        rec = vae.decode(post.sample()).sample
        kl = post.kl().mean() / x[0].numel()
        loss = torch.nn.functional.mse_loss(rec, x) + 1e-4 * kl
        opt.zero_grad()
        loss.backward()
        opt.step()
        curve.add(step, loss.item())
    vae.eval()
    with torch.no_grad():
        x, _ = data.batch(9, 0, 256)
        z = vae.encode(x).latent_dist.mode()
        err = float(torch.nn.functional.mse_loss(vae.decode(z).sample, x))
        vae.register_to_config(scaling_factor=float(1.0 / z.std()))
    print(f"vae: reconstruction mse {err:.5f}, latent std {float(z.std()):.3f}", flush=True)
    return curve, {"reconstruction_mse": round(err, 6), "scaling_factor": vae.config.scaling_factor}


def _pixels(x):
    """World pictures in -1..1 as CLIP's normalised pixel values."""
    import torch

    mean = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)
    std = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1)
    return ((x + 1) / 2 - mean) / std


def train_clip(clip, tok, data: Data, steps: int, n: int = 128):
    import torch

    opt = torch.optim.AdamW(clip.parameters(), lr=1e-3, weight_decay=0.01)
    curve = Curve("clip", 50)
    clip.train()
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = _lr(step, steps, 1e-3)
        x, captions = data.contrasts(2, step, n)
        ids = tok(captions, padding="max_length", max_length=CLIP_TOKENS, truncation=True, return_tensors="pt")
        out = clip(input_ids=ids.input_ids, pixel_values=_pixels(x), return_loss=True)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        curve.add(step, out.loss.item())
    clip.eval()
    with torch.no_grad():  # retrieval accuracy among 256 fresh pictures (equal captions count as right)
        x, captions = data.batch(9, 1, 256)
        ids = tok(captions, padding="max_length", max_length=CLIP_TOKENS, truncation=True, return_tensors="pt")
        logits = clip(input_ids=ids.input_ids, pixel_values=_pixels(x)).logits_per_image
        best = logits.argmax(1).tolist()
        acc = sum(captions[b] == captions[i] for i, b in enumerate(best)) / len(best)
    print(f"clip: image->caption top-1 {acc:.3f}", flush=True)
    return curve, {"image_to_caption_top1": round(acc, 4)}


def text_encoder_from(clip):
    """The CLIPModel's text tower as a standalone ``CLIPTextModel`` (same weights)."""
    from transformers import CLIPTextModel

    enc = CLIPTextModel(clip.config.text_config)
    target = getattr(enc, "text_model", enc)  # transformers < 5 nests the tower one level down
    target.load_state_dict(clip.text_model.state_dict())
    return enc.eval()


def train_unet(unet, vae, enc, tok, data: Data, steps: int, n: int = 32, drop: float = 0.1, lr: float = 1e-3,
               text_lr: float = 0.0):
    """The UNet; with ``text_lr`` the text encoder is fine-tuned along with it (else frozen)."""
    import torch
    from diffusers import DDPMScheduler

    noise_sched = DDPMScheduler(**scheduler_config())
    alphas = noise_sched.alphas_cumprod
    groups = [dict(params=list(unet.parameters()), peak=lr)]
    if text_lr:
        enc.requires_grad_(True)
        enc.train()
        groups.append(dict(params=list(enc.parameters()), peak=text_lr))
    opt = torch.optim.AdamW(groups, lr=lr, weight_decay=0.0)
    curve = Curve("unet", 50)
    gen = torch.Generator().manual_seed(data.seed + 3)
    unet.train()
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = _lr(step, steps, g["peak"], warm=100)
        x, captions = data.batch(3, step, n)
        keep = torch.rand(n, generator=gen) >= drop
        captions = [c if k else "" for c, k in zip(captions, keep.tolist())]
        with torch.no_grad():
            z = vae.encode(x).latent_dist.sample(generator=gen) * vae.config.scaling_factor
        ids = tok(captions, padding="max_length", max_length=MAX_TOKENS, truncation=True, return_tensors="pt")
        with torch.set_grad_enabled(bool(text_lr)):
            cond = enc(ids.input_ids)[0]
        t = torch.randint(0, 1000, (n,), generator=gen)
        eps = torch.randn(z.shape, generator=gen)
        a = alphas[t].view(-1, 1, 1, 1)
        noisy = a.sqrt() * z + (1 - a).sqrt() * eps
        pred = unet(noisy, t, encoder_hidden_states=cond).sample
        loss = torch.nn.functional.mse_loss(pred, eps)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_([q for g in groups for q in g["params"]], 1.0)
        opt.step()
        curve.add(step, loss.item())
    unet.eval()
    enc.requires_grad_(False)
    enc.eval()
    return curve, {}


def _commit() -> str | None:
    try:
        root = Path(__file__).resolve().parents[2]
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + ("+dirty" if dirty else "") if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def slim_tokenizer(folder: Path) -> None:
    """The tokenizer as CLIP's vocab.json + merges.txt (1.5 MB) instead of the 3.6 MB
    tokenizer.json transformers writes: CLIPTokenizer loads either."""
    from importlib.resources import files

    source = files("promptlang.data.clip")
    for name in ("vocab.json", "merges.txt"):
        (folder / name).write_bytes(source.joinpath(name).read_bytes())
    (folder / "tokenizer.json").unlink(missing_ok=True)


def save(out: Path, vae, clip, unet, tok, record: dict, enc=None) -> None:
    """Write the pipeline folder (and ``clip/``) to ``out``: built in a temporary
    sibling and moved into place, so a failed save leaves the old one whole."""
    import torch
    from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline
    from transformers import CLIPImageProcessor

    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    sched = EulerDiscreteScheduler(**scheduler_config(), steps_offset=1, timestep_spacing="leading")
    enc = enc if enc is not None else text_encoder_from(clip)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=enc, tokenizer=tok, unet=unet, scheduler=sched,
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.to(torch.float16)
    pipe.save_pretrained(tmp, safe_serialization=True)
    clip.to(torch.float16).save_pretrained(tmp / "clip", safe_serialization=True)
    clip.to(torch.float32)
    tok.save_pretrained(tmp / "clip")
    for folder in (tmp / "tokenizer", tmp / "clip"):
        slim_tokenizer(folder)
    CLIPImageProcessor(size={"shortest_edge": world.SIZE}, crop_size={"height": world.SIZE, "width": world.SIZE},
                       do_convert_rgb=True).save_pretrained(tmp / "clip")
    (tmp / "TRAINING.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    if out.exists():
        old = out.with_name(out.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old)
    else:
        os.replace(tmp, out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m promptlang.shapes.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "data" / "shapes"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--vae-steps", type=int, default=800)
    p.add_argument("--clip-steps", type=int, default=1200)
    p.add_argument("--unet-steps", type=int, default=6000)
    p.add_argument("--unet-lr", type=float, default=1e-3)
    p.add_argument("--text-lr", type=float, default=1e-3,
                   help="fine-tune the pipeline's text encoder with the UNet at this peak learning rate "
                        "(0: CLIP's text tower stays frozen; measured on 100 renders, shapes then came out right 36 %% "
                        "of the time instead of 59 %% with 2e-4)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--overwrite", action="store_true", help="replace OUT when it exists (the shipped model by default)")
    p.add_argument("--stages", help="a folder to keep the trained VAE and CLIP in, and to reuse them from when "
                                    "they were made with the same seed and steps (to retrain only the UNet)")
    args = p.parse_args(argv)
    if Path(args.out).exists() and not args.overwrite:
        p.error(f"{args.out} exists (the shipped model, by default): add --overwrite to replace it, "
                "or give another --out")
    import torch

    torch.set_num_threads(args.threads)
    t0 = time.time()
    commit = _commit()  # the code this run starts from
    data = Data(args.seed)
    tok = _tokenizer()
    vae, clip, unet = build(args.seed)
    counts = {k: sum(p.numel() for p in m.parameters()) for k, m in
              (("vae", vae), ("clip", clip), ("unet", unet))}
    print("parameters:", counts, flush=True)
    stages = {}
    times = {}
    reused = False
    kept = Path(args.stages) / f"seed{args.seed}-vae{args.vae_steps}-clip{args.clip_steps}" if args.stages else None
    if kept is not None and (kept / "stages.json").is_file():
        from diffusers import AutoencoderKL
        from transformers import CLIPModel

        vae = AutoencoderKL.from_pretrained(kept / "vae")
        clip = CLIPModel.from_pretrained(kept / "clip", dtype=torch.float32)
        stages = json.loads((kept / "stages.json").read_text(encoding="utf-8"))
        print(f"vae and clip reused from {kept}", flush=True)
        reused = True
    else:
        for name, steps, fn in (("vae", args.vae_steps, lambda: train_vae(vae, data, args.vae_steps)),
                                ("clip", args.clip_steps, lambda: train_clip(clip, tok, data, args.clip_steps))):
            start = time.time()
            curve, extra = fn()
            times[name] = round(time.time() - start, 1)
            stages[name] = dict(steps=steps, seconds=times[name],
                                loss_curve=curve.points, **extra)
        if kept is not None:
            vae.save_pretrained(kept / "vae")
            clip.save_pretrained(kept / "clip")
            (kept / "stages.json").write_text(json.dumps(stages), encoding="utf-8")
    for m in (vae, clip):
        m.requires_grad_(False)
    enc = text_encoder_from(clip)
    start = time.time()
    curve, extra = train_unet(unet, vae, enc, tok, data, args.unet_steps, lr=args.unet_lr, text_lr=args.text_lr)
    stages["unet"] = dict(steps=args.unet_steps, seconds=round(time.time() - start, 1), lr=args.unet_lr,
                          text_lr=args.text_lr,
                          loss_curve=curve.points, **extra)
    record = dict(
        command="python -m promptlang.shapes.train " + " ".join(sys.argv[1:] if argv is None else argv),
        seed=args.seed, git_commit=commit, threads=args.threads,
        # training time: the stages' own (a VAE and CLIP reused from --stages count as when they were made)
        seconds=round(sum(stage["seconds"] for stage in stages.values()), 1), reused_stages=reused,
        torch=torch.__version__, parameters=counts, stages=stages,
        world=dict(size=world.SIZE, shapes=world.SHAPES, colours=list(world.COLOURS), formats=world.FORMATS),
        stored_as="float16 safetensors")
    save(Path(args.out), vae, clip, unet, tok, record, enc)
    print(f"saved to {args.out} in {time.time() - t0:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
