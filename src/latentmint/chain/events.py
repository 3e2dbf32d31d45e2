"""What latentmint reads back from a chain, indexed once: every Transfer of the collections it knows, every
Sold of its market, the block times, and each minted token's metadata properties (work ID, fingerprint).

Kept in chain/events-<chain>.json and topped up from the last block scanned per contract, so history and
verification cost a file read plus the new blocks, not a scan of the whole chain each time (eth_getLogs on
the embedded chain walks every block in Python). Writes are atomic; a stale or damaged index is rebuilt.
A token's metadata CID is read from its mint transaction's calldata (one read per transaction, checked
against tokenURI for its first token) rather than one tokenURI call per token; EIP-4906 MetadataUpdate
events make the index read an updated token's metadata again.

Public RPC providers limit eth_getLogs: the index starts at each contract's deployment block, asks for at
most MAX_RANGE blocks a call, halves the range when a provider says it is too large or returns too many
results, and the HTTP provider retries rate-limited (429) reads with backoff. Each top-up re-reads the last
REORG_DEPTH blocks, so a reorganisation of the chain's tip replaces what it changed.
"""

from __future__ import annotations

import json
from typing import Any

from eth_utils import keccak

from latentmint.chain.network import Network, checksummed, hexstr
from latentmint.errors import LatentmintError
from latentmint.files import atomic_write_json
from latentmint.storage.cid import raw_cid_from_digest
from latentmint.studio import Studio

FORMAT = 3  # 3: the market's auctions, bids, offers and lazy mints too
MAX_RANGE = 2000  # blocks per eth_getLogs call: what public providers accept
REORG_DEPTH = 12  # blocks re-read on every top-up
RANGE_REFUSALS = ("range", "too many", "more than", "too large", "exceed", "limit", "10000 results", "response size")
METADATA_LIMIT = 1 << 20  # token metadata is a few KiB; a fingerprint adds about 10 KiB
ZERO = "0x" + "00" * 20
_MEMO: dict[str, tuple[int, ChainIndex]] = {}  # a server answers many requests between blocks


