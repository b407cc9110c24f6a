"""Every page of every role, checked in Debian's Chromium (issue 15): axe-core (vendored in
tests/e2e/assets, all its rules, every impact) finds no violation, and no page scrolls sideways
on a 1366-pixel screen nor on a phone (390 × 844), nor has a table's caption under its rows.

The pages are not listed here: for each demo account the test signs in and crawls, breadth first,
the same-origin links it is shown, from its home page — so a page another engineer adds is
checked as soon as a link leads to it. URLs are grouped by pattern (digits → {n}, the query's
parameter names) and at most two of each pattern are visited. Pages reached without an account
are added by hand: sign-in, the one-time link, an electronic-signature page; and the 404 and 403
pages. A failure names the role, the page, the rule and the elements at fault."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Error, Page

from tests.e2e.test_web_browser import FIDELIS, PASSWORD, browser, start_server
from tests.sealcerts import make_seal

__all__ = ["browser"]  # the module's fixture, shared with the other browser tests

AXE = Path(__file__).parent / "assets" / "axe-4.14.1.min.js"
PER_PATTERN = 2
# Links never followed: signing out, files, the API and its documentation.
SKIPPED = re.compile(r"^/(deconnexion|api/|docs|documents/)|\.(csv|xlsx|png|pdf|docx|xml|zip)$")
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
# Every rule axe has, the experimental ones and best practices included.
RUN_AXE = """async () => {
  const rules = Object.fromEntries(axe.getRules().map(r => [r.ruleId, {enabled: true}]));
  const result = await axe.run(document, {rules, resultTypes: ["violations"]});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.slice(0, 5).map(n => n.target.join(" "))}));
}"""
# Where the page leads: its links, and its search forms sent as they stand and with their empty
# fields set to their placeholder, the example they show (a filter's or a calculation's results).
LINKS = """() => [...document.querySelectorAll("a[href]")].map(a => a.href).concat(
  [...document.querySelectorAll("form")].filter(f => f.method === "get").flatMap(f => {
    const sent = new URLSearchParams(new FormData(f));
    const example = new URLSearchParams(sent);
    for (const field of f.querySelectorAll("input[name][placeholder]"))
      if (!field.value) example.set(field.name, field.placeholder);
    return [sent, example].map(query => {
      const url = new URL(f.action);
      url.search = query.toString();
      return url.href;
    });
  }))"""
SCROLLS = "() => document.documentElement.scrollWidth > document.documentElement.clientWidth"
# The captions a table's first row covers (a caption the DSFR places out of the flow, misplaced).
# The DSFR moves the rows down on the frames after a resize: the covered ones still covered 60
# frames on.
COVERED = """async () => {
  const covered = () => [...document.querySelectorAll("table")].filter(t => t.caption &&
    t.rows.length && t.caption.getBoundingClientRect().bottom > t.rows[0].getBoundingClientRect().top + 1);
  for (let frame = 0; frame < 60 && covered().length; frame++)
    await new Promise(resolve => requestAnimationFrame(resolve));
  return covered().map(t => t.caption.textContent.trim().slice(0, 60));
}"""


@dataclass
class Site:
    base: str
    accounts: dict[str, str]
    public: list[str] = field(default_factory=list)  # pages opened without an account


def _sql(db: str, query: str) -> Any:
    with sqlite3.connect(db) as con:
        row = con.execute(query).fetchone()
    assert row is not None, query
    return row[0]


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([FIDELIS, *args], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"fidelis {' '.join(args)} : {done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The demo database, a learner's account if the demo has none, a one-time sign-in link, a
    contract sent to electronic signature, and `fidelis serve` on it all."""
    work = tmp_path_factory.mktemp("a11y")
    seal = make_seal(work / "seal")
    env = {k: v for k, v in os.environ.items() if k != "FIDELIS_INSECURE_COOKIES"}
    env |= {"FIDELIS_DB": str(work / "demo.db"), "FIDELIS_DOCUMENTS_DIR": str(work / "documents"),
            "FIDELIS_SECRET_KEY": "a11y-test", "FIDELIS_SEAL_PKCS12": str(seal.pkcs12),
            "FIDELIS_SEAL_PASSPHRASE": seal.passphrase,
            "FIDELIS_SEAL_TRUST_ROOTS": str(seal.ca_pem),
            "FIDELIS_ESIGN_REGION_EMAIL": "signature@region.exemple.fr",
            "FIDELIS_ESIGN_REGION_NAME": "Claire Élue"}  # fmt: skip
    db = env["FIDELIS_DB"]
    accounts = {a["role"]: a["email"] for a in json.loads(_cli(env, "demo", "--json"))["accounts"]}
    if "learner" not in accounts:
        learner = _sql(db, "SELECT learner_id FROM cases ORDER BY id LIMIT 1")
        _cli(env, "user", "add", "--email", "apprenant.a11y@exemple.fr", "--role", "learner",
             "--learner", str(learner), "--password", PASSWORD)  # fmt: skip
        accounts["learner"] = "apprenant.a11y@exemple.fr"
    employer = _sql(db, "SELECT id FROM employers ORDER BY id LIMIT 1")
    invited = json.loads(_cli(env, "user", "add", "--email", "invite.a11y@exemple.fr", "--role",
                              "employer", "--employer", str(employer), "--json"))  # fmt: skip
    case = _sql(db, "SELECT id FROM cases WHERE state = 'selected' ORDER BY id LIMIT 1")
    _cli(env, "contract", "generate", str(case), "--tier", "2x150", "--on", "2028-04-20")
    _cli(env, "contract", "esign", "start", str(case))
    request = _sql(db, "SELECT MIN(id) FROM esign_requests")
    link = subprocess.run(  # the link the invitation e-mail carries, made with the server's key
        [sys.executable, "-c", "import sys; from workflow import esign; "
         "print(esign.signing_link(int(sys.argv[1])))", str(request)],
        env=env, capture_output=True, text=True, check=True).stdout  # fmt: skip
    with start_server(env, work) as base:
        yield Site(base, accounts, [path_of(invited["invitation"]), path_of(link.strip()),
                                    "/connexion"])  # fmt: skip


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def pattern(path: str) -> str:
    """A page's kind: /dossiers/12 and /dossiers/40 are one; so are /dossiers?etat=listed and
    /dossiers?etat=serving."""
    parts = urlsplit(path)
    keys = sorted({p.split("=")[0] for p in parts.query.split("&") if p})
    return re.sub(r"\d+", "{n}", parts.path) + ("?" + "&".join(keys) if keys else "")


