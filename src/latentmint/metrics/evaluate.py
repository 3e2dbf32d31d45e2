"""Evaluate a generator against reference images: SWD always, FID and KID when the Inception network is installed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from latentmint.errors import LatentmintError
from latentmint.gan.data import to_uint8


@torch.no_grad()
def generate_uint8(G: torch.nn.Module, n: int, seed: int, batch: int = 64) -> torch.Tensor:
    """n samples from G as uint8 (n, 3, R, R) on the CPU, the same for the same seed, leaving global RNG as it was."""
    device = next(G.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    out = []
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        for start in range(0, n, batch):
            z = torch.randn(min(batch, n - start), G.z_dim, generator=gen).to(device)
            out.append(to_uint8(G(z)))
    return torch.cat(out)


def load_reference(folder: Path, resolution: int, limit: int | None = None) -> torch.Tensor:
    """Reference photos (any size; centre-cropped square, resized) as uint8 (N, 3, R, R)."""
    from latentmint.data.photos import MAX_PIXELS, Rejected, find_photos, read_photo

    files = find_photos(folder)[:limit] if limit else find_photos(folder)
    out = []
    for path in files:
        try:
            im = read_photo(path, max_pixels=MAX_PIXELS, min_size=16).image
        except Rejected:
            continue
        side = min(im.size)
        left, top = (im.width - side) // 2, (im.height - side) // 2
        im = im.crop((left, top, left + side, top + side)).resize((resolution, resolution), Image.LANCZOS)
        out.append(torch.from_numpy(np.array(im)).permute(2, 0, 1))
    if not out:
        raise LatentmintError(f"{folder}: no readable reference images")
    return torch.stack(out)


INCEPTION_METRICS = ("fid", "kid", "precision", "recall")  # None where the Inception network is missing
SCORES = ("swd", *INCEPTION_METRICS)


def evaluate_run(run: Path, ref: Path, samples: int = 2000, seed: int = 0, inception: Path | None = None) -> dict[str, Any]:
    """SWD, and FID, KID, precision and recall when the Inception network is there, of a run's EMA generator against `ref`."""
    from latentmint.gan.checkpoint import load_generator
    from latentmint.metrics.fid import feature_network
    from latentmint.metrics.swd import swd

    checkpoint = Path(run) / "checkpoints" / "latest.pt"
    G, state = load_generator(checkpoint, "cuda" if torch.cuda.is_available() else "cpu")
    real = load_reference(Path(ref), G.resolution)
    n = min(samples, real.shape[0])
    fake = generate_uint8(G, n, seed=seed)
    real = real[torch.randperm(real.shape[0], generator=torch.Generator().manual_seed(seed))[:n]]
    result: dict[str, Any] = {"swd": swd(real, fake, seed=seed)["swd"], **dict.fromkeys(INCEPTION_METRICS), "samples": n, "step": int(state["step"]), "resolution": int(G.resolution)}
    net = feature_network(inception)
    if net is not None:
        from latentmint.metrics.fid import scores_from_features

        result.update(scores_from_features(net.features_of(real), net.features_of(fake)))
    return result


def compare_folders(a: Path, b: Path, resolution: int = 299, limit: int | None = None, inception: Path | None = None) -> dict[str, Any]:
    """FID and KID between two folders of images (e.g. real faces against real faces: the floor a model can reach)."""
    from latentmint.metrics.fid import MISSING_WEIGHTS, feature_network, fid_from_features, kid_from_features

    net = feature_network(inception)
    if net is None:
        raise LatentmintError(MISSING_WEIGHTS)
    fa, fb = net.features_of(load_reference(Path(a), resolution, limit)), net.features_of(load_reference(Path(b), resolution, limit))
    return {"fid": fid_from_features(fa, fb), "kid": kid_from_features(fa, fb), "samples": (len(fa), len(fb))}


def evaluate_and_record(run: Path, ref: Path, samples: int = 2000, inception: Path | str | None = None) -> dict[str, Any]:
    """`latentmint eval`: score the run, append to its evaluations.jsonl, write eval.json and eval.png."""
    import json

    from latentmint.data.dataset import now_iso
    from latentmint.files import atomic_write_json

    run = Path(run)
    if not (run / "run.json").is_file():
        raise LatentmintError(f"{run}: not a training run (no run.json)")
    result = evaluate_run(run, ref, samples, inception=Path(inception) if inception else None)
    record = {"step": result["step"], "time": now_iso(), "ref": str(Path(ref).resolve()), **{k: result[k] for k in (*SCORES, "samples")}}
    with open(run / "evaluations.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")
    atomic_write_json(run / "eval.json", record)
    history = [json.loads(line) for line in (run / "evaluations.jsonl").read_text().splitlines() if line.strip()]
    plot = plot_evaluations(run, [h for h in history if "ref" in h])
    return {**result, "json": run / "eval.json", "plot": plot}


def plot_evaluations(run: Path, history: list[dict[str, Any]]) -> Path:
    """eval.png: each metric against the training step at which it was measured."""
    from latentmint.images import pyplot, save_figure

    plt = pyplot()
    keys = [k for k in SCORES if any(h.get(k) is not None for h in history)]
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.2), squeeze=False)
    for ax, key in zip(axes[0], keys):
        points = sorted((h["step"], h[key]) for h in history if h.get(key) is not None)
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o")
        ax.set_title(f"{key} ({'higher' if key in ('precision', 'recall') else 'lower'} is better)")
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    fig.suptitle(run.name)
    return save_figure(fig, run / "eval.png")
