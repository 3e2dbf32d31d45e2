"""Networks: the FastGAN generator and discriminator (Liu et al. 2021), and a plain DCGAN baseline.

FastGAN suits a few hundred photos: skip-layer excitation (SLE) lets 4-16 px features gate the
high-resolution ones, and the discriminator must also *reconstruct* real images from its own features
(self-supervision), which keeps it from memorising a small dataset. Widths scale with `ngf`/`ndf`, so
one definition serves a 64 px CPU preset and a 1024 px GPU one.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.spectral_norm import SpectralNorm

from latentmint.errors import LatentmintError

# FastGAN's channel multipliers per resolution.
WIDTH = {4: 16, 8: 8, 16: 4, 32: 2, 64: 2, 128: 1, 256: 0.5, 512: 0.25, 1024: 0.125}


def channels(base: int, res: int) -> int:
    return max(int(base * WIDTH[res]), 8)


class _SpectralNorm(SpectralNorm):
    """torch's spectral norm; compiled, its power iteration moves out of the graph. torch updates the vectors in
    place in every forward and clones them so that D can run twice before one backward, but inductor's
    partitioner saves the *old* buffer and recomputes the iteration in backward, and D's second call has
    overwritten it by then ("modified by an inplace operation"). So compiled code only reads the vectors, and
    the training step calls `power_iterate` once per step, in eager mode, between backward and the next forward."""

    def compute_weight(self, module: nn.Module, do_power_iteration: bool) -> torch.Tensor:
        if not torch.compiler.is_compiling():
            return super().compute_weight(module, do_power_iteration)
        weight = getattr(module, self.name + "_orig")
        u, v = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        return weight / torch.dot(u, torch.mv(self.reshape_weight_to_matrix(weight), v))


def power_iterate(model: nn.Module) -> None:
    """One power-iteration step for every spectral-normed layer of a compiled model (see _SpectralNorm)."""
    with torch.no_grad():
        for module in model.modules():
            for hook in module._forward_pre_hooks.values():
                if isinstance(hook, _SpectralNorm):
                    hook.compute_weight(module, do_power_iteration=True)


def spectral_norm(module: nn.Module) -> nn.Module:
    """torch.nn.utils.spectral_norm (same buffers and state-dict format), safe under torch.compile."""
    module = torch.nn.utils.spectral_norm(module)
    for hook in module._forward_pre_hooks.values():
        if type(hook) is SpectralNorm:
            hook.__class__ = _SpectralNorm
    return module


def conv(cin: int, cout: int, k: int, s: int = 1, p: int = 0, bias: bool = True) -> nn.Module:
    return spectral_norm(nn.Conv2d(cin, cout, k, s, p, bias=bias))


class GLU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=1)
        return a * torch.sigmoid(b)


class NoiseInjection(nn.Module):
    """Per-pixel noise with a learned strength (starts at zero: the network decides how much it wants).

    While `seeds` is set (one per sample), each sample's noise comes from its own seed, so an image
    depends only on its seed, never on which batch it was generated in.
    """

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))
        self.seeds: list[int] | None = None
        self.layer = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        if self.seeds is None:
            noise = torch.randn(n, 1, h, w, device=x.device, dtype=x.dtype)
        else:
            gens = [torch.Generator(device=x.device).manual_seed(seed * 1009 + self.layer) for seed in self.seeds]
            noise = torch.stack([torch.randn(1, h, w, generator=g, device=x.device) for g in gens]).to(x.dtype)
        return x + self.weight * noise


@contextmanager
def seeded_noise(model: nn.Module, seeds: list[int] | None):
    """Within the block, `model`'s noise layers draw each sample's noise from its own seed."""
    layers = [m for m in model.modules() if isinstance(m, NoiseInjection)]
    for i, layer in enumerate(layers):
        layer.seeds, layer.layer = seeds, i
    try:
        yield
    finally:
        for layer in layers:
            layer.seeds = None


def recalibrate_batchnorm(G: nn.Module, samples: int = 256, batch: int = 64, seed: int = 0) -> None:
    """Give G's batch norms the statistics of G's own weights (as SWA's bn_update does).

    The EMA generator averages the training generator's weights but copies its running statistics,
    which belong to other weights; the mismatch shifts colours and blurs. Here they are the plain
    average over `samples` images from fixed-seed latents (256 images give even the 4x4 layer 4,096
    values a channel, in about two seconds for the CPU preset). Only the batch norms switch to training
    mode (spectral norm must not iterate), and the global RNG (which the noise layers draw from) is
    left as it was, so a run resumes exactly.
    """
    norms = [m for m in G.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    device = next(G.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    momenta = [m.momentum for m in norms]
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), torch.no_grad():
        torch.manual_seed(seed)
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # a cumulative average over every batch, not an exponential one
            m.train()
        for start in range(0, samples, batch):
            G(torch.randn(min(batch, samples - start), G.z_dim, generator=gen).to(device))
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
        m.train(G.training)


def up_block(cin: int, cout: int, double: bool) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Upsample(scale_factor=2, mode="nearest"), conv(cin, cout * 2, 3, 1, 1, bias=False)]
    if double:
        layers.append(NoiseInjection())
    layers += [nn.BatchNorm2d(cout * 2), GLU()]
    if double:
        layers += [conv(cout, cout * 2, 3, 1, 1, bias=False), NoiseInjection(), nn.BatchNorm2d(cout * 2), GLU()]
    return nn.Sequential(*layers)


class SLE(nn.Module):
    """Skip-layer excitation: a low-resolution feature map gates the channels of a high-resolution one."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.AdaptiveAvgPool2d(4), conv(cin, cout, 4, 1, 0, bias=False), nn.SiLU(), conv(cout, cout, 1, 1, 0, bias=False), nn.Sigmoid()
        )

    def forward(self, small: torch.Tensor, big: torch.Tensor) -> torch.Tensor:
        return big * self.main(small)


