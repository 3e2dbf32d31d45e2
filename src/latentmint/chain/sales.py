"""Selling the ways art platforms do, beside the fixed-price listing of chain/market.py:

- lazy minting: the artist signs an EIP-712 voucher (nothing is sent to the chain); the buyer's purchase, or an
  auction's first bid, mints the token. The voucher is kept in the work's record and in the store by CID, so
  any studio holding the chain and the blocks can redeem it (`market buy <voucher CID>`);
- reserve auctions (Foundation's rules: the first bid at the reserve starts the clock, +10% per bid, a bid in the
  last 15 minutes extends the end, the outbid bidder is refunded at once, anyone settles after the end);
- offers on any token, held in the market's escrow until accepted or withdrawn.

Every action returns the transaction hash, the token id and what each party was paid.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from latentmint.chain.events import ZERO
from latentmint.chain.market import _collection, _market, _owner, _sender, approve_market, market_for
from latentmint.chain.mint import collection_for, owner_of, store_token_files, token_id_of
from latentmint.chain.network import Network, call_tx, hexstr, send, writes_chain
from latentmint.data.dataset import now_iso
from latentmint.errors import LatentmintError
from latentmint.storage.cid import digest_of
from latentmint.storage.store import open_store
from latentmint.studio import Studio

VOUCHER_TYPE = "latentmint-voucher"
VOUCHER_FIELDS = (
    ("collection", "address"),
    ("tokenId", "uint256"),
    ("metadataDigest", "bytes32"),
    ("price", "uint256"),
    ("royaltyBasisPoints", "uint16"),
    ("expiry", "uint64"),
    ("auctionDuration", "uint32"),
    ("nonce", "uint256"),
)
DOMAIN = {"name": "LatentmintMarket", "version": "1"}  # the contract's EIP712 constructor arguments


# -- vouchers -----------------------------------------------------------------------------------


def typed_data(message: dict[str, Any], chain_id: int, market: str) -> dict[str, Any]:
    """The EIP-712 document a wallet shows and signs: this market, on this chain, this voucher."""
    domain_types = [{"name": "name", "type": "string"}, {"name": "version", "type": "string"}, {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}]
    return {
        "types": {"EIP712Domain": domain_types, "Voucher": [{"name": n, "type": t} for n, t in VOUCHER_FIELDS]},
        "primaryType": "Voucher",
        "domain": {**DOMAIN, "chainId": chain_id, "verifyingContract": market},
        "message": message,
    }


def _typed_message(doc: dict[str, Any]) -> dict[str, Any]:
    m = doc["message"]
    return {**m, "tokenId": int(m["tokenId"]), "price": int(m["price"]), "nonce": int(m["nonce"]), "metadataDigest": bytes.fromhex(m["metadataDigest"].removeprefix("0x"))}


def sign_voucher(key: bytes, doc: dict[str, Any]) -> str:
    from eth_account import Account
    from eth_account.messages import encode_typed_data

    signed = Account.sign_message(encode_typed_data(full_message=typed_data(_typed_message(doc), doc["chain_id"], doc["market"])), key)
    return "0x" + bytes(signed.signature).hex()


def voucher_args(doc: dict[str, Any]) -> tuple[tuple[Any, ...], bytes]:
    """(the Voucher struct as the contract takes it, the signature bytes)."""
    m = _typed_message(doc)
    return tuple(m[name] for name, _ in VOUCHER_FIELDS), bytes.fromhex(doc["signature"].removeprefix("0x"))


@writes_chain
def sign_lazy_sale(studio: Studio, net: Network, keys: Any, work_id: str, price_wei: int, expires_s: float, auction_s: int = 0) -> dict[str, Any]:
    """Sign a voucher for a certified work that is not minted: a fixed-price sale (`auction_s` 0) or a reserve
    auction of `auction_s` seconds with reserve `price_wei`. Sends nothing, except the one-time deployment of
    the market and collection on a chain that has neither yet."""
    from latentmint.art.works import load_work
    from latentmint.chain.mint import parse_royalty

    work = load_work(studio, work_id)
    if not work.record.get("certificate"):
        raise LatentmintError(f"{work_id}: not certified yet; run `latentmint certify {work_id}` first")
    artist = keys.identity.address
    bps = parse_royalty(str(studio.setting("chain", "royalty", "7.5")))
    coll = collection_for(studio, net, keys.eth_key, artist, keys.identity.name, bps)
    market = market_for(studio, net, keys.eth_key)
    if "market" not in {f["name"] for f in coll.abi if f.get("type") == "function"} or coll.functions.market().call() != market.address:
        raise LatentmintError(f"collection {coll.address} cannot mint lazily through market {market.address} (deployed before lazy minting); mint the work and use `market list` or `market auction`")
    token_id = token_id_of(work.record["certificate"]["sha256"])
    if owner_of(coll, token_id) is not None:
        raise LatentmintError(f"{work_id} is already token {token_id:#x}; sell it with `market list {token_id:#x}` or `market auction {token_id:#x}`")
    store = open_store(studio)
    media, meta_cid = store_token_files(studio, store, work, keys.identity.name)
    royalty_bps = coll.functions.royaltyInfo(token_id, 10_000).call()[1]
    message = {
        "collection": coll.address,
        "tokenId": str(token_id),
        "metadataDigest": "0x" + digest_of(meta_cid).hex(),
        "price": str(price_wei),
        "royaltyBasisPoints": royalty_bps,
        "expiry": int(time.time() + expires_s),
        "auctionDuration": auction_s,
        "nonce": str(secrets.randbits(64)),
    }
    doc = {"type": VOUCHER_TYPE, "version": 1, "chain_id": net.chain_id, "market": market.address, "signer": artist, "work": work.id, "metadata_cid": meta_cid, "image_cid": media["image"], "message": message, "signature": ""}
    doc["signature"] = sign_voucher(keys.eth_key, doc)
    cid = store.put_bytes(json.dumps(doc, indent=1).encode(), f"{work.id}-voucher-{message['nonce']}.json")
    work.record.setdefault("vouchers", []).append({"cid": cid, "chain": net.key, "token_id": str(token_id), "price_wei": str(price_wei), "auction_duration": auction_s, "expiry": message["expiry"], "nonce": message["nonce"], "created": now_iso()})
    work.save()
    return {"voucher_cid": cid, "token_id": token_id, "work": work.id, "kind": "auction" if auction_s else "sale", "price_wei": price_wei, "royalty_bps": royalty_bps, "expiry": message["expiry"], "signer": artist, "market": market.address, "collection": coll.address, "tx": None}


def load_voucher(studio: Studio, cid: str) -> dict[str, Any]:
    """A voucher document from the store (or the IPFS source the studio reads through), checked for shape."""
    try:
        doc = json.loads(open_store(studio).cat(cid, limit=1 << 16))
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or doc.get("type") != VOUCHER_TYPE or not isinstance(doc.get("message"), dict) or {n for n, _ in VOUCHER_FIELDS} - set(doc["message"]):
        raise LatentmintError(f"{cid}: not a latentmint voucher")
    return doc


def vouchers_for(studio: Studio, net: Network, token_id: int, auction: bool | None = None) -> list[dict[str, Any]]:
    """Live vouchers (not expired, not cancelled) the studio's works hold for a token on this chain, newest first."""
    from latentmint.art.works import list_works

    found = []
    for w in list_works(studio):
        for v in reversed(w.record.get("vouchers", [])):
            if v["chain"] != net.key or int(v["token_id"]) != token_id or v.get("cancelled") or v["expiry"] < time.time():
                continue
            if auction is None or bool(v["auction_duration"]) == auction:
                found.append(v)
    return found


