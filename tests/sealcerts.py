"""A throw-away test CA and seal certificate (cryptography), written for each test session: no key
is ever committed. `make_seal(folder)` returns the PKCS#12 file, its passphrase and the CA's PEM."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

PASSPHRASE = "phrase-de-test"


@dataclass(frozen=True)
class SealFiles:
    pkcs12: Path
    passphrase: str
    ca_pem: Path
    subject: str


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Région de test"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def make_seal(folder: Path, cn: str = "Cachet de test de la Région") -> SealFiles:
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC) - timedelta(days=1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("Autorité de test Fidelis")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            # digitalSignature and nonRepudiation (contentCommitment), as a seal certificate has.
            x509.KeyUsage(True, True, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    p12 = folder / "cachet.p12"
    p12.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"cachet",
            key,
            cert,
            [ca],
            serialization.BestAvailableEncryption(PASSPHRASE.encode()),
        )
    )
    ca_pem = folder / "ac.pem"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return SealFiles(p12, PASSPHRASE, ca_pem, cn)


def seal_environment(monkeypatch: Any, seal: SealFiles) -> None:
    """Point the settings at the test seal (FIDELIS_SEAL_*), for one test."""
    monkeypatch.setenv("FIDELIS_SEAL_PKCS12", str(seal.pkcs12))
    monkeypatch.setenv("FIDELIS_SEAL_PASSPHRASE", seal.passphrase)
    monkeypatch.setenv("FIDELIS_SEAL_TRUST_ROOTS", str(seal.ca_pem))


def blank_pdf(text: str = "Contrat de test") -> bytes:
    """A one-page PDF with `text`, without LibreOffice (pyHanko's writer)."""
    from io import BytesIO

    from pyhanko import stamp
    from pyhanko.pdf_utils import generic, writer

    w = writer.PdfFileWriter()
    page = generic.DictionaryObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/Page"),
            generic.NameObject("/MediaBox"): generic.ArrayObject(
                [generic.NumberObject(n) for n in (0, 0, 595, 842)]
            ),
            generic.NameObject("/Resources"): generic.DictionaryObject(),
            generic.NameObject("/Contents"): w.add_object(generic.StreamObject(stream_data=b"")),
        }
    )
    w.insert_page(page)
    stamp.TextStamp(w, stamp.TextStampStyle(stamp_text=text, border_width=0)).apply(0, 50, 700)
    out = BytesIO()
    w.write(out)
    return out.getvalue()
