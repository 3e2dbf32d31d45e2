"""`latentmint verify FILE`: is this file a minted original, a copy of one, a tampered original, or unknown?

AUTHENTIC  the exact minted bytes: a token's id is the sha256 of its certified file, so one `ownerOf` call
           answers; the verdict carries the token, its owner, creator, mint transaction and history.
TAMPERED   content credentials are present but the content changed after signing.
COPY       not the minted bytes, but the same artwork re-encoded, resized, cropped a little or
           watermarked: found by the perceptual fingerprint each token's metadata carries.
UNKNOWN    none of these.

The fingerprints come from the chain and storage alone (mint events -> tokenURI -> metadata by CID,
indexed by chain/events.py), so a collection minted elsewhere verifies the same way as the studio's own.
With no studio at all, `verify_cache` gives a stranger a cache folder that reads the chain through any RPC
URL and the blocks through any IPFS gateway or Kubo node, each block checked against its CID.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from latentmint.art.works import list_works
from latentmint.chain.events import ChainIndex
from latentmint.chain.mint import COLLECTION, _deployments, history
from latentmint.chain.network import Network, contract
from latentmint.errors import LatentmintError
from latentmint.provenance.credentials import MIME_TYPES, inspect_bytes
from latentmint.studio import Studio

if TYPE_CHECKING:  # the fingerprint code needs torch: imported only when a file is not an exact match
    from latentmint.art.fingerprint import CopyIndex


@dataclass
class Verification:
    verdict: str  # AUTHENTIC | COPY | TAMPERED | UNKNOWN
    token_id: int | None
    owner: str | None
    creator: str | None
    reason: str
    collection: str | None = None
    similarity: float | None = None
    credentials: dict[str, Any] | None = None
    mint_tx: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    objects: list[dict[str, str]] = field(default_factory=list)  # what was read from storage for the verdict, by CID
    source: dict[str, Any] | None = None  # where the chain and the blocks were read (network, collection, ipfs)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _collections(studio: Studio, net: Network, extra: list[str]) -> list[Any]:
    known = _deployments(studio).get(net.key, {})
    addresses = ([known["collection"]] if "collection" in known else []) + list(extra)
    return [contract(net, COLLECTION, net.w3.to_checksum_address(a)) for a in addresses]


@dataclass
class KnownTokens:
    """What verification knows of the minted tokens: fingerprints, the work each token is, what is missing."""

    index: CopyIndex
    by_work: dict[str, str]  # work ID (from the token's metadata) -> "collection:tokenId"
    missing: list[str]


_MEMO: dict[str, tuple[tuple, KnownTokens]] = {}  # a server verifies many files between blocks


def known_tokens(studio: Studio, net: Network, collections: list[Any]) -> KnownTokens:
    """Every token minted in `collections` with its metadata's fingerprint (from the chain index); the
    studio's own records fill in what its store lacks or what predates fingerprints."""
    import numpy as np

    from latentmint.art.fingerprint import CopyIndex, fingerprint_bytes

    index = ChainIndex.open(studio, net, collections)
    memo_key = (index.version, index.head, tuple(sorted(c.address for c in collections)), studio.works.stat().st_mtime_ns)
    if (memo := _MEMO.get(str(index.path))) and memo[0] == memo_key:
        return memo[1]
    keys, bank = index.fingerprints()
    by_work, missing, have = index.works(), set(index.without_fingerprint()), set(keys)
    extra: dict[str, bytes] = {}  # tokens whose fingerprint only the studio's own work records carry
    for work in list_works(studio, skip_damaged=True):
        fp = fingerprint_bytes((work.record.get("certificate") or {}).get("fingerprint"))
        for token in work.record.get("tokens", []):
            if token["chain"] != net.key:
                continue
            key = f"{token['collection']}:{token['token_id']}"
            by_work.setdefault(work.id, key)
            if fp is not None and key not in have:
                extra[key] = fp
    if extra:
        keys = keys + list(extra)
        bank = np.concatenate([bank, np.frombuffer(b"".join(extra.values()), np.int8).reshape(len(extra), *bank.shape[1:])])
    known = KnownTokens(CopyIndex.from_array(keys, bank), by_work, sorted(missing - set(extra)))
    _MEMO[str(index.path)] = (memo_key, known)
    return known


def _token_facts(studio: Studio, net: Network, coll: Any, token_id: int) -> dict[str, Any]:
    """Owner, creator, history of a token of `coll`, and the storage objects it names; {} when it is not minted there."""
    try:
        doc = history(studio, net, token_id, coll.address)
    except LatentmintError:
        return {}
    return {"owner": doc["owner"], "creator": doc["creator"], "collection": doc["collection"], "events": doc["events"], "mint_tx": doc["events"][0]["tx"] if doc["events"] else None, "objects": _objects(studio, doc["token_uri"])}


def _objects(studio: Studio, uri: str) -> list[dict[str, str]]:
    """The token's metadata (read, every block checked against its CID) and the image CID it names."""
    from latentmint.chain.events import METADATA_LIMIT
    from latentmint.storage.store import open_store

    if not isinstance(uri, str) or not uri.startswith("ipfs://"):
        return []
    cid = uri.removeprefix("ipfs://")
    found = [{"what": "metadata", "cid": cid}]
    try:
        meta = json.loads(open_store(studio).cat(cid, limit=METADATA_LIMIT))
    except ValueError:
        return [{**found[0], "error": "not JSON"}]
    image = meta.get("image") if isinstance(meta, dict) else None
    if isinstance(image, str) and image.startswith("ipfs://"):
        found.append({"what": "image", "cid": image.removeprefix("ipfs://")})
    return found


