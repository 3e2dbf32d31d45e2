"""The studio's block store (store/blocks/<CID>), optionally mirrored to a Kubo node.

Blocks are written atomically and named by their CID, so a file stored twice costs nothing and an
interrupted `put` leaves only whole blocks. With `storage.kubo_url` set, each file is also added (and
pinned) through Kubo's RPC API, and the CID Kubo reports must equal ours.

A block the store lacks is fetched from the Kubo node (`block/get`) or an IPFS HTTP gateway
(`storage.gateway`, trustless retrieval: `?format=raw`), checked against its CID before anything reads it
(a gateway that returns other bytes gets an error naming the CID, never a wrong answer), and kept.
"""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from latentmint.errors import LatentmintError
from latentmint.files import atomic_write_bytes
from latentmint.storage.cid import CHUNK, Block, build_dag, check_cid, chunks_of

DAG_PB = 0x70
MAX_BLOCK = 1 << 20  # a raw leaf is at most 256 KiB, a dag-pb node a few KiB: anything larger is not ours
MAX_FILE = 512 << 20  # what `cat` reassembles at most (metadata is a few KiB, a work a few MB)


class UntrustedBlock(LatentmintError):
    """A gateway or node answered with bytes that are not the block asked for: never used, always reported."""


RAW_BLOCK = "application/vnd.ipld.raw"  # the trustless gateway response type (IPFS specs: trustless gateway)


