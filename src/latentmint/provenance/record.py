"""The creativity record: what the machine made and what the human did, built from the studio, never typed in.

Every figure comes from a file an earlier stage wrote: dataset.json (photos, curator, credits), run.json
(the settings the artist changed, steps, time, hardware), work.json (seed, truncation, mixes, walks,
curation, declared edits). The artist only declares what latentmint cannot see: edits made in another
program (`latentmint edit`) and code they wrote (`certify --code`).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from latentmint import __version__
from latentmint.data.dataset import Dataset, dataset_dir, now_iso
from latentmint.errors import LatentmintError
from latentmint.files import atomic_write_bytes, sha256_bytes, sha256_file
from latentmint.studio import Studio

RECORD_FORMAT = "latentmint.creativity/1"
# Files an edit may be declared as: what content credentials can be embedded in.
EDIT_SUFFIXES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp", ".mp4": "video/mp4"}


def _load_json(path: Path, what: str) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise LatentmintError(f"{path}: missing {what}; the studio is incomplete") from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise LatentmintError(f"{path}: unreadable {what} ({exc})") from exc


def dataset_section(dataset: Dataset) -> dict[str, Any]:
    credits = Counter()
    for face in dataset.faces:
        c = face.get("credit") or {}
        credits[(c.get("author") or "uncredited", c.get("license") or "unknown licence")] += 1
    return {
        "name": dataset.name,
        "faces": len(dataset.faces),
        "photos": len(dataset.source_hashes()),
        "curator": dataset.meta.get("curator"),
        "hash": dataset.content_hash(),
        "resolution": dataset.resolution,
        "credits": [{"author": a, "license": lic, "faces": n} for (a, lic), n in sorted(credits.items(), key=lambda kv: (-kv[1], kv[0]))],
    }


def training_section(run: dict[str, Any]) -> dict[str, Any]:
    sessions = run.get("sessions", [])
    seconds = sum((s["to_step"] - s["from_step"]) * (s.get("seconds_per_step") or 0.0) for s in sessions)
    if run.get("stages"):  # a cascade times each stage
        seconds = sum(stage["seconds"] for stage in run["stages"])
    device = run.get("device", {})
    return {
        "run": run["name"],
        "preset": run["config"].get("preset"),
        "arch": run["config"].get("arch"),
        "changed_from_preset": run.get("changed_from_preset", {}),
        "init_from": run.get("init_from"),
        "pretrained_networks": run.get("pretrained", []),  # e.g. the frozen backbone of a projected discriminator
        "steps": run.get("step"),
        "seconds": round(seconds, 1),
        "hardware": f"{device.get('processes', 1)} x {device.get('type', '?')} ({device.get('name', '?')})",
    }


def curation_section(work_record: dict[str, Any]) -> dict[str, Any] | None:
    selected = [a for a in work_record.get("human_actions", []) if a.get("action") == "selected"]
    if not selected:
        return None
    last = selected[-1]
    return {"selected": True, "k": last["k"], "of": last["of"]}


def _code_entry(path: Path) -> dict[str, Any]:
    if path.is_file():
        return {"path": str(path), "sha256": sha256_file(path), "files": 1}
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts and ".git" not in p.parts)
        lines = "\n".join(f"{p.relative_to(path).as_posix()} {sha256_file(p)}" for p in files)
        return {"path": str(path), "sha256": sha256_bytes(lines.encode()), "files": len(files)}
    raise LatentmintError(f"{path}: no such file or folder to declare as code")


def build_record(studio: Studio, work_record: dict[str, Any], *, code: list[Path] = (), allow_near_copy: bool = False) -> dict[str, Any]:
    """The machine-readable record of one work; `summary` turns it into one sentence."""
    model = work_record["model"]
    dataset = Dataset.load(dataset_dir(studio.datasets, model["dataset"]))
    run = _load_json(studio.runs / model["run"] / "run.json", "run record")
    originality = dict(work_record.get("originality") or {})
    if originality.get("near_copy"):
        originality["allowed_by_artist"] = allow_near_copy
    record = {
        "format": RECORD_FORMAT,
        "work": {"id": work_record["id"], "kind": work_record["kind"], "sha256": work_record["sha256"]},
        "machine": {"software": f"latentmint {__version__}", "model_sha256": model["model_sha256"], "step": model["step"], "arch": model["arch"], "resolution": model["resolution"], "stages": model.get("stages") or [{"name": "face", "arch": model["arch"], "resolution": model["resolution"], "steps": model["step"]}]},
        "dataset": dataset_section(dataset),
        "training": training_section(run),
        "generation": work_record["generation"],
        "curation": curation_section(work_record),
        "human_actions": [{k: v for k, v in a.items() if k != "time"} for a in work_record.get("human_actions", [])],
        "edits": [{k: e[k] for k in ("file", "sha256", "note", "tool")} for e in work_record.get("edits", [])],
        "code": [_code_entry(Path(p).expanduser().resolve()) for p in code],
        "originality": originality,
        "created": now_iso(),
    }
    record["summary"] = summary(record)
    return record


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def summary(record: dict[str, Any]) -> str:
    """One sentence a collector reads: who made what, from what, and what the person decided."""
    d, t, g = record["dataset"], record["training"], record["generation"]
    curated = f"{_plural(d['photos'], 'photo')} curated by {d['curator']}" if d.get("curator") else f"{_plural(d['photos'], 'curated photo')}"
    changed = len(t.get("changed_from_preset") or {})
    parts = [f"AI-generated by a model the artist trained on {curated} ({t['steps']:,} steps, {_plural(changed, 'setting')} changed from the {t['preset']} preset)"]
    stages = record["machine"].get("stages") or []
    if len(stages) > 1:  # a cascade: say which network drew the face and which made the final pixels
        parts[0] += f", its {stages[0]['resolution']} px faces upscaled to {stages[-1]['resolution']} px by a second network trained on the same photos"
    kind = record["work"]["kind"]
    if kind == "walk":
        parts.append(f"artist chose a walk through seeds {', '.join(map(str, g['seeds']))}")
    elif kind == "mix":
        parts.append(f"artist mixed seed {g['coarse']}'s shape with seed {g['fine']}'s style")
    else:
        parts.append(f"artist chose seed {g['seed']} at truncation {g.get('truncation', 1.0):g}")
    if record.get("curation"):
        parts.append(f"kept it as one of {record['curation']['k']} chosen from {record['curation']['of']} outputs")
    if record["edits"]:
        tools = sorted({e["tool"] for e in record["edits"] if e.get("tool")})
        parts.append(f"edited it {_plural(len(record['edits']), 'time')} outside latentmint" + (f" ({', '.join(tools)})" if tools else ""))
    if record["code"]:
        parts.append(f"wrote code used to make it ({_plural(len(record['code']), 'declared path')})")
    if record["originality"].get("near_copy"):
        parts.append("it closely copies a training photo, published at the artist's explicit choice")
    return "; ".join(parts) + "."


def declare_edit(studio: Studio, work: Any, edited: Path, note: str, tool: str | None) -> dict[str, Any]:
    """Record an edit made outside latentmint: the edited file is kept beside the work and certified instead
    of the generated one, with the generated image as its parent ingredient."""
    edited = Path(edited)
    suffix = edited.suffix.lower()
    if suffix not in EDIT_SUFFIXES:
        raise LatentmintError(f"{edited}: content credentials cannot be embedded in {suffix or 'extensionless'} files (use {', '.join(sorted(EDIT_SUFFIXES))})")
    if not edited.is_file():
        raise LatentmintError(f"{edited}: no such file")
    if work.record.get("certificate"):
        raise LatentmintError(f"{work.id}: already certified; edits must be declared before `latentmint certify`")
    if not note.strip():
        raise LatentmintError("describe the edit with --note, e.g. --note 'repainted the background'")
    from PIL import Image, UnidentifiedImageError

    if suffix != ".mp4":
        try:
            with Image.open(edited) as im:
                im.verify()
        except (UnidentifiedImageError, OSError, SyntaxError) as exc:
            raise LatentmintError(f"{edited}: not a readable image ({exc})") from exc
    n = len(work.record.get("edits", [])) + 1
    name = f"edit-{n}{suffix}"
    data = edited.read_bytes()
    atomic_write_bytes(work.root / name, data)
    entry = {"file": name, "sha256": sha256_bytes(data), "note": note.strip(), "tool": tool, "source": str(edited.resolve()), "time": now_iso()}
    work.record.setdefault("edits", []).append(entry)
    work.add_human_action({"action": "edited", "note": entry["note"], "tool": tool, "file": name})
    return entry

