"""`fidelis privacy export|new-key`: a learner's data for the learner (RGPD right of access,
workflow.privacy) and a key for the IBANs (workflow.iban)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from workflow import privacy
from workflow.cli.common import app, context_of
from workflow.errors import InvalidInput
from workflow.iban import new_key

privacy_app = typer.Typer(
    help="Données personnelles (RGPD) : droit d'accès d'un apprenant, clé des IBAN.",
    no_args_is_help=True,
)
app.add_typer(privacy_app, name="privacy")


@privacy_app.command(
    "export",
    help="Toutes les données d'un apprenant (droit d'accès, RGPD art. 15), en JSON : identité "
    "(IBAN masqué), dossiers, historique, paiements, remboursements, documents, signatures, "
    "courriels, et son effacement s'il a eu lieu.",
)
def privacy_export(
    ctx: typer.Context,
    learner: Annotated[int, typer.Argument(help="Numéro de l'apprenant.")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Fichier JSON à écrire (par défaut : la sortie standard)."),
    ] = None,
) -> None:
    with context_of(ctx).uow() as uow:
        data = privacy.learner_data(uow.session, learner)
    text = json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    _write(out, text)
    typer.echo(str(out))


def _write(path: Path, text: str) -> None:
    """Written aside, then renamed: a failure leaves no half-written file."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    except OSError as exc:
        raise InvalidInput(f"Impossible d'écrire {path} : {exc.strerror}.", "out") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        raise InvalidInput(f"Impossible d'écrire {path} : {exc.strerror}.", "out") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@privacy_app.command(
    "new-key",
    help="Créer une clé de chiffrement des IBAN, à mettre dans FIDELIS_IBAN_KEY : la même pour "
    "tous les processus, gardée secrète et sauvegardée à part (sans elle, les IBAN enregistrés "
    "sont illisibles).",
)
def privacy_new_key() -> None:
    typer.echo(new_key())
