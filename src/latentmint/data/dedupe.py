"""Perceptual hashes for finding the same photo again after re-encoding, resizing or small crops."""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy.fft import dctn

HASH_BITS = 256  # 16x16 low frequencies: finer than the usual 64 bits, so that similar but different faces stay apart


def phash(image: Image.Image, bits: int = HASH_BITS) -> str:
    """DCT perceptual hash (pHash) as hex: the signs of the lowest frequencies against their median."""
    side = int(round(bits**0.5))
    gray = np.asarray(image.convert("L").resize((side * 4, side * 4), Image.BOX), dtype=np.float64)
    low = dctn(gray, norm="ortho")[:side, :side].flatten()
    on = low > np.median(low[1:])
    return np.packbits(on).tobytes().hex()


def hamming(a: str, b: str) -> int:
    return int(np.unpackbits(np.frombuffer(bytes.fromhex(a), np.uint8) ^ np.frombuffer(bytes.fromhex(b), np.uint8)).sum())


class NearDuplicateIndex:
    """Hashes seen so far; a match is within `max_fraction` of the hash length in differing bits."""

    def __init__(self, max_fraction: float) -> None:
        self.max_fraction = max_fraction
        self._bits: list[np.ndarray] = []
        self._keys: list[str] = []
        self._matrix: np.ndarray | None = None

    def add(self, digest: str, key: str) -> None:
        self._bits.append(np.unpackbits(np.frombuffer(bytes.fromhex(digest), np.uint8)))
        self._keys.append(key)
        self._matrix = None

    def candidates(self, digest: str) -> list[tuple[str, int]]:
        """(key, distance) of every hash within the threshold, closest first."""
        if not self._bits:
            return []
        if self._matrix is None:
            self._matrix = np.stack(self._bits)
        query = np.unpackbits(np.frombuffer(bytes.fromhex(digest), np.uint8))
        dist = (self._matrix != query).sum(axis=1)
        near = np.flatnonzero(dist <= self.max_fraction * query.size)
        return [(self._keys[i], int(dist[i])) for i in near[np.argsort(dist[near], kind="stable")]]

    def match(self, digest: str) -> tuple[str, int] | None:
        """(key, distance) of the closest hash within the threshold, or None."""
        found = self.candidates(digest)
        return found[0] if found else None
