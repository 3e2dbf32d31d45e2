"""The marketplace contract on py-evm: every path, adversaries included, and money conserved on every sale."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3.logs import DISCARD

from latentmint.chain.network import call_tx, contract, deploy, send

from test_contracts import Chain, reverts

TESTS = Path(__file__).resolve().parent
ETH = 10**18


class Market(Chain):
    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.market = contract(self.net, "LatentmintMarket", deploy(self.net, self.keys["artist"], "LatentmintMarket")["contractAddress"])
        self.token, _, _ = self.mint(b"for sale")
        self.tx("artist", "setApprovalForAll", self.market.address, True)

    def m(self, who: str, function: str, *args, value: int = 0):
        return send(self.net, self.keys[who], {**call_tx(self.market, function, *args), "value": value}, function)

    def balance(self, who: str) -> int:
        return self.net.w3.eth.get_balance(self.addr.get(who, who))


def _fee(receipt) -> int:
    return receipt["gasUsed"] * receipt["effectiveGasPrice"]


@pytest.fixture
def market(tmp_path: Path) -> Market:
    return Market(tmp_path / "chain")


def test_list_buy_pays_royalty_and_seller_and_refunds_the_excess(market: Market) -> None:
    c = market.coll.address
    market.tx("artist", "transferFrom", market.addr["artist"], market.addr["alice"], market.token)  # a resale: alice sells
    market.tx("alice", "setApprovalForAll", market.market.address, True)
    market.m("alice", "list", c, market.token, ETH)
    assert market.market.functions.liveListing(c, market.token).call() == [market.addr["alice"], ETH]
    artist, alice, bob = market.balance("artist"), market.balance("alice"), market.balance("bob")
    receipt = market.m("bob", "buy", c, market.token, ETH, value=ETH + 12345)  # overpays: the excess comes back
    sold = market.market.events.Sold().process_receipt(receipt, errors=DISCARD)[0]["args"]
    assert sold["royalty"] == ETH * 750 // 10_000 and sold["royaltyReceiver"] == market.addr["artist"]
    assert market.balance("artist") - artist == sold["royalty"]
    assert market.balance("alice") - alice == ETH - sold["royalty"]
    assert bob - market.balance("bob") == ETH + _fee(receipt)
    assert market.coll.functions.ownerOf(market.token).call() == market.addr["bob"]
    with reverts("NotListed"):  # sold: the listing is gone
        market.m("carol", "buy", c, market.token, ETH, value=ETH)


def test_underpaying_price_zero_strangers_and_missing_approval_are_refused(market: Market) -> None:
    c = market.coll.address
    with reverts("InvalidPrice"):
        market.m("artist", "list", c, market.token, 0)
    with reverts("NotOwnerOrApproved"):
        market.m("bob", "list", c, market.token, ETH)
    other, _, _ = market.mint(b"not approved", to="alice")
    with reverts("MarketNotApproved"):
        market.m("alice", "list", c, other, ETH)
    market.m("artist", "list", c, market.token, ETH)
    with reverts("Underpaid"):
        market.m("bob", "buy", c, market.token, ETH, value=ETH - 1)
    with reverts("NotSeller"):
        market.m("bob", "updatePrice", c, market.token, 1)
    with reverts("NotSeller"):
        market.m("bob", "cancel", c, market.token)
    market.m("artist", "updatePrice", c, market.token, 2 * ETH)
    assert market.market.functions.liveListing(c, market.token).call()[1] == 2 * ETH
    receipt = market.m("artist", "cancel", c, market.token)
    assert market.market.events.Cancelled().process_receipt(receipt, errors=DISCARD)
    assert market.coll.functions.ownerOf(market.token).call() == market.addr["artist"]  # back from escrow
    with reverts("NotListed"):
        market.m("bob", "buy", c, market.token, 2 * ETH, value=2 * ETH)
    with reverts("NotListed"):
        market.m("artist", "cancel", c, market.token)
    with reverts("NothingToWithdraw"):
        market.m("bob", "withdraw")


def test_a_listing_cannot_outlive_the_sellers_hold_on_the_token(market: Market) -> None:
    c = market.coll.address
    market.m("artist", "list", c, market.token, ETH)
    assert market.coll.functions.ownerOf(market.token).call() == market.market.address  # in escrow
    with reverts("ERC721InsufficientApproval"):  # the seller cannot move it away (and back) while it is listed
        market.tx("artist", "transferFrom", market.addr["artist"], market.addr["carol"], market.token)
    market.m("artist", "cancel", c, market.token)  # the only way out: the listing dies with it
    market.tx("artist", "transferFrom", market.addr["artist"], market.addr["carol"], market.token)
    market.tx("carol", "transferFrom", market.addr["carol"], market.addr["artist"], market.token)  # and back
    market.tx("artist", "setApprovalForAll", market.market.address, False)
    market.tx("artist", "setApprovalForAll", market.market.address, True)  # approval revoked and given again
    assert market.market.functions.liveListing(c, market.token).call() == ["0x" + "00" * 20, 0]
    with reverts("NotListed"):  # nothing revived at the old price
        market.m("bob", "buy", c, market.token, ETH, value=ETH)


def test_a_buyer_pays_only_the_price_they_agreed_to_and_a_raised_royalty_is_refused(market: Market) -> None:
    c = market.coll.address
    market.m("artist", "list", c, market.token, ETH)
    market.m("artist", "updatePrice", c, market.token, 3 * ETH)  # raised after the buyer looked
    bob = market.balance("bob")
    with reverts("PriceChanged"):
        market.m("bob", "buy", c, market.token, ETH, value=5 * ETH)
    assert market.balance("bob") == bob  # refused in simulation: nothing sent, nothing paid
    market.tx("artist", "setTokenRoyalty", market.token, market.addr["artist"], 2000)  # 7.5% -> 20% after listing
    with reverts("RoyaltyRaised"):  # the seller would get less than they listed for
        market.m("bob", "buy", c, market.token, 3 * ETH, value=3 * ETH)
    market.tx("artist", "setTokenRoyalty", market.token, market.addr["artist"], 500)  # lowered: the seller gets more, fine
    receipt = market.m("bob", "buy", c, market.token, 3 * ETH, value=3 * ETH)
    assert market.market.events.Sold().process_receipt(receipt, errors=DISCARD)[0]["args"]["royalty"] == 3 * ETH * 500 // 10_000


def test_a_reverting_royalty_receiver_cannot_block_the_sale(market: Market) -> None:
    c = market.coll.address
    market.tx("artist", "setDefaultRoyalty", market.coll.address, 1000)  # the collection has no receive(): payments to it revert
    market.m("artist", "list", c, market.token, ETH)
    seller = market.balance("artist")
    receipt = market.m("bob", "buy", c, market.token, ETH, value=ETH)
    deferred = market.market.events.PaymentDeferred().process_receipt(receipt, errors=DISCARD)[0]["args"]
    assert deferred["account"] == market.coll.address and deferred["amount"] == ETH // 10
    assert market.market.functions.credits(market.coll.address).call() == ETH // 10
    assert market.balance("artist") - seller == ETH - ETH // 10
    assert market.coll.functions.ownerOf(market.token).call() == market.addr["bob"]


def _malicious(market: Market):
    art = json.loads((TESTS / "artifacts" / "MaliciousBuyer.json").read_text())
    receipt = deploy(market.net, market.keys["bob"], "MaliciousBuyer", market.market.address, art=art)
    return market.net.w3.eth.contract(address=receipt["contractAddress"], abi=art["abi"])


def test_a_malicious_buyer_cannot_reenter(market: Market) -> None:
    c = market.coll.address
    attacker = _malicious(market)
    market.m("artist", "list", c, market.token, ETH)
    send(market.net, market.keys["bob"], {**call_tx(attacker, "attack", c, market.token, False), "value": 2 * ETH}, "attack")
    assert market.coll.functions.ownerOf(market.token).call() == attacker.address  # the honest part of its call succeeded
    assert attacker.functions.reentered().call() is False  # both re-entries (buy from onERC721Received, withdraw from receive) failed
    assert market.balance(attacker.address) == ETH  # its overpayment was refunded
    assert market.balance(market.market.address) == 0  # the market keeps nothing


def test_a_buyer_refusing_its_refund_is_credited_instead(market: Market) -> None:
    c = market.coll.address
    attacker = _malicious(market)
    market.m("artist", "list", c, market.token, ETH)
    send(market.net, market.keys["bob"], {**call_tx(attacker, "attack", c, market.token, True), "value": ETH + 7}, "attack")
    assert market.market.functions.credits(attacker.address).call() == 7


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(price=st.integers(min_value=1, max_value=10**23), bps=st.integers(min_value=0, max_value=10_000), extra=st.integers(min_value=0, max_value=10**18))
def test_money_is_conserved_on_every_sale(market: Market, price: int, bps: int, extra: int) -> None:
    c = market.coll.address
    owner = next(n for n in ("artist", "alice", "bob", "carol") if market.coll.functions.ownerOf(market.token).call() == market.addr[n])
    buyer = "carol" if owner != "carol" else "alice"
    market.tx("artist", "setDefaultRoyalty", market.addr["bob" if owner != "bob" else "alice"], bps)
    market.tx(owner, "setApprovalForAll", market.market.address, True)
    market.m(owner, "list", c, market.token, price)
    receiver = market.coll.functions.royaltyInfo(market.token, price).call()[0]
    names = {market.addr[n]: n for n in market.addr}
    before = {n: market.balance(n) for n in market.addr}
    receipt = market.m(buyer, "buy", c, market.token, price, value=price + extra)
    after = {n: market.balance(n) for n in market.addr}
    royalty = price * bps // 10_000
    assert before[buyer] - after[buyer] == price + _fee(receipt)
    assert after[names[receiver]] - before[names[receiver]] == royalty
    assert after[owner] - before[owner] == price - royalty
    assert market.balance(market.market.address) == 0
