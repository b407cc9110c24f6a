"""`fidelis demo`: a fresh SQLite database with real rural employers of Occitanie (real communes,
invented people) and a dozen learners taken through every path of SPEC §3, then a summary.

Everything is dated explicitly, so the demo tells the same story whatever day it runs; it
stops on DEMO_TODAY — its injected "today" (workflow.clock) — and records the payments fallen
due by then.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url

from workflow import cases, contracts, directory
from workflow.accounts import ROLE_LABELS
from workflow.clock import injected
from workflow.db import UnitOfWork, make_engine, session_factory, upgrade
from workflow.display import FILTERS, amount_fr
from workflow.errors import FidelisError
from workflow.iban import KEY_VARIABLE
from workflow.models import Case, OutboxMessage, Payment, Reimbursement, Setting
from workflow.settings import settings
from workflow.states import STATE_LABELS, State

SCHEME = "occitanie-fidelisation-as"
DEMO_TODAY = date(2028, 4, 15)
DEMO_MARKER = "demo"
# Who the demo's events are by, as a page shows it (never a code such as « demo »).
DEMO_ACTOR = "Agent de démonstration (Région)"
DEMO_PASSWORD = "fidelis-demo-2026"
# Published, hence worthless as a secret: for the demo's invented IBANs only, when no key is set.
DEMO_IBAN_KEY = "K1vxIs5byK7mEHlRpnzk_drAdAnbhjHIj04SkGvb5wA="


@dataclass(frozen=True)
class DemoEmployer:
    name: str
    siret: str
    insee: str
    sector: str


# Real rural communes of Occitanie (members of a communauté de communes); invented employers
# with valid SIRET check digits.
EMPLOYERS = (
    DemoEmployer("EHPAD Les Genêts", "73282932000074", "48095", "elderly"),
    DemoEmployer("SSIAD du Haut-Rouergue", "55210055400013", "12145", "home_care"),
    DemoEmployer("Foyer d'accueil médicalisé L'Estive", "44306184100047", "09225", "disability"),
    DemoEmployer("ADMR du Pays d'Armagnac", "38012986600071", "32107", "home_care"),
    DemoEmployer("EHPAD Le Quercy Blanc", "34250587200057", "46102", "elderly"),
    DemoEmployer("Résidence Les Baronnies", "51234567900017", "65059", "elderly"),
)
NON_RURAL_EMPLOYER = DemoEmployer("EHPAD Toulouse Centre", "81234567600017", "31555", "elderly")

IBANS = (
    "FR7630006000011234567890189",
    "FR7610107001011234567890129",
    "FR7630004000031234567890143",
    "FR7617569000500123456789019",
)


class Demo:
    """The demo's little world and helpers that keep the script below readable."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.factory = session_factory(self.engine)
        self.refusals: list[str] = []
        self.accounts: list[tuple[str, str]] = []

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.factory)

    def fire(self, case: int, trigger: str, on: date, actor: str = DEMO_ACTOR, **kw: Any) -> None:
        cases.fire(self.uow(), case, trigger, on=on, actor=actor, **kw)

    def walk(self, case: int, steps: list[tuple[str, date, dict[str, Any]]]) -> None:
        for trigger, on, kw in steps:
            if trigger == "contract":
                self.contract(case, on, **kw)
            else:
                self.fire(case, trigger, on, **kw)

    def contract(self, case: int, on: date, tier: str) -> None:
        """Issue the contract and collect the three signatures on the same day."""
        contracts.generate_contract(self.uow(), case, tier=tier, on=on, actor=DEMO_ACTOR)
        for party, name in (
            ("learner", "l'apprenant"),
            ("employer", "la direction de l'établissement"),
            ("region", "la vice-présidente de la Région"),
        ):
            contracts.sign_contract(
                self.uow(), case, party=party, on=on, name=name, actor=DEMO_ACTOR
            )

    def refused(self, label: str, action: Callable[[], object]) -> None:
        """Show a refusal, as the caseworker would see it."""
        try:
            action()
        except FidelisError as exc:
            self.refusals.append(f"{label} : {exc}")
        else:  # pragma: no cover - the demo's script is wrong if this happens
            raise AssertionError(f"{label} should have been refused")


