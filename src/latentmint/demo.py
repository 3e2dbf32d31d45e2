"""The main job end to end on a demo studio: every stage that exists so far, rerunnable.

Today: ingest. Later stages (train, generate, certify, mint, verify, market) extend `run_demo`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from latentmint.data.ingest import IngestOptions, IngestReport, ingest
from latentmint.errors import LatentmintError
from latentmint.studio import Studio, init_studio

# The repository sits beside shared/ on the developers' and CI machines.
DEFAULT_PHOTOS = Path("../shared/datasets/london")


@dataclass
class DemoResult:
    studio: Studio
    ingest: IngestReport


def default_photos() -> Path:
    if DEFAULT_PHOTOS.is_dir():
        return DEFAULT_PHOTOS
    raise LatentmintError(
        f"{DEFAULT_PHOTOS}: demo photos not found; pass a folder of face photos with --photos DIR (make demo PHOTOS=DIR)"
    )


def run_demo(photos: Path | None, studio_dir: Path, progress=None) -> DemoResult:
    photos = Path(photos) if photos else default_photos()
    if not photos.is_dir():
        raise LatentmintError(f"{photos}: photos folder not found")
    studio = init_studio(studio_dir)
    credits = photos / "credits.csv"
    options = IngestOptions(resolution=256, credits=credits if credits.is_file() else None)
    report = ingest(photos, studio, "photos", options, progress)
    return DemoResult(studio, report)
