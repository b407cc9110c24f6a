"""Wrong scheme files are refused at load with a French message naming the file and the key, never
a traceback — through `load_scheme` and through the CLI (issue 13, "schemes that are wrong")."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from workflow import money
from workflow.cli import app, main
from workflow.paths import config_dir
from workflow.schemes import SchemeError, _french_rule_error, load_scheme

OCCITANIE = config_dir() / "schemes" / "occitanie-fidelisation-as.yaml"
ARS = config_dir() / "schemes" / "ars-bfc-cae.yaml"

# (name, source file, text replaced, replacement, key named, French words)
CASES = [
    ("impossible date", OCCITANIE, "2018-09-01: {value: 24", "2027-02-30: {value: 24",
     "tiers.2x150.commitment_months.2027-02-30", "date invalide ou impossible"),
    ("date with a time", OCCITANIE, "2018-09-01: {value: 36", "2018-09-01 10:00: {value: 36",
     "tiers.2x200.commitment_months.2018-09-01 10:00", "date attendue, sans heure"),
    ("dates out of order", ARS, '2026-01-01: {value: "600.00"', '2023-01-01: {value: "600.00"',
     "tiers.cae.monthly.ars.2023-01-01", "ordre croissant"),
    ("date written twice", ARS, '2026-01-01: {value: "600.00"', '2024-01-01: {value: "600.00"',
     "tiers.cae.monthly.ars.2024-01-01", "clé écrite deux fois"),
    ("no dated value", OCCITANIE,
     '      region:\n        2018-09-01: {value: "150.00", reference: *ref_scheme}',
     "      region: {}", "tiers.2x150.monthly.region", "au moins une valeur datée"),
    ("undeclared funder", OCCITANIE, '      region:\n        2018-09-01: {value: "150.00"',
     '      regoin:\n        2018-09-01: {value: "150.00"', "tiers.2x150.monthly.regoin",
     "financeur non déclaré dans funders"),
    # `funders` is a mapping of declarations since funders are data (issue 13, item 3): the
    # three cases below edit it as such.
    ("funder without amounts", OCCITANIE, "funders:\n", "funders:\n  ars: {label: l'ARS, "
     "channel: transfer}\n", "tiers.2x150.monthly", "montant manquant pour le(s) financeur(s) ars"),
    ("funder declared twice", OCCITANIE, "funders:\n", "funders:\n  region: {label: x, "
     "channel: external}\n", "funders.region", "clé écrite deux fois"),
    ("funder code not a code", OCCITANIE, "funders:\n", "funders:\n  Région: {label: x, "
     "channel: external}\n", "funders.Région", "format invalide"),
    ("funder without a channel", ARS, "    channel: transfer\n", "", "funders.ars.channel",
     "mode de paiement manquant (transfer"),
    ("unknown channel", ARS, "    channel: transfer\n", "    channel: cheque\n",
     "funders.ars.channel", "valeurs possibles : 'transfer', 'statement' ou 'external'"),
    ("statement funder not the employer", ARS, "    channel: transfer\n",
     "    channel: statement\n", "funders.ars.channel", "réservé à l'employeur du dossier"),
    ("recovered by the employer but not it", ARS, "{channel: title, payee",
     "{channel: employer, payee", "funders.ars.recovery.channel", "réservé au financeur"),
    ("debtor of a statement funder", OCCITANIE, "    channel: statement          #",
     "    debtor: {name: EHPAD}\n    channel: statement          #", "funders.employer.debtor",
     "ne sert qu'au mode « transfer »"),
    ("debtor IBAN invalid", ARS, "debtor: {name: ARS BOURGOGNE-FRANCHE-COMTE}",
     "debtor: {name: ARS, iban: FR76 1234}", "funders.ars.debtor.iban", "IBAN invalide"),
    ("funder without a label", ARS, "    label: l'Agence régionale de santé Bourgogne-Franche-"
     "Comté\n", "", "funders.ars.label", "champ obligatoire"),
    ("funder named learner", OCCITANIE, "funders:\n", "funders:\n  learner: {label: x, "
     "channel: external}\n", "funders.learner", "désigne l'apprenant"),
    ("no funder", ARS, "funders:\n  ars:", "funders: {}\nx_ars:", "funders",
     "au moins 1 élément"),
    ("unknown funder in a tier", ARS, "      ars:\n        2024-01-01", "      arss:\n"
     "        2024-01-01", "tiers.cae.monthly.arss", "financeur non déclaré dans funders"),
    ("sliding steps out of order", ARS, "{within_months: 12,", "{within_months: 3,",
     "breach.rule.2024-01-01.value.steps.1.within_months", "strictement croissant"),
    ("sliding steps equal", ARS, "{within_months: 12,", "{within_months: 6,",
     "breach.rule.2024-01-01.value.steps.1.within_months", "strictement croissant"),
    ("sliding rate above 1", ARS, 'rate: "0.5"', 'rate: "1.5"',
     "breach.rule.2024-01-01.value.steps.1.rate", "inférieur ou égal à 1"),
    ("sliding rate below 0", ARS, 'after: "0"', 'after: "-0.1"',
     "breach.rule.2024-01-01.value.after", "supérieur ou égal à 0"),
    ("unknown rule kind", ARS, "kind: sliding_scale", "kind: sliding",
     "breach.rule.2024-01-01.value", "type de règle inconnu"),
    ("zero amount", OCCITANIE, '{value: "200.00"', '{value: "0"',
     "tiers.2x200.monthly.employer.2018-09-01.value", "strictement supérieur à 0"),
    ("negative amount", ARS, '{value: "500.00"', '{value: "-500.00"',
     "tiers.cae.monthly.ars.2024-01-01.value", "strictement supérieur à 0"),
    ("amount not a number", ARS, '{value: "500.00"', '{value: "cinq cents"',
     "tiers.cae.monthly.ars.2024-01-01.value", "nombre attendu"),
    ("zero commitment months", OCCITANIE, "{value: 36", "{value: 0",
     "tiers.2x200.commitment_months.2018-09-01.value", "supérieur ou égal à 1"),
    ("months not an integer", OCCITANIE, "{value: 36", "{value: trente",
     "tiers.2x200.commitment_months.2018-09-01.value", "nombre entier attendu"),
    ("payment day 31", OCCITANIE, "{value: 10,", "{value: 31,",
     "allowance.payment_day.2018-09-01.value", "inférieur ou égal à 28"),
    ("payment day 0", ARS, "{value: 5,", "{value: 0,",
     "allowance.payment_day.2024-01-01.value", "supérieur ou égal à 1"),
    ("negative recovery days", OCCITANIE, "{value: 30, reference", "{value: -1, reference",
     "breach.recovery_days.2018-09-01.value", "supérieur ou égal à 0"),
    ("missing key", ARS, "commitment_months:\n      2024-01-01: {value: 18", "x_months:\n      2024-01-01: {value: 18",
     "tiers.cae.commitment_months", "champ obligatoire"),
    ("unknown key", ARS, "training:", "trainning:", "trainning", "clé inconnue"),
    ("unknown reason", ARS, "[medical_inaptitude, force_majeure]", "[medical_inaptitude, luck]",
     "breach.exempting_reasons.1", "valeurs possibles : 'resignation'"),
    ("unknown suspension reason", OCCITANIE, "adoption, parental_leave", "adoption, holidays",
     "commitment.suspension_reasons.3", "valeurs possibles : 'maternity'"),
    ("minimum for an unknown reason", OCCITANIE, "{sick_leave: 31}", "{flu: 31}",
     "commitment.suspension_min_days.flu", "valeur inconnue, valeurs possibles : 'maternity'"),
    ("minimum for a reason not accepted", ARS, "adoption, sick_leave]",
     "adoption, sick_leave]\n  suspension_min_days: {parental_leave: 31}",
     "commitment.suspension_min_days.parental_leave", "motif absent de suspension_reasons"),
    ("minimum of zero days", OCCITANIE, "{sick_leave: 31}", "{sick_leave: 0}",
     "commitment.suspension_min_days.sick_leave", "supérieur ou égal à 1"),
    ("unknown part-time rule", OCCITANIE, "part_time: prorata", "part_time: half",
     "commitment.part_time", "valeurs possibles : 'prorata' ou 'full'"),
    ("unknown proration", ARS, "proration: whole_months", "proration: months",
     "allowance.proration", "valeurs possibles : 'calendar_days' ou 'whole_months'"),
    ("impossible date in a breach rule", ARS, "  rule:\n    2024-01-01:", "  rule:\n    2024-02-30:",
     "breach.rule.2024-02-30", "date invalide ou impossible"),
    ("sliding steps overlapping", ARS, "{within_months: 12,", "{within_months: 5,",
     "breach.rule.2024-01-01.value.steps.1.within_months", "strictement croissant"),
]  # fmt: skip


def _write(tmp_path: Path, source: Path, old: str, new: str) -> Path:
    text = source.read_text(encoding="utf-8")
    assert old in text  # the edit must apply, or the case tests nothing
    folder = tmp_path / "schemes"
    folder.mkdir()
    path = folder / source.name
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(("name", "source", "old", "new", "key", "words"), CASES)
def test_a_wrong_scheme_is_refused_in_french_naming_file_and_key(
    tmp_path: Path, name: str, source: Path, old: str, new: str, key: str, words: str
) -> None:
    path = _write(tmp_path, source, old, new)
    with pytest.raises(SchemeError) as error:
        load_scheme(path)
    message = str(error.value)
    lines = message.splitlines()  # one line per mistake
    assert any(line.startswith(f"{path}: {key}: ") and words in line for line in lines), message
    for english in ("Input should", "Field required", "Value error", "must ", "greater than"):
        assert english not in message


@pytest.mark.parametrize(("name", "source", "old", "new", "key", "words"), CASES)
def test_the_cli_says_it_in_french_and_exits_1(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    source: Path,
    old: str,
    new: str,
    key: str,
    words: str,
) -> None:
    path = _write(tmp_path, source, old, new)
    monkeypatch.setenv("FIDELIS_SCHEME_DIRS", str(path.parent))
    args = ["--db", f"sqlite:///{tmp_path / 'f.db'}", "scheme", "list"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert isinstance(result.exception, SchemeError)  # main() prints these, no traceback
    assert f"{path}: {key}: " in str(result.exception) and words in str(result.exception)


def test_main_prints_the_error_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, OCCITANIE, "2018-09-01: {value: 24", "2027-02-30: {value: 24")
    monkeypatch.setenv("FIDELIS_SCHEME_DIRS", str(path.parent))
    monkeypatch.setenv("COLUMNS", "400")  # one line, whatever the terminal
    monkeypatch.setattr(
        "sys.argv", ["fidelis", "--db", f"sqlite:///{tmp_path / 'f.db'}", "scheme", "list"]
    )
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 1
    printed = capsys.readouterr()
    text = " ".join((printed.out + printed.err).split())
    assert "Erreur :" in text
    assert "tiers.2x150.commitment_months.2027-02-30: date invalide ou impossible" in text
    assert "Traceback" not in text


def test_unreadable_yaml_is_french_and_never_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes(b"id: \xff\xfe")
    with pytest.raises(SchemeError, match=r"x\.yaml: illisible \(le fichier doit être encodé"):
        load_scheme(path)


@pytest.mark.parametrize(
    ("build", "words"),
    [
        (
            lambda: money.SlidingScale(
                steps=(money.SlidingStep(12, Decimal(1)), money.SlidingStep(6, Decimal("0.5")))
            ),
            "strictement croissant",
        ),
        (lambda: money.SlidingStep(0, Decimal(1)), "au moins 1"),
        (lambda: money.SlidingStep(6, Decimal(2)), "entre 0 et 1"),
        (lambda: money.SlidingScale(steps=(), after=Decimal(-1)), "entre 0 et 1"),
        (lambda: money.CespStyle(Decimal(1), Decimal(-1)), "pénalité"),
    ],
)
def test_money_refusals_of_a_sliding_scale_are_said_in_french(build: object, words: str) -> None:
    # The loader builds every dated breach rule; money.py's own English checks are translated.
    with pytest.raises(ValueError) as refused:
        build()  # type: ignore[operator]
    assert words in _french_rule_error(str(refused.value))


def test_the_shipped_schemes_still_load() -> None:
    assert load_scheme(OCCITANIE).funders == ("employer", "region")
    assert load_scheme(ARS).funders == ("ars",)
