"""Generation speed: images per second at 64 and 256 px (batch 64), and a 120-frame latent walk GIF at 256 px
(its size and encode time). The networks are the CPU presets' (faces-64-cpu, faces-256-cpu) trained on
../shared/datasets/utk540: speed does not depend on training, but GIF size does (noise compresses badly,
faces well), so the 256 px model trains 400 steps (about 2 minutes) before its walk is encoded."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from bench.common import SHARED, median, write_result
from latentmint.art.animate import encode
from latentmint.art.latents import latents, walk_latents
from latentmint.art.model import open_model, render, to_pil
from latentmint.data.ingest import IngestOptions, ingest
from latentmint.gan.config import make_config
from latentmint.gan.train import train
from latentmint.studio import init_studio

BATCH = 64


def run(repeats: int = 3) -> list[dict]:
    utk = SHARED / "datasets" / "utk540"
    if not utk.is_dir():
        raise SystemExit(f"{utk}: not found (set LATENTMINT_SHARED)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        photos = Path(tmp) / "faces"
        photos.mkdir()
        for src in sorted(utk.glob("*.jpg")):
            shutil.copy(src, photos / src.name)
        studio = init_studio(Path(tmp) / "studio")
        ingest(photos, studio, "faces", IngestOptions(resolution=256, aligned=True))
        for preset in ("faces-64-cpu", "faces-256-cpu"):
            steps = 400 if preset == "faces-256-cpu" else 1
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
                rows.append({"case": "walk GIF, 120 frames at 256 px", "gif_mb": round(size / 2**20, 2), "encode_s": round(median(encode_times), 2), "target": None})
    write_result("generate_speed", rows, batch=BATCH)
    return rows
