"""The model behind the works: a run's EMA generator, frozen and content-addressed, and rendering with it.

Every work names the exact model that made it: the run's EMA generator (and, for a cascade, its upscaler)
is saved as `runs/NAME/models/<hash>.pt` (weights and config only), whose content hash goes into work.json
together with one entry per stage that made the pixels.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image

from latentmint.errors import LatentmintError
from latentmint.files import sha256_file
from latentmint.gan.checkpoint import load_checkpoint, load_generator, save_checkpoint
from latentmint.gan.data import to_uint8
from latentmint.studio import Studio

BATCH = 16  # generation always runs in batches of this size (padded), so results never depend on batching


@dataclass
class Model:
    run: str
    generator: torch.nn.Module
    info: dict[str, Any]  # what work.json records about the model

    @property
    def z_dim(self) -> int:
        return self.generator.z_dim


def model_hash(config: dict[str, Any], weights: dict[str, torch.Tensor]) -> str:
    """sha256 over the config and every tensor's name, shape, dtype and bytes: identical weights, identical hash."""
    h = hashlib.sha256(json.dumps(config, sort_keys=True).encode())
    for name in sorted(weights):
        t = weights[name].detach().cpu().contiguous()
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return h.hexdigest()


def open_model(studio: Studio, run: str, device: str = "cpu") -> Model:
    """The run's EMA generator, frozen as a content-addressed model file the works can point to."""
    run_root = studio.runs / run
    checkpoint = run_root / "checkpoints" / "latest.pt"
    if not checkpoint.is_file():
        raise LatentmintError(f"{run_root}: no trained model (train it first: latentmint train DATASET --name {run})")
    state = load_checkpoint(checkpoint)
    weights = {**state["G_ema"], **{f"upscaler.{k}": v for k, v in state.get("U", {}).items()}}
    digest = model_hash(state["config"], weights)
    model_file = run_root / "models" / f"{digest[:16]}.pt"
    if not model_file.is_file():
        save_checkpoint(model_file, {k: state[k] for k in ("config", "G_ema", "step", "dataset", "U") if k in state})
    G, _ = load_generator(model_file, device)
    info = {
        "run": run,
        "model_sha256": digest,
        "model_file": str(model_file.relative_to(studio.root)),
        "checkpoint_sha256": sha256_file(model_file),
        "step": int(state["step"]),
        "arch": state["config"]["arch"],
        "resolution": int(state["config"]["resolution"]),
        "dataset": state["dataset"]["name"],
        "dataset_hash": state["dataset"]["hash"],
        "stages": model_stages(state),
    }
    return Model(run, G, info)


def model_stages(state: dict[str, Any]) -> list[dict[str, Any]]:
    """Which network made the face and which made the final pixels, as certificates name them."""
    from latentmint.gan.config import TrainConfig
    from latentmint.gan.upscale import describe_upscaler

    config = TrainConfig.from_json(state["config"])
    face = {"name": "face", "arch": config.arch, "resolution": config.generator_resolution, "steps": int(state["step"])}
    if not config.upscale_from:
        return [face]
    return [face, {**describe_upscaler(config), "steps": int(state.get("u_step", 0))}]


@torch.no_grad()
def render(model: Model, z: torch.Tensor, noise_seeds: list[int], style: torch.Tensor | None = None, batch: int = BATCH) -> torch.Tensor:
    """uint8 (N, 3, R, R) images, computed in fixed-size batches so each depends only on its inputs
    (the same `batch` must be used for results to match bit for bit)."""
    G = model.generator
    device = next(G.parameters()).device
    out = []
    for start in range(0, z.shape[0], batch):
        n = min(batch, z.shape[0] - start)
        pad = batch - n
        zb = torch.cat([z[start : start + n], z[:1].expand(pad, -1)]) if pad else z[start : start + n]
        seeds = noise_seeds[start : start + n] + [noise_seeds[0]] * pad
        sb = None
        if style is not None:
            sb = torch.cat([style[start : start + n], style[:1].expand(pad, -1)]) if pad else style[start : start + n]
            sb = sb.to(device)
        out.append(to_uint8(G(zb.to(device), noise_seeds=seeds, style=sb))[:n])
    return torch.cat(out)


def to_pil(image: torch.Tensor) -> Image.Image:
    return Image.fromarray(image.permute(1, 2, 0).numpy())
