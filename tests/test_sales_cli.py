"""Issue 16 end to end on a real JSON-RPC node (anvil), from the command line: a lazy voucher redeemed (nothing
sent by the artist to sign it), a reserve auction with three bidders and a late-bid extension settled (the
auction read back with Foundry's `cast`), an offer accepted; every party's balance checked to the wei."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from latentmint.chain.network import connect, send
from latentmint.provenance.identity import unlock

from conftest import certified_studio, free_port
from test_mint import ANVIL, ANVIL_KEY, PASSWORD, _start_anvil, _work_ids, cli

pytestmark = pytest.mark.slow
CAST = ANVIL.parent / "cast"
MILLI = 10**15  # 0.001 ETH


def _fees(net, address: str, first_block: int) -> int:
    """Gas paid by `address` for every transaction it sent since `first_block`."""
    total = 0
    for n in range(first_block, net.w3.eth.block_number + 1):
        for tx in net.w3.eth.get_block(n, full_transactions=True)["transactions"]:
            if tx["from"] == address:
                receipt = net.w3.eth.get_transaction_receipt(tx["hash"])
                total += receipt["gasUsed"] * receipt["effectiveGasPrice"]
    return total


def _run(*args: str, studio) -> dict:
    done = cli(*args, "--json", studio=studio)
    assert done.returncode == 0, f"{args}: {done.stderr}"
    return json.loads(done.stdout)


def test_lazy_sale_auction_with_extension_and_offer_on_anvil_balances_to_the_wei(tmp_path: Path) -> None:
    if not (ANVIL.exists() and CAST.exists()):
        pytest.skip("tests/node/node_modules missing: `make test` installs anvil and cast with npm")
    studio = certified_studio(tmp_path, PASSWORD, works=2)
    works = _work_ids(studio)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    node = _start_anvil(port, tmp_path / "anvil-state.json")
    try:
        net = connect(studio, url)
        artist = unlock(studio, PASSWORD).identity.address
        people = {"artist": artist}
        for name in ("ann", "ben", "cat"):
            people[name] = _run("wallet", "add", name, studio=studio)["address"]
        for address in people.values():
            send(net, ANVIL_KEY, {"to": address, "value": 10**18}, "funding")
        start = net.w3.eth.block_number + 1
        before = {n: net.w3.eth.get_balance(a) for n, a in people.items()}

        def run(*args: str) -> dict:
            return _run(*args, "--network", url, studio=studio)

        token = run("mint", works[0])["minted"][0]["token_id"]  # deploys the market, then the collection naming it
        # 1. lazy: the artist signs, sends nothing; the buyer's one transaction mints and pays
        sent = net.w3.eth.get_transaction_count(artist)
        voucher = run("market", "list", works[1], "--price", "0.2", "--lazy")
        assert voucher["tx"] is None and net.w3.eth.get_transaction_count(artist) == sent
        bought = run("market", "buy", voucher["voucher_cid"], "--as", "ann")
        assert bought["lazy"] and bought["paid"]["seller"]["wei"] + bought["paid"]["royalty"]["wei"] == 200 * MILLI
        events = [e["event"] for e in run("history", hex(voucher["token_id"]))["events"]]
        assert events == ["lazy mint"] and run("market", "show", hex(voucher["token_id"]))["owner"] == people["ann"]
        again = cli("market", "buy", voucher["voucher_cid"], "--as", "ben", "--network", url, studio=studio)
        assert again.returncode == 1 and "AlreadyMinted" in again.stderr

        # 2. a reserve auction: three bidders, the last one late enough to extend the end
        run("market", "auction", str(token), "--reserve", "0.1", "--duration", "1h")
        first = run("market", "bid", str(token), "--amount", "0.1", "--as", "ann")
        low = cli("market", "bid", str(token), "--amount", "0.105", "--as", "ben", "--network", url, studio=studio)
        assert low.returncode == 1 and "BidTooLow" in low.stderr  # under the last bid + 10%
        second = run("market", "bid", str(token), "--amount", "0.11", "--as", "ben")
        assert second["refunded"] == {"to": people["ann"], "wei": 100 * MILLI}
        now = net.w3.eth.get_block("latest")["timestamp"]
        net.w3.provider.make_request("evm_increaseTime", [first["end"] - now - 600])  # 10 minutes before the end
        late = run("market", "bid", str(token), "--amount", "0.2", "--as", "cat")
        late_at = net.w3.eth.get_transaction_receipt(late["tx"])["blockNumber"]
        assert late["end"] == net.w3.eth.get_block(late_at)["timestamp"] + 15 * 60 > first["end"]
        market = run("market", "show", str(token))["escrow"]
        read = subprocess.run([str(CAST), "call", market, "auctions(address,uint256)(address,uint40,uint32,uint16,address,uint96)", run("history", str(token))["collection"], str(token), "--rpc-url", url], capture_output=True, text=True, timeout=60)
        fields = [line.split()[0] for line in read.stdout.splitlines()]  # cast adds "[1.7e9]" beside big numbers
        assert len(fields) == 6, read.stderr
        assert fields[0] == artist and int(fields[1]) == late["end"] and fields[4] == people["cat"] and int(fields[5]) == 200 * MILLI
        early = cli("market", "settle", str(token), "--network", url, studio=studio)
        assert early.returncode == 1 and "AuctionNotEnded" in early.stderr
        net.w3.provider.make_request("evm_increaseTime", [15 * 60])
        net.w3.provider.make_request("evm_mine", [])  # a block past the end, as time passing would bring
        settled = run("market", "settle", str(token), "--as", "ann")  # anyone may settle
        assert settled["buyer"] == people["cat"] and settled["price_wei"] == 200 * MILLI
        assert [b["amount_wei"] for b in run("market", "show", str(token))["bids"]] == [100 * MILLI, 110 * MILLI, 200 * MILLI]

        # 3. an offer, accepted by the new owner; the royalty goes to the artist
        run("market", "offer", str(token), "--amount", "0.3", "--as", "ben")
        assert run("market", "show", str(token))["offers"][0]["amount_wei"] == 300 * MILLI
        accepted = run("market", "accept", str(token), "--from", "ben", "--as", "cat")
        royalty = 300 * MILLI * 750 // 10_000
        assert accepted["paid"] == {"royalty": {"to": artist, "wei": royalty}, "seller": {"to": people["cat"], "wei": 300 * MILLI - royalty}}
        history = [e["event"] for e in run("history", str(token))["events"]]
        assert history == ["mint", "auction", "escrow", "bid", "bid", "bid", "sale", "offer", "sale"]

        paid = {"artist": 200 * MILLI + 200 * MILLI + royalty, "ann": -200 * MILLI, "ben": -300 * MILLI, "cat": -200 * MILLI + 300 * MILLI - royalty}
        for name, address in people.items():
            assert net.w3.eth.get_balance(address) - before[name] == paid[name] - _fees(net, address, start), name
        assert net.w3.eth.get_balance(market) == 0
    finally:
        node.terminate()
        node.wait(10)
