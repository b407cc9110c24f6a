"""Benchmark of contract generation (issue: "Signable Word contracts"): contracts per second
through the full path — render, hash, store, record, in one transaction per contract — against a
bare docxtpl render loop of the same template and context, in the same process.

And the seal of a signed contract (issue 16, `seal_run`): the signature page with the evidence
then the PAdES seal, as workflow.esign does after the last party, against a bare pyHanko
signature of the same PDF (the contract rendered by LibreOffice), with the same key; the target
is within 1.5× (`seal_over_bare_time`). The seal is FIDELIS_SEAL_PKCS12's when set, else a
throw-away one (tests/sealcerts.py); no timestamp on either side (a TSA would time the network).

    python -m bench.contracts --contracts 200 --seals 20 [--db-url postgresql+psycopg://…]

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from io import BytesIO
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from docxtpl import DocxTemplate
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers

from bench.databases import Databases
from bench.synthetic import AS_OF
from workflow import contracts
from workflow.clock import injected
from workflow.db import UnitOfWork, make_engine, session_factory
from workflow.documents import seal, store
from workflow.documents.context import contract_context
from workflow.documents.pdf import to_pdf
from workflow.documents.render import environment
from workflow.models import Case
from workflow.paths import templates_dir
from workflow.schemes import registry
from workflow.states import State
from workflow.territory import default_territory

ON = AS_OF
SEALS = 20


def seal_key(work: Path) -> seal.SealKey:
    """The configured seal, else a throw-away one; never its timestamper (see above)."""
    if os.environ.get("FIDELIS_SEAL_PKCS12"):
        return seal.SealKey(seal.seal_key().signer)
    from tests.sealcerts import make_seal

    files = make_seal(work / "seal")
    return seal.SealKey(seal.seal_key(files.pkcs12, files.passphrase).signer)


def _evidence(pdf: bytes) -> dict[str, Any]:
    """Three signers' evidence, shaped as workflow.esign records it."""
    import hashlib

    digest = hashlib.sha256(pdf).hexdigest()
    return {
        "document": {
            "sha256": digest,
            "length": len(pdf),
            "number": "OCC-AS-2026-00001",
            "filename": "OCC-AS-2026-00001.pdf",
        },
        "signature_level": "signature électronique simple (règlement eIDAS, article 25)",
        "signers": [
            {
                "party": party,
                "label": party,
                "name": name,
                "email": f"{party}@exemple.fr",
                "signed_at": "2026-06-21T10:00:00+02:00",
                "ip": "192.0.2.7",
                "user_agent": "Mozilla/5.0 (banc d'essai)",
                "document_sha256": digest,
                "consent": "J'ai lu le contrat…",
                "method": "code à usage unique",
            }
            for party, name in (
                ("learner", "Zoé Martin"),
                ("employer", "Clinique du Parc"),
                ("region", "Claire Élue"),
            )
        ],
    }


def seal_run(pdf: bytes, n: int, key: seal.SealKey) -> dict[str, Any]:
    """`n` seals of `pdf` through workflow.documents.seal against `n` bare pyHanko signatures
    of it with the same key, in the same process."""
    evidence = _evidence(pdf)
    meta = signers.PdfSignatureMetadata(
        field_name="Signature", md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES
    )
    # Once before timing: the per-process costs (the page's font cut down, pyHanko's imports).
    seal.seal_contract(pdf, evidence, key, reason="Contrat signé")
    # Interleaved, one seal then one bare signature: on a shared machine both see the same load.
    full = plain = 0.0
    for _ in range(n):
        start = time.perf_counter()
        sealed = seal.seal_contract(pdf, evidence, key, reason="Contrat signé", location="Toulouse")
        middle = time.perf_counter()
        writer = IncrementalPdfFileWriter(BytesIO(pdf))
        bare = bytes(signers.sign_pdf(writer, meta, signer=key.signer).getvalue())
        full += middle - start
        plain += time.perf_counter() - middle
    # Both signed this very PDF, as incremental updates after its bytes: else we timed the
    # wrong thing.
    assert sealed.startswith(pdf) and bare.startswith(pdf), "not the same PDF signed"
    assert len(sealed) > len(bare), "no signature page nor evidence in the seal"
    # And the seal still carries all it did (page, evidence, seal over the whole file).
    chain = [c for c in key.signer.cert_registry if c != key.signer.signing_cert]
    verdict = seal.verify(sealed, chain)
    assert verdict.valid and len(verdict.signers) == len(evidence["signers"]), verdict.findings
    return {
        "seals": n,
        "seal_pdf_bytes": len(pdf),
        "seal_per_s": round(n / full, 2),
        "bare_pyhanko_per_s": round(n / plain, 2),
        "seal_over_bare_time": round(full / plain, 2),
        "seal_target": 1.5,
    }


def run(n: int, work: Path, dbs: Databases, seals: int = SEALS) -> dict[str, Any]:
    # 1 % of synthetic cases are `selected` (5 % of the open campaign's)
    url = dbs.fresh(max(2_000, n * 130))
    engine = make_engine(url)
    factory = session_factory(engine)
    with factory() as s:
        ids = s.scalars(
            sa.select(Case.id).where(Case.state == State.SELECTED).order_by(Case.id).limit(n)
        ).all()
        s.execute(sa.update(Case).where(Case.id.in_(ids)).values(tier="2x150"))
        s.commit()
    assert len(ids) == n, f"only {len(ids)} selected cases"
    os.environ["FIDELIS_DOCUMENTS_DIR"] = str(work / "documents")

    start = time.perf_counter()
    for case_id in ids:
        contracts.generate_contract(UnitOfWork(factory), case_id, on=ON, actor="bench")
    full = time.perf_counter() - start

    scheme = registry()["occitanie-fidelisation-as"]
    template = templates_dir() / store.TEMPLATES["contract"]
    with factory() as s:
        case = s.get(Case, ids[0])
        assert case is not None
        context = contract_context(case, scheme, default_territory(), number="OCC-AS-2026-00001",
                                   issued_on=ON, place="Toulouse")  # fmt: skip
    start = time.perf_counter()
    for _ in ids:
        tpl = DocxTemplate(str(template))
        tpl.render(context, environment(), autoescape=True)
        tpl.save(work / "bare.docx")
    bare = time.perf_counter() - start
    engine.dispose()
    # The seal's benchmark on this very contract, rendered once by LibreOffice.
    pdf = to_pdf(work / "bare.docx", work / "pdf").read_bytes()
    sealing = seal_run(pdf, seals, seal_key(work)) if seals else {}
    dbs.drop(url)
    return {
        "benchmark": "contracts",
        "backend": engine.dialect.name,
        "contracts": n,
        "full_path_per_s": round(n / full, 1),
        "bare_docxtpl_per_s": round(n / bare, 1),
        "full_over_bare_time": round(full / bare, 2),
    } | sealing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contracts", type=int, default=200)
    parser.add_argument("--seals", type=int, default=SEALS)
    parser.add_argument("--db-url")
    args = parser.parse_args()
    # The synthetic picture is as of AS_OF: the benchmark's "today" (workflow.clock).
    with tempfile.TemporaryDirectory(prefix="fidelis-bench-") as tmp, injected(lambda: AS_OF):
        dbs = Databases(Path(tmp), args.db_url)
        print(json.dumps(run(args.contracts, Path(tmp), dbs, args.seals)), flush=True)


if __name__ == "__main__":
    main()
