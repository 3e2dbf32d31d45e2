"""CIDv1 of a file exactly as `ipfs add --cid-version=1` computes it.

Kubo's defaults with CIDv1: 256 KiB chunks, raw leaves (codec 0x55), sha2-256, and a balanced DAG whose
inner nodes are dag-pb (0x70) UnixFS `File` nodes with at most 174 links. A file of one chunk (or empty)
is just its raw leaf. The whole DAG is built here block by block, so the store can hold exactly what an
IPFS node would serve.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

CHUNK = 256 * 1024
MAX_LINKS = 174
RAW, DAG_PB, SHA2_256 = 0x55, 0x70, 0x12


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def cid_bytes(codec: int, data: bytes) -> bytes:
    """Binary CIDv1: version, codec, multihash (sha2-256, 32 bytes, digest)."""
    return _varint(1) + _varint(codec) + bytes([SHA2_256, 32]) + hashlib.sha256(data).digest()


def cid_string(binary: bytes) -> str:
    """Multibase base32 (lower case, no padding): the `bafy…`/`bafk…` form."""
    return "b" + base64.b32encode(binary).decode().lower().rstrip("=")


def parse_cid(text: str) -> bytes:
    if not text.startswith("b"):
        raise ValueError(f"{text}: only base32 CIDv1 strings are supported")
    body = text[1:].upper()
    return base64.b32decode(body + "=" * (-len(body) % 8))


def check_cid(text: str) -> tuple[int, bytes]:
    """(codec, sha2-256 digest) of a CIDv1 we can hold: base32, raw or dag-pb, sha2-256, in its canonical
    spelling. Anything else (a path, `/dev/zero`, 300 characters of junk) is a ValueError before it names a file."""
    if not isinstance(text, str) or len(text) != 59 or not text.startswith("b") or not text[1:].isalnum() or text != text.lower():
        raise ValueError(f"{str(text)[:80]!r}: not a CIDv1 (base32, sha2-256)")
    try:
        binary = parse_cid(text)
    except ValueError as exc:  # binascii.Error is a ValueError
        raise ValueError(f"{text}: not a CIDv1 ({exc})") from None
    if len(binary) != 36 or binary[0] != 1 or binary[1] not in (RAW, DAG_PB) or binary[2:4] != bytes([SHA2_256, 32]) or cid_string(binary) != text:
        raise ValueError(f"{text}: not a CIDv1 of a raw or dag-pb block hashed with sha2-256")
    return binary[1], binary[4:]


def raw_cid_from_digest(digest: bytes) -> str:
    return cid_string(bytes([1, RAW, SHA2_256, 32]) + digest)


def digest_of(cid: str) -> bytes:
    """The sha2-256 digest inside a CIDv1 (what the collection contract stores)."""
    binary = parse_cid(cid)
    if binary[-34:-32] != bytes([SHA2_256, 32]):
        raise ValueError(f"{cid}: not a sha2-256 CID")
    return binary[-32:]


def _field(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _bytes_field(number: int, value: bytes) -> bytes:
    return _field(number, 2) + _varint(len(value)) + value


def _file_node(children: list[tuple[bytes, int, int]]) -> bytes:
    """dag-pb node for a UnixFS File whose children are (cid, file bytes, Tsize)."""
    unixfs = _field(1, 0) + _varint(2) + _field(3, 0) + _varint(sum(size for _, size, _ in children))
    unixfs += b"".join(_field(4, 0) + _varint(size) for _, size, _ in children)
    links = b"".join(_bytes_field(2, _bytes_field(1, cid) + _bytes_field(2, b"") + _field(3, 0) + _varint(tsize)) for cid, _, tsize in children)
    return links + _bytes_field(1, unixfs)  # dag-pb writes Links (field 2) before Data (field 1)


@dataclass(frozen=True)
class Block:
    cid: bytes
    data: bytes

    @property
    def cid_text(self) -> str:
        return cid_string(self.cid)


def chunks_of(path: Path, size: int = CHUNK) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(size):
            yield chunk


def build_dag(chunks: Iterable[bytes], on_block: Callable[[Block], None] | None = None) -> str:
    """The root CID of a file given as its chunks in order; `on_block` receives every block (leaves first).
    Memory holds one chunk and one (cid, size) entry per node of the level being built, never the file."""
    emit = on_block or (lambda block: None)
    level: list[tuple[bytes, int, int]] = []  # (cid, file bytes below, Tsize)
    for chunk in chunks:
        cid = cid_bytes(RAW, chunk)
        emit(Block(cid, chunk))
        level.append((cid, len(chunk), len(chunk)))
    if not level:  # the empty file is an empty raw leaf
        cid = cid_bytes(RAW, b"")
        emit(Block(cid, b""))
        return cid_string(cid)
    while len(level) > 1:
        parents = []
        for i in range(0, len(level), MAX_LINKS):
            group = level[i : i + MAX_LINKS]
            node = _file_node(group)
            cid = cid_bytes(DAG_PB, node)
            emit(Block(cid, node))
            parents.append((cid, sum(g[1] for g in group), len(node) + sum(g[2] for g in group)))
        level = parents
    return cid_string(level[0][0])


def cid_of_bytes(data: bytes) -> str:
    return build_dag(data[i : i + CHUNK] for i in range(0, len(data), CHUNK))


def cid_of_file(path: Path) -> str:
    return build_dag(chunks_of(Path(path)))
