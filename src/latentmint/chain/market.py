"""The marketplace and accounts: list, reprice, cancel, buy, transfer, wallets.

The market contract (LatentmintMarket) is deployed once per chain beside the collection. The studio holds
the artist's account (keys/account.json) and, for local trials, any number of extra accounts
(keys/wallets/NAME.json, the same scrypt keystore format) that can buy, sell and hold tokens.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from latentmint.chain.mint import COLLECTION, DEPLOYMENTS, _deployments, owner_of
from latentmint.chain.network import writes_chain, Network, call_tx, contract, deploy, fund, hexstr, send
from latentmint.data.dataset import now_iso
from latentmint.errors import LatentmintError
from latentmint.files import atomic_write_json
from latentmint.studio import Studio

MARKET = "LatentmintMarket"
WALLETS = "wallets"


# -- accounts -----------------------------------------------------------------------------------


def parse_eth(text: str) -> int:
    """'0.05' (ETH) -> wei."""
    try:
        value = Decimal(text.strip().removesuffix("ETH").strip())
    except InvalidOperation:
        raise LatentmintError(f"{text!r}: a price is an amount of ETH, e.g. 0.05") from None
    wei = value * 10**18
    if wei <= 0 or wei != wei.to_integral_value():
        raise LatentmintError(f"{text}: a price must be above zero, in ETH with at most 18 decimals")
    return int(wei)


def _wallet_path(studio: Studio, name: str):
    if not name or not name.replace("-", "").replace("_", "").isalnum():
        raise LatentmintError(f"{name!r}: a wallet name is letters, digits, - and _")
    return studio.keys / WALLETS / f"{name}.json"


def add_wallet(studio: Studio, name: str, password: str) -> str:
    """A new local account NAME (e.g. a collector, to try buying); returns its address."""
    from eth_account import Account

    path = _wallet_path(studio, name)
    if path.exists():
        raise LatentmintError(f"{path}: a wallet named {name} exists")
    if not password:
        raise LatentmintError("an empty password cannot protect keys: set LATENTMINT_PASSWORD or type one at the prompt")
    from latentmint.provenance.identity import secure_folder

    account = Account.create()
    secure_folder(path.parent.parent)
    secure_folder(path.parent)
    atomic_write_json(path, Account.encrypt(account.key, password))
    path.chmod(0o600)
    return account.address


def wallet_addresses(studio: Studio) -> dict[str, str]:
    """Every account the studio holds, by name ("artist" first); no password needed."""
    from latentmint.provenance.identity import load_identity

    names = {"artist": load_identity(studio).address}
    from latentmint.files import read_json

    for path in sorted((studio.keys / WALLETS).glob("*.json")):
        doc = read_json(path, "wallet")
        if not isinstance(doc, dict) or not isinstance(doc.get("address"), str):
            raise LatentmintError(f"{path}: damaged wallet (no address); restore it from a backup")
        names[path.stem] = "0x" + doc["address"].removeprefix("0x")
    from web3 import Web3

    return {n: Web3.to_checksum_address(a) for n, a in names.items()}


def account_key(studio: Studio, password: str, name: str | None = None) -> bytes:
    """The private key of the artist (name None or "artist") or of wallet NAME."""
    from latentmint.provenance.identity import decrypt_keystore, unlock

    if name in (None, "artist"):
        return unlock(studio, password).eth_key
    path = _wallet_path(studio, name)
    if not path.exists():
        raise LatentmintError(f"{name}: no such wallet in {studio.keys / WALLETS}; create it with `latentmint wallet add {name}`")
    return decrypt_keystore(path, password)


def balances(studio: Studio, net: Network) -> dict[str, dict[str, Any]]:
    coll = _collection(studio, net, required=False)
    market = _market(studio, net) if _market_address(studio, net) else None
    out = {}
    for name, address in wallet_addresses(studio).items():
        out[name] = {
            "address": address,
            "eth": str(net.w3.from_wei(net.w3.eth.get_balance(address), "ether")),
            "tokens": coll.functions.balanceOf(address).call() if coll else 0,
            "credits_wei": market.functions.credits(address).call() if market else 0,
        }
    return out


@writes_chain
def fund_wallet(studio: Studio, net: Network, name: str, eth: str = "100") -> str:
    address = wallet_addresses(studio).get(name)
    if address is None:
        raise LatentmintError(f"{name}: no such wallet; `latentmint wallet add {name}` first")
    fund(net, address, parse_eth(eth))
    return address


# -- contracts ----------------------------------------------------------------------------------


def _collection(studio: Studio, net: Network, required: bool = True) -> Any:
    known = _deployments(studio).get(net.key) or {}
    if not known.get("collection"):
        if required:
            raise LatentmintError(f"{net.name}: the studio has no collection on this chain yet; `latentmint mint` deploys it")
        return None
    return contract(net, COLLECTION, known["collection"])


def _market_address(studio: Studio, net: Network) -> str | None:
    return (_deployments(studio).get(net.key) or {}).get("market")


def _market(studio: Studio, net: Network) -> Any:
    address = _market_address(studio, net)
    if address is None:
        raise LatentmintError(f"{net.name}: no market on this chain yet; `latentmint market list` deploys it")
    return contract(net, MARKET, address)


def market_for(studio: Studio, net: Network, key: bytes) -> Any:
    address = _market_address(studio, net)
    if address and net.w3.eth.get_code(address) not in (b"", "0x"):
        return contract(net, MARKET, address)
    receipt = deploy(net, key, MARKET)
    deployments = _deployments(studio)
    deployments.setdefault(net.key, {"network": net.name})["market"] = receipt["contractAddress"]
    deployments[net.key]["market_tx"] = hexstr(receipt["transactionHash"])
    deployments[net.key]["market_block"] = receipt["blockNumber"]  # where the event index starts reading
    atomic_write_json(studio.chain / DEPLOYMENTS, deployments)
    return contract(net, MARKET, receipt["contractAddress"])


def _sender(key: bytes) -> str:
    from eth_account import Account

    return Account.from_key(key).address


def _owner(coll: Any, token_id: int) -> str:
    owner = owner_of(coll, token_id)
    if owner is None:
        raise LatentmintError(f"token {hex(token_id)}: not minted in collection {coll.address}")
    return owner


# -- actions ------------------------------------------------------------------------------------


def approve_market(net: Network, key: bytes, coll: Any, market: Any) -> None:
    """Let the market hold the sender's tokens while they are for sale (once per account and collection)."""
    me = _sender(key)
    if not coll.functions.isApprovedForAll(me, market.address).call():
        send(net, key, call_tx(coll, "setApprovalForAll", market.address, True), "approving the market to hold your tokens while they are for sale")


