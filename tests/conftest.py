"""Shared fixtures: the real datasets beside the repository, and a fresh studio per test."""

from __future__ import annotations

import io
import os
import shutil
import socket
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from latentmint.studio import Studio, init_studio

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LATENTMINT_SHARED", REPO.parent / "shared"))
DATASETS = SHARED / "datasets"


def dataset_or_skip(name: str) -> Path:
    path = DATASETS / name
    if not path.is_dir():
        pytest.skip(f"{path} not present (set LATENTMINT_SHARED to the folder holding datasets/)")
    return path


def copy_faces(source: Path, dest: Path, count: int) -> Path:
    """A photos folder holding the first `count` JPEGs of `source` (datasets are read-only; tests add to copies)."""
    dest.mkdir(parents=True)
    for src in sorted(source.glob("*.jpg"))[:count]:
        shutil.copy(src, dest / src.name)
    return dest


@pytest.fixture
def london() -> Path:
    return dataset_or_skip("london")


@pytest.fixture
def utk540() -> Path:
    return dataset_or_skip("utk540")


@pytest.fixture
def studio(tmp_path: Path) -> Studio:
    return init_studio(tmp_path / "studio")


def certified_studio(root: Path, password: str, works: int = 4, paid_photographers: list[str] = ()) -> Studio:
    """A studio with a tiny trained run, an identity, and `works` certified images (the input of minting).
    `paid_photographers`: the Ethereum address credited for each of the first photos, in order (credits.csv)."""
    from latentmint.art.generate import generate
    from latentmint.data.ingest import IngestOptions, ingest
    from latentmint.gan.config import make_config
    from latentmint.gan.train import train
    from latentmint.provenance.certify import certify_work
    from latentmint.provenance.identity import create_identity, unlock

    studio = init_studio(root / "studio")
    faces = copy_faces(dataset_or_skip("utk540"), root / "faces", 8)
    credits = None
    if paid_photographers:
        names = sorted(p.name for p in faces.glob("*.jpg"))
        rows = [f"{n},Photographer {address[:8]},CC-BY-4.0,{address}" for n, address in zip(names, paid_photographers)]
        credits = faces / "credits.csv"
        credits.write_text("file,author,license,wallet\n" + "\n".join(rows) + "\n")
    ingest(faces, studio, "faces", IngestOptions(resolution=64, aligned=True, workers=1, credits=credits))
    # A 40-step model: pinned to float32 and lr 2e-4, whose works after 40 steps have enough structure for
    # the copy tests (a watermarked JPEG must still be found); the preset's faster settings suit long runs.
    tiny = {"ngf": 8, "ndf": 8, "batch": 4, "steps": 40, "lr_g": 2e-4, "lr_d": 2e-4, "amp": False, "sample_every": 100, "ckpt_every": 100, "sample_seeds": 4}
    train(studio, "faces", "run", make_config("faces-64-cpu", tiny))
    create_identity(studio, "Ada Artist", password)
    keys = unlock(studio, password)
    for w in generate(studio, "run", list(range(1, works + 1)), None, "cpu"):
        certify_work(studio, w, keys, allow_near_copy=True)
    return studio


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def repaint_png(png: bytes, paint: Callable) -> bytes:
    """Change a signed PNG's pixels in place: `paint(image)` edits an RGB copy, which becomes the new
    pixel data; every other chunk (the C2PA manifest included) is kept as it was."""
    from PIL import Image

    chunks, pos = [], 8
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        chunks.append((png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    image = Image.open(io.BytesIO(png)).convert("RGB")
    paint(image)
    width, height = image.size
    rows = image.tobytes()
    raw = b"".join(b"\x00" + rows[y * width * 3 : (y + 1) * width * 3] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, as the repainted data is
    out, done = [png[:8]], False
    for kind, body in chunks:
        if kind == b"IHDR":
            body = header
        elif kind == b"IDAT":
            if done:
                continue
            body, done = zlib.compress(raw), True
        out.append(struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body)))
    return b"".join(out)
