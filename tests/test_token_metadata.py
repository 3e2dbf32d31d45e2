"""What other tools see of a minted collection, checked with implementations we did not write: token metadata
against the OpenSea metadata standard (as a JSON schema, validated by `jsonschema`), walks as a still image plus
an MP4 that FFmpeg decodes, and the collection's ERC-7572 contractURI and tokenURI read with Foundry's `cast`
from an anvil node."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest

from latentmint.art.generate import walk
from latentmint.art.works import list_works
from latentmint.chain.network import connect, send
from latentmint.provenance.certify import certify_work
from latentmint.provenance.identity import unlock
from latentmint.storage.store import open_store

from conftest import certified_studio, free_port
from test_mint import ANVIL, ANVIL_KEY, _start_anvil

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"
CAST = ANVIL.parent / "cast"
PUBLIC_URL = "https://gallery.example.org"

# https://docs.opensea.io/docs/metadata-standards, written down as a schema
OPENSEA_METADATA = {
    "type": "object",
    "required": ["name", "description", "image", "attributes"],
    "properties": {
        "name": {"type": "string"},
        "description": {"type": "string"},
        "image": {"type": "string", "pattern": "^(ipfs|https)://"},
        "animation_url": {"type": "string", "pattern": "^(ipfs|https)://"},
        "external_url": {"type": "string", "format": "uri", "pattern": "^https?://"},
        "background_color": {"type": "string", "pattern": "^[0-9a-fA-F]{6}$"},
        "attributes": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["trait_type", "value"],
                "properties": {
                    "trait_type": {"type": "string"},
                    "value": {"type": ["string", "number"]},  # JSON schema's "number" excludes booleans
                    "display_type": {"enum": ["number", "boost_number", "boost_percentage", "date"]},
                },
            },
        },
    },
}


@pytest.fixture(scope="module")
def minted(tmp_path_factory: pytest.TempPathFactory):
    if not (ANVIL.exists() and CAST.exists()):
        pytest.skip("tests/node/node_modules missing: `make test` installs anvil and cast with npm")
    root = tmp_path_factory.mktemp("metadata")
    studio = certified_studio(root, PASSWORD, works=1)
    keys = unlock(studio, PASSWORD)
    certify_work(studio, walk(studio, "run", [1, 2], frames=6, fmt="gif"), keys, allow_near_copy=True)
    settings = studio.root / "latentmint.toml"
    settings.write_text(settings.read_text().replace("[studio]", f'[studio]\npublic_url = "{PUBLIC_URL}"'))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    node = _start_anvil(port, root / "anvil-state.json")
    try:
        net = connect(studio, url)
        send(net, ANVIL_KEY, {"to": keys.identity.address, "value": net.w3.to_wei(10, "ether")}, "funding the artist")
        env = {**os.environ, "LATENTMINT_PASSWORD": PASSWORD}
        made = subprocess.run([sys.executable, "-m", "latentmint", "mint", "all", "--network", url, "--json", "--studio", str(studio.root)], capture_output=True, text=True, env=env, timeout=300)
        assert made.returncode == 0, made.stderr
        yield studio, url, json.loads(made.stdout)["minted"]
    finally:
        node.terminate()
        node.wait(10)


def cast(*args: str) -> str:
    done = subprocess.run([str(CAST), *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_token_metadata_follows_the_opensea_standard(minted) -> None:
    import av
    import jsonschema
    from PIL import Image

    studio, _, tokens = minted
    store = open_store(studio)
    kinds = {w.id: w.record["kind"] for w in list_works(studio)}
    assert sorted(kinds.values()) == ["image", "walk"]
    for token in tokens:
        doc = json.loads(store.cat(token["token_uri"].removeprefix("ipfs://")))
        jsonschema.validate(doc, OPENSEA_METADATA, format_checker=jsonschema.FormatChecker())
        assert doc["external_url"] == f"{PUBLIC_URL}/works/{token['work']}"
        image = store.cat(doc["image"].removeprefix("ipfs://"))
        with Image.open(io.BytesIO(image)) as still:
            assert getattr(still, "n_frames", 1) == 1 and still.format == "PNG"  # a still, also for the walk
        if kinds[token["work"]] == "walk":
            movie = store.cat(doc["animation_url"].removeprefix("ipfs://"))
            assert movie[4:8] == b"ftyp"
            with av.open(io.BytesIO(movie)) as container:
                assert container.streams.video[0].codec_context.name == "h264" and sum(1 for _ in container.decode(video=0)) == 6
            assert doc["properties"]["original"] == f"ipfs://{token['image_cid']}"  # the certified GIF itself
        else:
            assert "animation_url" not in doc


def test_contract_uri_and_token_uri_read_with_cast(minted) -> None:
    studio, url, tokens = minted
    collection = json.loads((studio.chain / "deployments.json").read_text())
    address = next(d["collection"] for d in collection.values() if d.get("network") == url)
    uri = cast("call", address, "contractURI()(string)", "--rpc-url", url).strip('"')
    assert uri.startswith("ipfs://bafkrei")
    doc = json.loads(open_store(studio).cat(uri.removeprefix("ipfs://")))
    receiver, amount = cast("call", address, "royaltyInfo(uint256,uint256)(address,uint256)", "1", "10000", "--rpc-url", url).split()
    assert doc["seller_fee_basis_points"] == int(amount) == 750 and doc["fee_recipient"].lower() == receiver.lower()
    assert doc["name"].startswith("Ada Artist") and doc["external_link"] == PUBLIC_URL and doc["image"].startswith("ipfs://")
    for token in tokens:
        assert cast("call", address, "tokenURI(uint256)(string)", str(token["token_id"]), "--rpc-url", url).strip('"') == token["token_uri"]
