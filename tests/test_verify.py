"""verify: every minted work and its copies get the right verdict; unrelated faces are UNKNOWN; a studio
that holds only the chain and the blocks verifies as well as the creator's."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from latentmint.art.works import list_works
from latentmint.chain.mint import mint_works
from latentmint.chain.network import connect
from latentmint.provenance.certify import trust_anchors
from latentmint.provenance.identity import unlock
from latentmint.studio import Studio, init_studio
from latentmint.verify import verify_bytes

from conftest import certified_studio, dataset_or_skip, repaint_png

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def minted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Studio, list]:
    studio = certified_studio(tmp_path_factory.mktemp("verify"), PASSWORD, works=4)
    works = list_works(studio)
    return studio, mint_works(studio, connect(studio), unlock(studio, PASSWORD), works)


def _encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _copies(original: bytes) -> dict[str, tuple[bytes, str]]:
    """What a collector meets in the wild: re-encoded, resized, cropped and watermarked copies (no manifest)."""
    im = Image.open(io.BytesIO(original)).convert("RGB")
    w, h = im.size
    d = round(w * 0.05)
    marked = im.copy()
    ImageDraw.Draw(marked).text((2, h - 12), "(c) stolen", fill=(255, 255, 255))
    return {
        "jpeg q70": (_encode(im, "JPEG", quality=70), "copy.jpg"),
        "resized 50%": (_encode(im.resize((w // 2, h // 2), Image.LANCZOS), "PNG"), "copy.png"),
        "cropped 5%": (_encode(im.crop((d, d, w, h)), "PNG"), "copy.png"),
        "watermarked": (_encode(marked, "JPEG", quality=90), "copy.jpg"),
    }


def _paint_over(png: bytes) -> bytes:
    """Paint a region of the signed PNG in place: new pixel data, every other chunk (the manifest) kept."""

    def paint(image) -> None:
        w, h = image.size
        ImageDraw.Draw(image).rectangle([w // 4, h // 4, w // 2, h // 2], fill=(0, 255, 0))

    return repaint_png(png, paint)


def test_every_case_gets_the_right_verdict(minted) -> None:
    studio, tokens = minted
    net, anchors = connect(studio), trust_anchors(studio)
    for token in tokens:
        certified = token.work.root / token.work.record["certificate"]["file"]
        original = certified.read_bytes()
        exact = verify_bytes(studio, net, original, certified.name, anchors)
        assert exact.verdict == "AUTHENTIC" and exact.token_id == token.token_id
        assert exact.owner == exact.creator == unlock(studio, PASSWORD).identity.address
        assert exact.credentials["credentials"] == "valid" and exact.mint_tx == token.tx and exact.events[0]["event"] == "mint"
        for case, (data, name) in _copies(original).items():
            found = verify_bytes(studio, net, data, name, anchors)
            assert (found.verdict, found.token_id) == ("COPY", token.token_id), (case, found.reason)
            assert found.owner and "not the minted file" in found.reason
        tampered = verify_bytes(studio, net, _paint_over(original), certified.name, anchors)
        assert tampered.verdict == "TAMPERED" and tampered.token_id == token.token_id, tampered.reason


def test_an_exact_match_in_a_new_process_loads_no_torch(minted) -> None:
    """`verify` of a minted original answers from sha256, the chain and the index: torch (a second of import) is
    loaded only when a file has to be searched for as a copy."""
    import subprocess
    import sys

    studio, tokens = minted
    certified = tokens[0].work.root / tokens[0].work.record["certificate"]["file"]
    code = (
        "import sys; from pathlib import Path; from latentmint.studio import open_studio; from latentmint.chain.network import connect\n"
        "from latentmint.verify import verify_bytes\n"
        "s = open_studio(sys.argv[1]); p = Path(sys.argv[2]); v = verify_bytes(s, connect(s), p.read_bytes(), p.name)\n"
        "print(v.verdict, 'torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code, str(studio.root), str(certified)], capture_output=True, text=True, timeout=300)
    assert done.stdout.split() == ["AUTHENTIC", "False"], done.stderr[-2000:]


def test_unrelated_faces_are_unknown(minted) -> None:
    studio, _ = minted
    net = connect(studio)
    faces = sorted(dataset_or_skip("utk-ref2000").glob("*.jpg"))[:20]
    for face in faces:
        found = verify_bytes(studio, net, face.read_bytes(), face.name)
        assert found.verdict == "UNKNOWN" and found.token_id is None, (face.name, found.similarity)


def test_a_studio_with_only_the_chain_and_the_blocks_verifies_too(minted, tmp_path: Path) -> None:
    """A collector's studio: no works, no records; a replica of the chain and the blocks from storage."""
    studio, tokens = minted
    other = init_studio(tmp_path / "collector")
    shutil.copytree(studio.chain / "embedded", other.chain / "embedded")
    shutil.copytree(studio.store / "blocks", other.store / "blocks")
    collection = json.loads((studio.chain / "deployments.json").read_text())
    address = next(iter(collection.values()))["collection"]
    certified = tokens[0].work.root / tokens[0].work.record["certificate"]["file"]
    data, name = _copies(certified.read_bytes())["jpeg q70"]
    found = verify_bytes(other, connect(other), data, name, extra_collections=[address])
    assert found.verdict == "COPY" and found.token_id == tokens[0].token_id
    exact = verify_bytes(other, connect(other), certified.read_bytes(), certified.name, extra_collections=[address])
    assert exact.verdict == "AUTHENTIC" and exact.creator == unlock(studio, PASSWORD).identity.address
    # the collector's gallery verifies for that collection too, named on its verify page
    from fastapi.testclient import TestClient

    from latentmint.web.app import create_app

    client = TestClient(create_app(other), base_url="http://127.0.0.1:8000", headers={"Origin": "http://127.0.0.1:8000", "Accept": "application/json"})
    alone = client.post("/verify", files={"file": (name, data)}).json()
    assert alone["verdict"] == "UNKNOWN"  # its own studio minted nothing
    named = client.post("/verify", files={"file": (name, data)}, data={"collection": address}).json()
    assert named["verdict"] == "COPY" and named["token_id"] == tokens[0].token_id
    assert client.post("/verify", files={"file": (name, data)}, data={"collection": "0xnope"}).status_code == 422


