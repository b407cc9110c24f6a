"""A whole campaign in the browser (issue 15): every party does its own part in Chromium, driven
by Playwright, against `fidelis serve` on a fresh database that the command line prepares, with
a local SMTP server receiving every e-mail. The learner is invited by e-mail, opens the link on
a phone (or a desktop window), applies to two employers with a letter and a PDF; the employer
interviews and selects; the Région's agent, from « À traiter », takes the case and issues the
contract; the agent and the learner exchange messages, each told by e-mail; the parties sign
electronically with the codes the SMTP server receives; the training starts, the nightly run
pays, and the learner sees their payments on their phone.

The pages seen on the way are saved under `var/screenshots/walk/` (the README's walk-through
shows a chosen few, copied to `docs/screenshots/`)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, sync_playwright

from tests.sealcerts import make_seal
from tests.smtpserver import LocalSmtpServer

FIDELIS = str(Path(sys.executable).parent / "fidelis")
CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "walk"
PASSWORD = "fidelis-demo-2026"
IBAN = "FR7630006000011234567890189"
RIB = "RIB de Lea Fabre - FR76 3000 6000 0112 3456 7890 189"
# The server's "today": a campaign's applications in June, before a training that starts in
# September. The nightly run is told its own day (months later) on its command line.
TODAY = "2029-06-04"
TRAINING_START = "2029-09-03"
NIGHT = "2029-11-12"  # after the 10 October and 10 November payment days
LEARNER = "lea.fabre@exemple.fr"
AGENT = "agent@region.exemple.fr"
EMPLOYER = "direction@genets.exemple.fr"
OTHER_EMPLOYER = "direction@mimosas.exemple.fr"
INSTITUTE = "secretariat@ifas-mende.exemple.fr"
SIGNATORY = "signature@region.exemple.fr"

PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
DESKTOP: dict[str, Any] = {"viewport": {"width": 1366, "height": 900}}


def tick(box: Locator) -> None:
    """Tick a checkbox as a finger does: the DSFR draws the box with its label, which takes the
    click (the input itself lies under it)."""
    ident = box.get_attribute("id")
    label = box.page.locator(f"label[for='{ident}']")
    if ident and label.count():
        label.click()
    else:  # a bare checkbox (named by aria-label): the input takes the click itself
        box.check()
    assert box.is_checked()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class World:
    """The deployment under test: its environment, the ids the command line created, the
    server's address and the SMTP server's mailbox."""

    env: dict[str, str]
    base: str
    smtp: LocalSmtpServer
    ids: dict[str, str] = field(default_factory=dict)

    def run(self, *args: str, env: dict[str, str] | None = None) -> str:
        done = subprocess.run([FIDELIS, *args], env={**self.env, **(env or {})},
                              capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout

    def new(self, *args: str) -> str:
        out = self.run(*args).strip()
        assert out.isdigit(), out
        return out

    def send_outbox(self) -> None:
        """The outbox's sending step (the nightly run's, or a caseworker's `outbox send`)."""
        self.run("outbox", "send")

    def mail_to(self, to: str, subject_has: str = "", *, after: int = 0) -> EmailMessage:
        """The latest e-mail the SMTP server received for `to` (after the `after` first ones)."""
        for message in reversed(self.smtp.messages[after:]):
            if message["To"] == to and subject_has in str(message["Subject"]):
                return message
        raise AssertionError(
            f"no e-mail for {to} ({subject_has!r}): "
            + repr([(m["To"], m["Subject"]) for m in self.smtp.messages])
            + self.run("outbox", "list")
        )

    def link_in(self, message: EmailMessage, path: str) -> str:
        found = re.search(re.escape(self.base + path) + r"[^\s>\"]*", text_of(message))
        assert found, text_of(message)
        return found.group(0)


