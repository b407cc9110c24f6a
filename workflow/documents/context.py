"""What the Word templates print, as plain dictionaries (SPEC §5).

Pure functions: they read ORM objects that the caller has loaded (a `Case` with its learner and
institute, offer and employer, campaign, payments, reimbursements, suspensions and events), a
`Scheme` and a `Territory`, and return dictionaries of strings, numbers, booleans, lists and
dictionaries — already formatted in French, so that a template holds no logic beyond loops and
conditions. No database query, no clock, no file.

The values of the scheme (amounts, commitment length, payment day, breach rule, recovery delay)
are those in force on the case's contract date; for a contract issued before it is signed (the
case has no contract date yet), those in force on the issue date.

Every key a template prints is always present: a missing one makes the rendering fail
(`MissingVariable`) rather than leave a blank in a legal text. Optional facts are given as an
empty string or list, or with a boolean the template tests (`{%p if … %}`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from workflow import ledger, money
from workflow.documents.french import (
    NBSP,
    date_fr,
    euros,
    euros_in_words,
    integer_in_words,
    month_fr,
    months_in_words,
    percent,
    years_text,
)
from workflow.documents.french import (
    number as format_number,
)
from workflow.documents.labels import (
    breach_reason_label,
    departement_label,
    epci_type_label,
    funder_label,
    region_name,
    sector_label,
    suspension_reason_label,
)
from workflow.documents.render import DocumentError
from workflow.iban import masked
from workflow.models import Campaign, Case, Employer, Offer
from workflow.schemes import (
    EMPLOYER,
    LEARNER,
    CespRule,
    FullRefundRule,
    ProrataUnservedRule,
    Scheme,
    SlidingScaleRule,
)
from workflow.territory import Territory

__all__ = [
    "ADMINISTRATIVE_COURTS",
    "amendment_context",
    "campaign_list_context",
    "competent_court",
    "completion_certificate_context",
    "contract_context",
    "recovery_order_context",
]

Context = dict[str, Any]
Signatures = Mapping[str, tuple[str, date]]


# The administrative court of the seat of a région's council, used when a scheme file does not
# name one (`documents.court`). The scheme's own setting wins: an ARS scheme is judged where the
# ARS has its seat (ARS Bourgogne-Franche-Comté: Dijon), the Région Bourgogne-Franche-Comté's
# council sits in Besançon.
ADMINISTRATIVE_COURTS = {
    "76": "Tribunal administratif de Toulouse",
    "27": "Tribunal administratif de Besançon",
}

# Case events that issue an amendment ("avenant"): numbered in the order they happened.
AMENDMENT_TRIGGERS = frozenset({"suspend", "amend", "change_dates"})

# Terms of the RGPD clause that do not depend on the scheme.
_RGPD_REFERENCE = (
    "le règlement (UE) 2016/679 du Parlement européen et du Conseil du 27 avril 2016 relatif à "
    "la protection des personnes physiques à l'égard du traitement des données à caractère "
    "personnel et à la libre circulation de ces données (RGPD), et la loi n° 78-17 du "
    "6 janvier 1978 relative à l'informatique, aux fichiers et aux libertés"
)
_PURPOSES = (
    "l'instruction et le suivi du dossier d'allocation d'études",
    "le versement de l'allocation",
    "le suivi de l'engagement de servir",
    "le recouvrement, le cas échéant, des sommes à reverser",
)


# -- small helpers ---------------------------------------------------------------------------


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _dedup(items: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for item in items:
        text = _norm(item)
        if text and text.casefold() not in seen:
            seen.add(text.casefold())
            out.append(text)
    return out


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _in_sentence(text: str) -> str:
    """ "La Présidente de …" as the middle of a sentence says it: "la Présidente de …"."""
    first, _, rest = text.partition(" ")
    if first in ("Le", "La", "Les", "L'") and rest:
        return f"{first.lower()} {rest}"
    return text


def _list_text(items: Sequence[str]) -> str:
    """["a", "b", "c"] -> "a, b et c"."""
    items = list(items)
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return f"{', '.join(items[:-1])} et {items[-1]}"


def _parse_date(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise DocumentError(f"Date invalide pour {what} : « {value} » (AAAA-MM-JJ).") from None


def _days_text(n: int) -> str:
    return f"{n}{NBSP}jour" if n == 1 else f"{format_number(n)}{NBSP}jours"


def _tier_code(case: Case) -> str:
    if case.tier is None:
        raise DocumentError(f"Le palier du dossier n° {case.id} n'est pas choisi.")
    return case.tier


def _contract_number(case: Case) -> str:
    if not case.contract_number:
        raise DocumentError(f"Le dossier n° {case.id} n'a pas encore de numéro de contrat.")
    return case.contract_number


# -- parties ---------------------------------------------------------------------------------


def competent_court(scheme: Scheme) -> str:
    """The scheme's `documents.court`, else the court of its région's seat; DocumentError when
    neither is known."""
    configured = _norm(scheme.documents.court)
    if configured:
        return configured
    try:
        return ADMINISTRATIVE_COURTS[scheme.region_code]
    except KeyError:
        raise DocumentError(
            f"Tribunal administratif compétent inconnu pour la région {scheme.region_code} "
            f"(dispositif {scheme.id}) : renseignez « documents.court » dans le fichier du "
            "dispositif."
        ) from None


def _funding_short(scheme: Scheme) -> str:
    """How the contract names the funding body after introducing it: the `short` name of the
    first funder that declares one (the scheme's `funders`)."""
    shorts = (f.short for f in scheme.declared_funders.values() if f.short)
    return next(shorts, "le financeur")


def with_article(name: str) -> str:
    """The funding body as a sentence names it: "la Région Occitanie…", "l'Agence régionale de
    santé…", "le Département…"; a name that starts otherwise is left as it is."""
    first = name.split(" ", 1)[0]
    if first in ("Région", "Agence", "Collectivité", "Métropole", "Communauté", "Préfecture"):
        article = "la "
    elif first in ("Département", "Conseil", "Centre", "Groupement", "Établissement"):
        article = "le "
    else:
        return name
    if name[:1] in "AEIOUYÉÈÊÂÎÔ":
        article = "l'"
    return f"{article}{name}"


def funding_body_context(scheme: Scheme) -> Context:
    return {
        "name": scheme.funding_body,
        "the_name": with_article(scheme.funding_body),
        "short": _funding_short(scheme),
        "representative": scheme.documents.signatory,
        "representative_in_text": _in_sentence(scheme.documents.signatory),
        "address": scheme.documents.address,
        "dpo": scheme.documents.data_protection_contact,
        "region": region_name(scheme.region_code),
    }


def _commune_context(territory: Territory, insee: str) -> Context:
    commune = territory.commune(insee)
    epci_label = epci_type_label(commune.epci_type)
    if commune.epci_name:
        epci_text = f"membre de l'EPCI {commune.epci_name} ({epci_label})"
    else:
        epci_text = "membre d'aucun établissement public de coopération intercommunale"
    return {
        "commune": commune.name,
        "insee": commune.insee,
        "departement": departement_label(commune.departement),
        "departement_code": commune.departement,
        "region": region_name(commune.region),
        "epci": commune.epci_name or "",
        "epci_siren": commune.epci_siren or "",
        "epci_type": commune.epci_type or "",
        "epci_type_label": epci_label,
        "epci_text": epci_text,
    }


def employer_context(employer: Employer, territory: Territory) -> Context:
    return {
        "name": employer.name,
        "siret": employer.siret,
        "sector": sector_label(employer.sector),
        "email": employer.email or "",
        **_commune_context(territory, employer.commune_insee),
    }


def learner_context(case: Case, territory: Territory, *, require_iban: bool = False) -> Context:
    learner = case.learner
    if require_iban and not learner.iban:
        raise DocumentError(
            f"L'IBAN de {learner.full_name} manque : le contrat ne peut pas être établi."
        )
    institute = learner.institute
    institute_commune = territory.get(institute.commune_insee)
    return {
        "full_name": learner.full_name,
        "first_name": learner.first_name,
        "last_name": learner.last_name,
        "birth_date": date_fr(learner.birth_date),
        "email": learner.email,
        "iban_masked": masked(learner.iban),
        "institute": institute.name,
        "institute_commune": institute_commune.name if institute_commune else "",
        "training_start": date_fr(learner.training_start),
        "training_end": date_fr(learner.training_end),
    }


def _signature_blocks(
    case: Case, scheme: Scheme, signatures: Signatures | None
) -> dict[str, Context]:
    """One block per party of the scheme (the learner, then its signing funders as declared):
    who signs, and the name and date when known (else the template leaves lines to fill by
    hand: "Nom, date et signature")."""
    parties = scheme.signing_parties()
    given = dict(signatures or {})
    unknown = sorted(set(given) - set(parties))
    if unknown:
        raise DocumentError(
            f"Partie inconnue dans les signatures : {', '.join(unknown)} "
            f"(parties : {', '.join(parties)})."
        )
    titles = {LEARNER: ("L'apprenant(e)", case.learner.full_name)}
    for code in scheme.signing_funders():
        funder = scheme.funder(code)
        signs = funder.signs
        assert signs is not None  # signing_funders() keeps those that sign
        # The employer signs for itself: its name, unless the scheme gives a title.
        titles[code] = (signs.heading or f"Pour {funder.label}", signs.title or _employer(case))
    blocks: dict[str, Context] = {}
    for party in parties:
        title, who = titles[party]
        name, on = given.get(party, ("", None))
        blocks[party] = {
            "party": party,
            "title": title,
            "who": who,
            "signed": bool(name and on),
            "name": name,
            "date": date_fr(on) if on else "",
        }
    return blocks


def _signature_context(case: Case, scheme: Scheme, signatures: Signatures | None) -> dict[str, Any]:
    """`signatures` by party, and `signature_list` in signing order (the templates' table)."""
    blocks = _signature_blocks(case, scheme, signatures)
    return {
        "signatures": blocks,
        "signature_list": list(blocks.values()),
        "copies": integer_in_words(len(blocks)),  # one original for each party
        "employer_signs": EMPLOYER in blocks,
    }


def _employer(case: Case) -> str:
    return case.offer.employer.name


# -- money -----------------------------------------------------------------------------------


def _terms(
    case: Case, scheme: Scheme, issued_on: date
) -> tuple[ledger.CaseTerms, ledger.ContractTerms]:
    """The case's terms for the money rules and its contract's values: before signature, those
    of a contract signed on `issued_on` (see the module's doc). DocumentError without a tier."""
    _tier_code(case)
    terms = ledger.CaseTerms.of(case, scheme, if_signed_on=issued_on)
    assert terms.contract is not None  # a tier and a date (contract or issue) are known
    return terms, terms.contract


def _payer_text(funder: str, scheme: Scheme, iban_masked: str) -> str:
    """How the contract says the share is paid: by its funder's channel (`funders` in the
    scheme)."""
    declared = scheme.funder(funder)
    if declared.channel == "statement":
        return (
            f"versée chaque mois par {declared.label} directement à l'apprenant, sur la base "
            f"d'un relevé mensuel adressé par {_funding_short(scheme)} ; {declared.label} "
            "confirme chaque versement"
        )
    if declared.channel == "external":
        return f"versée chaque mois par {declared.label}"
    account = f" (IBAN {iban_masked})" if iban_masked else ""
    return (
        f"versée chaque mois par {declared.label} par virement sur le compte bancaire de "
        f"l'apprenant{account}"
    )


def _calendar(
    schedule: Sequence[money.Instalment], funders: Sequence[str]
) -> tuple[list[Context], dict[str, Decimal]]:
    by_month: dict[date, dict[str, money.Instalment]] = {}
    for i in schedule:
        by_month.setdefault(i.period, {})[i.funder] = i
    rows = []
    totals = {f: Decimal(0) for f in funders}
    for period in sorted(by_month):
        shares = by_month[period]
        amounts = [shares[f].amount if f in shares else Decimal(0) for f in funders]
        for f, a in zip(funders, amounts, strict=True):
            totals[f] += a
        due = min(i.due_date for i in shares.values())
        rows.append(
            {
                "month": month_fr(period),
                "due": date_fr(due),
                "amounts": [euros(a) for a in amounts],
                "total": euros(sum(amounts, Decimal(0))),
            }
        )
    return rows, totals


# -- rules -----------------------------------------------------------------------------------


def _breach_context(scheme: Scheme, on: date, months: int, prorata_part_time: bool) -> Context:
    """The breach rule in force on `on`, in words (SPEC §4)."""
    entry = scheme.breach.rule.entry_at(on)
    cfg = entry.value
    total_days = months * money.DAYS_PER_MONTH_30E360
    suspensions = "déduction faite des périodes de suspension"
    if prorata_part_time:
        suspensions += " et au prorata du temps de travail en cas de service à temps partiel"
    formula = ""
    match cfg:
        case ProrataUnservedRule():
            formula = (
                "montant perçu × jours non servis / jours dus, décomptés sur une base de "
                "30 jours par mois (30E/360)"
            )
            text = (
                "En cas de rupture de l'engagement pendant la période de service, l'apprenant "
                f"rembourse à chaque financeur : {formula}. Les jours dus sont égaux à la durée "
                f"de l'engagement en mois multipliée par 30, soit {_days_text(total_days)} ; "
                "les jours servis sont décomptés de la date de prise de poste jusqu'à la veille "
                f"de la date de rupture, {suspensions}."
            )
        case FullRefundRule():
            text = (
                "En cas de rupture de l'engagement pendant la période de service, l'apprenant "
                "rembourse à chaque financeur l'intégralité du montant perçu, quelle que soit la "
                "durée de service accomplie."
            )
        case SlidingScaleRule(steps=steps, after=after):
            parts = [
                f"{percent(s.rate)} du montant perçu si la rupture intervient avant "
                f"{s.within_months}{NBSP}mois de service"
                for s in steps
            ]
            parts.append(f"{percent(after)} au-delà")
            text = (
                "En cas de rupture de l'engagement pendant la période de service, l'apprenant "
                "rembourse à chaque financeur une part du montant perçu qui dépend de la durée "
                "de service accomplie, décomptée sur une base de 30 jours par mois (30E/360), "
                f"{suspensions} : {' ; '.join(parts)}."
            )
        case CespRule(penalty_per_month=per_month, penalty_cap=cap):
            text = (
                "En cas de rupture de l'engagement pendant la période de service, l'apprenant "
                "rembourse à chaque financeur le dernier montant mensuel de l'allocation "
                "multiplié par le nombre de mois non servis (tout mois commencé étant dû, "
                "décompté sur une base de 30 jours par mois, 30E/360), majoré d'une pénalité de "
                f"{euros(per_month)} par mois non servi, dans la limite de {euros(cap)}."
            )
        case _:  # pragma: no cover - the discriminated union is exhaustive
            raise AssertionError(cfg)
    recovery = scheme.recovery_days(on)
    return {
        "kind": cfg.kind,
        "rule_text": text,
        "formula": formula,
        "base_text": (
            "Le montant perçu s'entend, pour chaque financeur, de l'allocation versée ou due au "
            "titre de la période de formation, à l'exclusion des versements annulés."
        ),
        "before_service_text": (
            "Si la rupture intervient avant la prise de poste (abandon de la formation, refus "
            "du poste proposé, absence de prise de poste après l'obtention du diplôme), "
            "l'apprenant rembourse à chaque financeur l'intégralité du montant perçu."
        ),
        "total_days": total_days,
        "recovery_days": recovery,
        "recovery_days_words": f"{integer_in_words(recovery)} jours",
        "reference": entry.reference,
    }


def _references(scheme: Scheme, tier: str, on: date) -> list[str]:
    """The "Vu" of the contract: the RGPD, then the scheme's texts (the codes that apply to its
    funding body among them) and those of the values in force, each once."""
    refs: list[str] = []
    refs.append(_RGPD_REFERENCE)
    refs.extend(scheme.references.values())
    t = scheme.tier(tier)
    refs.extend(t.monthly[f].entry_at(on).reference for f in scheme.funders)
    refs.append(t.commitment_months.entry_at(on).reference)
    refs.append(scheme.allowance.payment_day.entry_at(on).reference)
    refs.append(scheme.breach.rule.entry_at(on).reference)
    refs.append(scheme.breach.recovery_days.entry_at(on).reference)
    if scheme.eligibility.rurality is not None and scheme.eligibility.rurality.reference:
        refs.append(scheme.eligibility.rurality.reference)
    return _dedup(refs)


def _data_protection(scheme: Scheme) -> Context:
    years = scheme.retention.years_after_closure
    return {
        "controller": with_article(scheme.funding_body),
        "address": scheme.documents.address,
        "contact": scheme.documents.data_protection_contact,
        "purposes": list(_PURPOSES),
        "purposes_text": _list_text(list(_PURPOSES)),
        "legal_basis": (
            "l'exécution du présent contrat et l'exécution d'une mission d'intérêt public "
            "(article 6, paragraphe 1, points b et e, du RGPD)"
        ),
        "recipients": (
            f"aux services habilités de {with_article(scheme.funding_body)} et à son comptable "
            "public, ainsi qu'à l'employeur et à l'institut de formation pour les seules données "
            "qui les concernent"
        ),
        "retention_years": years,
        "retention_text": (
            f"{years}{NBSP}ans ({integer_in_words(years)} ans) après la clôture du dossier"
            if years > 1
            else f"1{NBSP}an (un an) après la clôture du dossier"
        ),
    }


def _months_figures(months: int) -> str:
    """24 -> "24 mois, soit 2 ans"; 18 -> "18 mois"."""
    duration = years_text(months)
    figures = f"{months}{NBSP}mois"
    return figures if duration == figures else f"{figures}, soit {duration}"


def _commitment(terms: ledger.CaseTerms, months: int, scheme: Scheme) -> Context:
    end = ledger.commitment_end(terms)
    part_time = (
        "Le service à temps partiel est décompté au prorata du temps de travail : la durée de "
        "l'engagement est allongée d'autant."
        if scheme.part_time_counts_prorata()
        else "Le service à temps partiel est décompté comme un service à temps plein."
    )
    return {
        "months": months,
        "months_words": months_in_words(months),
        "duration": years_text(months),
        "figures": _months_figures(months),
        "total_days": months * money.DAYS_PER_MONTH_30E360,
        "start_text": (
            "L'engagement de servir commence à la date de prise de poste de l'apprenant chez "
            "l'employeur, après l'obtention du diplôme."
        ),
        "service_start": date_fr(terms.service_start) if terms.service_start else "",
        "end": date_fr(end) if end else "",
        "part_time_text": part_time,
    }


# -- documents -------------------------------------------------------------------------------


def contract_context(
    case: Case,
    scheme: Scheme,
    territory: Territory,
    *,
    number: str,
    issued_on: date,
    place: str,
    signatures: Signatures | None = None,
) -> Context:
    """The tripartite contract (SPEC §5): every clause's data."""
    terms, contract = _terms(case, scheme, issued_on)
    tier, on = contract.tier, contract.signed_on
    learner = learner_context(case, territory, require_iban=True)
    employer = employer_context(case.offer.employer, territory)
    months = contract.commitment_months
    monthly = contract.monthly
    schedule = ledger.allowance_schedule(terms)
    rows, totals = _calendar(schedule, scheme.funders)
    funders = [
        {
            "code": f,
            "label": funder_label(f),
            "name": _capitalised(funder_label(f)),
            "column": f"Part {funder_label(f)}",
            "monthly": euros(monthly[f]),
            "monthly_words": euros_in_words(monthly[f]),
            "total": euros(totals[f]),
            "total_words": euros_in_words(totals[f]),
            "payer": _payer_text(f, scheme, learner["iban_masked"]),
        }
        for f in scheme.funders
    ]
    monthly_sum = sum(monthly.values(), Decimal(0))
    grand_total = sum(totals.values(), Decimal(0))
    first = min((i.period for i in schedule), default=None)
    allowance_start = max(terms.training_start, on)
    payment_day = contract.payment_day
    if case.contract_date is None and schedule:
        calendar_note = (
            f"Calendrier établi pour un contrat signé au plus tard le {date_fr(allowance_start)} ; "
            "une signature plus tardive reporte le début de l'allocation à la date de signature."
        )
    else:
        calendar_note = ""
    suspension_labels = [suspension_reason_label(r) for r in scheme.commitment.suspension_reasons]
    exemption_labels = [breach_reason_label(r) for r in scheme.breach.exempting_reasons]
    return {
        "number": number,
        "issued_on": date_fr(issued_on),
        "place": place,
        "scheme": {
            "id": scheme.id,
            "label": scheme.label,
            "training": scheme.training,
        },
        "funding_body": funding_body_context(scheme),
        "employer": employer,
        "learner": learner,
        "references": _references(scheme, tier, on),
        "tier": {"code": tier, "label": scheme.tier(tier).label},
        "funders": funders,
        "funder_columns": [f["column"] for f in funders],
        "monthly_total": euros(monthly_sum),
        "monthly_total_words": euros_in_words(monthly_sum),
        "grand_total": euros(grand_total),
        "grand_total_words": euros_in_words(grand_total),
        "calendar": rows,
        "calendar_totals": [euros(totals[f]) for f in scheme.funders],
        "calendar_note": calendar_note,
        "has_calendar": bool(rows),
        "training": {
            "title": scheme.training,
            "start": date_fr(case.learner.training_start),
            "end": date_fr(case.learner.training_end),
            "institute": learner["institute"],
            "allowance_start": date_fr(allowance_start),
            "first_month": month_fr(first) if first else "",
        },
        "payment": {
            "day": payment_day,
            "text": (
                f"Chaque mensualité est due le {payment_day} du mois suivant le mois au titre "
                "duquel elle est versée."
            ),
            "proration_text": (
                "Le premier et le dernier mois sont versés au prorata des jours calendaires "
                "couverts (montant mensuel × jours couverts / jours du mois)."
                if scheme.allowance.proration == "calendar_days"
                else "Tout mois commencé de la période de formation est versé en entier."
            ),
        },
        "commitment": _commitment(terms, months, scheme),
        "suspension": {
            "reasons": suspension_labels,
            "reasons_text": _list_text(suspension_labels),
        },
        "breach": _breach_context(scheme, on, months, scheme.part_time_counts_prorata()),
        "exemptions": exemption_labels,
        "exemptions_text": _list_text(exemption_labels),
        "data_protection": _data_protection(scheme),
        "court": competent_court(scheme),
        "cumulable_with": list(scheme.allowance.cumulable_with),
        **_signature_context(case, scheme, signatures),
    }


def _recovery_text(case: Case, scheme: Scheme, funder: str, creditor: str) -> str:
    """How a share is recovered, as the scheme declares it (`funders.<code>.recovery`)."""
    declared = scheme.declared_funders.get(funder)
    if declared is not None and declared.recovery.channel == "employer":
        return (
            f"à reverser directement à l'employeur, {_employer(case)}, qui en confirme la réception"
        )
    return (
        f"{creditor} vous adressera le titre de recette correspondant, qui précise les "
        "modalités de paiement"
    )


def _breach_event_reason(case: Case) -> str:
    for event in reversed(case.events):
        if event.trigger == "breach":
            return event.reason or ""
    return ""


def recovery_order_context(
    case: Case, scheme: Scheme, territory: Territory, *, issued_on: date, place: str
) -> Context:
    """The recovery order on breach (SPEC §4, §5): per funder, the base, the amount and the date
    it is due; or the exemption decision and that nothing is owed."""
    if case.breach_date is None:
        raise DocumentError(
            f"Le dossier n° {case.id} n'est pas rompu : pas d'ordre de reversement."
        )
    terms, contract = _terms(case, scheme, issued_on)
    number = _contract_number(case)
    breach = case.breach_date
    on, months = contract.signed_on, contract.commitment_months
    recovery_days = scheme.recovery_days(on)
    default_due = breach + timedelta(days=recovery_days)
    rows_by_funder = {r.funder: r for r in case.reimbursements}
    if rows_by_funder:
        figures = {f: (r.base, r.amount, r.due_date) for f, r in rows_by_funder.items()}
    else:
        paid = ledger.payments_of(case)
        base = ledger.reimbursement_base(ledger.allowance_schedule(terms), paid)
        amounts = ledger.reimbursement(terms, paid, breach)
        figures = {
            f: (base.get(f, Decimal(0)), amounts.get(f, Decimal(0)), default_due)
            for f in scheme.funders
        }
    # Each funder's debt (SPEC §4b), numbered by the breach before this order is issued.
    debt_numbers = {d.funder: d.number for d in case.debts if d.kind == "breach"}
    served = ledger.served_days(terms, breach)
    during_service = served is not None
    rule = _breach_context(scheme, on, months, scheme.part_time_counts_prorata())
    total_days = months * money.DAYS_PER_MONTH_30E360
    unserved = None if served is None else max(Decimal(0), Decimal(total_days) - served)
    ordered = [f for f in scheme.funders if f in figures] + sorted(
        f for f in figures if f not in scheme.funders
    )
    funders = []
    for f in ordered:
        base_amount, amount, due = figures[f]
        computation = ""
        if (
            not case.exempted
            and rule["kind"] == "prorata_unserved"
            and unserved is not None
            and money.round_cents(base_amount * unserved / total_days) == amount
        ):
            computation = (
                f"{euros(base_amount)} × {number_text(unserved)} / {number_text(total_days)} "
                f"= {euros(amount)}"
            )
        creditor = (
            scheme.funder(f).payee()
            if f in scheme.declared_funders
            else with_article(scheme.funding_body)
        )
        funders.append(
            {
                "code": f,
                "label": funder_label(f),
                "name": _capitalised(funder_label(f)),
                # Whom the learner repays: the funder's `recovery.payee` (the employer itself
                # for its share).
                "creditor": creditor,
                "recovery": _recovery_text(case, scheme, f, creditor),
                "base": euros(base_amount),
                "amount": euros(amount),
                "amount_words": euros_in_words(amount),
                "due": date_fr(due),
                "computation": computation,
                "debt_number": debt_numbers.get(f, ""),
            }
        )
    total = sum((figures[f][1] for f in ordered), Decimal(0))
    learner = learner_context(case, territory)
    employer = employer_context(case.offer.employer, territory)
    if case.exempted:
        decided = []
        if case.exemption_decided_by:
            decided.append(f"prise par {case.exemption_decided_by}")
        if case.exemption_decided_on:
            decided.append(f"le {date_fr(case.exemption_decided_on)}")
        exemption_text = (
            f"Par décision n° {case.exemption_ref or 'non référencée'}"
            f"{' ' + ' '.join(decided) if decided else ''}, la rupture est reconnue comme "
            f"relevant d'un motif d'exonération ({breach_reason_label(case.breach_category)}) : "
            "aucune somme n'est due au titre du présent contrat."
        )
    else:
        exemption_text = ""
    return {
        "number": number,
        "issued_on": date_fr(issued_on),
        "place": place,
        "scheme": {"id": scheme.id, "label": scheme.label, "training": scheme.training},
        "funding_body": funding_body_context(scheme),
        "learner": learner,
        "address_block": [learner["full_name"], f"Courriel : {learner['email']}"],
        "employer": employer,
        "contract_date": date_fr(case.contract_date) if case.contract_date else "",
        "breach": {
            "date": date_fr(breach),
            "reason": breach_reason_label(case.breach_category),
            "reason_code": case.breach_category or "",
            "details": _breach_event_reason(case),
            "during_service": during_service,
            "service_start": date_fr(case.service_start) if case.service_start else "",
            "served_days": number_text(served) if served is not None else "",
            "unserved_days": number_text(unserved) if unserved is not None else "",
            "total_days": total_days,
            "rule_text": rule["rule_text"] if during_service else rule["before_service_text"],
            "formula": rule["formula"],
            "base_text": rule["base_text"],
            "recovery_days": recovery_days,
            "recovery_days_words": rule["recovery_days_words"],
        },
        "exempted": case.exempted,
        "exemption": {
            "reference": case.exemption_ref or "",
            "decided_by": case.exemption_decided_by or "",
            "decided_on": date_fr(case.exemption_decided_on) if case.exemption_decided_on else "",
            "text": exemption_text,
        },
        "funders": funders,
        "total": euros(total),
        "total_words": euros_in_words(total),
        # The letter names the employer among the contract's parties only if it signed it.
        "employer_signs": EMPLOYER in scheme.signing_funders(),
        "due": date_fr(max((figures[f][2] for f in ordered), default=default_due)),
        "court": competent_court(scheme),
    }


def number_text(value: int | Decimal) -> str:
    """A day count as printed: 525 -> "525", Decimal("156.000") -> "156", 1234 -> "1 234"."""
    if isinstance(value, Decimal):
        value = value.normalize()
        if value == value.to_integral_value():
            value = int(value)
    return format_number(value)


def completion_certificate_context(
    case: Case, scheme: Scheme, territory: Territory, *, issued_on: date, place: str
) -> Context:
    """The certificate that the commitment was fulfilled, from service start to its end."""
    terms, contract = _terms(case, scheme, issued_on)
    number = _contract_number(case)
    if case.service_start is None:
        raise DocumentError(f"Le dossier n° {case.id} n'a pas de date de prise de poste.")
    end = ledger.commitment_end(terms)
    if end is None:
        raise DocumentError(
            f"La fin de l'engagement du dossier n° {case.id} n'est pas connue "
            "(suspension en cours)."
        )
    months = contract.commitment_months
    suspensions = []
    for s in case.suspensions:
        if s.end is None:
            continue
        days = (s.end - s.start).days + 1
        suspensions.append(
            {
                "start": date_fr(s.start),
                "end": date_fr(s.end),
                "reason": suspension_reason_label(s.reason),
                "days": _days_text(days),
            }
        )
    return {
        "number": number,
        "issued_on": date_fr(issued_on),
        "place": place,
        "scheme": {"id": scheme.id, "label": scheme.label, "training": scheme.training},
        "funding_body": funding_body_context(scheme),
        "learner": learner_context(case, territory),
        "employer": employer_context(case.offer.employer, territory),
        "contract_date": date_fr(case.contract_date) if case.contract_date else "",
        "service_start": date_fr(case.service_start),
        "commitment_end": date_fr(end),
        "commitment": {
            "months": months,
            "months_words": months_in_words(months),
            "duration": years_text(months),
        },
        "suspensions": suspensions,
        "part_time": terms.part_time_ratio != 1,
        "part_time_text": (
            f"Service accompli à temps partiel ({percent(case.part_time_ratio)}), décompté au "
            "prorata du temps de travail."
        ),
    }


def _amendment_number(case: Case) -> int:
    """The amendments already recorded (events of AMENDMENT_TRIGGERS), plus one: the letter is
    issued before its own event is written."""
    return 1 + sum(1 for e in case.events if e.trigger in AMENDMENT_TRIGGERS)


def amendment_context(
    case: Case,
    scheme: Scheme,
    territory: Territory,
    *,
    issued_on: date,
    place: str,
    change: str,
    details: Mapping[str, str],
    signatures: Signatures | None = None,
) -> Context:
    """An amendment ("avenant") to the contract. `change` is "suspension" (details: "from",
    "to" — empty while it runs —, "reason" code) or "dates" (details: "training_start",
    "training_end", ISO dates, either may be absent). details["number"] overrides the
    amendment's number."""
    number = _contract_number(case)
    paragraphs: list[str] = []
    if change == "suspension":
        start = _parse_date(details.get("from", ""), "le début de la suspension")
        end_text = details.get("to", "")
        end = _parse_date(end_text, "la fin de la suspension") if end_text else None
        reason = suspension_reason_label(details.get("reason", ""))
        title = "Suspension de l'engagement de servir"
        if end is not None:
            days = (end - start).days + 1
            paragraphs.append(
                f"L'engagement de servir est suspendu du {date_fr(start)} au {date_fr(end)} "
                f"inclus ({_days_text(days)}), pour le motif suivant : {reason}."
            )
        else:
            paragraphs.append(
                f"L'engagement de servir est suspendu à compter du {date_fr(start)}, pour le "
                f"motif suivant : {reason}, jusqu'à la reprise du service."
            )
        new_end = ledger.commitment_end(ledger.CaseTerms.of(case, scheme))
        if new_end is not None:
            paragraphs.append(
                "La date de fin de l'engagement est reportée d'autant et fixée au "
                f"{date_fr(new_end)}."
            )
        else:
            paragraphs.append(
                "La date de fin de l'engagement est reportée de la durée de la suspension, "
                "constatée à la reprise du service."
            )
    elif change == "dates":
        title = "Modification des dates de formation"
        learner = case.learner
        start = (
            _parse_date(details["training_start"], "le début de la formation")
            if details.get("training_start")
            else learner.training_start
        )
        end = (
            _parse_date(details["training_end"], "la fin de la formation")
            if details.get("training_end")
            else learner.training_end
        )
        paragraphs.append(
            f"Les dates de la formation sont fixées du {date_fr(start)} au {date_fr(end)}."
        )
        paragraphs.append(
            "L'allocation est versée pour la période de formation ainsi modifiée, selon les "
            "montants et modalités du contrat ; les autres stipulations du contrat sont "
            "inchangées."
        )
    else:
        raise DocumentError(
            f"Avenant : type de modification inconnu « {change} » (types : suspension, dates)."
        )
    paragraphs.append("Les autres clauses du contrat demeurent inchangées.")
    amendment_number = details.get("number") or str(_amendment_number(case))
    return {
        "number": number,
        "amendment_number": amendment_number,
        "title": f"Avenant n° {amendment_number} au contrat n° {number}",
        "change": change,
        "change_title": title,
        "paragraphs": paragraphs,
        "issued_on": date_fr(issued_on),
        "place": place,
        "scheme": {"id": scheme.id, "label": scheme.label, "training": scheme.training},
        "funding_body": funding_body_context(scheme),
        "learner": learner_context(case, territory),
        "employer": employer_context(case.offer.employer, territory),
        "contract_date": date_fr(case.contract_date) if case.contract_date else "",
        **_signature_context(case, scheme, signatures),
    }


def campaign_list_context(
    campaign: Campaign,
    offers: Sequence[Offer],
    scheme: Scheme,
    territory: Territory,
    *,
    issued_on: date | None = None,
) -> Context:
    """The campaign's employers for the institutes, by département, commune and name."""
    rows = []
    for offer in offers:
        employer = employer_context(offer.employer, territory)
        rows.append(
            {
                **employer,
                "employer": employer["name"],
                "places": offer.places,
            }
        )
    rows.sort(key=lambda r: (r["departement_code"], r["commune"], r["employer"]))
    rentree = date(campaign.year, 9, 1)
    on = issued_on or rentree
    tiers = []
    for code, tier in scheme.tiers.items():
        monthly = scheme.monthly(code, on)
        months = scheme.commitment_months(code, on)
        shares = " + ".join(f"{euros(monthly[f])} ({funder_label(f)})" for f in scheme.funders)
        tiers.append(
            {
                "code": code,
                "label": tier.label,
                "text": f"{shares} par mois de formation ; engagement de {years_text(months)}",
            }
        )
    return {
        "scheme": {"id": scheme.id, "label": scheme.label, "training": scheme.training},
        "funding_body": funding_body_context(scheme),
        "campaign": {
            "year": campaign.year,
            "label": f"rentrée {campaign.year}",
            "is_open": campaign.is_open,
        },
        "employers": rows,
        "count": len(rows),
        "places_total": sum(r["places"] for r in rows),
        "tiers": tiers,
        "issued_on": date_fr(issued_on) if issued_on else "",
    }
