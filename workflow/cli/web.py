"""`fidelis user add` and `fidelis serve`: the web application."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from workflow.cli.common import (
    JsonOpt,
    app,
    context_of,
    emit,
    err,
    id_option,
)
from workflow.errors import InvalidInput
from workflow.validation import shown

# -- web -------------------------------------------------------------------------------------

user_app = typer.Typer(help="Comptes de l'application web.", no_args_is_help=True)
app.add_typer(user_app, name="user")


class RoleChoice(StrEnum):
    region = "region"
    employer = "employer"
    institute = "institute"
    admin = "admin"


@user_app.command("add")
def user_add(
    ctx: typer.Context,
    email: Annotated[str, typer.Option("--email")],
    name: Annotated[str, typer.Option("--name")],
    role: Annotated[RoleChoice, typer.Option("--role")],
    password: Annotated[
        str, typer.Option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
    ],
    employer: Annotated[int | None, id_option("--employer")] = None,
    institute: Annotated[int | None, id_option("--institute")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Créer un compte (mot de passe haché argon2) ; affiche son id et son jeton d'API."""
    from workflow.accounts import add_user

    ident, token = add_user(
        context_of(ctx).uow(),
        email=email,
        name=name,
        role=role.value,
        password=password,
        employer_id=employer,
        institute_id=institute,
    )
    if not emit({"id": ident, "api_token": token}, as_json):
        typer.echo(str(ident))
        err.print(f"Jeton d'API (affiché une seule fois) : {token}", highlight=False)


def _port(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 65_535:
        raise InvalidInput(f"Port invalide : « {shown(text)} » (de 1 à 65535).", "--port")
    return int(text)


@app.command("serve")
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", parser=_port)] = 8000,
) -> None:
    """L'application web (FIDELIS_SECRET_KEY : clé des sessions, commune à tous les workers)."""
    import os

    import uvicorn

    from workflow.web import create_app

    c = context_of(ctx)
    c.uow()
    uvicorn.run(
        create_app(c.url, secret_key=os.environ.get("FIDELIS_SECRET_KEY")), host=host, port=port
    )
