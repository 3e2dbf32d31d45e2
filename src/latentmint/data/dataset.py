"""A packed face dataset: `datasets/NAME/` with aligned PNG faces and `dataset.json` describing each.

Each face record (a dict, as stored in dataset.json):
    image          faces/<file>.png, relative to the dataset folder
    sha256         of that PNG
    source         the source photo's path as ingested; source_sha256 its hash
    face_index     which face of the photo (0 = largest)
    quad           the FFHQ crop quad in source pixels (top-left, bottom-left, bottom-right, top-right)
    detector_score dlib's confidence (null for --aligned input)
    phash          perceptual hash of the aligned face; source_phash of the whole photo
    sharpness      variance of the Laplacian (see latentmint.images.sharpness)
    credit         author / license / source_url from --credits or EXIF
    embedding      dlib's 128-d identity embedding (null for --aligned input)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, UTC
from pathlib import Path
from typing import Any

from latentmint import __version__
from latentmint.errors import LatentmintError
from latentmint.files import atomic_write_json, sha256_bytes

DATASET_FORMAT = "latentmint.dataset/1"
DATASET_FILE = "dataset.json"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Dataset:
    root: Path
    name: str
    resolution: int
    aligned_input: bool = False
    faces: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def json_path(self) -> Path:
        return self.root / DATASET_FILE

    def content_hash(self) -> str:
        """sha256 over the faces' image hashes in order: what a training run records as its data."""
        return sha256_bytes("\n".join(face["sha256"] for face in self.faces).encode())

    def image_paths(self) -> list[Path]:
        return [self.root / face["image"] for face in self.faces]

    def source_hashes(self) -> set[str]:
        return {face["source_sha256"] for face in self.faces}

    def save(self) -> None:
        self.meta.setdefault("created", now_iso())
        doc = {
            "format": DATASET_FORMAT,
            "name": self.name,
            "resolution": self.resolution,
            "aligned_input": self.aligned_input,
            "count": len(self.faces),
            "hash": self.content_hash(),
            **self.meta,
            "updated": now_iso(),
            "software": f"latentmint {__version__}",
            "faces": self.faces,
        }
        atomic_write_json(self.json_path, doc)

    @classmethod
    def load(cls, root: Path) -> Dataset:
        path = Path(root) / DATASET_FILE
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise LatentmintError(f"{path}: no such dataset; create it with `latentmint ingest`") from exc
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise LatentmintError(f"{path}: unreadable dataset ({exc})") from exc
        if not isinstance(doc, dict) or doc.get("format") != DATASET_FORMAT:
            raise LatentmintError(f"{path}: not a latentmint dataset (format {doc.get('format') if isinstance(doc, dict) else None!r})")
        fixed = {"format", "name", "resolution", "aligned_input", "count", "hash", "updated", "software", "faces"}
        try:
            if not all(isinstance(f, dict) for f in doc["faces"]):
                raise TypeError("a face entry is not an object")
            return cls(
                root=Path(root),
                name=str(doc["name"]),
                resolution=int(doc["resolution"]),
                aligned_input=bool(doc.get("aligned_input", False)),
                faces=list(doc["faces"]),
                meta={k: v for k, v in doc.items() if k not in fixed},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise LatentmintError(f"{path}: damaged dataset record ({type(exc).__name__}: {exc}); restore it from a backup or ingest again") from exc


def dataset_dir(studio_datasets: Path, name: str) -> Path:
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise LatentmintError(f"{name!r}: a dataset name must be a plain folder name")
    return studio_datasets / name