def pdf(text: str) -> bytes:
    """A one-page PDF saying `text` (what a phone's « Enregistrer en PDF » would give)."""
    stream = f"BT /F1 14 Tf 72 760 Td ({text}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def _prepare(world: World) -> None:
    """What exists before the campaign opens to learners: the reference data (the Région's
    imports, here the command line), the accounts of the agent, the employer and the
    institute, and the learner's invitation."""
    run, new, ids = world.run, world.new, world.ids
    run("db", "upgrade")
    ids["institute"] = new("institute", "add", "--name", "IFAS de Mende", "--commune", "48095")
    ids["employer"] = new("employer", "add", "--name", "EHPAD Les Genêts", "--siret",
                          "73282932000074", "--commune", "48095", "--sector", "elderly",
                          "--recruitment-difficulty", "--email", EMPLOYER)  # fmt: skip
    ids["other_employer"] = new("employer", "add", "--name", "EHPAD Les Mimosas", "--siret",
                                "44306184100047", "--commune", "48095", "--sector", "elderly",
                                "--recruitment-difficulty", "--email", OTHER_EMPLOYER)  # fmt: skip
    ids["campaign"] = new("campaign", "open", "--scheme", "occitanie-fidelisation-as",
                          "--year", "2029")  # fmt: skip
    for key in ("employer", "other_employer"):
        new("campaign", "list-employer", ids["campaign"], ids[key], "--places", "2")
    ids["learner"] = new("learner", "add", "--first-name", "Léa", "--last-name", "Fabre",
                         "--birth-date", "2003-04-05", "--email", LEARNER, "--institute",
                         ids["institute"], "--training-start", TRAINING_START,
                         "--training-end", "2030-07-05", "--iban", IBAN)  # fmt: skip
    run("user", "add", "--role", "region", "--email", AGENT, "--name", "Camille Agent",
        "--password", PASSWORD)  # fmt: skip
    run("user", "add", "--role", "employer", "--employer", ids["employer"], "--email", EMPLOYER,
        "--password", PASSWORD)  # fmt: skip
    run("user", "add", "--role", "institute", "--institute", ids["institute"], "--email",
        INSTITUTE, "--password", PASSWORD)  # fmt: skip
    learner = json.loads(run("user", "add", "--role", "learner", "--learner", ids["learner"],
                             "--email", LEARNER, "--json"))  # fmt: skip
    assert learner["invitation"].startswith(world.base + "/connexion/lien/")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    smtp = LocalSmtpServer().start()
    seal = make_seal(tmp_path / "seal")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != "FIDELIS_INSECURE_COOKIES"}
    env.update({
        "FIDELIS_DB": str(tmp_path / "fidelis.db"), "FIDELIS_DOCUMENTS_DIR": str(tmp_path / "documents"),
        "FIDELIS_SECRET_KEY": "campaign-walk", "FIDELIS_PUBLIC_URL": base, "FIDELIS_TODAY": TODAY,
        "FIDELIS_SMTP_HOST": "127.0.0.1", "FIDELIS_SMTP_PORT": str(smtp.port),
        "FIDELIS_SEAL_PKCS12": str(seal.pkcs12), "FIDELIS_SEAL_PASSPHRASE": seal.passphrase,
        "FIDELIS_SEAL_TRUST_ROOTS": str(seal.ca_pem), "FIDELIS_ESIGN_REGION_EMAIL": SIGNATORY,
        "FIDELIS_ESIGN_REGION_NAME": "Claire Élue", "COLUMNS": "200",
    })  # fmt: skip
    world = World(env=env, base=base, smtp=smtp)
    _prepare(world)
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen([FIDELIS, "serve", "--port", str(port)], env=env, stdout=log,
                            stderr=subprocess.STDOUT)  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, (
                "fidelis serve did not start"
            )
            time.sleep(0.2)
    yield world
    proc.terminate()
    proc.wait(timeout=30)
    log.close()
    smtp.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), (
        "Chromium is installed by scripts/test (apt-get install chromium)"
    )
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )  # fmt: skip
        yield b
        b.close()


def _context(browser: Browser, device: dict[str, Any]) -> BrowserContext:
    return browser.new_context(locale="fr-FR", accept_downloads=True, **device)