@writes_chain
def list_token(studio: Studio, net: Network, key: bytes, token_id: int, price_wei: int) -> dict[str, Any]:
    coll = _collection(studio, net)
    owner, me = _owner(coll, token_id), _sender(key)
    if owner != me:
        raise LatentmintError(f"token {hex(token_id)} belongs to {owner}, not {me}; only its owner lists it")
    market = market_for(studio, net, key)
    approve_market(net, key, coll, market)
    receipt = send(net, key, call_tx(market, "list", coll.address, token_id, price_wei), f"listing token {hex(token_id)}")
    return {"token_id": token_id, "seller": me, "price_wei": price_wei, "tx": hexstr(receipt["transactionHash"]), "market": market.address}


@writes_chain
def update_price(studio: Studio, net: Network, key: bytes, token_id: int, price_wei: int) -> dict[str, Any]:
    coll, market = _collection(studio, net), _market(studio, net)
    receipt = send(net, key, call_tx(market, "updatePrice", coll.address, token_id, price_wei), f"repricing token {hex(token_id)}")
    return {"token_id": token_id, "price_wei": price_wei, "tx": hexstr(receipt["transactionHash"])}


@writes_chain
def cancel_listing(studio: Studio, net: Network, key: bytes, token_id: int) -> dict[str, Any]:
    coll, market = _collection(studio, net), _market(studio, net)
    receipt = send(net, key, call_tx(market, "cancel", coll.address, token_id), f"cancelling the listing of token {hex(token_id)}")
    return {"token_id": token_id, "tx": hexstr(receipt["transactionHash"])}