def _prepare_database(url: str) -> None:
    """A fresh SQLite file; refuse to overwrite a database that the demo did not build."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or not parsed.database:
        raise FidelisError("La démo s'exécute sur un fichier SQLite (--db fichier.db).")
    path = Path(parsed.database)
    if path.exists():
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                tables = sa.inspect(conn).get_table_names()
                marker = (
                    conn.execute(
                        sa.select(Setting.value).where(Setting.key == DEMO_MARKER)
                    ).scalar()
                    if "settings" in tables
                    else None
                )
        finally:
            engine.dispose()
        if tables and marker is None:
            raise FidelisError(
                f"{path} contient déjà des données qui ne viennent pas de la démo : "
                "choisissez un autre fichier avec --db."
            )
        path.unlink()
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def _p(**kw: Any) -> dict[str, Any]:
    return kw


def build(url: str) -> Demo:
    _prepare_database(url)
    demo = Demo(url)
    upgrade(demo.engine)
    with demo.uow() as uow:
        uow.session.add(Setting(key=DEMO_MARKER, value=DEMO_TODAY.isoformat()))
        uow.commit()

    ifas_mende = directory.add_institute(
        demo.uow(), name="IFAS de Mende", commune="48095", schemes=[SCHEME]
    )
    ifas_rodez = directory.add_institute(
        demo.uow(), name="IFAS de Rodez", commune="12202", schemes=[SCHEME]
    )
    employers = [
        directory.add_employer(
            demo.uow(),
            name=e.name,
            siret=e.siret,
            commune=e.insee,
            sector=e.sector,
            recruitment_difficulty=True,
            email=f"direction{i}@exemple.fr",
        )
        for i, e in enumerate(EMPLOYERS, 1)
    ]
    urban = directory.add_employer(
        demo.uow(),
        name=NON_RURAL_EMPLOYER.name,
        siret=NON_RURAL_EMPLOYER.siret,
        commune=NON_RURAL_EMPLOYER.insee,
        sector=NON_RURAL_EMPLOYER.sector,
        recruitment_difficulty=True,
    )
    campaigns = {
        year: directory.open_campaign(demo.uow(), scheme_id=SCHEME, year=year)
        for year in (2024, 2026, 2027)
    }
    offers = {
        (year, i): directory.list_employer(
            demo.uow(), campaign_id=campaign, employer_id=emp, places=2 if i else 1
        )
        for year, campaign in campaigns.items()
        for i, emp in enumerate(employers)
    }
    try:
        directory.list_employer(
            demo.uow(), campaign_id=campaigns[2026], employer_id=urban, places=1
        )
    except FidelisError as exc:
        demo.refusals.append(f"offre refusée : {exc}")

    def learner(first: str, last: str, year: int, iban: int | None = 0, rodez: bool = False) -> int:
        start, end = {
            2024: (date(2024, 9, 2), date(2025, 6, 27)),
            2026: (date(2026, 9, 7), date(2027, 7, 2)),
            2027: (date(2027, 9, 6), date(2028, 6, 30)),
        }[year]
        return directory.add_learner(
            demo.uow(),
            first_name=first,
            last_name=last,
            birth_date=date(2002, 3, 14),
            email=f"{first.lower()}.{last.lower()}@exemple.fr",
            institute_id=ifas_rodez if rodez else ifas_mende,
            training_start=start,
            training_end=end,
            iban=None if iban is None else IBANS[iban % len(IBANS)],
            today=DEMO_TODAY,
        )

    def case(year: int, employer: int, learner_id: int, on: date) -> int:
        return cases.open_case(
            demo.uow(), offers[(year, employer)], learner_id, actor=DEMO_ACTOR, on=on
        )

    def to_selected(start: date) -> list[tuple[str, date, dict[str, Any]]]:
        interview = start + timedelta(days=7)
        return [
            ("submit", start, {}),
            ("interview", interview, _p(params={"interview_date": interview.isoformat()})),
            ("select", start + timedelta(days=10), {}),
        ]

    def signed(
        start: date, sign_on: date, tier: str = "2x150"
    ) -> list[tuple[str, date, dict[str, Any]]]:
        return [
            *to_selected(start),
            ("contract", sign_on - timedelta(days=5), {"tier": tier}),
            ("sign", sign_on, {}),
        ]

    # 1. Campaign 2024: a learner who serves two years; the nightly run closes the case the day
    #    after the commitment ends (2027-09-01) and issues the completion certificate.
    c = case(2024, 0, learner("Camille", "Roussel", 2024, 0), date(2024, 6, 3))
    demo.walk(
        c,
        [
            *signed(date(2024, 6, 3), date(2024, 7, 1)),
            ("start_training", date(2024, 9, 2), {}),
            ("start_service", date(2025, 9, 1), _p(params={"diploma_date": "2025-07-08"})),
        ],
    )

    # 2. SPEC §4's example: 2x150, training 2026-09-07 → 2027-07-02, service from 2027-09-01,
    #    resignation on 2028-03-16: 1 078.93 € to repay to each funder.
    spec_case = case(2026, 1, learner("Léa", "Fabre", 2026, 1), date(2026, 6, 1))
    demo.walk(
        spec_case,
        [
            *signed(date(2026, 6, 1), date(2026, 7, 6)),
            ("start_training", date(2026, 9, 7), {}),
            ("start_service", date(2027, 9, 1), _p(params={"diploma_date": "2027-07-09"})),
        ],
    )
    demo.fire(
        spec_case,
        "breach",
        date(2028, 3, 16),
        reason="Démission",
        params={"category": "resignation"},
    )

    # 3. Breach in training, exempted (medical inaptitude, decision referenced).
    c = case(2026, 2, learner("Inès", "Marty", 2026, 2), date(2026, 6, 2))
    demo.walk(
        c,
        [
            *signed(date(2026, 6, 2), date(2026, 7, 7), "2x200"),
            ("start_training", date(2026, 9, 7), {}),
        ],
    )
    demo.fire(
        c,
        "breach",
        date(2027, 1, 20),
        reason="Inaptitude médicale constatée",
        params={"category": "medical_inaptitude", "exemption": "Décision CP/2027-02/14"},
    )

    # 4. Breach in training without exemption: the training is abandoned, 100 % to repay.
    c = case(2026, 3, learner("Hugo", "Bonnet", 2026, 3), date(2026, 6, 2))
    demo.walk(
        c, [*signed(date(2026, 6, 2), date(2026, 7, 7)), ("start_training", date(2026, 9, 7), {})]
    )
    demo.fire(
        c,
        "breach",
        date(2026, 12, 1),
        reason="Abandon de formation",
        params={"category": "training_abandoned"},
    )

    # 5. Rejected after the interview.
    c = case(2026, 4, learner("Nathan", "Girard", 2026, 0, rodez=True), date(2026, 6, 3))
    demo.walk(
        c,
        [
            ("submit", date(2026, 6, 3), {}),
            ("interview", date(2026, 6, 12), _p(params={"interview_date": "2026-06-12"})),
            ("reject", date(2026, 6, 15), _p(reason="Projet professionnel hors secteur")),
        ],
    )

    # 6. Withdrawn by the learner after applying.
    c = case(2026, 5, learner("Chloé", "Mercier", 2026, 1, rodez=True), date(2026, 6, 3))
    demo.walk(
        c,
        [
            ("submit", date(2026, 6, 3), {}),
            ("withdraw", date(2026, 6, 20), _p(reason="Déménagement hors région")),
        ],
    )

    # 7. Two applications; signing with one employer withdraws the other automatically.
    jade = learner("Jade", "Lacroix", 2026, 2, rodez=True)
    other = case(2026, 4, jade, date(2026, 6, 4))
    demo.fire(other, "submit", date(2026, 6, 4))
    c = case(2026, 5, jade, date(2026, 6, 4))
    demo.walk(
        c,
        [
            *signed(date(2026, 6, 4), date(2026, 7, 8)),
            ("start_training", date(2026, 9, 7), {}),
            ("start_service", date(2027, 8, 16), _p(params={"diploma_date": "2027-07-09"})),
        ],
    )

    # 8. Serving, with a maternity leave that pushes the commitment end back.
    c = case(2026, 0, learner("Manon", "Vidal", 2026, 3), date(2026, 6, 5))
    demo.walk(
        c,
        [
            *signed(date(2026, 6, 5), date(2026, 7, 9), "2x200"),
            ("start_training", date(2026, 9, 7), {}),
            ("start_service", date(2027, 9, 6), _p(params={"diploma_date": "2027-07-09"})),
        ],
    )
    cases.suspend(
        demo.uow(),
        c,
        start=date(2027, 12, 1),
        end=date(2028, 3, 22),
        reason="maternity",
        actor=DEMO_ACTOR,
    )

    # 9. Campaign 2027: signed on the 2x200 tier; the nightly run starts the training on its
    #    first day (2027-09-06).
    c = case(2027, 1, learner("Lucas", "Fournier", 2027, 0), date(2027, 6, 1))
    demo.walk(
        c,
        [
            *signed(date(2027, 6, 1), date(2027, 7, 5), "2x200"),
        ],
    )
    # ...and a guard refusing: the offer had one place, a second learner cannot be selected.
    c = case(2027, 0, learner("Emma", "Garcia", 2027, 1), date(2027, 6, 1))
    demo.walk(c, to_selected(date(2027, 6, 1)))
    c = case(2027, 0, learner("Louis", "Robert", 2027, 2), date(2027, 6, 2))
    demo.walk(
        c,
        [
            ("submit", date(2027, 6, 2), {}),
            ("interview", date(2027, 6, 9), _p(params={"interview_date": "2027-06-09"})),
        ],
    )
    louis = c
    demo.refused(f"dossier {c}, select", lambda: demo.fire(louis, "select", date(2027, 6, 12)))

    # 10. Selected, but no IBAN yet: the contract cannot be issued until it is given.
    c = case(2027, 2, learner("Sarah", "Michel", 2027, None), date(2027, 6, 2))
    demo.walk(c, to_selected(date(2027, 6, 2)))
    sarah = c
    demo.refused(
        f"dossier {c}, contrat",
        lambda: contracts.generate_contract(demo.uow(), sarah, tier="2x150", on=date(2027, 6, 20)),
    )

    # Accounts for each role, to sign in to `fidelis serve`.
    from workflow.accounts import add_user

    for email, name, role, extra in (
        ("agent@region.exemple.fr", "Agent de la Région", "region", {}),
        (
            "direction@ehpad-genets.exemple.fr",
            "EHPAD Les Genêts",
            "employer",
            {"employer_id": employers[0]},
        ),
        ("ifas@mende.exemple.fr", "IFAS de Mende", "institute", {"institute_id": ifas_mende}),
        ("admin@fidelis.exemple.fr", "Administrateur", "admin", {}),
    ):
        add_user(demo.uow(), email=email, name=name, role=role, password=DEMO_PASSWORD, **extra)
        demo.accounts.append((role, email))

    # 11. A draft: listed, application not sent yet.
    case(2027, 3, learner("Tom", "Durand", 2027, 3), date(2027, 6, 3))

    return demo


NIGHTLY_FROM = date(2027, 4, 1)


def simulate_nights(demo: Demo, console: Console, *, quiet: bool) -> dict[str, int]:
    """A year and more of nightly runs, day by day up to DEMO_TODAY: the first one creates the
    payments fallen due until then, the next ones what each day brings (payments on the 10th,
    reminders, automatic transitions). Mail is queued in the outbox, not sent."""
    from rich.progress import Progress

    from jobs.nightly import run_nightly

    days = (DEMO_TODAY - NIGHTLY_FROM).days + 1
    totals: dict[str, int] = {}
    with Progress(console=console, transient=True, disable=quiet) as progress:
        task = progress.add_task("Traitements de nuit", total=days)
        first = run_nightly(demo.engine, NIGHTLY_FROM, catch_up=False, send_mail=False)
        progress.advance(task)
        rest = run_nightly(
            demo.engine, DEMO_TODAY, send_mail=False, on_day=lambda _: progress.advance(task)
        )
    for run in first.runs + rest.runs:
        for name, count in run["counts"].items():
            totals[name] = totals.get(name, 0) + count
    totals["nights"] = days
    return totals


def summary(demo: Demo) -> dict[str, Any]:
    with demo.uow() as uow:
        s = uow.session
        rows = s.execute(
            sa.select(Case.id, Case.state, Case.tier, Case.contract_number).order_by(Case.id)
        ).all()
        paid = s.execute(
            sa.select(Payment.funder, sa.func.sum(Payment.amount), sa.func.count())
            .where(Payment.status != "cancelled")
            .group_by(Payment.funder)
        ).all()
        refunds = s.execute(
            sa.select(Reimbursement.case_id, Reimbursement.funder, Reimbursement.amount).order_by(
                Reimbursement.case_id, Reimbursement.funder
            )
        ).all()
        reminders = s.execute(
            sa.select(OutboxMessage.kind, sa.func.count()).group_by(OutboxMessage.kind)
        ).all()
    return {
        "as_of": DEMO_TODAY.isoformat(),
        "outbox": {kind: n for kind, n in reminders},
        "cases": [
            {"id": r[0], "state": r[1].value, "tier": r[2], "contract_number": r[3]} for r in rows
        ],
        "states": dict(Counter(r[1].value for r in rows)),
        # SUM keeps the column's type: the total comes back as Decimal euros.
        "payments": {f: {"count": n, "amount": str(total)} for f, total, n in paid},
        "reimbursements": [{"case": c, "funder": f, "amount": str(a)} for c, f, a in refunds],
        "refusals": demo.refusals,
        "accounts": [{"role": r, "email": e, "password": DEMO_PASSWORD} for r, e in demo.accounts],
    }


def run_demo(url: str, console: Console, *, as_json: bool = False) -> dict[str, Any]:
    demo_key = settings().iban_key is None
    if demo_key:
        os.environ[KEY_VARIABLE] = DEMO_IBAN_KEY  # this process only; the summary says so
    # The story is dated up to DEMO_TODAY: it is "today" for the demo's actions (their dates'
    # horizon) and for its nightly runs, whatever day the machine says it is.
    with injected(lambda: DEMO_TODAY):
        demo = build(url)
        nights = simulate_nights(demo, console, quiet=as_json)
    data = summary(demo)
    data["nightly"] = nights
    data["iban_key"] = DEMO_IBAN_KEY if demo_key else None
    demo.engine.dispose()
    if as_json:
        console.print_json(json.dumps(data, ensure_ascii=False))
        return data
    console.print(f"[bold]Démo Fidelis[/bold] — base {url}, situation au {DEMO_TODAY:%d/%m/%Y}")
    table = Table("dossier", "état", "palier", "contrat", title="Dossiers")
    for c in data["cases"]:
        label = STATE_LABELS[State(c["state"])]
        table.add_row(str(c["id"]), label, c["tier"] or "", c["contract_number"] or "")
    console.print(table)
    money = Table("financeur", "paiements créés", "montant", title="Allocations échues")
    for funder, p in data["payments"].items():
        money.add_row(FILTERS["funder"](funder), str(p["count"]), amount_fr(p["amount"]))
    console.print(money)
    refunds = Table("dossier", "financeur", "à rembourser", title="Ruptures")
    for r in data["reimbursements"]:
        refunds.add_row(str(r["case"]), FILTERS["funder"](r["funder"]), amount_fr(r["amount"]))
    console.print(refunds)
    nightly = data["nightly"]
    console.print(
        f"{nightly['nights']} traitements de nuit simulés : {nightly.get('transitions', 0)} "
        f"transition(s) automatique(s), {nightly.get('payments', 0)} paiement(s) créé(s), "
        f"{nightly.get('reminders', 0) + nightly.get('commitment_checks', 0)} relance(s)."
    )
    mails = Table("courriel en attente", "nombre", title="Boîte d'envoi")
    for label, n in sorted((FILTERS["message_kind"](k), n) for k, n in data["outbox"].items()):
        mails.add_row(label, str(n))
    console.print(mails)
    console.print("[bold]Refus expliqués par les gardes :[/bold]")
    for refusal in data["refusals"]:
        console.print(f"  • {refusal}", highlight=False)
    console.print(
        f"[bold]Comptes de démonstration[/bold] (mot de passe « {DEMO_PASSWORD} ») pour "
        "[cyan]fidelis serve[/cyan] :"
    )
    for account in data["accounts"]:
        role = ROLE_LABELS.get(account["role"], account["role"])
        console.print(f"  • {role} : {account['email']}", highlight=False)
    if demo_key:
        console.print(
            "Les IBAN sont chiffrés avec la clé de démonstration ; pour les virements SEPA et "
            f"les IBAN à saisir : [cyan]export {KEY_VARIABLE}={DEMO_IBAN_KEY}[/cyan]",
            highlight=False,
        )
    console.print(
        "Pour explorer : [cyan]fidelis case list[/cyan], [cyan]fidelis case show N[/cyan]"
        + ("" if url.endswith("fidelis.db") else f" (avec --db {url})")
    )
    return data


__all__ = [
    "run_demo",
]
