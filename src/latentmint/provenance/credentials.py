"""Content credentials (C2PA) inside the work's own file: sign with the studio's certificate, read and validate.

A certified file carries one manifest saying:
  c2pa.actions        c2pa.created, digitalSourceType trainedAlgorithmicMedia, softwareAgent latentmint + model hash,
                      then the artist's choices (seed, mix, walk, selection) as org.latentmint.* actions;
                      an edited work instead opens the signed generated image (its parent ingredient) and adds
                      c2pa.edited with compositeWithTrainedAlgorithmicMedia
  ingredients         every training photo (relationship inputTo, its sha256 and credit)
  org.latentmint.creativity   the creativity record (provenance/record.py)
  org.latentmint.creator      the artist's Ethereum address, signed by that account, bound to the certificate
  cawg.training-mining        whether others may train on or mine the work (the artist's choice)

The private keys never leave this process: c2pa calls back into Python to sign.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from latentmint import __version__
from latentmint.errors import LatentmintError

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
TRAINED = IPTC + "trainedAlgorithmicMedia"
COMPOSITE = IPTC + "compositeWithTrainedAlgorithmicMedia"
RECORD_LABEL = "org.latentmint.creativity"
CREATOR_LABEL = "org.latentmint.creator"
MINING_LABEL = "cawg.training-mining"
MINING_USES = ("notAllowed", "allowed", "constrained")
MINING_ENTRIES = ("cawg.ai_generative_training", "cawg.ai_training", "cawg.ai_inference", "cawg.data_mining")
MIME_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp", ".mp4": "video/mp4"}


def mime_type(path: Path) -> str:
    try:
        return MIME_TYPES[Path(path).suffix.lower()]
    except KeyError:
        raise LatentmintError(f"{path}: content credentials are not supported for {Path(path).suffix or 'extensionless'} files ({', '.join(MIME_TYPES)})") from None


def _c2pa():
    try:
        import c2pa
    except ImportError as exc:  # the wheel carries a native library; say so rather than a bare ImportError
        raise LatentmintError(f"c2pa-python is not usable here ({exc}); reinstall with `pip install c2pa-python`") from exc
    return c2pa


THUMBNAIL_MAX = 1024  # c2pa's own default long edge: a work smaller than this gets a thumbnail of its own size


def _long_edge(data: bytes, fmt: str) -> int | None:
    """The longest side of an image or video, from its header; None when it cannot be read (c2pa decides)."""
    from latentmint.images import media_size

    try:
        return max(media_size(data, f"work.{fmt.rsplit('/', 1)[-1]}"))
    except Exception:  # any file c2pa can sign but PIL/av cannot size: no thumbnail bound, c2pa's default
        return None


def _context(trust_anchors: str = "", thumbnails: bool = True, long_edge: int | None = None):
    c2pa = _c2pa()
    # never larger than the work itself: a 64 px work with a 1024 px thumbnail is mostly thumbnail
    thumbnail: dict[str, Any] = {"enabled": thumbnails, "long_edge": min(long_edge or THUMBNAIL_MAX, THUMBNAIL_MAX), "prefer_smallest_format": True}
    settings: dict[str, Any] = {"builder": {"thumbnail": thumbnail}}
    if trust_anchors:
        settings["trust"] = {"trust_anchors": trust_anchors}
    return c2pa.Context(c2pa.Settings.from_dict(settings))


# -- signing ------------------------------------------------------------------------------------


def creator_statement(address: str, cert_serial: int) -> str:
    """What the Ethereum account signs: that it and the certificate with this serial are the same artist."""
    return f"latentmint creator {address} signs content credentials with certificate serial {cert_serial}"


def creator_assertion(keys: Any) -> dict[str, Any]:
    from cryptography import x509
    from eth_account import Account
    from eth_account.messages import encode_defunct

    leaf = x509.load_pem_x509_certificates(keys.chain_pem)[0]
    statement = creator_statement(keys.identity.address, leaf.serial_number)
    signed = Account.sign_message(encode_defunct(text=statement), private_key=keys.eth_key)
    return {"address": keys.identity.address, "name": keys.identity.name, "statement": statement, "signature": "0x" + signed.signature.hex().removeprefix("0x")}


def _signer(keys: Any):
    c2pa = _c2pa()
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    return c2pa.Signer.from_callback(lambda data: keys.signing_key.sign(data, ec.ECDSA(hashes.SHA256())), c2pa.C2paSigningAlg.ES256, keys.chain_pem.decode())


def sign(keys: Any, manifest: dict[str, Any], fmt: str, data: bytes, parent: tuple[dict[str, Any], str, bytes] | None = None) -> bytes:
    """`data` with `manifest` embedded and signed; `parent` (ingredient JSON, format, bytes) is read by c2pa so
    that its own manifest travels inside this one."""
    c2pa = _c2pa()
    try:
        with _context(long_edge=_long_edge(data, fmt)) as ctx, c2pa.Builder(manifest, context=ctx) as builder, _signer(keys) as signer:
            if parent is not None:
                builder.add_ingredient(parent[0], parent[1], io.BytesIO(parent[2]))
            dest = io.BytesIO()
            builder.sign(signer, fmt, io.BytesIO(data), dest)
            return dest.getvalue()
    except c2pa.C2paError as exc:
        raise LatentmintError(f"content credentials could not be signed ({fmt}): {exc}") from exc


def training_ingredients(dataset: Any) -> list[dict[str, Any]]:
    """One inputTo ingredient per training photo: its file name, sha256 and credit (no thumbnail: 300 bytes each)."""
    seen: dict[str, dict[str, Any]] = {}
    for face in dataset.faces:
        if face["source_sha256"] in seen:
            continue
        c = face.get("credit") or {}
        credit = ", ".join(f"{k}: {c[k]}" for k in ("author", "license", "source_url") if c.get(k))
        name = face.get("source_relative") or Path(face["source"]).name
        seen[face["source_sha256"]] = {
            "title": name,
            "format": MIME_TYPES.get(Path(name).suffix.lower(), "image/jpeg"),
            "relationship": "inputTo",
            "instance_id": f"sha256:{face['source_sha256']}",
            "description": f"training photo; {credit}" if credit else "training photo",
        }
    return list(seen.values())


def _human_actions(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The artist's choices as actions; custom ones carry the reverse-domain prefix C2PA asks for."""
    actions = []
    for a in record["human_actions"]:
        name = a["action"]
        if name == "edited":
            continue  # stated by the c2pa.edited action of the edited file's own manifest
        params = {k: v for k, v in a.items() if k != "action"}
        actions.append({"action": f"org.latentmint.{name}", "parameters": params})
    return actions