class BlockStore:
    def __init__(self, root: Path, kubo_url: str = "", gateway: str = "") -> None:
        self.root = Path(root) / "blocks"
        self.kubo_url = kubo_url.rstrip("/")
        self.gateway = gateway.rstrip("/")
        self.fetched: list[str] = []  # CIDs this store fetched from the network, in order

    def _path(self, cid: str) -> Path:
        return self.root / cid

    def _write(self, block: Block) -> None:
        path = self._path(block.cid_text)
        if not path.exists():
            atomic_write_bytes(path, block.data)

    def put_file(self, path: Path) -> str:
        cid = build_dag(chunks_of(Path(path)), self._write)
        if self.kubo_url:
            self._kubo_add(Path(path).name, Path(path).read_bytes(), cid)
        return cid

    def put_bytes(self, data: bytes, name: str = "data") -> str:
        cid = build_dag((data[i : i + CHUNK] for i in range(0, len(data), CHUNK)), self._write)
        if self.kubo_url:
            self._kubo_add(name, data, cid)
        return cid

    def has(self, cid: str) -> bool:
        try:
            check_cid(cid)
        except ValueError:
            return False
        return self._path(cid).is_file()

    def block(self, cid: str) -> bytes:
        """One block, checked against its CID (a CID from a chain is untrusted: validated before it names a file)."""
        try:
            codec, digest = check_cid(cid)
        except ValueError as exc:
            raise LatentmintError(str(exc)) from None
        try:
            with open(self._path(cid), "rb") as f:
                data = f.read(MAX_BLOCK + 1)
        except FileNotFoundError as exc:
            if self.kubo_url or self.gateway:
                return self._fetch(cid, digest)
            raise LatentmintError(f"{cid}: not in the studio's store ({self.root})") from exc
        except OSError as exc:
            raise LatentmintError(f"{self._path(cid)}: unreadable block ({exc.strerror or exc})") from exc
        if len(data) > MAX_BLOCK or hashlib.sha256(data).digest() != digest:
            raise LatentmintError(f"{self._path(cid)}: the block does not match its CID (damaged or replaced); restore it or re-add the file")
        return data

    def _fetch(self, cid: str, digest: bytes) -> bytes:
        """The block from the Kubo node or the gateway, kept only if it hashes to its CID."""
        sources = []
        if self.kubo_url:
            sources.append((self.kubo_url, urllib.request.Request(f"{self.kubo_url}/api/v0/block/get?arg={cid}", data=b"", method="POST")))
        if self.gateway:
            sources.append((self.gateway, urllib.request.Request(f"{self.gateway}/ipfs/{cid}?format=raw", headers={"Accept": RAW_BLOCK})))
        failures = []
        for url, request in sources:
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    data, kind = response.read(MAX_BLOCK + 1), response.headers.get("Content-Type", "")
            except (urllib.error.URLError, OSError) as exc:
                failures.append(f"{url}: {getattr(exc, 'code', None) or getattr(exc, 'reason', None) or exc}")
                continue
            if len(data) > MAX_BLOCK or hashlib.sha256(data).digest() != digest:
                why = "a lying or broken gateway" if url == self.kubo_url or kind.startswith(RAW_BLOCK) else f"it answered {kind or 'untyped data'}, not a raw block: it does not serve verifiable blocks (?format=raw); use a trustless gateway or its RPC API, …/api/v0"
                raise UntrustedBlock(f"{url}: the bytes it returned for {cid} do not hash to that CID ({why}); nothing it sent was used")
            atomic_write_bytes(self._path(cid), data)
            self.fetched.append(cid)
            return data
        raise LatentmintError(f"{cid}: not in the store ({self.root}) and not fetched ({'; '.join(failures)})")

    def cat(self, cid: str, limit: int = MAX_FILE) -> bytes:
        """The file a CID names, reassembled from its blocks (each checked), at most `limit` bytes."""
        out = bytearray()
        self._cat(cid, out, limit, 0)
        return bytes(out)

    def _cat(self, cid: str, out: bytearray, limit: int, depth: int) -> None:
        data = self.block(cid)
        if check_cid(cid)[0] != DAG_PB:
            if len(out) + len(data) > limit:
                raise LatentmintError(f"{cid}: larger than {limit} bytes; refused")
            out += data
            return
        if depth > 8:  # a balanced DAG of 174 links per node is 3 deep at 2 TB
            raise LatentmintError(f"{cid}: a DAG deeper than any file of ours; refused")
        from latentmint.storage.cid import cid_string

        try:
            children = _links(data)
        except IndexError:
            raise LatentmintError(f"{cid}: not a dag-pb node") from None
        for child in children:
            self._cat(cid_string(child), out, limit, depth + 1)

    def _kubo_add(self, name: str, data: bytes, expected: str) -> None:
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        url = f"{self.kubo_url}/api/v0/add?cid-version=1&cid-base=base32&raw-leaves=true&chunker=size-{CHUNK}&pin=true"
        request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                answer = json.loads(response.read().decode().strip().splitlines()[-1])
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise LatentmintError(f"{self.kubo_url}: Kubo RPC add failed ({exc}); the file is in the local store, rerun to push it") from exc
        if answer.get("Hash") != expected:
            raise LatentmintError(f"{self.kubo_url}: Kubo stored {name} as {answer.get('Hash')}, expected {expected}; check its add options")


def _varint(data: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        byte = data[i]
        value |= (byte & 0x7F) << shift
        i += 1
        if byte < 0x80:
            return value, i
        shift += 7


def _links(node: bytes) -> list[bytes]:
    """The child CIDs of a dag-pb node, in order."""
    out, i = [], 0
    while i < len(node):
        tag, i = _varint(node, i)
        length, i = _varint(node, i)  # both PBNode fields are length-delimited
        if tag >> 3 == 2:
            link, j = node[i : i + length], 0
            while j < len(link):
                ltag, j = _varint(link, j)
                if ltag & 7 == 2:
                    llen, j = _varint(link, j)
                    if ltag >> 3 == 1:
                        out.append(link[j : j + llen])
                    j += llen
                else:
                    _, j = _varint(link, j)
        i += length
    return out


def open_store(studio) -> BlockStore:
    return BlockStore(studio.store, studio.setting("storage", "kubo_url", "") or "", studio.setting("storage", "gateway", "") or "")
