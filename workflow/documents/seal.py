"""The sealed contract (issue 16), with pyHanko: the signature page and the evidence appended to
the PDF the parties signed, a PAdES seal over the whole, and its verification.

Both additions are incremental updates: the bytes the parties signed stay the file's first
bytes, so anyone can check that the sealed file holds exactly the document whose SHA-256 the
evidence states. The seal is a PAdES baseline signature (`ETSI.CAdES.detached`) made with the
funding body's seal certificate (a PKCS#12 file named by the settings), with an RFC 3161
timestamp where a TSA is configured. Nothing here touches the database."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils import embed, generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.general import SigningError
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from workflow.documents import sealpage
from workflow.errors import FidelisError
from workflow.settings import settings

__all__ = [
    "EVIDENCE_FILE",
    "SealError",
    "SealKey",
    "Verdict",
    "seal",
    "seal_contract",
    "seal_key",
    "signature_page",
    "trust_roots",
    "verify",
]

EVIDENCE_FILE = "preuves-signature.json"
FIELD = "SceauFidelis"
_DEFAULT_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


class SealError(FidelisError):
    """The seal cannot be made: no certificate configured, a wrong passphrase, a bad file."""


@dataclass(frozen=True)
class SealKey:
    """The funding body's seal: its signer (certificate, key, chain) and its timestamper."""

    signer: signers.SimpleSigner
    tsa_url: str | None = None

    @property
    def subject(self) -> str:
        cert = self.signer.signing_cert
        assert cert is not None
        return str(cert.subject.human_friendly)


def seal_key(pkcs12: Path | None = None, passphrase: str | None = None) -> SealKey:
    """The seal of the settings (FIDELIS_SEAL_PKCS12, _PASSPHRASE, _TSA_URL) unless given."""
    conf = settings()
    path = pkcs12 or conf.seal_pkcs12
    if path is None:
        raise SealError(
            "Aucun certificat de cachet n'est configuré (FIDELIS_SEAL_PKCS12) : le contrat "
            "signé ne peut pas être scellé."
        )
    if passphrase is None and conf.seal_passphrase is not None:
        passphrase = conf.seal_passphrase.get_secret_value()
    if not Path(path).is_file():
        raise SealError(f"Certificat de cachet introuvable : {path}.")
    stat = Path(path).stat()
    signer = _signer(str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size, passphrase)
    if signer is None:
        raise SealError(
            f"Le certificat de cachet {path} ne peut pas être ouvert (fichier PKCS#12 invalide "
            "ou phrase de passe FIDELIS_SEAL_PASSPHRASE erronée)."
        )
    return SealKey(signer, conf.seal_tsa_url)


@lru_cache(maxsize=4)
def _signer(
    path: str, mtime_ns: int, size: int, passphrase: str | None
) -> signers.SimpleSigner | None:
    """The PKCS#12 file's signer (key, certificate, chain), read once per process while the
    file stays the same (its date and size are part of the key: a renewed certificate is read
    again)."""
    try:
        signer: signers.SimpleSigner | None = signers.SimpleSigner.load_pkcs12(
            path, passphrase=passphrase.encode() if passphrase else None
        )
    except (ValueError, OSError, SigningError):
        signer = None
    return signer


def _font() -> sealpage.PageFont | None:
    """The signature page's font: a TrueType font with the accents (DejaVu Sans), else None."""
    path = Path(settings().seal_font or _DEFAULT_FONT)
    return sealpage.page_font(path) if path.is_file() else None


