"""What latentmint reads back from a chain, indexed once: every Transfer of the collections it knows, every
Sold of its market, the block times, and each minted token's metadata properties (work ID, fingerprint).

Kept in chain/events-<chain>.sqlite and topped up from the last block scanned per contract, so history and
verification cost an indexed lookup plus the new blocks, not a scan of the whole chain each time, and opening
it costs the same at a million tokens as at ten. Each top-up is one transaction (a crash leaves the index as it
was); a stale or damaged index is rebuilt.
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
import sqlite3
from typing import TYPE_CHECKING, Any

from eth_utils import keccak

from latentmint.art.fingerprint import fingerprint_bytes
from latentmint.chain.network import Network, checksummed, hexstr
from latentmint.errors import LatentmintError
from latentmint.storage.cid import raw_cid_from_digest
from latentmint.studio import Studio

FORMAT = 4  # 3: the market's auctions, bids, offers and lazy mints too; 4: SQLite, fingerprints apart
if TYPE_CHECKING:
    import numpy as np

MAX_RANGE = 2000  # blocks per eth_getLogs call: what public providers accept
REORG_DEPTH = 12  # blocks re-read on every top-up
RANGE_REFUSALS = ("range", "too many", "more than", "too large", "exceed", "limit", "10000 results", "response size")
METADATA_LIMIT = 1 << 20  # token metadata is a few KiB; a fingerprint adds about 10 KiB
ZERO = "0x" + "00" * 20


SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE contracts (address TEXT PRIMARY KEY, start INTEGER NOT NULL, scanned INTEGER);
CREATE TABLE transfers (collection TEXT NOT NULL, token TEXT NOT NULL, sender TEXT NOT NULL, receiver TEXT NOT NULL, tx TEXT NOT NULL, block INTEGER NOT NULL, log INTEGER NOT NULL);
CREATE INDEX transfers_token ON transfers (collection, token);
CREATE INDEX transfers_block ON transfers (collection, block);
CREATE TABLE tokens (collection TEXT NOT NULL, token TEXT NOT NULL, properties TEXT, work TEXT, fingerprinted INTEGER NOT NULL, PRIMARY KEY (collection, token));
CREATE INDEX tokens_unread ON tokens (collection) WHERE properties IS NULL;
CREATE TABLE fingerprints (collection TEXT NOT NULL, token TEXT NOT NULL, fingerprint BLOB NOT NULL, PRIMARY KEY (collection, token));
CREATE TABLE sales (tx TEXT PRIMARY KEY, block INTEGER NOT NULL, sale TEXT NOT NULL);
CREATE TABLE market (collection TEXT NOT NULL, token TEXT NOT NULL, block INTEGER NOT NULL, event TEXT NOT NULL);
CREATE INDEX market_token ON market (collection, token);
CREATE TABLE times (block INTEGER PRIMARY KEY, time INTEGER NOT NULL);
"""
# Token ids are uint256: kept as decimal text. `tokens.properties` is NULL while a token's metadata could not be
# fetched (tried again on the next top-up). Fingerprints (3 KB each, the raw int8 signature) have their own table,
# so that the tokens table stays small to scan, an exact verification never reads one, and a copy search reads
# them all in one sequential query.


