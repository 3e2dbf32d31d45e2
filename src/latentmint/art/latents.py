"""Latent vectors: one per seed (the same on every machine), truncation, spherical interpolation."""

from __future__ import annotations

import re

import torch

from latentmint.errors import LatentmintError

MAX_SEED = 2**32 - 1


def parse_seeds(text: str, limit: int = 100_000) -> list[int]:
    """'1-100', '3,17,42', '1-4,9' -> seeds in the order given, duplicates dropped."""
    seeds: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        match = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", part)
        if not match:
            raise LatentmintError(f"seeds {text!r}: use numbers and ranges like 1-100 or 3,17,42")
        lo, hi = int(match[1]), int(match[2] or match[1])
        if hi < lo or hi > MAX_SEED:
            raise LatentmintError(f"seeds {part!r}: a range goes from low to high, up to {MAX_SEED}")
        seeds.extend(range(lo, hi + 1))
        if len(seeds) > limit:
            raise LatentmintError(f"seeds {text!r}: more than {limit} at once")
    return list(dict.fromkeys(seeds))


def latent(seed: int, z_dim: int) -> torch.Tensor:
    """The latent of `seed`: drawn on the CPU from its own generator, so it is the same everywhere."""
    return torch.randn(z_dim, generator=torch.Generator().manual_seed(seed))


def latents(seeds: list[int], z_dim: int, truncation: float = 1.0) -> torch.Tensor:
    """(N, z_dim) latents, pulled towards the mean (zero) by `truncation` < 1 for safer, less varied faces."""
    if not 0.0 < truncation <= 1.0:
        raise LatentmintError(f"truncation {truncation}: choose a value in (0, 1]")
    return torch.stack([latent(s, z_dim) for s in seeds]) * truncation


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation: stays on the shell where Gaussian latents live, unlike a straight line."""
    an, bn = a / a.norm(), b / b.norm()
    omega = torch.arccos((an * bn).sum().clamp(-1 + 1e-7, 1 - 1e-7))
    if omega.abs() < 1e-6:
        return (1 - t) * a + t * b
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b


def walk_latents(keys: torch.Tensor, frames: int, loop: bool) -> torch.Tensor:
    """`frames` latents through the key latents in order (and back to the first when `loop`),
    eased at each key so the animation lingers on the chosen faces."""
    legs = keys.shape[0] if loop else keys.shape[0] - 1
    if legs < 1:
        raise LatentmintError("a walk needs at least two seeds")
    out = []
    for i in range(frames):
        pos = i / frames * legs if loop else i / max(frames - 1, 1) * legs
        leg = min(int(pos), legs - 1)
        t = pos - leg
        eased = 0.5 - 0.5 * torch.cos(torch.tensor(t * torch.pi)).item()
        out.append(slerp(keys[leg], keys[(leg + 1) % keys.shape[0]], eased))
    return torch.stack(out)