def test_the_index_takes_metadata_from_mint_calldata_and_follows_metadata_updates(tmp_path: Path) -> None:
    import hashlib

    from eth_account import Account

    from latentmint.chain.events import ChainIndex
    from latentmint.chain.mint import collection_for
    from latentmint.chain.network import call_tx, send
    from latentmint.storage.cid import digest_of
    from latentmint.storage.store import open_store

    studio = init_studio(tmp_path / "studio")
    net = connect(studio)
    key = net.faucet[0]
    artist = Account.from_key(key).address
    coll = collection_for(studio, net, key, artist, "Index", 750)
    store = open_store(studio)
    digests = [digest_of(store.put_bytes(json.dumps({"properties": {"work": f"w{i}"}}).encode())) for i in range(5)]
    hashes = [hashlib.sha256(f"art {i}".encode()).digest() for i in range(5)]
    send(net, key, call_tx(coll, "mintBatch", artist, hashes[:4], digests[:4]), "mint")
    send(net, key, call_tx(coll, "mint", artist, hashes[4], digests[4]), "mint")
    keys = [f"{coll.address}:{int.from_bytes(h, 'big')}" for h in hashes]
    index = ChainIndex.open(studio, net, [coll])
    tokens, version = index.tokens(), index.version
    assert [tokens[k]["work"] for k in keys] == [f"w{i}" for i in range(5)]
    assert ChainIndex.open(studio, net, [coll]).version == version  # nothing new: what copy search memoises stays valid

    changed = digest_of(store.put_bytes(json.dumps({"properties": {"work": "corrected"}}).encode()))
    send(net, key, call_tx(coll, "updateMetadata", int.from_bytes(hashes[1], "big"), changed), "update")
    index = ChainIndex.open(studio, net, [coll])  # topped up: the MetadataUpdate makes it read token 1 again
    tokens = index.tokens()
    assert index.version == version + 1
    assert [tokens[k]["work"] for k in keys] == ["w0", "corrected", "w2", "w3", "w4"]
    for index in studio.chain.glob("events-*.sqlite"):
        index.unlink()  # from scratch: the mint calldata says w1, the contract says corrected; the contract wins
    rebuilt = ChainIndex(studio, net)
    rebuilt.top_up(net.w3.eth.block_number, [coll], None)
    assert [rebuilt.tokens()[k]["work"] for k in keys] == ["w0", "corrected", "w2", "w3", "w4"]

    # a top-up that fails half way (the store breaks after one token) leaves the index as it was before it
    import latentmint.chain.events as events

    before, head = rebuilt.tokens(), rebuilt.head
    more = [hashlib.sha256(f"more {i}".encode()).digest() for i in range(3)]
    send(net, key, call_tx(coll, "mintBatch", artist, more, [digests[0]] * 3), "mint")
    real, calls = events._properties, []

    def breaks_after_one(*args, **kw):
        calls.append(args)
        if len(calls) > 1:
            raise OSError("disk unplugged")
        return real(*args, **kw)

    events._properties = breaks_after_one
    try:
        with pytest.raises(OSError, match="unplugged"):
            ChainIndex.open(studio, net, [coll])
    finally:
        events._properties = real
    left = ChainIndex(studio, net)
    assert len(calls) == 2 and left.tokens() == before and left.head == head
    assert len(ChainIndex.open(studio, net, [coll]).tokens()) == 8  # and the next top-up reads the three new ones

    # a damaged index file is rebuilt from the chain; an older latentmint's JSON index is removed
    (path := left.path).write_bytes(b"not a database at all" * 100)
    (old := path.with_suffix(".json")).write_text("{}")
    assert ChainIndex.open(studio, net, [coll]).tokens()[keys[1]]["work"] == "corrected" and not old.exists()


