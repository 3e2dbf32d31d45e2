"""Instance discrimination (InsGen: Yang et al., NeurIPS 2021, "Data-Efficient Instance Generation from Instance
Discrimination"), in a form cheap enough for a CPU.

Beside real-or-fake, the discriminator learns to tell each photo, and each generated face, from every other one
(MoCo's contrastive task), and the generator learns to make faces it can tell apart: the diversity that recall
measures, and what a GAN on a few hundred photos lacks most. The queries are D's own 8x8 features from the step's
existing passes, so no pass with a gradient is added; the keys come from a momentum copy of D on a second view of
the same images (flipped and augmented again), and the negatives from a queue of recent keys. InsGen also draws a
fake's second view from its latent plus noise; that second draw of the generator made a CPU step 20-45% dearer,
and at equal time did no better (docs/benchmarks.md), so here a fake's second view is an augmentation, as a photo's is.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from latentmint.gan.augment import diff_augment, random_flip

MOMENTUM = 0.999  # per step, for the key discriminator and the key heads (MoCo's)
TEMPERATURE = 0.2
QUEUE_SHARE = 0.05  # InsGen's queue: 5% of the data set, here at least two batches


class _Head(nn.Module):
    """Pooled features -> a point on the 128-d sphere; a momentum copy for the keys, and their queue."""

    def __init__(self, channels: int, queue: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(channels, channels), nn.ReLU(), nn.Linear(channels, 128))
        self.key_mlp = copy.deepcopy(self.mlp).requires_grad_(False)
        self.register_buffer("queue", F.normalize(torch.randn(queue, 128), dim=1))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def keys(self, features: torch.Tensor) -> torch.Tensor:
        return _project(self.key_mlp, features)

    def loss(self, features: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """InfoNCE: each query's own key against the queue."""
        q = _project(self.mlp, features)
        logits = torch.cat([(q * keys).sum(1, keepdim=True), q @ self.queue.T], 1) / TEMPERATURE
        return F.cross_entropy(logits, torch.zeros(q.shape[0], dtype=torch.long, device=q.device))

    @torch.no_grad()
    def follow(self, keys: torch.Tensor) -> None:
        slots = (self.ptr + torch.arange(keys.shape[0], device=keys.device)) % self.queue.shape[0]
        self.queue[slots] = keys
        self.ptr.copy_((self.ptr + keys.shape[0]) % self.queue.shape[0])
        for k, q in zip(self.key_mlp.parameters(), self.mlp.parameters()):
            k.lerp_(q, 1 - MOMENTUM)


class InstanceDiscrimination(nn.Module):
    """The contrastive half of the discriminator: heads for photos and fakes, and the momentum discriminator."""

    def __init__(self, D: nn.Module, data_size: int, batch: int) -> None:
        super().__init__()
        self.key_D = copy.deepcopy(D).requires_grad_(False)
        channels = D.logits[0].in_channels  # D's 8x8 features, as they enter its real/fake head
        queue = max(2 * batch, int(QUEUE_SHARE * data_size))
        self.real, self.fake = _Head(channels, queue), _Head(channels, queue)

    def head_parameters(self) -> list[nn.Parameter]:
        return [*self.real.mlp.parameters(), *self.fake.mlp.parameters()]

    @torch.no_grad()
    def keys(self, real: torch.Tensor, fake: torch.Tensor, p: float, policy: tuple[str, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys for this step's photos and fakes, from second views of them."""
        k_real = self.real.keys(self.key_D(diff_augment(random_flip(real), p, policy), features=True)[-1])
        k_fake = self.fake.keys(self.key_D(diff_augment(random_flip(fake), p, policy), features=True)[-1])
        return k_real, k_fake

    @torch.no_grad()
    def follow(self, D: nn.Module, k_real: torch.Tensor, k_fake: torch.Tensor) -> None:
        """After both updates: the queues take this step's keys, the momentum copies move towards D and the heads."""
        self.real.follow(k_real)
        self.fake.follow(k_fake)
        for k, q in zip(self.key_D.parameters(), D.parameters()):
            k.lerp_(q.detach(), 1 - MOMENTUM)
        for k, q in zip(self.key_D.buffers(), D.buffers()):  # batch-norm statistics, spectral-norm vectors
            k.copy_(q)


def _project(mlp: nn.Module, features: torch.Tensor) -> torch.Tensor:
    """Mean-pooled features onto the unit sphere, in float32 even under autocast (the queue is float32)."""
    with torch.autocast(features.device.type, enabled=False):
        return F.normalize(mlp(features.float().mean((2, 3))), dim=1)
