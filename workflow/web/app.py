"""`create_app(url)`: the FastAPI application. Pages in French under `/`, a JSON API under
`/api/v1` (token authentication). Every form carries a CSRF token; every read and write is
limited to what the signed-in role may see (workflow.accounts)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import sqlalchemy as sa
from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import (
    HTMLResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session
from starlette.middleware.sessions import SessionMiddleware

from workflow import accounts, cases, contracts, display, payments, validation
from workflow.accounts import Principal
from workflow.clock import today_paris
from workflow.db import UnitOfWork, make_engine, session_factory
from workflow.documents.labels import BREACH_REASON_LABELS
from workflow.documents.store import XLSX, default_store, stored_path
from workflow.eligibility import commune_is_rural
from workflow.errors import FidelisError, InvalidInput, NotFound
from workflow.models import (
    Campaign,
    Case,
    Document,
    Employer,
    Institute,
    JobRun,
    Learner,
    Offer,
    OutboxMessage,
    Payment,
    Reimbursement,
)
from workflow.paths import templates_dir
from workflow.schemes import registry
from workflow.sqltext import starts_with_ci
from workflow.states import GUARD_LABELS, STATE_LABELS, TRANSITIONS, TRIGGER_LABELS, State
from workflow.territory import default_territory
from workflow.views import CaseFilter, case_detail, case_rows
from workflow.web import errors
from workflow.web.api import router as api_router
from workflow.web.deps import Db, Who, check_csrf, csrf_token
from workflow.web.imports import router as imports_router
from workflow.web.reports import router as reports_router

PAGE = 50
ZERO = Decimal("0.00")
EXPORT_LIMIT = 200_000
FIELD_LABELS = {
    "reason": "Motif",
    "interview_date": "Date de l'entretien",
    "tier": "Palier",
    "diploma_date": "Date d'obtention du diplôme",
    "part_time": "Quotité de temps partiel (ex. 0,8)",
    "category": "Motif de rupture",
    "exemption": "Référence de la décision d'exonération (le cas échéant)",
}


def create_app(url: str, *, secret_key: str | None = None) -> FastAPI:
    engine = make_engine(url)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()  # the connections close with the application

    app = FastAPI(
        title="Fidelis",
        version="1",
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    app.state.factory = session_factory(engine)
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key or secrets.token_urlsafe(32),
        same_site="strict",
        session_cookie="fidelis_session",
    )
    templates = Jinja2Templates(directory=str(templates_dir() / "web"))
    display.install(templates.env)
    templates.env.globals.update(
        STATE_LABELS=STATE_LABELS,
        TRIGGER_LABELS=TRIGGER_LABELS,
        FIELD_LABELS=FIELD_LABELS,
        # Fields chosen from a list rather than typed: the breach's category.
        FIELD_CHOICES={"category": BREACH_REASON_LABELS},
    )
    app.state.templates = templates
    app.include_router(api_router)
    app.include_router(imports_router)
    app.include_router(reports_router)

    errors.install(app, templates)

    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    _routes(app, templates)
    return app


def _routes(app: FastAPI, templates: Jinja2Templates) -> None:
    def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("csrf", csrf_token(request))
        return templates.TemplateResponse(request, name, context, status_code=status)

    @app.get("/connexion", response_class=HTMLResponse)
    def login_page(request: Request) -> HTMLResponse:
        return render(request, "login.html", error=None)

    @app.post("/connexion", response_model=None)
    def login(
        request: Request,
        s: Db,
        email: Annotated[str, Form()],
        password: Annotated[str, Form()],
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        check_csrf(request, csrf)
        who = accounts.authenticate(s, email, password)
        if who is None:
            return render(request, "login.html", 401, error="Adresse ou mot de passe incorrect.")
        request.session.clear()
        request.session["user_id"] = who.id
        return RedirectResponse("/", status_code=303)

    @app.post("/deconnexion")
    def logout(request: Request, csrf: Annotated[str, Form()] = "") -> RedirectResponse:
        check_csrf(request, csrf)
        request.session.clear()
        return RedirectResponse("/connexion", status_code=303)

    @app.get("/", response_class=HTMLResponse)
    def dashboard(request: Request, who: Who, s: Db) -> HTMLResponse:
        visible = accounts.visible_cases(who)
        counts = dict(
            s.execute(
                sa.select(Case.state, sa.func.count()).where(visible).group_by(Case.state)
            ).all()
        )
        states = [(st, counts.get(st, 0)) for st in State]
        money = s.execute(
            sa.select(Payment.funder, Payment.status, sa.func.sum(Payment.amount))
            .join(Case, Case.id == Payment.case_id)
            .where(visible, Payment.status != "cancelled")
            .group_by(Payment.funder, Payment.status)
        ).all()
        recover = dict(
            s.execute(
                sa.select(Reimbursement.funder, sa.func.sum(Reimbursement.amount))
                .join(Case, Case.id == Reimbursement.case_id)
                .where(visible)
                .group_by(Reimbursement.funder)
            ).all()
        )
        funders: dict[str, dict[str, Decimal]] = {}
        for funder, status, total in money:
            row = funders.setdefault(funder, {"committed": ZERO, "due": ZERO, "paid": ZERO})
            row["committed"] += total
            row["paid" if status == "paid" else "due"] += total
        for funder, total in recover.items():
            funders.setdefault(funder, {"committed": ZERO, "due": ZERO, "paid": ZERO})[
                "recover"
            ] = total
        reminders = s.scalar(
            sa.select(sa.func.count(OutboxMessage.id)).where(OutboxMessage.status == "pending")
        )
        return render(
            request,
            "dashboard.html",
            who=who,
            counts=states,
            funders=funders,
            widest=max([n for _, n in states] + [1]),
            reminders=reminders or 0,
        )

    def _filters(request: Request) -> CaseFilter:
        q = request.query_params

        def number(name: str) -> int | None:
            value = q.get(name, "").strip()
            return int(value) if value.isdigit() else None

        state = q.get("etat", "")
        return CaseFilter(
            state=State(state) if state in State._value2member_map_ else None,
            scheme=q.get("dispositif") or None,
            campaign=number("campagne"),
            employer=number("employeur"),
            institute=number("institut"),
            departement=q.get("departement") or None,
            search=q.get("q") or None,
        )

    @app.get("/dossiers", response_class=HTMLResponse)
    def case_list(request: Request, who: Who, s: Db) -> HTMLResponse:
        filters = _filters(request)
        q = request.query_params
        sort = "last_event" if q.get("tri") == "last_event" else "recent"
        cursor = q.get("apres", "")
        before = int(cursor) if sort == "recent" and cursor.isdigit() else None
        after_event = None
        if sort == "last_event" and ":" in cursor:
            day, _, ident = cursor.partition(":")
            try:
                after_event = (date.fromisoformat(day), int(ident))
            except ValueError:
                raise InvalidInput(
                    f"Lien de page invalide : « {cursor} » (revenez à la première page)."
                ) from None
        rows = case_rows(
            s,
            limit=PAGE + 1,
            before=before,
            after_event=after_event,
            sort=sort,
            where=accounts.visible_cases(who),
            filters=filters,
        )
        more = len(rows) > PAGE
        last = rows[PAGE - 1] if more else None
        next_cursor = (
            (f"{last['last_event']}:{last['id']}" if sort == "last_event" else str(last["id"]))
            if last
            else None
        )
        params = {k: v for k, v in q.items() if k != "apres"}
        template = "_case_table.html" if request.headers.get("HX-Request") else "cases.html"
        return render(
            request,
            template,
            who=who,
            rows=rows[:PAGE],
            f=filters,
            sort=sort,
            next_query=urlencode({**params, "apres": next_cursor}) if next_cursor else None,
            export_query=urlencode(params),
        )

    @app.get("/dossiers.csv")
    def export_csv(request: Request, who: Who) -> Response:
        from workflow.reports.exports import EXPORTS, streamed_csv
        from workflow.reports.selection import Selection

        selection = Selection(_filters(request), accounts.visible_cases(who), EXPORT_LIMIT)
        return StreamingResponse(
            streamed_csv(request.app.state.factory, EXPORTS["cases"], selection, registry()),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="dossiers.csv"'},
        )

    @app.get("/dossiers.xlsx")
    def export_xlsx(request: Request, who: Who, s: Db) -> Response:
        from workflow.reports.exports import EXPORTS, xlsx_bytes
        from workflow.reports.selection import Selection

        selection = Selection(_filters(request), accounts.visible_cases(who), EXPORT_LIMIT)
        return Response(
            xlsx_bytes(s, EXPORTS["cases"], selection, registry()),
            media_type=XLSX,
            headers={"Content-Disposition": 'attachment; filename="dossiers.xlsx"'},
        )

    def _detail(
        request: Request,
        who: Principal,
        s: Session,
        case_id: int,
        error: str | None = None,
        status: int = 200,
    ) -> HTMLResponse:
        if not accounts.can_see(s, who, case_id):
            raise HTTPException(
                status_code=403 if s.get(Case, case_id) else 404,
                detail="Ce dossier n'est pas accessible avec votre compte.",
            )
        detail = case_detail(s, case_id)
        detail["available"] = [
            a for a in detail["available"] if accounts.may_fire(who, a["trigger"])
        ]
        documents = s.scalars(
            sa.select(Document).where(Document.case_id == case_id).order_by(Document.id)
        ).all()
        reminders = s.scalars(
            sa.select(OutboxMessage)
            .where(OutboxMessage.case_id == case_id)
            .order_by(OutboxMessage.id)
        ).all()
        return render(
            request,
            "case.html",
            status,
            who=who,
            case=detail,
            documents=documents,
            reminders=reminders,
            suspension_reasons=registry()[detail["scheme"]].commitment.suspension_reasons,
            error=error,
            today=today_paris().isoformat(),
            tiers={code: t.label for code, t in registry()[detail["scheme"]].tiers.items()},
        )

    @app.get("/dossiers/{case_id}", response_class=HTMLResponse)
    def case_page(request: Request, who: Who, s: Db, case_id: int) -> HTMLResponse:
        return _detail(request, who, s, case_id)

    @app.post("/dossiers/{case_id}/actions/{trigger}", response_model=None)
    async def fire(request: Request, who: Who, case_id: int, trigger: str) -> Response:
        form = await request.form()
        check_csrf(request, str(form.get("csrf", "")))
        factory = request.app.state.factory
        with factory() as s:
            if not accounts.can_see(s, who, case_id):
                raise HTTPException(status_code=403, detail="Ce dossier n'est pas accessible.")
        if not accounts.may_fire(who, trigger):
            raise HTTPException(status_code=403, detail="Votre rôle ne permet pas cette action.")
        params = {
            k: str(v)
            for k, v in form.items()
            if k not in ("csrf", "on", "reason") and str(v).strip()
        }
        try:
            on = str(form.get("on") or "").strip()
            cases.fire(
                UnitOfWork(factory),
                case_id,
                trigger,
                on=validation.parse_date(on, "date d'effet") if on else None,
                actor=who.actor,
                reason=str(form.get("reason") or "") or None,
                params=params,
            )
        except FidelisError as exc:
            with factory() as s:
                return _detail(request, who, s, case_id, error=str(exc), status=400)
        return RedirectResponse(f"/dossiers/{case_id}", status_code=303)

    async def _contract_action(
        request: Request, who: Principal, case_id: int, action: Any
    ) -> Response:
        form = await request.form()
        check_csrf(request, str(form.get("csrf", "")))
        if who.role not in ("region", "admin"):
            raise HTTPException(
                status_code=403, detail="Seul le service instructeur gère les contrats."
            )
        factory = request.app.state.factory
        try:
            on = str(form.get("on") or "").strip()
            action(
                UnitOfWork(factory),
                form,
                validation.parse_date(on, "date") if on else today_paris(),
            )
        except FidelisError as exc:
            with factory() as s:
                return _detail(request, who, s, case_id, error=str(exc), status=400)
        return RedirectResponse(f"/dossiers/{case_id}", status_code=303)

    @app.post("/dossiers/{case_id}/contrat", response_model=None)
    async def issue_contract(request: Request, who: Who, case_id: int) -> Response:
        def action(uow: UnitOfWork, form: Any, on: date) -> None:
            tier = str(form.get("tier") or "").strip() or None
            contracts.generate_contract(uow, case_id, tier=tier, on=on, actor=who.actor)

        return await _contract_action(request, who, case_id, action)

    @app.post("/dossiers/{case_id}/signatures", response_model=None)
    async def sign_contract(request: Request, who: Who, case_id: int) -> Response:
        def action(uow: UnitOfWork, form: Any, on: date) -> None:
            contracts.sign_contract(
                uow,
                case_id,
                party=str(form.get("party") or ""),
                on=on,
                name=str(form.get("name") or ""),
                actor=who.actor,
            )

        return await _contract_action(request, who, case_id, action)

    def _staff(who: Principal) -> None:
        if who.role not in ("region", "admin"):
            raise HTTPException(status_code=403, detail="Page réservée au service instructeur.")

    @app.get("/paiements", response_class=HTMLResponse)
    def payments_page(request: Request, who: Who, s: Db, mois: str = "") -> HTMLResponse:
        _staff(who)
        period = payments.parse_period(mois) if mois else None
        rows = payments.payment_rows(s, period)
        return render(request, "payments.html", who=who, rows=rows, mois=mois)

    @app.post("/paiements/sepa", response_model=None)
    async def sepa(request: Request, who: Who) -> Response:
        _staff(who)
        form = await request.form()
        check_csrf(request, str(form.get("csrf", "")))
        try:
            period = payments.parse_period(str(form.get("mois") or ""))
            export = payments.export_sepa(
                UnitOfWork(request.app.state.factory), period, on=today_paris(), actor=who.actor
            )
        except FidelisError as exc:
            with request.app.state.factory() as s:
                return render(
                    request,
                    "payments.html",
                    400,
                    who=who,
                    error=str(exc),
                    rows=payments.payment_rows(s),
                    mois=str(form.get("mois") or ""),
                )
        return Response(
            export.xml,
            media_type="application/xml",
            headers={"Content-Disposition": f'attachment; filename="{export.message_id}.xml"'},
        )

    @app.get("/courriels", response_class=HTMLResponse)
    def outbox_page(request: Request, who: Who, s: Db) -> HTMLResponse:
        _staff(who)
        messages = s.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(500))
        return render(request, "outbox.html", who=who, messages=list(messages))

    @app.get("/traitements", response_class=HTMLResponse)
    def runs_page(request: Request, who: Who, s: Db) -> HTMLResponse:
        _staff(who)
        runs = s.scalars(sa.select(JobRun).order_by(JobRun.id.desc()).limit(200))
        return render(request, "runs.html", who=who, runs=list(runs))

    @app.post("/dossiers/{case_id}/attestation", response_model=None)
    async def attest(request: Request, who: Who, case_id: int) -> Response:
        form = await request.form()
        check_csrf(request, str(form.get("csrf", "")))
        factory = request.app.state.factory
        with factory() as s:
            if who.role not in ("employer", "region", "admin") or not accounts.can_see(
                s, who, case_id
            ):
                raise HTTPException(status_code=403, detail="Ce dossier n'est pas accessible.")
        try:
            on = str(form.get("on") or "").strip()
            cases.attest_service(
                UnitOfWork(factory),
                case_id,
                actor=who.actor,
                on=validation.parse_date(on, "date") if on else today_paris(),
            )
        except FidelisError as exc:
            with factory() as s:
                return _detail(request, who, s, case_id, error=str(exc), status=400)
        return RedirectResponse(f"/dossiers/{case_id}", status_code=303)

    @app.post("/dossiers/{case_id}/suspension", response_model=None)
    async def suspend(request: Request, who: Who, case_id: int) -> Response:
        _staff(who)
        form = await request.form()
        check_csrf(request, str(form.get("csrf", "")))
        factory = request.app.state.factory
        try:
            start = validation.parse_date(str(form.get("from") or ""), "début")
            end_text = str(form.get("to") or "").strip()
            cases.suspend(
                UnitOfWork(factory),
                case_id,
                start=start,
                reason=str(form.get("reason") or ""),
                end=validation.parse_date(end_text, "fin") if end_text else None,
                actor=who.actor,
            )
        except FidelisError as exc:
            with factory() as s:
                return _detail(request, who, s, case_id, error=str(exc), status=400)
        return RedirectResponse(f"/dossiers/{case_id}", status_code=303)

    @app.get("/mes-paiements", response_class=HTMLResponse)
    def employer_payments(request: Request, who: Who, s: Db) -> HTMLResponse:
        if who.role != "employer":
            raise HTTPException(status_code=403, detail="Page réservée aux employeurs.")
        rows = payments.payment_rows(s, employer_id=who.employer_id)
        return render(request, "employer_payments.html", who=who, rows=rows, error=None)

    @app.post("/mes-paiements/confirmer", response_model=None)
    async def confirm(request: Request, who: Who) -> Response:
        if who.role != "employer" or who.employer_id is None:
            raise HTTPException(status_code=403, detail="Page réservée aux employeurs.")
        form = await request.form()
        check_csrf(request, str(form.get("csrf", "")))
        factory = request.app.state.factory
        try:
            period = payments.parse_period(str(form.get("mois") or ""))
            payments.confirm_employer(
                UnitOfWork(factory), who.employer_id, period, on=today_paris(), actor=who.actor
            )
        except FidelisError as exc:
            with factory() as s:
                rows = payments.payment_rows(s, employer_id=who.employer_id)
                return render(
                    request, "employer_payments.html", 400, who=who, rows=rows, error=str(exc)
                )
        return RedirectResponse("/mes-paiements", status_code=303)

    @app.get("/employeurs", response_class=HTMLResponse)
    def employers_page(request: Request, who: Who, s: Db) -> HTMLResponse:
        _staff(who)
        territory = default_territory()
        rows = []
        for e in s.scalars(sa.select(Employer).order_by(Employer.name)):
            commune = territory.get(e.commune_insee)
            rows.append(
                {
                    "employer": e,
                    "commune": commune,
                    "rural": commune_is_rural(commune) if commune else None,
                }
            )
        return render(request, "employers.html", who=who, rows=rows)

    @app.get("/instituts", response_class=HTMLResponse)
    def institutes_page(request: Request, who: Who, s: Db) -> HTMLResponse:
        _staff(who)
        learners = dict(
            s.execute(
                sa.select(Learner.institute_id, sa.func.count()).group_by(Learner.institute_id)
            ).all()
        )
        institutes = s.scalars(sa.select(Institute).order_by(Institute.name)).all()
        return render(request, "institutes.html", who=who, institutes=institutes, learners=learners)

    @app.get("/apprenants", response_class=HTMLResponse)
    def learners_page(request: Request, who: Who, s: Db, q: str = "") -> HTMLResponse:
        query = sa.select(Learner).order_by(Learner.last_name, Learner.first_name).limit(500)
        if who.role == "institute":
            query = query.where(Learner.institute_id == who.institute_id)
        elif who.role == "employer":
            raise HTTPException(
                status_code=403, detail="Page réservée aux instituts et à la Région."
            )
        if q.strip():
            query = query.where(starts_with_ci(Learner.last_name, q.strip().lower()))
        return render(request, "learners.html", who=who, learners=s.scalars(query).all(), q=q)

    @app.get("/campagnes", response_class=HTMLResponse)
    def campaigns_page(request: Request, who: Who, s: Db) -> HTMLResponse:
        _staff(who)
        offers = s.execute(
            sa.select(
                Campaign, sa.func.count(Offer.id), sa.func.coalesce(sa.func.sum(Offer.places), 0)
            )
            .outerjoin(Offer, Offer.campaign_id == Campaign.id)
            .group_by(Campaign.id)
            .order_by(Campaign.year.desc())
        ).all()
        return render(request, "campaigns.html", who=who, campaigns=offers)

    @app.post("/campagnes/{campaign_id}/liste", response_model=None)
    async def campaign_list(request: Request, who: Who, campaign_id: int) -> Response:
        _staff(who)
        form = await request.form()
        check_csrf(request, str(form.get("csrf", "")))
        infos = contracts.campaign_employer_list(
            UnitOfWork(request.app.state.factory), campaign_id, on=today_paris(), actor=who.actor
        )
        return RedirectResponse(f"/documents/{infos[0].id}", status_code=303)

    @app.get("/schema", response_class=HTMLResponse)
    def diagram(request: Request, who: Who) -> HTMLResponse:
        from markupsafe import Markup

        from workflow.web.diagram import state_diagram_svg

        return render(
            request,
            "diagram.html",
            svg=Markup(state_diagram_svg()),  # built from our own escaped strings
            who=who,
            transitions=TRANSITIONS,
            guard_labels=GUARD_LABELS,
            states=list(State),
        )

    @app.get("/documents/{document_id}")
    def download(who: Who, s: Db, document_id: int) -> Response:
        doc = s.get(Document, document_id)
        if doc is None:
            raise HTTPException(status_code=404, detail=str(NotFound("Document", document_id)))
        if doc.case_id is None:
            _staff(who)
        elif not accounts.can_see(s, who, doc.case_id):
            raise HTTPException(status_code=403, detail="Ce document n'est pas accessible.")
        content = default_store().read(stored_path(doc), doc.sha256)
        return Response(
            content,
            media_type=doc.media_type,
            headers={"Content-Disposition": f'attachment; filename="{doc.filename}"'},
        )
