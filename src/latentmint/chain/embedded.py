"""The embedded chain: py-evm (through eth-tester and web3.py) with its state kept in the studio's chain/.

py-evm keeps state in a key-value store. `LogDB` is that store on disk: an append-only log of batches,
one batch per mined block, each framed with its length and a CRC. A crash mid-write leaves at most a torn
last batch, which the next open drops (the chain is then at the block before), so nothing half-written
is ever read. When the log grows past twice the live data it is compacted into a fresh file (temp +
rename). Reopening reads the log once: a chain of 10,000 tokens opens in about a second.

eth-tester finds a transaction by walking every block and answers eth_getLogs by reading every receipt of
every block in the range, so reading a collection's history cost minutes at 10,000 mints. Here each block's
logs are written with the block (same batch, key LOGS_KEY + number) as it is sealed, transactions are found
through py-evm's own hash -> (block, index) table, and eth_getLogs is answered from the sealed logs.
"""

from __future__ import annotations

import os
import struct
import zlib
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from latentmint.errors import LatentmintError
from latentmint.files import atomic_write_bytes

LOG = "chain.log"
LOCK = "writer.lock"
MAGIC = b"LMCHAIN2"
MAGIC_V1 = b"LMCHAIN1"  # no sync markers; upgraded by a rewrite when opened
SYNC = b"\xf0LMBATCH"  # starts every batch: finds the valid blocks after a damaged one
_HEADER = struct.Struct(">II")  # batch length, crc32
_RECORD = struct.Struct(">HI")  # key length, value length (DELETED for a deletion)
DELETED = 0xFFFFFFFF
LOGS_KEY = b"latentmint:logs:"  # + block number: that block's logs, sealed with it
EMBEDDED_CHAIN_ID = 131277322940537  # eth-tester's chain id; a wallet should never see it on a public network
LOCK_TIMEOUT_S = float(os.environ.get("LATENTMINT_LOCK_TIMEOUT", "300"))


class ChainLogDamaged(LatentmintError):
    """chain.log fails its checksum before the end: valid blocks follow, so it is not a crash's torn tail."""


def _encode(batch: dict[bytes, bytes | None]) -> bytes:
    parts = []
    for key, value in batch.items():
        parts.append(_RECORD.pack(len(key), DELETED if value is None else len(value)))
        parts.append(key)
        if value is not None:
            parts.append(value)
    return b"".join(parts)


def _frame(body: bytes) -> bytes:
    return SYNC + _HEADER.pack(len(body), zlib.crc32(body)) + body


def _apply(body: bytes, data: dict[bytes, bytes]) -> None:
    i, end = 0, len(body)
    while i < end:
        klen, vlen = _RECORD.unpack_from(body, i)
        i += _RECORD.size
        key = body[i : i + klen]
        i += klen
        if vlen == DELETED:
            data.pop(key, None)
        else:
            data[key] = body[i : i + vlen]
            i += vlen


@dataclass
class Scan:
    """What reading a log found: where the valid batches end and what follows them."""

    end: int  # offset just past the last valid batch
    batches: int  # valid batches read
    size: int  # file size
    damaged_at: int | None = None  # a batch that fails its checksum with valid batches after it
    torn: bool = False  # the bytes after `end` are an incomplete last write (a crash)


def _batch_end(raw: bytes, pos: int, sync: int) -> int | None:
    """Where the batch starting at `pos` ends, when it is whole and checks out (marker, length, crc); else None."""
    if raw[pos : pos + sync] != SYNC[:sync] or pos + sync + _HEADER.size > len(raw):
        return None
    length, crc = _HEADER.unpack_from(raw, pos + sync)
    body_at = pos + sync + _HEADER.size
    if body_at + length > len(raw) or zlib.crc32(raw[body_at : body_at + length]) != crc:
        return None
    return body_at + length


def scan_log(raw: bytes, start: int, data: dict[bytes, bytes] | None, v1: bool = False) -> Scan:
    """Read batches from `start`, applying each to `data`; stop at the first that does not check out."""
    pos, count, sync = start, 0, 0 if v1 else len(SYNC)
    while pos < len(raw):
        end = _batch_end(raw, pos, sync)
        if end is None:
            later = _valid_batch_after(raw, pos, v1)
            return Scan(pos, count, len(raw), damaged_at=pos if later else None, torn=not later)
        if data is not None:
            _apply(raw[pos + sync + _HEADER.size : end], data)
        pos, count = end, count + 1
    return Scan(pos, count, len(raw))


