"""The contracts on a real EVM (py-evm): every function, every revert, and invariants under random use."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest
from eth_account import Account
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from latentmint.chain.embedded import open_embedded
from latentmint.chain.network import Network, artifact, call_tx, contract, deploy, revert_errors, send
from latentmint.errors import LatentmintError
from latentmint.storage.cid import cid_of_bytes, digest_of

REPO = Path(__file__).resolve().parents[1]
ZERO = "0x" + "00" * 20


class Chain:
    """An embedded chain with named, funded accounts and the artist's collection deployed."""

    def __init__(self, folder: Path, royalty_bps: int = 750, lazy_market: bool = False) -> None:
        w3, keys = open_embedded(folder)
        self.net = Network(w3, "embedded", w3.eth.chain_id, keys)
        self.keys = {name: keys[i] for i, name in enumerate(("artist", "alice", "bob", "carol", "dave"))}
        self.addr = {name: Account.from_key(k).address for name, k in self.keys.items()}
        # With lazy_market the market comes first and the collection names it as the redeemer of vouchers.
        minter = deploy(self.net, self.keys["artist"], "LatentmintMarket")["contractAddress"] if lazy_market else ZERO
        self.market_address = minter
        receipt = deploy(self.net, self.keys["artist"], "LatentmintCollection", "Ada (latentmint)", "LMNT", self.addr["artist"], self.addr["artist"], royalty_bps, "ipfs://collection", minter)
        self.coll = contract(self.net, "LatentmintCollection", receipt["contractAddress"])
        self.deploy_gas = receipt["gasUsed"]

    def tx(self, who: str, function: str, *args, contract_=None, what: str | None = None):
        return send(self.net, self.keys[who], call_tx(contract_ or self.coll, function, *args), what or function)

    def mint(self, content: bytes, who: str = "artist", to: str = "artist"):
        meta = cid_of_bytes(json.dumps({"name": content.hex()}).encode())
        receipt = self.tx(who, "mint", self.addr[to], hashlib.sha256(content).digest(), digest_of(meta))
        return int.from_bytes(hashlib.sha256(content).digest(), "big"), meta, receipt


@pytest.fixture
def chain(tmp_path: Path) -> Chain:
    return Chain(tmp_path / "chain")


def reverts(name: str):
    return pytest.raises(LatentmintError, match=rf"would revert: {name}\b")


def test_deploy_sets_creator_owner_royalty_and_interfaces(chain: Chain) -> None:
    c = chain.coll.functions
    assert c.creator().call() == c.owner().call() == chain.addr["artist"]
    assert c.name().call() == "Ada (latentmint)" and c.symbol().call() == "LMNT" and c.contractURI().call() == "ipfs://collection"
    assert c.royaltyInfo(0, 10_000).call() == [chain.addr["artist"], 750]
    for interface in ("0x80ac58cd", "0x5b5e139f", "0x2a55205a", "0x49064906", "0x01ffc9a7"):  # 721, metadata, 2981, 4906, 165
        assert c.supportsInterface(bytes.fromhex(interface[2:])).call(), interface
    assert not c.supportsInterface(bytes.fromhex("ffffffff")).call()


def test_mint_renders_the_metadata_cid_and_refuses_the_same_bytes_twice(chain: Chain) -> None:
    token, meta, _ = chain.mint(b"artwork one")
    c = chain.coll.functions
    assert c.ownerOf(token).call() == chain.addr["artist"] and c.balanceOf(chain.addr["artist"]).call() == 1
    assert c.tokenURI(token).call() == f"ipfs://{meta}" and len(meta) == 59
    assert c.metadataDigest(token).call() == digest_of(meta)
    with reverts("AlreadyMinted") as failed:
        chain.mint(b"artwork one")
    assert hex(token) in str(failed.value)
    with reverts("EmptyMetadata"):
        chain.tx("artist", "mint", chain.addr["artist"], hashlib.sha256(b"x").digest(), bytes(32))
    with reverts("OwnableUnauthorizedAccount"):
        chain.mint(b"not the artist's", who="alice")
    with pytest.raises(revert_errors()):
        c.tokenURI(token + 1).call()


