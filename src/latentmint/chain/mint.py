"""`latentmint mint`: store each certified work and its metadata by CID, mint them in one transaction, record.

The artist's collection is deployed on first use per chain (chain/deployments.json). A token's id is the
sha256 of the certified file. Order of effects: store blocks (harmless to repeat) -> simulate -> send ->
wait for success -> record in work.json. A crash after sending is repaired by the next run, which finds
the token on chain and records it; nothing is ever recorded that the chain does not hold.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from latentmint.art.fingerprint import is_current
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
    from latentmint.files import read_json

    path = studio.chain / DEPLOYMENTS
    doc = read_json(path, "deployments record", default={})
    if not isinstance(doc, dict) or not all(isinstance(v, dict) for v in doc.values()):
        raise LatentmintError(f"{path}: damaged deployments record (expected an object per chain); restore it from a backup or move it aside")
    return doc


def collection_for(studio: Studio, net: Network, key: bytes, artist: str, name: str, royalty_bps: int) -> Any:
    """The artist's collection on this chain, deployed now if it is not there (e.g. a fresh dev node)."""
    deployments = _deployments(studio)
    known = deployments.get(net.key)
    if known and known.get("collection") and net.w3.eth.get_code(known["collection"]) not in (b"", "0x"):
        return contract(net, COLLECTION, known["collection"])
    from latentmint.chain.market import market_for

    market = market_for(studio, net, key)  # first: the collection names the market that may redeem its vouchers
    receipt = deploy(net, key, COLLECTION, f"{name} (latentmint)", "LMNT", artist, artist, royalty_bps, "", market.address)
    deployments = _deployments(studio)
    deployments[net.key] = {**deployments.get(net.key, {}), "network": net.name, "collection": receipt["contractAddress"], "tx": hexstr(receipt["transactionHash"]), "block": receipt["blockNumber"], "deployed": now_iso()}
    atomic_write_json(studio.chain / DEPLOYMENTS, deployments)
    return contract(net, COLLECTION, receipt["contractAddress"])


def collection_metadata(studio: Studio, artist: str, receiver: str, royalty_bps: int, image_cid: str | None) -> dict[str, Any]:
    """ERC-7572 contract-level metadata (as OpenSea reads it): name, description, image, link, royalty."""
    doc: dict[str, Any] = {
        "name": f"{artist} (latentmint)",
        "description": f"Artworks by {artist}, made with a face generator the artist trained on their own photos. Each token's file carries signed content credentials naming the model, the photos that taught it and the artist's choices.",
        "seller_fee_basis_points": royalty_bps,
        "fee_recipient": receiver,
    }
    if image_cid:
        doc["image"] = f"ipfs://{image_cid}"
    if public := studio.setting("studio", "public_url"):
        doc["external_link"] = public
    return doc


def ensure_contract_uri(studio: Studio, net: Network, key: bytes, coll: Any, artist: str, image_cid: str | None = None) -> str:
    """Store the collection's metadata by CID and point contractURI() at it when it says anything else."""
    from latentmint.chain.events import METADATA_LIMIT

    store, current = open_store(studio), coll.functions.contractURI().call()
    if current.startswith("ipfs://"):  # keep the image chosen before (the first work's still)
        with contextlib.suppress(LatentmintError, ValueError, AttributeError):
            image_cid = (json.loads(store.cat(current.removeprefix("ipfs://"), limit=METADATA_LIMIT)).get("image") or "").removeprefix("ipfs://") or image_cid
    receiver, bps = coll.functions.royaltyInfo(0, 10_000).call()
    doc = collection_metadata(studio, artist, receiver, bps, image_cid)
    uri = "ipfs://" + store.put_bytes(json.dumps(doc, indent=1).encode(), "collection.json")
    if uri != current:
        send(net, key, call_tx(coll, "setContractURI", uri), "setting the collection's metadata (contractURI)")
    return uri


