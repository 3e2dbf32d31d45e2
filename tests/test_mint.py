"""Minting certified works: on the embedded chain across processes, on a real JSON-RPC node (anvil),
and safely through crashes, reruns and every failure a user can meet."""

from __future__ import annotations

import json
from collections import Counter
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from latentmint.art.generate import generate
from latentmint.art.works import load_work
from latentmint.chain import mint as mint_module
from latentmint.chain.embedded import LOG, open_embedded
from latentmint.chain.mint import history, mint_works
from latentmint.chain.network import call_tx, connect, send
from latentmint.provenance.identity import unlock
from latentmint.storage.cid import cid_of_file
from latentmint.storage.store import open_store
from latentmint.studio import Studio, init_studio

from conftest import certified_studio, free_port

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"
ANVIL = Path(__file__).resolve().parent / "node" / "node_modules" / ".bin" / "anvil"
ANVIL_KEY = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")  # anvil's first dev account


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return certified_studio(tmp_path_factory.mktemp("mint"), PASSWORD).root


@pytest.fixture
def studio(template: Path, tmp_path: Path) -> Studio:
    """A fresh copy of the certified studio per test, so each starts with nothing minted."""
    import shutil

    shutil.copytree(template, tmp_path / "studio")
    return init_studio(tmp_path / "studio")


def _work_ids(studio: Studio) -> list[str]:
    return sorted(p.parent.name for p in studio.works.glob("*/work.json"))


def cli(*args: str, studio: Studio) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LATENTMINT_PASSWORD": PASSWORD}
    return subprocess.run([sys.executable, "-m", "latentmint", *args, "--studio", str(studio.root)], capture_output=True, text=True, env=env, timeout=300, stdin=subprocess.DEVNULL)


def test_mint_json_history_in_a_new_process_and_refusing_a_second_mint(studio: Studio) -> None:
    ids = _work_ids(studio)
    made = cli("mint", *ids[:2], "--royalty", "10%", "--json", studio=studio)
    assert made.returncode == 0, made.stderr
    minted = json.loads(made.stdout)["minted"]
    assert [m["work"] for m in minted] == ids[:2] and minted[0]["tx"] == minted[1]["tx"]  # one transaction
    for m in minted:
        work = load_work(studio, m["work"])
        certified = work.root / work.record["certificate"]["file"]
        assert m["token_id"] == int(work.record["certificate"]["sha256"], 16)
        assert m["image_cid"] == cid_of_file(certified) == cli("cid", str(certified), studio=studio).stdout.strip()
        assert m["token_uri"].startswith("ipfs://bafkrei") and work.record["tokens"][0]["token_uri"] == m["token_uri"]
        meta = json.loads(open_store(studio).cat(m["token_uri"].removeprefix("ipfs://")))
        assert meta["image"] == f"ipfs://{m['image_cid']}" and meta["description"] == work.record["certificate"]["summary"]
        assert {"seed", "model", "training steps", "content credentials sha256"} <= {a["trait_type"] for a in meta["attributes"]}
    shown = cli("history", str(minted[0]["token_id"]), "--json", studio=studio)
    assert shown.returncode == 0, shown.stderr
    doc = json.loads(shown.stdout)
    artist = unlock(studio, PASSWORD).identity.address
    assert doc["owner"] == doc["creator"] == artist and [e["event"] for e in doc["events"]] == ["mint"]
    again = cli("mint", ids[0], "--json", studio=studio)  # a rerun sends nothing for what is minted
    assert again.returncode == 0 and json.loads(again.stdout)["minted"][0]["already"] and json.loads(again.stdout)["minted"][0]["tx"] == minted[0]["tx"]
    net = connect(studio)
    coll = mint_module.contract(net, mint_module.COLLECTION, doc["collection"])
    assert coll.functions.royaltyInfo(minted[0]["token_id"], 1000).call()[1] == 100