class Generator(nn.Module):
    """z (N, z_dim) -> image (N, 3, R, R) in [-1, 1]."""

    def __init__(self, resolution: int, z_dim: int = 256, ngf: int = 64) -> None:
        super().__init__()
        self.resolution, self.z_dim = resolution, z_dim
        c = lambda r: channels(ngf, r)  # noqa: E731
        self.init = nn.Sequential(
            spectral_norm(nn.ConvTranspose2d(z_dim, c(4) * 2, 4, 1, 0, bias=False)),
            nn.BatchNorm2d(c(4) * 2),
            GLU(),
        )
        self.res = [2**i for i in range(3, resolution.bit_length())]  # 8 .. R
        # FastGAN alternates double and single up-blocks, starting double at 8 px.
        self.ups = nn.ModuleDict({str(r): up_block(c(r // 2), c(r), double=(r.bit_length() % 2 == 0)) for r in self.res})
        self.sle = nn.ModuleDict({str(r): SLE(c(r // 16), c(r)) for r in self.res if r >= 64})
        self.to_rgb = conv(c(resolution), 3, 3, 1, 1)

    supports_mixing = True

    def _features(self, z: torch.Tensor, upto: int, sle_from: dict[int, torch.Tensor] | None = None) -> dict[int, torch.Tensor]:
        feats = {4: self.init(z.view(z.shape[0], -1, 1, 1))}
        for r in self.res:
            if r > upto:
                break
            x = self.ups[str(r)](feats[r // 2])
            if str(r) in self.sle:
                x = self.sle[str(r)]((sle_from or feats)[r // 16], x)
            feats[r] = x
        return feats

    def forward(self, z: torch.Tensor, noise_seeds: list[int] | None = None, style: torch.Tensor | None = None) -> torch.Tensor:
        """`style`: latents whose low-resolution features drive the skip-layer excitations instead of
        z's own (FastGAN's style mixing: z sets the shape, `style` the colours and textures)."""
        with seeded_noise(self, noise_seeds):
            style_feats = self._features(style, self.resolution // 16) if style is not None else None
            feats = self._features(z, self.resolution, sle_from=style_feats)
        return torch.tanh(self.to_rgb(feats[self.resolution]))


class DownBlock(nn.Module):
    """FastGAN's DownBlockComp: a strided conv path plus an average-pool shortcut."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.main = nn.Sequential(
            conv(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2, True),
            conv(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2),
        )  # fmt: skip
        self.direct = nn.Sequential(nn.AvgPool2d(2, 2), conv(cin, cout, 1, 1, 0, bias=False), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.main(x) + self.direct(x)) / 2


class Decoder(nn.Module):
    """Reconstructs an image from an 8x8 feature map (the discriminator's self-supervision)."""

    def __init__(self, cin: int, out_res: int, width: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.AdaptiveAvgPool2d(8)]
        ch, res = cin, 8
        while res < out_res:
            nxt = max(ch // 2, width)
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), conv(ch, nxt * 2, 3, 1, 1, bias=False), nn.BatchNorm2d(nxt * 2), GLU()]
            ch, res = nxt, res * 2
        layers += [conv(ch, 3, 3, 1, 1), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


class Discriminator(nn.Module):
    """image -> real/fake logits (a 5x5 patch map, averaged by the loss); on real images it also
    returns reconstructions of the whole image and of one quadrant, to be compared with the input."""

    def __init__(self, resolution: int, ndf: int = 64) -> None:
        super().__init__()
        self.resolution = resolution
        c = lambda r: channels(ndf, r)  # noqa: E731
        self.stem = nn.Sequential(conv(3, c(resolution // 2), 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True))
        self.downs = nn.ModuleList(DownBlock(c(r), c(r // 2)) for r in (2**i for i in range(resolution.bit_length() - 2, 3, -1)))
        self.logits = nn.Sequential(
            conv(c(8), c(4), 1, 1, 0, bias=False), nn.BatchNorm2d(c(4)), nn.LeakyReLU(0.2, True), conv(c(4), 1, 4, 1, 0, bias=False)
        )
        self.rec_res = max(16, min(128, resolution // 2))
        width = max(ndf // 4, 8)
        self.decode_whole = Decoder(c(8), self.rec_res, width)
        self.decode_part = Decoder(c(16), self.rec_res, width)

    def forward(self, x: torch.Tensor, part: int | None = None, features: bool = False):
        """With `features`, the 8x8 feature map the logits are read from comes last (instance discrimination)."""
        feats = {self.resolution // 2: self.stem(x)}
        r = self.resolution // 2
        for block in self.downs:
            feats[r // 2] = block(feats[r])
            r //= 2
        logits = self.logits(feats[8]).flatten(1)
        if part is None:
            return (logits, feats[8]) if features else logits
        f16 = feats[16]
        qy, qx = divmod(part, 2)
        crop = f16[:, :, qy * 8 : qy * 8 + 8, qx * 8 : qx * 8 + 8]
        out = (logits, self.decode_whole(feats[8]), self.decode_part(crop))
        return (*out, feats[8]) if features else out


def reconstruction_targets(real: torch.Tensor, rec_res: int, part: int) -> tuple[torch.Tensor, torch.Tensor]:
    """What the decoders should output: the real image, and its `part`-th quadrant, at `rec_res` px."""
    whole = F.interpolate(real, size=rec_res, mode="area")
    half = real.shape[-1] // 2
    qy, qx = divmod(part, 2)
    quadrant = real[:, :, qy * half : (qy + 1) * half, qx * half : (qx + 1) * half]
    return whole, F.interpolate(quadrant, size=rec_res, mode="area")


# --- baseline ------------------------------------------------------------------------------------


class DCGANGenerator(nn.Module):
    """Radford et al. 2016: transposed convolutions with batch norm; the baseline FastGAN must beat."""

    def __init__(self, resolution: int, z_dim: int = 100, ngf: int = 64) -> None:
        super().__init__()
        self.resolution, self.z_dim = resolution, z_dim
        steps = resolution.bit_length() - 3  # 4 px -> R
        ch = ngf * 2 ** (steps - 1)
        layers: list[nn.Module] = [nn.ConvTranspose2d(z_dim, ch, 4, 1, 0, bias=False), nn.BatchNorm2d(ch), nn.ReLU(True)]
        for _ in range(steps - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, 3, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    supports_mixing = False

    def forward(self, z: torch.Tensor, noise_seeds: list[int] | None = None, style: torch.Tensor | None = None) -> torch.Tensor:
        if style is not None:
            raise ValueError("DCGAN has no style inputs to mix")
        return self.main(z.view(z.shape[0], -1, 1, 1))  # no noise inputs: the image depends on z alone


class DCGANDiscriminator(nn.Module):
    def __init__(self, resolution: int, ndf: int = 64) -> None:
        super().__init__()
        self.resolution = resolution
        steps = resolution.bit_length() - 3
        layers: list[nn.Module] = [nn.Conv2d(3, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        ch = ndf
        for _ in range(steps - 1):
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch * 2), nn.LeakyReLU(0.2, True)]
            ch *= 2
        layers += [nn.Conv2d(ch, 1, 4, 1, 0, bias=False)]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, part: int | None = None):
        logits = self.main(x).flatten(1)
        return logits if part is None else (logits, None, None)


def build(arch: str, resolution: int, z_dim: int, ngf: int, ndf: int, discriminator: str = "own", projected_weight: float = 1.0, projected_view: int = 0) -> tuple[nn.Module, nn.Module]:
    """(generator, discriminator); `discriminator="projected"` judges on frozen pretrained features instead,
    "own+projected" with both (the projected judges' verdict weighted `projected_weight`)."""
    if arch == "fastgan":
        G, D = Generator(resolution, z_dim, ngf), Discriminator
    elif arch == "dcgan":
        G, D = DCGANGenerator(resolution, z_dim, ngf), DCGANDiscriminator
    else:
        raise ValueError(f"unknown architecture {arch!r}")
    if discriminator == "projected":
        from latentmint.gan.projected import ProjectedDiscriminator

        return G, ProjectedDiscriminator(resolution, ndf, projected_view or None)
    if discriminator == "own+projected" and arch == "fastgan":
        from latentmint.gan.projected import PairedDiscriminator

        return G, PairedDiscriminator(D(resolution, ndf), resolution, ndf, projected_weight, projected_view or None)
    if discriminator != "own":
        raise LatentmintError(f"unknown discriminator {discriminator!r}: own, projected or own+projected (FastGAN only)")
    return G, D(resolution, ndf)