def token_of(work: Work, net: Network) -> dict[str, Any] | None:
    """The work's token on this chain as work.json records it (entries found lost on chain are skipped)."""
    return next((t for t in work.record.get("tokens", []) if t["chain"] == net.key and not t.get("lost")), None)


def token_exists(net: Network, collection: str, token_id: int) -> bool:
    """Does the chain hold this token (False too when the collection itself is gone, e.g. a reset chain)?"""
    if net.w3.eth.get_code(collection) in (b"", "0x"):
        return False
    return owner_of(contract(net, COLLECTION, collection), token_id) is not None


def metadata(work: Work, media: dict[str, str], certified: dict[str, Any], artist: str, external_url: str | None = None) -> dict[str, Any]:
    """Token metadata per the OpenSea metadata standard: `image` a still (a walk's poster frame), `animation_url`
    an MP4 for walks, trait values strings or numbers; `properties` carry what verification needs."""
    g, m, o = work.record["generation"], work.record["model"], work.record.get("originality", {})
    attributes: list[dict[str, Any]] = [{"trait_type": "kind", "value": work.record["kind"]}]
    for k in ("seed", "truncation", "coarse", "fine", "frames"):
        if isinstance(g.get(k), (int, float)) and not isinstance(g.get(k), bool):
            attributes.append({"trait_type": k, "value": g[k]})
    attributes += [
        {"trait_type": "model", "value": m["model_sha256"][:16]},
        {"trait_type": "training steps", "value": int(m["step"]), "display_type": "number"},
        {"trait_type": "near copy", "value": "yes" if o.get("near_copy") else "no"},
        {"trait_type": "AI / human", "value": certified["summary"]},
        {"trait_type": "content credentials sha256", "value": certified["sha256"]},
    ]
    if isinstance(o.get("ncc"), (int, float)):
        attributes.append({"trait_type": "originality (max correlation with a training face)", "value": round(float(o["ncc"]), 4)})
    doc: dict[str, Any] = {
        "name": f"{artist}: {work.record['kind']} {work.id}",
        "description": certified["summary"],
        "image": f"ipfs://{media['image']}",
        "attributes": attributes,
        # the fingerprint lets anyone find copies of the work from the chain and storage alone
        "properties": {"work": work.id, "original": f"ipfs://{media['original']}", "content_sha256": certified["sha256"], "creator": certified["creator_address"], "signer": certified["signer"], "fingerprint": certified["fingerprint"]},
    }
    if "animation_url" in media:
        doc["animation_url"] = f"ipfs://{media['animation_url']}"
    if external_url:
        doc["external_url"] = f"{external_url.rstrip('/')}/works/{work.id}"
    return doc


def store_media(store: Any, work: Work, path: Any) -> dict[str, str]:
    """CIDs of the certified file (`original`), the still shown as `image`, and for walks an MP4 `animation_url`."""
    from latentmint.art.animate import as_mp4, poster_png

    original = store.put_file(path)
    if work.record["kind"] != "walk":
        return {"original": original, "image": original}
    data = path.read_bytes()
    return {"original": original, "image": store.put_bytes(poster_png(data, path.name), f"{work.id}-poster.png"), "animation_url": original if path.suffix.lower() == ".mp4" else store.put_bytes(as_mp4(data, path.name), f"{work.id}.mp4")}


def store_token_files(studio: Studio, store: Any, work: Work, artist_name: str) -> tuple[dict[str, str], str]:
    """Put a certified work's media and its token metadata in the store: (media CIDs, metadata CID)."""
    c = work.record["certificate"]
    path = work.root / c["file"]
    if sha256_file(path) != c["sha256"]:
        raise LatentmintError(f"{path}: changed since it was certified; certified files must not be edited")
    media = store_media(store, work, path)
    doc = metadata(work, media, c, artist_name, studio.setting("studio", "public_url") or None)
    return media, store.put_bytes(json.dumps(doc, indent=1).encode(), f"{work.id}.json")