def _live_voucher(studio: Studio, net: Network, token_id: int, auction: bool) -> dict[str, Any] | None:
    for v in vouchers_for(studio, net, token_id, auction):
        doc = load_voucher(studio, v["cid"])
        if not _market(studio, net).functions.voucherCancelled(doc["signer"], int(doc["message"]["nonce"])).call():
            return doc
    return None


def _paid(net: Network, market: Any, receipt: Any) -> dict[str, Any]:
    """What the transaction paid each party (from the Sold event) and any payment deferred to a credit."""
    from web3.logs import DISCARD

    out: dict[str, Any] = {"tx": hexstr(receipt["transactionHash"]), "gas": receipt["gasUsed"]}
    for log in market.events.Sold().process_receipt(receipt, errors=DISCARD):
        a = log["args"]
        out.update({"seller": a["seller"], "buyer": a["buyer"], "price_wei": a["price"], "paid": {"royalty": {"to": a["royaltyReceiver"], "wei": a["royalty"]}, "seller": {"to": a["seller"], "wei": a["price"] - a["royalty"]}}})
    deferred = [{"to": log["args"]["account"], "wei": log["args"]["amount"]} for log in market.events.PaymentDeferred().process_receipt(receipt, errors=DISCARD)]
    if deferred:
        out["credited"] = deferred  # a receiver refused the push: it withdraws later
    return out


