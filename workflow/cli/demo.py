"""`fidelis demo`."""

from __future__ import annotations

import typer

from workflow.cli.common import (
    JsonOpt,
    app,
    context_of,
    out,
)

# -- demo --------------------------------------------------------------------------------------


@app.command("demo")
def demo(
    ctx: typer.Context,
    as_json: JsonOpt = False,
) -> None:
    """Construire une base de démonstration et y faire vivre une douzaine de dossiers."""
    from workflow.demo import run_demo

    run_demo(context_of(ctx).url, out, as_json=as_json)
