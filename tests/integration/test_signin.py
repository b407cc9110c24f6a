"""Sign-in as a public body's security officer expects (issue 14, ANSSI/CNIL), through the test
client and the API, on SQLite and PostgreSQL: progressive delay then lockout per account and per
address, a password policy, server-side sessions revoked at logout, after an idle time and an
absolute lifetime, disabled accounts and revoked tokens refused, security headers on every
response, the same 404 for a foreign case as for a missing one, tenant-scoped counts, and the
accounts' administration page.

The clock is injected (`create_app(clock=…)`): no test waits for real time."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.conftest import World
from tests.integration.test_case_service import D, signed_case
from workflow import accounts, cases
from workflow.errors import InvalidInput
from workflow.models import Offer, OutboxMessage, User
from workflow.signin import SignInPolicy
from workflow.web import create_app

PASSWORD = "correct horse battery"
NEW_PASSWORD = "une phrase de passe toute neuve"
LOCKED = "Trop de tentatives de connexion : réessayez dans 15 minutes."


class FakeClock:
    """The application's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Site:
    w: World
    client: TestClient
    tokens: dict[str, str]
    clock: FakeClock
    url: str

    def other_client(self, address: str) -> TestClient:
        """A browser on another address, on the same application."""
        return TestClient(self.client.app, client=(address, 4242))


def make_site(world: World, db_url: str, policy: SignInPolicy | None = None) -> Iterator[Site]:
    w = world
    with w.uow() as uow:
        employer_of = {o.id: o.employer_id for o in uow.session.scalars(sa.select(Offer))}
    tokens = {}
    for role, extra in (
        ("region", {}),
        ("admin", {}),
        ("employer", {"employer_id": employer_of[w.offers[0]]}),
        ("other_employer", {"employer_id": employer_of[w.offers[1]]}),
    ):
        _, tokens[role] = accounts.add_user(
            w.uow(), email=f"{role}@exemple.fr", name=role.capitalize(),
            role="employer" if "employer" in role else role, password=PASSWORD, **extra,
        )  # fmt: skip
    clock = FakeClock()
    app = create_app(db_url, secret_key="test", clock=clock, policy=policy)
    with TestClient(app) as client:
        yield Site(w, client, tokens, clock, db_url)


@pytest.fixture
def site(world: World, db_url: str) -> Iterator[Site]:
    yield from make_site(world, db_url)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, html
    return found[1]


