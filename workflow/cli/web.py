"""`fidelis user add|invite|list|disable|enable|reset-password|revoke-token` (the web's
accounts; a participant's account — learner, employer, institute — is invited by a one-time
link, workflow.invitations) and `fidelis serve` (the web application)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from workflow.cli.common import (
    JsonOpt,
    app,
    context_of,
    emit,
    err,
    id_option,
    out,
)
from workflow.documents.french import date_fr
from workflow.errors import InvalidInput
from workflow.validation import shown

EmailArg = Annotated[str, typer.Argument(help="Adresse électronique du compte.")]

# -- web -------------------------------------------------------------------------------------

user_app = typer.Typer(help="Comptes de l'application web.", no_args_is_help=True)
app.add_typer(user_app, name="user")


class RoleChoice(StrEnum):
    region = "region"
    employer = "employer"
    institute = "institute"
    admin = "admin"
    learner = "learner"


@user_app.command("add")
def user_add(
    ctx: typer.Context,
    email: Annotated[str, typer.Option("--email")],
    role: Annotated[RoleChoice, typer.Option("--role")],
    name: Annotated[
        str | None,
        typer.Option("--name", help="Par défaut : celui de l'apprenant, employeur ou institut."),
    ] = None,
    password: Annotated[
        str | None,
        typer.Option(
            "--password",
            help="Demandé pour un compte du service instructeur ; sans lui, un apprenant, un "
            "employeur ou un institut reçoit un lien d'invitation.",
        ),
    ] = None,
    employer: Annotated[int | None, id_option("--employer")] = None,
    institute: Annotated[int | None, id_option("--institute")] = None,
    learner: Annotated[int | None, id_option("--learner")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Créer un compte (mot de passe haché argon2, au moins 12 caractères, difficile à deviner) ;
    affiche son id, son jeton d'API et, pour un participant sans mot de passe, son lien
    d'invitation (à usage unique, envoyé aussi par courriel via la boîte d'envoi)."""
    from workflow.accounts import PARTICIPANTS, add_user
    from workflow.invitations import invite

    if password is None and role.value not in PARTICIPANTS:
        password = typer.prompt("Mot de passe", hide_input=True, confirmation_prompt=True)
    c = context_of(ctx)
    ident, token = add_user(
        c.uow(),
        email=email,
        name=name,
        role=role.value,
        password=password,
        employer_id=employer,
        institute_id=institute,
        learner_id=learner,
    )
    invitation = invite(c.uow(), ident) if password is None else None
    shown_link = {"invitation": invitation.link} if invitation else {}
    if not emit({"id": ident, "api_token": token, **shown_link}, as_json):
        typer.echo(str(ident))
        if invitation is not None:
            typer.echo(invitation.link)
            err.print(
                "Lien d'invitation à usage unique, valable jusqu'au "
                f"{date_fr(invitation.expires_at.date())} (aussi envoyé par courriel).",
                highlight=False,
            )
        err.print(f"Jeton d'API (affiché une seule fois) : {token}", highlight=False)


@user_app.command("invite")
def user_invite(ctx: typer.Context, email: EmailArg, as_json: JsonOpt = False) -> None:
    """Envoyer au compte un nouveau lien de connexion à usage unique (invitation perdue ou
    expirée) ; affiche le lien."""
    from workflow.accounts import account_id
    from workflow.invitations import invite

    c = context_of(ctx)
    invitation = invite(c.uow(), account_id(c.uow(), email))
    if not emit({"id": invitation.user_id, "invitation": invitation.link}, as_json):
        typer.echo(invitation.link)
        err.print(
            f"Lien envoyé à {invitation.email}, valable une fois jusqu'au "
            f"{date_fr(invitation.expires_at.date())}.",
            highlight=False,
        )


def _port(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 65_535:
        raise InvalidInput(f"Port invalide : « {shown(text)} » (de 1 à 65535).", "--port")
    return int(text)


@user_app.command("list")
def user_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Les comptes : rôle, état, jeton d'API, dernière connexion."""
    from workflow.accounts import ROLE_LABELS, user_rows
    from workflow.display import moment_fr

    with context_of(ctx).uow() as uow:
        rows = user_rows(uow.session)
    if emit(rows, as_json):
        return
    table = Table("n°", "adresse", "nom", "rôle", "état", "jeton d'API", "dernière connexion",
                  title="Comptes")  # fmt: skip
    for r in rows:
        table.add_row(
            str(r["id"]), r["email"], r["name"], ROLE_LABELS.get(r["role"], r["role"]),
            "actif" if r["active"] else "désactivé", "oui" if r["api_token"] else "aucun",
            moment_fr(r["last_sign_in_at"]) or "jamais",
        )  # fmt: skip
    out.print(table)


@user_app.command("disable")
def user_disable(ctx: typer.Context, email: EmailArg) -> None:
    """Désactiver un compte : plus de connexion ni d'API, ses sessions sont fermées."""
    from workflow.accounts import disable

    done = disable(context_of(ctx).uow(), email)
    typer.echo(f"Compte {done} désactivé : ses sessions sont fermées et son jeton refusé.")


@user_app.command("enable")
def user_enable(ctx: typer.Context, email: EmailArg) -> None:
    """Réactiver un compte désactivé."""
    from workflow.accounts import enable

    typer.echo(f"Compte {enable(context_of(ctx).uow(), email)} réactivé.")


@user_app.command("reset-password")
def user_reset_password(
    ctx: typer.Context,
    email: EmailArg,
    password: Annotated[
        str, typer.Option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
    ],
) -> None:
    """Donner un nouveau mot de passe à un compte (mêmes règles qu'à la création) ; ferme ses
    sessions."""
    from workflow.accounts import reset_password

    done = reset_password(context_of(ctx).uow(), email, password)
    typer.echo(f"Mot de passe de {done} réinitialisé : ses sessions sont fermées.")


@user_app.command("revoke-token")
def user_revoke_token(
    ctx: typer.Context,
    email: EmailArg,
    new: Annotated[
        bool, typer.Option("--new", help="Délivrer aussitôt un nouveau jeton (affiché une fois).")
    ] = False,
) -> None:
    """Révoquer le jeton d'API d'un compte (et, avec --new, en délivrer un autre)."""
    from workflow.accounts import revoke_token

    done, token = revoke_token(context_of(ctx).uow(), email, new=new)
    typer.echo(f"Jeton d'API de {done} révoqué.")
    if token:
        err.print(f"Nouveau jeton d'API (affiché une seule fois) : {token}", highlight=False)


@app.command("serve")
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", parser=_port)] = 8000,
) -> None:
    """L'application web (FIDELIS_SECRET_KEY : clé des cookies, commune à tous les workers ;
    cookies « Secure » : derrière HTTPS, sauf FIDELIS_INSECURE_COOKIES=1 en développement)."""
    import os

    import uvicorn

    from workflow.web import create_app

    c = context_of(ctx)
    c.uow()
    uvicorn.run(
        create_app(c.url, secret_key=os.environ.get("FIDELIS_SECRET_KEY")), host=host, port=port
    )