def mining_assertion(use: str) -> dict[str, Any]:
    if use not in MINING_USES:
        raise LatentmintError(f"{use!r}: training-mining must be one of {', '.join(MINING_USES)}")
    return {"label": MINING_LABEL, "data": {"entries": {e: {"use": use} for e in MINING_ENTRIES}}}


def generated_manifest(record: dict[str, Any], title: str, ingredients: list[dict[str, Any]], extra: list[dict[str, Any]]) -> dict[str, Any]:
    created = {
        "action": "c2pa.created",
        "digitalSourceType": TRAINED,
        "softwareAgent": {"name": "latentmint", "version": __version__, "org.latentmint.model_sha256": record["machine"]["model_sha256"]},
        "parameters": {"generation": record["generation"], "model_step": record["machine"]["step"], "org.latentmint.stages": record["machine"].get("stages", [])},
    }
    return {
        "claim_generator_info": [{"name": "latentmint", "version": __version__}],
        "title": title,
        "ingredients": ingredients,
        "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": [created, *_human_actions(record)]}}, *extra],
    }


def edited_manifest(record: dict[str, Any], title: str, edits: list[dict[str, Any]], extra: list[dict[str, Any]]) -> dict[str, Any]:
    actions = [{"action": "c2pa.opened", "parameters": {"ingredientIds": ["generated"]}}]
    for e in edits:
        agent = {"softwareAgent": {"name": e["tool"]}} if e.get("tool") else {}
        actions.append({"action": "c2pa.edited", "digitalSourceType": COMPOSITE, "description": e["note"], **agent})
    return {
        "claim_generator_info": [{"name": "latentmint", "version": __version__}],
        "title": title,
        "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": actions}}, *extra],
    }