class ChainIndex:
    def __init__(self, studio: Studio, net: Network) -> None:
        self.path = studio.chain / f"events-{net.key.replace(':', '-')}.json"
        self.studio, self.net = studio, net
        try:
            doc = json.loads(self.path.read_text())
        except (OSError, ValueError):
            doc = {}
        if doc.get("format") != FORMAT or not self._same_chain(doc.get("head")):
            doc = {"format": FORMAT, "head": None, "scanned": {}, "transfers": {}, "sales": {}, "market": {}, "times": {}, "tokens": {}}
        self.doc = doc

    def _same_chain(self, head: dict[str, Any] | None) -> bool:
        """The block REORG_DEPTH below the last one indexed is still there with the same hash: the tip may have
        been reorganised (top_up re-reads it), but a reset dev node is a new chain and the index starts over."""
        if not head:
            return True
        anchor = head.get("anchor") or head
        try:
            return hexstr(self.net.w3.eth.get_block(anchor["number"])["hash"]) == anchor["hash"]
        except Exception:  # the block does not exist any more: web3 raises BlockNotFound, nodes vary
            return False

    @classmethod
    def open(cls, studio: Studio, net: Network, collections: list[Any], market: Any | None = None) -> ChainIndex:
        """The index for this chain, topped up to the latest block for these contracts."""
        head = net.w3.eth.block_number
        key = str(studio.chain / f"events-{net.key.replace(':', '-')}.json")
        memo = _MEMO.get(key)
        index = memo[1] if memo and memo[0] == head else cls(studio, net)
        if index.top_up(head, collections, market) or not memo or memo[0] != head:
            _MEMO[key] = (head, index)
        return index

    def top_up(self, head: int, collections: list[Any], market: Any | None) -> bool:
        from latentmint.storage.store import open_store

        d, changed, blocks = self.doc, False, set()
        head_hash = hexstr(self.net.w3.eth.get_block(head)["hash"])
        moved = bool(d["head"]) and (d["head"]["number"] != head or d["head"]["hash"] != head_hash)
        store = open_store(self.studio)
        for coll in collections:
            for key in [k for k, v in d["tokens"].items() if v is None and k.startswith(f"{coll.address}:")]:
                d["tokens"][key] = _properties(store, coll, int(key.split(":")[1]))  # unreachable last time: try again
                changed = changed or d["tokens"][key] is not None
            first = self._rescan_from(coll.address, head, moved)
            if first is None:
                continue
            self._forget_transfers(coll.address, first)
            minted: dict[int, str] = {}  # token -> its mint transaction, for tokens not indexed yet
            updated: set[int] = set()
            for log in _token_logs(self.net, coll, first, head):
                if log["event"] == "MetadataUpdate":
                    updated.add(log["token"])
                    continue
                token, key = log["token"], f"{coll.address}:{log['token']}"
                d["transfers"].setdefault(key, []).append({k: log[k] for k in ("from", "to", "tx", "block", "log")})
                blocks.add(log["block"])
                if int(log["from"], 16) == 0 and key not in d["tokens"]:
                    minted[token] = log["tx"]
            digests = _mint_digests(self.net, coll, set(minted.values()))
            for token in [*minted, *(t for t in updated if f"{coll.address}:{t}" in d["tokens"] and t not in minted)]:
                known = digests.get(token) if token not in updated else None  # updated since its mint: ask the contract
                d["tokens"][f"{coll.address}:{token}"] = _properties(store, coll, token, f"ipfs://{raw_cid_from_digest(known)}" if known else None)
            d["scanned"][coll.address] = head
            changed = True
        if market is not None and (first := self._rescan_from(market.address, head, moved)) is not None:
            d["sales"] = {tx: sale for tx, sale in d["sales"].items() if sale.get("block", 0) < first}
            d["market"] = {k: kept for k, v in d["market"].items() if (kept := [e for e in v if e["block"] < first])}
            for log in contract_logs_in_ranges(self.net, market, first, head):  # one ranged read for every kind of event
                a, name = log["args"], log["event"]
                if name == "Sold":
                    d["sales"][hexstr(log["transactionHash"])] = {"collection": a["collection"], "token_id": str(a["tokenId"]), "price_wei": a["price"], "royalty_wei": a["royalty"], "royalty_receiver": a["royaltyReceiver"], "seller": a["seller"], "buyer": a["buyer"], "block": log["blockNumber"]}
                elif name in MARKET_EVENTS:
                    kind, who, amount = MARKET_EVENTS[name]
                    event = {"event": kind, "from": a[who], "to": market.address, "tx": hexstr(log["transactionHash"]), "block": log["blockNumber"], "log": log["logIndex"]}
                    d["market"].setdefault(f"{a['collection']}:{a['tokenId']}", []).append({**event, "price_wei": a[amount]} if amount else event)
                    blocks.add(log["blockNumber"])
            d["scanned"][market.address] = head
            changed = True
        for block in blocks - {int(b) for b in d["times"]}:
            d["times"][str(block)] = self.net.w3.eth.get_block(block)["timestamp"]
        if changed:
            anchor = max(0, head - REORG_DEPTH)
            d["head"] = {"number": head, "hash": head_hash, "anchor": {"number": anchor, "hash": hexstr(self.net.w3.eth.get_block(anchor)["hash"])}}
            atomic_write_json(self.path, d)
        return changed

    def _rescan_from(self, address: str, head: int, moved: bool) -> int | None:
        """The first block to (re)read for `address`: its deployment on first sight, else the last REORG_DEPTH
        blocks before what was scanned; None when the chain has not moved since."""
        seen = self.doc["scanned"].get(address)
        if seen is not None and head <= seen and not moved:
            return None
        start = self.doc.setdefault("starts", {}).get(address)
        if start is None:
            start = self.doc["starts"][address] = deployment_block(self.studio, self.net, address, head)
        return start if seen is None else max(start, min(seen + 1, head + 1) - REORG_DEPTH)

    def _forget_transfers(self, address: str, first: int) -> None:
        """Drop what was indexed for `address` at or after block `first` (it is about to be read again)."""
        for key in [k for k in self.doc["transfers"] if k.startswith(f"{address}:")]:
            kept = [t for t in self.doc["transfers"][key] if t["block"] < first]
            if kept:
                self.doc["transfers"][key] = kept
            else:
                del self.doc["transfers"][key]
                self.doc["tokens"].pop(key, None)

    def events(self, collection: str, token_id: int, market: str | None = None) -> list[dict[str, Any]]:
        """Mint (or lazy mint), transfers, listings, auctions, bids, offers and sales of a token, oldest first, with
        block times and prices. A listed or auctioned token waits in `market`'s escrow: into it is "listed" (or
        "escrow" for an auction), out of it a "sale" or "unlisted"."""
        own = [{**e, "time": self.doc["times"].get(str(e["block"]))} for e in self.doc["market"].get(f"{collection}:{token_id}", [])]
        txs = {kind: {e["tx"] for e in own if e["event"] == kind} for kind in ("lazy", "auction")}
        out = [e for e in own if e["event"] != "lazy"]
        for t in self.doc["transfers"].get(f"{collection}:{token_id}", []):
            sale = self.doc["sales"].get(t["tx"])
            if int(t["from"], 16) == 0:
                kind = "lazy mint" if t["tx"] in txs["lazy"] else "mint"
            elif market and t["to"] == market and t["tx"] in txs["auction"]:
                kind = "escrow"
            elif sale:
                kind = "sale"
            elif market and t["to"] == market:
                kind = "listed"
            elif market and t["from"] == market:
                kind = "unlisted"
            else:
                kind = "transfer"
            event = {"event": kind, **t, "time": self.doc["times"].get(str(t["block"]))}
            if sale:
                event.update({k: sale[k] for k in ("price_wei", "royalty_wei", "royalty_receiver")})
                event["from"] = sale["seller"]  # the token left the market's escrow; the seller sold it
            out.append(event)
        return sorted(out, key=lambda e: (e["block"], e.get("log", 0)))

    def tokens(self) -> dict[str, dict[str, Any]]:
        """"collection:tokenId" -> the metadata properties read at mint ({} where the store lacked them)."""
        return {k: v or {} for k, v in self.doc["tokens"].items()}


