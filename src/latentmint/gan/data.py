"""Training images: a dataset's aligned faces, held in memory as uint8 (540 faces at 256 px are 106 MB)."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from latentmint.data.dataset import Dataset
from latentmint.errors import LatentmintError


def load_faces(dataset: Dataset, resolution: int) -> torch.Tensor:
    """(N, 3, R, R) uint8; resampled with anti-aliasing when training below the dataset's resolution."""
    if not dataset.faces:
        raise LatentmintError(f"{dataset.json_path}: the dataset has no faces")
    check_resolution(dataset, resolution)
    out = np.empty((len(dataset.faces), resolution, resolution, 3), dtype=np.uint8)
    for i, path in enumerate(dataset.image_paths()):
        try:
            with Image.open(path) as im:
                im = im.convert("RGB")
                if im.size != (resolution, resolution):
                    im = im.resize((resolution, resolution), Image.LANCZOS)
                out[i] = np.asarray(im)
        except OSError as exc:
            raise LatentmintError(f"{path}: unreadable face image ({exc}); ingest the dataset again") from exc
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def check_resolution(dataset: Dataset, resolution: int) -> None:
    """Faces are only ever resampled down: a run (or a cascade's last stage) cannot be larger than its dataset."""
    if resolution > dataset.resolution:
        raise LatentmintError(
            f"{dataset.json_path}: faces are {dataset.resolution} px; train at {dataset.resolution} or less, or ingest again at {resolution}"
        )


def to_float(batch: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1]."""
    return batch.float().div_(127.5).sub_(1.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] -> uint8 [0, 255], (N, 3, H, W)."""
    return images.detach().float().add(1).mul(127.5).round_().clamp_(0, 255).to(torch.uint8).cpu()