# -- reading ------------------------------------------------------------------------------------


@dataclass
class Inspection:
    credentials: str  # valid | invalid | none
    reason: str | None
    signer: str | None = None
    trusted: bool = False
    creator_address: str | None = None
    digital_source_type: str | None = None
    record: dict[str, Any] | None = None
    manifest: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _assertion(manifest: dict[str, Any], label: str) -> Any:
    return next((a.get("data") for a in manifest.get("assertions", []) if a.get("label") == label), None)


def _source_type(manifest: dict[str, Any]) -> str | None:
    actions = (_assertion(manifest, "c2pa.actions.v2") or _assertion(manifest, "c2pa.actions") or {}).get("actions", [])
    types = [a["digitalSourceType"] for a in actions if a.get("digitalSourceType")]
    return types[-1] if types else None


def _check_creator(manifest: dict[str, Any], creator: dict[str, Any] | None) -> str | None:
    """Why the creator address cannot be trusted, or None when its signature and certificate binding hold."""
    if not creator:
        return None
    from eth_account import Account
    from eth_account.messages import encode_defunct

    serial = int(manifest.get("signature_info", {}).get("cert_serial_number") or 0)
    if creator.get("statement") != creator_statement(creator.get("address", ""), serial):
        return "the creator's address statement names a different certificate or address than the one that signed"
    try:
        signer = Account.recover_message(encode_defunct(text=creator["statement"]), signature=creator["signature"])
    except Exception as exc:  # eth_account raises several types for malformed signatures
        return f"the creator's address signature is malformed ({exc})"
    if signer != creator["address"]:
        return f"the creator's address statement was signed by {signer}, not {creator['address']}"
    return None


def inspect_bytes(data: bytes, fmt: str, trust_anchors: str = "") -> Inspection:
    c2pa = _c2pa()
    try:
        with _context(trust_anchors) as ctx, c2pa.Reader(fmt, io.BytesIO(data), context=ctx) as reader:
            manifest = reader.get_active_manifest() or {}
            state = reader.get_validation_state()
            results = reader.get_validation_results() or {}
    except c2pa.C2paError as exc:
        text = str(exc)
        if "ManifestNotFound" in type(exc).__name__ or "no JUMBF" in text or "not found" in text.lower():
            return Inspection("none", "the file carries no content credentials")
        return Inspection("invalid", f"the content credentials cannot be read: {text}")
    failures = (results.get("activeManifest") or {}).get("failure", [])
    # An unknown signer is "valid, untrusted", not a broken file; `trusted` says which.
    failures = [f for f in failures if f["code"] != "signingCredential.untrusted"]
    sig = manifest.get("signature_info", {})
    creator = _assertion(manifest, CREATOR_LABEL)
    found = Inspection(
        "valid",
        None,
        signer=sig.get("common_name") or sig.get("issuer"),
        trusted=state == "Trusted",
        creator_address=(creator or {}).get("address"),
        digital_source_type=_source_type(manifest),
        record=_assertion(manifest, RECORD_LABEL),
        manifest=manifest.get("label"),
    )
    if failures:
        found.credentials = "invalid"
        found.reason = "; ".join(f"{f['code']}: {f.get('explanation', '')}" for f in failures)
        if any("dataHash.mismatch" in f["code"] or "bmffHash.mismatch" in f["code"] or "boxesHash.mismatch" in f["code"] for f in failures):
            found.reason = "the content changed after it was signed (" + found.reason + ")"
    elif (why := _check_creator(manifest, creator)) is not None:
        found.credentials, found.reason = "invalid", why
    elif not found.trusted:
        found.reason = "signature valid, but the signer's certificate is not issued by a trusted anchor (pass --trust ROOT.pem)"
    return found


def inspect_file(path: Path, trust_anchors: str = "") -> Inspection:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LatentmintError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    return inspect_bytes(data, mime_type(path), trust_anchors)


def manifest_json(path: Path) -> dict[str, Any]:
    """The whole manifest store as c2pa reports it (for `inspect --full`)."""
    c2pa = _c2pa()
    with _context() as ctx, c2pa.Reader(mime_type(path), io.BytesIO(Path(path).read_bytes()), context=ctx) as reader:
        return json.loads(reader.json())