def attempt(client: TestClient, email: str, password: str) -> tuple[int, str]:
    page = client.get("/connexion")
    answer = client.post(
        "/connexion",
        data={"email": email, "password": password, "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    return answer.status_code, answer.text


def login(client: TestClient, who: str, password: str = PASSWORD) -> None:
    status, text = attempt(client, f"{who}@exemple.fr", password)
    assert status == 303, text


def signed_in(client: TestClient) -> bool:
    answer = client.get("/", follow_redirects=False)
    assert answer.status_code in (200, 303), answer.text
    return answer.status_code == 200


def user_id(site: Site, who: str) -> int:
    with site.w.uow() as uow:
        found = uow.session.scalar(sa.select(User.id).where(User.email == f"{who}@exemple.fr"))
    assert found is not None
    return found


# -- throttling -------------------------------------------------------------------------------


def test_an_account_is_slowed_then_locked_even_for_the_right_password(site: Site) -> None:
    client, clock = site.client, site.clock
    for _ in range(3):  # the first mistakes cost nothing
        assert attempt(client, "region@exemple.fr", "mauvais")[0] == 401
    # Then each mistake makes the next attempt wait longer: refused, whatever the password.
    for wait in (2, 4, 8, 16, 32, 60):
        assert attempt(client, "region@exemple.fr", "mauvais")[0] == 401
        status, text = attempt(client, "region@exemple.fr", PASSWORD)
        assert status == 429 and f"réessayez dans {wait} secondes" in text, text
        clock.advance(seconds=wait)
    # The tenth mistake locks the account for a quarter of an hour.
    assert attempt(client, "region@exemple.fr", "mauvais")[0] == 401
    status, text = attempt(client, "region@exemple.fr", PASSWORD)
    assert status == 429 and LOCKED in text
    clock.advance(minutes=14)
    assert attempt(client, "region@exemple.fr", PASSWORD)[0] == 429
    assert not signed_in(client)
    clock.advance(minutes=1)
    login(client, "region")
    assert signed_in(client)
    # A successful sign-in resets the account's counter: three free mistakes again (from
    # another address: this one's ten failures still count against it).
    elsewhere = site.other_client("198.51.100.7")
    for _ in range(4):
        assert attempt(elsewhere, "region@exemple.fr", "mauvais")[0] == 401
    status, text = attempt(elsewhere, "region@exemple.fr", PASSWORD)
    assert status == 429 and "réessayez dans 2 secondes" in text
    # …and this address, at its tenth failure, now waits after each new one.
    assert attempt(client, "admin@exemple.fr", "mauvais")[0] == 401
    assert attempt(client, "admin@exemple.fr", PASSWORD)[0] == 429


def test_a_locked_account_is_locked_from_every_address_and_through_the_api(site: Site) -> None:
    for _ in range(10):
        attempt(site.client, "employer@exemple.fr", "mauvais")
        site.clock.advance(seconds=61)
    elsewhere = site.other_client("198.51.100.7")
    status, text = attempt(elsewhere, "employer@exemple.fr", PASSWORD)
    assert status == 429 and "réessayez dans" in text
    # Another account from the first address is not locked by this one's failures.
    login(site.client, "region")


def test_unknown_accounts_are_throttled_like_known_ones(site: Site) -> None:
    for n in range(10):
        site.clock.advance(seconds=61 if n else 0)  # past each delay
        assert attempt(site.client, "personne@exemple.fr", "mauvais")[0] == 401
    status, text = attempt(site.client, "personne@exemple.fr", "mauvais")
    assert status == 429 and LOCKED in text


def test_one_address_trying_many_accounts_is_locked(world: World, db_url: str) -> None:
    policy = SignInPolicy(address_free_attempts=4, address_lock_after=8)
    for site in make_site(world, db_url, policy):
        for n in range(8):  # password spraying: one try per account, one address
            site.clock.advance(seconds=61 if n else 0)  # past each delay
            assert attempt(site.client, f"cible{n}@exemple.fr", "Printemps2026")[0] == 401
        status, text = attempt(site.client, "region@exemple.fr", PASSWORD)
        assert status == 429 and LOCKED in text
        # The same account from another address is let in: only the address is locked.
        elsewhere = site.other_client("198.51.100.7")
        login(elsewhere, "region")
        # Signing in on a good account does not clear the address's record.
        status, _ = attempt(site.client, "admin@exemple.fr", PASSWORD)
        assert status == 429


def test_parallel_guesses_cannot_slip_past_the_count(site: Site) -> None:
    """Twelve wrong passwords at once, the clock still: each attempt is counted before its
    password is checked, under a row lock, so exactly the three free ones and the one that
    starts the delay get an answer; the others are refused unchecked."""
    browsers = [site.other_client(f"198.51.100.{n}") for n in range(12)]
    tokens = [csrf_of(b.get("/connexion").text) for b in browsers]

    def guess(n: int) -> int:
        data = {"email": "region@exemple.fr", "password": f"mauvais{n}", "csrf": tokens[n]}
        return browsers[n].post("/connexion", data=data).status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = sorted(pool.map(guess, range(12)))
    assert statuses == [401] * 4 + [429] * 8


def test_an_overlong_password_is_refused_without_being_printed_back(site: Site) -> None:
    status, text = attempt(site.client, "region@exemple.fr", "secret-" * 300)
    assert status == 401 and "Adresse ou mot de passe incorrect." in text
    assert "secret-secret" not in text


def test_the_policy_is_read_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIDELIS_SIGNIN_LOCK_AFTER", "5")
    monkeypatch.setenv("FIDELIS_SESSION_IDLE_MINUTES", "10")
    policy = SignInPolicy.from_settings()
    assert policy.lock_after == 5 and policy.idle == timedelta(minutes=10)
    assert SignInPolicy().lock_after == 10 and SignInPolicy().idle == timedelta(minutes=30)


# -- passwords --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "words"),
    [
        ("aaaaaaaaaa", "au moins 12 caractères"),
        ("aaaaaaaaaaaaaaaa", "répétitions"),
        ("azertyuiop123", "trop facile à deviner"),
        ("motdepasse2026", "trop facile à deviner"),
        ("regioncorrecte", "votre nom ou votre adresse"),
        ("x" * 200, "au plus 128 caractères"),
    ],
)
def test_a_weak_password_is_refused_in_french(world: World, password: str, words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        accounts.add_user(world.uow(), email="regioncorrecte@exemple.fr", name="Régine Correcte",
                          role="region", password=password)  # fmt: skip
    with world.uow() as uow:
        assert uow.session.scalar(sa.select(sa.func.count(User.id))) == 0


# -- sessions ---------------------------------------------------------------------------------


def test_logging_out_revokes_the_session_even_if_its_cookie_is_replayed(site: Site) -> None:
    client = site.client
    login(client, "region")
    stolen = client.cookies.get("fidelis_session")
    assert stolen and signed_in(client)
    page = client.get("/")
    assert client.post("/deconnexion", data={"csrf": csrf_of(page.text)},
                       follow_redirects=False).status_code == 303  # fmt: skip
    assert not signed_in(client)
    replay = TestClient(client.app, cookies={"fidelis_session": stolen})
    assert not signed_in(replay)


def test_a_session_ends_after_idle_time_and_after_its_lifetime(site: Site) -> None:
    client, clock = site.client, site.clock
    login(client, "region")
    clock.advance(minutes=29)
    assert signed_in(client)  # activity keeps it alive
    clock.advance(minutes=29)
    assert signed_in(client)
    clock.advance(minutes=31)
    assert not signed_in(client)
    # Even busy, a session lasts at most twelve hours.
    login(client, "region")
    for _ in range(24):
        clock.advance(minutes=29)
        assert signed_in(client)
    clock.advance(minutes=29)
    assert not signed_in(client)


def test_the_session_cookie_is_secure_httponly_strict_and_dies_with_the_browser(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FIDELIS_INSECURE_COOKIES")
    with TestClient(create_app(site.url, secret_key="test"), base_url="https://testserver") as tls:
        page = tls.get("/connexion")
        cookie = page.headers["set-cookie"].lower()
        assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie
        assert "max-age" not in cookie and "expires" not in cookie
        assert page.headers["strict-transport-security"].startswith("max-age=")
        answer = tls.post("/connexion", data={"email": "region@exemple.fr", "password": PASSWORD,
                                              "csrf": csrf_of(page.text)}, follow_redirects=False)  # fmt: skip
        assert answer.status_code == 303 and "secure" in answer.headers["set-cookie"].lower()
        assert tls.get("/").status_code == 200  # the browser sends it back over https
    # The development setting, the tests' default, is the only way to drop `Secure`.
    monkeypatch.setenv("FIDELIS_INSECURE_COOKIES", "1")
    with TestClient(create_app(site.url, secret_key="test")) as plain:
        page = plain.get("/connexion")
        assert "secure" not in page.headers["set-cookie"].lower()
        assert "strict-transport-security" not in page.headers


# -- accounts: disable, reset, revoke ----------------------------------------------------------


def test_a_disabled_account_is_refused_and_its_sessions_and_token_stop(site: Site) -> None:
    client = site.client
    login(client, "employer")
    bearer = {"Authorization": f"Bearer {site.tokens['employer']}"}
    assert client.get("/api/v1/cases", headers=bearer).status_code == 200
    accounts.disable(site.w.uow(), "employer@exemple.fr")
    assert not signed_in(client)
    assert client.get("/api/v1/cases", headers=bearer).status_code == 401
    status, text = attempt(client, "employer@exemple.fr", PASSWORD)
    assert status == 403 and "Ce compte est désactivé" in text
    accounts.enable(site.w.uow(), "employer@exemple.fr")
    login(client, "employer")
    assert client.get("/api/v1/cases", headers=bearer).status_code == 200


def test_a_reset_password_revokes_the_sessions_and_the_old_password(site: Site) -> None:
    client = site.client
    login(client, "region")
    with pytest.raises(InvalidInput, match="au moins 12 caractères"):
        accounts.reset_password(site.w.uow(), "region@exemple.fr", "aaaaaaaaaa")
    assert signed_in(client)  # a refused reset changes nothing
    accounts.reset_password(site.w.uow(), "region@exemple.fr", NEW_PASSWORD)
    assert not signed_in(client)
    assert attempt(client, "region@exemple.fr", PASSWORD)[0] == 401
    login(client, "region", NEW_PASSWORD)


def test_a_revoked_token_is_refused_and_a_new_one_works(site: Site) -> None:
    client = site.client
    old = {"Authorization": f"Bearer {site.tokens['region']}"}
    assert client.get("/api/v1/cases", headers=old).status_code == 200
    assert accounts.revoke_token(site.w.uow(), "region@exemple.fr") == ("region@exemple.fr", None)
    answer = client.get("/api/v1/cases", headers=old)
    assert answer.status_code == 401 and answer.json() == {
        "detail": "Jeton d'API absent ou invalide."
    }
    _, fresh = accounts.revoke_token(site.w.uow(), "region@exemple.fr", new=True)
    assert fresh is not None
    assert (
        client.get("/api/v1/cases", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200
    )
    assert client.get("/api/v1/cases", headers=old).status_code == 401


def test_unknown_account_names_the_address(world: World) -> None:
    with pytest.raises(InvalidInput, match=r"Aucun compte pour personne@exemple\.fr"):
        accounts.disable(world.uow(), "personne@exemple.fr")


# -- headers ----------------------------------------------------------------------------------


def test_security_headers_on_pages_api_static_files_errors_and_redirects(site: Site) -> None:
    client = site.client
    answers = [
        client.get("/connexion"),
        client.get("/", follow_redirects=False),
        client.get("/api/v1/cases"),
        client.get("/static/htmx-2.0.11.min.js"),
        client.get("/static/fidelis.css"),
        client.get("/nulle-part"),
    ]
    login(client, "region")
    answers += [client.get("/"), client.get("/dossiers"), client.get("/schema")]
    for answer in answers:
        h = answer.headers
        policy = h.get("content-security-policy", "")
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy, answer.url
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert h.get("x-frame-options") == "DENY"
        assert h.get("x-content-type-options") == "nosniff"
        assert h.get("referrer-policy") == "same-origin"
    assert answers[3].status_code == 200 and answers[4].status_code == 200


def test_no_page_has_inline_script_or_style_that_the_policy_would_block(site: Site) -> None:
    login(site.client, "region")
    case = signed_case(site.w)
    for path in ("/", "/dossiers", f"/dossiers/{case}", "/schema", "/paiements", "/imports",
                 "/observatoire", "/previsions", "/traitements", "/administration/comptes"):  # fmt: skip
        html = site.client.get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path
        assert "<style" not in html and " style=" not in html, path
        assert not re.search(r"\son[a-z]+=", html), path


# -- what a user may not see -------------------------------------------------------------------


def test_a_foreign_case_is_the_same_404_as_a_missing_one(site: Site) -> None:
    w, client = site.w, site.client
    mine = cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
    theirs = signed_case(w, learner=1, offer=1)
    missing = theirs + 1000
    with w.uow() as uow:
        doc = uow.session.execute(sa.text("SELECT id FROM documents WHERE case_id = :c"),
                                  {"c": theirs}).scalar()  # fmt: skip
    assert doc is not None
    login(client, "employer")
    assert client.get(f"/dossiers/{mine}").status_code == 200

    def same(a: object, b: object) -> None:
        assert a == b

    page_theirs, page_missing = (
        client.get(f"/dossiers/{theirs}"),
        client.get(f"/dossiers/{missing}"),
    )
    assert page_theirs.status_code == page_missing.status_code == 404
    assert f"Dossier introuvable : n° {theirs}." in page_theirs.text
    same(
        page_theirs.text.replace(f"n° {theirs}", "n° N"),
        page_missing.text.replace(f"n° {missing}", "n° N"),
    )
    csrf = csrf_of(client.get(f"/dossiers/{mine}").text)
    for url in ("/dossiers/{}/actions/interview", "/dossiers/{}/attestation"):
        a = client.post(url.format(theirs), data={"csrf": csrf})
        b = client.post(url.format(missing), data={"csrf": csrf})
        assert a.status_code == b.status_code == 404, url
        same(a.text.replace(f"n° {theirs}", "n° N"), b.text.replace(f"n° {missing}", "n° N"))
    bearer = {"Authorization": f"Bearer {site.tokens['employer']}"}
    for method, url, body in (("GET", "/api/v1/cases/{}", None),
                              ("POST", "/api/v1/cases/{}/fire", {"trigger": "interview"})):  # fmt: skip
        a = client.request(method, url.format(theirs), headers=bearer, json=body)
        b = client.request(method, url.format(missing), headers=bearer, json=body)
        assert a.status_code == b.status_code == 404, url
        same(
            a.json()["detail"].replace(f"n° {theirs}", "n° N"),
            b.json()["detail"].replace(f"n° {missing}", "n° N"),
        )
    a, b = client.get(f"/documents/{doc}"), client.get(f"/documents/{doc + 1000}")
    assert a.status_code == b.status_code == 404 and "Document introuvable" in a.text
    same(a.text.replace(f"n° {doc}", "n° N"), b.text.replace(f"n° {doc + 1000}", "n° N"))


def test_the_dashboard_counts_only_the_pending_emails_of_visible_cases(site: Site) -> None:
    w, client = site.w, site.client
    mine = cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
    theirs = cases.open_case(w.uow(), w.offers[1], w.learners[1], on=D("2026-05-30"))
    with w.uow() as uow:
        for n, case in enumerate((mine, theirs, theirs, theirs)):
            uow.session.add(OutboxMessage(dedup_key=f"test-{n}", case_id=case, kind="completion",
                                          due_date=date(2026, 6, 1), recipient="x@exemple.fr"))  # fmt: skip
        uow.commit()
    login(client, "employer")
    assert "Relances en attente d'envoi : <strong>1</strong>" in client.get("/").text
    client.cookies.clear()
    login(client, "region")
    assert "Relances en attente d'envoi : <strong>4</strong>" in client.get("/").text


# -- the administration page -------------------------------------------------------------------


def test_the_admin_page_disables_enables_resets_and_revokes(site: Site) -> None:
    client, other = site.client, site.other_client("198.51.100.9")
    login(other, "employer")
    login(client, "region")
    assert client.get("/administration/comptes").status_code == 403
    client.cookies.clear()
    login(client, "admin")
    page = client.get("/administration/comptes")
    assert page.status_code == 200 and "employer@exemple.fr" in page.text and "Actif" in page.text
    target = user_id(site, "employer")
    base = f"/administration/comptes/{target}"
    assert client.post(f"{base}/desactivation", data={}).status_code == 403  # no CSRF token
    assert signed_in(other)
    done = client.post(f"{base}/desactivation", data={"csrf": csrf_of(page.text)})
    assert done.status_code == 200 and "Désactivé" in done.text
    assert not signed_in(other)
    done = client.post(f"{base}/reactivation", data={"csrf": csrf_of(page.text)})
    assert done.status_code == 200
    weak = client.post(
        f"{base}/mot-de-passe", data={"csrf": csrf_of(page.text), "password": "aaaaaaaaaa"}
    )
    assert weak.status_code == 400 and "au moins 12 caractères" in weak.text
    login(other, "employer")
    reset = client.post(
        f"{base}/mot-de-passe", data={"csrf": csrf_of(page.text), "password": NEW_PASSWORD}
    )
    assert reset.status_code == 200 and "Mot de passe réinitialisé" in reset.text
    assert not signed_in(other)
    login(other, "employer", NEW_PASSWORD)
    bearer = {"Authorization": f"Bearer {site.tokens['employer']}"}
    assert client.post(f"{base}/jeton", data={"csrf": csrf_of(page.text)}).status_code == 200
    assert client.get("/api/v1/cases", headers=bearer).status_code == 401
    # An administrator cannot lock themselves out.
    own = client.post(f"/administration/comptes/{user_id(site, 'admin')}/desactivation",
                      data={"csrf": csrf_of(page.text)})  # fmt: skip
    assert own.status_code == 400 and "votre propre compte" in own.text
    assert signed_in(client)
