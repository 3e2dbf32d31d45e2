"""Checkpoints: atomic torch files that hold everything a run needs to continue bit for bit.

Loaded with `weights_only=True`, so a checkpoint from an untrusted source cannot run code.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from latentmint.errors import LatentmintError
from latentmint.files import atomic_write_bytes

CHECKPOINT_FORMAT = "latentmint.checkpoint/1"


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    buf = io.BytesIO()
    torch.save({"format": CHECKPOINT_FORMAT, **state}, buf)
    atomic_write_bytes(path, buf.getvalue())


RESUME_KEYS = ("config", "dataset", "G", "D", "G_ema", "opt_g", "opt_d", "ada", "step", "elapsed", "rng")


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu", required: tuple[str, ...] = ("config", "G_ema")) -> dict[str, Any]:
    """The checkpoint's contents, or a LatentmintError naming the file and what is wrong with it."""
    path = Path(path)
    if not path.is_file():
        raise LatentmintError(f"{path}: checkpoint not found")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LatentmintError(f"{path}: not a readable checkpoint (corrupt, truncated or unsafe: {first[:160]})") from exc
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise LatentmintError(f"{path}: not a latentmint checkpoint (expected format {CHECKPOINT_FORMAT})")
    missing = [k for k in required if k not in state]
    if missing or not isinstance(state.get("config"), dict):
        raise LatentmintError(f"{path}: incomplete checkpoint (missing {', '.join(missing) or 'a config'}); use an earlier checkpoint or retrain")
    return state


def load_generator(path: Path, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, dict[str, Any]]:
    """The EMA generator of a checkpoint (for a cascade, followed by its upscaler), in eval mode, and the checkpoint."""
    from latentmint.gan.config import TrainConfig
    from latentmint.gan.networks import build
    from latentmint.gan.upscale import Cascade, build_upscaler

    state = load_checkpoint(path, map_location=device)
    config = TrainConfig.from_json(state["config"])
    G, _ = build(config.arch, config.generator_resolution, config.z_dim, config.ngf, config.ndf)
    try:
        G.load_state_dict(state["G_ema"])
        if config.upscale_from:
            if "U" not in state:
                raise LatentmintError(f"{path}: the upscaler has not been trained yet (resume the run to finish its second stage)")
            U = build_upscaler(config)
            U.load_state_dict(state["U"])
            G = Cascade(G, U)
    except (KeyError, RuntimeError) as exc:
        raise LatentmintError(f"{path}: generator weights do not match its own config ({str(exc).splitlines()[0][:160]})") from exc
    return G.to(device).eval().requires_grad_(False), state
