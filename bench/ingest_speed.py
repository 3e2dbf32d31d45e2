"""Ingest speed on ../shared/datasets/london (1024x1024 photos): photos per second, detection and alignment included.

Target (issue 2): at least 10 photos/s on the 2-core development machine. Each repeat ingests into a
fresh studio; the median is reported, beside the single-worker figure for comparison.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.common import median, shared_dataset, write_result
from latentmint.data.ingest import IngestOptions, ingest
from latentmint.studio import init_studio

TARGET = 10.0


def run(repeats: int = 3) -> list[dict]:
    photos = shared_dataset("london")
    rows = []
    for workers in (1, 0):
        rates = []
        for _ in range(repeats):
            with tempfile.TemporaryDirectory() as tmp:
                studio = init_studio(Path(tmp) / "studio")
                start = time.perf_counter()
                report = ingest(photos, studio, "london", IngestOptions(resolution=256, workers=workers))
                rates.append(len(report.kept) / (time.perf_counter() - start))
        rows.append({"case": f"ingest london @256, {'all cores' if workers == 0 else '1 worker'}", "photos_per_s": round(median(rates), 2), "runs": [round(r, 2) for r in rates], "target": TARGET if workers == 0 else None})
    write_result("ingest_speed", rows)
    return rows