def test_batch_mint_is_all_or_nothing(chain: Chain) -> None:
    hashes = [hashlib.sha256(bytes([i])).digest() for i in range(5)]
    digests = [hashlib.sha256(b"m" + bytes([i])).digest() for i in range(5)]
    chain.tx("artist", "mintBatch", chain.addr["alice"], hashes, digests)
    assert chain.coll.functions.balanceOf(chain.addr["alice"]).call() == 5
    with reverts("LengthMismatch"):
        chain.tx("artist", "mintBatch", chain.addr["alice"], hashes[:2], digests[:1])
    fresh = hashlib.sha256(b"new").digest()
    with reverts("AlreadyMinted"):
        chain.tx("artist", "mintBatch", chain.addr["alice"], [fresh, hashes[0]], digests[:2])
    with pytest.raises(revert_errors()):  # the fresh one was rolled back with the rest
        chain.coll.functions.ownerOf(int.from_bytes(fresh, "big")).call()


def test_metadata_can_be_corrected_only_until_the_token_leaves_the_creator(chain: Chain) -> None:
    token, _, _ = chain.mint(b"typo")
    new = digest_of(cid_of_bytes(b'{"name": "fixed"}'))
    receipt = chain.tx("artist", "updateMetadata", token, new)
    assert chain.coll.events.MetadataUpdate().process_receipt(receipt)[0]["args"]["_tokenId"] == token
    with reverts("OwnableUnauthorizedAccount"):
        chain.tx("alice", "updateMetadata", token, new)
    with reverts("EmptyMetadata"):
        chain.tx("artist", "updateMetadata", token, bytes(32))
    chain.tx("artist", "transferFrom", chain.addr["artist"], chain.addr["alice"], token)
    with reverts("MetadataFrozen"):
        chain.tx("artist", "updateMetadata", token, new)


def test_royalties_default_per_token_and_limits(chain: Chain) -> None:
    token, _, _ = chain.mint(b"royal")
    c = chain.coll.functions
    chain.tx("artist", "setTokenRoyalty", token, chain.addr["bob"], 1000)
    assert c.royaltyInfo(token, 1_000_000).call() == [chain.addr["bob"], 100_000]
    receipt = chain.tx("artist", "setDefaultRoyalty", chain.addr["carol"], 250)
    assert chain.coll.events.RoyaltyUpdated().process_receipt(receipt)[0]["args"]["allTokens"] is True
    assert c.royaltyInfo(12345, 10_000).call() == [chain.addr["carol"], 250]
    with reverts("ERC2981InvalidDefaultRoyalty"):
        chain.tx("artist", "setDefaultRoyalty", chain.addr["carol"], 10_001)
    with reverts("ERC2981InvalidTokenRoyalty"):
        chain.tx("artist", "setTokenRoyalty", token, chain.addr["carol"], 10_001)
    with reverts("ERC721NonexistentToken"):
        chain.tx("artist", "setTokenRoyalty", token + 1, chain.addr["carol"], 100)
    with reverts("OwnableUnauthorizedAccount"):
        chain.tx("alice", "setDefaultRoyalty", chain.addr["alice"], 100)


def test_contract_uri_update_emits_erc7572_event(chain: Chain) -> None:
    receipt = chain.tx("artist", "setContractURI", "ipfs://new")
    assert chain.coll.events.ContractURIUpdated().process_receipt(receipt)
    assert chain.coll.functions.contractURI().call() == "ipfs://new"
    with reverts("OwnableUnauthorizedAccount"):
        chain.tx("bob", "setContractURI", "ipfs://mine")


def test_only_owner_or_approved_move_tokens(chain: Chain) -> None:
    token, _, _ = chain.mint(b"moving", to="alice")
    with reverts("ERC721InsufficientApproval"):
        chain.tx("bob", "transferFrom", chain.addr["alice"], chain.addr["bob"], token)
    chain.tx("alice", "approve", chain.addr["bob"], token)
    chain.tx("bob", "transferFrom", chain.addr["alice"], chain.addr["carol"], token)
    assert chain.coll.functions.ownerOf(token).call() == chain.addr["carol"]
    assert chain.coll.functions.getApproved(token).call() == ZERO  # approval dies with the transfer


