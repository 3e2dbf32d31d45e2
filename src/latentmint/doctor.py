"""`latentmint doctor`: every disagreement between the studio's records, its chain and its store.

The studio keeps three accounts of the same facts: work.json (what each stage did), the chain (who owns
what) and the block store (the files and metadata tokens point to). After a crash, a restored backup or a
damaged chain.log they can disagree; doctor lists each disagreement with what to do about it, and
`--repair-chain` keeps the valid blocks of a damaged chain.log (the damaged file is kept as a copy).
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass
from typing import Any

from latentmint.errors import LatentmintError
from latentmint.studio import Studio


@dataclass
class Finding:
    where: str  # the file or record concerned
    problem: str
    fix: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def check_studio(studio: Studio, network: str | None = None) -> list[Finding]:
    """Compare work.json records, deployments, the chain and the store; [] when they all agree."""
    from latentmint.art.works import load_work
    from latentmint.chain.embedded import ChainLogDamaged
    from latentmint.chain.mint import _deployments, owner_of, token_exists
    from latentmint.chain.network import connect
    from latentmint.files import sha256_file
    from latentmint.storage.store import open_store

    findings: list[Finding] = []
    try:
        net = connect(studio, network)
    except ChainLogDamaged as exc:
        return [Finding(str(studio.chain / "embedded" / "chain.log"), str(exc).split(": ", 1)[1], "latentmint doctor --repair-chain, then latentmint mint all to mint lost works again")]
    store = open_store(studio)
    try:
        known = _deployments(studio).get(net.key) or {}
    except LatentmintError as exc:
        findings.append(Finding(str(studio.chain / "deployments.json"), str(exc).split(": ", 1)[1], "restore it from a backup"))
        known = {}
    for role in ("collection", "market"):
        if known.get(role) and net.w3.eth.get_code(known[role]) in (b"", "0x"):
            findings.append(Finding(f"chain/deployments.json ({role})", f"{known[role]} has no code on {net.name} (a reset or restored chain)", "latentmint mint all deploys a new collection and mints the works again"))
    recorded: set[tuple[str, int]] = set()
    for path in sorted(studio.works.glob("*/work.json")):
        try:
            work = load_work(studio, path.parent.name)
        except LatentmintError as exc:
            findings.append(Finding(str(path), str(exc).split(": ", 1)[-1], "restore it from a backup or move the folder aside"))
            continue
        cert = work.record.get("certificate")
        if cert and (work.root / cert["file"]).is_file() and sha256_file(work.root / cert["file"]) != cert["sha256"]:
            findings.append(Finding(str(work.root / cert["file"]), "changed since it was certified", "restore the certified file (its token id is its sha256)"))
        for token in work.record.get("tokens", []):
            if token.get("chain") != net.key or token.get("lost"):
                continue
            token_id = int(token["token_id"])
            recorded.add((token["collection"], token_id))
            if not token_exists(net, token["collection"], token_id):
                findings.append(Finding(f"works/{work.id}/work.json", f"records token {token_id:#x} in {token['collection']}, which the chain does not have", f"latentmint mint {work.id} mints it again"))
            for kind in ("image_cid", "metadata_cid"):
                if token.get(kind) and not store.has(token[kind]):
                    findings.append(Finding(f"works/{work.id}/work.json", f"{kind} {token[kind]} is not in the store", f"latentmint mint {work.id} stores it again"))
    if known.get("collection") and net.w3.eth.get_code(known["collection"]) not in (b"", "0x"):
        from latentmint.chain.events import ChainIndex
        from latentmint.chain.network import contract

        coll = contract(net, "LatentmintCollection", known["collection"])
        index = ChainIndex.open(studio, net, [coll])
        for key in index.tokens():
            address, token_id = key.split(":")
            if (address, int(token_id)) not in recorded and owner_of(coll, int(token_id)) is not None:
                findings.append(Finding(f"collection {address}", f"token {int(token_id):#x} is on chain but no work.json records it", "latentmint mint WORK on the work whose certified file it is records it"))
    return findings


def repair_chain(studio: Studio) -> dict[str, Any]:
    """Keep the valid blocks of a damaged chain.log (up to the damage); the whole damaged file is kept beside it."""
    from latentmint.chain.embedded import LOG, MAGIC, MAGIC_V1, _frame, chain_lock, scan_log
    from latentmint.data.dataset import now_iso
    from latentmint.files import atomic_write_bytes

    path = studio.chain / "embedded" / LOG
    if not path.is_file():
        raise LatentmintError(f"{path}: no embedded chain log to repair")
    with chain_lock(studio.chain).held():
        raw = path.read_bytes()
        v1 = raw.startswith(MAGIC_V1)
        if not (v1 or raw.startswith(MAGIC)):
            raise LatentmintError(f"{path}: not a latentmint chain log; nothing changed")
        scan = scan_log(raw, len(MAGIC), None, v1)
        if scan.damaged_at is None and not scan.torn:
            return {"log": str(path), "repaired": False, "blocks_kept": scan.batches, "reason": "the log checks out; nothing to repair"}
        copy = path.with_name(f"{LOG}.damaged-{now_iso().replace(':', '')}")
        shutil.copy2(path, copy)
        kept = raw[: scan.end]
        if v1:  # rewrite the kept batches in the current format
            data: dict[bytes, bytes] = {}
            scan_log(kept, len(MAGIC), data, True)
            from latentmint.chain.embedded import _encode

            kept = MAGIC + _frame(_encode(data))
        atomic_write_bytes(path, kept)
    return {"log": str(path), "repaired": True, "copy": str(copy), "kept_bytes": scan.end, "dropped_bytes": len(raw) - scan.end, "damaged_at": scan.damaged_at, "batches_kept": scan.batches}