@dataclass
class Minted:
    work: Work
    token_id: int
    tx: str
    token_uri: str
    image_cid: str
    recovered: bool = False  # found on chain from an earlier, interrupted run
    reminted: bool = False  # work.json said minted but the chain had lost it
    already: bool = False  # minted and recorded by an earlier run; nothing sent for it now

    def to_json(self) -> dict[str, Any]:
        return {"work": self.work.id, "token_id": self.token_id, "tx": self.tx, "token_uri": self.token_uri, "image_cid": self.image_cid, "recovered": self.recovered, "reminted": self.reminted, "already": self.already}


def _transfer_from_zero(studio: Studio, net: Network, coll: Any, token_id: int) -> Any:
    from latentmint.chain.events import deployment_block, logs_in_ranges  # the event index builds on this module

    head = net.w3.eth.block_number
    logs = logs_in_ranges(coll.events.Transfer(), deployment_block(studio, net, coll.address, head), head, argument_filters={"tokenId": token_id, "from": "0x" + "00" * 20})
    return next(logs, None)


def mint_works(studio: Studio, net: Network, keys: Any, works: Sequence[Work], royalty_bps: int | None = None, progress: Callable[[int, int], None] | None = None) -> list[Minted]:
    """Mint `works` (certified) to the artist, under the studio's chain lock: two mints at once, or a mint beside
    the running gallery, queue instead of overwriting each other. Works already minted are reported, not
    minted twice; a work whose recorded token the chain has lost (a restored backup, a repaired chain.log) is
    minted again with a warning. With `royalty_bps`, every token named gets that royalty, also on a rerun."""
    from latentmint.art.works import load_work
    from latentmint.errors import warn

    with net.writing():
        for w in works:  # as they are now (another process may have minted some); the caller's objects see the result
            w.record = load_work(studio, w.id).record
        for w in works:
            if not w.record.get("certificate"):
                raise LatentmintError(f"{w.id}: not certified yet; run `latentmint certify {w.id}` first (the token carries its content credentials)")
            if not is_current(w.record["certificate"].get("fingerprint")):
                raise LatentmintError(f"{w.id}: certified by an older latentmint; run `latentmint certify {w.id}` again to add its fingerprint")
        artist = keys.identity.address
        if net.name == EMBEDDED and net.w3.eth.get_balance(artist) < net.w3.to_wei(1, "ether"):
            fund(net, artist, net.w3.to_wei(100, "ether"))  # a local chain: test ETH is free
        default_bps = royalty_bps if royalty_bps is not None else parse_royalty(str(studio.setting("chain", "royalty", "7.5")))
        coll = collection_for(studio, net, keys.eth_key, artist, keys.identity.name, default_bps)
        store = open_store(studio)
        pending, minted, first_image = [], [], None
        for i, w in enumerate(works):
            c = w.record["certificate"]
            if (t := token_of(w, net)) is not None:
                if token_exists(net, t["collection"], int(t["token_id"])):
                    minted.append(Minted(w, int(t["token_id"]), t["tx"], t["token_uri"], t["image_cid"], already=True))
                    if progress:
                        progress(i + 1, len(works) + 1)
                    continue
                warn(f"{w.id}: work.json records token {int(t['token_id']):#x} in {t['collection']} (tx {t['tx']}), but the chain does not have it (a restored backup or a repaired chain.log?); minting it again")
                t["lost"] = {"found": now_iso(), "head": net.w3.eth.block_number}
                w.save()
            media, meta_cid = store_token_files(studio, store, w, keys.identity.name)
            first_image, image_cid = first_image or media["image"], media["original"]
            token_id = token_id_of(c["sha256"])
            if owner_of(coll, token_id) is not None:
                event = _transfer_from_zero(studio, net, coll, token_id)
                if event is None or event["transactionHash"] is None:
                    raise LatentmintError(f"{w.id}: these bytes are already token {token_id} of {coll.address}, minted elsewhere")
                minted.append(_record(w, net, coll, token_id, hexstr(event["transactionHash"]), event["blockNumber"], image_cid, meta_cid, royalty_bps, recovered=True))
            else:
                pending.append((w, token_id, image_cid, meta_cid, t is not None))
            if progress:
                progress(i + 1, len(works) + 1)
        if first_image is None and minted:  # every work was minted before: the first one's still is the collection's image
            w = minted[0].work
            first_image = store_media(store, w, w.root / w.record["certificate"]["file"])["image"]
        if first_image is not None:
            ensure_contract_uri(studio, net, keys.eth_key, coll, keys.identity.name, first_image)
        for start in range(0, len(pending), BATCH):
            batch = pending[start : start + BATCH]
            hashes = [t.to_bytes(32, "big") for _, t, _, _, _ in batch]
            digests = [digest_of(m) for _, _, _, m, _ in batch]
            call = call_tx(coll, "mint", artist, hashes[0], digests[0]) if len(batch) == 1 else call_tx(coll, "mintBatch", artist, hashes, digests)
            receipt = send(net, keys.eth_key, call, f"minting {len(batch)} token{'s' if len(batch) > 1 else ''}")
            for w, token_id, image_cid, meta_cid, lost in batch:
                minted.append(_record(w, net, coll, token_id, hexstr(receipt["transactionHash"]), receipt["blockNumber"], image_cid, meta_cid, royalty_bps, reminted=lost))
        if royalty_bps is not None:  # per token, also for tokens an interrupted run minted before it could set them
            receiver = coll.functions.royaltyInfo(0, 10_000).call()[0] or artist  # the default receiver: the artist or their split
            for m in minted:
                if coll.functions.royaltyInfo(m.token_id, 10_000).call()[1] != royalty_bps:
                    send(net, keys.eth_key, call_tx(coll, "setTokenRoyalty", m.token_id, receiver, royalty_bps), f"setting token {m.work.id}'s royalty")
        if progress:
            progress(len(works) + 1, len(works) + 1)
        return minted


