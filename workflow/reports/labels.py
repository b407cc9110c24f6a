"""The French words of the reports and of the web pages: event, payment-status, message,
document and nightly-run labels, funders as column headers, and the territory groups
(département, EPCI type) of an employer's commune."""

from __future__ import annotations

from workflow.documents.labels import (
    departement_label,
    epci_type_label,
    funder_label,
    sector_label,
)
from workflow.states import EVENT_LABELS, STATE_LABELS, State
from workflow.territory import default_territory

__all__ = [
    "DEBT_KIND_LABELS",
    "DEBT_STATUS_LABELS",
    "DOCUMENT_STATUS_LABELS",
    "EVENT_LABELS",
    "INSTALMENT_STATUS_LABELS",
    "MESSAGE_KIND_LABELS",
    "MESSAGE_STATUS_LABELS",
    "PAYMENT_STATUS_LABELS",
    "PLAN_STATUS_LABELS",
    "RUN_STATUS_LABELS",
    "STEP_LABELS",
    "capitalised",
    "departement_of",
    "departement_title",
    "epci_type_of",
    "epci_type_title",
    "event_label",
    "funder_title",
    "sector_title",
    "state_label",
]

PAYMENT_STATUS_LABELS = {
    "due": "dû",
    "exported": "exporté (virement SEPA)",
    "notified": "notifié à l'employeur",
    "paid": "payé",
    "cancelled": "annulé",
}

# The outbox: what each message is about, and where it stands.
MESSAGE_KIND_LABELS = {
    "application_without_interview": "candidature sans entretien",
    "selection_without_contract": "sélection sans contrat",
    "contract_unsigned": "contrat non signé",
    "training_ended_without_service": "formation finie sans prise de poste",
    "service_attestation_missing": "attestation annuelle de service manquante",
    "employer_share_unconfirmed": "versement employeur non confirmé",
    "commitment_end_approaching": "fin d'engagement proche",
    "employer_statement": "relevé mensuel employeur",
    "completion": "engagement honoré",
    "debt_overdue": "dette impayée à l'échéance",
    "debt_instalment_missed": "échéance de remboursement manquée",
    "invitation": "invitation (lien de connexion)",
    "case_message": "nouveau message sur le dossier",
    "declaration_decided": "décision sur une déclaration",
}

# Debts (SPEC §4b): their life, their origin, their payment plan and its instalments.
DEBT_STATUS_LABELS = {
    "open": "ouverte",
    "partially_repaid": "partiellement remboursée",
    "settled": "soldée",
    "waived": "remise",
    "written_off": "admise en non-valeur",
}
DEBT_KIND_LABELS = {"breach": "rupture de l'engagement", "overpayment": "trop-perçu"}
PLAN_STATUS_LABELS = {"active": "en cours", "lapsed": "caduc", "completed": "terminé"}
INSTALMENT_STATUS_LABELS = {
    "pending": "à venir",
    "paid": "payée",
    "missed": "manquée",
    "cancelled": "annulée",
}

MESSAGE_STATUS_LABELS = {
    "pending": "à envoyer",
    "sent": "envoyé",
    "failed": "en échec",
    "cancelled": "annulé",
}

DOCUMENT_STATUS_LABELS = {
    "issued": "émis",
    "superseded": "remplacé par une version plus récente",
    "invalidated": "invalidé",
    "purged": "effacé (durée de conservation échue)",
}

RUN_STATUS_LABELS = {
    "running": "en cours",
    "succeeded": "terminé",
    "failed": "en échec",
}

# The nightly run's steps (jobs.nightly.STEPS), as the counts of a run are read.
STEP_LABELS = {
    "transitions": "transitions",
    "seal": "scellement de l'historique",
    # Not a step: the transitions the run could not fire (workflow.anomalies).
    "anomalies": "anomalies",
    "payments": "paiements",
    "regularisations": "paiements complémentaires",
    "employer_statements": "relevés employeurs",
    "reminders": "relances",
    "commitment_checks": "contrôles",
    "debts": "dettes (relances, échéanciers)",
    "retention": "anonymisations",
    "retention_documents": "documents effacés",
    "outbox": "envois",
}

NO_EPCI = "aucun"


def capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def event_label(trigger: str) -> str:
    return EVENT_LABELS.get(trigger, trigger)


def state_label(state: State | str | None) -> str:
    if state is None:
        return ""
    try:
        return STATE_LABELS[State(state)]
    except ValueError:
        return str(state)


def funder_title(funder: str) -> str:
    """ "employer" -> "Employeur", "region" -> "Région", "ars" -> "ARS"."""
    return capitalised(funder_label(funder))


def departement_of(insee: str) -> str:
    """The département code of a commune, from the territory file (97x for overseas), or the
    code's first two characters when the commune is unknown."""
    commune = default_territory().get(insee)
    if commune is not None:
        return commune.departement
    return insee[:3] if insee.startswith("97") else insee[:2]


def epci_type_of(insee: str) -> str:
    """CA, CC, CU, METRO, MET69, or `aucun` (a commune outside any EPCI à fiscalité propre)."""
    commune = default_territory().get(insee)
    return commune.epci_type if commune is not None and commune.epci_type else NO_EPCI


def departement_title(code: str) -> str:
    return departement_label(code)


def epci_type_title(code: str) -> str:
    if code == NO_EPCI:
        return "Aucun EPCI à fiscalité propre"
    return f"{capitalised(epci_type_label(code))} ({code})"


def sector_title(code: str) -> str:
    return capitalised(sector_label(code))
