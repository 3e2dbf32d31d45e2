"""Networks: the embedded chain or any EVM JSON-RPC URL, and sending transactions safely on either.

Every transaction is signed here with the studio's key and sent raw, so the same code runs against the
embedded chain, anvil, Hardhat, geth or a public network. Before sending, a transaction is simulated:
a revert is reported with the contract's custom error and nothing is sent; a shortfall in funds is
reported with the amounts. Nothing is recorded until the receipt says the transaction succeeded.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache, cached_property, lru_cache
from importlib import resources
from typing import Any

from latentmint.errors import LatentmintError
from latentmint.studio import Studio

EMBEDDED = "embedded"
RECEIPT_TIMEOUT_S = 180


@cache
def artifact(name: str) -> dict[str, Any]:
    """A compiled contract (ABI, bytecode, compiler settings) shipped inside the package."""
    return json.loads(resources.files("latentmint.chain").joinpath("artifacts", f"{name}.json").read_text())


@dataclass
class Network:
    w3: Any  # web3.Web3
    name: str  # "embedded" or the RPC URL
    chain_id: int
    faucet: list[bytes] = field(default_factory=list)  # funded keys (embedded chain only)
    lock: Any = None  # ChainLock: one writer at a time for the studio's chain records (and the embedded chain)
    contracts: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)  # web3 builds each from its ABI in ms

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the studio's chain lock across a multi-step operation (read -> send -> record)."""
        if self.lock is None:
            yield
            return
        with self.lock.held():
            yield

    @cached_property
    def key(self) -> str:
        """Names this chain in deployments.json: chain id + genesis hash (a fresh dev node is a new chain)."""
        genesis = self.w3.eth.get_block(0)["hash"].hex()
        return f"{self.chain_id}:{genesis.removeprefix('0x')[:16]}"


def writes_chain(fn: Callable[..., Any]) -> Callable[..., Any]:
    """For chain actions `fn(studio, net, ...)`: run under the studio's chain lock (see Network.writing)."""

    @functools.wraps(fn)
    def wrapper(studio: Any, net: Network, *args: Any, **kwargs: Any) -> Any:
        with net.writing():
            return fn(studio, net, *args, **kwargs)

    return wrapper


def hexstr(value: Any) -> str:
    """0x-prefixed hex of a hash, whichever web3/hexbytes version made it."""
    return "0x" + bytes(value).hex()


@lru_cache(maxsize=4096)  # the same few addresses recur in thousands of logs; each checksum costs a keccak
def checksummed(address: str | bytes) -> str:
    from eth_utils import to_checksum_address

    return to_checksum_address(address)


def connect(studio: Studio, network: str | None = None) -> Network:
    from latentmint.chain.embedded import chain_lock

    name = network or studio.setting("chain", "network", EMBEDDED)
    if not isinstance(name, str):
        raise LatentmintError(f"{studio.root / 'latentmint.toml'}: chain.network must be a string (`embedded` or an http(s) URL), not {name!r}")
    lock = chain_lock(studio.chain)
    if name == EMBEDDED:
        from latentmint.chain.embedded import open_embedded

        w3, faucet = open_embedded(studio.chain / "embedded", lock)
        return Network(w3, EMBEDDED, w3.eth.chain_id, faucet, lock)
    if not name.startswith(("http://", "https://")):
        raise LatentmintError(f"{name!r}: a network is `embedded` or an http(s) JSON-RPC URL")
    from web3 import HTTPProvider, Web3

    from requests import HTTPError, Timeout
    from web3.providers.rpc.utils import ExceptionRetryConfiguration

    # reads are retried with backoff (0.5 s doubling, 6 tries) on rate limits (HTTP 429) and dropped connections
    retry = ExceptionRetryConfiguration(errors=(ConnectionError, HTTPError, Timeout), retries=6, backoff_factor=0.5)
    w3 = Web3(HTTPProvider(name, request_kwargs={"timeout": 30}, exception_retry_configuration=retry))
    try:
        chain_id = w3.eth.chain_id
    except Exception as exc:  # requests/aiohttp raise their own connection errors
        raise LatentmintError(f"{name}: no Ethereum node answers ({type(exc).__name__}); is it running?") from exc
    expected = studio.setting("chain", "chain_id")
    if expected and int(expected) != chain_id:
        raise LatentmintError(f"{name}: chain id {chain_id}, but latentmint.toml expects {expected}; refusing to send to the wrong network")
    return Network(w3, name, chain_id, lock=lock)


@cache
def _error_selectors() -> dict[bytes, tuple[str, list[str]]]:
    from eth_utils import keccak

    out = {}
    shipped = resources.files("latentmint.chain").joinpath("artifacts")
    for name in sorted(p.name.removesuffix(".json") for p in shipped.iterdir() if p.name.endswith(".json")):
        for item in artifact(name)["abi"]:
            if item["type"] == "error":
                types = [i["type"] for i in item["inputs"]]
                out[keccak(text=f"{item['name']}({','.join(types)})")[:4]] = (item["name"], types)
    return out


def revert_errors() -> tuple[type[Exception], ...]:
    """What a reverting call raises: web3's errors from a node, eth-tester's from the embedded chain."""
    from web3.exceptions import ContractCustomError, ContractLogicError

    errors: tuple[type[Exception], ...] = (ContractCustomError, ContractLogicError)
    try:
        from eth_tester.exceptions import TransactionFailed

        errors += (TransactionFailed,)
    except ImportError:
        pass
    return errors