@writes_chain
def redeem(studio: Studio, net: Network, key: bytes, doc: dict[str, Any], agreed_wei: int | None = None) -> dict[str, Any]:
    """Buy with a fixed-price voucher: one transaction mints the token to the buyer and pays everyone."""
    price = int(doc["message"]["price"])
    if doc["message"]["auctionDuration"]:
        raise LatentmintError("this voucher opens an auction: bid on it with `market bid`")
    if agreed_wei is not None and agreed_wei != price:
        raise LatentmintError(f"the voucher's price is {net.w3.from_wei(price, 'ether')} ETH, not the {net.w3.from_wei(agreed_wei, 'ether')} ETH you agreed to; nothing was sent")
    market = _market_at(net, doc["market"])
    voucher, signature = voucher_args(doc)
    receipt = send(net, key, {**call_tx(market, "buyWithVoucher", voucher, signature), "value": price}, f"buying and minting token {int(doc['message']['tokenId']):#x}")
    _record_lazy_mint(studio, net, doc, receipt)
    return {"token_id": int(doc["message"]["tokenId"]), "lazy": True, **_paid(net, market, receipt)}


def _record_lazy_mint(studio: Studio, net: Network, doc: dict[str, Any], receipt: Any) -> None:
    """Where this studio holds the work (the artist's own, or a copy), record its token as `mint` does."""
    from latentmint.art.works import load_work
    from latentmint.chain.mint import COLLECTION, _record, token_of
    from latentmint.chain.network import contract

    try:
        work = load_work(studio, doc["work"])
    except LatentmintError:
        return  # a buyer's studio without the work: `history` and `verify` read the chain
    cert = work.record.get("certificate") or {}
    if cert.get("sha256") and int(cert["sha256"], 16) == int(doc["message"]["tokenId"]) and token_of(work, net) is None:
        _record(work, net, contract(net, COLLECTION, doc["message"]["collection"]), int(doc["message"]["tokenId"]), hexstr(receipt["transactionHash"]), receipt["blockNumber"], doc["image_cid"], doc["metadata_cid"], None)


def _market_at(net: Network, address: str) -> Any:
    from latentmint.chain.market import MARKET
    from latentmint.chain.network import contract

    return contract(net, MARKET, address)


@writes_chain
def cancel_voucher(studio: Studio, net: Network, key: bytes, doc: dict[str, Any]) -> dict[str, Any]:
    """Make the voucher unredeemable (a nonce cancelled on chain by its signer)."""
    from latentmint.art.works import load_work

    if _sender(key) != doc["signer"]:
        raise LatentmintError(f"only the voucher's signer {doc['signer']} can cancel it")
    receipt = send(net, key, call_tx(_market_at(net, doc["market"]), "cancelVoucher", int(doc["message"]["nonce"])), "cancelling the voucher")
    work = load_work(studio, doc["work"])
    for v in work.record.get("vouchers", []):
        if v["nonce"] == doc["message"]["nonce"]:
            v["cancelled"] = hexstr(receipt["transactionHash"])
    work.save()
    return {"token_id": int(doc["message"]["tokenId"]), "nonce": doc["message"]["nonce"], "tx": hexstr(receipt["transactionHash"])}


# -- auctions -----------------------------------------------------------------------------------


@writes_chain
def create_auction(studio: Studio, net: Network, key: bytes, token_id: int, reserve_wei: int, duration_s: int) -> dict[str, Any]:
    coll = _collection(studio, net)
    owner, me = _owner(coll, token_id), _sender(key)
    if owner != me:
        raise LatentmintError(f"token {token_id:#x} belongs to {owner}, not {me}; only its owner auctions it")
    market = market_for(studio, net, key)
    approve_market(net, key, coll, market)
    receipt = send(net, key, call_tx(market, "createAuction", coll.address, token_id, reserve_wei, duration_s), f"auctioning token {token_id:#x}")
    return {"token_id": token_id, "seller": me, "reserve_wei": reserve_wei, "duration_s": duration_s, "tx": hexstr(receipt["transactionHash"])}


