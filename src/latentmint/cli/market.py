"""Market verbs: fixed-price listings, lazy vouchers, reserve auctions and offers.

Every verb takes --json and then prints the transaction hash(es), the token id and what each party was paid.
A token is named by its id (decimal or 0x hex); where a work may not be minted yet (`list --lazy`,
`auction --lazy`) it is named by its work ID, and a voucher by its CID.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from latentmint.cli.common import app, AsOpt, chain_action, emit, JsonOpt, NetworkOpt, out, parse_token_id, password, print_doc, StudioOpt, TokenArg, verb
from latentmint.errors import LatentmintError

market_app = typer.Typer(help="Sell with royalties: fixed price, lazy vouchers (the buyer's purchase mints), reserve auctions, offers.", no_args_is_help=True)
app.add_typer(market_app, name="market")

ExpiresOpt = Annotated[str, typer.Option("--expires", help="How long a voucher or offer stays valid, e.g. 30d, 12h.")]


def _seconds(text: str) -> int:
    from latentmint.gan.config import parse_duration

    days = text.strip().lower()
    if days.endswith("d") and days[:-1].replace(".", "", 1).isdigit():
        return int(float(days[:-1]) * 86_400)
    return int(parse_duration(text))


def _eth(wei: int | None) -> str:
    return "-" if wei is None else f"{wei / 1e18:g}"


def _paid_line(doc: dict[str, Any]) -> str:
    paid = doc.get("paid")
    if not paid:
        return f"tx {doc.get('tx')}"
    credited = "".join(f"; {_eth(c['wei'])} ETH credited to {c['to']} (its address refused the payment)" for c in doc.get("credited", []))
    return f"{_eth(paid['seller']['wei'])} ETH to the seller {paid['seller']['to']}, royalty {_eth(paid['royalty']['wei'])} ETH to {paid['royalty']['to']}{credited} (tx {doc['tx']})"


def _is_token(text: str) -> bool:
    try:
        int(text, 0)
        return True
    except ValueError:
        return False


def _lazy(studio: Optional[Path], network: Optional[str], work: str, price: str, expires: str, auction_s: int = 0) -> dict[str, Any]:
    from latentmint.chain.market import parse_eth
    from latentmint.chain.network import connect
    from latentmint.chain.sales import sign_lazy_sale
    from latentmint.provenance.identity import unlock
    from latentmint.studio import open_studio

    if _is_token(work):
        raise LatentmintError(f"{work}: --lazy sells a work that is not minted yet; name it by its work ID")
    opened = open_studio(studio)
    net = connect(opened, network)
    return sign_lazy_sale(opened, net, unlock(opened, password()), work, parse_eth(price), _seconds(expires), auction_s)


@market_app.command("list")
@verb
def market_list(
    token: Annotated[str, typer.Argument(help="Token id; with --lazy, the work ID of a certified work not minted yet.")],
    price: Annotated[str, typer.Option("--price", help="Price in ETH, e.g. 0.05.")],
    lazy: Annotated[bool, typer.Option("--lazy", help="Sign a voucher instead (nothing is sent): the buyer's purchase mints the token.")] = False,
    expires: ExpiresOpt = "30d",
    who: AsOpt = None,
    network: NetworkOpt = None,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List a token you own at a fixed price (it waits in the market's escrow), or sign a lazy-mint voucher."""
    from latentmint.chain.market import list_token, parse_eth

    if lazy:
        doc = _lazy(studio, network, token, price, expires)
        print_doc(doc, as_json, f"signed a voucher: {doc['work']} for {price} ETH, until {doc['expiry']} (unix time); nothing was sent.\nvoucher {doc['voucher_cid']}: `latentmint market buy {doc['voucher_cid']}` mints it to the buyer")
        return
    doc = chain_action(studio, network, who, list_token, parse_token_id(token), parse_eth(price))
    print_doc(doc, as_json, f"listed {hex(doc['token_id'])} at {price} ETH (tx {doc['tx']})")