def _page_text(evidence: Mapping[str, Any]) -> str:
    doc = evidence["document"]
    lines = [
        "Page de signature électronique",
        "",
        f"Contrat n° {doc.get('number') or ''}",
        f"Empreinte SHA-256 du document signé ({doc['length']} octets) :",
        f"  {doc['sha256'][:32]}",
        f"  {doc['sha256'][32:]}",
        "",
        "Signataires (signature électronique simple, règlement eIDAS, article 25) :",
    ]
    for signer in evidence["signers"]:
        lines += [
            f"- {signer['label']} : {signer['name']}",
            f"    signé le {signer['signed_at']} (code à usage unique envoyé à {signer['email']})",
        ]
    lines += [
        "",
        f"Les preuves de chaque signature sont jointes à ce fichier ({EVIDENCE_FILE}).",
        "Le document est scellé par le cachet électronique de l'organisme financeur.",
    ]
    return "\n".join(lines)


def signature_page(pdf: bytes, evidence: Mapping[str, Any]) -> bytes:
    """`pdf` with, as an incremental update, a last page naming the signers, their times and
    the document's hash, and the evidence attached as a JSON file."""
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    _add_page(writer, evidence)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def seal_contract(
    pdf: bytes,
    evidence: Mapping[str, Any],
    key: SealKey,
    *,
    reason: str,
    location: str | None = None,
) -> bytes:
    """`signature_page` then `seal` in one incremental update: the same content, read and
    written once instead of twice (bench.contracts)."""
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    _add_page(writer, evidence)
    return _sign(writer, key, reason=reason, location=location)


def _add_page(writer: IncrementalPdfFileWriter, evidence: Mapping[str, Any]) -> None:
    sealpage.add_text_page(writer, _page_text(evidence).split("\n"), _font())
    data = json.dumps(evidence, ensure_ascii=False, indent=2, sort_keys=True).encode()
    embed.embed_file(
        writer,
        embed.FileSpec(
            file_spec_string=EVIDENCE_FILE,
            embedded_data=embed.EmbeddedFileObject.from_file_data(
                writer, data=data, mime_type="application/json"
            ),
            description="Preuves des signatures électroniques (eIDAS, article 25)",
            af_relationship=generic.NameObject("/Supplement"),
        ),
    )


def seal(pdf: bytes, key: SealKey, *, reason: str, location: str | None = None) -> bytes:
    """`pdf` sealed (PAdES), as an incremental update covering the whole file."""
    return _sign(IncrementalPdfFileWriter(BytesIO(pdf)), key, reason=reason, location=location)


def _sign(
    writer: IncrementalPdfFileWriter, key: SealKey, *, reason: str, location: str | None
) -> bytes:
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        location=location,
        certify=True,
        # The sealed contract is final: nothing may be added afterwards.
        docmdp_permissions=fields.MDPPerm.NO_CHANGES,
    )
    timestamper = timestamps.HTTPTimeStamper(key.tsa_url) if key.tsa_url else None
    out = signers.sign_pdf(writer, meta, signer=key.signer, timestamper=timestamper)
    return bytes(out.getvalue())


def trust_roots(key_file: Path | None = None) -> list[asn1_x509.Certificate]:
    """The authorities a seal must chain to: FIDELIS_SEAL_TRUST_ROOTS (PEM files), else the
    certificates of the configured seal's own PKCS#12 chain."""
    from pyhanko.keys import load_certs_from_pemder

    conf = settings()
    if conf.seal_trust_roots:
        files = [f for f in conf.seal_trust_roots.split(":") if f.strip()]
        try:
            return list(load_certs_from_pemder(files))
        except (OSError, ValueError) as exc:
            raise SealError(
                f"Autorités de confiance illisibles ({conf.seal_trust_roots}) : {exc}"
            ) from None
    if conf.seal_pkcs12 is None and key_file is None:
        return []
    key = seal_key(key_file)
    return [c for c in key.signer.cert_registry if c != key.signer.signing_cert] or (
        [key.signer.signing_cert] if key.signer.signing_cert is not None else []
    )


@dataclass
class Verdict:
    """What `verify` found: valid only when every check passed; `findings` say it in French."""

    valid: bool = False
    signers: list[dict[str, Any]] = field(default_factory=list)
    sealed_by: str | None = None
    sha256: str | None = None
    timestamp: str | None = None
    findings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "signers": self.signers,
            "sealed_by": self.sealed_by,
            "sha256": self.sha256,
            "timestamp": self.timestamp,
            "findings": self.findings,
        }