def auction_of(studio: Studio, net: Network, token_id: int) -> dict[str, Any] | None:
    market, coll = _market(studio, net), _collection(studio, net)
    seller, end, duration, bps, bidder, amount = market.functions.auctions(coll.address, token_id).call()
    if int(seller, 16) == 0:
        return None
    started = int(bidder, 16) != 0
    return {
        "seller": seller,
        "reserve_wei": None if started else amount,
        "duration_s": duration,
        "royalty_bps": bps,
        "end": end if started else None,
        "highest_bid_wei": amount if started else None,
        "bidder": bidder if started else None,
        "minimum_bid_wei": market.functions.minimumBid(coll.address, token_id).call(),
        "ended": started and net.w3.eth.get_block("latest")["timestamp"] >= end,
    }


@writes_chain
def bid(studio: Studio, net: Network, key: bytes, token_id: int, amount_wei: int) -> dict[str, Any]:
    """Bid on the token's auction; on a work sold by an auction voucher, the first bid opens it and mints the token into escrow."""
    from web3.logs import DISCARD

    market = _market(studio, net)
    if (current := auction_of(studio, net, token_id)) is not None:
        outbid = {"to": current["bidder"], "wei": current["highest_bid_wei"]} if current["bidder"] else None
        receipt = send(net, key, {**call_tx(market, "bid", _collection(studio, net).address, token_id), "value": amount_wei}, f"bidding on token {token_id:#x}")
    elif (signed := _live_voucher(studio, net, token_id, auction=True)) is not None:
        outbid = None
        voucher, signature = voucher_args(signed)
        receipt = send(net, key, {**call_tx(market, "bidWithVoucher", voucher, signature), "value": amount_wei}, f"opening the auction of token {token_id:#x} with a bid")
        _record_lazy_mint(studio, net, signed, receipt)  # minted into the market's escrow
    else:
        raise LatentmintError(f"token {token_id:#x} has no auction (nor an auction voucher) here")
    placed = market.events.BidPlaced().process_receipt(receipt, errors=DISCARD)[0]["args"]
    doc = {"token_id": token_id, "bidder": placed["bidder"], "amount_wei": placed["amount"], "end": placed["end"], **_paid(net, market, receipt)}
    if outbid:
        doc["refunded"] = outbid  # the bidder this bid outbid got their ETH back in the same transaction (or a credit)
    return doc


@writes_chain
def settle(studio: Studio, net: Network, key: bytes, token_id: int) -> dict[str, Any]:
    market, coll = _market(studio, net), _collection(studio, net)
    receipt = send(net, key, call_tx(market, "settle", coll.address, token_id), f"settling the auction of token {token_id:#x}")
    return {"token_id": token_id, **_paid(net, market, receipt)}


@writes_chain
def cancel_auction(studio: Studio, net: Network, key: bytes, token_id: int) -> dict[str, Any]:
    market, coll = _market(studio, net), _collection(studio, net)
    receipt = send(net, key, call_tx(market, "cancelAuction", coll.address, token_id), f"cancelling the auction of token {token_id:#x}")
    return {"token_id": token_id, "tx": hexstr(receipt["transactionHash"])}


# -- offers -------------------------------------------------------------------------------------


@writes_chain
def make_offer(studio: Studio, net: Network, key: bytes, token_id: int, amount_wei: int, expires_s: float) -> dict[str, Any]:
    coll = _collection(studio, net)
    _owner(coll, token_id)
    market = market_for(studio, net, key)
    expiry = int(net.w3.eth.get_block("latest")["timestamp"] + expires_s)
    receipt = send(net, key, {**call_tx(market, "makeOffer", coll.address, token_id, expiry), "value": amount_wei}, f"offering on token {token_id:#x}")
    return {"token_id": token_id, "buyer": _sender(key), "amount_wei": amount_wei, "expiry": expiry, **_paid(net, market, receipt)}


