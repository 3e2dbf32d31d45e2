"""The artist's identity: keys encrypted at rest, a proper signing chain, imports, and clear refusals."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from eth_account import Account

from latentmint.errors import LatentmintError
from latentmint.provenance.identity import CHAIN, IDENTITY, create_identity, load_identity, unlock
from latentmint.studio import Studio

PASSWORD = "correct horse battery staple"


def test_create_writes_encrypted_keys_and_a_signing_chain(studio: Studio) -> None:
    made = create_identity(studio, "Ada Lovelace", PASSWORD)
    assert load_identity(studio) == made and made.self_issued
    keystore = json.loads((studio.keys / "account.json").read_text())
    assert keystore["crypto"]["kdf"] == "scrypt"
    keys = unlock(studio, PASSWORD)
    assert Account.from_key(keys.eth_key).address == made.address
    secret_hex = keys.eth_key.hex()
    for path in studio.keys.iterdir():  # the private key is nowhere in clear, the password nowhere at all
        text = path.read_bytes()
        assert secret_hex.encode() not in text and PASSWORD.encode() not in text
        assert path.stat().st_mode & 0o077 == 0
    assert b"ENCRYPTED PRIVATE KEY" in (studio.keys / "signing-key.pem").read_bytes()

    leaf, root = x509.load_pem_x509_certificates((studio.keys / CHAIN).read_bytes())
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Ada Lovelace"
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    leaf.verify_directly_issued_by(root)
    assert leaf.fingerprint(hashes.SHA256()).hex() == made.fingerprint


def test_wrong_or_empty_password_is_a_clear_error(studio: Studio) -> None:
    with pytest.raises(LatentmintError, match="empty password"):
        create_identity(studio, "Ada", "")
    assert list(studio.keys.iterdir()) == []
    create_identity(studio, "Ada", PASSWORD)
    with pytest.raises(LatentmintError, match="account.json: wrong password"):
        unlock(studio, "guess")
    with pytest.raises(LatentmintError, match="already has an identity"):
        create_identity(studio, "Someone else", PASSWORD)


def test_import_an_existing_ethereum_key(studio: Studio) -> None:
    key = "0x" + "11" * 32
    made = create_identity(studio, "Ada", PASSWORD, private_key=key)
    assert made.address == Account.from_key(key).address
    with pytest.raises(LatentmintError, match="not a 32-byte hex private key"):
        create_identity(studio, "Ada", PASSWORD, private_key="0x1234", overwrite=True)


def ca_issued(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A chain from an outside CA (leaf first), the leaf's key, and an unrelated key."""
    now = dt.datetime.now(dt.UTC)
    ca_key, leaf_key, other = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Outside CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    leaf = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Ada")])).issuer_name(ca_name)
        .public_key(leaf_key.public_key()).serial_number(2).not_valid_before(now).not_valid_after(now + dt.timedelta(days=30))
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    chain = tmp_path / "chain.pem"
    chain.write_bytes(leaf.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM))
    paths = []
    for name, key in (("leaf.key", leaf_key), ("other.key", other)):
        path = tmp_path / name
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        paths.append(path)
    return chain, paths[0], paths[1]


def test_import_a_ca_issued_certificate(studio: Studio, tmp_path: Path) -> None:
    chain, key, other = ca_issued(tmp_path)
    with pytest.raises(LatentmintError, match="does not belong to the first certificate"):
        create_identity(studio, "Ada", PASSWORD, cert_chain=chain, cert_key=other)
    assert not (studio.keys / IDENTITY).exists()
    made = create_identity(studio, "Ada", PASSWORD, cert_chain=chain, cert_key=key)
    assert not made.self_issued and not (studio.keys / "root-ca.pem").exists()
    assert (studio.keys / CHAIN).read_bytes() == chain.read_bytes()
    unlock(studio, PASSWORD)
