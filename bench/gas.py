"""Gas of deploy, mint, batch mint (per token), transfer and the market's list/reprice/cancel/buy: LatentmintCollection beside OpenZeppelin's
ERC721URIStorage + ERC2981 (no Enumerable) minting a 59-character ipfs:// URI, and Solady's ERC721 doing our
mint, all compiled by the same solc (contracts/build.mjs) and run in the same EVM (py-evm).
Target: our mint, duplicate guard included, at most 60% of OpenZeppelin's.

    python bench/gas.py [--json]      (under a minute)
"""

from __future__ import annotations

import hashlib
import json
import statistics
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and `latentmint` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eth_account import Account

from latentmint.chain.embedded import open_embedded
from latentmint.chain.network import Network, call_tx, deploy, send

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
URI_59 = "ipfs://" + "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"[:52]  # 59 characters in all
BATCH = 20
TARGET_RATIO = 0.60
LAZY_RATIO = 0.55  # issue 16: a lazy primary sale costs at most this share of mint + approve + list + buy


def _artifact(name: str) -> dict:
    local = ARTIFACTS / f"{name}.json"
    if local.exists():
        return json.loads(local.read_text())
    from latentmint.chain.network import artifact

    return artifact(name)


def _deploy(net: Network, key: bytes, name: str, *args) -> tuple[object, int]:
    art = _artifact(name)
    receipt = deploy(net, key, name, *args, art=art)
    return net.w3.eth.contract(address=receipt["contractAddress"], abi=art["abi"]), receipt["gasUsed"]


def _gas(net: Network, key: bytes, contract, function: str, *args) -> int:
    return send(net, key, call_tx(contract, function, *args), function)["gasUsed"]


def measure() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        w3, keys = open_embedded(Path(tmp))
        net = Network(w3, "embedded", w3.eth.chain_id, keys)
        artist, buyer = (Account.from_key(k).address for k in keys[:2])
        key = keys[0]
        market, market_deploy = _deploy(net, key, "LatentmintMarket")  # first: the collection names it for lazy mints
        ours, ours_deploy = _deploy(net, key, "LatentmintCollection", "Bench", "LMNT", artist, artist, 750, "", market.address)
        oz, oz_deploy = _deploy(net, key, "OZURIStorageReference", artist)
        solady, solady_deploy = _deploy(net, key, "SoladyReference", artist)

        def h(tag: str, i: int) -> bytes:
            return hashlib.sha256(f"{tag}{i}".encode()).digest()

        # the first mint to an address also creates its balance slot; measure steady-state mints after it
        _gas(net, key, ours, "mint", artist, h("w", 0), h("m", 0))
        _gas(net, key, oz, "mint", artist, URI_59)
        _gas(net, key, solady, "mint", artist, h("w", 0), h("m", 0))
        mint = statistics.median(_gas(net, key, ours, "mint", artist, h("w", i), h("m", i)) for i in range(1, 6))
        oz_mint = statistics.median(_gas(net, key, oz, "mint", artist, URI_59) for _ in range(5))
        solady_mint = statistics.median(_gas(net, key, solady, "mint", artist, h("w", i), h("m", i)) for i in range(1, 6))
        batch = _gas(net, key, ours, "mintBatch", artist, [h("b", i) for i in range(BATCH)], [h("n", i) for i in range(BATCH)]) / BATCH
        oz_batch = _gas(net, key, oz, "mintBatch", artist, [URI_59] * BATCH) / BATCH
        token = int.from_bytes(h("w", 1), "big")
        _gas(net, key, ours, "transferFrom", artist, buyer, int.from_bytes(h("w", 2), "big"))  # warm the buyer's balance slot
        _gas(net, key, oz, "transferFrom", artist, buyer, 2)
        transfer = _gas(net, key, ours, "transferFrom", artist, buyer, token)
        oz_transfer = _gas(net, key, oz, "transferFrom", artist, buyer, 3)
        # the market: approve once, then list / reprice / cancel / list / buy (royalty paid on the sale)
        approve_gas = _gas(net, key, ours, "setApprovalForAll", market.address, True)
        sale = int.from_bytes(h("w", 3), "big")
        list_gas = _gas(net, key, market, "list", ours.address, sale, 10**17)
        reprice_gas = _gas(net, key, market, "updatePrice", ours.address, sale, 2 * 10**17)
        cancel_gas = _gas(net, key, market, "cancel", ours.address, sale)
        _gas(net, key, market, "list", ours.address, sale, 10**17)
        buy_gas = send(net, keys[1], {**call_tx(market, "buy", ours.address, sale, 10**17), "value": 10**17}, "buy")["gasUsed"]
        sales = _sales(net, keys, ours, market, h)
        uri = ours.functions.tokenURI(token).call()
        oz_same_uri = _gas(net, key, oz, "mint", artist, uri)  # the 66-character URI our tokenURI renders
    return {
        "mint_gas": int(mint),
        "oz_uri_storage_mint_gas": int(oz_mint),
        "solady_mint_gas": int(solady_mint),
        "oz_mint_gas_same_uri": oz_same_uri,
        "ratio": round(mint / oz_mint, 3),
        "target_ratio": TARGET_RATIO,
        "batch_mint_gas_per_token": int(batch),
        "oz_batch_mint_gas_per_token": int(oz_batch),
        "transfer_gas": transfer,
        "oz_transfer_gas": oz_transfer,
        "market_list_gas": list_gas,
        "market_update_price_gas": reprice_gas,
        "market_cancel_gas": cancel_gas,
        "market_buy_gas": buy_gas,
        "market_deploy_gas": market_deploy,
        "approve_gas": approve_gas,
        "primary_sale_today_gas": int(mint) + approve_gas + list_gas + buy_gas,
        **sales,
        "deploy_gas": ours_deploy,
        "oz_deploy_gas": oz_deploy,
        "solady_deploy_gas": solady_deploy,
        "token_uri_example": uri,
        "oz_uri_length": len(URI_59),
    }


