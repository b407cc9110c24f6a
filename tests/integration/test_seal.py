"""The sealed contract's PDF (workflow.documents.seal) with a test CA made for the session: the
seal validates with pyHanko's own validator and with `verify`; a byte changed, a page appended
after the seal (a whole page, or any object), the seal removed or a foreign authority all fail.
The signature page reads back with poppler's pdftotext (installed by scripts/test), accents and
all, in the embedded font."""

from __future__ import annotations

import hashlib
import subprocess
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from pyhanko import stamp
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from tests.sealcerts import SealFiles, blank_pdf, make_seal, seal_environment
from workflow.documents import seal


@pytest.fixture(scope="module")
def test_seal(tmp_path_factory: pytest.TempPathFactory) -> SealFiles:
    return make_seal(tmp_path_factory.mktemp("seal"))


def evidence_of(pdf: bytes) -> dict[str, Any]:
    return {
        "document": {"sha256": hashlib.sha256(pdf).hexdigest(), "length": len(pdf),
                     "number": "OCC-AS-2029-00001"},
        "signers": [{"party": "learner", "label": "l'apprenant", "name": "Élodie Durand",
                     "email": "elodie@example.fr", "signed_at": "2029-12-01T10:00:00+01:00"}],
    }  # fmt: skip


@pytest.fixture
def sealed(test_seal: SealFiles, monkeypatch: pytest.MonkeyPatch) -> tuple[bytes, bytes]:
    seal_environment(monkeypatch, test_seal)
    pdf = blank_pdf()
    with_page = seal.signature_page(pdf, evidence_of(pdf))
    return pdf, seal.seal(with_page, seal.seal_key(), reason="Contrat signé")


def test_a_sealed_contract_validates_with_pyhanko_and_verify(
    sealed: tuple[bytes, bytes], test_seal: SealFiles
) -> None:
    pdf, data = sealed
    assert data.startswith(pdf)  # the signed bytes stay the file's first bytes
    reader = PdfFileReader(BytesIO(data))
    roots = seal.trust_roots()
    status = validate_pdf_signature(
        reader.embedded_signatures[0], ValidationContext(trust_roots=roots, allow_fetching=False)
    )
    assert status.intact and status.valid and status.trusted
    assert len(reader.root["/Pages"]["/Kids"]) == 2  # the signature page
    verdict = seal.verify(data, roots)
    assert verdict.valid, verdict.findings
    assert verdict.sha256 == hashlib.sha256(pdf).hexdigest()
    assert test_seal.subject in (verdict.sealed_by or "")
    assert [s["name"] for s in verdict.signers] == ["Élodie Durand"]


