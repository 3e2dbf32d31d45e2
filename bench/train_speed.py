"""Seconds per training step for each preset: 64/128/256 px on the CPU, and 256/512/1024 px on a GPU when present
(for the 256 px CPU cascade: the generator's step; its upscaler trains the same number of steps).

Each case trains 15 steps on 40 faces of ../shared/datasets/utk540 and reports the median step time. Where
the CPU has native bfloat16 (AVX512-BF16, AMX), the CPU presets run both ways, bf16 autocast (their
default there) and float32, side by side.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from bench.common import utk_studio, write_result
from latentmint.gan.config import make_config
from latentmint.gan.train import bf16_native, train

STEPS = 15


def cases() -> list[tuple[str, str, bool]]:
    """(preset, device, amp)"""
    precisions = (True, False) if bf16_native(torch.device("cpu")) else (False,)
    out = [(preset, "cpu", amp) for preset in ("faces-64-cpu", "faces-128-cpu", "faces-256-cpu") for amp in precisions]
    if torch.cuda.is_available():
        out += [("faces-256", "cuda", True), ("faces-512", "cuda", True), ("faces-1024", "cuda", True)]
    return out


def run() -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        top = max(make_config(p, {}).resolution for p, _, _ in cases())
        studio = utk_studio(Path(tmp), top, count=40)
        for preset, device, amp in cases():
            config = make_config(preset, {"steps": STEPS, "upscale_steps": STEPS, "device": device, "amp": amp, "sample_every": 10**6, "ckpt_every": 10**6, "eval_samples": 16})
            result = train(studio, "faces", f"{preset}-{device}-{amp}", config)
            images_per_s = config.batch / result.seconds_per_step
            precision = "bf16" if amp else "fp32"
            rows.append({"case": f"{preset} on {device}, {precision} (batch {config.batch})", "seconds_per_step": round(result.seconds_per_step, 4), "images_per_s": round(images_per_s, 1), "target": None})
    write_result("train_speed", rows, steps=STEPS)
    return rows
