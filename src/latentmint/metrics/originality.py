"""Is a work original? Two questions, asked against the faces the model was trained on.

near_copy  Does it reproduce a training image (memorisation)? Compared as grayscale, high-passed and
           normalised (so re-encoding, brightness and colour changes do not matter), at every shift of
           up to 1/16 of the width; the best normalised cross-correlation over the training set must stay
           under a threshold.
lookalike  Does it show the same person as a training face? dlib's 128-d face embeddings at 256 px, with
           a distance under SAME_PERSON. dlib's usual 0.6 flags 65% of unseen real faces against 540
           training faces (bench/lookalike.py); 0.42 flags under 5%. Reported, never blocking.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from latentmint.data.dataset import Dataset
from latentmint.files import atomic_write_bytes
from latentmint.images import png_bytes

SIDE = 64  # comparison size
SHIFT = 4  # pixels at SIDE: +-1/16 of the width
NEAR_COPY_NCC = 0.80
SAME_PERSON = 0.42  # calibrated: at most 5% of unseen real faces flagged (utk-ref2000 against utk540)
IDENTITY_SIZE = 256  # faces are upscaled to this before dlib looks at them


def signature(image: Image.Image, side: int = SIDE, blur: int = 7, mode: str = "L") -> torch.Tensor:
    """(1, C, side, side): high-passed (detail, not the face's overall layout every aligned face shares),
    zero-mean per channel, unit-norm overall. Grayscale ("L") ignores colour changes; "YCbCr" also sees
    structure that lives only in colour."""
    pixels = np.asarray(image.convert(mode).resize((side, side), Image.BOX), dtype=np.float32)
    planes = torch.from_numpy(pixels.reshape(side, side, -1)).permute(2, 0, 1)[None]
    pad = blur // 2
    blurred = F.avg_pool2d(F.pad(planes, (pad, pad, pad, pad), mode="replicate"), blur, stride=1)
    detail = planes - blurred
    detail = detail - detail.mean(dim=(2, 3), keepdim=True)
    return detail / detail.norm().clamp_min(1e-6)


def best_ncc(query: torch.Tensor, bank: torch.Tensor, shift: int = SHIFT) -> torch.Tensor:
    """For each bank signature, the highest normalised cross-correlation with `query` over all shifts
    (the query may be larger than the bank's signatures: then more shifts are tried)."""
    inner = bank[:, :, shift:-shift, shift:-shift]  # (N, 1, S-2k, S-2k): the bank's centre slides over the query
    inner = inner - inner.mean(dim=(2, 3), keepdim=True)
    inner = inner / inner.flatten(1).norm(dim=1).clamp_min(1e-6).view(-1, 1, 1, 1)
    corr = F.conv2d(query, inner)  # (1, N, 2k+1, 2k+1)
    window = inner.shape[-1]
    q_sum = F.avg_pool2d(query, window, stride=1) * window * window
    q_sq = F.avg_pool2d(query * query, window, stride=1) * window * window
    q_norm = (q_sq - q_sum * q_sum / (window * window)).sum(dim=1, keepdim=True).clamp_min(1e-12).sqrt()  # over channels
    return (corr / q_norm).flatten(2).amax(dim=2)[0]


class IdentityEmbedder:
    """dlib embeddings of aligned faces: detect on a 256 px upscale, else assume FFHQ framing."""

    def __init__(self) -> None:
        from latentmint.data.faces import FaceAnalyzer

        self.analyzer = FaceAnalyzer(detect_size=IDENTITY_SIZE)

    def embed(self, image: Image.Image) -> np.ndarray | None:
        from latentmint.data.faces import Face

        big = np.asarray(image.convert("RGB").resize((IDENTITY_SIZE, IDENTITY_SIZE), Image.LANCZOS))
        faces = self.analyzer.detect(big)
        if faces:
            face = faces[0]
        else:  # generated faces may be too small or odd for the detector; FFHQ framing puts the face here
            s = IDENTITY_SIZE
            box = (round(0.22 * s), round(0.28 * s), round(0.78 * s), round(0.84 * s))
            face = Face(box, 0.0, self.analyzer.landmarks(big, box))
        return self.analyzer.embed(big, face)


@dataclass
class Verdict:
    near_copy: bool
    ncc: float
    nearest: list[str]  # training face images, closest by pixels first
    lookalike: bool
    identity_distance: float | None
    nearest_identity: list[str]

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Verdict:
        return cls(doc["near_copy"], doc["ncc"], doc["nearest"], doc["lookalike"], doc["identity_distance"], doc["nearest_identity"])

    def to_json(self) -> dict[str, Any]:
        return {
            "near_copy": self.near_copy, "ncc": round(self.ncc, 4), "nearest": self.nearest,
            "lookalike": self.lookalike, "identity_distance": None if self.identity_distance is None else round(self.identity_distance, 4),
            "nearest_identity": self.nearest_identity, "near_copy_threshold": NEAR_COPY_NCC, "same_person_threshold": SAME_PERSON,
        }  # fmt: skip


def _load_cache(path: Path, key: str) -> tuple[torch.Tensor, np.ndarray] | None:
    """The cached signatures and identities, when they were computed for exactly these faces."""
    if not path.is_file():
        return None
    try:
        with np.load(path) as saved:
            if str(saved["hash"]) != key:
                return None
            return torch.from_numpy(saved["signatures"]), saved["identities"].astype(np.float32)
    except (OSError, ValueError, KeyError):
        return None  # a damaged cache is rebuilt


class OriginalityIndex:
    """Signatures and identity embeddings of a dataset's faces, cached in the dataset folder."""

    def __init__(self, dataset: Dataset, progress=None) -> None:
        self.dataset = dataset
        self.paths = dataset.image_paths()
        self.names = [str(p.relative_to(dataset.root.parents[1])) for p in self.paths]  # datasets/NAME/faces/...
        cache = dataset.root / "originality.npz"
        key = dataset.content_hash()
        self._embedder: IdentityEmbedder | None = None  # dlib's models load once, on first need
        loaded = _load_cache(cache, key)
        if loaded is None:
            loaded = self._build(progress)
            buf = io.BytesIO()
            np.savez(buf, hash=np.array(key), signatures=loaded[0].numpy(), identities=loaded[1])
            atomic_write_bytes(cache, buf.getvalue())
        self.signatures, self.identities = loaded

    @property
    def embedder(self) -> IdentityEmbedder:
        if self._embedder is None:
            self._embedder = IdentityEmbedder()
        return self._embedder

    def _build(self, progress) -> tuple[torch.Tensor, np.ndarray]:
        signatures, identities = [], []
        for i, path in enumerate(self.paths):
            with Image.open(path) as im:
                im = im.convert("RGB")
                signatures.append(signature(im))
                identities.append(self.embedder.embed(im))
            if progress:
                progress(i + 1, len(self.paths))
        return torch.cat(signatures), np.stack(identities).astype(np.float32)

    def score(self, image: Image.Image, k: int = 3) -> Verdict:
        image = image.convert("RGB")
        ncc = best_ncc(signature(image), self.signatures)
        order = torch.argsort(ncc, descending=True)[:k].tolist()
        emb = self.embedder.embed(image)
        dist = np.linalg.norm(self.identities - emb, axis=1)
        near_id = np.argsort(dist)[:k].tolist()
        best = float(ncc[order[0]])
        return Verdict(best >= NEAR_COPY_NCC, best, [self.names[i] for i in order], float(dist[near_id[0]]) < SAME_PERSON, float(dist[near_id[0]]), [self.names[i] for i in near_id])


def originality_sheet(rows: list[tuple[Path, Verdict]], studio_root: Path, out: Path, cell: int = 96) -> Path:
    """A PNG: each work, then its nearest training faces by pixels and by identity, with the verdicts."""
    from PIL import ImageDraw

    cols = 1 + 2 * 3
    label_h = 14
    sheet = Image.new("RGB", (cols * (cell + 4) + 4, max(len(rows), 1) * (cell + label_h + 6) + 22), (250, 250, 250))
    draw = ImageDraw.Draw(sheet)
    draw.text((4, 4), "work  |  nearest training faces by pixels (x3)  |  by identity (x3)", fill=(0, 0, 0))
    for r, (work_file, verdict) in enumerate(rows):
        y = 22 + r * (cell + label_h + 6)
        tiles = [work_file] + [studio_root / n for n in verdict.nearest] + [studio_root / n for n in verdict.nearest_identity]
        for c, path in enumerate(tiles):
            with Image.open(path) as im:
                sheet.paste(im.convert("RGB").resize((cell, cell), Image.LANCZOS), (4 + c * (cell + 4), y))
        flag = "NEAR COPY" if verdict.near_copy else "original"
        who = "lookalike" if verdict.lookalike else "new person"
        dist = "-" if verdict.identity_distance is None else f"{verdict.identity_distance:.2f}"
        colour = (200, 0, 0) if verdict.near_copy else (0, 120, 0)
        draw.text((4, y + cell + 1), f"{flag} (ncc {verdict.ncc:.2f})  {who} (id dist {dist})", fill=colour)
    atomic_write_bytes(out, png_bytes(sheet))
    return out