class ChainIndex:
    """The index of one chain in chain/events-<chain>.sqlite: opened in milliseconds however many tokens it holds,
    and each top-up one transaction (a crash keeps the index as it was before it)."""

    def __init__(self, studio: Studio, net: Network) -> None:
        self.path = studio.chain / f"events-{net.key.replace(':', '-')}.sqlite"
        self.studio, self.net = studio, net
        studio.chain.mkdir(parents=True, exist_ok=True)
        self.path.with_suffix(".json").unlink(missing_ok=True)  # an older latentmint's index
        try:
            self.db = self._connect()
        except sqlite3.DatabaseError:  # damaged: it is derived data, rebuilt from the chain
            self.path.unlink(missing_ok=True)
            self.db = self._connect()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        has_meta = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
        if not has_meta or _meta(db, "format") != FORMAT or not self._same_chain(db):
            tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            drops = "".join(f"DROP TABLE IF EXISTS {name};" for name in tables)
            db.executescript(f"BEGIN IMMEDIATE;{drops}{SCHEMA}INSERT INTO meta VALUES ('format', '{FORMAT}');COMMIT;")
        return db

    def _same_chain(self, db: sqlite3.Connection) -> bool:
        """The block REORG_DEPTH below the last one indexed is still there with the same hash: the tip may have
        been reorganised (top_up re-reads it), but a reset dev node is a new chain and the index starts over."""
        head = _meta(db, "head")
        if not head:
            return True
        anchor = head.get("anchor") or head
        try:
            return hexstr(self.net.w3.eth.get_block(anchor["number"])["hash"]) == anchor["hash"]
        except Exception:  # the block does not exist any more: web3 raises BlockNotFound, nodes vary
            return False

    @property
    def version(self) -> int:
        """Counts the top-ups that changed anything (a retried metadata read can, without a new block)."""
        return _meta(self.db, "version") or 0

    @property
    def head(self) -> int | None:
        """The last block indexed."""
        head = _meta(self.db, "head")
        return head["number"] if head else None

    @classmethod
    def open(cls, studio: Studio, net: Network, collections: list[Any], market: Any | None = None) -> ChainIndex:
        """The index for this chain, topped up to the latest block for these contracts."""
        index = cls(studio, net)
        index.top_up(net.w3.eth.block_number, collections, market)
        return index

    def top_up(self, head: int, collections: list[Any], market: Any | None) -> bool:
        """Index the new blocks of these contracts up to `head` in one transaction; False when nothing was new."""
        head_hash = hexstr(self.net.w3.eth.get_block(head)["hash"])
        contracts = [c.address for c in collections] + ([market.address] if market is not None else [])
        if self._current(head, head_hash, contracts):
            return False
        db = self.db
        db.execute("BEGIN IMMEDIATE")  # one writer at a time: a gallery and the CLI may both top up
        try:
            changed = self._top_up(head, head_hash, collections, market)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return changed

    def _current(self, head: int, head_hash: str, contracts: list[str]) -> bool:
        """Nothing to read: the head is the one indexed, every contract is scanned to it, no metadata is missing."""
        known = _meta(self.db, "head")
        if not known or known["number"] != head or known["hash"] != head_hash:
            return False
        marks = ",".join("?" * len(contracts)) or "NULL"
        scanned = self.db.execute(f"SELECT count(*) FROM contracts WHERE address IN ({marks}) AND scanned >= ?", (*contracts, head)).fetchone()[0]
        unreachable = self.db.execute(f"SELECT 1 FROM tokens WHERE collection IN ({marks}) AND properties IS NULL LIMIT 1", contracts).fetchone()
        return scanned == len(set(contracts)) and unreachable is None

    def _top_up(self, head: int, head_hash: str, collections: list[Any], market: Any | None) -> bool:
        from latentmint.storage.store import open_store

        db, changed, blocks = self.db, False, set()
        known = _meta(db, "head")
        moved = bool(known) and (known["number"] != head or known["hash"] != head_hash)
        store = open_store(self.studio)
        for coll in collections:
            a = coll.address
            for (token,) in db.execute("SELECT token FROM tokens WHERE collection = ? AND properties IS NULL", (a,)).fetchall():
                properties = _properties(store, coll, int(token))  # unreachable last time: try again
                if properties is not None:
                    self._put_token(a, token, properties)
                    changed = True
            first = self._rescan_from(a, head, moved)
            if first is None:
                continue
            self._forget(a, first)
            minted: dict[int, str] = {}  # token -> its mint transaction, for tokens not indexed yet
            updated: set[int] = set()
            rows = []
            for log in _token_logs(self.net, coll, first, head):
                if log["event"] == "MetadataUpdate":
                    updated.add(log["token"])
                    continue
                rows.append((a, str(log["token"]), log["from"], log["to"], log["tx"], log["block"], log["log"]))
                blocks.add(log["block"])
                if int(log["from"], 16) == 0:
                    minted[log["token"]] = log["tx"]
            db.executemany("INSERT INTO transfers VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            indexed = {t for t in {*minted, *updated} if db.execute("SELECT 1 FROM tokens WHERE collection = ? AND token = ?", (a, str(t))).fetchone()}
            minted = {t: tx for t, tx in minted.items() if t not in indexed}
            digests = _mint_digests(self.net, coll, set(minted.values()))
            for token in [*minted, *(t for t in updated if t in indexed)]:
                known_digest = digests.get(token) if token not in updated else None  # updated since its mint: ask the contract
                self._put_token(a, str(token), _properties(store, coll, token, f"ipfs://{raw_cid_from_digest(known_digest)}" if known_digest else None))
            db.execute("UPDATE contracts SET scanned = ? WHERE address = ?", (head, a))
            changed = True
        if market is not None and (first := self._rescan_from(market.address, head, moved)) is not None:
            db.execute("DELETE FROM sales WHERE block >= ?", (first,))
            db.execute("DELETE FROM market WHERE block >= ?", (first,))
            for log in contract_logs_in_ranges(self.net, market, first, head):  # one ranged read for every kind of event
                a, name = log["args"], log["event"]
                if name == "Sold":
                    sale = {"collection": a["collection"], "token_id": str(a["tokenId"]), "price_wei": a["price"], "royalty_wei": a["royalty"], "royalty_receiver": a["royaltyReceiver"], "seller": a["seller"], "buyer": a["buyer"], "block": log["blockNumber"]}
                    db.execute("INSERT OR REPLACE INTO sales VALUES (?, ?, ?)", (hexstr(log["transactionHash"]), log["blockNumber"], json.dumps(sale)))
                elif name in MARKET_EVENTS:
                    kind, who, amount = MARKET_EVENTS[name]
                    event = {"event": kind, "from": a[who], "to": market.address, "tx": hexstr(log["transactionHash"]), "block": log["blockNumber"], "log": log["logIndex"]}
                    db.execute("INSERT INTO market VALUES (?, ?, ?, ?)", (a["collection"], str(a["tokenId"]), log["blockNumber"], json.dumps({**event, "price_wei": a[amount]} if amount else event)))
                    blocks.add(log["blockNumber"])
            db.execute("UPDATE contracts SET scanned = ? WHERE address = ?", (head, market.address))
            changed = True
        for block in sorted(blocks):
            if db.execute("SELECT 1 FROM times WHERE block = ?", (block,)).fetchone() is None:
                db.execute("INSERT INTO times VALUES (?, ?)", (block, self.net.w3.eth.get_block(block)["timestamp"]))
        if changed or moved or not known:
            anchor = max(0, head - REORG_DEPTH)
            mark = {"number": head, "hash": head_hash, "anchor": {"number": anchor, "hash": hexstr(self.net.w3.eth.get_block(anchor)["hash"])}}
            db.execute("INSERT OR REPLACE INTO meta VALUES ('head', ?)", (json.dumps(mark),))
        if changed:
            db.execute("INSERT OR REPLACE INTO meta VALUES ('version', ?)", (json.dumps((_meta(db, "version") or 0) + 1),))
        return changed

    def _put_token(self, collection: str, token: str, properties: dict[str, Any] | None) -> None:
        fp = fingerprint_bytes((properties or {}).pop("fingerprint", None))
        work = (properties or {}).get("work")
        self.db.execute("INSERT OR REPLACE INTO tokens VALUES (?, ?, ?, ?, ?)", (collection, token, None if properties is None else json.dumps(properties), work if isinstance(work, str) else None, fp is not None))
        if fp is None:
            self.db.execute("DELETE FROM fingerprints WHERE collection = ? AND token = ?", (collection, token))
        else:
            self.db.execute("INSERT OR REPLACE INTO fingerprints VALUES (?, ?, ?)", (collection, token, fp))

    def _rescan_from(self, address: str, head: int, moved: bool) -> int | None:
        """The first block to (re)read for `address`: its deployment on first sight, else the last REORG_DEPTH
        blocks before what was scanned; None when the chain has not moved since."""
        row = self.db.execute("SELECT start, scanned FROM contracts WHERE address = ?", (address,)).fetchone()
        if row is None:
            row = (deployment_block(self.studio, self.net, address, head), None)
            self.db.execute("INSERT INTO contracts VALUES (?, ?, NULL)", (address, row[0]))
        start, seen = row
        if seen is not None and head <= seen and not moved:
            return None
        return start if seen is None else max(start, min(seen + 1, head + 1) - REORG_DEPTH)

    def _forget(self, address: str, first: int) -> None:
        """Drop what was indexed for `address` at or after block `first` (it is about to be read again): its
        transfers, and the tokens left with none (a mint the chain no longer has)."""
        db = self.db
        touched = [t for (t,) in db.execute("SELECT DISTINCT token FROM transfers WHERE collection = ? AND block >= ?", (address, first)).fetchall()]
        db.execute("DELETE FROM transfers WHERE collection = ? AND block >= ?", (address, first))
        for token in touched:
            if db.execute("SELECT 1 FROM transfers WHERE collection = ? AND token = ?", (address, token)).fetchone() is None:
                db.execute("DELETE FROM tokens WHERE collection = ? AND token = ?", (address, token))
                db.execute("DELETE FROM fingerprints WHERE collection = ? AND token = ?", (address, token))

    def market_events(self, collection: str, token_id: int) -> list[dict[str, Any]]:
        """The market's events about a token (listings aside: those are transfers), oldest first."""
        rows = self.db.execute("SELECT event FROM market WHERE collection = ? AND token = ? ORDER BY rowid", (collection, str(token_id)))
        return [json.loads(event) for (event,) in rows]

    def _time(self, block: int) -> int | None:
        row = self.db.execute("SELECT time FROM times WHERE block = ?", (block,)).fetchone()
        return row[0] if row else None

    def events(self, collection: str, token_id: int, market: str | None = None) -> list[dict[str, Any]]:
        """Mint (or lazy mint), transfers, listings, auctions, bids, offers and sales of a token, oldest first, with
        block times and prices. A listed or auctioned token waits in `market`'s escrow: into it is "listed" (or
        "escrow" for an auction), out of it a "sale" or "unlisted"."""
        own = [{**e, "time": self._time(e["block"])} for e in self.market_events(collection, token_id)]
        txs = {kind: {e["tx"] for e in own if e["event"] == kind} for kind in ("lazy", "auction")}
        out = [e for e in own if e["event"] != "lazy"]
        rows = self.db.execute("SELECT sender, receiver, tx, block, log FROM transfers WHERE collection = ? AND token = ?", (collection, str(token_id)))
        for sender, receiver, tx, block, log in sorted(rows, key=lambda r: (r[3], r[4])):  # sorted here: an ORDER BY leads SQLite to scan by block
            t = {"from": sender, "to": receiver, "tx": tx, "block": block, "log": log}
            found = self.db.execute("SELECT sale FROM sales WHERE tx = ?", (tx,)).fetchone()
            sale = json.loads(found[0]) if found else None
            if int(sender, 16) == 0:
                kind = "lazy mint" if tx in txs["lazy"] else "mint"
            elif market and receiver == market and tx in txs["auction"]:
                kind = "escrow"
            elif sale:
                kind = "sale"
            elif market and receiver == market:
                kind = "listed"
            elif market and sender == market:
                kind = "unlisted"
            else:
                kind = "transfer"
            event = {"event": kind, **t, "time": self._time(block)}
            if sale:
                event.update({k: sale[k] for k in ("price_wei", "royalty_wei", "royalty_receiver")})
                event["from"] = sale["seller"]  # the token left the market's escrow; the seller sold it
            out.append(event)
        return sorted(out, key=lambda e: (e["block"], e.get("log", 0)))

    def tokens(self) -> dict[str, dict[str, Any]]:
        """"collection:tokenId" -> the metadata properties read at mint, fingerprint aside ({} where the store lacked them)."""
        return {f"{c}:{t}": json.loads(p) if p else {} for c, t, p in self.db.execute("SELECT collection, token, properties FROM tokens ORDER BY rowid")}

    def works(self) -> dict[str, str]:
        """Work ID (from a token's metadata) -> "collection:tokenId", the first token minted of each."""
        out: dict[str, str] = {}
        for work, c, t in self.db.execute("SELECT work, collection, token FROM tokens WHERE work IS NOT NULL ORDER BY rowid"):
            out.setdefault(work, f"{c}:{t}")
        return out

    def fingerprints(self) -> tuple[list[str], np.ndarray]:
        """The tokens whose metadata carries a current fingerprint, and those fingerprints as one (N, CHANNELS,
        SIDE, SIDE) int8 array, read in one snapshot straight into place (3 GB at a million works, not twice that)."""
        import numpy as np

        from latentmint.art.fingerprint import CHANNELS, SIDE

        self.db.execute("BEGIN")  # the count and the rows from the same snapshot while a top-up may be writing
        try:
            count = self.db.execute("SELECT count(*) FROM fingerprints").fetchone()[0]
            keys, bank = [], np.empty((count, CHANNELS * SIDE * SIDE), np.int8)
            for i, (c, t, fp) in enumerate(self.db.execute("SELECT collection, token, fingerprint FROM fingerprints ORDER BY rowid")):
                keys.append(f"{c}:{t}")
                bank[i] = np.frombuffer(fp, np.int8)
        finally:
            self.db.execute("COMMIT")
        return keys, bank.reshape(count, CHANNELS, SIDE, SIDE)

    def without_fingerprint(self) -> list[str]:
        """Tokens whose metadata has no current fingerprint (or could not be read)."""
        return [f"{c}:{t}" for c, t in self.db.execute("SELECT collection, token FROM tokens WHERE NOT fingerprinted ORDER BY rowid")]


def _meta(db: sqlite3.Connection, key: str) -> Any:
    """A value of the meta table (format, head, version), JSON-decoded; None when unset."""
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return json.loads(row[0]) if row else None


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