def test_royalty_splitter_pays_each_share_by_pull(chain: Chain) -> None:
    names = ("artist", "alice", "bob")
    receipt = deploy(chain.net, chain.keys["artist"], "RoyaltySplitter", [chain.addr[n] for n in names], [70, 20, 10])
    split = contract(chain.net, "RoyaltySplitter", receipt["contractAddress"])
    w3 = chain.net.w3
    send(chain.net, chain.keys["carol"], {"to": split.address, "value": w3.to_wei(1, "ether")}, "royalty")
    assert split.functions.releasable(chain.addr["alice"]).call() == w3.to_wei(0.2, "ether")
    before = w3.eth.get_balance(chain.addr["bob"])
    chain.tx("alice", "release", chain.addr["bob"], contract_=split)  # anyone may trigger; the payee is paid
    assert w3.eth.get_balance(chain.addr["bob"]) - before == w3.to_wei(0.1, "ether")
    with reverts("NothingDue"):
        chain.tx("alice", "release", chain.addr["bob"], contract_=split)
    with reverts("NothingDue"):
        chain.tx("alice", "release", chain.addr["carol"], contract_=split)
    assert split.functions.payees().call() == [chain.addr[n] for n in names] and split.functions.totalShares().call() == 100
    for bad, error in ((([], []), "InvalidPayees"), (([chain.addr["bob"]], [1, 2]), "InvalidPayees"), (([chain.addr["bob"], chain.addr["bob"]], [1, 1]), "InvalidPayee"), (([ZERO], [1]), "InvalidPayee"), (([chain.addr["bob"]], [0]), "InvalidPayee")):
        with pytest.raises(LatentmintError, match=error):
            deploy(chain.net, chain.keys["artist"], "RoyaltySplitter", *bad)


def test_a_payee_that_refuses_ether_cannot_block_the_others(chain: Chain) -> None:
    refuses = chain.coll.address  # the collection has no receive(): sending it ETH reverts
    receipt = deploy(chain.net, chain.keys["artist"], "RoyaltySplitter", [refuses, chain.addr["alice"]], [1, 1])
    split = contract(chain.net, "RoyaltySplitter", receipt["contractAddress"])
    send(chain.net, chain.keys["carol"], {"to": split.address, "value": 1000}, "royalty")
    with reverts("TransferFailed"):
        chain.tx("alice", "release", refuses, contract_=split)
    chain.tx("alice", "release", chain.addr["alice"], contract_=split)
    assert split.functions.released(chain.addr["alice"]).call() == 500


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(price=st.integers(min_value=0, max_value=2**128), bps=st.integers(min_value=0, max_value=10_000))
def test_royalties_never_exceed_the_price(chain: Chain, price: int, bps: int) -> None:
    if chain.coll.functions.royaltyInfo(0, 10_000).call()[1] != bps:
        chain.tx("artist", "setDefaultRoyalty", chain.addr["bob"], bps)
    receiver, amount = chain.coll.functions.royaltyInfo(7, price).call()
    assert amount <= price and amount == price * bps // 10_000


