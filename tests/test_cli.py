"""The command line as users and scripts meet it: help, exit codes, --json documents."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from latentmint.cli import app
from latentmint.gan import config as config_module

from conftest import copy_faces

runner = CliRunner()
def _verbs(group, prefix=()) -> list[tuple[str, ...]]:
    out = []
    for name, cmd in sorted(group.commands.items()):
        out += _verbs(cmd, (*prefix, name)) if hasattr(cmd, "commands") else [(*prefix, name)]
    return out


VERBS = _verbs(get_command(app))


def latentmint(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "latentmint", *args], capture_output=True, text=True, cwd=cwd, timeout=300, env=env, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("verb", VERBS, ids=" ".join)
def test_every_verb_has_help_and_the_common_options(verb: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*verb, "--help"])
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
    photos = copy_faces(london, tmp_path / "photos", 3)
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not finished")
    assert latentmint("init", str(tmp_path / "s")).returncode == 0
    result = latentmint("ingest", str(photos), "--name", "mine", "--resolution", "64", "--json", cwd=tmp_path / "s")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["dataset"] == str(tmp_path / "s" / "datasets" / "mine")
    assert sorted(Path(k["file"]).name for k in doc["kept"]) == sorted(p.name for p in sorted(london.glob("*.jpg"))[:3])
    assert all(k["faces"] == 1 for k in doc["kept"])
    assert doc["rejected"] == [{"file": str(photos / "broken.jpg"), "reason": "unreadable", "detail": doc["rejected"][0]["detail"]}]


def tiny_studio(utk540: Path, tmp_path: Path, faces: int = 20) -> tuple[Path, Path]:
    """A studio with dataset `f`: `faces` aligned UTK faces at 64 px. Returns (studio, photos)."""
    photos = copy_faces(utk540, tmp_path / "faces", faces)
    studio = tmp_path / "s"
    assert latentmint("init", str(studio)).returncode == 0
    assert latentmint("ingest", str(photos), "--name", "f", "--aligned", "--resolution", "64", "--studio", str(studio)).returncode == 0
    return studio, photos


@pytest.mark.slow
def test_train_resume_and_eval_json(utk540: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    studio, photos = tiny_studio(utk540, tmp_path)
    tiny = ["--set", "ngf=8", "--set", "ndf=8", "--set", "eval_samples=16", "--batch", "4"]
    monkeypatch.setitem(config_module._BUDGET_STEPS, "faces-64-cpu", 2)  # the preset's cap, reached in a moment
    capped = runner.invoke(app, ["train", "f", "--name", "capped", "--time-budget", "1h", *tiny, "--studio", str(studio)])
    assert capped.exit_code == 0, capped.output
    said = " ".join(capped.output.split())  # as read, not as the console wrapped it
    assert "trained 2 steps" in said and "stopped by steps (the preset's cap under a time budget" in said  # not a silent early stop
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
    assert metrics["samples"] == 16 and metrics["swd"] > 0 and metrics["fid"] > 0 and metrics["kid"] is not None and metrics["resolution"] == 64  # the standard Inception, by default
    assert 0 <= metrics["precision"] <= 1 and 0 <= metrics["recall"] <= 1
    assert (studio / "runs" / "r" / "eval.png").is_file()


@pytest.mark.slow
def test_two_processes_under_torchrun(utk540: Path, tmp_path: Path) -> None:
    """Data-parallel training with no change for the user: torchrun starts two CPU processes (gloo), and a time
    budget stops them together (each starts its clock at its own moment; one stopping alone hung the other)."""
    studio, _ = tiny_studio(utk540, tmp_path, faces=16)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "latentmint",
           "train", "f", "--name", "ddp", "--steps", "100000", "--time-budget", "5s", "--batch", "4", "--set", "ngf=8", "--set", "ndf=8",
           "--set", "eval_samples=8", "--json", "--studio", str(studio)]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    doc = json.loads(result.stdout)  # one document: only rank 0 reports
    run = json.loads((studio / "runs" / "ddp" / "run.json").read_text())
    assert run["device"]["processes"] == 2 and run["status"] == "completed" and run["stopped_by"] == "time_budget"
    assert 0 < doc["steps"] < 100000 and run["step"] == doc["steps"]


@pytest.mark.slow
def test_generate_walk_and_originality_json(utk540: Path, tmp_path: Path) -> None:
    studio, photos = tiny_studio(utk540, tmp_path)
    trained = latentmint("train", "f", "--name", "r", "--steps", "1", "--batch", "4", "--set", "ngf=8", "--set", "ndf=8", "--set", "eval_samples=8", "--studio", str(studio))
    assert trained.returncode == 0, trained.stderr
    made = latentmint("generate", "r", "--seeds", "1-3", "--grid", "--json", "--studio", str(studio))
    assert made.returncode == 0, made.stderr
    works = json.loads(made.stdout)["works"]
    assert [w["seed"] for w in works] == [1, 2, 3]
    for w in works:
        assert set(w) >= {"id", "path", "seed", "near_copy", "lookalike", "identity_distance"} and Path(w["path"]).is_file()
        assert isinstance(w["near_copy"], bool) and isinstance(w["lookalike"], bool)
    walked = latentmint("walk", "r", "--seeds", "1,2", "--frames", "6", "--json", "--studio", str(studio))
    assert walked.returncode == 0, walked.stderr
    assert json.loads(walked.stdout)["work"]["frames"] == 6
    face = next((studio / "datasets" / "f" / "faces").glob("*.png"))
    scored = latentmint("originality", "r", "--image", str(face), "--json", "--studio", str(studio))
    assert scored.returncode == 0, scored.stderr
    verdict = json.loads(scored.stdout)
    assert verdict["near_copy"] is True and verdict["nearest"][0].endswith(face.name)
    assert latentmint("walk", "r", "--seeds", "1,2", "--format", "avi", "--studio", str(studio)).returncode == 2
    assert latentmint("select", works[0]["id"], "--json", "--studio", str(studio)).returncode == 0
    env = {**os.environ, "LATENTMINT_PASSWORD": "a long enough secret"}
    assert latentmint("identity", "create", "--name", "Ada", "--studio", str(studio), env=env).returncode == 0
    wrong = latentmint("certify", works[0]["id"], "--json", "--studio", str(studio), env={**env, "LATENTMINT_PASSWORD": "nope"})
    assert wrong.returncode == 1 and "wrong password" in wrong.stderr and json.loads(wrong.stdout)["error"]
    assert not list((studio / "works" / works[0]["id"]).glob("certified*"))
    certified = latentmint("certify", works[0]["id"], "--json", "--studio", str(studio), env=env)
    assert certified.returncode == 0, certified.stderr
    doc = json.loads(certified.stdout)
    assert doc["work"] == works[0]["id"] and Path(doc["file"]).is_file()
    inspected = latentmint("inspect", doc["file"], "--json", "--studio", str(studio))
    found = json.loads(inspected.stdout)
    assert found["credentials"] == "valid" and found["trusted"] and found["reason"] is None
    assert found["creator_address"].startswith("0x") and found["digital_source_type"].endswith("trainedAlgorithmicMedia")
    assert found["record"]["work"]["id"] == works[0]["id"] and found["signer"] == "Ada"
    plain = json.loads(latentmint("inspect", works[1]["path"], "--json").stdout)
    assert plain["credentials"] == "none" and plain["record"] is None


def test_identity_create_and_show_json(tmp_path: Path) -> None:
    studio = str(tmp_path / "s")
    assert latentmint("init", studio).returncode == 0
    no_password = {k: v for k, v in os.environ.items() if k != "LATENTMINT_PASSWORD"}
    refused = latentmint("identity", "create", "--name", "Ada", "--studio", studio, env=no_password)
    assert refused.returncode == 1 and "LATENTMINT_PASSWORD" in refused.stderr
    env = {**no_password, "LATENTMINT_PASSWORD": "a long enough secret"}
    made = latentmint("identity", "create", "--name", "Ada", "--json", "--studio", studio, env=env)
    assert made.returncode == 0, made.stderr
    doc = json.loads(made.stdout)
    assert doc["name"] == "Ada" and doc["address"].startswith("0x") and len(doc["certificate_sha256"]) == 64
    shown = latentmint("identity", "show", "--json", "--studio", studio)
    assert json.loads(shown.stdout) == doc
    assert "a long enough secret" not in made.stdout + made.stderr
    assert latentmint("identity", "create", "--name", "Ada", "--studio", studio, env=env).returncode == 1
