"""Shared fixtures: the real datasets beside the repository, and a fresh studio per test."""

from __future__ import annotations

import os
import shutil
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
