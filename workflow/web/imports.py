"""The imports page: a caseworker uploads a CSV or XLSX file of institutes, employers or
learners (workflow.imports), sees the counts and the problems, and downloads the error report.
Roles `region` and `admin` only. The report is kept a day in the documents folder (shared by
the web workers), downloadable only from the session that made it."""

from __future__ import annotations

import re
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from workflow.accounts import Principal
from workflow.db import UnitOfWork
from workflow.errors import FidelisError
from workflow.imports import ImportResult, Kind, Report, import_file
from workflow.imports.columns import LAYOUTS
from workflow.imports.readers import check_suffix
from workflow.schemes import registry
from workflow.settings import settings
from workflow.web.deps import STAFF_ONLY, Who, check_csrf, render

router = APIRouter(dependencies=[STAFF_ONLY])

KEEP_REPORTS = 24 * 3600  # seconds
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
KIND_LABELS = {
    Kind.institutes: "Instituts de formation",
    Kind.employers: "Employeurs",
    Kind.learners: "Apprenants",
}


def reports_dir() -> Path:
    """Under the documents folder, which every web worker shares (README, Deployment)."""
    folder = settings().documents_dir / "import-reports"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def _purge_old_reports(folder: Path) -> None:
    limit = time.time() - KEEP_REPORTS
    for old in folder.glob("*.csv"):
        if old.stat().st_mtime < limit:
            old.unlink(missing_ok=True)


def _page(request: Request, who: Principal, status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("result", None)
    context.setdefault("error", None)
    context.setdefault("report_url", None)
    context.setdefault("chosen", {"kind": "", "scheme": "", "skip_invalid": False})
    return render(
        request,
        "imports.html",
        status,
        who=who,
        kinds=KIND_LABELS,
        layouts=LAYOUTS,
        schemes=registry(),
        **context,
    )


@router.get("/imports", response_class=HTMLResponse)
def imports_page(request: Request, who: Who) -> HTMLResponse:
    return _page(request, who)


@router.post("/imports", response_class=HTMLResponse)
async def run_import(request: Request, who: Who) -> HTMLResponse:
    async with request.form() as form:  # closes the uploaded file's spool, whatever happens
        check_csrf(request, str(form.get("csrf", "")))
        return await _import_upload(request, who, form)


async def _import_upload(request: Request, who: Principal, form: FormData) -> HTMLResponse:
    kind_text = str(form.get("kind") or "")
    scheme = str(form.get("scheme") or "") or None
    skip_invalid = bool(form.get("skip_invalid"))
    chosen = {"kind": kind_text, "scheme": scheme or "", "skip_invalid": skip_invalid}
    upload = form.get("file")
    try:
        kind = Kind(kind_text)
    except ValueError:
        return _page(
            request, who, 400, error="Choisissez ce que contient le fichier.", chosen=chosen
        )
    if scheme is not None and scheme not in registry():
        return _page(request, who, 400, error=f"Dispositif inconnu : « {scheme} ».", chosen=chosen)
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _page(request, who, 400, error="Choisissez un fichier .csv ou .xlsx.", chosen=chosen)
    folder = reports_dir()
    _purge_old_reports(folder)
    token = secrets.token_urlsafe(24)
    report = Report(folder / f"{token}.csv")
    with tempfile.TemporaryDirectory(prefix="fidelis-import-") as work:
        path = Path(work) / Path(upload.filename).name
        try:
            check_suffix(path)
            await _save(upload, path)
            result: ImportResult = await run_in_threadpool(
                import_file,
                UnitOfWork(request.app.state.factory),
                kind,
                path,
                skip_invalid=skip_invalid,
                report=report,
                scheme_id=scheme,
            )
        except FidelisError as exc:
            return _page(request, who, 400, error=str(exc), chosen=chosen)
    report_url = None
    if result.report is not None:
        tokens = [*request.session.get("import_reports", []), token][-10:]
        request.session["import_reports"] = tokens
        report_url = f"/imports/rapports/{token}"
    status = 200 if result.written else 400
    return _page(
        request, who, status, result=result, report_url=report_url, chosen=chosen
    )  # fmt: skip


async def _save(upload: UploadFile, path: Path) -> None:
    # Its size is bounded with the request's (FIDELIS_MAX_IMPORT_BYTES, workflow.web.limits).
    with path.open("wb") as target:
        while chunk := await upload.read(1 << 20):
            target.write(chunk)


@router.get("/imports/rapports/{token}")
def download_report(request: Request, token: str) -> FileResponse:
    path = reports_dir() / f"{token}.csv"
    mine = token in request.session.get("import_reports", [])
    if not _TOKEN.fullmatch(token) or not mine or not path.is_file():
        raise HTTPException(
            status_code=404, detail="Rapport introuvable (il est conservé 24 heures)."
        )
    return FileResponse(
        path, media_type="text/csv; charset=utf-8", filename="rapport-erreurs-import.csv"
    )
