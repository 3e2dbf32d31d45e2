"""`latentmint certify`: write works/ID/certified.<ext>, the work's file with its signed content credentials.

The generated file and work.json's earlier fields are never rewritten; certify adds `certificate` to
work.json and the record to works/ID/creativity.json. Certifying a certified work is a no-op.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from latentmint.art.fingerprint import fingerprint, fingerprint_file, is_current, still
from latentmint.art.works import Work
from latentmint.data.dataset import Dataset, dataset_dir, now_iso
from latentmint.errors import LatentmintError
from latentmint.files import atomic_write_bytes, atomic_write_json, sha256_bytes, sha256_file
from latentmint.provenance import credentials as cr
from latentmint.provenance.record import build_record
from latentmint.studio import Studio


def _refuse_near_copy(work: Work) -> None:
    o = work.record.get("originality") or {}
    if o.get("near_copy"):
        nearest = (o.get("nearest") or ["a training photo"])[0]
        raise LatentmintError(
            f"{work.id}: a near copy of {nearest} (correlation {o.get('ncc', 0):.2f} >= {o.get('near_copy_threshold', 0.8)}); "
            "certify it anyway with --allow-near-copy, which the certificate records"
        )


def certify_work(studio: Studio, work: Work, keys: Any, *, allow_near_copy: bool = False, code: Sequence[Path] = (), training_mining: str | None = None) -> tuple[Work, bool]:
    """Sign `work` (its latest declared edit, if any). Returns (work, newly certified)."""
    done = work.record.get("certificate")
    if done and (work.root / done["file"]).is_file():
        if not is_current(done.get("fingerprint")):  # certified by an earlier version: add what verification needs
            done["fingerprint"] = fingerprint_file(work.root / done["file"])
            work.save()
        return work, False
    if not allow_near_copy:
        _refuse_near_copy(work)
    use = training_mining or studio.setting("provenance", "training_mining", "notAllowed")
    mining = cr.mining_assertion(use)
    record = build_record(studio, work.record, code=list(code), allow_near_copy=allow_near_copy)
    creator = {"label": cr.CREATOR_LABEL, "data": cr.creator_assertion(keys)}
    extra = [{"label": cr.RECORD_LABEL, "data": record}, creator, mining]
    dataset = Dataset.load(dataset_dir(studio.datasets, work.record["model"]["dataset"]))
    fmt, title = cr.mime_type(work.file), f"latentmint work {work.id}"
    generated_bytes = work.file.read_bytes()
    if sha256_bytes(generated_bytes) != work.record["sha256"]:
        raise LatentmintError(f"{work.file}: changed since latentmint made it (sha256 differs from work.json); declare changes with `latentmint edit`")
    ingredients = cr.training_ingredients(dataset)
    edits = work.record.get("edits", [])
    if not edits:
        signed = cr.sign(keys, cr.generated_manifest(record, title, ingredients, extra), fmt, generated_bytes)
        suffix = work.file.suffix
    else:
        # The generated image, signed as made, becomes the parent ingredient of the edited file.
        generated = cr.sign(keys, cr.generated_manifest(record, title, ingredients, [creator, mining]), fmt, generated_bytes)
        final = work.root / edits[-1]["file"]
        if sha256_file(final) != edits[-1]["sha256"]:
            raise LatentmintError(f"{final}: changed since the edit was declared; declare it again with `latentmint edit`")
        parent = ({"title": work.record["file"], "relationship": "parentOf", "label": "generated"}, fmt, generated)
        signed = cr.sign(keys, cr.edited_manifest(record, title, edits, extra), cr.mime_type(final), final.read_bytes(), parent)
        suffix = final.suffix
    name = f"certified{suffix}"
    atomic_write_bytes(work.root / name, signed)
    atomic_write_json(work.root / "creativity.json", record)
    work.record["certificate"] = {
        "file": name,
        "sha256": sha256_bytes(signed),
        "signer": keys.identity.name,
        "creator_address": keys.identity.address,
        "certificate_sha256": keys.identity.fingerprint,
        "training_mining": use,
        "allow_near_copy": allow_near_copy,
        "training_photos": len(ingredients),
        "summary": record["summary"],
        "fingerprint": fingerprint(still(signed, name)),  # finds copies of this file later (art/fingerprint.py)
        "time": now_iso(),
    }
    work.save()
    return work, True


def trust_anchors(studio: Studio | None, extra: Sequence[Path] = ()) -> str:
    """PEM text of the roots a reader trusts: the studio's own root CA, any configured, and any passed."""
    paths = list(extra)
    if studio is not None:
        paths += [studio.keys / "root-ca.pem", *(Path(p) for p in studio.setting("provenance", "trust_anchors", []))]
    pems = []
    for p in paths:
        if p.is_file():
            pems.append(p.read_text())
        elif p in extra:
            raise LatentmintError(f"{p}: no such certificate file")
    return "\n".join(pems)