@market_app.command("price")
@verb
def market_price(
    token: TokenArg,
    price: Annotated[str, typer.Option("--price", help="New price in ETH.")],
    who: AsOpt = None,
    network: NetworkOpt = None,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Change the price of a listed token."""
    from latentmint.chain.market import parse_eth, update_price

    doc = chain_action(studio, network, who, update_price, parse_token_id(token), parse_eth(price))
    print_doc(doc, as_json, f"{hex(doc['token_id'])} now at {price} ETH (tx {doc['tx']})")


@market_app.command("cancel")
@verb
def market_cancel(
    token: Annotated[str, typer.Argument(help="Token id (a listing or an auction without bids), or a voucher's CID.")],
    who: AsOpt = None,
    network: NetworkOpt = None,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Take a token off the market: its listing, its auction (before the first bid), or a voucher (a nonce cancelled on chain)."""
    from latentmint.chain.market import cancel_listing
    from latentmint.chain.network import connect
    from latentmint.chain.sales import auction_of, cancel_auction, cancel_voucher, load_voucher
    from latentmint.studio import open_studio

    if not _is_token(token):
        doc = chain_action(studio, network, who, cancel_voucher, load_voucher(open_studio(studio), token))
        print_doc(doc, as_json, f"voucher nonce {doc['nonce']} cancelled: it can no longer be redeemed (tx {doc['tx']})")
        return
    opened = open_studio(studio)
    token_id = parse_token_id(token)
    action = cancel_auction if auction_of(opened, connect(opened, network), token_id) else cancel_listing
    doc = chain_action(studio, network, who, action, token_id)
    print_doc(doc, as_json, f"{hex(doc['token_id'])} is off the market and back with its seller (tx {doc['tx']})")


@market_app.command("buy")
@verb
def market_buy(
    token: Annotated[str, typer.Argument(help="A listed token's id, or a voucher's CID (or the id of a work sold by voucher).")],
    price: Annotated[Optional[str], typer.Option("--price", help="The price you agreed to, in ETH: refuse to buy at any other.", show_default=False)] = None,
    who: AsOpt = None,
    network: NetworkOpt = None,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Buy a listed token, or redeem a lazy voucher (one transaction mints the token to you and pays the artist)."""
    from latentmint.chain.market import buy, parse_eth
    from latentmint.chain.network import connect
    from latentmint.chain.sales import _live_voucher, load_voucher, redeem
    from latentmint.studio import open_studio

    agreed = parse_eth(price) if price else None
    opened = open_studio(studio)
    voucher = None
    if not _is_token(token):
        voucher = load_voucher(opened, token)
    else:
        net = connect(opened, network)
        from latentmint.chain.market import _collection, _market_address

        listed = _market_address(opened, net) and _collection(opened, net, required=False) and _listed(opened, net, parse_token_id(token))
        voucher = None if listed else _live_voucher(opened, net, parse_token_id(token), auction=False)
    if voucher is not None:
        doc = chain_action(studio, network, who, redeem, voucher, agreed)
        print_doc(doc, as_json, f"bought and minted {hex(doc['token_id'])} for {_eth(doc['price_wei'])} ETH: {_paid_line(doc)}")
        return
    doc = chain_action(studio, network, who, buy, parse_token_id(token), agreed)
    print_doc(doc, as_json, f"bought {hex(doc['token_id'])} for {doc['price_wei'] / 1e18:g} ETH; royalty {doc['royalty_wei'] / 1e18:g} ETH to {doc['royalty_receiver']} (tx {doc['tx']})")


def _listed(studio: Any, net: Any, token_id: int) -> bool:
    from latentmint.chain.market import _collection, _market

    return bool(_market(studio, net).functions.liveListing(_collection(studio, net).address, token_id).call()[1])


@market_app.command("auction")
@verb
def market_auction(
    token: Annotated[str, typer.Argument(help="Token id; with --lazy, the work ID of a certified work not minted yet.")],
    reserve: Annotated[str, typer.Option("--reserve", help="The lowest first bid, in ETH.")],
    duration: Annotated[str, typer.Option("--duration", help="From the first bid to the end, e.g. 24h (15m to 30d).")] = "24h",
    lazy: Annotated[bool, typer.Option("--lazy", help="Sign an auction voucher (nothing is sent): the first bid mints the token into escrow.")] = False,
    expires: ExpiresOpt = "30d",
    who: AsOpt = None,
    network: NetworkOpt = None,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Start a reserve auction: the first bid at the reserve starts the clock; +10% per bid; late bids extend it by 15 minutes."""
    from latentmint.chain.market import parse_eth
    from latentmint.chain.sales import create_auction

    if lazy:
        doc = _lazy(studio, network, token, reserve, expires, _seconds(duration))
        print_doc(doc, as_json, f"signed an auction voucher for {doc['work']} (reserve {reserve} ETH, {duration} from the first bid); nothing was sent.\nvoucher {doc['voucher_cid']}; token {hex(doc['token_id'])}: `latentmint market bid {hex(doc['token_id'])} --amount {reserve}`")
        return
    doc = chain_action(studio, network, who, create_auction, parse_token_id(token), parse_eth(reserve), _seconds(duration))
    print_doc(doc, as_json, f"auction of {hex(doc['token_id'])}: reserve {reserve} ETH, {duration} from the first bid (tx {doc['tx']})")


@market_app.command("bid")
@verb
def market_bid(
    token: TokenArg,
    amount: Annotated[str, typer.Option("--amount", help="Your bid in ETH (at least the reserve, then 10% over the highest).")],
    who: AsOpt = None,
    network: NetworkOpt = None,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Bid on a token's auction (the bidder you outbid is refunded at once)."""
    from latentmint.chain.market import parse_eth
    from latentmint.chain.sales import bid

    doc = chain_action(studio, network, who, bid, parse_token_id(token), parse_eth(amount))
    print_doc(doc, as_json, f"bid {_eth(doc['amount_wei'])} ETH on {hex(doc['token_id'])}; the auction ends at {doc['end']} (unix time) (tx {doc['tx']})")


@market_app.command("settle")
@verb
def market_settle(token: TokenArg, who: AsOpt = None, network: NetworkOpt = None, studio: StudioOpt = None, as_json: JsonOpt = False) -> None:
    """After an auction's end, give the token to the highest bidder and pay the seller and the royalty (anyone may)."""
    from latentmint.chain.sales import settle

    doc = chain_action(studio, network, who, settle, parse_token_id(token))
    print_doc(doc, as_json, f"settled {hex(doc['token_id'])}: {doc['buyer']} won at {_eth(doc['price_wei'])} ETH; {_paid_line(doc)}")


@market_app.command("offer")
@verb
def market_offer(
    token: TokenArg,
    amount: Annotated[str, typer.Option("--amount", help="Your offer in ETH (held by the market until accepted or withdrawn).")],
    expires: ExpiresOpt = "7d",
    who: AsOpt = None,
    network: NetworkOpt = None,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Offer on any token; a new offer replaces yours and returns the old one's ETH."""
    from latentmint.chain.market import parse_eth
    from latentmint.chain.sales import make_offer

    doc = chain_action(studio, network, who, make_offer, parse_token_id(token), parse_eth(amount), _seconds(expires))
    print_doc(doc, as_json, f"offered {amount} ETH on {hex(doc['token_id'])} until {doc['expiry']} (unix time) (tx {doc['tx']})")


@market_app.command("withdraw-offer")
@verb
def market_withdraw_offer(token: TokenArg, who: AsOpt = None, network: NetworkOpt = None, studio: StudioOpt = None, as_json: JsonOpt = False) -> None:
    """Take back your offer's ETH."""
    from latentmint.chain.sales import withdraw_offer

    doc = chain_action(studio, network, who, withdraw_offer, parse_token_id(token))
    print_doc(doc, as_json, f"{_eth(doc['refunded_wei'])} ETH back (tx {doc['tx']})")


@market_app.command("accept")
@verb
def market_accept(
    token: TokenArg,
    buyer: Annotated[str, typer.Option("--from", help="Whose offer: an address or a studio wallet name.")],
    amount: Annotated[Optional[str], typer.Option("--amount", help="The offer you saw, in ETH: refuse any other.", show_default=False)] = None,
    who: AsOpt = None,
    network: NetworkOpt = None,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Accept an offer on a token you own (or have listed): it goes to the buyer; you and the royalty receiver are paid."""
    from latentmint.chain.market import parse_eth, wallet_addresses
    from latentmint.chain.sales import accept_offer
    from latentmint.studio import open_studio

    address = buyer if buyer.startswith("0x") else wallet_addresses(open_studio(studio)).get(buyer, buyer)
    doc = chain_action(studio, network, who, accept_offer, parse_token_id(token), address, parse_eth(amount) if amount else None)
    print_doc(doc, as_json, f"sold {hex(doc['token_id'])} to {doc['buyer']} for {_eth(doc['price_wei'])} ETH: {_paid_line(doc)}")


@market_app.command("withdraw")
@verb
def market_withdraw(who: AsOpt = None, network: NetworkOpt = None, studio: StudioOpt = None, as_json: JsonOpt = False) -> None:
    """Withdraw ETH the market credited you when a payment to your address failed."""
    from latentmint.chain.sales import withdraw_credits

    doc = chain_action(studio, network, who, withdraw_credits)
    print_doc(doc, as_json, f"{_eth(doc['wei'])} ETH withdrawn (tx {doc['tx']})")


@market_app.command("show")
@verb
def market_show(token: TokenArg, network: NetworkOpt = None, studio: StudioOpt = None, as_json: JsonOpt = False) -> None:
    """A token's owner, listing, auction (with bids), offers, vouchers and royalty."""
    from latentmint.chain.network import connect
    from latentmint.chain.sales import market_state
    from latentmint.studio import open_studio

    opened = open_studio(studio)
    doc = market_state(opened, connect(opened, network), parse_token_id(token))
    if as_json:
        emit(doc)
        return
    if doc["owner"] is None:
        out.print(f"token {hex(doc['token_id'])}: not minted")
    else:
        listing = f"listed by {doc['seller']} at {doc['price_eth']} ETH" if doc["listed"] else "not listed"
        out.print(f"token {hex(doc['token_id'])}: owner {doc['owner']}; {listing}; royalty {doc['royalty_bps'] / 100:g}% to {doc['royalty_receiver']}")
    a = doc["auction"]
    if a:
        when = "ended: settle it" if a["ended"] else f"ends at {a['end']} (unix time)"
        state = f"reserve {_eth(a['reserve_wei'])} ETH, no bid yet" if a["bidder"] is None else f"highest bid {_eth(a['highest_bid_wei'])} ETH by {a['bidder']}, {when}"
        out.print(f"auction by {a['seller']}: {state}; next bid at least {_eth(a['minimum_bid_wei'])} ETH")
    for b in doc["bids"]:
        out.print(f"  bid {_eth(b['amount_wei'])} ETH by {b['bidder']} (block {b['block']})")
    for o in doc["offers"]:
        out.print(f"offer {_eth(o['amount_wei'])} ETH from {o['buyer']}, until {o['expiry']}{' (expired)' if o['expired'] else ''}")
    for v in doc["vouchers"]:
        out.print(f"voucher {v['cid']}: {'auction, reserve' if v['auction_duration'] else 'sale at'} {_eth(int(v['price_wei']))} ETH until {v['expiry']}")
