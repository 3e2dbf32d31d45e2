"""The cascade's second stage: a face super-resolution network trained on the same aligned photos.

A 64 px generator learns faces many times faster per CPU-minute than a 256 px one; the upscaler then
learns, from the dataset's own faces, how a 64 px face looks at 256 px (pairs made by the same Lanczos
downsampling that fed the generator, so its outputs look like the inputs the upscaler trained on).
It is trained on aligned crops (32 px in, 128 px out): super-resolution is local, and crops are 16 times
cheaper than whole faces. The output is a bicubic upscale plus learned detail; the last layer starts at
zero, so an untrained upscaler is exactly bicubic and training can only add to it.

Loss: L1 to the real face, plus a perceptual term on frozen EfficientNet-Lite0 features (ImageNet; the
same pretrained network as the projected discriminator), which is what turns the L1 average of the
plausible details into sharp ones.

The generator's faces are not the photos the upscaler learned from: they carry more power than the photos
at middle and high spatial frequencies and less along the pixel grid's own (FastGAN repeats pixels to
upsample), and the upscaler enlarges that into a hatching. Their colours are a little flatter than the
photos' too (pixel-colour variance 1-5% lower per channel). So when the stage begins, a short zero-phase filter is
fitted that gives the generator's faces the photos' power spectrum, then a colour map that gives them the
photos' pixel-colour mean and covariance, and the cascade passes its faces through both before upscaling
(`Upscaler.match`; docs/benchmarks.md has the measurements).
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

CROP = 32  # input crop during training (px); the output crop is CROP * scale
MATCH_TAPS = 17  # the spectrum-matching filter's size (px at the generator's size): long enough to follow the spectrum
MATCH_SAMPLES = 256  # generated faces whose spectrum the filter is fitted on (their time is the upscaler stage's)


class ResidualBlock(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(width, width, 3, 1, 1), nn.LeakyReLU(0.2, True), nn.Conv2d(width, width, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.2 * self.body(x)  # scaled residuals keep a deep stack stable without normalisation (ESRGAN)


class Upscaler(nn.Module):
    """image (N, 3, r, r) in [-1, 1] -> (N, 3, r * scale, r * scale); most of the work is done at the input size."""

    def __init__(self, scale: int = 4, width: int = 48, blocks: int = 8) -> None:
        super().__init__()
        if scale < 2 or scale & (scale - 1):
            raise ValueError(f"upscale factor {scale}: a power of two of at least 2")
        self.scale = scale
        self.head = nn.Conv2d(3, width, 3, 1, 1)
        self.body = nn.Sequential(*(ResidualBlock(width) for _ in range(blocks)), nn.Conv2d(width, width, 3, 1, 1))
        ups, ch = [], width
        for _ in range(scale.bit_length() - 1):  # x2 per step; narrower as the image grows, where convs cost most
            nxt = max(ch // 2, 16)
            ups += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(ch, nxt, 3, 1, 1), nn.LeakyReLU(0.2, True)]
            ch = nxt
        self.up = nn.Sequential(*ups)
        self.to_rgb = nn.Conv2d(ch, 3, 3, 1, 1)
        nn.init.zeros_(self.to_rgb.weight)
        nn.init.zeros_(self.to_rgb.bias)
        self.register_buffer("match_filter", _identity(MATCH_TAPS))
        self.register_buffer("match_colour", _IDENTITY_COLOUR.clone())

    def match(self, faces: torch.Tensor) -> torch.Tensor:
        """Generated faces given the training photos' spectrum, then their colours (the identity until fitted:
        `spectrum_match_filter` into `match_filter`, then `colour_match_map` into `match_colour`)."""
        k = self.match_filter.to(faces.dtype)
        c, r = k.shape[-1] // 2, _taps_for(faces.shape[-1], k.shape[-1]) // 2  # tiny faces: the fit left the outer taps zero
        k = k[c - r : c + r + 1, c - r : c + r + 1]
        padded = F.pad(faces, (r, r, r, r), mode="reflect")
        filtered = F.conv2d(padded, k.expand(faces.shape[1], 1, *k.shape), groups=faces.shape[1])
        affine = self.match_colour.to(faces.dtype)
        return (torch.einsum("ij,njhw->nihw", affine[:, :3], filtered) + affine[:, 3].view(1, 3, 1, 1)).clamp(-1, 1)

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        state_dict.setdefault(prefix + "match_filter", _identity(MATCH_TAPS))  # runs trained before the filter existed
        state_dict.setdefault(prefix + "match_colour", _IDENTITY_COLOUR.clone())  # ... or before the colour map
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        base = F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)
        feat = self.head(x)
        detail = self.to_rgb(self.up(feat + self.body(feat)))
        return (base + detail).clamp(-1, 1)


def _taps_for(size: int, taps: int) -> int:
    """The odd filter size used on `size` px faces: at most `taps`, and short enough for reflect padding (r < size)."""
    return min(taps, size - 1) // 2 * 2 + 1


_IDENTITY_COLOUR = torch.cat([torch.eye(3), torch.zeros(3, 1)], 1)  # (3, 4): [matrix | offset] on RGB in [-1, 1]


def _identity(taps: int) -> torch.Tensor:
    k = torch.zeros(taps, taps)
    k[taps // 2, taps // 2] = 1.0
    return k


def luminance_power(images: torch.Tensor, batch: int = 256) -> torch.Tensor:
    """The mean power spectrum (R, R), float64, of uint8 images' luminance, each Hann-windowed (no edge leakage)."""
    r = images.shape[-1]
    w = torch.hann_window(r, periodic=False, dtype=torch.float64)
    window, luma = w[:, None] * w[None, :], torch.tensor([0.299, 0.587, 0.114], dtype=torch.float64).view(1, 3, 1, 1)
    total = torch.zeros(r, r, dtype=torch.float64)
    for i in range(0, images.shape[0], batch):
        y = (images[i : i + batch].cpu().double() * luma).sum(1)
        y = y - y.mean((-2, -1), keepdim=True)
        total += (torch.fft.fft2(y * window).abs() ** 2).sum(0)
    return total / images.shape[0]


