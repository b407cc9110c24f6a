"""`fidelis audit verify|seal`: the tamper-evident history (workflow.audit); and
`fidelis db grant-app-role ROLE`, the application's PostgreSQL role."""

from __future__ import annotations

from typing import Annotated

import typer

from workflow import audit
from workflow.cli.common import JsonOpt, app, context_of, db_app, emit, id_option, out

audit_app = typer.Typer(
    help="Historique infalsifiable : chaînage et scellés.", no_args_is_help=True
)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(
    ctx: typer.Context,
    case: Annotated[int | None, id_option("--case", help="Un seul dossier.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Recalculer le chaînage des événements et les scellés ; nommer la première ligne modifiée,
    insérée ou supprimée (code de sortie 1)."""
    with context_of(ctx).uow() as uow:
        found = next(audit.verify(uow.session, case), None)
        last = audit.latest_digest(uow.session)
    if as_json:
        emit({"valid": found is None, "first": str(found) if found else None, "seal": last}, True)
    elif found is None:
        sealed = f" ; dernier scellé n° {last['id']} : {last['digest']}" if last else ""
        out.print(f"Historique intact{sealed}", highlight=False)
    else:
        out.print(f"Historique altéré — {found}", highlight=False)
    if found is not None:
        raise typer.Exit(1)


@audit_app.command("seal")
def audit_seal(ctx: typer.Context) -> None:
    """Sceller dès maintenant les événements enregistrés depuis le dernier scellé (le
    traitement de nuit le fait chaque nuit)."""
    with context_of(ctx).uow() as uow:
        sealed = audit.seal(uow.session)
        uow.commit()
    out.print(f"{sealed} événement(s) scellé(s)")


@db_app.command("grant-app-role")
def grant_app_role(
    ctx: typer.Context, role: Annotated[str, typer.Argument(help="Le rôle de l'application.")]
) -> None:
    """PostgreSQL : donner au rôle de l'application ce dont elle a besoin — et sur l'historique,
    seulement lire et ajouter (à lancer par le propriétaire après chaque mise à jour)."""
    for statement in audit.grant_app_role(context_of(ctx).engine, role):
        out.print(statement, highlight=False)
