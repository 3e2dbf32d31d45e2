"""Work records: `works/ID/` holds the artwork file and `work.json`, the record every later stage adds to.

A work's ID is derived from what made it (model, kind, parameters), so asking for the same image twice
finds the same work instead of making a copy. Later stages append (human actions, certificates,
tokens); none rewrites what an earlier one wrote.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from latentmint import __version__
from latentmint.data.dataset import now_iso
from latentmint.errors import LatentmintError
from latentmint.files import atomic_write_bytes, atomic_write_json, sha256_bytes
from latentmint.studio import Studio

WORK_FORMAT = "latentmint.work/1"


@dataclass
class Work:
    root: Path
    record: dict[str, Any]

    @property
    def id(self) -> str:
        return self.record["id"]

    @property
    def file(self) -> Path:
        return self.root / self.record["file"]

    def save(self) -> None:
        atomic_write_json(self.root / "work.json", self.record)

    def add_human_action(self, action: dict[str, Any]) -> None:
        self.record.setdefault("human_actions", []).append({**action, "time": now_iso()})
        self.save()


def work_id(parts: dict[str, Any]) -> str:
    return sha256_bytes(json.dumps(parts, sort_keys=True).encode())[:12]


def create_work(studio: Studio, *, kind: str, filename: str, data: bytes, model: dict[str, Any], generation: dict[str, Any], human_actions: list[dict[str, Any]]) -> tuple[Work, bool]:
    """Write a work (file first, record last, both atomic). Returns (work, created); an existing work with
    the same ID is returned untouched."""
    wid = work_id({"kind": kind, "model": model["model_sha256"], "generation": generation})
    root = studio.works / wid
    if (root / "work.json").is_file():
        return load_work(studio, wid), False
    atomic_write_bytes(root / filename, data)
    now = now_iso()
    record = {
        "format": WORK_FORMAT,
        "id": wid,
        "kind": kind,
        "file": filename,
        "sha256": sha256_bytes(data),
        "created": now,
        "software": f"latentmint {__version__}",
        "model": model,
        "generation": generation,
        "human_actions": [{**a, "time": now} for a in human_actions],
    }
    work = Work(root, record)
    work.save()
    return work, True


def load_work(studio: Studio, wid: str) -> Work:
    root = studio.works / wid
    path = root / "work.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise LatentmintError(f"{wid}: no such work in {studio.works}") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LatentmintError(f"{path}: damaged work record ({exc}); restore it from a backup or move the folder aside") from exc
    if not isinstance(record, dict) or record.get("format") != WORK_FORMAT:
        raise LatentmintError(f"{path}: not a latentmint work record")
    if not isinstance(record.get("id"), str) or not isinstance(record.get("file"), str) or not all(isinstance(record.get(k) or {}, dict) for k in ("model", "generation", "certificate")) or not isinstance(record.get("tokens", []), list):
        raise LatentmintError(f"{path}: damaged work record (a field has the wrong type); restore it from a backup or move the folder aside")
    return Work(root, record)


def list_works(studio: Studio, skip_damaged: bool = False) -> list[Work]:
    """Every work; a damaged work.json is an error, or with `skip_damaged` (pages, verification) left out."""
    works = []
    for p in sorted(studio.works.glob("*/work.json")):
        try:
            works.append(load_work(studio, p.parent.name))
        except LatentmintError:
            if not skip_damaged:
                raise
    return works


def select_works(studio: Studio, chosen: list[str], shown: list[str] | None = None) -> dict[str, Any]:
    """Record the artist's curation: `chosen` works kept out of `shown` (default: every work of the same runs)."""
    works = {w.id: w for w in list_works(studio)}
    missing = [c for c in chosen if c not in works]
    if missing:
        raise LatentmintError(f"{', '.join(missing)}: no such work in {studio.works}")
    if shown is None:
        runs = {works[c].record["model"]["run"] for c in chosen}
        shown = [w for w, rec in works.items() if rec.record["model"]["run"] in runs]
    unknown = [s for s in shown if s not in works]
    if unknown:
        raise LatentmintError(f"{', '.join(unknown)}: no such work in {studio.works}")
    shown = sorted(set(shown) | set(chosen))
    selection = {"selected": sorted(set(chosen)), "shown": shown, "k": len(set(chosen)), "of": len(shown), "time": now_iso()}
    for wid in selection["selected"]:
        works[wid].add_human_action({"action": "selected", "k": selection["k"], "of": selection["of"]})
    history_path = studio.works / "selections.json"
    history = json.loads(history_path.read_text()) if history_path.exists() else []
    atomic_write_json(history_path, history + [selection])
    return selection
