"""Which discriminator teaches the 64 px FastGAN generator faster on two CPU cores: FastGAN's own (with its
reconstruction loss) or a Projected GAN discriminator on frozen EfficientNet-Lite0 features. Same data
(utk540), same wall time, same seed; FID and KID on the standard Inception against utk-ref2000, faces
neither model saw, beside the real-vs-real floor (utk540 against utk-ref2000).

LATENTMINT_BENCH_MINUTES (default 30) sets the time per model, LATENTMINT_BENCH_SAMPLES (default 2000)
the images scored. Sample grids are saved beside the results.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from PIL import Image

from bench.common import RESULTS, shared_dataset, side_by_side, utk_studio, write_result
from latentmint.gan.config import make_config
from latentmint.gan.train import train
from latentmint.metrics.evaluate import compare_folders, evaluate_run


def run() -> list[dict]:
    minutes = float(os.environ.get("LATENTMINT_BENCH_MINUTES", "30"))
    samples = int(os.environ.get("LATENTMINT_BENCH_SAMPLES", "2000"))
    ref = shared_dataset("utk-ref2000")
    floor = compare_folders(shared_dataset("utk540"), ref, resolution=64, limit=min(samples, 540))
    rows = [{"case": "real faces (utk540 vs utk-ref2000, 64 px)", "fid": round(floor["fid"], 2), "kid": round(floor["kid"], 5), "target": None}]
    grids = []
    with tempfile.TemporaryDirectory() as tmp:
        studio = utk_studio(Path(tmp), 64)
        for name in ("own", "projected"):
            config = make_config("faces-64-cpu", {"time_budget_s": minutes * 60, "discriminator": name, "eval_samples": 16})
            result = train(studio, "faces", f"d-{name}", config)
            scores = evaluate_run(result.run, ref, samples=samples)
            rows.append({"case": f"FastGAN G + {name} D, {minutes:g} min", "fid": round(scores["fid"], 2), "kid": round(scores["kid"], 5), "swd": round(scores["swd"], 2), "steps": result.steps, "target": None})
            with Image.open(result.run / "samples" / f"step-{result.steps:06d}.png") as im:
                grids.append((f"{name} D, {result.steps} steps", im.convert("RGB")))
    rows[2]["projected_beats_own"] = rows[2]["kid"] < rows[1]["kid"]
    side_by_side(grids, RESULTS / "discriminators_64.png")
    write_result("discriminators", rows, minutes_per_model=minutes, samples=samples, reference=str(ref))
    return rows
