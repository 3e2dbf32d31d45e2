"""Royalty splits: share the collection's royalty between the artist and the people whose photos trained
the model (those whose credit gives an Ethereum address: an `eth_address`/`wallet` column in credits.csv),
in proportion to how many of their photos are in the dataset. A RoyaltySplitter contract receives the
royalties; each payee withdraws their own share (`latentmint royalty release`).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from latentmint.chain.mint import DEPLOYMENTS, _deployments
from latentmint.chain.network import writes_chain, Network, call_tx, contract, deploy, hexstr, send
from latentmint.data.dataset import Dataset, dataset_dir
from latentmint.errors import LatentmintError
from latentmint.files import atomic_write_json
from latentmint.studio import Studio

SHARES = 10_000  # basis points of the royalty


def credited_addresses(dataset: Dataset) -> Counter:
    """Photos per credited Ethereum address (each source photo counted once)."""
    seen, counts = set(), Counter()
    for face in dataset.faces:
        address = (face.get("credit") or {}).get("eth_address")
        if address and face["source_sha256"] not in seen:
            seen.add(face["source_sha256"])
            counts[address] += 1
    return counts


def plan_split(artist: str, credited: Counter, credits_share: float) -> list[tuple[str, int]]:
    """(payee, shares out of 10,000): the artist keeps 1 - credits_share; the rest by photo count."""
    from web3 import Web3

    if not 0 <= credits_share < 1:
        raise LatentmintError(f"{credits_share:.0%}: the photographers' part of the royalty must be from 0% to under 100%")
    bad = [a for a in credited if not Web3.is_address(a)]
    if bad:
        raise LatentmintError(f"credits name {', '.join(bad)}, which {'is' if len(bad) == 1 else 'are'} not Ethereum addresses")
    pool = round(SHARES * credits_share) if credited else 0
    total = sum(credited.values())
    plan = {Web3.to_checksum_address(a): pool * n // total for a, n in credited.items()} if total else {}
    artist_shares = SHARES - sum(plan.values())  # the rounding remainder stays with the artist
    plan[artist] = plan.get(artist, 0) + artist_shares
    return [(a, s) for a, s in sorted(plan.items(), key=lambda kv: (kv[0] != artist, kv[0])) if s > 0]


@writes_chain
def create_split(studio: Studio, net: Network, key: bytes, artist: str, dataset_name: str, credits_share: float) -> dict[str, Any]:
    """Deploy a splitter for this plan and make it the collection's royalty receiver (same rate as before)."""
    known = _deployments(studio).get(net.key)
    if not known or "collection" not in known:
        raise LatentmintError(f"{net.name}: mint first; the split becomes the royalty receiver of the studio's collection")
    plan = plan_split(artist, credited_addresses(Dataset.load(dataset_dir(studio.datasets, dataset_name))), credits_share)
    receipt = deploy(net, key, "RoyaltySplitter", [a for a, _ in plan], [s for _, s in plan])
    splitter = receipt["contractAddress"]
    coll = contract(net, "LatentmintCollection", known["collection"])
    bps = coll.functions.royaltyInfo(0, SHARES).call()[1]
    send(net, key, call_tx(coll, "setDefaultRoyalty", splitter, bps), "making the split the royalty receiver")
    own = own_royalties(studio, net, coll)
    for token_id, token_bps in own.items():  # tokens minted with their own --royalty keep their rate, now paid to the split
        if coll.functions.royaltyInfo(token_id, SHARES).call()[0] != splitter:
            send(net, key, call_tx(coll, "setTokenRoyalty", token_id, splitter, token_bps), f"making the split the royalty receiver of token {token_id:#x}")
    from latentmint.chain.mint import ensure_contract_uri
    from latentmint.provenance.identity import load_identity

    ensure_contract_uri(studio, net, key, coll, load_identity(studio).name)  # fee_recipient is now the split
    deployments = _deployments(studio)
    deployments[net.key]["royalty_split"] = {"address": splitter, "payees": [{"address": a, "shares": s} for a, s in plan], "tx": hexstr(receipt["transactionHash"])}
    atomic_write_json(studio.chain / DEPLOYMENTS, deployments)
    return {"splitter": splitter, "royalty_bps": bps, "tokens_with_own_royalty": len(own), "payees": [{"address": a, "share": s / SHARES} for a, s in plan]}


def own_royalties(studio: Studio, net: Network, coll: Any) -> dict[int, int]:
    """Token id -> basis points, for every token whose own royalty (setTokenRoyalty) is in force."""
    from latentmint.chain.events import deployment_block, logs_in_ranges

    found: dict[int, int] = {}
    head = net.w3.eth.block_number
    for log in logs_in_ranges(coll.events.RoyaltyUpdated(), deployment_block(studio, net, coll.address, head), head):
        if not log["args"]["allTokens"]:
            found[log["args"]["tokenId"]] = log["args"]["basisPoints"]
    return found


@writes_chain
def release(studio: Studio, net: Network, key: bytes, payee: str) -> dict[str, Any]:
    split = (_deployments(studio).get(net.key) or {}).get("royalty_split")
    if not split:
        raise LatentmintError(f"{net.name}: no royalty split; create one with `latentmint royalty split`")
    splitter = contract(net, "RoyaltySplitter", split["address"])
    due = splitter.functions.releasable(payee).call()
    receipt = send(net, key, call_tx(splitter, "release", payee), f"releasing {payee}'s royalties")
    return {"payee": payee, "wei": due, "tx": hexstr(receipt["transactionHash"])}
