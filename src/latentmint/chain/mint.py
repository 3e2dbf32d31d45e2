"""`latentmint mint`: store each certified work and its metadata by CID, mint them in one transaction, record.

The artist's collection is deployed on first use per chain (chain/deployments.json). A token's id is the
sha256 of the certified file. Order of effects: store blocks (harmless to repeat) -> simulate -> send ->
wait for success -> record in work.json. A crash after sending is repaired by the next run, which finds
the token on chain and records it; nothing is ever recorded that the chain does not hold.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from latentmint.art.works import Work
from latentmint.chain.network import EMBEDDED, Network, call_tx, contract, deploy, fund, hexstr, revert_errors, send
from latentmint.data.dataset import now_iso
from latentmint.errors import LatentmintError
from latentmint.files import atomic_write_json, sha256_file
from latentmint.storage.cid import digest_of, raw_cid_from_digest
from latentmint.storage.store import open_store
from latentmint.studio import Studio

COLLECTION = "LatentmintCollection"
DEPLOYMENTS = "deployments.json"
BATCH = 50  # tokens per transaction: well under any block gas limit (~50k gas each)
MAX_ROYALTY_BPS = 5000


def parse_royalty(text: str) -> int:
    """'7.5%' or '7.5' -> 750 basis points."""
    try:
        percent = float(text.strip().removesuffix("%"))
    except ValueError:
        raise LatentmintError(f"{text!r}: a royalty is a percentage, e.g. 7.5%") from None
    bps = round(percent * 100)
    if not 0 <= bps <= MAX_ROYALTY_BPS:
        raise LatentmintError(f"{text}: royalties run from 0% to {MAX_ROYALTY_BPS / 100:g}%")
    return bps


def token_id_of(data_sha256: str) -> int:
    return int(data_sha256, 16)


def _deployments(studio: Studio) -> dict[str, Any]:
    path = studio.chain / DEPLOYMENTS
    return json.loads(path.read_text()) if path.exists() else {}


def collection_for(studio: Studio, net: Network, key: bytes, artist: str, name: str, royalty_bps: int) -> Any:
    """The artist's collection on this chain, deployed now if it is not there (e.g. a fresh dev node)."""
    deployments = _deployments(studio)
    known = deployments.get(net.key)
    if known and net.w3.eth.get_code(known["collection"]) not in (b"", "0x"):
        return contract(net, COLLECTION, known["collection"])
    receipt = deploy(net, key, COLLECTION, f"{name} (latentmint)", "LMNT", artist, artist, royalty_bps, "")
    deployments[net.key] = {"network": net.name, "collection": receipt["contractAddress"], "tx": hexstr(receipt["transactionHash"]), "block": receipt["blockNumber"], "deployed": now_iso()}
    atomic_write_json(studio.chain / DEPLOYMENTS, deployments)
    return contract(net, COLLECTION, receipt["contractAddress"])


def token_of(work: Work, net: Network) -> dict[str, Any] | None:
    return next((t for t in work.record.get("tokens", []) if t["chain"] == net.key), None)


def metadata(work: Work, image_cid: str, certified: dict[str, Any], artist: str) -> dict[str, Any]:
    """OpenSea-style metadata; `image` is a still or GIF, `animation_url` the MP4 of a walk."""
    g, m, o = work.record["generation"], work.record["model"], work.record.get("originality", {})
    attributes = [{"trait_type": "kind", "value": work.record["kind"]}]
    for k in ("seed", "truncation", "coarse", "fine", "frames"):
        if k in g:
            attributes.append({"trait_type": k, "value": g[k]})
    attributes += [
        {"trait_type": "model", "value": m["model_sha256"][:16]},
        {"trait_type": "training steps", "value": m["step"]},
        {"trait_type": "originality (max correlation with a training face)", "value": o.get("ncc")},
        {"trait_type": "near copy", "value": bool(o.get("near_copy"))},
        {"trait_type": "AI / human", "value": certified["summary"]},
        {"trait_type": "content credentials sha256", "value": certified["sha256"]},
    ]
    doc = {
        "name": f"{artist}: {work.record['kind']} {work.id}",
        "description": certified["summary"],
        "image": f"ipfs://{image_cid}",
        "attributes": attributes,
        # the fingerprint lets anyone find copies of the work from the chain and storage alone
        "properties": {"work": work.id, "content_sha256": certified["sha256"], "creator": certified["creator_address"], "signer": certified["signer"], "fingerprint": certified["fingerprint"]},
    }
    if work.record["kind"] == "walk":
        doc["animation_url"] = f"ipfs://{image_cid}"
    return doc


@dataclass
class Minted:
    work: Work
    token_id: int
    tx: str
    token_uri: str
    image_cid: str
    recovered: bool = False  # found on chain from an earlier, interrupted run

    def to_json(self) -> dict[str, Any]:
        return {"work": self.work.id, "token_id": self.token_id, "tx": self.tx, "token_uri": self.token_uri, "image_cid": self.image_cid}


def _transfer_from_zero(coll: Any, token_id: int) -> Any:
    logs = coll.events.Transfer().get_logs(from_block=0, argument_filters={"tokenId": token_id, "from": "0x" + "00" * 20})
    return logs[0] if logs else None


