"""The `fidelis` command line (SPEC §7): parse, call one service, print. Errors go to stderr with
exit code 1 (2 for usage errors); commands that create something print the new id alone.

One module per group of commands: registry (reference data), casework (cases), documents
(contracts), jobs (nightly run, payments, outbox), anomalies (what the nightly run could not do),
audit (the tamper-evident history), debts (what learners owe),
web (accounts, serve), demo, privacy (a learner's data, the IBAN key)."""

from __future__ import annotations

import sys

from workflow.cli import (
    anomalies,
    audit,
    casework,
    debts,
    demo,
    documents,
    esign,
    jobs,
    privacy,
    registry,
    reports,
    transfers,
    web,
)
from workflow.cli.common import app, err, plain
from workflow.errors import FidelisError, GuardFailed
from workflow.states import GUARD_HINTS

# Importing them registers their commands.
COMMAND_MODULES = (
    registry,
    casework,
    documents,
    esign,
    jobs,
    debts,
    anomalies,
    audit,
    web,
    demo,
    reports,
    transfers,
    privacy,
)


def main() -> None:
    try:
        app()
    except FidelisError as exc:
        err.print(f"[bold red]Erreur :[/bold red] {plain(exc)}", highlight=False)
        if isinstance(exc, GuardFailed):
            # The page shows no code; the command line says which trigger and how to go on.
            err.print(f"Action : {exc.trigger}", highlight=False)
            for guard in exc.guards:
                if hint := GUARD_HINTS.get(guard):
                    err.print(f"  {hint}", highlight=False)
        sys.exit(1)


__all__ = ["app", "main"]