def deployment_block(studio: Studio, net: Network, address: str, head: int) -> int:
    """The block a contract was deployed in: recorded at deploy (chain/deployments.json), else found by a
    binary search on eth_getCode at past blocks, within the history the node keeps (0 when it cannot tell:
    the ranged reads then start at genesis)."""
    from latentmint.chain.mint import _deployments

    known = _deployments(studio).get(net.key) or {}
    for role, block_key in (("collection", "block"), ("market", "market_block")):
        if known.get(role) == address and isinstance(known.get(block_key), int):
            return known[block_key]
    def has_code(block: int) -> bool:  # raises where the node keeps no state for that block
        return net.w3.eth.get_code(address, block) not in (b"", "0x")

    try:
        try:
            if has_code(0):
                return 0
            lo = 0
        except Exception:  # a pruned node: find the oldest block it still has state for
            missing, kept = 0, head
            while kept - missing > 1:
                mid = (missing + kept) // 2
                try:
                    has_code(mid)
                    kept = mid
                except Exception:
                    missing = mid
            if has_code(kept):
                return 0  # deployed before any state the node keeps: read from genesis, in ranges
            lo = kept
        hi = head  # no code at lo, code at hi
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if has_code(mid):
                hi = mid
            else:
                lo = mid
        return hi
    except Exception:  # the node cannot answer at all: read from genesis, in ranges
        return 0


def logs_in_ranges(event: Any, first: int, last: int, max_range: int = MAX_RANGE, argument_filters: dict[str, Any] | None = None) -> Any:
    """The event's logs from block `first` to `last`, in ranges of at most `max_range` blocks, halving the range
    while the provider refuses it as too large (or as returning too many results)."""
    yield from _ranged(lambda lo, hi: event.get_logs(from_block=lo, to_block=hi, argument_filters=argument_filters), f"{event.event_name} logs", first, last, max_range)


def _ranged(fetch: Any, what: str, first: int, last: int, max_range: int) -> Any:
    step, lo = max_range, first
    while lo <= last:
        hi = min(last, lo + step - 1)
        try:
            logs = fetch(lo, hi)
        except Exception as exc:
            message = str(exc).lower()
            if step > 1 and any(word in message for word in RANGE_REFUSALS):
                step //= 2
                continue
            raise LatentmintError(f"reading {what} of blocks {lo}-{hi}: {str(exc)[:200]}") from exc
        yield from logs
        lo = hi + 1


# The market's events beyond Sold, as history shows them: (kind, who, amount field).
MARKET_EVENTS = {"AuctionCreated": ("auction", "seller", "reserve"), "BidPlaced": ("bid", "bidder", "amount"), "OfferMade": ("offer", "buyer", "amount"), "OfferWithdrawn": ("offer withdrawn", "buyer", "amount"), "LazyMinted": ("lazy", "signer", None)}


def contract_logs_in_ranges(net: Network, contract: Any, first: int, last: int, max_range: int = MAX_RANGE) -> Any:
    """Every event the contract emitted from block `first` to `last`, decoded, read in ranges as logs_in_ranges
    reads one kind: one eth_getLogs per range where one per kind of event would cost one each."""
    from eth_utils import event_abi_to_log_topic

    kinds = {event_abi_to_log_topic(item): getattr(contract.events, item["name"]) for item in contract.abi if item.get("type") == "event"}
    for raw in _ranged(lambda lo, hi: net.w3.eth.get_logs({"address": contract.address, "fromBlock": lo, "toBlock": hi}), f"{contract.address} logs", first, last, max_range):
        kind = kinds.get(bytes(raw["topics"][0])) if raw["topics"] else None
        if kind is not None:
            yield kind().process_log(raw)


