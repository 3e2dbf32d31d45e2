"""Perceptual fingerprints of works, so that a re-encoded, resized, cropped or watermarked copy still
finds the token it copies.

A fingerprint is the near-copy signature of metrics/originality.py taken at 32 px in YCbCr with a finer
high-pass (3 KB: colour too, so that works whose structure is mostly colour still have one), stored as
base64 in work.json and in the token's metadata, so that verification needs only the chain and storage. A query is compared at every size from 32 down to 28 px, so a crop of up
to ~12% still lines up; on the test corpus copies score >= 0.80 and unrelated faces <= 0.35.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageSequence

from latentmint.errors import LatentmintError

if TYPE_CHECKING:  # numpy and torch load only where a fingerprint is computed or searched: the chain index and an
    import numpy as np  # exact verification read the stored format alone
    import torch

SIDE, BLUR, SHIFT, MODE, CHANNELS = 32, 5, 3, "YCbCr", 3
SIZES = range(SIDE, SIDE - 5, -1)  # 32..28 px: the query's scale relative to the original, down to 0.875
COPY_NCC = 0.60
# The best of many unrelated fingerprints creeps up with their number (utk-ref2000 strangers against 1,900 real
# faces: up to 0.67; copies of the corpus: 0.84 and up), so a large collection asks more of a copy.
COPY_NCC_LARGE = 0.75
SHORTLIST = 64  # candidates compared at every scale
EXACT_UP_TO = 20_000  # works compared exactly with every query (126 ms at 10,000 here); a coarse shortlist above
ANN_SHORTLIST = 256  # candidates the coarse descriptors pass to the exact comparison
PREFIX = "fp2:"  # fingerprints of another version (or none) are recomputed or skipped, never misread


def still(data: bytes, name: str = "file") -> Image.Image:
    """The image, or the first frame of an animation (GIF, WebP, MP4), as RGB."""
    if name.lower().endswith((".mp4", ".m4v", ".mov")):
        import av

        try:
            with av.open(io.BytesIO(data)) as container:
                return next(container.decode(video=0)).to_image().convert("RGB")
        except (av.FFmpegError, StopIteration) as exc:
            raise LatentmintError(f"{name}: not a readable video ({exc})") from exc
    try:
        with Image.open(io.BytesIO(data)) as im:
            return next(ImageSequence.Iterator(im)).convert("RGB")
    except (OSError, SyntaxError) as exc:
        raise LatentmintError(f"{name}: not a readable image ({exc})") from exc


def fingerprint(image: Image.Image) -> str:
    import numpy as np

    from latentmint.metrics.originality import signature

    sig = signature(image, SIDE, BLUR, MODE)[0].numpy()
    q = np.round(sig / max(float(np.abs(sig).max()), 1e-9) * 127).astype(np.int8)
    return PREFIX + base64.b64encode(q.tobytes()).decode()


def is_current(fp: str | None) -> bool:
    return isinstance(fp, str) and fp.startswith(PREFIX)


def fingerprint_bytes(fp: object) -> bytes | None:
    """The stored int8 signature of a current fingerprint (CHANNELS x SIDE x SIDE bytes); None for anything else."""
    if not is_current(fp):
        return None
    try:
        raw = base64.b64decode(fp.removeprefix(PREFIX), validate=True)
    except ValueError:
        return None
    return raw if len(raw) == CHANNELS * SIDE * SIDE else None


def fingerprint_file(path: Path) -> str:
    return fingerprint(still(Path(path).read_bytes(), Path(path).name))


def _decode_int8(fp: str) -> np.ndarray:
    import numpy as np

    raw = fingerprint_bytes(fp)
    if raw is None:
        raise ValueError("not a current latentmint fingerprint")
    return np.frombuffer(raw, dtype=np.int8).reshape(CHANNELS, SIDE, SIDE)


@dataclass
class CopyIndex:
    """Fingerprints of minted works; `match` finds the one an image copies, if any.

    Up to EXACT_UP_TO works every fingerprint is compared with the query at every shift; above that a coarse
    descriptor of each (the central 24 px in 4 px blocks: 108 numbers that small shifts and re-encoding barely
    move) picks ANN_SHORTLIST candidates with one matrix product, and only those get the exact comparison.
    Fingerprints are kept as int8, as stored (3 KB a work: 3 GB for a million)."""

    keys: list[str]
    bank: np.ndarray  # (N, CHANNELS, SIDE, SIDE) int8
    coarse: torch.Tensor | None = None  # (N, 108) unit vectors, for the shortlist above EXACT_UP_TO
    dense: torch.Tensor | None = None  # the bank as float32, for the exact scan at or below it

    @classmethod
    def build(cls, fingerprints: dict[str, str]) -> CopyIndex:
        import numpy as np

        keys = sorted(k for k, fp in fingerprints.items() if fingerprint_bytes(fp) is not None)
        bank = np.stack([_decode_int8(fingerprints[k]) for k in keys]) if keys else np.zeros((0, CHANNELS, SIDE, SIDE), np.int8)
        return cls.from_array(keys, bank)

    @classmethod
    def from_array(cls, keys: list[str], bank: np.ndarray, ann: bool | None = None) -> CopyIndex:
        """`ann`: force the coarse shortlist on (True) or off (False); by default on above EXACT_UP_TO works."""
        import numpy as np
        import torch

        use_ann = len(keys) > EXACT_UP_TO if ann is None else ann
        if use_ann and len(keys):
            coarse = torch.cat([_coarse(torch.from_numpy(bank[i : i + 65_536].astype(np.float32)), SIDE) for i in range(0, len(keys), 65_536)])
            return cls(keys, bank, coarse)
        return cls(keys, bank, None, torch.from_numpy(bank.astype(np.float32)))  # small: kept as float for the exact scan

    def _candidates(self, image: Image.Image) -> np.ndarray:
        """Indices of the works worth an exact comparison."""
        import torch

        from latentmint.metrics.originality import best_ncc, signature

        if self.coarse is None:  # every work, ranked by the full-size comparison
            with torch.no_grad():
                full = best_ncc(signature(image, SIDE, BLUR, MODE), self.dense, SHIFT)
            return full.topk(min(SHORTLIST, len(self.keys))).indices.numpy()
        queries = torch.cat([_coarse(signature(image, n, BLUR, MODE), n) for n in SIZES])  # the query at each scale
        scores = (self.coarse @ queries.T).amax(1)
        return scores.topk(min(ANN_SHORTLIST, len(self.keys))).indices.numpy()

    def match(self, image: Image.Image) -> tuple[str | None, float]:
        """(key of the best match, its score); key None when nothing reaches the threshold."""
        import numpy as np
        import torch

        from latentmint.metrics.originality import best_ncc, signature

        if not self.keys:
            return None, 0.0
        shortlist = np.sort(self._candidates(image))
        bank = torch.from_numpy(self.bank[shortlist].astype(np.float32))
        with torch.no_grad():  # every scale for the candidates: a crop still finds its original
            scores = torch.stack([best_ncc(signature(image, n, BLUR, MODE), bank, SHIFT) for n in SIZES]).amax(0)
        best = int(scores.argmax())
        score = float(scores[best])
        return (self.keys[int(shortlist[best])] if score >= self.threshold else None), score

    @property
    def threshold(self) -> float:
        return COPY_NCC if len(self.keys) <= EXACT_UP_TO else COPY_NCC_LARGE

    @property
    def nbytes(self) -> int:
        return self.bank.nbytes + sum(t.numel() * 4 for t in (self.coarse, self.dense) if t is not None)


def _coarse(sig: torch.Tensor, side: int) -> torch.Tensor:
    """(B, C, side, side) signatures -> (B, C * 36) unit vectors: the central 24 px, mean of each 4 px block."""
    import torch.nn.functional as F

    lo = (side - 24) // 2
    blocks = F.avg_pool2d(sig[:, :, lo : lo + 24, lo : lo + 24], 4).flatten(1)
    blocks = blocks - blocks.mean(dim=1, keepdim=True)
    return blocks / blocks.norm(dim=1, keepdim=True).clamp_min(1e-6)