def problems(page: Page, where: str) -> list[str]:
    """The axe violations of the page on screen, then whether it scrolls sideways."""
    found = [
        f"{where} : règle {v['id']} ({v['impact']}) — {v['help']} — {' | '.join(v['targets'])}"
        for v in page.evaluate(RUN_AXE)
    ]
    # A title is a short text: markup in it is a template's block left open (seen once).
    title = page.title()
    if not title or len(title) > 120 or "<" in title or "{%" in title:
        found.append(f"{where} : titre de la page invalide « {title[:80]} »")
    for name, size in (("1366 px", DESKTOP), ("téléphone 390 px", PHONE)):
        page.set_viewport_size(size)
        for caption in page.evaluate(COVERED):
            found.append(f"{where} : la légende « {caption} » chevauche son tableau ({name})")
        if page.evaluate(SCROLLS):
            width = page.evaluate("() => document.documentElement.scrollWidth")
            found.append(f"{where} : défilement horizontal sur {name} (largeur {width} px)")
    page.set_viewport_size(DESKTOP)
    return found


def visit(page: Page, base: str, path: str) -> bool:
    """Open a page; False when the link was a download after all."""
    try:
        page.goto(base + path)
    except Error as exc:
        if "Download is starting" in str(exc):
            return False
        raise
    page.wait_for_load_state("networkidle")
    return True


def crawl(page: Page, base: str, role: str) -> tuple[list[str], list[str]]:
    """The pages reached from the page on screen — the home page signing in led to — (at most
    PER_PATTERN of each kind) and their problems."""
    home = path_of(page.url)
    queue, seen, kinds = deque([home]), {home}, Counter([pattern(home)])
    visited: list[str] = []
    found: list[str] = []
    while queue:
        path = queue.popleft()
        if not visit(page, base, path):
            continue
        here = path_of(page.url)  # after any redirect (a learner's home page)
        visited.append(here)
        found += problems(page, f"[{role}] {here}")
        for href in page.evaluate(LINKS):
            parts = urlsplit(href)
            if f"{parts.scheme}://{parts.netloc}" != base:
                continue
            target = path_of(href)
            if target in seen or SKIPPED.search(parts.path):
                continue
            seen.add(target)
            if kinds[pattern(target)] < PER_PATTERN:
                kinds[pattern(target)] += 1
                queue.append(target)
    return visited, found


def sign_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/connexion")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    assert "/connexion" not in page.url, f"{email} ne peut pas se connecter"
    page.mouse.move(0, 0)  # no element of the next pages hovered (a colour in transition)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="fr-FR", viewport=DESKTOP)
    context.add_init_script(path=str(AXE))  # not through the page: the CSP would block it
    yield context.new_page()
    context.close()


@pytest.mark.parametrize("role", ["region", "admin", "employer", "institute", "learner"])
def test_every_page_of_a_role_is_accessible(site: Site, page: Page, role: str) -> None:
    sign_in(page, site.base, site.accounts[role])
    visited, found = crawl(page, site.base, role)
    assert len(visited) >= 2, f"[{role}] le parcours n'a trouvé aucun lien : {visited}"
    if role == "region":  # the error pages, with the menu of whoever is signed in
        for path in ("/page-qui-n-existe-pas", "/dossiers/999999"):
            assert page.goto(site.base + path).status == 404  # type: ignore[union-attr]
            found += problems(page, f"[{role}] {path} (404)")
    if role == "employer":
        assert page.goto(f"{site.base}/dettes").status == 403  # type: ignore[union-attr]
        found += problems(page, f"[{role}] /dettes (403)")
    assert found == [], "\n".join([f"{len(found)} problème(s) :", *found])


def test_the_pages_without_an_account_are_accessible(site: Site, page: Page) -> None:
    """Sign-in, the one-time link and the signing page of an invitation."""
    found: list[str] = []
    for path in site.public:
        response = page.goto(site.base + path)
        assert response is not None and response.status == 200, path
        page.wait_for_load_state("networkidle")
        found += problems(page, f"[sans compte] {pattern(path)}")
    assert found == [], "\n".join([f"{len(found)} problème(s) :", *found])