def _revert_data(exc: BaseException | None) -> bytes | None:
    seen = 0
    while exc is not None and seen < 4:
        data = getattr(exc, "data", None)
        if isinstance(data, str) and data.startswith("0x"):
            return bytes.fromhex(data[2:])
        if exc.args and isinstance(exc.args[0], bytes):
            return exc.args[0]
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def explain_revert(exc: Exception) -> str:
    """`AlreadyMinted(0x…)` from a custom error's data, else the node's message."""
    raw = _revert_data(exc)
    if raw and len(raw) >= 4:
        known = _error_selectors().get(raw[:4])
        if known:
            from eth_abi import decode

            values = decode(known[1], raw[4:])
            shown = [hex(v) if isinstance(v, int) and v > 2**64 else ("0x" + v.hex() if isinstance(v, bytes) else str(v)) for v in values]
            return f"{known[0]}({', '.join(shown)})"
    return str(exc.args[0] if exc.args else exc)


def send(net: Network, key: bytes, tx: dict[str, Any], what: str) -> Any:
    """Sign, send and wait for `tx`; returns the receipt. Raises a one-line LatentmintError on any failure."""
    from eth_account import Account

    w3 = net.w3
    sender = Account.from_key(key)
    with net.writing():  # nonce, send and receipt as one step: two processes never pick the same nonce
        return _send(net, w3, sender, tx, what)


def _send(net: Network, w3: Any, sender: Any, tx: dict[str, Any], what: str) -> Any:
    from eth_utils.exceptions import ValidationError
    from web3.exceptions import TimeExhausted, Web3RPCError

    try:
        tx = {**tx, "from": sender.address, "chainId": net.chain_id, "nonce": w3.eth.get_transaction_count(sender.address, "pending")}
        tx.setdefault("value", 0)
        balance = w3.eth.get_balance(sender.address)
        if balance < tx["value"]:  # said plainly, before any node phrases it its own way
            raise LatentmintError(f"{sender.address} has {w3.from_wei(balance, 'ether')} ETH but {what} needs {w3.from_wei(tx['value'], 'ether')} ETH plus gas; fund the account")
        try:
            tx["gas"] = int(w3.eth.estimate_gas(tx) * 1.2) + 10_000
        except revert_errors() as exc:
            raise LatentmintError(f"{what} would revert: {explain_revert(exc)}; nothing was sent") from exc
        block = w3.eth.get_block("latest")
        priority = w3.to_wei(1, "gwei")
        tx["maxPriorityFeePerGas"] = priority
        tx["maxFeePerGas"] = 2 * int(block.get("baseFeePerGas") or 0) + priority
        cost = tx["gas"] * tx["maxFeePerGas"] + tx["value"]
        if balance < cost:
            hint = " (`latentmint wallet --fund` on the embedded chain)" if net.name == EMBEDDED else ""
            raise LatentmintError(f"{sender.address} has {w3.from_wei(balance, 'ether')} ETH but {what} may cost {w3.from_wei(cost, 'ether')} ETH; fund the account{hint}")
        tx_hash = w3.eth.send_raw_transaction(sender.sign_transaction(tx).raw_transaction)
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT_S)
    except LatentmintError:
        raise
    except TimeExhausted as exc:
        raise LatentmintError(f"{what}: no receipt after {RECEIPT_TIMEOUT_S} s; it may still be mined: rerun the command, which checks the chain first") from exc
    except Web3RPCError as exc:
        raise LatentmintError(f"{what}: the node refused it ({explain_revert(exc)})") from exc
    except ValidationError as exc:  # the embedded chain's way of refusing (e.g. value + gas above the balance)
        raise LatentmintError(f"{what}: the embedded chain refused it ({exc})") from exc
    except (OSError, ConnectionError) as exc:
        raise LatentmintError(f"{what}: lost the connection to {net.name} ({exc})") from exc
    if receipt["status"] != 1:
        raise LatentmintError(f"{what}: transaction {hexstr(receipt['transactionHash'])} reverted on chain; nothing recorded")
    return receipt


def fund(net: Network, address: str, wei: int) -> Any:
    """Send ETH from the embedded chain's faucet (its pre-funded test accounts)."""
    if not net.faucet:
        raise LatentmintError(f"{net.name}: only the embedded chain has a faucet; fund {address} from a wallet")
    return send(net, net.faucet[0], {"to": address, "value": wei}, f"funding {address}")


def contract(net: Network, name: str, address: str) -> Any:
    """The shipped contract `name`'s interface at `address` (built once per network: a verification uses three)."""
    if (name, address) not in net.contracts:
        net.contracts[(name, address)] = net.w3.eth.contract(address=address, abi=artifact(name)["abi"])
    return net.contracts[(name, address)]


def deploy(net: Network, key: bytes, name: str, *args: Any, art: dict[str, Any] | None = None) -> Any:
    """Deploy the shipped contract `name` (or the given artifact, e.g. a benchmark baseline); returns the receipt."""
    from eth_abi import encode

    art = art or artifact(name)
    constructor = next((item for item in art["abi"] if item["type"] == "constructor"), {"inputs": []})
    types = [i["type"] for i in constructor["inputs"]]
    return send(net, key, {"data": art["bytecode"] + encode(types, list(args)).hex()}, f"deploying {name}")


def call_tx(coll: Any, function: str, *args: Any) -> dict[str, Any]:
    """{to, data} of a contract call, for `send`."""
    return {"to": coll.address, "data": coll.encode_abi(function, args=list(args))}