@writes_chain
def withdraw_offer(studio: Studio, net: Network, key: bytes, token_id: int) -> dict[str, Any]:
    market, coll = _market(studio, net), _collection(studio, net)
    amount = market.functions.offers(coll.address, token_id, _sender(key)).call()[0]
    receipt = send(net, key, call_tx(market, "withdrawOffer", coll.address, token_id), f"withdrawing your offer on token {token_id:#x}")
    return {"token_id": token_id, "refunded_wei": amount, "tx": hexstr(receipt["transactionHash"])}


@writes_chain
def accept_offer(studio: Studio, net: Network, key: bytes, token_id: int, buyer: str, agreed_wei: int | None = None) -> dict[str, Any]:
    market, coll = _market(studio, net), _collection(studio, net)
    amount = market.functions.offers(coll.address, token_id, buyer).call()[0]
    if not amount:
        raise LatentmintError(f"{buyer} has no offer on token {token_id:#x}")
    if agreed_wei is not None and agreed_wei != amount:
        raise LatentmintError(f"{buyer}'s offer is {net.w3.from_wei(amount, 'ether')} ETH, not {net.w3.from_wei(agreed_wei, 'ether')} ETH; nothing was sent")
    if market.functions.listings(coll.address, token_id).call()[0] == ZERO:
        approve_market(net, key, coll, market)
    receipt = send(net, key, call_tx(market, "acceptOffer", coll.address, token_id, buyer, amount), f"accepting {buyer}'s offer on token {token_id:#x}")
    return {"token_id": token_id, **_paid(net, market, receipt)}


def _indexed(studio: Studio, net: Network, token_id: int, kind: str) -> list[dict[str, Any]]:
    """The token's market events of one kind, from the chain index (read once, topped up per block)."""
    from latentmint.chain.events import ChainIndex

    market, coll = _market(studio, net), _collection(studio, net)
    return [e for e in ChainIndex.open(studio, net, [coll], market).market_events(coll.address, token_id) if e["event"] == kind]


def offers_on(studio: Studio, net: Network, token_id: int) -> list[dict[str, Any]]:
    """Open offers on a token (buyers from the indexed OfferMade events, amounts from the market's storage), highest first."""
    market, coll = _market(studio, net), _collection(studio, net)
    now = net.w3.eth.get_block("latest")["timestamp"]
    live = []
    for buyer in {e["from"] for e in _indexed(studio, net, token_id, "offer")}:
        amount, expiry = market.functions.offers(coll.address, token_id, buyer).call()
        if amount:
            live.append({"buyer": buyer, "amount_wei": amount, "expiry": expiry, "expired": now > expiry})
    return sorted(live, key=lambda o: -o["amount_wei"])


def bids_on(studio: Studio, net: Network, token_id: int) -> list[dict[str, Any]]:
    """Every bid on the token's auctions, oldest first."""
    return [{"bidder": e["from"], "amount_wei": e["price_wei"], "block": e["block"], "tx": e["tx"]} for e in _indexed(studio, net, token_id, "bid")]


@writes_chain
def withdraw_credits(studio: Studio, net: Network, key: bytes) -> dict[str, Any]:
    market = _market(studio, net)
    amount = market.functions.credits(_sender(key)).call()
    if not amount:
        raise LatentmintError(f"{_sender(key)} has no credit at the market")
    receipt = send(net, key, call_tx(market, "withdraw"), "withdrawing your credit")
    return {"wei": amount, "tx": hexstr(receipt["transactionHash"])}


def market_state(studio: Studio, net: Network, token_id: int) -> dict[str, Any]:
    """Everything for sale about a token: owner and listing, auction and bids, offers, and (not minted yet) vouchers."""
    from latentmint.chain.market import _market_address, show

    coll = _collection(studio, net, required=False)
    minted = coll is not None and owner_of(coll, token_id) is not None
    doc: dict[str, Any] = show(studio, net, token_id) if minted else {"token_id": token_id, "owner": None, "escrow": None, "listed": False}
    trading = coll is not None and _market_address(studio, net) is not None
    doc["auction"] = auction_of(studio, net, token_id) if trading else None
    if doc["auction"]:  # waiting in escrow: still the seller's
        doc["owner"], doc["escrow"] = doc["auction"]["seller"], _market_address(studio, net)
    doc["bids"] = bids_on(studio, net, token_id) if trading else []
    doc["offers"] = offers_on(studio, net, token_id) if trading and minted else []
    doc["vouchers"] = [] if minted else vouchers_for(studio, net, token_id)
    return doc
