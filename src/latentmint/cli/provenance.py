"""Identity and content credentials: identity create/show, edit, certify, inspect."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.text import Text

from latentmint.cli.common import app, emit, err, JsonOpt, out, password, progress_bar, StudioOpt, verb
from latentmint.errors import LatentmintError


identity_app = typer.Typer(help="The artist's identity: an Ethereum account and a signing certificate in keys/.", no_args_is_help=True)
app.add_typer(identity_app, name="identity")


@identity_app.command("create")
@verb
def identity_create(
    name: Annotated[str, typer.Option("--name", help="Your name as it will appear on certificates.")],
    import_key: Annotated[Optional[Path], typer.Option("--import-key", help="Use the Ethereum private key (hex) in this file, or - to read it from standard input, instead of a new one.", dir_okay=False, show_default=False)] = None,
    cert: Annotated[Optional[Path], typer.Option("--cert", help="A CA-issued certificate chain (PEM, leaf first) to sign with.", exists=True, dir_okay=False, show_default=False)] = None,
    cert_key: Annotated[Optional[Path], typer.Option("--cert-key", help="The private key (PEM) of that certificate.", exists=True, dir_okay=False, show_default=False)] = None,
    force: Annotated[int, typer.Option("--force", count=True, help="Replace the studio's identity (the old one is kept in keys/old-<time>/); twice when it owns a collection.")] = 0,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create (or import) the studio's Ethereum account and content-credential certificate, encrypted with a password."""
    from latentmint.provenance.identity import create_identity
    from latentmint.studio import open_studio

    opened = open_studio(studio)
    private_key = None
    if import_key is not None:  # never from the command line, where ps and shell history would show it
        try:
            private_key = (sys.stdin.read() if str(import_key) == "-" else import_key.read_text()).strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise LatentmintError(f"{import_key}: cannot read the key ({exc})") from exc
    made = create_identity(opened, name, password(confirm=True), private_key=private_key, cert_chain=cert, cert_key=cert_key, overwrite=force)
    if as_json:
        emit(made.to_json())
        return
    origin = "issued by the studio's own root CA" if made.self_issued else "imported"
    out.print(Text.assemble("identity ", (made.name, "bold"), f"\naddress: {made.address}\ncertificate sha256: {made.fingerprint} ({origin})\nkeys: {opened.keys}"))


@identity_app.command("show")
@verb
def identity_show(studio: StudioOpt = None, as_json: JsonOpt = False) -> None:
    """Print the studio's address and certificate fingerprint (no password needed)."""
    from latentmint.provenance.identity import load_identity
    from latentmint.studio import open_studio

    shown = load_identity(open_studio(studio))
    if as_json:
        emit(shown.to_json())
        return
    out.print(Text(f"{shown.name}\naddress: {shown.address}\ncertificate sha256: {shown.fingerprint}"))


@app.command()
@verb
def edit(
    work: Annotated[str, typer.Argument(help="Work ID (works/ID).")],
    edited: Annotated[Path, typer.Argument(help="The edited file (PNG, JPEG, GIF, WebP or MP4) you made from the work in another program.", exists=True, dir_okay=False)],
    note: Annotated[str, typer.Option("--note", help="What you changed, in plain words: it goes into the certificate.")],
    tool: Annotated[Optional[str], typer.Option("--tool", help="The program you edited with, e.g. Krita.", show_default=False)] = None,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Declare an edit made outside latentmint; the edited file is what `certify` then signs, with the generated image as its parent."""
    from latentmint.art.works import load_work
    from latentmint.provenance.record import declare_edit
    from latentmint.studio import open_studio

    opened = open_studio(studio)
    target = load_work(opened, work)
    entry = declare_edit(opened, target, edited, note, tool)
    if as_json:
        emit({"work": target.id, "file": str(target.root / entry["file"]), "sha256": entry["sha256"]})
        return
    out.print(f"{target.id}: edit {entry['file']} declared ({entry['note']})")


@app.command()
@verb
def certify(
    works: Annotated[list[str], typer.Argument(help="Work IDs (works/ID); `all` for every work not yet certified.")],
    allow_near_copy: Annotated[bool, typer.Option("--allow-near-copy", help="Certify works flagged as near copies of a training photo (the certificate says so).")] = False,
    code: Annotated[Optional[list[Path]], typer.Option("--code", help="A file or folder of code you wrote and used (hashed into the record; repeatable).", exists=True, show_default=False)] = None,
    training_mining: Annotated[Optional[str], typer.Option("--training-mining", help="May others train AI on or mine these works: notAllowed, allowed or constrained (default: the studio's setting).", show_default=False)] = None,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Embed signed content credentials (C2PA) in each work: what the AI made, what you did, which photos taught the model."""
    from latentmint.art.works import list_works, load_work
    from latentmint.provenance.certify import certify_work
    from latentmint.provenance.identity import load_identity, unlock
    from latentmint.studio import open_studio

    opened = open_studio(studio)
    load_identity(opened)  # no identity: say so before asking for a password
    chosen = [w for w in list_works(opened) if not w.record.get("certificate")] if works == ["all"] else [load_work(opened, w) for w in works]
    keys = unlock(opened, password())
    done = []
    with progress_bar("certify", quiet=as_json and not err.is_terminal) as update:
        for i, w in enumerate(chosen):
            done.append(certify_work(opened, w, keys, allow_near_copy=allow_near_copy, code=code or [], training_mining=training_mining))
            update(i + 1, len(chosen))
    if as_json:
        files = [{"work": w.id, "file": str(w.root / w.record["certificate"]["file"]), "new": new} for w, new in done]
        emit(files[0] if len(files) == 1 else {"certified": files})
        return
    for w, new in done:
        c = w.record["certificate"]
        out.print(f"{w.id}: {'certified' if new else 'already certified'} -> {os.path.relpath(w.root / c['file'])}\n  {c['summary']}")


@app.command()
@verb
def inspect(
    file: Annotated[Path, typer.Argument(help="Any PNG, JPEG, GIF, WebP or MP4 file.", exists=True, dir_okay=False)],
    trust: Annotated[Optional[list[Path]], typer.Option("--trust", help="A root certificate (PEM) to trust besides the studio's own (repeatable).", show_default=False)] = None,
    studio: StudioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Read and validate a file's content credentials: signature, binding to the pixels, signer, creator, creativity record."""
    from latentmint.provenance.certify import trust_anchors
    from latentmint.provenance.credentials import inspect_file
    from latentmint.studio import find_studio_root, open_studio

    root = studio or find_studio_root(Path.cwd())
    found = inspect_file(file, trust_anchors(open_studio(root) if root else None, trust or []))
    if as_json:
        emit(found.to_json())
    else:
        colour = {"valid": "green", "invalid": "red", "none": "yellow"}[found.credentials]
        out.print(Text.assemble(f"{file}: credentials ", (found.credentials, colour), " (trusted signer)" if found.trusted else ""))
        if found.reason:
            out.print(f"  {found.reason}")
        if found.signer:
            out.print(f"  signed by {found.signer}; creator address {found.creator_address or '-'}\n  source: {found.digital_source_type or '-'}")
        if found.record:
            out.print(f"  {found.record.get('summary', '')}")
