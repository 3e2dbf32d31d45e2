"""FastGAN (faces-64-cpu) against a plain DCGAN given the same wall time, on ../shared/datasets/utk540.

Targets (issue 3): 2,600 steps at 64 px in at most 30 minutes on this machine, and clearly better
sample quality than the DCGAN: SWD (x1e3, lower is better) against ../shared/datasets/utk-ref2000, which
neither model trained on, and FID/KID when Inception weights are configured. Writes the two sample
grids side by side to bench/results/train_quality_64.png.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw

from bench.common import RESULTS, shared_dataset, utk_studio, write_result
from latentmint.gan.config import make_config
from latentmint.gan.train import train
from latentmint.metrics.evaluate import evaluate_run

STEPS = 2600
TARGET_S = 30 * 60


def run() -> list[dict]:
    ref = shared_dataset("utk-ref2000")
    rows, grids = [], []
    with tempfile.TemporaryDirectory() as tmp:
        studio = utk_studio(Path(tmp), 64)
        start = time.monotonic()
        fast = train(studio, "faces", "fastgan", make_config("faces-64-cpu", {"steps": STEPS}))
        fast_s = time.monotonic() - start
        start = time.monotonic()
        base = train(studio, "faces", "dcgan", make_config("dcgan-64", {"steps": 10**9, "time_budget_s": fast_s}))
        base_s = time.monotonic() - start
        for label, result, seconds in (("FastGAN faces-64-cpu", fast, fast_s), ("DCGAN (same wall time)", base, base_s)):
            scores = evaluate_run(result.run, ref, samples=2000)
            rows.append(
                {
                    "case": label, "swd": round(scores["swd"], 2), "steps": result.steps, "wall_s": round(seconds, 1),
                    "seconds_per_step": round(result.seconds_per_step, 4), "fid": scores["fid"], "kid": scores["kid"],
                    "target": None,
                }
            )  # fmt: skip
            with Image.open(result.run / "samples" / f"step-{result.steps:06d}.png") as im:
                grids.append((label, im.convert("RGB")))
    rows[0]["within_30_min"] = rows[0]["wall_s"] <= TARGET_S
    rows[0]["better_than_dcgan"] = rows[0]["swd"] < rows[1]["swd"]
    _side_by_side(grids, RESULTS / "train_quality_64.png")
    write_result("train_quality", rows, reference=str(ref), note="SWD x1e3 over 2,000 samples against utk-ref2000")
    return rows


def _side_by_side(grids: list[tuple[str, Image.Image]], path: Path) -> None:
    w = max(im.width for _, im in grids)
    h = max(im.height for _, im in grids)
    sheet = Image.new("RGB", (w * len(grids) + 10 * (len(grids) - 1), h + 24), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for i, (label, im) in enumerate(grids):
        sheet.paste(im, (i * (w + 10), 24))
        draw.text((i * (w + 10) + 4, 6), label, fill=(0, 0, 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)

