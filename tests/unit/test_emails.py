from __future__ import annotations

from datetime import date, timedelta

import pytest

from workflow.emails import KINDS, render_email
from workflow.errors import FidelisError
from workflow.mailer import retry_delay

CONTEXT = {
    "case": {"id": 7, "contract_number": "OCC-AS-2026-00001", "state_label": "En formation"},
    "learner": {"full_name": "Léa Fabre", "email": "lea@exemple.fr"},
    "employer": {"name": "EHPAD Les Genêts", "email": "direction@exemple.fr"},
    "scheme": {"label": "Fidélisation AS", "funding_body": "Région Occitanie"},
    "due_date": date(2026, 9, 7),
    "period": date(2026, 9, 1),
    "lines": [
        {"learner": "Zoé <b>&", "contract_number": "OCC-AS-2026-00001", "amount": "120,00 €"}
    ],
    "total": "120,00 €",
    "link": "https://fidelis.exemple.fr/dossiers/7#messages",  # a new message (case_message)
    # The Région's decision on a party's declaration (declaration_decided).
    "declaration": {
        "kind_label": "Suspension de l'engagement",
        "accepted": False,
        "effective_on": date(2027, 10, 1),
        "link": "https://fidelis.exemple.fr/mon-espace/dossiers/7#declarations",
    },
    "debt": {
        "number": "OCC-AS-TR-2028-00001",
        "funder": "Région",
        "amount": "1 078,93 €",
        "balance": "971,04 €",
        "due_date": date(2028, 5, 15),
    },
    # The electronic signature's e-mails (workflow.esign.mail_context).
    "esign": {
        "signer_name": "Léa Fabre",
        "party_label": "l'apprenant",
        "link": "https://fidelis.exemple.fr/signature/jeton",
        "position": 1,
        "sha256": "ab" * 32,
        "reason": "données de l'apprenant modifiées",
        "refusals": [{"label": "l'apprenant", "name": "Léa Fabre", "reason": "Montant faux."}],
    },
}


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_in_french(kind: str) -> None:
    mail = render_email(kind, CONTEXT)
    assert mail.subject and "\n" not in mail.subject
    assert "Région Occitanie" in mail.text
    if kind != "employer_statement":
        assert "Léa Fabre" in mail.subject + mail.text or "OCC-AS-2026-00001" in mail.subject


def test_dates_are_written_in_french() -> None:
    assert "7 septembre 2026" in render_email("application_without_interview", CONTEXT).text
    assert "septembre 2026" in render_email("employer_statement", CONTEXT).subject


def test_a_missing_key_is_named() -> None:
    context = {k: v for k, v in CONTEXT.items() if k != "learner"}
    with pytest.raises(FidelisError, match="learner"):
        render_email("contract_unsigned", context)


def test_unknown_kind() -> None:
    with pytest.raises(FidelisError, match="inconnu"):
        render_email("spam", CONTEXT)


def test_html_is_escaped_and_text_is_literal() -> None:
    mail = render_email("employer_statement", CONTEXT)
    assert mail.html is not None and "Zoé &lt;b&gt;&amp;" in mail.html
    assert "Zoé <b>&" in mail.text


def test_backoff_grows_and_is_capped() -> None:
    delays = [retry_delay(n) for n in range(1, 10)]
    assert delays == sorted(delays)
    assert delays[0] == timedelta(minutes=1) and delays[-1] == timedelta(hours=6)


def test_the_signature_emails_carry_the_link_the_reason_and_the_refusals() -> None:
    assert (
        "https://fidelis.exemple.fr/signature/jeton"
        in render_email("esign_invitation", CONTEXT).text
    )
    assert "données de l'apprenant modifiées" in render_email("esign_invalidated", CONTEXT).text
    refused = render_email("esign_refused", CONTEXT)
    assert refused.subject.endswith("signature refusée") and "« Montant faux. »" in refused.text
