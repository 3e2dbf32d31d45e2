"""Public-chain limits, against a real node (anvil) behind a proxy that behaves like a public RPC provider:
thousands of empty blocks between mints, eth_getLogs refused above 500 blocks, HTTP 429 now and then, and a
reorganisation of the chain's tip. The event index must start at the deployment block, read in ranges the
provider accepts, retry rate-limited reads, and replace what a reorg changed."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import closing, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from latentmint.art.works import list_works
from latentmint.chain.events import deployment_block
from latentmint.chain.network import connect, deploy, send
from latentmint.provenance.identity import unlock
from latentmint.studio import Studio, init_studio

from conftest import certified_studio, free_port
from test_mint import ANVIL, ANVIL_KEY, _start_anvil

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"
MAX_BLOCKS = 500


class ProviderLike(BaseHTTPRequestHandler):
    """Forwards JSON-RPC to anvil, refusing wide eth_getLogs and answering every third read with HTTP 429."""

    upstream = ""
    counts = {"requests": 0, "refused_ranges": 0, "rate_limited": 0, "widest_served": 0}
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        call = json.loads(body)
        with self.lock:
            self.counts["requests"] += 1
            n = self.counts["requests"]
        if call["method"] != "eth_sendRawTransaction" and n % 3 == 0:
            self.counts["rate_limited"] += 1
            return self._answer(429, b'{"error": "too many requests"}')
        if call["method"] == "eth_getLogs":
            f = call["params"][0]
            width = int(f["toBlock"], 16) - int(f["fromBlock"], 16) + 1
            if width > MAX_BLOCKS:
                self.counts["refused_ranges"] += 1
                error = {"jsonrpc": "2.0", "id": call["id"], "error": {"code": -32005, "message": f"query exceeds max block range {MAX_BLOCKS}"}}
                return self._answer(200, json.dumps(error).encode())
            self.counts["widest_served"] = max(self.counts["widest_served"], width)
        request = urllib.request.Request(self.upstream, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            self._answer(200, response.read())

    def _answer(self, status: int, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


def mine(rpc: str, blocks: int) -> None:
    """anvil_mine with room to finish: anvil takes time quadratic in the count (~28 s for 5,000 blocks on two
    loaded cores), past web3's 30 s read timeout."""
    call = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "anvil_mine", "params": [hex(blocks)]}).encode()
    request = urllib.request.Request(rpc, data=call, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=600) as response:
        assert "error" not in json.loads(response.read())


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return certified_studio(tmp_path_factory.mktemp("public"), PASSWORD, works=2).root


