"""Issue 16 end to end, in Debian's Chromium (Playwright) against `fidelis serve`: a case of the
demo database gets its contract; `fidelis contract esign start` e-mails the first invitation to
a local SMTP server (through the outbox; `fidelis outbox send` does not send it twice), each
signature the next; each party — learner, employer, then the Région, in the
scheme's order — opens its link from the e-mail, ticks the consent, asks for the code, reads it
from the SMTP server and signs (the learner first types a wrong code: the French error shows).
The case is then `contracted`, and the sealed PDF a Région agent downloads from the case page
validates with pyHanko's validator and with `fidelis contract verify --json`."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.message import EmailMessage
from io import BytesIO
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from tests.e2e.test_web_browser import FIDELIS, PASSWORD, browser, login  # noqa: F401 (fixture)
from tests.sealcerts import SealFiles, make_seal
from tests.smtpserver import LocalSmtpServer, free_port

INVITATION = "Contrat de fidélisation à signer"
CODE = "Votre code de signature"
REGION_SIGNATORY = "signature@region.example.fr"


@dataclass
class Site:
    base: str
    env: dict[str, str]
    case: str
    region_agent: str
    seal: SealFiles
    smtp: LocalSmtpServer
    work: Path

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([FIDELIS, *args], env=self.env, capture_output=True, text=True,
                              timeout=300)  # fmt: skip

    def ok(self, *args: str) -> str:
        done = self.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout


def consent(page: Page) -> None:
    """Tick the consent as a finger does: the DSFR draws the box with its label."""
    if not page.is_checked("input[name=consentement]"):
        page.click("label[for=consentement]")
    assert page.is_checked("input[name=consentement]")


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None, message
    return str(body.get_content())  # type: ignore[attr-defined]


def mails(smtp: LocalSmtpServer, subject: str, to: str | None = None) -> list[EmailMessage]:
    return [m for m in smtp.messages
            if str(m["Subject"]).startswith(subject) and (to is None or m["To"] == to)]  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The demo database with one `selected` case given its contract, the server started with
    the test seal and the local SMTP server; the demo's own e-mails sent and forgotten."""
    import os

    work = tmp_path_factory.mktemp("esign-web")
    smtp = LocalSmtpServer().start()
    seal = make_seal(work / "seal")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != "FIDELIS_INSECURE_COOKIES"}
    env |= {"FIDELIS_DB": str(work / "demo.db"), "FIDELIS_DOCUMENTS_DIR": str(work / "documents"),
            "FIDELIS_SECRET_KEY": "esign-browser-test", "FIDELIS_PUBLIC_URL": base,
            "FIDELIS_SEAL_PKCS12": str(seal.pkcs12), "FIDELIS_SEAL_PASSPHRASE": seal.passphrase,
            "FIDELIS_SEAL_TRUST_ROOTS": str(seal.ca_pem), "FIDELIS_SMTP_HOST": "127.0.0.1",
            "FIDELIS_SMTP_PORT": str(smtp.port), "FIDELIS_ESIGN_REGION_EMAIL": REGION_SIGNATORY,
            "FIDELIS_ESIGN_REGION_NAME": "Claire Élue"}  # fmt: skip
    demo = json.loads(subprocess.run([FIDELIS, "demo", "--json"], env=env, capture_output=True,
                                     text=True, timeout=300, check=True).stdout)  # fmt: skip
    case = str(next(c["id"] for c in demo["cases"] if c["state"] == "selected"))
    region_agent = next(a["email"] for a in demo["accounts"] if a["role"] == "region")
    site = Site(base, env, case, region_agent, seal, smtp, work)
    site.ok("contract", "generate", case, "--tier", "2x150", "--on", demo["as_of"])
    site.ok("outbox", "send")  # the demo's own mail, out of the way
    smtp.messages.clear()
    log = (work / "serve.log").open("w")
    proc = subprocess.Popen([FIDELIS, "serve", "--port", str(port)], env=env, stdout=log,
                            stderr=subprocess.STDOUT)  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, "fidelis serve failed"
            time.sleep(0.2)
    yield site
    proc.terminate()
    proc.wait(timeout=30)
    log.close()
    smtp.stop()