MAX_PIXELS = 40_000_000  # per image (or video frame): a 20 KB PNG can claim 13000 x 13000 px


def check_pixels(data: bytes, name: str, limit: int = MAX_PIXELS) -> None:
    """Refuse an image whose header claims more than `limit` pixels, before anything decodes it."""
    from latentmint.images import media_size

    width, height = media_size(data, name)
    if width * height > limit:
        raise LatentmintError(f"{name}: {width} x {height} pixels, above the {limit:,} pixels verification reads; refused before decoding")


def verify_bytes(studio: Studio, net: Network, data: bytes, name: str, trust_anchors: str = "", extra_collections: list[str] = (), nothing_minted_is_unknown: bool = False) -> Verification:
    """The verdict on `data`. With no collection to check against, the CLI explains (an error); a gallery
    visitor (`nothing_minted_is_unknown`) gets UNKNOWN with the reason, and the file's own credentials."""
    check_pixels(data, name)
    collections = _collections(studio, net, list(extra_collections))
    if not collections:
        if not nothing_minted_is_unknown:
            raise LatentmintError(f"{net.name}: no collection to verify against; mint first or pass --collection ADDRESS")
        suffix = Path(name).suffix.lower()
        credentials = inspect_bytes(data, MIME_TYPES[suffix], trust_anchors).to_json() if suffix in MIME_TYPES else None
        return Verification("UNKNOWN", None, None, None, "this studio has minted nothing yet on this chain, so no file can be one of its tokens", credentials=credentials)
    token_id = int(hashlib.sha256(data).hexdigest(), 16)
    suffix = Path(name).suffix.lower()
    credentials = inspect_bytes(data, MIME_TYPES[suffix], trust_anchors).to_json() if suffix in MIME_TYPES else None
    for coll in collections:
        facts = _token_facts(studio, net, coll, token_id)
        if facts:
            valid = credentials and credentials["credentials"] == "valid"
            reason = "the exact minted bytes" + ("; content credentials valid" if valid else "; no valid content credentials inside")
            return Verification("AUTHENTIC", token_id, facts["owner"], facts["creator"], reason, facts["collection"], 1.0, credentials, facts["mint_tx"], facts["events"], facts["objects"])
    from latentmint.art.fingerprint import still

    known = known_tokens(studio, net, collections)
    key, score = known.index.match(still(data, name))
    tampered = bool(credentials and credentials["credentials"] == "invalid" and "changed after it was signed" in (credentials["reason"] or ""))
    if tampered and not key:  # the file's own (broken) manifest still says which work it claims to be
        key = known.by_work.get(((credentials.get("record") or {}).get("work") or {}).get("id"))
    copied, facts = None, {}
    if key:
        address, token = key.split(":")
        copied = int(token)
        facts = _token_facts(studio, net, contract(net, COLLECTION, address), copied)
    partial = f" ({len(known.missing)} tokens' metadata were not in the store)" if known.missing else ""
    if tampered:
        what = f" of token {hex(copied)}" if copied is not None else ""
        return Verification("TAMPERED", copied, facts.get("owner"), facts.get("creator"), f"content credentials present but the content changed after signing{what}", facts.get("collection"), round(score, 3), credentials)
    if copied is not None and facts:
        return Verification("COPY", copied, facts["owner"], facts["creator"], f"not the minted file: a copy of token {hex(copied)} (similarity {score:.2f}); the original is held by {facts['owner']}", facts["collection"], round(score, 3), credentials, facts["mint_tx"], facts["events"], facts["objects"])
    return Verification("UNKNOWN", None, None, None, f"neither minted nor a copy of any of {len(known.index.keys)} minted works (best similarity {score:.2f}){partial}", None, round(score, 3), credentials)


def verify_file(studio: Studio, net: Network, path: Path, trust_anchors: str = "", extra_collections: list[str] = ()) -> Verification:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LatentmintError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    return verify_bytes(studio, net, data, path.name, trust_anchors, extra_collections)


def cache_root() -> Path:
    """Where verification without a studio keeps what it read (LATENTMINT_CACHE, else the user's cache folder)."""
    if os.environ.get("LATENTMINT_CACHE"):
        return Path(os.environ["LATENTMINT_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "latentmint"


def verify_cache(network: str, collections: list[str]) -> Studio:
    """A studio-shaped cache for a stranger's verification: the chain index and every fetched block are kept
    (they survive restarts), keyed by the RPC URL and collections; nothing in it is ever trusted unchecked."""
    from latentmint.studio import init_studio, set_settings

    if not network.startswith(("http://", "https://")):
        raise LatentmintError(f"{network!r}: without a studio, --network must be an http(s) JSON-RPC URL")
    if not collections:
        raise LatentmintError("without a studio, name the collection to check: --collection ADDRESS")
    key = hashlib.sha256("\n".join([network, *sorted(c.lower() for c in collections)]).encode()).hexdigest()[:16]
    return set_settings(init_studio(cache_root() / "verify" / key), {"chain": {"network": network}})


def with_ipfs(studio: Studio, ipfs: str) -> Studio:
    """The studio reading missing blocks from `ipfs` for this call only: a Kubo RPC API (a URL ending in
    /api/v0) or an HTTP gateway. latentmint.toml is not changed."""
    from dataclasses import replace

    url = ipfs.rstrip("/")
    storage = {**studio.settings.get("storage", {}), **({"kubo_url": url.removesuffix("/api/v0")} if url.endswith("/api/v0") else {"gateway": url})}
    return replace(studio, settings={**studio.settings, "storage": storage})
