"""What every benchmark shares: the machine's description, medians, and writing results."""

from __future__ import annotations

import os
import platform
import statistics
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from latentmint import __version__
from latentmint.files import atomic_write_json

RESULTS = Path(__file__).resolve().parent / "results"
SHARED = Path(os.environ.get("LATENTMINT_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def machine() -> dict[str, Any]:
    import torch

    return {
        "cpu_cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "latentmint": __version__,
    }


def median(values: list[float]) -> float:
    return statistics.median(values)


def write_result(name: str, rows: list[dict[str, Any]], **extra: Any) -> Path:
    path = RESULTS / f"{name}.json"
    atomic_write_json(path, {"benchmark": name, "when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(), **extra, "rows": rows})
    return path
