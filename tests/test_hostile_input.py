"""Keys kept safe (backups on replace, owner-only folders, keys never on the command line, damage named as
damage) and hostile or damaged input answered with one line naming the file: studio settings, records,
checkpoints, Rich markup in user text, and CIDs or token URIs a chain hands us."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from eth_account import Account

from latentmint.errors import LatentmintError
from latentmint.gan.checkpoint import CHECKPOINT_FORMAT, load_generator
from latentmint.provenance.identity import create_identity, load_identity, unlock
from latentmint.storage.cid import cid_of_bytes
from latentmint.storage.store import open_store
from latentmint.studio import Studio

PASSWORD = "correct horse battery staple"


def cli(studio: Studio, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LATENTMINT_PASSWORD": PASSWORD}
    return subprocess.run([sys.executable, "-m", "latentmint", *args, "--studio", str(studio.root)], capture_output=True, text=True, env=env, input=stdin or "", timeout=120)


def one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


def test_replacing_an_identity_keeps_the_old_one_and_asks_twice_when_it_owns_a_collection(studio: Studio) -> None:
    old = create_identity(studio, "Ada", PASSWORD)
    assert studio.keys.stat().st_mode & 0o777 == 0o700
    one_line_error(cli(studio, "identity", "create", "--name", "Eve"), "already has an identity")
    (studio.chain / "deployments.json").write_text(json.dumps({"1:abc": {"collection": "0x" + "12" * 20}}))
    one_line_error(cli(studio, "identity", "create", "--name", "Eve", "--force"), "owns the collection", "--force twice")
    assert load_identity(studio) == old
    replaced = cli(studio, "identity", "create", "--name", "Eve", "--force", "--force")
    assert replaced.returncode == 0, replaced.stderr
    backups = list(studio.keys.glob("old-*"))
    assert len(backups) == 1 and backups[0].stat().st_mode & 0o777 == 0o700
    assert json.loads((backups[0] / "identity.json").read_text())["address"] == old.address
    assert Account.from_key(bytes(Account.decrypt(json.loads((backups[0] / "account.json").read_text()), PASSWORD))).address == old.address


def test_an_imported_key_comes_from_a_file_or_stdin_never_the_command_line(studio: Studio, tmp_path: Path) -> None:
    account = Account.create()
    key_file = tmp_path / "key.txt"
    key_file.write_text(account.key.hex() + "\n")
    made = cli(studio, "identity", "create", "--name", "Ada", "--import-key", str(key_file), "--json")
    assert made.returncode == 0 and json.loads(made.stdout)["address"] == account.address
    other = Account.create()
    again = cli(studio, "identity", "create", "--name", "Ada", "--import-key", "-", "--force", "--json", stdin=other.key.hex())
    assert again.returncode == 0 and json.loads(again.stdout)["address"] == other.address
    assert cli(studio, "identity", "create", "--name", "Ada", "--force", "--import-key", other.key.hex()).returncode != 0  # a key is not a file name


def test_damaged_keys_say_damaged_and_wallets_are_private(studio: Studio) -> None:
    from latentmint.chain.market import account_key, add_wallet

    create_identity(studio, "Ada", PASSWORD)
    add_wallet(studio, "collector", PASSWORD)
    assert (studio.keys / "wallets").stat().st_mode & 0o777 == 0o700
    with pytest.raises(LatentmintError, match="wrong password"):
        unlock(studio, "not the password")
    doc = json.loads((studio.keys / "account.json").read_text())
    del doc["crypto"]["mac"]
    (studio.keys / "account.json").write_text(json.dumps(doc))
    with pytest.raises(LatentmintError, match="damaged keystore"):
        unlock(studio, PASSWORD)
    (studio.keys / "wallets" / "collector.json").write_text("{not json")
    with pytest.raises(LatentmintError, match="damaged keystore"):
        account_key(studio, PASSWORD, "collector")
    one_line_error(cli(studio, "wallet", "show"), "collector.json", "damaged wallet")


def test_user_text_is_printed_as_text(studio: Studio) -> None:
    made = cli(studio, "identity", "create", "--name", "[/] [bold]Ada[/bold] [link=x]")
    assert made.returncode == 0, made.stderr
    shown = cli(studio, "identity", "show")
    assert shown.returncode == 0 and "[/] [bold]Ada[/bold] [link=x]" in shown.stdout


@pytest.mark.parametrize(
    ("settings", "needle"),
    [('[chain]\nnetwork = 5\n', "chain.network must be a string"), ('chain = "embedded"\n', "[chain] must be a table"), ('[storage]\nkubo_url = true\n', "storage.kubo_url")],
)
def test_wrong_typed_settings_are_one_line(studio: Studio, settings: str, needle: str) -> None:
    (studio.root / "latentmint.toml").write_text(settings)
    one_line_error(cli(studio, "history", "1"), "latentmint.toml", needle)


def test_damaged_records_are_one_line(studio: Studio) -> None:
    create_identity(studio, "Ada", PASSWORD)
    (studio.chain / "deployments.json").write_text('{"x": 1}')
    one_line_error(cli(studio, "history", "1"), "deployments.json", "damaged")
    (studio.chain / "deployments.json").unlink()
    (studio.works / "abc").mkdir()
    (studio.works / "abc" / "work.json").write_text('["not", "a", "record"]')
    one_line_error(cli(studio, "mint", "all"), "work.json")
    (studio.datasets / "faces").mkdir()
    (studio.datasets / "faces" / "dataset.json").write_text('{"format": "latentmint.dataset/1", "faces": 3}')
    from latentmint.data.dataset import DATASET_FORMAT, Dataset

    (studio.datasets / "faces" / "dataset.json").write_text(json.dumps({"format": DATASET_FORMAT, "name": "faces", "resolution": 64, "faces": 3}))
    with pytest.raises(LatentmintError, match="damaged dataset record"):
        Dataset.load(studio.datasets / "faces")


def test_a_checkpoint_missing_keys_is_named(tmp_path: Path) -> None:
    path = tmp_path / "latest.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "config": {"arch": "fastgan"}}, path)
    with pytest.raises(LatentmintError, match="incomplete checkpoint.*G_ema"):
        load_generator(path)


def test_cids_from_a_chain_are_validated_capped_and_checked(studio: Studio) -> None:
    store = open_store(studio)
    for hostile in ("/dev/zero", "../../keys/account.json", "b" * 300, "bafkrei" + "a" * 52 + "/x", "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"):
        with pytest.raises(LatentmintError, match="not a CIDv1"):
            store.cat(hostile)
    cid = store.put_bytes(b'{"name": "a work"}')
    assert store.cat(cid) == b'{"name": "a work"}'
    (studio.store / "blocks" / cid).write_bytes(b'{"name": "another work"}')  # a block replaced behind our back
    with pytest.raises(LatentmintError, match="does not match its CID"):
        store.cat(cid)
    big = bytes(300 * 1024)
    big_cid = store.put_bytes(big)
    with pytest.raises(LatentmintError, match="larger than"):
        store.cat(big_cid, limit=1024)
    assert cid_of_bytes(big) == big_cid


def test_verify_does_not_follow_a_hostile_collections_token_uris(studio: Studio) -> None:
    """A collection whose tokenURI is `ipfs:///dev/zero` (or 300 characters of junk): verify answers, reads nothing."""
    import io

    from PIL import Image

    from latentmint.chain.network import call_tx, connect, deploy, send
    from latentmint.verify import verify_bytes

    art = json.loads((Path(__file__).resolve().parent / "artifacts" / "HostileCollection.json").read_text())
    net = connect(studio)
    key = net.faucet[0]
    hostile = net.w3.eth.contract(address=deploy(net, key, "HostileCollection", art=art)["contractAddress"], abi=art["abi"])
    owner = Account.from_key(key).address
    send(net, key, call_tx(hostile, "mint", owner, 1, "ipfs:///dev/zero"), "minting a hostile token")
    send(net, key, call_tx(hostile, "mint", owner, 2, "ipfs://b" + "a" * 299), "minting another")
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (120, 80, 40)).save(buf, "PNG")
    verdict = verify_bytes(studio, net, buf.getvalue(), "some.png", extra_collections=[hostile.address])
    assert verdict.verdict == "UNKNOWN" and "2 tokens' metadata were not in the store" in verdict.reason