def mint_works(studio: Studio, net: Network, keys: Any, works: Sequence[Work], royalty_bps: int | None = None, progress: Callable[[int, int], None] | None = None) -> list[Minted]:
    from latentmint.art.fingerprint import is_current  # here: importing it at the top would load torch for every chain verb

    artist = keys.identity.address
    for w in works:
        if not w.record.get("certificate"):
            raise LatentmintError(f"{w.id}: not certified yet; run `latentmint certify {w.id}` first (the token carries its content credentials)")
        if not is_current(w.record["certificate"].get("fingerprint")):
            raise LatentmintError(f"{w.id}: certified by an older latentmint; run `latentmint certify {w.id}` again to add its fingerprint")
        if (t := token_of(w, net)) is not None:
            raise LatentmintError(f"{w.id}: already minted as token {t['token_id']} (tx {t['tx']}) in collection {t['collection']}")
    if net.name == EMBEDDED and net.w3.eth.get_balance(artist) < net.w3.to_wei(1, "ether"):
        fund(net, artist, net.w3.to_wei(100, "ether"))  # a local chain: test ETH is free
    default_bps = royalty_bps if royalty_bps is not None else parse_royalty(str(studio.setting("chain", "royalty", "7.5")))
    coll = collection_for(studio, net, keys.eth_key, artist, keys.identity.name, default_bps)
    store = open_store(studio)
    pending, minted = [], []
    for i, w in enumerate(works):
        c = w.record["certificate"]
        path = w.root / c["file"]
        if sha256_file(path) != c["sha256"]:
            raise LatentmintError(f"{path}: changed since it was certified; certified files must not be edited")
        image_cid = store.put_file(path)
        meta_cid = store.put_bytes(json.dumps(metadata(w, image_cid, c, keys.identity.name), indent=1).encode(), f"{w.id}.json")
        token_id = token_id_of(c["sha256"])
        if owner_of(coll, token_id) is not None:
            event = _transfer_from_zero(coll, token_id)
            if event is None or event["transactionHash"] is None:
                raise LatentmintError(f"{w.id}: these bytes are already token {token_id} of {coll.address}, minted elsewhere")
            minted.append(_record(w, net, coll, token_id, hexstr(event["transactionHash"]), event["blockNumber"], image_cid, meta_cid, recovered=True))
        else:
            pending.append((w, token_id, image_cid, meta_cid))
        if progress:
            progress(i + 1, len(works) + 1)
    for start in range(0, len(pending), BATCH):
        batch = pending[start : start + BATCH]
        hashes = [t.to_bytes(32, "big") for _, t, _, _ in batch]
        digests = [digest_of(m) for _, _, _, m in batch]
        call = call_tx(coll, "mint", artist, hashes[0], digests[0]) if len(batch) == 1 else call_tx(coll, "mintBatch", artist, hashes, digests)
        receipt = send(net, keys.eth_key, call, f"minting {len(batch)} token{'s' if len(batch) > 1 else ''}")
        for w, token_id, image_cid, meta_cid in batch:
            minted.append(_record(w, net, coll, token_id, hexstr(receipt["transactionHash"]), receipt["blockNumber"], image_cid, meta_cid))
    if royalty_bps is not None and coll.functions.royaltyInfo(0, 10_000).call()[1] != royalty_bps:
        for m in minted:
            send(net, keys.eth_key, call_tx(coll, "setTokenRoyalty", m.token_id, artist, royalty_bps), f"setting token {m.work.id}'s royalty")
    if progress:
        progress(len(works) + 1, len(works) + 1)
    return minted


def owner_of(coll: Any, token_id: int) -> str | None:
    """The token's owner, or None when it does not exist."""
    try:
        return coll.functions.ownerOf(token_id).call()
    except revert_errors():
        return None


def _record(w: Work, net: Network, coll: Any, token_id: int, tx: str, block: int, image_cid: str, meta_cid: str, recovered: bool = False) -> Minted:
    tx = tx if tx.startswith("0x") else "0x" + tx
    uri = f"ipfs://{meta_cid}"
    assert raw_cid_from_digest(digest_of(meta_cid)) == meta_cid  # metadata is one raw block: the URI the contract renders
    entry = {"network": net.name, "chain": net.key, "chain_id": net.chain_id, "collection": coll.address, "token_id": str(token_id), "tx": tx, "block": block, "image_cid": image_cid, "metadata_cid": meta_cid, "token_uri": uri, "minted": now_iso()}
    w.record.setdefault("tokens", []).append(entry)
    w.save()
    return Minted(w, token_id, tx, uri, image_cid, recovered)


def history(studio: Studio, net: Network, token_id: int, collection: str | None = None) -> dict[str, Any]:
    """Owner, creator and every mint, transfer and sale of a token (the studio's collection unless given)."""
    from latentmint.chain.events import ChainIndex
    from latentmint.chain.market import MARKET  # the market builds on this module

    known = _deployments(studio).get(net.key) or {}
    address = collection or known.get("collection")
    if not address:
        raise LatentmintError(f"{net.name}: the studio has no collection on this chain yet")
    coll = contract(net, COLLECTION, address)
    owner = owner_of(coll, token_id)
    if owner is None:
        raise LatentmintError(f"token {token_id}: not minted in collection {coll.address} on {net.name}")
    market = contract(net, MARKET, known["market"]) if known.get("market") else None
    index = ChainIndex.open(studio, net, [coll], market)
    return {"token_id": token_id, "collection": coll.address, "owner": owner, "creator": coll.functions.creator().call(), "token_uri": coll.functions.tokenURI(token_id).call(), "events": index.events(coll.address, token_id)}
