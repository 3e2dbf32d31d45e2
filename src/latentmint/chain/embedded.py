"""The embedded chain: py-evm (through eth-tester and web3.py) with its state kept in the studio's chain/.

py-evm keeps state in a key-value store. `LogDB` is that store on disk: an append-only log of batches,
one batch per mined block, each framed with its length and a CRC. A crash mid-write leaves at most a torn
last batch, which the next open drops (the chain is then at the block before), so nothing half-written
is ever read. When the log grows past twice the live data it is compacted into a fresh file (temp +
rename). Reopening reads the log once: a chain of 10,000 tokens opens in about a second.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path
from typing import Any

from latentmint.errors import LatentmintError

LOG = "chain.log"
MAGIC = b"LMCHAIN1"
_HEADER = struct.Struct(">II")  # batch length, crc32
_RECORD = struct.Struct(">HI")  # key length, value length (DELETED for a deletion)
DELETED = 0xFFFFFFFF
EMBEDDED_CHAIN_ID = 131277322940537  # eth-tester's chain id; a wallet should never see it on a public network


def _encode(batch: dict[bytes, bytes | None]) -> bytes:
    parts = []
    for key, value in batch.items():
        parts.append(_RECORD.pack(len(key), DELETED if value is None else len(value)))
        parts.append(key)
        if value is not None:
            parts.append(value)
    return b"".join(parts)


class LogDB:
    """A dict of bytes on disk (py-evm's DatabaseAPI). Writes are staged until `flush()`."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._data: dict[bytes, bytes] = {}
        self._pending: dict[bytes, bytes | None] = {}
        self._log_bytes = 0
        if self.path.exists():
            self._load()
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._rewrite()

    def _load(self) -> None:
        raw = self.path.read_bytes()
        if not raw.startswith(MAGIC):
            raise LatentmintError(f"{self.path}: not a latentmint chain log")
        pos, data = len(MAGIC), self._data
        while pos + _HEADER.size <= len(raw):
            length, crc = _HEADER.unpack_from(raw, pos)
            body = raw[pos + _HEADER.size : pos + _HEADER.size + length]
            if len(body) < length or zlib.crc32(body) != crc:
                break  # a torn last batch from a crash: the chain stays at the block before
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
            pos += _HEADER.size + length
        self._log_bytes = pos
        if pos < len(raw):  # drop the torn tail so later batches append to a clean end
            with open(self.path, "r+b") as f:
                f.truncate(pos)

    def _rewrite(self) -> None:
        """Write the live data as one batch to a temp file and rename it over the log."""
        body = _encode(self._data)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(MAGIC + _HEADER.pack(len(body), zlib.crc32(body)) + body)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        self._log_bytes = len(MAGIC) + _HEADER.size + len(body)

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
            f.write(_HEADER.pack(len(body), zlib.crc32(body)) + body)
            f.flush()
            os.fsync(f.fileno())
        self._log_bytes += _HEADER.size + len(body)
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


def open_embedded(folder: Path):
    """(Web3, funded test account keys) for the chain persisted in `folder`; created on first use."""
    from eth.db.atomic import AtomicDB
    from eth_tester import EthereumTester, PyEVMBackend
    from eth_tester.backends.pyevm.main import generate_genesis_state_for_keys, get_default_genesis_params
    from web3 import EthereumTesterProvider, Web3

    backend = PyEVMBackend()  # an in-memory genesis: gives us the chain class and the funded test keys
    log = LogDB(Path(folder) / LOG)
    base = type(backend.chain)

    class PersistedChain(base):  # type: ignore[misc, valid-type]
        def mine_block(self, *args: Any, **kwargs: Any):
            block = super().mine_block(*args, **kwargs)
            log.flush()  # one batch per block: the unit that survives a crash
            return block

    db = AtomicDB(log)
    if log._data:
        backend.chain = PersistedChain(db)
    else:
        params = get_default_genesis_params({"timestamp": 1_700_000_000})
        backend.chain = PersistedChain.from_genesis(db, params, generate_genesis_state_for_keys(backend.account_keys))
        log.flush()
    w3 = Web3(EthereumTesterProvider(EthereumTester(backend)))
    return w3, [k.to_bytes() for k in backend.account_keys]
