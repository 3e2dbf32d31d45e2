"""How often the lookalike flag fires on faces that are NOT training people: utk-ref2000 (2,000 unseen faces)
scored against utk540 (the training set), with dlib identity embeddings at 256 px, as `originality` does.

Target (issue 14): at most 5% of unseen real faces flagged at the shipped threshold (SAME_PERSON). The table
also gives the rate at dlib's conventional 0.6 and the threshold at which exactly 5% would be flagged.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from bench.common import shared_dataset, write_result
from latentmint.metrics.originality import SAME_PERSON, IdentityEmbedder

TARGET_RATE = 0.05


def _embed(embedder: IdentityEmbedder, folder, limit: int | None = None) -> np.ndarray:
    out = []
    for path in sorted(folder.glob("*.jpg"))[:limit]:
        with Image.open(path) as im:
            out.append(embedder.embed(im.convert("RGB")))
    return np.stack(out).astype(np.float32)


def run() -> list[dict]:
    embedder = IdentityEmbedder()
    train = _embed(embedder, shared_dataset("utk540"))
    unseen = _embed(embedder, shared_dataset("utk-ref2000"))
    nearest = np.sqrt(((unseen[:, None, :] - train[None, :, :]) ** 2).sum(-1)).min(1)
    at_5 = float(np.quantile(nearest, TARGET_RATE))
    rows = [
        {"case": "unseen faces flagged at dlib's 0.6", "rate": round(float((nearest < 0.6).mean()), 4), "target": None},
        {"case": f"unseen faces flagged at SAME_PERSON={SAME_PERSON}", "rate": round(float((nearest < SAME_PERSON).mean()), 4), "within_5_percent": bool((nearest < SAME_PERSON).mean() <= TARGET_RATE), "target": None},
        {"case": "threshold flagging exactly 5% of unseen faces", "threshold": round(at_5, 4), "median_nearest_distance": round(float(np.median(nearest)), 4), "target": None},
    ]
    write_result("lookalike", rows, train=len(train), unseen=len(unseen), note="nearest dlib identity distance of each unseen face to the 540 training faces, embedded at 256 px")
    return rows