def _valid_batch_after(raw: bytes, pos: int, v1: bool) -> bool:
    """Is there a whole, checksummed batch after `pos`? Then `pos` is damage, not a crash's torn last write."""
    if v1:  # no markers: a batch whose stated length ends before the file does is damage
        if pos + _HEADER.size > len(raw):
            return False
        return pos + _HEADER.size + _HEADER.unpack_from(raw, pos)[0] < len(raw)
    q = raw.find(SYNC, pos + 1)
    while q != -1 and _batch_end(raw, q, len(SYNC)) is None:
        q = raw.find(SYNC, q + 1)
    return q != -1


class LogDB:
    """A dict of bytes on disk (py-evm's DatabaseAPI). Writes are staged until `flush()`.

    Several processes share one log: each access happens under `ChainLock`, and `refresh()` first reads
    what other processes appended since (or the whole file, when one of them compacted it)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._data: dict[bytes, bytes] = {}
        self._pending: dict[bytes, bytes | None] = {}
        self._log_bytes = 0
        self._inode = None
        self.dropped: Scan | None = None  # a torn tail dropped on open (a crash mid-write)
        self.derived: dict[bytes, bytes] = {}  # kept in memory only: logs of blocks sealed before LOGS_KEY existed
        if self.path.exists():
            self._load()
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._rewrite()

    def _load(self) -> None:
        raw = self.path.read_bytes()
        v1 = raw.startswith(MAGIC_V1)
        if not (v1 or raw.startswith(MAGIC)):
            raise LatentmintError(f"{self.path}: not a latentmint chain log")
        self._data, self._pending, self.derived = {}, {}, {}
        scan = scan_log(raw, len(MAGIC), self._data, v1)
        self._check(scan.damaged_at, scan.batches)
        self._log_bytes, self._inode = scan.end, os.stat(self.path).st_ino
        if scan.torn:
            self.dropped = scan
            with open(self.path, "r+b") as f:  # drop the torn tail so later batches append to a clean end
                f.truncate(scan.end)
        if v1:
            self._rewrite()

    def _check(self, damaged_at: int | None, batches_before: int) -> None:
        if damaged_at is not None:
            raise ChainLogDamaged(
                f"{self.path}: damaged at byte {damaged_at} (batch {batches_before + 1} fails its checksum) and valid blocks follow it; "
                "the file is left as it is: run `latentmint doctor --repair-chain` to keep the blocks before the damage (the damaged file is kept as a copy)"
            )

    def refresh(self) -> bool:
        """Catch up with what other processes wrote; True when anything changed."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise LatentmintError(f"{self.path}: the chain log disappeared while in use") from None
        if st.st_ino == self._inode and st.st_size == self._log_bytes:
            return False
        if st.st_ino != self._inode or st.st_size < self._log_bytes:  # compacted or repaired elsewhere
            self._load()
            return True
        with open(self.path, "rb") as f:
            f.seek(self._log_bytes)
            tail = f.read()
        self._pending = {}
        scan = scan_log(tail, 0, self._data)
        self._check(None if scan.damaged_at is None else self._log_bytes + scan.damaged_at, scan.batches)
        self._log_bytes += scan.end
        if scan.torn:
            self.dropped = Scan(self._log_bytes, scan.batches, st.st_size, torn=True)
            with open(self.path, "r+b") as f:
                f.truncate(self._log_bytes)
        return True

    def _rewrite(self) -> None:
        """Write the live data as one batch to a temp file and rename it over the log."""
        body = _encode(self._data)
        atomic_write_bytes(self.path, MAGIC + _frame(body))
        self._log_bytes, self._inode = len(MAGIC) + len(SYNC) + _HEADER.size + len(body), os.stat(self.path).st_ino

    def flush(self) -> None:
        if not self._pending:
            return
        body = _encode(self._pending)
        for key, value in self._pending.items():
            if value is None:
                self._data.pop(key, None)
            else:
                self._data[key] = value
        self._pending = {}
        with open(self.path, "ab") as f:
            f.write(_frame(body))
            f.flush()
            os.fsync(f.fileno())
        self._log_bytes += len(SYNC) + _HEADER.size + len(body)
        live = sum(len(k) + len(v) + _RECORD.size for k, v in self._data.items()) if self._log_bytes > (64 << 20) else 0
        if live and self._log_bytes > 2 * live:
            self._rewrite()

    # py-evm's DatabaseAPI
    def __getitem__(self, key: bytes) -> bytes:
        if key in self._pending:
            value = self._pending[key]
            if value is None:
                raise KeyError(key)
            return value
        return self._data[key]

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._pending[bytes(key)] = bytes(value)

    def __delitem__(self, key: bytes) -> None:
        if key not in self:
            raise KeyError(key)
        self._pending[bytes(key)] = None

    def __contains__(self, key: bytes) -> bool:
        if key in self._pending:
            return self._pending[key] is not None
        return key in self._data

    def _exists(self, key: bytes) -> bool:
        return key in self

    def get(self, key: bytes, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def set(self, key: bytes, value: bytes) -> None:
        self[key] = value

    def exists(self, key: bytes) -> bool:
        return key in self

    def delete(self, key: bytes) -> None:
        self._pending[bytes(key)] = None


class ChainLock:
    """One writer at a time for the studio's chain: an flock on chain/writer.lock between processes and a
    re-entrant lock between threads (the gallery serves requests from a thread pool). Held for each request
    to the embedded chain and across every multi-step chain operation (nonce -> send -> receipt -> record)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._thread = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    @contextmanager
    def held(self, timeout: float | None = None) -> Any:
        import fcntl

        timeout = LOCK_TIMEOUT_S if timeout is None else timeout
        if not self._thread.acquire(timeout=timeout):
            raise LatentmintError(f"{self.path}: another request in this process kept the chain busy for {timeout:.0f} s; try again")
        try:
            if self._depth == 0:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                deadline = time.monotonic() + timeout
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() > deadline:
                            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                            os.close(fd)
                            raise LatentmintError(f"{self.path}: another latentmint process (pid {holder}) has been writing to the chain for over {timeout:.0f} s; try again when it has finished") from None
                        time.sleep(0.05)
                os.ftruncate(fd, 0)
                os.pwrite(fd, str(os.getpid()).encode(), 0)
                self._fd = fd
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
                if self._depth == 0 and self._fd is not None:
                    os.close(self._fd)  # closing the descriptor releases the flock
                    self._fd = None
        finally:
            self._thread.release()


_LOCKS: dict[Path, ChainLock] = {}
_LOCKS_GUARD = threading.Lock()


def chain_lock(chain_folder: Path) -> ChainLock:
    """The process-wide lock object for a studio's chain/ folder (one per path, so nesting re-enters)."""
    path = (Path(chain_folder) / LOCK).resolve()
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(path, ChainLock(path))


def open_embedded(folder: Path, lock: ChainLock | None = None):
    """(Web3, funded test account keys) for the chain persisted in `folder`; created on first use.

    Every request takes `lock` and first reads what other processes appended to the log, so the CLI and a
    running gallery see and extend one chain; a torn tail from a crash is dropped with a warning."""
    from eth.db.atomic import AtomicDB
    from eth_tester import EthereumTester, PyEVMBackend
    from eth_tester.backends.pyevm.main import generate_genesis_state_for_keys, get_default_genesis_params
    from web3 import EthereumTesterProvider, Web3

    lock = lock or chain_lock(folder)
    backend = PyEVMBackend()  # an in-memory genesis: gives us the chain class and the funded test keys
    with lock.held():
        log = LogDB(Path(folder) / LOG)
        base = type(backend.chain)

        class PersistedChain(base):  # type: ignore[misc, valid-type]
            def mine_block(self, *args: Any, **kwargs: Any):
                block = super().mine_block(*args, **kwargs)
                log[_logs_key(block.number)] = _seal_logs(block, block.get_receipts(self.chaindb))
                log.flush()  # one batch per block (its logs included): the unit that survives a crash
                return block

        db = AtomicDB(log)
        if log._data:
            backend.chain = PersistedChain(db)
        else:
            params = get_default_genesis_params({"timestamp": 1_700_000_000})
            backend.chain = PersistedChain.from_genesis(db, params, generate_genesis_state_for_keys(backend.account_keys))
            log.flush()
        _warn_dropped(log, backend.chain)

    _index_transactions()

    class SharedLogProvider(EthereumTesterProvider):
        def make_request(self, method: Any, params: Any) -> Any:
            with lock.held():
                if log.refresh():
                    backend.chain = PersistedChain(db)  # a fresh view of the head another process moved
                    _warn_dropped(log, backend.chain)
                if method == "eth_getLogs" and (found := _sealed_logs(log, backend.chain, params[0])) is not None:
                    self._current_request_id += 1
                    return {"id": repr(self._current_request_id), "jsonrpc": "2.0", "result": found}
                return super().make_request(method, params)

    w3 = Web3(SharedLogProvider(EthereumTester(backend)))
    # the account eth-tester's middleware would guess as `from` for every eth_call, by listing all ten (5 ms a call)
    w3.eth.default_account = backend.account_keys[0].public_key.to_checksum_address()
    return w3, [k.to_bytes() for k in backend.account_keys]


def _warn_dropped(log: LogDB, chain: Any) -> None:
    if log.dropped is None:
        return
    from latentmint.errors import warn

    head = chain.get_canonical_head().block_number
    warn(f"{log.path}: dropped a torn last write ({log.dropped.size - log.dropped.end} bytes at byte {log.dropped.end}): block {head + 1}, which a crash interrupted, is not on the chain; the chain is at block {head}")
    log.dropped = None


def _logs_key(number: int) -> bytes:
    return LOGS_KEY + str(number).encode()


def _seal_logs(block: Any, receipts: Any) -> bytes:
    """A block's logs as stored beside it: [block hash, [[tx hash, [[address, [topics], data], ...]], ...]]."""
    import rlp

    txs = [[tx.hash, [[entry.address, [t.to_bytes(32, "big") for t in entry.topics], entry.data] for entry in receipt.logs]] for tx, receipt in zip(block.transactions, receipts)]
    return rlp.encode([block.hash, txs])


def _sealed_logs(log: LogDB, chain: Any, query: dict[str, Any]) -> list[dict[str, Any]] | None:
    """eth_getLogs from the logs sealed with each block, in eth-tester's own result form; None for a query
    this does not answer (a block hash, the pending block), which eth-tester then answers itself."""
    import rlp
    from eth_utils import encode_hex

    from latentmint.chain.network import checksummed

    if set(query) - {"from_block", "to_block", "address", "topics"}:
        return None
    head = chain.get_canonical_head().block_number
    bounds = []
    for name in ("from_block", "to_block"):
        value = query.get(name, "latest")
        value = {"latest": head, "safe": head, "finalized": head, "earliest": 0, None: head}.get(value, value) if not isinstance(value, int) else value
        if not isinstance(value, int):
            return None
        bounds.append(value)
    addresses = query.get("address")
    addresses = {a.lower() for a in ([addresses] if isinstance(addresses, str) else addresses or [])}
    wanted = [None if t is None else {t.lower()} if isinstance(t, str) else {x.lower() for x in t} for t in query.get("topics") or []]
    out = []
    for number in range(max(bounds[0], 0), min(bounds[1], head) + 1):
        key = _logs_key(number)
        sealed = log.get(key) or log.derived.get(key)
        if sealed is None:  # sealed before this version, or the genesis: read the receipts once, keep them
            block = chain.get_canonical_block_by_number(number)
            sealed = log.derived[key] = _seal_logs(block, block.get_receipts(chain.chaindb))
        block_hash, txs = rlp.decode(sealed)
        for tx_index, (tx_hash, entries) in enumerate(txs):
            for log_index, (address, topics, data) in enumerate(entries):
                if addresses and encode_hex(address) not in addresses:
                    continue
                hexed = [encode_hex(t) for t in topics]
                if len(wanted) > len(hexed) or any(w is not None and h not in w for w, h in zip(wanted, hexed)):
                    continue
                out.append({"type": "mined", "log_index": log_index, "transaction_index": tx_index, "transaction_hash": encode_hex(tx_hash), "block_hash": encode_hex(block_hash),
                            "block_number": number, "address": checksummed(address), "data": encode_hex(data), "topics": hexed})
    return out


def _index_transactions() -> None:
    """Find transactions through py-evm's hash -> (block, index) table instead of eth-tester's walk of every block."""
    import eth_tester.backends.pyevm.main as pyevm
    from eth.exceptions import TransactionNotFound

    if getattr(pyevm._get_transaction_by_hash, "indexed", False):
        return
    walk = pyevm._get_transaction_by_hash

    def by_index(chain: Any, transaction_hash: bytes):
        try:
            number, index = chain.chaindb.get_transaction_index(transaction_hash)
        except TransactionNotFound:
            return walk(chain, transaction_hash)  # pending, or not there: eth-tester's own answer
        block = chain.get_canonical_block_by_number(number)
        return block, block.transactions[index], index

    by_index.indexed, by_index.__wrapped__ = True, walk
    pyevm._get_transaction_by_hash = by_index
