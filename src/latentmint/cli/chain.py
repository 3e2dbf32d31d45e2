"""Chain verbs: mint, cid, history, verify, transfer, wallet, royalty, doctor (the market's are in cli/market.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table
from rich.text import Text

from latentmint.cli.common import app, AsOpt, chain_action, emit, err, JsonOpt, NetworkOpt, out, parse_token_id, password, print_doc, progress_bar, StudioOpt, TokenArg, verb
from latentmint.errors import LatentmintError


@app.command()
@verb
def mint(
    works: Annotated[list[str], typer.Argument(help="Certified work IDs (works/ID); `all` for every certified work not yet minted here.")],
    royalty: Annotated[Optional[str], typer.Option("--royalty", help="Royalty on every resale, e.g. 7.5% (default: chain.royalty, 7.5%).", show_default=False)] = None,
    network: NetworkOpt = None,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Store each certified work and its metadata by CID and mint them as ERC-721 tokens (one transaction)."""
    from latentmint.art.works import list_works, load_work
    from latentmint.chain.mint import mint_works, parse_royalty, token_of
    from latentmint.chain.network import connect
    from latentmint.provenance.identity import load_identity, unlock
    from latentmint.studio import open_studio

    opened = open_studio(studio)
    load_identity(opened)
    bps = parse_royalty(royalty) if royalty is not None else None
    net = connect(opened, network)
    chosen = [w for w in list_works(opened) if w.record.get("certificate") and token_of(w, net) is None] if works == ["all"] else [load_work(opened, w) for w in works]
    keys = unlock(opened, password())
    with progress_bar("mint", quiet=as_json and not err.is_terminal) as update:
        minted = mint_works(opened, net, keys, chosen, bps, update)
    if as_json:
        emit({"minted": [m.to_json() for m in minted]})
        return
    table = Table(title=f"{len(minted)} tokens on {net.name} (chain {net.chain_id})", highlight=False)
    for col in ("work", "token id", "token URI", "tx"):
        table.add_column(col, overflow="fold")
    for m in minted:
        note = " (already minted)" if m.already else " (recovered)" if m.recovered else " (minted again)" if m.reminted else ""
        table.add_row(m.work.id + note, hex(m.token_id), m.token_uri, m.tx)
    out.print(table)


@app.command()
@verb
def cid(
    file: Annotated[Path, typer.Argument(help="Any file.", exists=True, dir_okay=False)],
    studio: StudioOpt = None,  # accepted like every verb's; a CID needs no studio
    as_json: JsonOpt = False,
) -> None:
    """Print a file's CIDv1, exactly as `ipfs add --cid-version=1` would."""
    from latentmint.storage.cid import cid_of_file

    value = cid_of_file(file)
    emit({"cid": value, "file": str(file)}) if as_json else print(value)


