"""The artist's identity: an Ethereum account and an X.509 signing certificate, kept in the studio's keys/.

keys/account.json      the Ethereum key in a standard encrypted keystore (scrypt), as geth and MetaMask write it
keys/signing-key.pem   the certificate's P-256 private key, PKCS#8, encrypted with the same password
keys/signing-chain.pem the leaf certificate followed by its issuer(s): what content credentials embed
keys/root-ca.pem       the local root CA that issued the leaf (absent when a CA-issued chain was imported)
keys/identity.json     the public part: name, address, certificate fingerprint

The password is never written or logged; a wrong one fails before anything is written.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from latentmint.data.dataset import now_iso
from latentmint.errors import LatentmintError
from latentmint.files import atomic_write_bytes, atomic_write_json
from latentmint.studio import Studio

ACCOUNT, SIGNING_KEY, CHAIN, ROOT_CA, IDENTITY = "account.json", "signing-key.pem", "signing-chain.pem", "root-ca.pem", "identity.json"
CERT_YEARS = 5


@dataclass(frozen=True)
class Identity:
    name: str
    address: str  # checksummed Ethereum address
    fingerprint: str  # sha256 of the leaf certificate (DER), hex
    self_issued: bool

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "address": self.address, "certificate_sha256": self.fingerprint, "self_issued": self.self_issued}


def _check_password(password: str) -> bytes:
    if not password:
        raise LatentmintError("an empty password cannot protect keys: set LATENTMINT_PASSWORD or type one at the prompt")
    return password.encode("utf-8")


def _name(common_name: str):
    from cryptography.x509.oid import NameOID
    from cryptography import x509

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "latentmint studio")])


def _issue_chain(name: str):
    """A local root CA and a leaf for signing content credentials (CA=false, digitalSignature, emailProtection)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID

    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    until = now + dt.timedelta(days=365 * CERT_YEARS)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _name(f"{name} (latentmint root)")
    root = (
        x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name).public_key(root_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(until)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )  # fmt: skip
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder().subject_name(_name(name)).issuer_name(root_name).public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(until)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )  # fmt: skip
    return leaf_key, [leaf, root]


def _load_chain(cert_path: Path, key_path: Path, password: bytes):
    """An imported CA-issued chain (leaf first) and its key; the key must belong to the leaf."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        chain = x509.load_pem_x509_certificates(Path(cert_path).read_bytes())
    except (OSError, ValueError) as exc:
        raise LatentmintError(f"{cert_path}: not a PEM certificate chain ({exc})") from exc
    try:
        raw = Path(key_path).read_bytes()
        try:
            key = serialization.load_pem_private_key(raw, password=None)
        except TypeError:  # the key file is encrypted: try the identity's password
            key = serialization.load_pem_private_key(raw, password=password)
    except (OSError, ValueError) as exc:
        raise LatentmintError(f"{key_path}: not a PEM private key we can open ({exc})") from exc
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(serialization.Encoding.DER, pub) != chain[0].public_key().public_bytes(serialization.Encoding.DER, pub):
        raise LatentmintError(f"{key_path}: this key does not belong to the first certificate of {cert_path}")
    return key, chain


def create_identity(
    studio: Studio,
    name: str,
    password: str,
    *,
    private_key: str | None = None,
    cert_chain: Path | None = None,
    cert_key: Path | None = None,
    overwrite: int = 0,
) -> Identity:
    """Make (or import) the studio's Ethereum account and signing certificate, encrypted with `password`.

    Replacing an identity (`overwrite` 1) first moves the old one to keys/old-<time>/; when the old account
    owns a collection on a chain the studio knows, it must be asked for twice (`overwrite` 2), since a new key
    cannot mint in, or be paid by, that collection."""
    from cryptography.hazmat.primitives import hashes, serialization
    from eth_account import Account

    secret = _check_password(password)
    if (studio.keys / IDENTITY).exists():
        if not overwrite:
            raise LatentmintError(f"{studio.keys / IDENTITY}: the studio already has an identity (latentmint identity show); --force replaces it, keeping the old one in keys/old-<time>/")
        owned = _collections_owned(studio)
        if owned and overwrite < 2:
            raise LatentmintError(f"{studio.keys / IDENTITY}: this identity owns the collection{'s' if len(owned) > 1 else ''} {', '.join(owned)}; a new key could not mint in or change {'them' if len(owned) > 1 else 'it'}. Give --force twice to replace it anyway (the old keys are kept in keys/old-<time>/)")
    if not name.strip():
        raise LatentmintError("an identity needs a name (--name)")
    try:
        account = Account.from_key(private_key) if private_key else Account.create()
    except (ValueError, TypeError) as exc:
        raise LatentmintError(f"the imported Ethereum key is not a 32-byte hex private key ({exc})") from exc
    if (cert_chain is None) != (cert_key is None):
        raise LatentmintError("importing a certificate needs both --cert CHAIN.pem and --cert-key KEY.pem")
    key, chain = _load_chain(cert_chain, cert_key, secret) if cert_chain else _issue_chain(name)

    keystore = Account.encrypt(account.key, password, kdf="scrypt")
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(secret))
    chain_pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)
    identity = Identity(name.strip(), account.address, chain[0].fingerprint(hashes.SHA256()).hex(), cert_chain is None)
    # Everything is computed first: nothing is written unless all of it succeeded.
    secure_folder(studio.keys)
    if (studio.keys / IDENTITY).exists():
        _keep_old_identity(studio)
    atomic_write_json(studio.keys / ACCOUNT, keystore)
    atomic_write_bytes(studio.keys / SIGNING_KEY, key_pem)
    atomic_write_bytes(studio.keys / CHAIN, chain_pem)
    if identity.self_issued:
        atomic_write_bytes(studio.keys / ROOT_CA, chain[-1].public_bytes(serialization.Encoding.PEM))
    else:
        (studio.keys / ROOT_CA).unlink(missing_ok=True)
    atomic_write_json(studio.keys / IDENTITY, {**identity.to_json(), "created": now_iso()})
    for path in studio.keys.iterdir():
        if path.is_file():
            path.chmod(0o600)
    return identity


KEY_FILES = (ACCOUNT, SIGNING_KEY, CHAIN, ROOT_CA, IDENTITY)


def secure_folder(folder: Path) -> None:
    """Create `folder` (keys/, keys/wallets/) readable by its owner only."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)


