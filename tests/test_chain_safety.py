"""Nothing lost: real processes share one embedded chain (two mints at once; the gallery serving while the CLI
mints and the page trades; eight market commands at once), a damaged chain.log stops instead of dropping
good blocks, and `mint` / `doctor` reconcile work.json with what the chain holds."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from latentmint.art.works import list_works, load_work
from latentmint.chain.embedded import LOG, ChainLogDamaged, open_embedded
from latentmint.chain.market import MARKET
from latentmint.chain.mint import _deployments, token_exists
from latentmint.chain.network import Network, connect, contract, send
from latentmint.doctor import check_studio
from latentmint.studio import Studio, init_studio

from conftest import certified_studio, free_port

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return certified_studio(tmp_path_factory.mktemp("safety"), PASSWORD, works=9).root


@pytest.fixture
def studio(template: Path, tmp_path: Path) -> Studio:
    shutil.copytree(template, tmp_path / "studio")
    return init_studio(tmp_path / "studio")


def _env() -> dict[str, str]:
    return {**os.environ, "LATENTMINT_PASSWORD": PASSWORD}


def start(*args: str, studio: Studio) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "latentmint", *args, "--studio", str(studio.root)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), stdin=subprocess.DEVNULL)


def finish(procs: list[subprocess.Popen[str]]) -> list[tuple[int, str, str]]:
    outputs = [p.communicate(timeout=600) for p in procs]
    return [(p.returncode, *o) for p, o in zip(procs, outputs)]


def _recorded_tokens(studio: Studio, net: Network) -> list[tuple[str, int]]:
    return [(t["collection"], int(t["token_id"])) for w in list_works(studio) for t in w.record.get("tokens", []) if t["chain"] == net.key and not t.get("lost")]


def test_mints_gallery_trades_and_market_commands_at_once_lose_nothing(studio: Studio) -> None:
    import httpx

    ids = sorted(w.id for w in list_works(studio))
    # two mints at once (the first of them also deploys the collection)
    results = finish([start("mint", *ids[:3], studio=studio), start("mint", *ids[3:6], studio=studio)])
    assert all(rc == 0 for rc, _, _ in results), [e for _, _, e in results]
    # the gallery runs while the CLI mints and the page lists the CLI's new token
    port = free_port()
    server = start("serve", "--port", str(port), studio=studio)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                httpx.get(base + "/", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        httpx.get(base + "/", timeout=30).raise_for_status()  # the server has opened the chain before the CLI writes
        (rc, _, stderr), = finish([start("mint", *ids[6:], studio=studio)])
        assert rc == 0, stderr
        with httpx.Client(base_url=base, timeout=60) as browser:
            page = browser.get(f"/works/{ids[6]}")
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
            listed = browser.post(f"/works/{ids[6]}/list", data={"price": "0.5", "account": "artist", "csrf": csrf}, headers={"Origin": base}, follow_redirects=False)
            assert listed.status_code == 303 and "listed" in listed.headers["location"], listed.headers.get("location")
        # eight market commands at once, beside the running gallery
        tokens = {w: int(load_work(studio, w).record["tokens"][0]["token_id"]) for w in ids}
        others = [w for w in ids if w != ids[6]][:8]
        results = finish([start("market", "list", hex(tokens[w]), "--price", f"0.0{i + 1}", studio=studio) for i, w in enumerate(others)])
        assert all(rc == 0 for rc, _, _ in results), [e for _, _, e in results]
    finally:
        server.terminate()
        server.wait(timeout=30)
    net = connect(studio)
    recorded = _recorded_tokens(studio, net)
    assert len(recorded) == 9 and all(token_exists(net, c, t) for c, t in recorded)
    market = contract(net, MARKET, _deployments(studio)[net.key]["market"])
    prices = {w: market.functions.liveListing(recorded[0][0], tokens[w]).call()[1] for w in ids}
    assert prices[ids[6]] == 5 * 10**17 and sorted(prices[w] for w in others) == [10**16 * (i + 1) for i in range(8)]
    assert check_studio(studio) == []


def _flip(path: Path, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0x5A]))


def test_a_damaged_chain_log_stops_keeps_the_file_and_is_repaired_then_reminted(studio: Studio) -> None:
    ids = sorted(w.id for w in list_works(studio))[:2]
    for w in ids:  # two blocks: the second mint's block follows the first's
        rc, _, stderr = finish([start("mint", w, studio=studio)])[0]
        assert rc == 0, stderr
    log = studio.chain / "embedded" / LOG
    raw = log.read_bytes()
    second = raw.rfind(b"\xf0LMBATCH")
    damaged_at = raw.rfind(b"\xf0LMBATCH", 0, second - 1)  # the block before the last: valid blocks follow it
    _flip(log, damaged_at + 20)
    before = log.read_bytes()
    with pytest.raises(ChainLogDamaged, match=f"damaged at byte {damaged_at}"):
        connect(studio)
    shown = subprocess.run([sys.executable, "-m", "latentmint", "history", "1", "--studio", str(studio.root)], capture_output=True, text=True, env=_env())
    assert shown.returncode == 1 and f"damaged at byte {damaged_at}" in shown.stderr and "Traceback" not in shown.stderr
    assert log.read_bytes() == before  # kept as it is
    doctor = subprocess.run([sys.executable, "-m", "latentmint", "doctor", "--repair-chain", "--json", "--studio", str(studio.root)], capture_output=True, text=True, env=_env())
    report = json.loads(doctor.stdout)
    assert report["repair"]["repaired"] and Path(report["repair"]["copy"]).read_bytes() == before
    assert doctor.returncode == 1 and any("the chain does not have" in f["problem"] for f in report["findings"])
    again = subprocess.run([sys.executable, "-m", "latentmint", "mint", *ids, "--json", "--studio", str(studio.root)], capture_output=True, text=True, env=_env())
    assert again.returncode == 0, again.stderr
    assert "minting it again" in again.stderr and any(m["reminted"] for m in json.loads(again.stdout)["minted"])
    assert check_studio(studio) == []


def test_a_torn_tail_is_dropped_with_a_warning_naming_the_block(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    w3, keys = open_embedded(tmp_path)
    net = Network(w3, "embedded", w3.eth.chain_id, keys)
    send(net, keys[0], {"to": "0x" + "11" * 20, "value": 5}, "payment")
    height = w3.eth.block_number
    with open(tmp_path / LOG, "ab") as f:
        f.write(b"\xf0LMBATCH\x00\x00\x10\x00\x00\x00\x00\x00half a block from a crash")
    w3, _ = open_embedded(tmp_path)
    assert w3.eth.block_number == height
    assert f"block {height + 1}" in capfd.readouterr().err


def test_doctor_names_each_disagreement(studio: Studio) -> None:
    from latentmint.chain.mint import mint_works
    from latentmint.provenance.identity import unlock

    work = sorted(list_works(studio), key=lambda w: w.id)[0]
    mint_works(studio, connect(studio), unlock(studio, PASSWORD), [work])
    assert check_studio(studio) == []
    token = load_work(studio, work.id).record["tokens"][0]
    (studio.store / "blocks" / token["metadata_cid"]).unlink()  # a lost block
    certified = work.root / work.record["certificate"]["file"]
    certified.write_bytes(certified.read_bytes() + b"\0")  # an edited certified file
    problems = {f.problem for f in check_studio(studio)}
    assert any(token["metadata_cid"] in p and "not in the store" in p for p in problems)
    assert "changed since it was certified" in problems


def test_logs_sealed_with_each_block_answer_get_logs_as_eth_tester_itself_would(tmp_path: Path) -> None:
    """eth_getLogs on the embedded chain is answered from the logs written with each block; eth-tester's own walk of
    every receipt must give the same list for any range, address and topic filter, also for a block sealed
    before its logs were kept (here: its key removed), and transactions are found by hash as before."""
    from eth_account import Account
    from latentmint.chain.embedded import LOGS_KEY, _sealed_logs
    from latentmint.chain.events import TRANSFER
    from latentmint.chain.mint import collection_for

    studio = init_studio(tmp_path / "studio")
    net = connect(studio)
    key, other = net.faucet[0], Account.from_key(net.faucet[1]).address
    artist = Account.from_key(key).address
    coll = collection_for(studio, net, key, artist, "Logs", 500)
    tokens = []
    for i in range(4):
        send(net, key, {"to": coll.address, "data": coll.encode_abi("mint", args=[artist, bytes([i + 1]) * 32, bytes([9]) * 32])}, "mint")
        tokens.append(int.from_bytes(bytes([i + 1]) * 32, "big"))
    send(net, key, {"to": coll.address, "data": coll.encode_abi("transferFrom", args=[artist, other, tokens[1]])}, "transfer")
    send(net, key, {"to": other, "value": 1}, "a block without logs")
    tester = net.w3.provider.ethereum_tester
    chain = tester.backend.chain
    log_db = chain.chaindb.db
    while not hasattr(log_db, "derived"):  # py-evm wraps our LogDB; find it
        log_db = getattr(log_db, "wrapped_db", None) or log_db._db
    head = net.w3.eth.block_number
    transfer = TRANSFER
    pad = lambda a: "0x" + "00" * 12 + a[2:].lower()  # noqa: E731
    queries = [
        {"from_block": 0, "to_block": head},
        {"from_block": 0, "to_block": "latest", "address": coll.address},
        {"from_block": 2, "to_block": head - 1, "address": [coll.address, other]},
        {"from_block": 0, "to_block": head, "topics": [transfer]},
        {"from_block": 0, "to_block": head, "topics": [transfer, None, pad(other)]},
        {"from_block": 0, "to_block": head, "topics": [[transfer, "0x" + "ab" * 32], pad(artist)]},
        {"from_block": head, "to_block": head},
        {"from_block": 5, "to_block": 3},
    ]
    expected = [list(tester.get_logs(**q)) for q in queries]
    assert sum(map(len, expected)) > 10 and any(len(e) == 1 for e in expected)
    assert [_sealed_logs(log_db, chain, q) for q in queries] == expected
    dropped = [k for k in list(log_db._data) if k.startswith(LOGS_KEY)]
    for k in dropped:  # as if every block had been sealed by an older latentmint
        del log_db._data[k]
    assert dropped and [_sealed_logs(log_db, chain, q) for q in queries] == expected
    assert net.w3.eth.get_logs({"fromBlock": 0, "toBlock": head, "address": coll.address})[-1]["transactionHash"] == net.w3.eth.get_block(head - 1)["transactions"][0]
    import eth_tester.backends.pyevm.main as pyevm

    for number in (1, 3, head):  # found through py-evm's hash table, as eth-tester's walk finds it
        tx = net.w3.eth.get_block(number)["transactions"][0]
        walked = pyevm._get_transaction_by_hash.__wrapped__(chain, bytes(tx))
        assert pyevm._get_transaction_by_hash(chain, bytes(tx))[1:] == walked[1:] and walked[0].number == number
        assert net.w3.eth.get_transaction(tx)["blockNumber"] == number
