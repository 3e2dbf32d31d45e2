"""Lazy minting, reserve auctions and offers in LatentmintMarket, on py-evm: every refusal, hostile payees,
signature replay and malleability, auction timing edges, and an invariant over random sequences of actions."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from web3.logs import DISCARD

from latentmint.chain.network import call_tx, contract, deploy, send
from latentmint.chain.sales import sign_voucher, voucher_args
from latentmint.errors import LatentmintError
from latentmint.storage.cid import cid_of_bytes, digest_of

from test_contracts import Chain, reverts

TESTS = Path(__file__).resolve().parent
ETH = 10**18
HOUR = 3600
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


class Sales(Chain):
    def __init__(self, folder: Path) -> None:
        super().__init__(folder, lazy_market=True)
        self.market = contract(self.net, "LatentmintMarket", self.market_address)
        self.c = self.coll.address
        for who in self.addr:
            self.tx(who, "setApprovalForAll", self.market.address, True)

    def m(self, who: str, function: str, *args, value: int = 0):
        return send(self.net, self.keys[who], {**call_tx(self.market, function, *args), "value": value}, function)

    def balance(self, who: str) -> int:
        return self.net.w3.eth.get_balance(self.addr.get(who, who))

    def now(self) -> int:
        return self.net.w3.eth.get_block("latest")["timestamp"]

    def travel(self, seconds: int) -> None:
        """The next block is `seconds` after the latest one, or later where the wall clock (which sets the
        pending block's time) has already passed that: the chain cannot travel back in time."""
        pending = self.net.w3.eth.get_block("pending")["timestamp"]
        self.net.w3.provider.make_request("testing_timeTravel", [max(self.now() + seconds, pending)])

    def voucher(self, content: bytes, price: int = ETH, duration: int = 0, expiry: int | None = None, nonce: int = 1, signer: str = "artist", chain_id: int | None = None, market: str | None = None, collection: str | None = None, royalty: int | None = None) -> dict:
        meta = cid_of_bytes(json.dumps({"name": content.hex()}).encode())
        doc = {
            "chain_id": chain_id or self.net.chain_id,
            "market": market or self.market.address,
            "message": {"collection": collection or self.c, "tokenId": str(int.from_bytes(hashlib.sha256(content).digest(), "big")), "metadataDigest": "0x" + digest_of(meta).hex(), "price": str(price), "royaltyBasisPoints": self.coll.functions.royaltyInfo(0, 10_000).call()[1] if royalty is None else royalty, "expiry": expiry or self.now() + 24 * HOUR, "auctionDuration": duration, "nonce": str(nonce)},
        }
        doc["signature"] = sign_voucher(self.keys[signer], doc)
        return doc

    def redeem(self, who: str, doc: dict, value: int | None = None, function: str = "buyWithVoucher"):
        voucher, signature = voucher_args(doc)
        return self.m(who, function, voucher, signature, value=int(doc["message"]["price"]) if value is None else value)

    def auction(self, token: int) -> dict:
        seller, end, duration, bps, bidder, amount = self.market.functions.auctions(self.c, token).call()
        return {"seller": seller, "end": end, "duration": duration, "bidder": bidder, "amount": amount}

    def party(self, who: str = "dave"):
        art = json.loads((TESTS / "artifacts" / "ReentrantParty.json").read_text())
        receipt = deploy(self.net, self.keys[who], "ReentrantParty", self.market.address, art=art)
        return self.net.w3.eth.contract(address=receipt["contractAddress"], abi=art["abi"])


def _fee(receipt) -> int:
    return receipt["gasUsed"] * receipt["effectiveGasPrice"]


@pytest.fixture
def sales(tmp_path: Path) -> Sales:
    return Sales(tmp_path / "chain")


def test_a_lazy_voucher_mints_to_the_buyer_and_pays_artist_and_royalty_in_one_transaction(sales: Sales) -> None:
    sales.tx("artist", "setDefaultRoyalty", sales.addr["carol"], 1000)  # a split receiver elsewhere: both payouts visible
    doc = sales.voucher(b"lazy one", price=ETH // 5)
    token = int(doc["message"]["tokenId"])
    before = {n: sales.balance(n) for n in ("artist", "bob", "carol")}
    receipt = sales.redeem("bob", doc, value=ETH // 5 + 999)  # overpays: the excess comes back
    assert sales.coll.functions.ownerOf(token).call() == sales.addr["bob"]
    assert sales.coll.functions.metadataDigest(token).call().hex() == doc["message"]["metadataDigest"][2:]
    assert sales.balance("carol") - before["carol"] == ETH // 50
    assert sales.balance("artist") - before["artist"] == ETH // 5 - ETH // 50
    assert before["bob"] - sales.balance("bob") == ETH // 5 + _fee(receipt)
    assert sales.balance(sales.market.address) == 0
    with reverts("RoyaltyRaised"):  # the collection's royalty rose above what the voucher showed the buyer
        sales.redeem("bob", sales.voucher(b"lazy two", royalty=500))
    lazy = sales.market.events.LazyMinted().process_receipt(receipt, errors=DISCARD)[0]["args"]
    assert lazy["signer"] == sales.addr["artist"] and lazy["tokenId"] == token
    with reverts("AlreadyMinted"):  # a voucher for a work already minted
        sales.redeem("carol", doc)


def test_a_voucher_changed_replayed_expired_or_cancelled_is_refused_with_a_decoded_error(sales: Sales) -> None:
    doc = sales.voucher(b"guarded", price=ETH, nonce=7)
    for field, value in (("price", str(ETH // 100)), ("royaltyBasisPoints", 0), ("auctionDuration", 0), ("expiry", doc["message"]["expiry"] + 1)):
        changed = {**doc, "message": {**doc["message"], field: value}}
        if changed["message"] != doc["message"]:
            with reverts("InvalidSignature"):
                sales.redeem("bob", changed)
    with reverts("InvalidSignature"):  # signed for another chain
        sales.redeem("bob", sales.voucher(b"guarded", chain_id=sales.net.chain_id + 1))
    with reverts("InvalidSignature"):  # signed for another market
        sales.redeem("bob", sales.voucher(b"guarded", market=sales.addr["carol"]))
    with reverts("InvalidSignature"):  # signed by someone who does not own the collection
        sales.redeem("bob", sales.voucher(b"guarded", signer="alice"))
    # a second collection of the same artist, whose market is another one
    other_market = deploy(sales.net, sales.keys["artist"], "LatentmintMarket")["contractAddress"]
    other_coll = deploy(sales.net, sales.keys["artist"], "LatentmintCollection", "B", "B", sales.addr["artist"], sales.addr["artist"], 0, "", other_market)["contractAddress"]
    with reverts("NotMarket"):  # this market may not mint in a collection that names another
        sales.redeem("bob", sales.voucher(b"guarded", collection=other_coll))
    with reverts("VoucherExpired"):
        sales.redeem("bob", sales.voucher(b"guarded", expiry=sales.now() - 1))
    with reverts("WrongVoucherKind"):
        sales.redeem("bob", sales.voucher(b"guarded", duration=HOUR))
    with reverts("Underpaid"):
        sales.redeem("bob", doc, value=ETH - 1)
    with reverts("SellerCannotBid"):
        sales.redeem("artist", doc)
    # malleability: the same signature with s' = n - s (and v flipped) is refused, not a second valid signature
    sig = bytes.fromhex(doc["signature"][2:])
    s = int.from_bytes(sig[32:64], "big")
    flipped = {**doc, "signature": "0x" + (sig[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - sig[64]])).hex()}
    with reverts("ECDSAInvalidSignatureS"):
        sales.redeem("bob", flipped)
    receipt = sales.m("artist", "cancelVoucher", 7)
    assert sales.market.functions.voucherCancelled(sales.addr["artist"], 7).call()
    assert not sales.market.functions.voucherCancelled(sales.addr["artist"], 8).call()
    assert sales.market.events.VoucherCancelledBySigner().process_receipt(receipt)[0]["args"]["nonce"] == 7
    with reverts("VoucherCancelled"):
        sales.redeem("bob", doc)


def test_a_reserve_auction_follows_foundations_rules_to_the_second(sales: Sales) -> None:
    token, _, _ = sales.mint(b"auctioned")
    with reverts("InvalidDuration"):
        sales.m("artist", "createAuction", sales.c, token, ETH, 15 * 60 - 1)
    with reverts("InvalidDuration"):
        sales.m("artist", "createAuction", sales.c, token, ETH, 30 * 24 * HOUR + 1)
    with reverts("InvalidPrice"):
        sales.m("artist", "createAuction", sales.c, token, 0, HOUR)
    sales.m("artist", "createAuction", sales.c, token, ETH, 24 * HOUR)
    assert sales.coll.functions.ownerOf(token).call() == sales.market.address  # escrow
    with reverts("NotOwnerOrApproved"):  # the market holds it now: it cannot also be listed
        sales.m("artist", "list", sales.c, token, ETH)
    with reverts("BidTooLow"):
        sales.m("alice", "bid", sales.c, token, value=ETH - 1)
    with reverts("SellerCannotBid"):
        sales.m("artist", "bid", sales.c, token, value=ETH)
    with reverts("NotSeller"):
        sales.m("bob", "cancelAuction", sales.c, token)
    alice = sales.balance("alice")
    first = sales.m("alice", "bid", sales.c, token, value=ETH)  # the reserve: the clock starts now
    end = sales.auction(token)["end"]
    assert end == sales.net.w3.eth.get_block(first["blockNumber"])["timestamp"] + 24 * HOUR
    with reverts("AuctionHasBid"):
        sales.m("artist", "cancelAuction", sales.c, token)
    with reverts("BidTooLow"):  # 10% more is the least
        sales.m("bob", "bid", sales.c, token, value=ETH + ETH // 10 - 1)
    bob = sales.balance("bob")
    second = sales.m("bob", "bid", sales.c, token, value=ETH + ETH // 10)
    assert sales.balance("alice") == alice - ETH - _fee(first) + ETH  # refunded at once
    assert sales.auction(token)["end"] == end  # far from the end: no extension
    with reverts("AuctionNotEnded"):
        sales.m("carol", "settle", sales.c, token)
    sales.travel(end - sales.now() - 10 * 60)  # 10 minutes before the end
    late = sales.m("carol", "bid", sales.c, token, value=2 * ETH)
    late_at = sales.net.w3.eth.get_block(late["blockNumber"])["timestamp"]
    new_end = sales.auction(token)["end"]
    assert new_end == late_at + 15 * 60 > end  # extended to 15 minutes after the late bid
    assert sales.balance("bob") == bob - _fee(second)
    sales.travel(new_end - sales.now())  # the next block is exactly at the end
    with reverts("AuctionEnded"):
        sales.m("alice", "bid", sales.c, token, value=3 * ETH)
    sales.travel(new_end - sales.now())
    artist, carol = sales.balance("artist"), sales.balance("carol")
    settled = sales.m("bob", "settle", sales.c, token)  # anyone settles, exactly at the end
    assert sales.net.w3.eth.get_block(settled["blockNumber"])["timestamp"] == new_end
    assert sales.coll.functions.ownerOf(token).call() == sales.addr["carol"]
    assert sales.balance("artist") - artist == 2 * ETH  # seller and royalty receiver are both the artist here
    assert sales.balance("carol") == carol
    assert sales.balance(sales.market.address) == 0
    with reverts("NoAuction"):
        sales.m("bob", "settle", sales.c, token)


def test_an_auction_without_bids_can_be_cancelled_and_one_from_a_voucher_mints_into_escrow(sales: Sales) -> None:
    token, _, _ = sales.mint(b"withdrawn")
    sales.m("artist", "createAuction", sales.c, token, ETH, HOUR)
    sales.m("artist", "cancelAuction", sales.c, token)
    assert sales.coll.functions.ownerOf(token).call() == sales.addr["artist"]
    doc = sales.voucher(b"lazy auction", price=ETH // 2, duration=HOUR, nonce=3)
    lazy = int(doc["message"]["tokenId"])
    with reverts("WrongVoucherKind"):
        sales.redeem("bob", doc)
    with reverts("BidTooLow"):
        sales.redeem("bob", doc, value=ETH // 2 - 1, function="bidWithVoucher")
    sales.redeem("bob", doc, value=ETH // 2, function="bidWithVoucher")
    assert sales.coll.functions.ownerOf(lazy).call() == sales.market.address
    sales.m("artist", "cancelVoucher", 3)  # too late: the auction has a bid and runs on
    sales.m("alice", "bid", sales.c, lazy, value=ETH)
    with reverts("AlreadyMinted"):
        sales.redeem("carol", sales.voucher(b"lazy auction", nonce=4))
    sales.travel(HOUR + 1)
    artist = sales.balance("artist")
    sales.m("carol", "settle", sales.c, lazy)
    assert sales.coll.functions.ownerOf(lazy).call() == sales.addr["alice"]
    assert sales.balance("artist") - artist == ETH


def test_offers_are_escrowed_replaced_withdrawn_and_accepted_with_royalty(sales: Sales) -> None:
    token, _, _ = sales.mint(b"offered", to="alice")
    sales.tx("artist", "setDefaultRoyalty", sales.addr["carol"], 500)
    expiry = sales.now() + HOUR
    with reverts("InvalidExpiry"):
        sales.m("bob", "makeOffer", sales.c, token, sales.now(), value=ETH)
    with reverts("InvalidPrice"):
        sales.m("bob", "makeOffer", sales.c, token, expiry, value=0)
    with reverts("ERC721NonexistentToken"):  # offers are for tokens that exist
        sales.m("bob", "makeOffer", sales.c, token + 1, expiry, value=ETH)
    with reverts("SellerCannotBid"):
        sales.m("alice", "makeOffer", sales.c, token, expiry, value=ETH)
    bob = sales.balance("bob")
    r1 = sales.m("bob", "makeOffer", sales.c, token, expiry, value=ETH)
    r2 = sales.m("bob", "makeOffer", sales.c, token, expiry, value=2 * ETH)  # replaces the first, which comes back
    assert bob - sales.balance("bob") == 2 * ETH + _fee(r1) + _fee(r2)
    sales.m("dave", "makeOffer", sales.c, token, expiry, value=ETH)
    sales.m("dave", "withdrawOffer", sales.c, token)
    with reverts("NoOffer"):
        sales.m("dave", "withdrawOffer", sales.c, token)
    assert sales.balance(sales.market.address) == 2 * ETH
    sales.m("alice", "list", sales.c, token, 5 * ETH)  # listed: accepting the offer ends the listing
    with reverts("OfferChanged"):
        sales.m("alice", "acceptOffer", sales.c, token, sales.addr["bob"], ETH)
    with reverts("NotSeller"):
        sales.m("carol", "acceptOffer", sales.c, token, sales.addr["bob"], 2 * ETH)
    alice, carol = sales.balance("alice"), sales.balance("carol")
    receipt = sales.m("alice", "acceptOffer", sales.c, token, sales.addr["bob"], 2 * ETH)
    assert sales.coll.functions.ownerOf(token).call() == sales.addr["bob"]
    assert sales.balance("carol") - carol == 2 * ETH // 20
    assert sales.balance("alice") - alice == 2 * ETH - 2 * ETH // 20 - _fee(receipt)
    assert sales.market.functions.listings(sales.c, token).call()[0] == "0x" + "00" * 20
    assert sales.balance(sales.market.address) == 0
    sales.m("carol", "makeOffer", sales.c, token, sales.now() + 60, value=ETH)
    sales.travel(120)
    with reverts("OfferExpired"):
        sales.m("bob", "acceptOffer", sales.c, token, sales.addr["carol"], ETH)
    sales.m("bob", "createAuction", sales.c, token, ETH, HOUR)
    sales.m("alice", "makeOffer", sales.c, token, sales.now() + HOUR, value=ETH)
    with reverts("AlreadyForSale"):  # in an auction: it sells there
        sales.m("bob", "acceptOffer", sales.c, token, sales.addr["alice"], ETH)


@pytest.mark.parametrize("mode", [1, 2], ids=["refuses", "re-enters"])
def test_hostile_bidders_and_royalty_receivers_cannot_block_or_drain_a_sale(sales: Sales, mode: int) -> None:
    token, _, _ = sales.mint(b"hostile")
    bidder, receiver = sales.party("dave"), sales.party("dave")
    for party in (bidder, receiver):
        send(sales.net, sales.keys["dave"], call_tx(party, "setMode", mode), "mode")
    sales.tx("artist", "setDefaultRoyalty", receiver.address, 1000)
    sales.m("artist", "createAuction", sales.c, token, ETH, HOUR)
    send(sales.net, sales.keys["dave"], {**call_tx(bidder, "bid", sales.c, token), "value": ETH}, "bid")
    sales.m("bob", "bid", sales.c, token, value=2 * ETH)  # outbids the hostile contract: its refund is pushed
    assert sales.balance(bidder.address) + sales.market.functions.credits(bidder.address).call() == ETH
    assert bidder.functions.reentered().call() is False
    sales.travel(HOUR + 1)
    artist = sales.balance("artist")
    sales.m("carol", "settle", sales.c, token)  # the royalty receiver refuses or re-enters: the sale completes
    assert sales.coll.functions.ownerOf(token).call() == sales.addr["bob"]
    assert sales.balance("artist") - artist == 2 * ETH - 2 * ETH // 10
    assert sales.balance(receiver.address) + sales.market.functions.credits(receiver.address).call() == 2 * ETH // 10
    assert receiver.functions.reentered().call() is False
    credits = sum(sales.market.functions.credits(p.address).call() for p in (bidder, receiver))
    assert sales.balance(sales.market.address) == credits  # what the market holds is exactly what it owes
    send(sales.net, sales.keys["dave"], call_tx(bidder, "setMode", 0), "mode")
    if sales.market.functions.credits(bidder.address).call():
        send(sales.net, sales.keys["dave"], call_tx(bidder, "withdraw"), "withdraw")
        assert sales.balance(bidder.address) == ETH


class MarketMachine(RuleBasedStateMachine):
    """Random lists, bids, offers, cancels, buys, settles and withdrawals by random accounts (and a contract that
    refuses ETH): the market's balance always equals open bids + open offers + credits, and no ETH is made or lost."""

    sales: Sales
    made = 0

    def __init__(self) -> None:
        super().__init__()
        self.tokens: list[int] = []
        self.people = ["artist", "alice", "bob", "carol"]
        self.fees = 0
        self.total = self._total()
        # the chain outlives each example: bids and offers earlier examples left open on their tokens stay owed
        self.earlier = self.sales.balance(self.sales.market.address) - self._credits()

    def _credits(self) -> int:
        s = self.sales
        return sum(s.market.functions.credits(a).call() for a in [*(s.addr[p] for p in self.people), s.hostile.address])

    def _total(self) -> int:
        s = self.sales
        return sum(s.balance(n) for n in self.people) + s.balance(s.market.address) + s.balance(s.hostile.address)

    def _try(self, who: str, function: str, *args, value: int = 0) -> None:
        try:
            self.fees += _fee(self.sales.m(who, function, *args, value=value))
        except LatentmintError as exc:
            assert "would revert" in str(exc), exc  # a refusal, never anything else

    @rule(owner=st.sampled_from(["artist", "alice", "bob"]))
    def mint(self, owner: str) -> None:
        MarketMachine.made += 1
        token, _, receipt = self.sales.mint(f"machine {MarketMachine.made}".encode(), to=owner)
        self.fees += _fee(receipt)
        self.tokens.append(token)

    @rule(data=st.data(), who=st.sampled_from(["artist", "alice", "bob", "carol"]), action=st.sampled_from(["list", "createAuction", "cancel", "cancelAuction", "settle", "withdrawOffer", "withdraw"]))
    def act(self, data, who: str, action: str) -> None:
        if not self.tokens:
            return
        token = data.draw(st.sampled_from(self.tokens))
        args = {"list": (token, ETH), "createAuction": (token, ETH, 15 * 60)}.get(action, (token,))
        self._try(who, action, *(() if action == "withdraw" else (self.sales.c, *args)))

    @rule(data=st.data(), who=st.sampled_from(["artist", "alice", "bob", "carol", "hostile"]), wei=st.integers(min_value=1, max_value=3 * ETH), kind=st.sampled_from(["bid", "buy", "makeOffer", "acceptOffer"]))
    def pay(self, data, who: str, wei: int, kind: str) -> None:
        if not self.tokens:
            return
        s = self.sales
        token = data.draw(st.sampled_from(self.tokens))
        if who == "hostile":  # a contract that refuses every payment back
            try:
                send(s.net, s.keys["dave"], {**call_tx(s.hostile, "bid", s.c, token), "value": wei}, "bid")
                self.total += wei  # dave's ETH entered the system through the contract
            except LatentmintError as exc:
                assert "would revert" in str(exc)
            return
        if kind == "bid":
            self._try(who, "bid", s.c, token, value=wei)
        elif kind == "buy":
            self._try(who, "buy", s.c, token, ETH, value=ETH)
        elif kind == "makeOffer":
            self._try(who, "makeOffer", s.c, token, s.now() + HOUR, value=wei)
        else:
            buyer = data.draw(st.sampled_from(self.people))
            amount = s.market.functions.offers(s.c, token, s.addr[buyer]).call()[0]
            self._try(who, "acceptOffer", s.c, token, s.addr[buyer], amount)

    @rule(seconds=st.integers(min_value=1, max_value=HOUR))
    def wait(self, seconds: int) -> None:
        self.sales.travel(seconds)

    @invariant()
    def the_market_holds_exactly_what_it_owes(self) -> None:
        s = self.sales
        f = s.market.functions
        bids = sum(a[5] for t in self.tokens if int((a := f.auctions(s.c, t).call())[4], 16))
        offers = sum(f.offers(s.c, t, s.addr[p]).call()[0] for t in self.tokens for p in self.people)
        assert s.balance(s.market.address) == self.earlier + bids + offers + self._credits()

    @invariant()
    def no_eth_is_made_or_lost(self) -> None:
        assert self._total() + self.fees == self.total


def test_market_invariants_under_random_sequences(tmp_path: Path) -> None:
    sales = Sales(tmp_path / "chain")
    sales.hostile = sales.party("dave")
    send(sales.net, sales.keys["dave"], call_tx(sales.hostile, "setMode", 1), "mode")
    MarketMachine.sales = sales
    MarketMachine.TestCase.settings = settings(max_examples=8, stateful_step_count=25, deadline=None)
    MarketMachine.TestCase().runTest()