class Holdings(RuleBasedStateMachine):
    """Random mints, transfers and approvals by random accounts against a model of who owns what."""

    chain: Chain
    minted = 0  # across examples, so every example mints bytes never minted before

    def __init__(self) -> None:
        super().__init__()
        self.owners: dict[int, str] = {}
        self.approved: dict[int, str] = {}
        self.base = self._balances()  # the chain is shared across examples: compare what this one changed

    def _balances(self) -> dict[str, int]:
        c = self.chain.coll.functions
        return {n: c.balanceOf(self.chain.addr[n]).call() for n in ("artist", "alice", "bob", "carol")}

    @rule(to=st.sampled_from(["artist", "alice", "bob"]))
    def mint(self, to: str) -> None:
        Holdings.minted += 1
        token, _, _ = self.chain.mint(f"artwork {Holdings.minted}".encode(), to=to)
        self.owners[token] = to

    @rule(data=st.data(), who=st.sampled_from(["artist", "alice", "bob", "carol"]), to=st.sampled_from(["alice", "bob", "carol"]))
    def transfer(self, data, who: str, to: str) -> None:
        if not self.owners:
            return
        token = data.draw(st.sampled_from(sorted(self.owners)))
        owner = self.owners[token]
        allowed = who == owner or self.approved.get(token) == who
        try:
            self.chain.tx(who, "transferFrom", self.chain.addr[owner], self.chain.addr[to], token)
            moved = True
        except LatentmintError:
            moved = False
        assert moved == allowed, (who, owner, self.approved.get(token))
        if moved:
            self.owners[token] = to
            self.approved.pop(token, None)

    @rule(data=st.data(), spender=st.sampled_from(["alice", "bob", "carol"]))
    def approve(self, data, spender: str) -> None:
        if not self.owners:
            return
        token = data.draw(st.sampled_from(sorted(self.owners)))
        self.chain.tx(self.owners[token], "approve", self.chain.addr[spender], token)
        self.approved[token] = spender

    @invariant()
    def balances_sum_to_supply_and_match_owners(self) -> None:
        balances = {n: b - self.base[n] for n, b in self._balances().items()}
        assert sum(balances.values()) == len(self.owners)
        for name in balances:
            assert balances[name] == sum(1 for o in self.owners.values() if o == name)


def test_ownership_invariants_under_random_use(tmp_path: Path) -> None:
    Holdings.chain = Chain(tmp_path / "chain")
    Holdings.TestCase.settings = settings(max_examples=6, stateful_step_count=12, deadline=None)
    Holdings.TestCase().runTest()


def test_committed_artifacts_rebuild_byte_for_byte(tmp_path: Path) -> None:
    """The ABI and bytecode users run must be exactly what the pinned solc makes of contracts/."""
    if not (REPO / "contracts" / "node_modules" / "solc").is_dir():
        pytest.skip("contracts/node_modules missing: `make contracts` installs solc and OpenZeppelin")
    subprocess.run(["node", str(REPO / "contracts" / "build.mjs"), "--out", str(tmp_path)], check=True, capture_output=True)
    for folder, committed in (("src", "src/latentmint/chain/artifacts"), ("reference", "bench/artifacts"), ("test", "tests/artifacts")):
        built = sorted(p.name for p in (tmp_path / folder).glob("*.json"))
        assert built == sorted(p.name for p in (REPO / committed).glob("*.json")), folder
        for name in built:
            assert (tmp_path / folder / name).read_bytes() == (REPO / committed / name).read_bytes(), f"{committed}/{name}"
    assert artifact("LatentmintCollection")["compiler"]["settings"]["evmVersion"] == "cancun"


def test_ownership_moves_mint_rights_and_safe_transfers_check_the_receiver(chain: Chain) -> None:
    token, _, _ = chain.mint(b"safe")
    with reverts("ERC721InvalidReceiver"):  # a contract that cannot take NFTs
        chain.tx("artist", "safeTransferFrom", chain.addr["artist"], chain.coll.address, token)
    chain.tx("artist", "safeTransferFrom", chain.addr["artist"], chain.addr["bob"], token)
    assert chain.coll.functions.ownerOf(token).call() == chain.addr["bob"]
    chain.tx("artist", "setApprovalForAll", chain.addr["carol"], True)
    assert chain.coll.functions.isApprovedForAll(chain.addr["artist"], chain.addr["carol"]).call()
    chain.tx("artist", "transferOwnership", chain.addr["alice"])
    chain.mint(b"by the new owner", who="alice")
    with reverts("OwnableUnauthorizedAccount"):
        chain.mint(b"by the old owner")
    assert chain.coll.functions.creator().call() == chain.addr["artist"]  # the creator never changes
    chain.tx("alice", "renounceOwnership")
    with reverts("OwnableUnauthorizedAccount"):
        chain.mint(b"after renouncing", who="alice")