def test_one_byte_changed_fails(sealed: tuple[bytes, bytes]) -> None:
    pdf, data = sealed
    changed = bytearray(data)
    changed[len(pdf) // 2] ^= 0x01
    verdict = seal.verify(bytes(changed), seal.trust_roots())
    assert not verdict.valid
    assert any("modifié" in f or "lisible" in f for f in verdict.findings), verdict.findings


def test_a_page_appended_after_the_seal_fails(sealed: tuple[bytes, bytes]) -> None:
    _, data = sealed
    writer = IncrementalPdfFileWriter(BytesIO(data))
    writer.root["/Info"] = writer.add_object(seal.generic.DictionaryObject())
    writer.update_root()
    out = BytesIO()
    writer.write(out)
    verdict = seal.verify(out.getvalue(), seal.trust_roots())
    assert not verdict.valid
    assert any("ajoutées après le sceau" in f for f in verdict.findings), verdict.findings


def test_a_whole_page_appended_after_the_seal_fails(sealed: tuple[bytes, bytes]) -> None:
    _, data = sealed
    writer = IncrementalPdfFileWriter(BytesIO(data))
    stamp.TextStamp(writer, stamp.TextStampStyle(stamp_text="Page ajoutée")).apply(0, 50, 50)
    writer.insert_page(blank_page(writer))
    out = BytesIO()
    writer.write(out)
    appended = out.getvalue()
    assert appended.startswith(data)  # an incremental update: the sealed bytes untouched
    assert len(PdfFileReader(BytesIO(appended)).root["/Pages"]["/Kids"]) == 3
    status = validate_pdf_signature(
        PdfFileReader(BytesIO(appended)).embedded_signatures[0],
        ValidationContext(trust_roots=seal.trust_roots(), allow_fetching=False),
    )
    assert status.coverage != SignatureCoverageLevel.ENTIRE_FILE  # pyHanko sees it too
    verdict = seal.verify(appended, seal.trust_roots())
    assert not verdict.valid
    assert any("ajoutées après le sceau" in f for f in verdict.findings), verdict.findings


def test_the_signature_page_reads_back_with_its_accents(
    test_seal: SealFiles, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seal_environment(monkeypatch, test_seal)
    pdf = blank_pdf()
    evidence = evidence_of(pdf)
    evidence["signers"][0]["name"] = "Zoé Lefèvre-Ørsted « Œ »"
    path = tmp_path / "scelle.pdf"
    path.write_bytes(seal.seal_contract(pdf, evidence, seal.seal_key(), reason="Contrat signé"))
    page = subprocess.run(["pdftotext", "-f", "2", "-l", "2", str(path), "-"],
                          capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "Page de signature électronique" in page
    assert "Zoé Lefèvre-Ørsted « Œ »" in page
    digest = hashlib.sha256(pdf).hexdigest()
    assert digest[:32] in page and digest[32:] in page
    assert "règlement eIDAS, article 25" in page
    fonts = subprocess.run(["pdffonts", "-f", "2", "-l", "2", str(path)], capture_output=True,
                           text=True, check=True).stdout  # fmt: skip
    assert "DejaVuSans" in fonts and "CID TrueType" in fonts  # embedded: PDF/A wants it
    assert seal.verify(path.read_bytes(), seal.trust_roots()).valid


def blank_page(writer: IncrementalPdfFileWriter) -> seal.generic.DictionaryObject:
    g = seal.generic
    return g.DictionaryObject({
        g.NameObject("/Type"): g.NameObject("/Page"),
        g.NameObject("/MediaBox"): g.ArrayObject([g.NumberObject(n) for n in (0, 0, 595, 842)]),
        g.NameObject("/Resources"): g.DictionaryObject(),
        g.NameObject("/Contents"): writer.add_object(g.StreamObject(stream_data=b"")),
    })  # fmt: skip


def test_the_seal_removed_fails(sealed: tuple[bytes, bytes]) -> None:
    _, data = sealed
    # The file as it was before the seal's incremental update.
    unsealed = data[: data.rindex(b"%%EOF", 0, data.rindex(b"%%EOF")) + len(b"%%EOF\n")]
    verdict = seal.verify(unsealed, seal.trust_roots())
    assert not verdict.valid
    assert any("pas scellé" in f for f in verdict.findings)


def test_a_seal_from_another_authority_is_not_trusted(
    sealed: tuple[bytes, bytes], tmp_path: Path
) -> None:
    _, data = sealed
    other = make_seal(tmp_path / "other", cn="Autre cachet")
    from pyhanko.keys import load_cert_from_pemder

    verdict = seal.verify(data, [load_cert_from_pemder(str(other.ca_pem))])
    assert not verdict.valid
    assert any("autorité de confiance" in f for f in verdict.findings)


def test_no_certificate_configured_is_a_french_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FIDELIS_SEAL_PKCS12", raising=False)
    with pytest.raises(seal.SealError, match="FIDELIS_SEAL_PKCS12"):
        seal.seal_key()


def test_a_wrong_passphrase_is_a_french_error(
    test_seal: SealFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    seal_environment(monkeypatch, test_seal)
    monkeypatch.setenv("FIDELIS_SEAL_PASSPHRASE", "mauvaise")
    with pytest.raises(seal.SealError, match="phrase de passe"):
        seal.seal_key()


def test_the_seal_is_read_once_and_again_when_its_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = make_seal(tmp_path / "cachet", cn="Cachet 2029")
    seal_environment(monkeypatch, first)
    key = seal.seal_key()
    assert seal.seal_key().signer is key.signer  # cached: the PKCS#12 file is not read again
    renewed = make_seal(tmp_path / "cachet", cn="Cachet renouvelé")  # the same path, replaced
    assert renewed.pkcs12 == first.pkcs12
    assert "Cachet renouvelé" in seal.seal_key().subject
    monkeypatch.setenv("FIDELIS_SEAL_PASSPHRASE", "mauvaise")
    with pytest.raises(seal.SealError, match="phrase de passe"):
        seal.seal_key()
