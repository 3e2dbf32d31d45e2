"""The copy index's coarse shortlist (used above EXACT_UP_TO works) finds the same originals as the exact scan:
real faces as works, their copies as collectors meet them, other real faces as distractors and as strangers."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from latentmint.art.fingerprint import CHANNELS, SIDE, CopyIndex, _decode_int8, fingerprint

from conftest import dataset_or_skip

pytestmark = pytest.mark.slow


def _copies(im: Image.Image) -> list[Image.Image]:
    w, h = im.size
    d = round(w * 0.05)
    marked = im.copy()
    ImageDraw.Draw(marked).text((2, h - 12), "(c) stolen", fill=(255, 255, 255))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=70)
    return [Image.open(io.BytesIO(buf.getvalue())).convert("RGB"), im.resize((w // 2, h // 2), Image.LANCZOS), im.crop((d, d, w, h)), marked]


def test_the_coarse_shortlist_finds_what_the_exact_scan_finds() -> None:
    works = [Image.open(p).convert("RGB") for p in sorted(dataset_or_skip("utk540").glob("*.jpg"))[:20]]
    others = sorted(dataset_or_skip("utk-ref2000").glob("*.jpg"))
    strangers = [Image.open(p).convert("RGB") for p in others[:20]]
    distractors = [_decode_int8(fingerprint(Image.open(p).convert("RGB"))) for p in others[20:1020]]
    # and simulated works (mixtures of real fingerprints plus noise) up to 30,000, above EXACT_UP_TO
    rng = np.random.default_rng(0)
    real = np.stack(distractors).astype(np.float32)
    mix = 0.7 * real[rng.integers(0, len(real), 29_000)] + 0.3 * real[rng.integers(0, len(real), 29_000)] + rng.normal(0, 12, (29_000, CHANNELS, SIDE, SIDE))
    simulated = np.clip(np.round(mix / np.abs(mix).reshape(len(mix), -1).max(1)[:, None, None, None] * 127), -127, 127).astype(np.int8)
    bank = np.concatenate([np.stack([_decode_int8(fingerprint(w)) for w in works]), np.stack(distractors), simulated])
    keys = [f"work:{i}" for i in range(len(works))] + [f"other:{i}" for i in range(len(bank) - len(works))]
    exact, coarse = CopyIndex.from_array(keys, bank, ann=False), CopyIndex.from_array(keys, bank)
    assert coarse.coarse is not None and exact.coarse is None  # 30,000 works: the shortlist is on by default
    for i, work in enumerate(works):
        for copy in [work, *_copies(work)]:
            found, score = coarse.match(copy)
            assert found == exact.match(copy)[0] == f"work:{i}", (i, score)
    verdicts = [(coarse.match(s)[0], exact.match(s)[0]) for s in strangers]
    assert all(c == e for c, e in verdicts)
    assert sum(c is None for c, _ in verdicts) >= 19  # utk-ref2000 holds one near-duplicate photo among these
