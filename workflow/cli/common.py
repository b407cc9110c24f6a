"""What every command shares: the root Typer app and its groups, the database context, the
parsers of typed ids and authors (bounded as workflow.validation says: a French error, exit 1),
and the printing helpers (JSON on request, Rich for people — with `plain` for every value that
comes from the data, so that no name can carry markup or terminal escapes)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.markup import escape

from workflow import validation
from workflow.db import (
    UnitOfWork,
    check_schema,
    database_url,
    make_engine,
    session_factory,
)

app = typer.Typer(
    help="Fidelis : allocations d'études contre engagement de servir.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Base de données.", no_args_is_help=True)
scheme_app = typer.Typer(help="Dispositifs configurés.", no_args_is_help=True)
territory_app = typer.Typer(help="Communes, EPCI et ruralité.", no_args_is_help=True)
institute_app = typer.Typer(help="Instituts de formation.", no_args_is_help=True)
employer_app = typer.Typer(help="Employeurs.", no_args_is_help=True)
campaign_app = typer.Typer(help="Campagnes (rentrées) et offres.", no_args_is_help=True)
learner_app = typer.Typer(help="Apprenants.", no_args_is_help=True)
case_app = typer.Typer(
    help="Dossiers (candidatures suivies jusqu'à leur terme).", no_args_is_help=True
)
contract_app = typer.Typer(
    help="Contrats et documents (Word, PDF), signatures.", no_args_is_help=True
)
import_app = typer.Typer(
    help="Imports de fichiers CSV ou XLSX (instituts, employeurs, apprenants).",
    no_args_is_help=True,
)
export_app = typer.Typer(help="Exports CSV ou XLSX (en-têtes en français).", no_args_is_help=True)
report_app = typer.Typer(help="Observatoire du dispositif : rapports.", no_args_is_help=True)
for sub, name in (
    (db_app, "db"),
    (scheme_app, "scheme"),
    (territory_app, "territory"),
    (institute_app, "institute"),
    (employer_app, "employer"),
    (campaign_app, "campaign"),
    (learner_app, "learner"),
    (case_app, "case"),
    (contract_app, "contract"),
    (import_app, "import"),
    (export_app, "export"),
    (report_app, "report"),
):
    app.add_typer(sub, name=name)

out = Console()
err = Console(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Sortie JSON.")]


def plain(value: object) -> str:
    """`value` as text a terminal shows as it is: control characters (ANSI escapes among them)
    replaced, Rich markup escaped."""
    return escape(validation.control_free(str(value)))


def _ident(name: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        return validation.ident(text, name)

    return parse


def id_argument(name: str, help: str | None = None) -> Any:
    """A positional id (a case, a learner…): 1 to 2⁶³ − 1, else a French error (exit 1)."""
    return typer.Argument(parser=_ident(name), metavar=name, help=help, show_default=False)


def id_option(flag: str, help: str | None = None) -> Any:
    """An id given as an option (`--offer 3`), bounded as `id_argument`."""
    return typer.Option(flag, parser=_ident(flag), help=help, show_default=False)


def _actor(text: str) -> str:
    return validation.text(text, "actor", label="L'auteur (--actor)", field="--actor")


CaseArg = Annotated[int, id_argument("CASE")]
ActorOpt = Annotated[
    str | None,
    typer.Option("--actor", parser=_actor, help="Auteur (défaut : l'utilisateur du système)."),
]


@dataclass
class Context:
    url: str
    _engine: sa.Engine | None = None

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = make_engine(self.url)
        return self._engine

    def uow(self) -> UnitOfWork:
        check_schema(self.engine)
        return UnitOfWork(session_factory(self.engine))

    def close(self) -> None:
        """Close the connections when the command ends (it may run inside a longer process)."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def reading(self) -> UnitOfWork:
        """For a long read (exports, reports): never takes SQLite's write lock."""
        check_schema(self.engine)
        return UnitOfWork(session_factory(self.engine), writes=False)


def context_of(ctx: typer.Context) -> Context:
    obj = ctx.find_root().obj
    assert isinstance(obj, Context)
    return obj


@app.callback()
def root(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db", help="URL SQLAlchemy ou fichier SQLite (défaut : $FIDELIS_DB, ./fidelis.db)."
        ),
    ] = None,
) -> None:
    ctx.obj = Context(database_url(db))
    ctx.call_on_close(ctx.obj.close)


def emit(data: Any, as_json: bool) -> bool:
    """Print `data` as JSON when asked; return whether it did."""
    if as_json:
        out.print_json(json.dumps(data, ensure_ascii=False, default=str))
    return as_json


def created(ident: int, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps({"id": ident}))
    else:
        typer.echo(str(ident))


def optional_date(value: str | None, field: str) -> date | None:
    return None if value is None else validation.parse_date(value, field)


def required_date(value: str, field: str) -> date:
    return validation.parse_date(value, field)
