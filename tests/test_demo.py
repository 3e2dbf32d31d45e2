"""The main job, small: photos to a sold, verified token in one command, and a rerun that resumes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import copy_faces

pytestmark = pytest.mark.slow


def test_demo_runs_end_to_end_and_reruns(london: Path, tmp_path: Path) -> None:
    photos = copy_faces(london, tmp_path / "photos", 12)
    env = {k: v for k, v in os.environ.items() if k != "LATENTMINT_PASSWORD"}  # the demo's own throwaway password

    def demo() -> dict:
        done = subprocess.run([sys.executable, "-m", "latentmint", "demo", "--photos", str(photos), "--studio", str(tmp_path / "studio"), "--train-time", "2m", "--json"],
                              capture_output=True, text=True, env=env, timeout=900, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout)

    first = demo()
    assert len(first["works"]) == 16 and len(first["certified"]) == 13 and len(first["tokens"]) == 13
    assert first["sale"]["price_wei"] == 5 * 10**16 and first["sale"]["royalty_wei"] > 0
    assert [v["verdict"] for v in first["verified"]] == ["AUTHENTIC", "COPY"], [v["reason"] for v in first["verified"]]
    assert first["verified"][0]["owner"] == first["sale"]["buyer"]
    assert first["train"]["resolution"] == 256 and [s["name"] for s in first["train"]["stages"]] == ["generator", "upscaler"]
    from PIL import Image

    with Image.open(first["certified"][0]["file"]) as work:  # the demo's works are 256 px, made by the cascade
        assert work.size == (256, 256)
    again = demo()  # finds everything done: same tokens, no new sale, same verdicts
    assert again["tokens"] == first["tokens"] and again["sale"] is None
    assert [v["verdict"] for v in again["verified"]] == ["AUTHENTIC", "COPY"]
