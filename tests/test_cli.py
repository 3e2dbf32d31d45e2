"""The command line as users and scripts meet it: help, exit codes, --json documents."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from latentmint.cli import app

runner = CliRunner()
VERBS = sorted(get_command(app).commands)  # type: ignore[attr-defined]


def latentmint(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "latentmint", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.mark.parametrize("verb", VERBS)
def test_every_verb_has_help_and_the_common_options(verb: str) -> None:
    result = runner.invoke(app, [verb, "--help"])
    assert result.exit_code == 0
    assert "--studio" in result.output and "--json" in result.output


def test_init_json(tmp_path: Path) -> None:
    result = latentmint("init", str(tmp_path / "s"), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"studio": str(tmp_path / "s"), "settings": str(tmp_path / "s" / "latentmint.toml")}


def test_bad_usage_exits_2(tmp_path: Path) -> None:
    assert latentmint("ingest", str(tmp_path), "--resolution", "100", "--studio", str(tmp_path)).returncode == 2
    assert latentmint("ingest", str(tmp_path / "missing"), "--studio", str(tmp_path)).returncode == 2
    assert latentmint("no-such-verb").returncode == 2


def test_a_failed_job_exits_1_with_one_line(tmp_path: Path) -> None:
    result = latentmint("ingest", str(tmp_path), "--json", "--studio", str(tmp_path / "not-a-studio"))
    assert result.returncode == 1
    assert "not a studio" in json.loads(result.stdout)["error"]
    assert len(result.stderr.strip().splitlines()) == 1 and "not a studio" in result.stderr


@pytest.mark.slow
def test_ingest_json_is_one_document(london: Path, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for src in sorted(london.glob("*.jpg"))[:3]:
        shutil.copy(src, photos / src.name)
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not finished")
    assert latentmint("init", str(tmp_path / "s")).returncode == 0
    result = latentmint("ingest", str(photos), "--name", "mine", "--resolution", "64", "--json", cwd=tmp_path / "s")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["dataset"] == str(tmp_path / "s" / "datasets" / "mine")
    assert sorted(Path(k["file"]).name for k in doc["kept"]) == sorted(p.name for p in sorted(london.glob("*.jpg"))[:3])
    assert all(k["faces"] == 1 for k in doc["kept"])
    assert doc["rejected"] == [{"file": str(photos / "broken.jpg"), "reason": "unreadable", "detail": doc["rejected"][0]["detail"]}]


@pytest.mark.slow
def test_train_resume_and_eval_json(utk540: Path, tmp_path: Path) -> None:
    photos = tmp_path / "faces"
    photos.mkdir()
    for src in sorted(utk540.glob("*.jpg"))[:20]:
        shutil.copy(src, photos / src.name)
    studio = tmp_path / "s"
    assert latentmint("init", str(studio)).returncode == 0
    assert latentmint("ingest", str(photos), "--name", "f", "--aligned", "--resolution", "64", "--studio", str(studio)).returncode == 0
    tiny = ["--set", "ngf=8", "--set", "ndf=8", "--set", "eval_samples=16", "--batch", "4"]
    result = latentmint("train", "f", "--name", "r", "--steps", "2", *tiny, "--json", "--studio", str(studio))
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["steps"] == 2 and doc["device"] == "cpu" and doc["seconds_per_step"] > 0
    assert doc["checkpoint"] == str(studio / "runs" / "r" / "checkpoints" / "latest.pt")
    again = latentmint("train", "--resume", "--name", "r", "--steps", "3", "--json", "--studio", str(studio))
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["steps"] == 3
    assert latentmint("train", "f", "--name", "r", "--steps", "2", "--studio", str(studio)).returncode == 1  # exists: needs --resume
    assert latentmint("train", "f", "--set", "nonsense=1", "--studio", str(studio)).returncode == 1
    scored = latentmint("eval", "r", "--ref", str(photos), "--samples", "16", "--json", "--studio", str(studio))
    assert scored.returncode == 0, scored.stderr
    metrics = json.loads(scored.stdout)
    assert metrics["samples"] == 16 and metrics["swd"] > 0 and metrics["fid"] is None and metrics["kid"] is None
    assert (studio / "runs" / "r" / "eval.png").is_file()