def _keep_old_identity(studio: Studio) -> Path:
    """Copy the current identity's files to keys/old-<time>/ before they are replaced."""
    import shutil

    old = studio.keys / f"old-{now_iso().replace(':', '')}"
    secure_folder(old)
    for name in KEY_FILES:
        if (studio.keys / name).exists():
            shutil.copy2(studio.keys / name, old / name)
    return old


def _collections_owned(studio: Studio) -> list[str]:
    """Collections in chain/deployments.json (any chain) deployed by the current identity."""
    from latentmint.files import read_json

    deployments = read_json(studio.chain / "deployments.json", "deployments record", default={})
    return [d["collection"] for d in deployments.values() if isinstance(d, dict) and d.get("collection")]


def load_identity(studio: Studio) -> Identity:
    path = studio.keys / IDENTITY
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise LatentmintError(f"{studio.root}: no identity yet; create one with `latentmint identity create --name \"Your Name\"`") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LatentmintError(f"{path}: damaged identity ({exc}); restore it from a backup (an earlier one may be in keys/old-*/)") from exc
    try:
        return Identity(str(doc["name"]), str(doc["address"]), str(doc["certificate_sha256"]), bool(doc["self_issued"]))
    except (TypeError, KeyError) as exc:
        raise LatentmintError(f"{path}: damaged identity (missing {exc}); restore it from a backup") from exc


@dataclass
class Keys:
    """Unlocked keys, held in memory only for the command that needs them."""

    identity: Identity
    eth_key: bytes
    signing_key: Any  # cryptography EllipticCurvePrivateKey
    chain_pem: bytes


def decrypt_keystore(path: Path, password: str) -> bytes:
    """The private key in an Ethereum keystore file; a damaged file says damaged, not "wrong password"."""
    from eth_account import Account

    try:
        keystore = json.loads(path.read_text())
    except FileNotFoundError:
        raise LatentmintError(f"{path}: missing; restore it from a backup") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise LatentmintError(f"{path}: damaged keystore (not JSON: {exc}); restore it from a backup") from exc
    crypto = keystore.get("crypto") if isinstance(keystore, dict) else None
    if not isinstance(crypto, dict) or not {"cipher", "ciphertext", "kdf", "kdfparams", "mac"} <= crypto.keys():
        raise LatentmintError(f"{path}: damaged keystore (its crypto fields are missing); restore it from a backup")
    try:
        return bytes(Account.decrypt(keystore, password))
    except ValueError as exc:
        if "MAC mismatch" in str(exc):
            raise LatentmintError(f"{path}: wrong password") from exc
        raise LatentmintError(f"{path}: damaged keystore ({exc}); restore it from a backup") from exc
    except (TypeError, KeyError) as exc:
        raise LatentmintError(f"{path}: damaged keystore ({type(exc).__name__}: {exc}); restore it from a backup") from exc


def unlock(studio: Studio, password: str) -> Keys:
    """Decrypt the studio's keys; a wrong password is a clear error."""
    from cryptography.hazmat.primitives import serialization
    from eth_account import Account

    identity = load_identity(studio)
    secret = _check_password(password)
    eth_key = decrypt_keystore(studio.keys / ACCOUNT, password)
    try:
        signing_key = serialization.load_pem_private_key((studio.keys / SIGNING_KEY).read_bytes(), password=secret)
    except ValueError as exc:
        raise LatentmintError(f"{studio.keys / SIGNING_KEY}: wrong password or damaged key") from exc
    if Account.from_key(eth_key).address != identity.address:
        raise LatentmintError(f"{studio.keys / ACCOUNT}: does not hold the account {identity.address} named in {IDENTITY}")
    return Keys(identity, eth_key, signing_key, (studio.keys / CHAIN).read_bytes())