def shot(page: Page, name: str, *, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def sign_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/connexion")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: not url.endswith("/connexion"))  # each role its own home


def fits_the_window(page: Page) -> None:
    """The page needs no sideways scrolling (a wide table scrolls inside its own box); a
    failure names the first elements that stick out of the window."""
    width = page.evaluate("document.documentElement.scrollWidth")
    wide = page.evaluate(
        """() => [...document.querySelectorAll("body *")]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
            .slice(0, 5).map(e => e.tagName + "#" + e.id + "." + e.className)"""
    )
    assert page.viewport_size is not None
    assert width <= page.viewport_size["width"], (page.url, width, wide)


def menu(page: Page, base: str, path: str) -> None:
    """An entry of the header's menu (which the design system may fold into a drop-down)."""
    page.goto(f"{base}{path}")
    assert page.locator(f"header a[href='{path}'], nav a[href='{path}']").count() >= 1


def submit(page: Page, form: str) -> None:
    page.click(f"{form} button[type=submit]")
    page.wait_for_load_state()


def status_text(page: Page) -> str:
    return page.inner_text("[role=status]")


# --- the steps, each by the party whose part it is ---------------------------------------


def learner_opens_the_invitation(world: World, page: Page, tag: str) -> None:
    """The learner's invitation, read from the SMTP server: its link signs them in once."""
    world.send_outbox()
    link = world.link_in(world.mail_to(LEARNER), "/connexion/lien/")
    page.goto(link)
    submit(page, "form[action^='/connexion/lien/']")
    page.wait_for_url(f"{world.base}/mon-espace")
    assert "Mon espace" in page.inner_text("h1")
    assert "aucune candidature" in page.inner_text("main")
    fits_the_window(page)
    shot(page, f"{tag}-apprenant-accueil")


def learner_applies_to_two_employers(world: World, page: Page, tag: str) -> list[str]:
    page.click("main a[href^='/mon-espace/offres']")
    page.wait_for_load_state()
    assert "Candidater" in page.inner_text("h1")
    for employer in ("EHPAD Les Genêts", "EHPAD Les Mimosas"):
        tick(page.get_by_label(employer, exact=False))
    page.fill("#letter", "Madame, Monsieur,\n\nAide-soignante en formation à l'IFAS de Mende, "
                         "je souhaite travailler en Lozère après mon diplôme.\n\nLéa Fabre")  # fmt: skip
    page.set_input_files("#application-files", files=[{
        "name": "cv-lea-fabre.pdf", "mimeType": "application/pdf",
        "buffer": pdf("Lea Fabre - curriculum vitae")}])  # fmt: skip
    fits_the_window(page)
    shot(page, f"{tag}-apprenant-offres")
    submit(page, "form[action='/mon-espace/candidatures']")
    page.wait_for_url(re.compile(r"/mon-espace\?envoye=2$"))
    assert "Candidature envoyée (2)" in status_text(page)
    links = page.locator("a[href^='/mon-espace/dossiers/']")
    assert links.count() == 2
    cases = [str(a.get_attribute("href")).rsplit("/", 1)[1] for a in links.all()]
    rows = page.inner_text("table")
    assert "EHPAD Les Genêts" in rows and "EHPAD Les Mimosas" in rows
    fits_the_window(page)
    shot(page, f"{tag}-apprenant-candidatures")
    return cases


def employer_interviews_and_selects(world: World, page: Page, case: str, tag: str) -> None:
    """The employer, in its own space, reads the application with the letter, records the
    interview and selects the learner."""
    sign_in(page, world.base, EMPLOYER)
    menu(page, world.base, "/espace-employeur")
    received = page.locator("tbody tr", has=page.locator(
        f"a[href='/espace-employeur/candidatures/{case}']"))  # fmt: skip
    assert "Léa Fabre" in received.inner_text()
    shot(page, f"{tag}-employeur-candidatures")
    received.locator("a").click()
    page.wait_for_load_state()
    assert "je souhaite travailler en Lozère" in page.inner_text("main")
    with page.expect_download() as download:
        page.click("main a[href^='/documents/']:has-text('Télécharger')")
    assert Path(download.value.path()).read_bytes() == pdf("Lea Fabre - curriculum vitae")
    page.fill("#interview_date", TODAY)
    submit(page, "form[action$='/entretien']")
    assert "Entretien enregistré." in page.inner_text("main")
    shot(page, f"{tag}-employeur-candidature")
    submit(page, "form[action$='/decision']:has(input[value=select])")
    assert "Apprenant retenu." in page.inner_text("main")
    assert "Retenu par l'employeur" in page.inner_text("main")


def agent_takes_the_case_and_issues_the_contract(
    world: World, page: Page, case: str, tag: str
) -> None:
    """The agent finds the selection without contract in « À traiter », takes the case
    (assigned to themselves, so that the learner's messages reach them) and issues the
    contract."""
    sign_in(page, world.base, AGENT)
    menu(page, world.base, "/a-traiter")
    row = page.locator("tbody tr", has=page.locator(f"a[href='/dossiers/{case}']"))
    assert "Contrat à émettre" in row.inner_text()
    shot(page, f"{tag}-agent-a-traiter")
    tick(row.locator("input[name=dossiers]"))
    page.select_option("#bulk-action", "assign")
    submit(page, "form[action='/a-traiter/lot']")
    assert "Camille Agent" in page.locator("tbody tr", has=page.locator(
        f"a[href='/dossiers/{case}']")).inner_text()  # fmt: skip
    page.click(f"a[href='/dossiers/{case}']")
    page.wait_for_load_state()
    page.select_option("#contract-tier", "2x150")
    tick(page.locator("#contract-pdf"))
    submit(page, "form[action$='/contrat']")
    assert "Contrat" in status_text(page)


def agent_writes_to_the_learner(world: World, page: Page, case: str) -> None:
    page.goto(f"{world.base}/dossiers/{case}")
    page.select_option("#message-thread", "learner")
    page.fill("#message-body", "Bonjour, votre contrat est prêt : merci de nous envoyer votre RIB.")
    submit(page, "form[action$='/messages']")
    assert "Message envoyé." in status_text(page)


def learner_reads_the_message_and_answers(world: World, page: Page, case: str) -> None:
    """The e-mail says a message waits, with a link to the learner's case (never the text);
    the learner follows it and answers with their RIB as a PDF, which notifies the agent by
    e-mail."""
    before = len(world.smtp.messages)
    world.send_outbox()
    notice = world.mail_to(LEARNER, "Nouveau message", after=before)
    assert "votre RIB" not in text_of(notice)
    page.goto(world.link_in(notice, f"/mon-espace/dossiers/{case}"))
    page.wait_for_load_state()
    assert "merci de nous envoyer votre RIB" in page.inner_text("main")
    page.fill("#message-body", "Bonjour, voici mon RIB.")
    page.set_input_files("#message-file", files=[{
        "name": "rib-lea-fabre.pdf", "mimeType": "application/pdf",
        "buffer": pdf(RIB)}])  # fmt: skip
    submit(page, "form[action$='/messages']")
    assert "voici mon RIB" in page.inner_text("main")
    before = len(world.smtp.messages)
    world.send_outbox()
    told = world.mail_to(AGENT, "Nouveau message", after=before)
    assert world.link_in(told, f"/dossiers/{case}")


def agent_sees_the_answer(world: World, page: Page, case: str, tag: str) -> None:
    page.goto(f"{world.base}/dossiers/{case}")
    thread = page.inner_text("section[aria-labelledby=thread-learner]")
    assert "voici mon RIB" in thread and "Pièce jointe" in thread
    with page.expect_download() as download:
        page.click("section[aria-labelledby=thread-learner] a[href^='/documents/']")
    assert Path(download.value.path()).read_bytes() == pdf(RIB)
    page.evaluate("document.getElementById('messages').scrollIntoView()")
    shot(page, f"{tag}-agent-fil", full_page=False)
    shot(page, f"{tag}-agent-dossier")


def parties_sign_electronically(world: World, pages: dict[str, Page], case: str, tag: str) -> None:
    """Each party signs in turn on its signing page — the learner and the Région's signatory
    from the link e-mailed to them, the employer from its space — with the code e-mailed to
    them; the last signature seals the contract and signs the case."""
    mark = len(world.smtp.messages)
    # The agent sends the contract to signature from the case page: the first invitation
    # leaves at once.
    agent = pages["agent"]
    agent.goto(f"{world.base}/dossiers/{case}")
    submit(agent, "form[action$='/signature-electronique']")
    assert "Contrat envoyé à la signature électronique" in status_text(agent)
    for party, email in (("learner", LEARNER), ("employer", EMPLOYER), ("region", SIGNATORY)):
        world.send_outbox()  # sends nothing twice: the signature's e-mails may have left already
        invitation = world.mail_to(email, "à signer", after=mark)
        page = pages[party]
        if party == "employer":
            page.goto(f"{world.base}/espace-employeur/candidatures/{case}")
            page.click("a[href*='/signature/']")
        else:
            page.goto(world.link_in(invitation, "/signature/"))
        page.wait_for_load_state()
        before = len(world.smtp.messages)
        submit(page, "form[action$='/code']")
        code = re.search(r"\b(\d{6})\b", text_of(world.mail_to(email, "code", after=before)))
        assert code, "no code e-mailed"
        tick(page.locator("input[name=consentement]"))
        page.fill("#code", code.group(1))
        if party == "learner":
            shot(page, f"{tag}-apprenant-signature")
        mark = len(world.smtp.messages)  # the next party's invitation comes after
        submit(page, "form[action$='/signer']")
        assert "signé" in page.inner_text("main"), page.inner_text("main")
    deadline = time.monotonic() + 120
    while json.loads(world.run("case", "show", case, "--json"))["state"] != "contracted":
        assert time.monotonic() < deadline, "the contract was not sealed"
        time.sleep(0.5)


def institute_starts_the_training(world: World, page: Page, case: str, tag: str) -> None:
    """The institute, in its own space, records the training start of its learner."""
    sign_in(page, world.base, INSTITUTE)
    menu(page, world.base, "/espace-institut")
    shot(page, f"{tag}-institut-espace")
    page.click(f"a[href='/espace-institut/dossiers/{case}']")
    page.wait_for_load_state()
    page.fill("#on", TRAINING_START)
    submit(page, "form[action$='/debut-formation']")
    assert "Début de formation enregistré" in page.inner_text("main")
    assert "En formation" in page.inner_text("main")


def nightly_pays(world: World) -> None:
    night = json.loads(world.run("nightly", "--as-of", NIGHT, "--json",
                                 env={"FIDELIS_TODAY": NIGHT}))  # fmt: skip
    assert night, night


def learner_sees_the_payments(world: World, page: Page, case: str, tag: str) -> None:
    page.goto(f"{world.base}/mon-espace")
    # Signing withdrew the learner's other application (SPEC §3: one contract per campaign).
    other = page.locator("tbody tr", has_text="EHPAD Les Mimosas").text_content() or ""
    assert "Retiré" in other, other  # the text, not its look (a badge shows it in capitals)
    page.click(f"a[href='/mon-espace/dossiers/{case}']")
    page.wait_for_load_state()
    rows = [
        r.inner_text().replace("\xa0", " ")
        for r in page.locator("table:has(th:text-is('Versée par')) tbody tr").all()
    ]
    # September from the training start (prorated 28/30 days), then a whole October, each
    # month's 2 × 150 € shared by the employer and the Région.
    assert [(r.split("\t")[0], r.split("\t")[2]) for r in rows] == [
        ("septembre 2029", "140,00 €"), ("septembre 2029", "140,00 €"),
        ("octobre 2029", "150,00 €"), ("octobre 2029", "150,00 €"),
    ], rows  # fmt: skip
    fits_the_window(page)
    shot(page, f"{tag}-apprenant-paiements")


@pytest.mark.parametrize("learner_device", ["telephone", "ordinateur"])
def test_a_campaign_walks_through_the_browser(
    world: World, browser: Browser, learner_device: str
) -> None:
    tag = learner_device
    learner = _context(browser, PHONE if tag == "telephone" else DESKTOP).new_page()
    employer = _context(browser, DESKTOP).new_page()
    agent = _context(browser, DESKTOP).new_page()
    institute = _context(browser, DESKTOP).new_page()
    signatory = _context(browser, DESKTOP).new_page()  # the Région's signatory, no account

    learner_opens_the_invitation(world, learner, tag)
    cases = learner_applies_to_two_employers(world, learner, tag)
    case = next(c for c in cases if "Genêts" in learner.inner_text(f"tr:has(a[href$='/{c}'])"))
    employer_interviews_and_selects(world, employer, case, tag)
    agent_takes_the_case_and_issues_the_contract(world, agent, case, tag)
    agent_writes_to_the_learner(world, agent, case)
    learner_reads_the_message_and_answers(world, learner, case)
    agent_sees_the_answer(world, agent, case, tag)
    parties_sign_electronically(
        world,
        {"learner": learner, "employer": employer, "region": signatory, "agent": agent},
        case,
        tag,
    )
    institute_starts_the_training(world, institute, case, tag)
    nightly_pays(world)
    learner_sees_the_payments(world, learner, case, tag)