def _evidence(reader: PdfFileReader) -> dict[str, Any] | None:
    names = reader.root.get("/Names")
    if names is None:
        return None
    names = names.get_object()
    if "/EmbeddedFiles" not in names:
        return None
    entries = names["/EmbeddedFiles"].get_object().get("/Names", generic.ArrayObject())
    entries = entries.get_object()
    for i in range(0, len(entries) - 1, 2):
        if str(entries[i]) == EVIDENCE_FILE:
            data = entries[i + 1]["/EF"]["/F"].data
            loaded = json.loads(data)
            return loaded if isinstance(loaded, dict) else None
    return None


def verify(data: bytes, roots: Sequence[asn1_x509.Certificate]) -> Verdict:
    """Check a sealed contract: one seal, intact, covering the whole file (nothing appended
    after it), made by a certificate that chains to `roots`; the evidence attached and the
    signed document's bytes matching its SHA-256."""
    verdict = Verdict()
    say = verdict.findings.append
    try:
        reader = PdfFileReader(BytesIO(data), strict=False)
        sigs = reader.embedded_signatures
    except Exception:  # any parse failure means the same to the reader: not a sound PDF
        say("Le fichier n'est pas un PDF lisible : il a été altéré ou ce n'est pas un contrat.")
        return verdict
    if not sigs:
        say(
            "Aucun cachet électronique dans ce fichier : il n'est pas scellé "
            "(ou le sceau a été ôté)."
        )
        return verdict
    sig = sigs[-1]
    context = ValidationContext(
        trust_roots=list(roots), allow_fetching=False, revocation_mode="soft-fail"
    )
    try:
        status = validate_pdf_signature(sig, context)
    except Exception as exc:  # a mangled signature is a failed check, said in French
        say(f"Le cachet ne peut pas être vérifié : {exc}.")
        return verdict
    cert = status.signing_cert
    verdict.sealed_by = str(cert.subject.human_friendly) if cert is not None else None
    if status.timestamp_validity is not None:
        verdict.timestamp = status.timestamp_validity.timestamp.isoformat()
    ok = True
    if not status.intact or not status.valid:
        say("Le cachet ne correspond plus au contenu : le fichier a été modifié après le sceau.")
        ok = False
    else:
        say("Le cachet est intact : le contenu scellé n'a pas été modifié.")
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
        say("Des données ont été ajoutées après le sceau (mise à jour incrémentale) : refusé.")
        ok = False
    if not roots:
        say("Aucune autorité de confiance configurée (FIDELIS_SEAL_TRUST_ROOTS) : refusé.")
        ok = False
    elif not status.trusted:
        say("Le certificat du cachet ne provient pas d'une autorité de confiance.")
        ok = False
    else:
        say(f"Cachet de : {verdict.sealed_by}, certificat reconnu.")
    evidence = _evidence(reader)
    if evidence is None:
        say(f"Les preuves des signatures ({EVIDENCE_FILE}) manquent.")
        return verdict
    doc = evidence.get("document", {})
    verdict.sha256 = doc.get("sha256")
    verdict.signers = [
        {k: s.get(k) for k in ("party", "label", "name", "signed_at")}
        for s in evidence.get("signers", [])
    ]
    length = doc.get("length")
    if not isinstance(length, int) or hashlib.sha256(data[:length]).hexdigest() != verdict.sha256:
        say("Le document signé par les parties ne correspond pas à l'empreinte des preuves.")
        ok = False
    else:
        say(f"Le document signé ({verdict.sha256}) est celui que les parties ont lu et signé.")
    if not verdict.signers:
        say("Les preuves ne nomment aucun signataire.")
        ok = False
    verdict.valid = ok
    return verdict