def owner_of(coll: Any, token_id: int) -> str | None:
    """The token's owner, or None when it does not exist (a contract answering the zero address included)."""
    try:
        owner = coll.functions.ownerOf(token_id).call()
    except revert_errors():
        return None
    return None if int(owner, 16) == 0 else owner


def _record(w: Work, net: Network, coll: Any, token_id: int, tx: str, block: int, image_cid: str, meta_cid: str, royalty_bps: int | None, recovered: bool = False, reminted: bool = False) -> Minted:
    tx = tx if tx.startswith("0x") else "0x" + tx
    uri = f"ipfs://{meta_cid}"
    assert raw_cid_from_digest(digest_of(meta_cid)) == meta_cid  # metadata is one raw block: the URI the contract renders
    entry = {"network": net.name, "chain": net.key, "chain_id": net.chain_id, "collection": coll.address, "token_id": str(token_id), "tx": tx, "block": block, "image_cid": image_cid, "metadata_cid": meta_cid, "token_uri": uri, "minted": now_iso()}
    if royalty_bps is not None:
        entry["royalty_bps"] = royalty_bps  # its own royalty: `royalty split` redirects these too
    w.record.setdefault("tokens", []).append(entry)
    w.save()
    return Minted(w, token_id, tx, uri, image_cid, recovered, reminted)


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
    escrow = None
    if market is not None and owner == market.address:  # listed or auctioned: the market holds it for the seller
        escrow, owner = owner, market.functions.listings(coll.address, token_id).call()[0]
        if int(owner, 16) == 0:
            owner = market.functions.auctions(coll.address, token_id).call()[0]
    index = ChainIndex.open(studio, net, [coll], market)
    try:  # a collection not made by latentmint may lack creator() or answer anything: read, never trust
        creator, uri = coll.functions.creator().call(), coll.functions.tokenURI(token_id).call()
    except (*revert_errors(), ValueError) as exc:
        raise LatentmintError(f"{coll.address}: not a latentmint collection ({type(exc).__name__}); its token {token_id:#x} has no creator to report") from exc
    return {"token_id": token_id, "collection": coll.address, "owner": owner, "escrow": escrow, "creator": creator, "token_uri": uri, "events": index.events(coll.address, token_id, market.address if market else None)}
