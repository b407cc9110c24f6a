"""`fidelis contract esign …` (issue 16): send a contract to electronic signature, give a party
its one-time code, record a signature or a refusal; and `fidelis contract verify FILE.pdf`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from workflow import esign
from workflow.cli.common import CaseArg, JsonOpt, context_of, contract_app, emit, out, plain
from workflow.errors import InvalidInput

esign_app = typer.Typer(
    help="Signature électronique du contrat par les parties (codes à usage unique, sceau).",
    no_args_is_help=True,
)
contract_app.add_typer(esign_app, name="esign")


def _mail_now(ctx: typer.Context, case: int) -> None:
    """The signature's e-mails (the next invitation, a notice) leave now, not at night."""
    from jobs.outbox import send_case_mail_now
    from workflow.db import session_factory
    from workflow.emails import ESIGN_KINDS
    from workflow.schemes import registry

    sending = send_case_mail_now(
        session_factory(context_of(ctx).engine), registry(), case, ESIGN_KINDS
    )
    if sending.stopped:
        out.print(f"Courriel non envoyé tout de suite : {plain(sending.stopped)}.", highlight=False)


PartyOpt = Annotated[
    str,
    typer.Option(
        "--party",
        help="learner, ou le code d'un financeur signataire du dispositif (employer, region…).",
    ),
]


@esign_app.command("start")
def esign_start(ctx: typer.Context, case: CaseArg, as_json: JsonOpt = False) -> None:
    """Envoyer le contrat en cours à la signature électronique (invitations par courriel)."""
    from workflow.cases import default_actor

    invited = esign.start(context_of(ctx).uow(), case, actor=default_actor())
    _mail_now(ctx, case)
    rows = [
        {"position": i.position, "party": i.party, "label": i.label, "name": i.name,
         "email": i.email}
        for i in invited
    ]  # fmt: skip
    if emit({"case": case, "signers": rows}, as_json):
        return
    out.print(
        f"Contrat du dossier {case} envoyé à la signature électronique. Ordre des signataires :"
    )
    for r in rows:
        out.print(
            f"  {r['position']}. {plain(r['label'])} : {plain(r['name'])} <{plain(r['email'])}>",
            highlight=False,
        )


@esign_app.command("code")
def esign_code(ctx: typer.Context, case: CaseArg, party: PartyOpt) -> None:
    """Envoyer à une partie un nouveau code à usage unique (valable 10 minutes)."""
    email = esign.send_code(context_of(ctx).uow(), case, party)
    out.print(f"Code envoyé à {plain(email)} (valable 10 minutes).", highlight=False)


@esign_app.command("confirm")
def esign_confirm(
    ctx: typer.Context,
    case: CaseArg,
    party: PartyOpt,
    code: Annotated[str, typer.Option("--code", help="Le code reçu par courriel.")],
    ip: Annotated[
        str | None, typer.Option("--ip", help="Adresse IP du signataire (preuve).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Enregistrer la signature électronique d'une partie avec le code qu'elle a reçu."""
    if ip is not None:
        import ipaddress

        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise InvalidInput(f"Adresse IP invalide : « {plain(ip)} ».", "--ip") from None
    done = esign.confirm(
        context_of(ctx).uow(), case, party, code, ip=ip, user_agent="fidelis (ligne de commande)"
    )
    _mail_now(ctx, case)
    data = {"case": case, "party": party, "missing": done.missing, "sealed": done.sealed,
            "state": done.state}  # fmt: skip
    if emit(data, as_json):
        return
    if done.missing:
        out.print(f"Signature enregistrée ; reste à signer : {', '.join(done.missing)}.")
    else:
        out.print(
            f"Signature enregistrée ; contrat scellé (document {done.sealed}), dossier : "
            f"{done.state}."
        )


@esign_app.command("refuse")
def esign_refuse(
    ctx: typer.Context,
    case: CaseArg,
    party: PartyOpt,
    reason: Annotated[str, typer.Option("--reason", help="Pourquoi la partie refuse.")],
) -> None:
    """Enregistrer le refus de signer d'une partie, avec son motif (la Région est prévenue)."""
    esign.refuse(context_of(ctx).uow(), case, party, reason)
    _mail_now(ctx, case)
    out.print("Refus enregistré ; la Région en est informée.")


@contract_app.command("verify")
def contract_verify(
    file: Annotated[Path, typer.Argument(help="Le contrat signé et scellé (PDF).")],
    as_json: JsonOpt = False,
) -> None:
    """Vérifier un contrat scellé : le cachet, l'intégrité et les preuves des signatures."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"Fichier illisible : {file} ({exc.strerror}).", "file") from None
    from workflow.documents import seal  # pyHanko: only for the commands that need it

    verdict = seal.verify(data, seal.trust_roots())
    if as_json:
        typer.echo(json.dumps(verdict.as_dict(), ensure_ascii=False))
    else:
        out.print(
            "[bold]Contrat valide[/bold]"
            if verdict.valid
            else "[bold red]Contrat NON valide[/bold red]"
        )
        for finding in verdict.findings:
            out.print(f"  - {plain(finding)}", highlight=False)
        for s in verdict.signers:
            out.print(
                f"  signataire : {plain(s.get('label') or '')} — {plain(s.get('name') or '')}, "
                f"{s.get('signed_at')}",
                highlight=False,
            )
    if not verdict.valid:
        raise typer.Exit(1)