def cli(studio: Studio, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LATENTMINT_PASSWORD": PASSWORD}
    return subprocess.run([sys.executable, "-m", "latentmint", *args, "--studio", str(studio.root)], capture_output=True, text=True, env=env, timeout=300)


def test_the_index_reads_in_ranges_retries_rate_limits_and_survives_a_reorg(template: Path, tmp_path: Path) -> None:
    if not ANVIL.exists():
        pytest.skip("tests/node/node_modules missing: `make test` installs anvil with npm")
    shutil.copytree(template, tmp_path / "studio")
    studio = init_studio(tmp_path / "studio")
    port = free_port()
    direct = f"http://127.0.0.1:{port}"
    node = _start_anvil(port, tmp_path / "anvil-state.json")
    ProviderLike.upstream = direct
    proxy = ThreadingHTTPServer(("127.0.0.1", free_port()), ProviderLike)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    public = f"http://127.0.0.1:{proxy.server_address[1]}"
    try:
        net = connect(studio, direct)
        w3 = net.w3
        send(net, ANVIL_KEY, {"to": unlock(studio, PASSWORD).identity.address, "value": w3.to_wei(10, "ether")}, "funding the artist")
        mine(direct, 300)  # the collection is not deployed at block 0
        first, second = sorted(w.id for w in list_works(studio))
        minted = [json.loads(cli(studio, "mint", wid, "--network", direct, "--json").stdout)["minted"][0] for wid in (first,)]
        mine(direct, 2500)  # thousands of empty blocks between two mints: five of the provider's ranges
        minted += [json.loads(cli(studio, "mint", second, "--network", direct, "--json").stdout)["minted"][0]]
        deployed = next(d for d in json.loads((studio.chain / "deployments.json").read_text()).values() if d.get("network") == direct)
        assert deployed["block"] > 300
        # a collection the studio did not record: its deployment block is found on chain
        art = json.loads((Path(__file__).resolve().parent / "artifacts" / "HostileCollection.json").read_text())
        other = deploy(net, ANVIL_KEY, "HostileCollection", art=art)
        assert deployment_block(studio, net, other["contractAddress"], w3.eth.block_number) == other["blockNumber"]

        for index in studio.chain.glob("events-*.sqlite"):
            index.unlink()  # built from scratch through the provider-like proxy
        shown = [cli(studio, "history", str(m["token_id"]), "--network", public, "--json") for m in minted]
        assert all(s.returncode == 0 for s in shown), [s.stderr for s in shown]
        assert [[e["event"] for e in json.loads(s.stdout)["events"]] for s in shown] == [["mint"], ["mint"]]
        counts = ProviderLike.counts
        assert counts["refused_ranges"] >= 1 and counts["rate_limited"] >= 1 and 0 < counts["widest_served"] <= MAX_BLOCKS
        with closing(sqlite3.connect(next(studio.chain.glob("events-*.sqlite")))) as db:
            start = db.execute("SELECT start FROM contracts WHERE address = ?", (deployed["collection"],)).fetchone()
        assert start == (deployed["block"],)  # not from genesis

        # a reorg of the tip: a transfer is indexed, the chain drops it and mines a different one instead
        token = str(minted[0]["token_id"])
        snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
        alice, bob = "0x" + "a1" * 20, "0x" + "b2" * 20
        assert cli(studio, "transfer", token, alice, "--network", direct).returncode == 0
        before = json.loads(cli(studio, "history", token, "--network", public, "--json").stdout)
        assert before["owner"].lower() == alice and [e["event"] for e in before["events"]] == ["mint", "transfer"]
        w3.provider.make_request("evm_revert", [snapshot])
        assert cli(studio, "transfer", token, bob, "--network", direct).returncode == 0
        after = json.loads(cli(studio, "history", token, "--network", public, "--json").stdout)
        assert after["owner"].lower() == bob and [(e["event"], e["to"].lower()) for e in after["events"]][1:] == [("transfer", bob)]
    finally:
        proxy.shutdown()
        node.terminate()
        node.wait(10)


class LyingGateway(BaseHTTPRequestHandler):
    """Forwards gateway reads and flips one byte of every answer: a gateway that must not be believed."""

    upstream = ""

    def do_GET(self) -> None:
        request = urllib.request.Request(self.upstream + self.path, headers={"Accept": self.headers.get("Accept", "*/*")})
        with urllib.request.urlopen(request, timeout=60) as response:
            data = bytearray(response.read())
        data[len(data) // 2] ^= 0x01
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(bytes(data))

    def log_message(self, *args) -> None:
        pass


def _serve_in_thread(app: object):
    import time

    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


def test_a_stranger_verifies_in_an_empty_folder_through_the_node_and_a_gateway(template: Path, tmp_path: Path) -> None:
    """No studio: the chain through its RPC URL, metadata and fingerprints through an IPFS gateway (the artist's
    gallery serves trustless raw blocks), the same verdicts as in the studio; a gateway that alters bytes is
    an error naming the CID; the cache is kept and reused."""
    if not ANVIL.exists():
        pytest.skip("tests/node/node_modules missing: `make test` installs anvil with npm")
    from PIL import Image

    from latentmint.web.app import create_app

    shutil.copytree(template, tmp_path / "studio")
    studio = init_studio(tmp_path / "studio")
    port = free_port()
    rpc = f"http://127.0.0.1:{port}"
    node = _start_anvil(port, tmp_path / "anvil-state.json")
    gallery, gateway = _serve_in_thread(create_app(studio))
    LyingGateway.upstream = gateway
    liar = ThreadingHTTPServer(("127.0.0.1", free_port()), LyingGateway)
    threading.Thread(target=liar.serve_forever, daemon=True).start()
    try:
        net = connect(studio, rpc)
        send(net, ANVIL_KEY, {"to": unlock(studio, PASSWORD).identity.address, "value": net.w3.to_wei(10, "ether")}, "funding the artist")
        minted = json.loads(cli(studio, "mint", "all", "--network", rpc, "--json").stdout)["minted"]
        collection = next(d for d in json.loads((studio.chain / "deployments.json").read_text()).values() if d.get("network") == rpc)["collection"]
        work = next(w for w in list_works(studio) if w.id == minted[0]["work"])
        original = work.root / work.record["certificate"]["file"]
        copy = tmp_path / "found-online.jpg"
        with Image.open(original) as im:
            im.convert("RGB").save(copy, quality=70)
        in_studio = [json.loads(cli(studio, "verify", str(f), "--network", rpc, "--json").stdout) for f in (original, copy)]
        assert [v["verdict"] for v in in_studio] == ["AUTHENTIC", "COPY"]

        empty = tmp_path / "empty"
        empty.mkdir()

        def stranger(file: Path, ipfs: str, cache: Path) -> subprocess.CompletedProcess[str]:
            env = {**os.environ, "LATENTMINT_CACHE": str(cache)}
            args = ["verify", str(file), "--network", rpc, "--collection", collection, "--ipfs", ipfs, "--json"]
            return subprocess.run([sys.executable, "-m", "latentmint", *args], capture_output=True, text=True, env=env, cwd=empty, timeout=300)

        for _ in range(2):  # the second time from the cache it kept
            outside = [stranger(f, gateway, tmp_path / "cache") for f in (original, copy)]
            assert all(o.returncode == 0 for o in outside), [o.stderr for o in outside]
            docs = [json.loads(o.stdout) for o in outside]
            assert [(d["verdict"], d["token_id"], d["owner"]) for d in docs] == [(v["verdict"], v["token_id"], v["owner"]) for v in in_studio]
            assert docs[0]["source"]["network"] == rpc and docs[0]["source"]["ipfs"] == gateway and docs[0]["source"]["collection"] == collection
            assert docs[0]["objects"][0] == {"what": "metadata", "cid": minted[0]["token_uri"].removeprefix("ipfs://")}
            assert str(tmp_path / "cache") in outside[0].stderr and not list(empty.iterdir())  # nothing written where it ran
        assert len(list((tmp_path / "cache").glob("verify/*/store/blocks/*"))) >= 2 and list((tmp_path / "cache").glob("verify/*/chain/events-*.sqlite"))

        lied = [stranger(f, f"http://127.0.0.1:{liar.server_address[1]}", tmp_path / "fresh-cache") for f in (original, copy)]
        for result in lied:
            assert result.returncode == 1 and "do not hash to that CID" in result.stderr and re.search(r"\bbaf[a-z2-7]{56}\b", result.stderr), result.stderr
    finally:
        liar.shutdown()
        gallery.should_exit = True
        node.terminate()
        node.wait(10)


JSIPFS = Path(__file__).resolve().parent / "ipfs-node" / "node_modules" / ".bin" / "jsipfs"


@contextmanager
def js_ipfs(repo: Path) -> Iterator[tuple[str, str]]:
    """A real IPFS node (js-ipfs 0.66.1's daemon: Kubo's RPC API and a gateway) on 127.0.0.1 with a fresh repo,
    no bootstrap peers, no discovery, no public swarm. Yields (RPC API URL, gateway URL)."""
    import time

    env = {**os.environ, "IPFS_PATH": str(repo)}
    subprocess.run([str(JSIPFS), "init", "--empty-repo"], env=env, check=True, capture_output=True, timeout=120)
    config = json.loads((repo / "config").read_text())
    api, gateway, rpc, swarm = free_port(), free_port(), free_port(), free_port()
    config["Addresses"].update(Swarm=[f"/ip4/127.0.0.1/tcp/{swarm}"], API=f"/ip4/127.0.0.1/tcp/{api}", Gateway=f"/ip4/127.0.0.1/tcp/{gateway}", RPC=f"/ip4/127.0.0.1/tcp/{rpc}", Delegates=[])
    config["Bootstrap"] = []
    config["Discovery"] = {"MDNS": {"Enabled": False}, "webRTCStar": {"Enabled": False}}
    (repo / "config").write_text(json.dumps(config))
    log_path = repo.parent / "jsipfs.log"
    with open(log_path, "w") as log:
        node = subprocess.Popen([str(JSIPFS), "daemon", "--offline"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while "Daemon is ready" not in log_path.read_text():
            if node.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"jsipfs daemon did not start: {log_path.read_text()[-500:]}")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{api}", f"http://127.0.0.1:{gateway}"
    finally:
        node.terminate()
        node.wait(20)


def test_a_real_ipfs_node_pins_every_file_and_serves_them_back(template: Path, tmp_path: Path) -> None:
    """storage.kubo_url against a real node: mint adds and pins every file and metadata document (the node's
    CIDs must equal ours), a studio that lost its store fetches the blocks back from the node, and a stranger
    verifies through the node's RPC API or its gateway with the same verdicts as the studio."""
    if not ANVIL.exists() or not JSIPFS.exists():
        pytest.skip("npm peers missing: `make test` installs anvil (tests/node) and js-ipfs (tests/ipfs-node)")
    from PIL import Image

    from latentmint.studio import set_settings

    shutil.copytree(template, tmp_path / "studio")
    port = free_port()
    rpc = f"http://127.0.0.1:{port}"
    node = _start_anvil(port, tmp_path / "anvil-state.json")
    try:
        with js_ipfs(tmp_path / "ipfs-repo") as (api, gateway):
            studio = set_settings(init_studio(tmp_path / "studio"), {"storage": {"kubo_url": api}})
            net = connect(studio, rpc)
            send(net, ANVIL_KEY, {"to": unlock(studio, PASSWORD).identity.address, "value": net.w3.to_wei(10, "ether")}, "funding the artist")
            done = cli(studio, "mint", "all", "--network", rpc, "--json")
            assert done.returncode == 0, done.stderr
            minted = json.loads(done.stdout)["minted"]
            cids = [c for m in minted for c in (m["token_uri"].removeprefix("ipfs://"), m["image_cid"])]
            for cid in cids:  # pinned on the node (pin/ls answers an error for a CID it does not pin)
                with urllib.request.urlopen(urllib.request.Request(f"{api}/api/v0/pin/ls?arg={cid}", data=b"", method="POST"), timeout=30) as answer:
                    assert answer.status == 200 and "Keys" in json.loads(answer.read())
            collection = next(d for d in json.loads((studio.chain / "deployments.json").read_text()).values() if d.get("network") == rpc)["collection"]
            work = next(w for w in list_works(studio) if w.id == minted[0]["work"])
            original = work.root / work.record["certificate"]["file"]
            copy = tmp_path / "found-online.jpg"
            with Image.open(original) as im:
                im.convert("RGB").save(copy, quality=70)
            verdicts = [json.loads(cli(studio, "verify", str(f), "--network", rpc, "--json").stdout)["verdict"] for f in (original, copy)]
            assert verdicts == ["AUTHENTIC", "COPY"]

            shutil.rmtree(studio.store / "blocks")  # the studio lost its store (and its index): the node has everything
            for index in studio.chain.glob("events-*.sqlite"):
                index.unlink()
            again = [json.loads(cli(studio, "verify", str(f), "--network", rpc, "--json").stdout)["verdict"] for f in (original, copy)]
            assert again == verdicts and {p.name for p in (studio.store / "blocks").iterdir()} >= {m["token_uri"].removeprefix("ipfs://") for m in minted}

            empty = tmp_path / "empty"
            empty.mkdir()
            for ipfs, cache in ((f"{api}/api/v0", "cache-rpc"), (gateway, "cache-gateway")):
                env = {**os.environ, "LATENTMINT_CACHE": str(tmp_path / cache)}
                outside = [
                    subprocess.run([sys.executable, "-m", "latentmint", "verify", str(f), "--network", rpc, "--collection", collection, "--ipfs", ipfs, "--json"], capture_output=True, text=True, env=env, cwd=empty, timeout=300)
                    for f in (original, copy)
                ]  # fmt: skip
                assert all(o.returncode == 0 for o in outside), [o.stderr for o in outside]
                assert [json.loads(o.stdout)["verdict"] for o in outside] == verdicts, ipfs
    finally:
        node.terminate()
        node.wait(10)