TRANSFER = "0x" + keccak(text="Transfer(address,address,uint256)").hex()  # ERC-721: from, to and tokenId all indexed
METADATA_UPDATE = "0x" + keccak(text="MetadataUpdate(uint256)").hex()  # EIP-4906: tokenId in the data


def _token_logs(net: Network, coll: Any, first: int, last: int) -> Any:
    """The collection's Transfer and MetadataUpdate events from `first` to `last` in one ranged read, decoded
    by hand: web3's generic event decoding costs more than the read itself at 10,000 mints."""
    query = lambda lo, hi: net.w3.eth.get_logs({"address": coll.address, "fromBlock": lo, "toBlock": hi, "topics": [[TRANSFER, METADATA_UPDATE]]})  # noqa: E731
    for raw in _ranged(query, f"{coll.address} Transfer logs", first, last, MAX_RANGE):
        topics, where = [hexstr(t) for t in raw["topics"]], {"tx": hexstr(raw["transactionHash"]), "block": raw["blockNumber"], "log": raw["logIndex"]}
        if topics[0] == TRANSFER and len(topics) == 4:
            yield {"event": "Transfer", "from": checksummed("0x" + topics[1][-40:]), "to": checksummed("0x" + topics[2][-40:]), "token": int(topics[3], 16), **where}
        elif topics[0] == METADATA_UPDATE and len(bytes(raw["data"])) == 32:
            yield {"event": "MetadataUpdate", "token": int.from_bytes(bytes(raw["data"]), "big"), **where}


def _is_ours(net: Network, coll: Any) -> bool:
    """Is the contract at `coll` latentmint's own collection code (immutables aside)? Then its tokenURI is, by
    that code, ipfs://<the digest its mint calldata carried>, and the calldata alone says each token's metadata.
    Read afresh each time (one eth_getCode): a reset dev chain may hold other code at the same address."""
    from latentmint.chain.mint import COLLECTION
    from latentmint.chain.network import artifact

    art = artifact(COLLECTION)
    code, want = bytearray(net.w3.eth.get_code(coll.address)), bytes.fromhex(art["deployedBytecode"].removeprefix("0x"))
    for start, length in art.get("immutableRanges", []):
        code[start : start + length] = bytes(length)
    return bytes(code) == want


def _mint_digests(net: Network, coll: Any, txs: set[str]) -> dict[int, bytes]:
    """token id -> metadata digest, decoded from the calldata of the mint transactions (`mint`, `mintBatch`):
    one read per transaction instead of one tokenURI call per token (10,000 calls take minutes on the embedded
    chain). A transaction counts only if it called the collection directly and the contract is latentmint's own
    code or its tokenURI for the transaction's first token names the decoded digest; the rest (a multisig,
    another contract) are left to tokenURI."""
    out: dict[int, bytes] = {}
    ours = _is_ours(net, coll) if txs else False
    for tx in txs:
        try:
            sent = net.w3.eth.get_transaction(tx)
            if str(sent.get("to") or "").lower() != coll.address.lower():
                continue
            function, args = coll.decode_function_input(sent["input"])
            if function.fn_name == "mintBatch":
                pairs = [(int.from_bytes(h, "big"), bytes(m)) for h, m in zip(args["contentHashes"], args["metadataDigests"])]
            elif function.fn_name == "mint":
                pairs = [(int.from_bytes(args["contentHash"], "big"), bytes(args["digest"]))]
            else:
                continue
            if pairs and (ours or coll.functions.tokenURI(pairs[0][0]).call() == f"ipfs://{raw_cid_from_digest(pairs[0][1])}"):
                out.update(pairs)
        except Exception:  # not ours to decode (another ABI, a pruned node): tokenURI per token instead
            continue
    return out


def _properties(store: Any, coll: Any, token_id: int, uri: str | None = None) -> dict[str, Any] | None:
    """The token's metadata properties; {} when it has none we can read, None when its blocks could not be
    fetched (tried again on the next top-up). A gateway that sends wrong bytes is an error, not a gap."""
    from latentmint.storage.store import UntrustedBlock

    uri = uri or coll.functions.tokenURI(token_id).call()  # untrusted: the store validates the CID and caps the read
    if not isinstance(uri, str) or not uri.startswith("ipfs://"):
        return {}
    try:
        meta = json.loads(store.cat(uri.removeprefix("ipfs://"), limit=METADATA_LIMIT))
    except UntrustedBlock:
        raise
    except LatentmintError:
        return None if (store.gateway or store.kubo_url) else {}  # not in the store (e.g. only on IPFS elsewhere)
    except (ValueError, RecursionError):
        return {}  # not metadata at all
    properties = meta.get("properties") if isinstance(meta, dict) else None
    return dict(properties) if isinstance(properties, dict) else {}
