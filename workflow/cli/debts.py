"""`fidelis debt list|repay|plan|waive|write-off|import-repaid`: the debts a breach or an
overpayment leaves (SPEC §4b), followed to the last cent. DEBT is the debt's id or its number
(« OCC-AS-TR-2027-00001 »)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from workflow import cases
from workflow.cli.common import ActorOpt, JsonOpt, app, context_of, emit, id_option, out, plain
from workflow.cli.common import required_date as date_of
from workflow.display import FILTERS
from workflow.display import amount_fr as euros
from workflow.display import day_fr as day

debt_app = typer.Typer(
    help="Dettes des apprenants (ruptures, trop-perçus) : remboursements, échéanciers, "
    "remises, admissions en non-valeur.",
    no_args_is_help=True,
)
app.add_typer(debt_app, name="debt")

DebtArg = Annotated[
    str,
    typer.Argument(
        metavar="DEBT", help="Numéro interne ou numéro de titre de la dette.", show_default=False
    ),
]
OnOpt = Annotated[str, typer.Option("--on", help="Date (JJ/MM/AAAA ou AAAA-MM-JJ).")]
DecisionOpt = Annotated[
    str, typer.Option("--decision", help="Référence de la décision (obligatoire).")
]


def _said(row: dict[str, Any], what: str, as_json: bool) -> None:
    if not emit(row, as_json):
        out.print(
            f"Dette {plain(row['number'])} : {what} ; solde {euros(row['balance'])} "
            f"({FILTERS['debt_status'](row['status'])}).",
            highlight=False,
        )


@debt_app.command("list")
def debt_list(
    ctx: typer.Context,
    status: Annotated[
        str | None,
        typer.Option("--status", help="open, partially_repaid, settled, waived ou written_off."),
    ] = None,
    funder: Annotated[str | None, typer.Option("--funder", help="Code du financeur.")] = None,
    case: Annotated[int | None, id_option("--case", help="Numéro du dossier.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Les dettes (les plus récentes d'abord)."""
    from workflow.debts import debt_rows

    with context_of(ctx).uow() as uow:
        rows = debt_rows(uow.session, status=status, funder=funder, case_id=case)
    if emit(rows, as_json):
        return
    table = Table(
        "n°", "titre", "dossier", "financeur", "origine", "montant", "remboursé", "remis",
        "non-valeur", "solde", "échéance", "état", "échéancier", title="Dettes",
    )  # fmt: skip
    for r in rows:
        table.add_row(
            str(r["id"]),
            plain(r["number"]),
            str(r["case"]),
            FILTERS["funder"](r["funder"]),
            FILTERS["debt_kind"](r["kind"]),
            euros(r["amount"]),
            euros(r["repaid"]),
            euros(r["waived"]),
            euros(r["written_off"]),
            euros(r["balance"]),
            day(r["due_date"]),
            FILTERS["debt_status"](r["status"]),
            FILTERS["plan_status"](r["plan"]),
        )
    out.print(table)


@debt_app.command("repay")
def debt_repay(
    ctx: typer.Context,
    debt: DebtArg,
    amount: Annotated[str, typer.Option("--amount", help="Montant reçu, en euros.")],
    on: OnOpt,
    reference: Annotated[
        str | None, typer.Option("--reference", help="Référence du paiement (virement…).")
    ] = None,
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Enregistrer un remboursement reçu (au plus le solde de la dette)."""
    from workflow.debts import parse_amount, repay

    row = repay(
        context_of(ctx).uow(),
        debt,
        parse_amount(amount, "--amount"),
        on=date_of(on, "--on"),
        actor=actor or cases.default_actor(),
        reference=reference,
    )
    _said(row, f"remboursement de {euros(parse_amount(amount, '--amount'))} enregistré", as_json)


@debt_app.command("plan")
def debt_plan(
    ctx: typer.Context,
    debt: DebtArg,
    instalments: Annotated[
        int, typer.Option("--instalments", help="Nombre de mensualités.", min=1)
    ],
    first: Annotated[str, typer.Option("--first", help="Date de la première échéance.")],
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Accorder un échéancier : N mensualités dont la somme fait le solde, au centime près."""
    from workflow.debts import plan

    row = plan(
        context_of(ctx).uow(),
        debt,
        instalments=instalments,
        first=date_of(first, "--first"),
        actor=actor or cases.default_actor(),
    )
    if emit(row, as_json):
        return
    table = Table("échéance", "date", "montant", title=f"Échéancier de la dette {row['number']}")
    for i in row["plan"]:
        table.add_row(str(i["seq"]), day(i["due_date"]), euros(i["amount"]))
    out.print(table)


@debt_app.command("waive")
def debt_waive(
    ctx: typer.Context,
    debt: DebtArg,
    on: OnOpt,
    decision: DecisionOpt,
    amount: Annotated[
        str | None,
        typer.Option("--amount", help="Montant remis (défaut : tout le solde)."),
    ] = None,
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Remise gracieuse, totale ou partielle, sur décision."""
    from workflow.debts import parse_amount, waive

    row = waive(
        context_of(ctx).uow(),
        debt,
        on=date_of(on, "--on"),
        decision=decision,
        actor=actor or cases.default_actor(),
        amount=None if amount is None else parse_amount(amount, "--amount"),
    )
    _said(row, f"remise enregistrée (décision {plain(decision.strip())})", as_json)


@debt_app.command("write-off")
def debt_write_off(
    ctx: typer.Context,
    debt: DebtArg,
    on: OnOpt,
    decision: DecisionOpt,
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Admission en non-valeur du solde, sur décision."""
    from workflow.debts import write_off

    row = write_off(
        context_of(ctx).uow(),
        debt,
        on=date_of(on, "--on"),
        decision=decision,
        actor=actor or cases.default_actor(),
    )
    _said(row, f"admise en non-valeur (décision {plain(decision.strip())})", as_json)


@debt_app.command("import-repaid")
def debt_import_repaid(
    ctx: typer.Context, file: Path, actor: ActorOpt = None, as_json: JsonOpt = False
) -> None:
    """Importer les remboursements encaissés par le Trésor (CSV
    debt_number;amount;paid_on;reference) : une seule ligne invalide et rien n'est enregistré."""
    from workflow.debts import import_repaid

    count = import_repaid(context_of(ctx).uow(), file, actor=actor or cases.default_actor())
    if not emit({"imported": count}, as_json):
        out.print(f"{count} remboursement(s) enregistré(s).")
