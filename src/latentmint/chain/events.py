"""What latentmint reads back from a chain, indexed once: every Transfer of the collections it knows, every
Sold of its market, the block times, and each minted token's metadata properties (work ID, fingerprint).

Kept in chain/events-<chain>.json and topped up from the last block scanned per contract, so history and
verification cost a file read plus the new blocks, not a scan of the whole chain each time (eth_getLogs on
the embedded chain walks every block in Python; on a node it is one request per top-up either way).
Writes are atomic; a stale or damaged index is rebuilt.
"""

from __future__ import annotations

import json
from typing import Any

from latentmint.chain.network import Network, hexstr
from latentmint.errors import LatentmintError
from latentmint.files import atomic_write_json
from latentmint.studio import Studio

FORMAT = 1
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
            doc = {"format": FORMAT, "head": None, "scanned": {}, "transfers": {}, "sales": {}, "times": {}, "tokens": {}}
        self.doc = doc

    def _same_chain(self, head: dict[str, Any] | None) -> bool:
        """The block the index last saw is still there with the same hash (a reset dev node is a new chain)."""
        if not head:
            return True
        try:
            return hexstr(self.net.w3.eth.get_block(head["number"])["hash"]) == head["hash"]
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
        for coll in collections:
            seen = d["scanned"].get(coll.address, -1)
            if head <= seen:
                continue
            store = open_store(self.studio)
            for log in coll.events.Transfer().get_logs(from_block=seen + 1, to_block=head):
                a, token = log["args"], log["args"]["tokenId"]
                key = f"{coll.address}:{token}"
                d["transfers"].setdefault(key, []).append({"from": a["from"], "to": a["to"], "tx": hexstr(log["transactionHash"]), "block": log["blockNumber"]})
                blocks.add(log["blockNumber"])
                if int(a["from"], 16) == 0:
                    d["tokens"][key] = _properties(store, coll, token)
            d["scanned"][coll.address] = head
            changed = True
        if market is not None and head > d["scanned"].get(market.address, -1):
            for log in market.events.Sold().get_logs(from_block=d["scanned"].get(market.address, -1) + 1, to_block=head):
                a = log["args"]
                d["sales"][hexstr(log["transactionHash"])] = {"collection": a["collection"], "token_id": str(a["tokenId"]), "price_wei": a["price"], "royalty_wei": a["royalty"], "royalty_receiver": a["royaltyReceiver"], "seller": a["seller"], "buyer": a["buyer"]}
            d["scanned"][market.address] = head
            changed = True
        for block in blocks - {int(b) for b in d["times"]}:
            d["times"][str(block)] = self.net.w3.eth.get_block(block)["timestamp"]
        if changed:
            d["head"] = {"number": head, "hash": hexstr(self.net.w3.eth.get_block(head)["hash"])}
            atomic_write_json(self.path, d)
        return changed

    def events(self, collection: str, token_id: int, market: str | None = None) -> list[dict[str, Any]]:
        """Mint, transfers, listings and sales of a token, oldest first, with block times and sale prices.
        A listed token waits in `market`'s escrow: into it is "listed", out of it a "sale" or "unlisted"."""
        out = []
        for t in self.doc["transfers"].get(f"{collection}:{token_id}", []):
            sale = self.doc["sales"].get(t["tx"])
            if int(t["from"], 16) == 0:
                kind = "mint"
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
        return out

    def tokens(self) -> dict[str, dict[str, Any]]:
        """"collection:tokenId" -> the metadata properties read at mint ({} where the store lacked them)."""
        return self.doc["tokens"]


def _properties(store: Any, coll: Any, token_id: int) -> dict[str, Any]:
    uri = coll.functions.tokenURI(token_id).call()  # untrusted: the store validates the CID and caps the read
    if not isinstance(uri, str) or not uri.startswith("ipfs://"):
        return {}
    try:
        meta = json.loads(store.cat(uri.removeprefix("ipfs://"), limit=METADATA_LIMIT))
    except (LatentmintError, ValueError, RecursionError):
        return {}  # metadata not in this store (e.g. only on IPFS elsewhere), or not metadata at all
    properties = meta.get("properties") if isinstance(meta, dict) else None
    return dict(properties) if isinstance(properties, dict) else {}