def spectrum_match_filter(fakes: torch.Tensor, reals: torch.Tensor, taps: int = MATCH_TAPS) -> torch.Tensor:
    """A (taps, taps) zero-phase filter that brings the power spectrum of uint8 `fakes` to that of `reals`.

    Its response is the amplitude ratio, made left-right symmetric (faces are trained flipped) and held to
    0.5-1.5 so a few odd frequencies cannot ring; cut to `taps` under a Hann window; its sum is 1, so the
    mean colour is untouched."""
    if fakes.shape[-1] != reals.shape[-1]:
        raise ValueError(f"spectra of {fakes.shape[-1]} and {reals.shape[-1]} px images do not compare")
    fitted = _taps_for(fakes.shape[-1], taps)  # what `Upscaler.match` applies to faces this size
    ratio = torch.sqrt(luminance_power(reals) / luminance_power(fakes).clamp_min(1e-12))
    ratio = ((ratio + torch.roll(ratio.flip(-1), 1, -1)) / 2).clamp(0.5, 1.5)
    kernel = torch.fft.fftshift(torch.fft.ifft2(ratio.to(torch.complex128)).real)
    c, h = ratio.shape[-1] // 2, fitted // 2
    kernel = kernel[c - h : c + h + 1, c - h : c + h + 1]
    w = torch.hann_window(fitted + 2, periodic=False, dtype=torch.float64)[1:-1]
    kernel = kernel * (w[:, None] * w[None, :])
    return F.pad(kernel / kernel.sum(), [(taps - fitted) // 2] * 4).float()


def colour_match_map(fakes: torch.Tensor, reals: torch.Tensor) -> torch.Tensor:
    """The (3, 4) affine colour map [matrix | offset], on RGB in [-1, 1], that gives uint8 `fakes` the pixel-colour
    mean and covariance of `reals`: the optimal-transport map between the two Gaussians, which moves colours least."""
    mean_f, cov_f = _colour_moments(fakes)
    mean_r, cov_r = _colour_moments(reals)
    root_f = _sqrtm(cov_f)
    inv_root_f = torch.linalg.inv(root_f)
    matrix = inv_root_f @ _sqrtm(root_f @ cov_r @ root_f) @ inv_root_f
    return torch.cat([matrix, (mean_r - matrix @ mean_f)[:, None]], 1).float()


def _colour_moments(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (3,) and covariance (3, 3), float64, of the pixel colours of uint8 images, in [-1, 1]; the covariance is
    lifted by a grey level's variance so black-and-white photos (no spread between channels) still give a map."""
    pixels = images.cpu().double().transpose(0, 1).reshape(3, -1) / 127.5 - 1
    return pixels.mean(1), torch.cov(pixels) + torch.eye(3, dtype=torch.float64) / 127.5**2


def _sqrtm(matrix: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(matrix)
    return vectors @ torch.diag(values.clamp_min(0).sqrt()) @ vectors.T


def paired_crops(small: torch.Tensor, big: torch.Tensor, n: int, gen: torch.Generator, scale: int, crop: int = CROP) -> tuple[torch.Tensor, torch.Tensor]:
    """n aligned (input, target) crops from uint8 faces at two sizes (big = small * scale), randomly flipped."""
    idx = torch.randint(0, small.shape[0], (n,), generator=gen)
    ys = torch.randint(0, small.shape[-1] - crop + 1, (n,), generator=gen)
    xs = torch.randint(0, small.shape[-1] - crop + 1, (n,), generator=gen)
    flips = torch.rand(n, generator=gen) < 0.5
    lo, hi = [], []
    for i, y, x, flip in zip(idx.tolist(), ys.tolist(), xs.tolist(), flips.tolist()):
        a = small[i, :, y : y + crop, x : x + crop]
        b = big[i, :, y * scale : (y + crop) * scale, x * scale : (x + crop) * scale]
        lo.append(a.flip(-1) if flip else a)
        hi.append(b.flip(-1) if flip else b)
    return torch.stack(lo), torch.stack(hi)


class PerceptualLoss(nn.Module):
    """L1 between frozen EfficientNet-Lite0 features (the two finest taps) of output and target."""

    def __init__(self) -> None:
        super().__init__()
        from latentmint.gan.projected import EfficientNetLite0

        self.net = EfficientNetLite0.pretrained()

    def forward(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        # Only the two finest maps: the deeper ones (1/16, 1/32 of the crop) lost (docs/benchmarks.md), and not running
        # their blocks makes an upscaler step 13-19% faster on two cores (0.54-0.55 s -> 0.43-0.48 s, medians of 12, two runs).
        a, b = self.net((out + 1) / 2, taps=2), self.net((target + 1) / 2, taps=2)
        return sum(F.l1_loss(x.float(), y.detach().float()) for x, y in zip(a, b))


def upscaler_step(
    U: nn.Module, opt: torch.optim.Optimizer, lo: torch.Tensor, hi: torch.Tensor, perceptual: nn.Module | None, weight: float,
    autocast: contextlib.AbstractContextManager[Any],
) -> dict[str, torch.Tensor]:
    """One update on a batch of (input, target) crops in [-1, 1]; the passes under the run's `autocast` (bfloat16 where the
    generator uses it: a step 1.4-1.6x faster on two cores, and the same faces at equal steps, docs/benchmarks.md)."""
    with autocast:
        out = U(lo).float()  # the bicubic base is float32; only the learned detail is rounded
        loss_l1 = F.l1_loss(out, hi)
        loss_p = perceptual(out, hi) if perceptual is not None and weight else torch.zeros((), device=out.device)
    loss = loss_l1 + weight * loss_p
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return {"loss_l1": loss_l1.detach(), "loss_perceptual": loss_p.detach()}


def describe_upscaler(config: Any) -> dict[str, Any]:
    """What certificates say about the stage that made the final pixels."""
    return {
        "name": "upscale",
        "arch": f"latentmint residual upscaler x{config.resolution // config.upscale_from} ({config.upscale_blocks} blocks, width {config.upscale_width})",
        "from_resolution": config.upscale_from,
        "resolution": config.resolution,
        "trained_on": "the same aligned photos as the face generator",
    }


class Cascade(nn.Module):
    """The face generator and then the upscaler, behaving as one generator at the final size."""

    def __init__(self, face: nn.Module, upscaler: Upscaler) -> None:
        super().__init__()
        self.face, self.upscaler = face, upscaler
        self.z_dim, self.resolution = face.z_dim, face.resolution * upscaler.scale
        self.supports_mixing = getattr(face, "supports_mixing", False)

    def forward(self, z: torch.Tensor, noise_seeds: list[int] | None = None, style: torch.Tensor | None = None) -> torch.Tensor:
        return self.upscaler(self.upscaler.match(self.face(z, noise_seeds=noise_seeds, style=style)))


def build_upscaler(config: Any) -> Upscaler:
    return Upscaler(config.resolution // config.upscale_from, config.upscale_width, config.upscale_blocks)