def test_mint_calldata_is_trusted_only_from_latentmints_own_collection_code(tmp_path: Path) -> None:
    """The index reads a token's metadata from its mint calldata when the contract is latentmint's collection
    (its deployed code, immutables aside); another contract with the same `mint` answers through tokenURI."""
    from eth_account import Account

    from latentmint.chain.events import ChainIndex, _is_ours
    from latentmint.chain.mint import COLLECTION, collection_for
    from latentmint.chain.network import call_tx, contract, deploy, send
    from latentmint.storage.cid import digest_of, raw_cid_from_digest
    from latentmint.storage.store import open_store

    studio = init_studio(tmp_path / "studio")
    net = connect(studio)
    key = net.faucet[0]
    artist = Account.from_key(key).address
    store = open_store(studio)
    said, named = (digest_of(store.put_bytes(json.dumps({"properties": {"work": w}}).encode())) for w in ("in the calldata", "by tokenURI"))
    ours = collection_for(studio, net, key, artist, "Ours", 750)
    art = json.loads((Path(__file__).resolve().parent / "artifacts" / "LyingCollection.json").read_text())
    lying = contract(net, COLLECTION, deploy(net, key, "LyingCollection", f"ipfs://{raw_cid_from_digest(named)}", art=art)["contractAddress"])
    for coll in (ours, lying):
        send(net, key, call_tx(coll, "mint", artist, b"\x07" * 32, said), "mint")
    assert _is_ours(net, ours) and not _is_ours(net, lying)
    tokens = ChainIndex.open(studio, net, [ours, lying]).tokens()
    token = int.from_bytes(b"\x07" * 32, "big")
    assert tokens[f"{ours.address}:{token}"]["work"] == "in the calldata"
    assert tokens[f"{lying.address}:{token}"]["work"] == "by tokenURI"