def show(studio: Studio, net: Network, token_id: int) -> dict[str, Any]:
    coll = _collection(studio, net)
    owner = _owner(coll, token_id)
    address = _market_address(studio, net)
    seller, price = contract(net, MARKET, address).functions.liveListing(coll.address, token_id).call() if address else (None, 0)
    listed = bool(price)
    receiver, royalty = coll.functions.royaltyInfo(token_id, price or 10**18).call()
    return {
        "token_id": token_id,
        "owner": seller if listed else owner,  # a listed token waits in the market's escrow; it is still the seller's
        "escrow": address if listed else None,
        "listed": listed,
        "seller": seller if listed else None,
        "price_wei": price if listed else None,
        "price_eth": str(net.w3.from_wei(price, "ether")) if listed else None,
        "royalty_receiver": receiver,
        "royalty_bps": royalty * 10_000 // (price or 10**18),
    }


@writes_chain
def buy(studio: Studio, net: Network, key: bytes, token_id: int, agreed_wei: int | None = None) -> dict[str, Any]:
    """Buy at the listed price, or only at `agreed_wei` when given (the price the buyer saw): the contract
    also refuses a price changed between the look and the purchase."""
    coll, market = _collection(studio, net), _market(studio, net)
    seller, price = market.functions.liveListing(coll.address, token_id).call()
    if not price:
        raise LatentmintError(f"token {hex(token_id)} cannot be bought: it is not listed")
    buyer = _sender(key)
    if buyer == seller:
        raise LatentmintError(f"{buyer} already owns token {hex(token_id)}")
    if agreed_wei is not None and agreed_wei != price:
        raise LatentmintError(f"token {hex(token_id)} is listed at {net.w3.from_wei(price, 'ether')} ETH, not the {net.w3.from_wei(agreed_wei, 'ether')} ETH you agreed to; nothing was sent")
    receipt = send(net, key, {**call_tx(market, "buy", coll.address, token_id, price), "value": price}, f"buying token {hex(token_id)}")
    from web3.logs import DISCARD

    sold = market.events.Sold().process_receipt(receipt, errors=DISCARD)[0]["args"]
    return {"token_id": token_id, "buyer": buyer, "seller": seller, "price_wei": price, "royalty_wei": sold["royalty"], "royalty_receiver": sold["royaltyReceiver"], "tx": hexstr(receipt["transactionHash"]), "time": now_iso()}


@writes_chain
def transfer(studio: Studio, net: Network, key: bytes, token_id: int, to: str) -> dict[str, Any]:
    from web3 import Web3

    if not Web3.is_address(to):
        raise LatentmintError(f"{to!r}: not an Ethereum address")
    coll = _collection(studio, net)
    me, owner = _sender(key), _owner(coll, token_id)
    if owner == _market_address(studio, net):
        raise LatentmintError(f"token {hex(token_id)} is listed (held by the market); `latentmint market cancel {hex(token_id)}` first")
    if owner != me:
        raise LatentmintError(f"token {hex(token_id)} belongs to {owner}, not {me}")
    to = Web3.to_checksum_address(to)
    receipt = send(net, key, call_tx(coll, "safeTransferFrom", me, to, token_id), f"transferring token {hex(token_id)} to {to}")
    return {"token_id": token_id, "from": me, "to": to, "tx": hexstr(receipt["transactionHash"])}