def test_an_interrupted_mint_is_completed_by_a_rerun(studio: Studio, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _work_ids(studio)
    keys = unlock(studio, PASSWORD)
    works = [load_work(studio, w) for w in ids[:2]]
    real_record = mint_module._record

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # the process dies after the chain accepted the mint, before work.json

    monkeypatch.setattr(mint_module, "_record", crash)
    with pytest.raises(KeyboardInterrupt):
        mint_works(studio, connect(studio), keys, works)
    assert all("tokens" not in load_work(studio, w).record for w in ids[:2])  # nothing recorded
    monkeypatch.setattr(mint_module, "_record", real_record)
    done = mint_works(studio, connect(studio), keys, [load_work(studio, w) for w in ids[:2]])
    assert all(m.recovered for m in done) and len({m.tx for m in done}) == 1
    assert history(studio, connect(studio), done[0].token_id)["events"][0]["tx"] == done[0].tx


def test_a_rerun_after_a_crash_during_mint_royalty_applies_it_to_every_token(studio: Studio, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = unlock(studio, PASSWORD)
    ids = _work_ids(studio)
    mint_works(studio, connect(studio), keys, [load_work(studio, ids[3])])  # the collection exists, at the default 7.5%
    works = [load_work(studio, w) for w in ids[:3]]
    real_send, calls = mint_module.send, []

    def crash_on_the_second_royalty(net, key, tx, what):
        if what.startswith("setting token"):
            calls.append(what)
            if len(calls) == 2:
                raise KeyboardInterrupt  # killed after the mint and one royalty
        return real_send(net, key, tx, what)

    monkeypatch.setattr(mint_module, "send", crash_on_the_second_royalty)
    with pytest.raises(KeyboardInterrupt):
        mint_works(studio, connect(studio), keys, works, royalty_bps=1000)
    monkeypatch.setattr(mint_module, "send", real_send)
    net = connect(studio)
    rerun = mint_works(studio, net, keys, [load_work(studio, w.id) for w in works], royalty_bps=1000)
    assert all(m.already for m in rerun)
    coll = mint_module.contract(net, mint_module.COLLECTION, rerun[0].work.record["tokens"][0]["collection"])
    assert [coll.functions.royaltyInfo(m.token_id, 10_000).call()[1] for m in rerun] == [1000, 1000, 1000]


def test_a_torn_chain_log_reopens_at_the_last_whole_block(tmp_path: Path) -> None:
    w3, keys = open_embedded(tmp_path)
    from eth_account import Account

    to = Account.create().address
    from latentmint.chain.network import Network

    net = Network(w3, "embedded", w3.eth.chain_id, keys)
    send(net, keys[0], {"to": to, "value": 5}, "payment")
    height = w3.eth.block_number
    with open(tmp_path / LOG, "ab") as f:
        f.write(b"\x00\x00\x10\x00garbage from a crash mid-write")
    w3, _ = open_embedded(tmp_path)
    assert w3.eth.block_number == height and w3.eth.get_balance(to) == 5
    send(Network(w3, "embedded", w3.eth.chain_id, keys), keys[0], {"to": to, "value": 5}, "payment")  # appends cleanly
    w3, _ = open_embedded(tmp_path)
    assert w3.eth.get_balance(to) == 10


def test_failures_are_explicit(studio: Studio) -> None:
    ids = _work_ids(studio)
    down = cli("mint", ids[0], "--network", "http://127.0.0.1:9", studio=studio)
    assert down.returncode == 1 and "no Ethereum node answers" in down.stderr
    not_certified = generate(studio, "run", [99], None, "cpu")[0]
    refused = cli("mint", not_certified.id, studio=studio)
    assert refused.returncode == 1 and "certify" in refused.stderr
    assert "tokens" not in load_work(studio, ids[0]).record


def _start_anvil(port: int, state: Path) -> subprocess.Popen:
    node = subprocess.Popen([str(ANVIL), "--host", "127.0.0.1", "--port", str(port), "--state", str(state), "--silent"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return node
        except OSError:
            time.sleep(0.1)
    node.kill()
    raise RuntimeError("anvil did not start")


def test_any_json_rpc_node_works_with_no_code_change(studio: Studio, tmp_path: Path) -> None:
    if not ANVIL.exists():
        pytest.skip("tests/node/node_modules missing: `make test` installs anvil with npm")
    port, state = free_port(), tmp_path / "anvil-state.json"
    url = f"http://127.0.0.1:{port}"
    node = _start_anvil(port, state)
    try:
        ids = _work_ids(studio)
        settings = studio.root / "latentmint.toml"
        original = settings.read_text()
        settings.write_text(original.replace("[chain]", "[chain]\nchain_id = 1"))  # expects mainnet
        wrong = cli("mint", ids[0], "--network", url, studio=studio)
        assert wrong.returncode == 1 and "chain id 31337, but latentmint.toml expects 1" in wrong.stderr
        settings.write_text(original)
        broke = cli("mint", ids[0], "--network", url, studio=studio)
        assert broke.returncode == 1 and "has 0 ETH" in broke.stderr  # a real network has no faucet
        net = connect(studio, url)
        artist = unlock(studio, PASSWORD).identity.address
        send(net, ANVIL_KEY, {"to": artist, "value": net.w3.to_wei(10, "ether")}, "funding the artist")
        made = cli("mint", ids[0], ids[1], "--network", url, "--json", studio=studio)
        assert made.returncode == 0, made.stderr
        token = json.loads(made.stdout)["minted"][0]["token_id"]
        doc = history(studio, net, token)
        coll = mint_module.contract(net, mint_module.COLLECTION, doc["collection"])
        buyer = "0x" + "ab" * 20
        send(net, unlock(studio, PASSWORD).eth_key, call_tx(coll, "transferFrom", artist, net.w3.to_checksum_address(buyer), token), "transfer")
    finally:
        node.terminate()
        node.wait(10)
    node = _start_anvil(port, state)  # the node's own persisted state, reopened
    try:
        shown = cli("history", str(token), "--network", url, "--json", studio=studio)
        assert shown.returncode == 0, shown.stderr
        doc = json.loads(shown.stdout)
        assert doc["owner"].lower() == buyer and [e["event"] for e in doc["events"]] == ["mint", "transfer"]
    finally:
        node.terminate()
        node.wait(10)


def test_market_wallet_transfer_and_verify_from_the_command_line(studio: Studio, tmp_path: Path) -> None:
    from PIL import Image

    work = _work_ids(studio)[0]
    token = str(json.loads(cli("mint", work, "--json", studio=studio).stdout)["minted"][0]["token_id"])
    assert cli("wallet", "add", "collector", studio=studio).returncode == 0
    assert json.loads(cli("wallet", "fund", "collector", "--json", studio=studio).stdout)["eth"] == "100"
    listed = cli("market", "list", token, "--price", "0.05", "--json", studio=studio)
    assert listed.returncode == 0, listed.stderr
    shown = json.loads(cli("market", "show", token, "--json", studio=studio).stdout)
    assert shown["listed"] and shown["price_eth"] == "0.05" and shown["royalty_bps"] == 750
    listed = json.loads(cli("history", token, "--json", studio=studio).stdout)
    assert listed["owner"] == shown["owner"] == shown["seller"] and listed["escrow"] == shown["escrow"]  # in escrow, still the seller's
    refused = cli("market", "buy", token, "--as", "collector", "--price", "0.04", studio=studio)
    assert refused.returncode == 1 and "not the 0.04 ETH you agreed to" in refused.stderr
    bought = cli("market", "buy", token, "--as", "collector", "--json", studio=studio)
    assert bought.returncode == 0, bought.stderr
    sale = json.loads(bought.stdout)
    assert sale["price_wei"] == 5 * 10**16 and sale["royalty_wei"] == 5 * 10**16 * 750 // 10_000
    wallets = json.loads(cli("wallet", "show", "--json", studio=studio).stdout)
    assert wallets["collector"]["tokens"] == 1 and wallets["artist"]["tokens"] == 0
    events = json.loads(cli("history", token, "--json", studio=studio).stdout)["events"]
    assert [e["event"] for e in events] == ["mint", "listed", "sale"] and events[2]["royalty_wei"] == sale["royalty_wei"]
    assert events[2]["from"] == shown["seller"] and events[2]["to"] == wallets["collector"]["address"]
    record = load_work(studio, work).record
    certified = studio.works / work / record["certificate"]["file"]
    verdict = json.loads(cli("verify", str(certified), "--json", studio=studio).stdout)
    assert verdict["verdict"] == "AUTHENTIC" and verdict["owner"] == wallets["collector"]["address"] and int(token) == verdict["token_id"]
    copy = tmp_path / "copy.jpg"
    Image.open(certified).convert("RGB").save(copy, quality=70)
    verdict = json.loads(cli("verify", str(copy), "--json", studio=studio).stdout)
    assert verdict["verdict"] == "COPY" and verdict["token_id"] == int(token) and set(verdict) >= {"owner", "creator", "reason"}
    again = cli("market", "buy", token, "--as", "collector", studio=studio)
    assert again.returncode == 1 and "not listed" in again.stderr
    stranger = cli("market", "list", token, "--price", "1", studio=studio)  # the artist no longer owns it
    assert stranger.returncode == 1 and "belongs to" in stranger.stderr
    given = cli("transfer", token, "artist", "--as", "collector", "--json", studio=studio)
    assert given.returncode == 0 and json.loads(given.stdout)["to"] == wallets["artist"]["address"]


def test_royalties_are_shared_with_the_photographers(tmp_path: Path) -> None:
    """Two credited photographers (4 and 2 photos) share 30% of every royalty; the artist keeps 70%."""
    from eth_account import Account

    from latentmint.chain.royalty import plan_split

    photographers = [Account.create().address, Account.create().address]
    studio = certified_studio(tmp_path, PASSWORD, works=2, paid_photographers=[photographers[0]] * 4 + [photographers[1]] * 2)
    work, own = _work_ids(studio)
    token = str(json.loads(cli("mint", work, "--json", studio=studio).stdout)["minted"][0]["token_id"])
    own_token = json.loads(cli("mint", own, "--royalty", "10%", "--json", studio=studio).stdout)["minted"][0]["token_id"]
    split = cli("royalty", "split", "--credits", "30%", "--json", studio=studio)
    assert split.returncode == 0, split.stderr
    doc = json.loads(split.stdout)
    shares = {p["address"]: p["share"] for p in doc["payees"]}
    artist = unlock(studio, PASSWORD).identity.address
    coll = mint_module.contract(connect(studio), mint_module.COLLECTION, load_work(studio, own).record["tokens"][0]["collection"])
    assert doc["tokens_with_own_royalty"] == 1 and coll.functions.royaltyInfo(own_token, 10_000).call() == [doc["splitter"], 1000]  # its own rate, paid to the split
    assert shares == {artist: 0.7, photographers[0]: 0.2, photographers[1]: 0.1}
    assert cli("wallet", "add", "collector", studio=studio).returncode == 0
    assert cli("wallet", "fund", "collector", studio=studio).returncode == 0
    assert cli("market", "list", token, "--price", "1", studio=studio).returncode == 0
    bought = json.loads(cli("market", "buy", token, "--as", "collector", "--json", studio=studio).stdout)
    assert bought["royalty_receiver"] == doc["splitter"] and bought["royalty_wei"] == 75 * 10**15
    paid = json.loads(cli("royalty", "release", photographers[1], "--json", studio=studio).stdout)
    assert paid["wei"] == 75 * 10**15 // 10
    net = connect(studio)
    assert net.w3.eth.get_balance(photographers[1]) == paid["wei"]
    again = cli("royalty", "release", photographers[1], studio=studio)
    assert again.returncode == 1 and "NothingDue" in again.stderr
    assert plan_split(artist, Counter({photographers[0]: 1, photographers[1]: 2}), 0.0) == [(artist, 10_000)]
