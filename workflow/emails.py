"""The e-mails of SPEC §6, rendered from `templates/emails/` (Jinja2, French).

Each kind has `KIND.txt.j2` (a `subject` block and a `body` block, extending `_layout.txt.j2`)
and may have `KIND.html.j2`. Context keys: `case` {id, contract_number, state_label}, `learner`
{full_name, email}, `employer` {name, email}, `scheme` {label, funding_body}, `due_date` (a date);
the employer statement takes `period` (a date), `lines` [{learner, contract_number, amount}] and
`total` (amounts already formatted, « 150,00 € »); a debt's reminders take `debt` {number,
funder, amount, balance, due_date} (amounts formatted); the reminder of an unsigned contract may
take `unsigned` {missing [{label, name}], electronic, link} (workflow.signing); an invitation
(workflow.invitations) takes only `name`, `link` and `expires_on` (a date)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound, UndefinedError

from workflow.documents.french import date_fr, month_fr
from workflow.errors import FidelisError
from workflow.paths import templates_dir
from workflow.schemes import REMINDER_KINDS

# The reminders of SPEC §6, plus the employer's monthly statement, the completion notice and the
# reminders of a debt (SPEC §4b).
DEBT_REMINDER_KINDS = ("debt_overdue", "debt_instalment_missed")
# A new message in a case's thread (workflow.threads) takes `link` (the case's page).
MESSAGE_KINDS = ("case_message",)
# The Région's decision on a party's declaration (workflow.declarations) takes `declaration`
# {kind_label, accepted, effective_on, link}.
DECLARATION_KINDS = ("declaration_decided",)
# The electronic signature's e-mails (workflow.esign, issue 16) take `esign` (esign.mail_context).
ESIGN_KINDS = ("esign_invitation", "esign_invalidated", "esign_refused")
KINDS = (
    *REMINDER_KINDS,
    "employer_statement",
    "completion",
    *DEBT_REMINDER_KINDS,
    *MESSAGE_KINDS,
    *DECLARATION_KINDS,
    *ESIGN_KINDS,
)
# E-mails about an account rather than a case: a participant's one-time sign-in link (issue 15).
ACCOUNT_KINDS = ("invitation",)


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str | None


@cache
def _environment(autoescape: bool) -> Environment:
    env = Environment(
        loader=FileSystemLoader(templates_dir() / "emails"),
        undefined=StrictUndefined,
        autoescape=autoescape,
        keep_trailing_newline=True,
    )
    env.filters["date_fr"] = lambda d: date_fr(d) if isinstance(d, date) else str(d)
    env.filters["month_fr"] = lambda d: month_fr(d) if isinstance(d, date) else str(d)
    return env


def render_email(kind: str, context: Mapping[str, Any]) -> RenderedEmail:
    if kind not in KINDS + ACCOUNT_KINDS:
        known = ", ".join(KINDS + ACCOUNT_KINDS)
        raise FidelisError(f"Type de courriel inconnu : « {kind} » (types : {known}).")
    try:
        text_template = _environment(False).get_template(f"{kind}.txt.j2")
        subject = "".join(
            text_template.blocks["subject"](text_template.new_context(dict(context)))
        ).strip()
        text = text_template.render(context).strip() + "\n"
        try:
            html: str | None = _environment(True).get_template(f"{kind}.html.j2").render(context)
        except TemplateNotFound:
            html = None
    except UndefinedError as exc:
        raise FidelisError(
            f"Variable manquante pour le courriel « {kind} » : {exc.message}"
        ) from None
    return RenderedEmail(" ".join(subject.split()), text, html)


__all__ = [
    "ESIGN_KINDS",
    "render_email",
]
