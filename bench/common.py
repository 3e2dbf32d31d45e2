"""What every benchmark shares: the machine's description, medians, and writing results."""

from __future__ import annotations

import os
import platform
import shutil
import statistics
from datetime import datetime, UTC
from pathlib import Path
from typing import Any

from latentmint import __version__
from latentmint.files import atomic_write_json

RESULTS = Path(__file__).resolve().parent / "results"
SHARED = Path(os.environ.get("LATENTMINT_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def machine() -> dict[str, Any]:
    import torch

    from latentmint.gan.runlog import cpu_name
    from latentmint.gan.train import bf16_native

    return {
        "cpu": cpu_name(),
        "cpu_cores": os.cpu_count(),
        "cpu_bf16_native": bf16_native(torch.device("cpu")),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "latentmint": __version__,
    }


def shared_dataset(name: str) -> Path:
    path = SHARED / "datasets" / name
    if not path.is_dir():
        raise SystemExit(f"{path}: not found (set LATENTMINT_SHARED to the folder holding datasets/)")
    return path


def utk_studio(folder: Path, resolution: int, count: int | None = None):
    """A studio in `folder` whose dataset "faces" holds the first `count` utk540 faces (all when None)."""
    from latentmint.data.ingest import IngestOptions, ingest
    from latentmint.studio import init_studio

    photos = folder / "photos"
    photos.mkdir()
    for src in sorted(shared_dataset("utk540").glob("*.jpg"))[:count]:
        shutil.copy(src, photos / src.name)
    studio = init_studio(folder / "studio")
    ingest(photos, studio, "faces", IngestOptions(resolution=resolution, aligned=True))
    return studio


def median(values: list[float]) -> float:
    return statistics.median(values)


def write_result(name: str, rows: list[dict[str, Any]], **extra: Any) -> Path:
    path = RESULTS / f"{name}.json"
    atomic_write_json(path, {"benchmark": name, "when": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(), **extra, "rows": rows})
    return path


def side_by_side(grids: list[tuple[str, Any]], path: Path) -> None:
    """Labelled PIL images (sample grids) in one row, saved to `path`."""
    from PIL import Image, ImageDraw

    w = max(im.width for _, im in grids)
    h = max(im.height for _, im in grids)
    sheet = Image.new("RGB", (w * len(grids) + 10 * (len(grids) - 1), h + 24), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for i, (label, im) in enumerate(grids):
        sheet.paste(im, (i * (w + 10), 24))
        draw.text((i * (w + 10) + 4, 6), label, fill=(0, 0, 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