def _sales(net: Network, keys: list[bytes], coll, market, h) -> dict[str, int]:
    """Issue 16's actions, each one transaction: a lazy primary sale, an auction's bids and settlement, an offer."""
    from latentmint.chain.sales import sign_voucher, voucher_args

    artist, bidders = keys[0], keys[1:4]
    now = net.w3.eth.get_block("latest")["timestamp"]

    def voucher(tag: str, price: int, duration: int = 0) -> tuple:
        doc = {"chain_id": net.chain_id, "market": market.address, "message": {"collection": coll.address, "tokenId": str(int.from_bytes(h(tag, 0), "big")), "metadataDigest": "0x" + h("meta" + tag, 0).hex(), "price": str(price), "royaltyBasisPoints": 750, "expiry": now + 86_400, "auctionDuration": duration, "nonce": "1"}}
        doc["signature"] = sign_voucher(artist, doc)
        return voucher_args(doc)

    def paying(key: bytes, function: str, *args, value: int) -> int:
        return send(net, key, {**call_tx(market, function, *args), "value": value}, function)["gasUsed"]

    lazy = paying(bidders[0], "buyWithVoucher", *voucher("lazy", 10**17), value=10**17)
    lazy_auction_first_bid = paying(bidders[0], "bidWithVoucher", *voucher("lazy-auction", 10**17, 3600), value=10**17)
    token = int.from_bytes(h("auction", 0), "big")
    _gas(net, artist, coll, "mint", Account.from_key(artist).address, h("auction", 0), h("m", 99))
    create = _gas(net, artist, market, "createAuction", coll.address, token, 10**17, 3600)
    first_bid = paying(bidders[0], "bid", coll.address, token, value=10**17)
    outbid = paying(bidders[1], "bid", coll.address, token, value=2 * 10**17)  # refunds the first bidder
    net.w3.provider.make_request("testing_timeTravel", [net.w3.eth.get_block("latest")["timestamp"] + 3601])
    settle = _gas(net, bidders[2], market, "settle", coll.address, token)
    winner = bidders[1]
    offer = paying(bidders[0], "makeOffer", coll.address, token, now + 10**6, value=10**17)
    send(net, winner, call_tx(coll, "setApprovalForAll", market.address, True), "approve")
    accept = _gas(net, winner, market, "acceptOffer", coll.address, token, Account.from_key(bidders[0]).address, 10**17)
    return {"lazy_sale_gas": lazy, "lazy_auction_first_bid_gas": lazy_auction_first_bid, "auction_create_gas": create, "auction_first_bid_gas": first_bid, "auction_outbid_gas": outbid, "auction_settle_gas": settle, "offer_gas": offer, "accept_offer_gas": accept}


def run() -> list[dict]:
    """Rows for `make bench`."""
    from bench.common import write_result

    doc = measure()
    rows = [
        {"case": "mint (tx gas, median of 5)", "latentmint": doc["mint_gas"], "openzeppelin": doc["oz_uri_storage_mint_gas"], "solady": doc["solady_mint_gas"], "ratio": doc["ratio"], "ratio_ok": doc["ratio"] <= TARGET_RATIO},
        {"case": f"batch mint of {BATCH}, per token", "latentmint": doc["batch_mint_gas_per_token"], "openzeppelin": doc["oz_batch_mint_gas_per_token"]},
        {"case": "transfer", "latentmint": doc["transfer_gas"], "openzeppelin": doc["oz_transfer_gas"]},
        {"case": "deploy", "latentmint": doc["deploy_gas"], "openzeppelin": doc["oz_deploy_gas"], "solady": doc["solady_deploy_gas"]},
        {"case": "market: list / reprice / cancel / buy (with royalty)", "list": doc["market_list_gas"], "reprice": doc["market_update_price_gas"], "cancel": doc["market_cancel_gas"], "buy": doc["market_buy_gas"], "deploy": doc["market_deploy_gas"]},
        {"case": "primary sale: mint + approve + list + buy, against one lazy-voucher purchase", "today": doc["primary_sale_today_gas"], "lazy": doc["lazy_sale_gas"], "ratio": round(doc["lazy_sale_gas"] / doc["primary_sale_today_gas"], 3), "ratio_ok": doc["lazy_sale_gas"] <= LAZY_RATIO * doc["primary_sale_today_gas"]},
        {"case": "auction: create / first bid / outbid (refund) / settle; first bid from a voucher (mints)", "create": doc["auction_create_gas"], "first_bid": doc["auction_first_bid_gas"], "outbid": doc["auction_outbid_gas"], "settle": doc["auction_settle_gas"], "voucher_first_bid": doc["lazy_auction_first_bid_gas"]},
        {"case": "offer: make / accept (royalty paid)", "offer": doc["offer_gas"], "accept": doc["accept_offer_gas"]},
    ]
    write_result("gas", rows, summary=doc)
    return rows


if __name__ == "__main__":
    result = measure()
    if "--json" in sys.argv:
        print(json.dumps(result, indent=2))
    else:
        for k, v in result.items():
            print(f"{k:32} {v}")
