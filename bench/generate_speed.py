"""Generation speed: images per second at 64 and 256 px (batch 64), and a 120-frame latent walk GIF at 256 px
(its size and encode time). The networks are the CPU presets' (faces-64-cpu, faces-256-cpu) trained on
../shared/datasets/utk540: speed does not depend on training, but GIF size does (noise compresses badly,
faces well), so the 256 px model trains 1,200 steps (about 5 minutes) before its walk is encoded, and a
cross-fade through three real faces (what a well-trained model's walk looks like to the encoder) is
encoded beside it."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from bench.common import median, shared_dataset, utk_studio, write_result
from latentmint.art.animate import encode
from latentmint.art.latents import latents, walk_latents
from latentmint.art.model import open_model, render, to_pil
from latentmint.gan.config import make_config
from latentmint.gan.train import train

BATCH = 64
WALK_MODEL_STEPS = 1200


def _crossfade(paths: list[Path], frames: int, size: int) -> list[Image.Image]:
    faces = [np.asarray(Image.open(p).convert("RGB").resize((size, size), Image.LANCZOS), dtype=np.float32) for p in paths]
    out = []
    for i in range(frames):
        pos = i / frames * len(faces)
        leg = int(pos)
        t = 0.5 - 0.5 * np.cos(np.pi * (pos - leg))
        mix = (1 - t) * faces[leg] + t * faces[(leg + 1) % len(faces)]
        out.append(Image.fromarray(mix.clip(0, 255).astype(np.uint8)))
    return out


def run(repeats: int = 3) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        studio = utk_studio(Path(tmp), 256)
        for preset in ("faces-64-cpu", "faces-256-cpu"):
            steps = WALK_MODEL_STEPS if preset == "faces-256-cpu" else 1
            train(studio, "faces", preset, make_config(preset, {"steps": steps, "eval_samples": 8, "sample_every": 100}))
            model = open_model(studio, preset)
            seeds = list(range(BATCH))
            z = latents(seeds, model.z_dim)
            render(model, z[:8], seeds[:8], batch=8)  # warm-up
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                render(model, z, seeds, batch=BATCH)
                times.append(time.perf_counter() - start)
            res = model.info["resolution"]
            rows.append({"case": f"generate {res} px ({preset}, batch {BATCH})", "images_per_s": round(BATCH / median(times), 1), "target": None})
            if res == 256:
                frames = render(model, walk_latents(latents([3, 17, 42], model.z_dim), 120, True), [3] * 120, batch=BATCH)
                pictures = [to_pil(f) for f in frames]
                encode_times, size = [], 0
                for _ in range(repeats):
                    start = time.perf_counter()
                    size = len(encode(pictures, "gif", 24))
                    encode_times.append(time.perf_counter() - start)
                rows.append({"case": f"walk GIF, 120 frames at 256 px (model after {WALK_MODEL_STEPS} steps)", "gif_mb": round(size / 2**20, 2), "encode_s": round(median(encode_times), 2), "target": None})
                fade = _crossfade(sorted(shared_dataset("utk540").glob("*.jpg"))[:3], 120, 256)
                start = time.perf_counter()
                size = len(encode(fade, "gif", 24))
                rows.append({"case": "GIF, 120-frame cross-fade of 3 real faces at 256 px", "gif_mb": round(size / 2**20, 2), "encode_s": round(time.perf_counter() - start, 2), "target": None})
    write_result("generate_speed", rows, batch=BATCH)
    return rows