def submit(page: Page, form: str) -> None:
    with page.expect_navigation():
        page.click(f"form[action$='/{form}'] button[type=submit]")


def test_three_parties_sign_in_chromium_and_the_sealed_contract_verifies(
    site: Site,
    browser: Browser,  # noqa: F811
) -> None:
    started = site.ok("contract", "esign", "start", site.case)
    assert re.search(r"1\. l'apprenant.*\n\s*2\. l'employeur.*\n\s*3\. le financeur", started)
    context = browser.new_context(accept_downloads=True, locale="fr-FR")
    signers: list[str] = []
    # The command sent the first invitation at once; an outbox pass does not send it again.
    site.ok("outbox", "send")
    for position, label in enumerate(("l'apprenant", "l'employeur", "le financeur"), start=1):
        # Each signature sends the next invitation at once (through the outbox).
        invitations = mails(site.smtp, INVITATION)
        assert len(invitations) == position, [m["To"] for m in invitations]
        invitation = invitations[-1]
        to = str(invitation["To"])
        assert f"{position}. {label}" in started and f"<{to}>" in started.replace("\n", "")
        link = re.search(r"http://127\.0\.0\.1:\d+/signature/\S+", text_of(invitation))
        assert link is not None, text_of(invitation)
        page = context.new_page()
        page.goto(link[0])
        assert "Signature du contrat de fidélisation" in page.inner_text("h1")
        pdf = page.request.get(f"{link[0]}/contrat.pdf")
        assert pdf.ok and pdf.body().startswith(b"%PDF")
        submit(page, "code")
        codes = mails(site.smtp, CODE, to)
        assert len(codes) == 1, to
        found = re.search(r"\b(\d{6})\b", text_of(codes[0]))
        assert found is not None
        code = found[1]
        if position == 1:
            # A wrong code: refused in French next to the field, one try counted.
            consent(page)
            page.fill("#code", f"{(int(code) + 1) % 1_000_000:06d}")
            submit(page, "signer")
            assert "Code erroné (4 essai(s) restant(s))" in page.inner_text("#code-error")
        consent(page)
        page.fill("#code", code)
        submit(page, "signer")
        assert "Vous avez signé ce contrat" in page.inner_text("main")
        signers.append(to)
        page.close()
    assert signers[2] == REGION_SIGNATORY and len(set(signers)) == 3

    shown = json.loads(site.ok("case", "show", site.case, "--json"))
    assert shown["state"] == "contracted"
    assert [(s["party"], s["method"]) for s in shown["signatures"]] == [
        ("learner", "electronic"),
        ("employer", "electronic"),
        ("region", "electronic"),
    ]
    assert shown["signatures"][2]["name"] == "Claire Élue"
    assert all(s["signed_at"] for s in shown["signatures"])

    # A Région agent downloads the sealed contract from the case page.
    page = context.new_page()
    login(page, site.base, site.region_agent)
    page.goto(f"{site.base}/dossiers/{site.case}")
    with page.expect_download() as download:
        page.click("a:has-text('télécharger le contrat scellé')")
    sealed = site.work / "contrat-scelle.pdf"
    download.value.save_as(sealed)
    context.close()
    data = sealed.read_bytes()

    reader = PdfFileReader(BytesIO(data))
    roots = [load_cert_from_pemder(str(site.seal.ca_pem))]
    validation = ValidationContext(trust_roots=roots, allow_fetching=False)
    # In a thread of its own: pyHanko runs an event loop, and Playwright's holds this thread.
    with ThreadPoolExecutor(1) as pool:
        status = pool.submit(validate_pdf_signature, reader.embedded_signatures[-1],
                             validation).result()  # fmt: skip
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    verdict = json.loads(site.ok("contract", "verify", str(sealed), "--json"))
    assert verdict["valid"] is True, verdict["findings"]
    assert [s["party"] for s in verdict["signers"]] == ["learner", "employer", "region"]
    assert [s["name"] for s in verdict["signers"]][2] == "Claire Élue"