@app.command()
@verb
def history(
    token: Annotated[str, typer.Argument(help="Token id (decimal or 0x hex: the sha256 of the certified file).")],
    network: NetworkOpt = None,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A token's owner, creator, and its mint, every transfer and every sale with price and royalty."""
    from latentmint.chain.mint import history as token_history
    from latentmint.chain.network import connect
    from latentmint.studio import open_studio

    opened = open_studio(studio)
    doc = token_history(opened, connect(opened, network), parse_token_id(token))
    if as_json:
        emit(doc)
        return
    out.print(f"token {hex(doc['token_id'])}\ncollection {doc['collection']}\ncreator {doc['creator']}\nowner {doc['owner']}\nmetadata {doc['token_uri']}")
    table = Table(title="history")
    for col in ("event", "from", "to", "price (ETH)", "royalty (ETH)", "block", "tx"):
        table.add_column(col, overflow="fold")
    for e in doc["events"]:
        price = f"{e['price_wei'] / 1e18:g}" if "price_wei" in e else ""
        royalty = f"{e['royalty_wei'] / 1e18:g}" if "royalty_wei" in e else ""
        table.add_row(e["event"], e["from"], e["to"], price, royalty, str(e["block"]), e["tx"])
    out.print(table)


@app.command()
@verb
def verify(
    file: Annotated[Path, typer.Argument(help="Any image or animation file a collector holds.", exists=True, dir_okay=False)],
    collection: Annotated[Optional[list[str]], typer.Option("--collection", help="Also check this collection address (repeatable).", show_default=False)] = None,
    trust: Annotated[Optional[list[Path]], typer.Option("--trust", help="A root certificate (PEM) to trust for content credentials (repeatable).", show_default=False)] = None,
    ipfs: Annotated[Optional[str], typer.Option("--ipfs", help="Fetch missing blocks from this IPFS gateway (or Kubo RPC API, …/api/v0); each is checked against its CID.", show_default=False)] = None,
    network: NetworkOpt = None,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Is this file a minted original (AUTHENTIC), a COPY of one, TAMPERED since signing, or UNKNOWN?

    Needs no studio: in any folder, `--network RPC_URL --collection ADDRESS --ipfs GATEWAY` reads everything
    from public endpoints and keeps a cache (its folder is printed)."""
    from latentmint.chain.network import connect
    from latentmint.provenance.certify import trust_anchors
    from latentmint.studio import find_studio_root, open_studio
    from latentmint.verify import verify_cache, verify_file, with_ipfs

    cache = None
    if studio is None and find_studio_root(Path.cwd()) is None and network:
        opened = cache = verify_cache(network, collection or [])
        err.print(f"no studio here: reading {network} and {ipfs or 'no IPFS source'}; cache: {cache.root}")
    else:
        opened = open_studio(studio)
    if ipfs:
        opened = with_ipfs(opened, ipfs)
    net = connect(opened, network)
    found = verify_file(opened, net, file, trust_anchors(opened, trust or []), collection or [])
    storage = opened.settings.get("storage", {})
    found.source = {"network": net.name, "chain_id": net.chain_id, "collection": found.collection or (collection or [None])[0], "ipfs": storage.get("gateway") or storage.get("kubo_url") or None, "cache": str(cache.root) if cache else None}
    if as_json:
        emit(found.to_json())
        return
    colour = {"AUTHENTIC": "green", "COPY": "yellow", "TAMPERED": "red", "UNKNOWN": "white"}[found.verdict]
    out.print(Text.assemble(f"{file}: ", (found.verdict, f"bold {colour}"), f" ({found.reason})"))
    if found.token_id is not None:
        out.print(f"  token {hex(found.token_id)} in {found.collection}\n  creator {found.creator}\n  owner {found.owner}")
    if found.mint_tx:
        out.print(f"  minted in {found.mint_tx}; {len(found.events)} ownership events (`latentmint history {found.token_id}`)")


@app.command()
@verb
def transfer(
    token: TokenArg,
    to: Annotated[str, typer.Argument(help="The receiving address (0x...) or the name of a studio wallet.")],
    who: AsOpt = None,
    network: NetworkOpt = None,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Give a token you own to another address."""
    from latentmint.chain.market import transfer as give
    from latentmint.chain.market import wallet_addresses
    from latentmint.studio import open_studio

    address = to if to.startswith("0x") else wallet_addresses(open_studio(studio)).get(to, to)
    doc = chain_action(studio, network, who, give, parse_token_id(token), address)
    print_doc(doc, as_json, f"{hex(doc['token_id'])} -> {doc['to']} (tx {doc['tx']})")


wallet_app = typer.Typer(help="The studio's accounts: balances, test ETH on the embedded chain, extra local accounts.", no_args_is_help=True)
app.add_typer(wallet_app, name="wallet")


@wallet_app.command("show")
@verb
def wallet_show(network: NetworkOpt = None, studio: StudioOpt = None, as_json: JsonOpt = False) -> None:
    """Every studio account's address, ETH, tokens held and market credits."""
    from latentmint.chain.market import balances
    from latentmint.chain.network import connect
    from latentmint.studio import open_studio

    opened = open_studio(studio)
    net = connect(opened, network)
    doc = balances(opened, net)
    if as_json:
        emit(doc)
        return
    table = Table(title=f"accounts on {net.name} (chain {net.chain_id})")
    for col in ("name", "address", "ETH", "tokens", "credits (wei)"):
        table.add_column(col, overflow="fold")
    for name, a in doc.items():
        table.add_row(name, a["address"], a["eth"], str(a["tokens"]), str(a["credits_wei"]))
    out.print(table)


@wallet_app.command("fund")
@verb
def wallet_fund(
    name: Annotated[str, typer.Argument(help="artist or a wallet name.")] = "artist",
    eth: Annotated[str, typer.Option("--eth", help="How much test ETH.")] = "100",
    network: NetworkOpt = None,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Send test ETH from the embedded chain's faucet (local mode only)."""
    from latentmint.chain.market import fund_wallet
    from latentmint.chain.network import connect
    from latentmint.studio import open_studio

    opened = open_studio(studio)
    address = fund_wallet(opened, connect(opened, network), name, eth)
    print_doc({"name": name, "address": address, "eth": eth}, as_json, f"{name} ({address}) +{eth} ETH")


@wallet_app.command("add")
@verb
def wallet_add(name: Annotated[str, typer.Argument(help="A name for the account, e.g. collector.")], studio: StudioOpt = None, as_json: JsonOpt = False) -> None:
    """Create another local account (encrypted with the studio password), e.g. a collector to try buying."""
    from latentmint.chain.market import add_wallet
    from latentmint.studio import open_studio

    address = add_wallet(open_studio(studio), name, password(confirm=True))
    print_doc({"name": name, "address": address}, as_json, f"wallet {name}: {address}")


royalty_app = typer.Typer(help="Share royalties with the people whose photos trained the model.", no_args_is_help=True)
app.add_typer(royalty_app, name="royalty")


@royalty_app.command("split")
@verb
def royalty_split(
    credits: Annotated[str, typer.Option("--credits", help="The photographers' part of every royalty, e.g. 30% (shared by their photo counts).")],
    dataset: Annotated[Optional[str], typer.Option("--dataset", help="Dataset whose credits name the payees (default: the one the minted works came from).", show_default=False)] = None,
    network: NetworkOpt = None,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Deploy a royalty splitter (artist + credited photographers with an eth_address) and make it the royalty receiver."""
    from latentmint.art.works import list_works
    from latentmint.chain.market import account_key
    from latentmint.chain.network import connect
    from latentmint.chain.royalty import create_split
    from latentmint.provenance.identity import load_identity
    from latentmint.studio import open_studio

    opened = open_studio(studio)
    name = dataset or next((w.record["model"]["dataset"] for w in list_works(opened) if w.record.get("tokens")), None)
    if name is None:
        raise LatentmintError("no minted works yet: pass --dataset NAME")
    try:
        share = float(credits.strip().removesuffix("%")) / 100
    except ValueError:
        raise LatentmintError(f"{credits!r}: a share is a percentage, e.g. 30%") from None
    net = connect(opened, network)
    doc = create_split(opened, net, account_key(opened, password()), load_identity(opened).address, name, share)
    if as_json:
        emit(doc)
        return
    out.print(f"royalties ({doc['royalty_bps'] / 100:g}%) now go to {doc['splitter']}:")
    for p in doc["payees"]:
        out.print(f"  {p['address']}  {p['share']:.2%}")


@royalty_app.command("release")
@verb
def royalty_release(
    payee: Annotated[str, typer.Argument(help="Payee address, or a studio account name (artist, a wallet).")] = "artist",
    who: AsOpt = None,
    network: NetworkOpt = None,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Send a payee their share of the royalties collected so far (anyone may trigger it; the payee is paid)."""
    from latentmint.chain.market import wallet_addresses
    from latentmint.chain.royalty import release
    from latentmint.studio import open_studio

    address = wallet_addresses(open_studio(studio)).get(payee, payee)
    doc = chain_action(studio, network, who, release, address)
    print_doc(doc, as_json, f"{doc['payee']} received {doc['wei'] / 1e18:g} ETH (tx {doc['tx']})")


@app.command()
@verb
def doctor(
    repair_chain: Annotated[bool, typer.Option("--repair-chain", help="Keep the valid blocks of a damaged chain.log (a copy of the damaged file is kept), then check.")] = False,
    network: NetworkOpt = None,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List every disagreement between work.json records, the chain and the store (exit 1 when there is any)."""
    from latentmint.doctor import check_studio
    from latentmint.doctor import repair_chain as repair
    from latentmint.studio import open_studio

    opened = open_studio(studio)
    repaired = repair(opened) if repair_chain else None
    findings = check_studio(opened, network)
    if as_json:
        emit({"repair": repaired, "findings": [f.to_json() for f in findings]})
    else:
        if repaired:
            r = repaired
            said = r.get("reason") or f"kept {r['batches_kept']} blocks ({r['kept_bytes']} bytes), dropped {r['dropped_bytes']} bytes; the damaged file is kept as {r['copy']}"
            out.print(Text(f"repair: {said}"))
        if not findings:
            out.print(Text("studio records, chain and store agree", style="green"))
        table = Table("where", "problem", "fix", title=f"{len(findings)} disagreements", show_lines=True)
        for f in findings:
            table.add_row(Text(f.where), Text(f.problem), Text(f.fix))
        if findings:
            out.print(table)
    if findings:
        raise typer.Exit(1)
