"""Differentiable augmentation (DiffAugment, Zhao et al. 2020) with an adaptive strength (as ADA, Karras et al. 2020).

The same random colour, translation and cutout are applied to real and generated images before the
discriminator sees them, and gradients flow through them to the generator, so the discriminator cannot
memorise a few hundred photos while the generator never learns to produce augmented faces. Each
transform hits a sample with probability p; `AdaptiveP` raises p while the discriminator is overconfident
on real images (the overfitting signal r_t = E[sign(D(real))]) and lowers it otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

POLICIES = ("color", "translation", "cutout")


def _chosen(x: torch.Tensor, p: float) -> torch.Tensor:
    """Per-sample mask (N, 1, 1, 1): which images this transform applies to."""
    return (torch.rand(x.shape[0], 1, 1, 1, device=x.device) < p).to(x.dtype)


def color(x: torch.Tensor, p: float) -> torch.Tensor:
    n = x.shape[0]
    brightness = torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) - 0.5
    y = x + brightness
    mean = y.mean(dim=1, keepdim=True)
    y = (y - mean) * (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) * 2) + mean  # saturation
    mean = y.mean(dim=[1, 2, 3], keepdim=True)
    y = (y - mean) * (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) + 0.5) + mean  # contrast
    m = _chosen(x, p)
    return y * m + x * (1 - m)


def translation(x: torch.Tensor, p: float, ratio: float = 0.125) -> torch.Tensor:
    """Shift by up to `ratio` of the size, filling with zeros (grid_sample keeps it differentiable)."""
    n, _, h, w = x.shape
    shift = (torch.rand(n, 2, device=x.device, dtype=x.dtype) * 2 - 1) * ratio * 2  # in [-1, 1] grid units
    shift = shift * _chosen(x, p).view(n, 1)
    theta = torch.zeros(n, 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0] = theta[:, 1, 1] = 1
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)


def cutout(x: torch.Tensor, p: float, ratio: float = 0.5) -> torch.Tensor:
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=x.device) - ch // 2
    cx = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=x.device) - cw // 2
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    hole = ((ys >= cy) & (ys < cy + ch) & (xs >= cx) & (xs < cx + cw)).unsqueeze(1).to(x.dtype)
    hole = hole * _chosen(x, p)
    return x * (1 - hole)


TRANSFORMS = {"color": color, "translation": translation, "cutout": cutout}


def random_flip(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Each image mirrored left-right with probability 1/2, the coins drawn on the CPU from `generator`.
    torch.where, not a boolean index: indexing by a mask waits for the GPU."""
    flip = (torch.rand(x.shape[0], generator=generator) < 0.5).to(x.device, non_blocking=True)
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)


def diff_augment(x: torch.Tensor, p: float, policy: tuple[str, ...] = POLICIES) -> torch.Tensor:
    if p <= 0:
        return x
    for name in policy:
        x = TRANSFORMS[name](x, p)
    return x


@dataclass
class AdaptiveP:
    """ADA's controller: every `interval` steps, move p towards keeping r_t at `target`.

    p moves by at most `interval * batch / speed_images` per adjustment, so it can go from 0 to 1 after
    `speed_images` images (ADA used 500k for 70k-image datasets; a few hundred photos need far faster).
    """

    p: float = 0.0
    target: float = 0.6
    interval: int = 4
    speed_images: int = 20_000
    max_p: float = 1.0
    _sum: float | torch.Tensor = 0.0
    _count: int = 0
    rt: float = 0.0

    def observe(self, rt: float | torch.Tensor) -> None:
        """One batch's E[sign(D(real))]. A tensor stays on its device until `step` reads the sum (every
        `interval` batches, as StyleGAN2-ADA reads its statistics), so the GPU is not waited on every step;
        float64, so the sum is the one a Python float would hold."""
        self._sum = self._sum + (rt.detach().double() if isinstance(rt, torch.Tensor) else rt)
        self._count += 1

    def step(self, batch: int) -> None:
        if self._count < self.interval:
            return
        self.rt = float(self._sum) / self._count
        adjust = (1 if self.rt > self.target else -1) * batch * self._count / self.speed_images
        self.p = min(max(self.p + adjust, 0.0), self.max_p)
        self._sum, self._count = 0.0, 0

    def state_dict(self) -> dict[str, float | int]:
        return {"p": self.p, "sum": float(self._sum), "count": self._count, "rt": self.rt}

    def load_state_dict(self, state: dict[str, float | int]) -> None:
        self.p, self._sum, self._count, self.rt = float(state["p"]), float(state["sum"]), int(state["count"]), float(state["rt"])
