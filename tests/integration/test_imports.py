"""Imports and exports of reference data (institutes, employers, learners) on SQLite and
PostgreSQL: French headers, every row checked with a French message, all or nothing,
duplicates, upserts that make a re-import change nothing, export → import round trips, the
command line and the upload page."""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from openpyxl import Workbook
from typer.testing import CliRunner

from tests.conftest import IBAN, RURAL_OCCITANIE, SCHEME, VALID_SIRETS, World
from tests.integration.test_case_service import contract_signed_by_all, to_selected
from tests.integration.test_web import PASSWORD, csrf_of, login
from workflow import accounts, cases, directory
from workflow.db import UnitOfWork, make_engine, session_factory
from workflow.imports import ImportResult, Issue, Kind, Report, export_file, import_file
from workflow.imports.readers import open_table
from workflow.models import Document, Employer, Institute, InstituteScheme, Learner
from workflow.schemes import SchemeRegistry
from workflow.web import create_app

TODAY = date(2026, 6, 1)
# Valid SIRETs (Luhn keys from stdnum) of employers the world does not hold.
NEW_SIRETS = ("81234567600017", "81234568400011", "81234569200014")
TOULOUSE = "31555"  # member of Toulouse Métropole: not rural
DIJON = "21231"  # Bourgogne-Franche-Comté (région 27): the ARS BFC scheme's territory

EMPLOYER_HEADER = [
    "Raison sociale",
    "SIRET",
    "Code commune",
    "Secteur",
    "Difficulté de recrutement",
    "Courriel",
]
LEARNER_HEADER = [
    "Nom",
    "Prénom",
    "Date de naissance",
    "Courriel",
    "Institut",
    "Début de formation",
    "Fin de formation",
    "IBAN",
]
GOOD_EMPLOYER = [
    "EHPAD Les Tilleuls",
    NEW_SIRETS[0],
    RURAL_OCCITANIE[0],
    "personnes âgées",
    "oui",
    "direction@tilleuls.fr",
]
GOOD_LEARNER = [
    "Fabre",
    "Léa",
    "05/04/2003",
    "lea.fabre@exemple.fr",
    "IFAS de Mende",
    "07/09/2026",
    "02/07/2027",
    IBAN,
]


# -- helpers -------------------------------------------------------------------------------------


def write_csv(
    path: Path,
    rows: Sequence[Sequence[object]],
    *,
    delimiter: str = ";",
    encoding: str = "utf-8-sig",
) -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        csv.writer(handle, delimiter=delimiter).writerows(rows)
    return path


def write_xlsx(path: Path, rows: Sequence[Sequence[object]]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(list(row))
    book.save(path)
    return path


def read_report(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle, delimiter=";"))


def read_table(path: Path) -> list[list[str]]:
    with open_table(path) as table:
        return [table.header, *(cells for _, cells in table.rows)]


def without_ibans(table: list[list[str]]) -> list[list[str]]:
    """An export as another database gives it back: IBANs are exported masked, and a masked IBAN
    read back says nothing (the account cannot travel through an export)."""
    if table[0][-1] != "IBAN":
        return table
    return [table[0], *([*row[:-1], ""] for row in table[1:])]


def run(
    engine: sa.Engine,
    schemes: SchemeRegistry,
    kind: Kind,
    path: Path,
    *,
    skip_invalid: bool = False,
    scheme_id: str | None = SCHEME,
) -> ImportResult:
    return import_file(
        UnitOfWork(session_factory(engine)), kind, path, skip_invalid=skip_invalid,
        report=Report(path.with_suffix(".erreurs.csv")), scheme_id=scheme_id,
        scheme_registry=schemes, today=TODAY,
    )  # fmt: skip


def rows_of(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the reference tables: to prove what an import wrote, or that it wrote
    nothing."""
    with engine.connect() as conn:
        return {
            model.__tablename__: sorted(tuple(r) for r in conn.execute(sa.select(model.__table__)))
            for model in (Institute, InstituteScheme, Employer, Learner)
        }


def count(engine: sa.Engine, model: type[Any]) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def employer(engine: sa.Engine, siret: str) -> Employer:
    with UnitOfWork(session_factory(engine)) as uow:
        found = uow.session.scalars(sa.select(Employer).where(Employer.siret == siret)).one()
        uow.session.expunge(found)
        return found


@pytest.fixture
def other_engine(
    db_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[sa.Engine]:
    """A second empty database on the same backend, to import an export into."""
    if db_url.startswith("sqlite"):
        path = tmp_path / "other.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        server = request.getfixturevalue("pg_server")
        url = server.create_database(template=request.getfixturevalue("pg_template"))
    engine = make_engine(url)
    yield engine
    engine.dispose()


# -- French headers, encodings -------------------------------------------------------------------


def test_french_headers_for_each_kind(
    engine: sa.Engine, schemes: SchemeRegistry, tmp_path: Path
) -> None:
    institutes = write_csv(tmp_path / "instituts.csv", [
        ["NOM DE L'INSTITUT", "Code Insée", "Dispositif"],
        ["IFAS de Mende", "48095", SCHEME],
        ["IFSI de Rodez", "12202", ""],
    ])  # fmt: skip
    result = run(engine, schemes, Kind.institutes, institutes)
    assert (result.written, result.created, result.invalid) == (True, 2, 0)
    employers = write_csv(tmp_path / "employeurs.csv", [
        ["Raison sociale", "N° SIRET", "code_insee", "Secteur d'activité", "Difficultés de recrutement", "Adresse e-mail"],
        ["EHPAD Les Genêts", "732 829 320 00074", "48095", "Personnes âgées", "Oui", "Direction@Genets.fr"],
        ["SAAD du Ségala", "55210055400013", "12145", "aide à domicile", "non", ""],
    ])  # fmt: skip
    result = run(engine, schemes, Kind.employers, employers)
    assert (result.written, result.created, result.invalid) == (True, 2, 0)
    genets = employer(engine, "73282932000074")
    assert (genets.name, genets.commune_insee, genets.sector) == (
        "EHPAD Les Genêts",
        "48095",
        "elderly",
    )
    assert genets.recruitment_difficulty is True and genets.email == "Direction@genets.fr"
    segala = employer(engine, "55210055400013")
    assert (segala.sector, segala.recruitment_difficulty, segala.email) == (
        "home_care",
        False,
        None,
    )
    learners = write_csv(tmp_path / "apprenants.csv", [
        ["Nom de famille", "Prénom", "Né(e) le", "Courriel", "Institut de formation", "Date de début de formation", "Date de fin de formation", "Compte IBAN"],
        ["Fabre", "Léa", "05/04/2003", "lea.fabre@exemple.fr", "ifas de mende", "2026-09-07", "02/07/2027", "FR76 3000 6000 0112 3456 7890 189"],
    ])  # fmt: skip
    result = run(engine, schemes, Kind.learners, learners)
    assert (result.written, result.created, result.invalid) == (True, 1, 0)
    with UnitOfWork(session_factory(engine)) as uow:
        lea = uow.session.scalars(sa.select(Learner)).one()
        mende = uow.session.scalars(
            sa.select(Institute).where(Institute.name == "IFAS de Mende")
        ).one()
        rodez = uow.session.scalars(
            sa.select(Institute).where(Institute.commune_insee == "12202")
        ).one()
        assert (lea.last_name, lea.first_name, lea.birth_date) == ("Fabre", "Léa", date(2003, 4, 5))
        assert (lea.training_start, lea.training_end) == (date(2026, 9, 7), date(2027, 7, 2))
        assert lea.iban is not None and lea.iban.reveal() == IBAN and lea.institute_id == mende.id
        # A new institute without « Dispositifs » is authorised for the import's scheme.
        assert [s.scheme_id for s in rodez.schemes] == [SCHEME]


def test_english_headers_commas_and_a_windows_encoded_file(
    engine: sa.Engine, schemes: SchemeRegistry, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "employers.csv", [
        ["name", "siret", "commune", "sector", "recruitment_difficulty", "email", "notes"],
        ["Résidence Les Aubépines", NEW_SIRETS[0], "12145", "elderly", "yes", "", "à rappeler"],
    ], delimiter=",", encoding="cp1252")  # fmt: skip
    result = run(engine, schemes, Kind.employers, path)
    assert (result.written, result.created) == (True, 1)
    assert result.ignored_columns == ("notes",)
    assert employer(engine, NEW_SIRETS[0]).name == "Résidence Les Aubépines"


def test_an_xlsx_with_date_cells_and_codes_typed_as_numbers(
    engine: sa.Engine, schemes: SchemeRegistry, world: World, tmp_path: Path
) -> None:
    employers = write_xlsx(tmp_path / "employeurs.xlsx", [
        EMPLOYER_HEADER,
        ["EHPAD de Foix", int(NEW_SIRETS[1]), 9225, "personnes âgées", "oui", None],  # 09225 lost its 0
    ])  # fmt: skip
    result = run(engine, schemes, Kind.employers, employers)
    assert (result.written, result.created) == (True, 1), result.issues
    assert employer(engine, NEW_SIRETS[1]).commune_insee == "09225"
    learners = write_xlsx(tmp_path / "apprenants.xlsx", [
        LEARNER_HEADER,
        ["Roux", "Inès", datetime(2002, 11, 30), "ines@exemple.fr", world.institute, datetime(2026, 9, 7), datetime(2027, 7, 2), None],
        [None, None, None, None, None, None, None, None],  # a blank row is skipped
    ])  # fmt: skip
    result = run(engine, schemes, Kind.learners, learners)
    assert (result.written, result.created, result.rows) == (True, 1, 1), result.issues
    with UnitOfWork(session_factory(engine)) as uow:
        ines = uow.session.scalars(sa.select(Learner).where(Learner.first_name == "Inès")).one()
        assert (ines.birth_date, ines.institute_id, ines.iban) == (
            date(2002, 11, 30),
            world.institute,
            None,
        )


# -- all or nothing, the report ------------------------------------------------------------------

MIXED = [
    EMPLOYER_HEADER,
    GOOD_EMPLOYER,
    ["EHPAD Mauvais SIRET", "12345678901234", "48095", "personnes âgées", "oui", ""],
    ["EHPAD de Toulouse", VALID_SIRETS[1], TOULOUSE, "personnes âgées", "oui", ""],
    ["Boulangerie", VALID_SIRETS[2], "12145", "boulangerie", "oui", "pas-un-courriel"],
    ["", NEW_SIRETS[1], "48095", "personnes âgées", "peut-être", ""],
    ["SAAD du Causse", NEW_SIRETS[2], "12145", "aide à domicile", "non", ""],
]


def test_a_file_with_bad_rows_writes_nothing_and_reports_every_problem(
    engine: sa.Engine, schemes: SchemeRegistry, tmp_path: Path
) -> None:
    before = rows_of(engine)
    path = write_csv(tmp_path / "employeurs.csv", MIXED)
    result = run(engine, schemes, Kind.employers, path)
    assert not result.written and (result.rows, result.valid, result.invalid) == (6, 2, 4)
    assert (result.created, result.updated, result.unchanged) == (0, 0, 0)
    assert result.refusal is not None and "Rien n'a été enregistré" in result.refusal
    assert rows_of(engine) == before
    assert result.report == tmp_path / "employeurs.erreurs.csv"
    assert read_report(result.report) == [
        ["Ligne", "Colonne", "Valeur", "Message"],
        [
            "3",
            "SIRET",
            "12345678901234",
            "SIRET invalide : « 12345678901234 » (14 chiffres dont une clé de contrôle ; vérifiez-le sur annuaire-entreprises.data.gouv.fr).",
        ],
        [
            "4",
            "Code commune",
            TOULOUSE,
            "Commune non éligible : Toulouse (31555) est membre de « Toulouse Métropole » (METRO) : commune non rurale (communauté d'agglomération, urbaine ou métropole).",
        ],
        [
            "5",
            "Secteur",
            "boulangerie",
            "Secteur inconnu : « boulangerie » (valeurs acceptées : aide à domicile (home_care), personnes âgées (elderly), personnes en situation de handicap (disability), établissement hospitalier (hospital), autre secteur (other)).",
        ],
        ["5", "Courriel", "pas-un-courriel", "Adresse e-mail invalide : « pas-un-courriel »."],
        ["6", "Raison sociale", "", "Valeur obligatoire manquante (Raison sociale)."],
        ["6", "Difficulté de recrutement", "peut-être", "Valeur attendue : oui ou non."],
    ]
    assert [(i.line, i.column) for i in result.issues] == [
        (3, "SIRET"),
        (4, "Code commune"),
        (5, "Secteur"),
        (5, "Courriel"),
        (6, "Raison sociale"),
        (6, "Difficulté de recrutement"),
    ]


def test_skip_invalid_writes_the_good_rows_and_reports_the_others(
    engine: sa.Engine, schemes: SchemeRegistry, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "employeurs.csv", MIXED)
    result = run(engine, schemes, Kind.employers, path, skip_invalid=True)
    assert result.written and (result.created, result.invalid, result.issue_count) == (2, 4, 6)
    assert sorted(e for (e,) in _sirets(engine)) == [NEW_SIRETS[0], NEW_SIRETS[2]]
    assert result.report is not None and len(read_report(result.report)) == 7


def _sirets(engine: sa.Engine) -> list[tuple[str]]:
    with engine.connect() as conn:
        return [(str(s),) for s in conn.scalars(sa.select(Employer.siret))]


def test_a_file_whose_rows_are_all_bad_is_refused_even_with_skip_invalid(
    engine: sa.Engine, schemes: SchemeRegistry, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "e.csv", [EMPLOYER_HEADER, MIXED[2]])
    result = run(engine, schemes, Kind.employers, path, skip_invalid=True)
    assert (
        not result.written
        and result.refusal is not None
        and "aucune ligne valide" in result.refusal
    )


def test_a_missing_column_refuses_the_file(
    engine: sa.Engine, schemes: SchemeRegistry, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "e.csv",
        [["Raison sociale", "Code commune", "Secteur"], ["EHPAD", "48095", "elderly"]],
    )
    result = run(engine, schemes, Kind.employers, path, skip_invalid=True)
    assert not result.written and count(engine, Employer) == 0
    assert [(i.line, i.column) for i in result.issues] == [(1, "SIRET")]
    assert result.issues[0].message.startswith(
        "Colonne obligatoire absente : « SIRET » (en-têtes acceptés : « SIRET », « N° SIRET »"
    )


def test_a_clean_import_leaves_no_report(
    engine: sa.Engine, schemes: SchemeRegistry, tmp_path: Path
) -> None:
    stale = tmp_path / "e.erreurs.csv"
    stale.write_text("an earlier run's report")
    path = write_csv(tmp_path / "e.csv", [EMPLOYER_HEADER, GOOD_EMPLOYER])
    result = run(engine, schemes, Kind.employers, path)
    assert result.written and result.report is None and not stale.exists()


# -- one clear French message per bad value ----------------------------------------------------

BAD_VALUES = [
    # kind, column, value, message (start)
    (
        Kind.employers,
        "Code commune",
        TOULOUSE,
        "Commune non éligible : Toulouse (31555) est membre de « Toulouse Métropole » (METRO) : commune non rurale",
    ),
    (
        Kind.employers,
        "Code commune",
        DIJON,
        "Commune non éligible : Dijon (21231) est en région 27, hors de la région du dispositif (76)",
    ),
    (
        Kind.employers,
        "Code commune",
        "99999",
        "Commune inconnue : code INSEE « 99999 » introuvable",
    ),
    (
        Kind.employers,
        "SIRET",
        "73282932000075",
        "SIRET invalide : « 73282932000075 » (14 chiffres dont une clé de contrôle",
    ),
    (Kind.employers, "SIRET", "7328293200", "SIRET invalide : « 7328293200 »"),
    (
        Kind.learners,
        "IBAN",
        "FR7630006000011234567890188",
        "IBAN invalide : « FR7630006000011234567890188 » (clé de contrôle incorrecte).",
    ),
    (
        Kind.learners,
        "IBAN",
        "FR76300060000112345678901",
        "IBAN invalide : « FR76300060000112345678901 » (longueur incorrecte pour ce pays).",
    ),
    (
        Kind.learners,
        "Date de naissance",
        "31/02/2003",
        "Date invalide : « 31/02/2003 » (format attendu JJ/MM/AAAA ou AAAA-MM-JJ",
    ),
    (
        Kind.learners,
        "Date de naissance",
        "2030-01-01",
        "Date de naissance invalide : 01/01/2030 (entre 1900 et aujourd'hui).",
    ),
    (
        Kind.learners,
        "Fin de formation",
        "01/09/2026",
        "La fin de formation (01/09/2026) doit être postérieure à son début (07/09/2026).",
    ),
    (Kind.learners, "Courriel", "lea.fabre@", "Adresse e-mail invalide : « lea.fabre@ »."),
    (
        Kind.learners,
        "Institut",
        "IFAS de Nulle-Part",
        "Institut inconnu : « IFAS de Nulle-Part ». Importez d'abord les instituts",
    ),
    (Kind.learners, "Institut", "9999", "Institut introuvable : n° 9999."),
    (Kind.institutes, "Code commune", "4809", "Commune inconnue : code INSEE « 04809 »"),
    (Kind.institutes, "Code commune", "ABCDE", "Code INSEE invalide : « ABCDE »"),
    (
        Kind.institutes,
        "Dispositifs",
        "occitanie-fidelisation-as, inconnu",
        "Dispositif inconnu : inconnu (dispositifs configurés : ars-bfc-cae, occitanie-fidelisation-as).",
    ),
]
GOOD_ROWS = {
    Kind.employers: (EMPLOYER_HEADER, GOOD_EMPLOYER),
    Kind.learners: (LEARNER_HEADER, GOOD_LEARNER),
    Kind.institutes: (["Nom", "Code commune", "Dispositifs"], ["IFAS de Florac", "48061", SCHEME]),
}


@pytest.mark.parametrize(("kind", "column", "value", "message"), BAD_VALUES)
def test_each_bad_value_has_a_clear_french_message(
    world: World, tmp_path: Path, kind: Kind, column: str, value: str, message: str
) -> None:
    header, good = GOOD_ROWS[kind]
    row = list(good)
    row[header.index(column)] = value
    before = rows_of(world.engine)
    result = run(world.engine, world.schemes, kind, write_csv(tmp_path / "f.csv", [header, row]))
    assert not result.written and rows_of(world.engine) == before
    assert len(result.issues) == 1, result.issues
    issue = result.issues[0]
    assert (issue.line, issue.column, issue.value) == (2, column, value)
    assert issue.message.startswith(message), issue.message


def test_without_a_scheme_an_employer_needs_the_territory_of_one_scheme(
    engine: sa.Engine, schemes: SchemeRegistry, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "e.csv", [
        EMPLOYER_HEADER,
        ["Centre hospitalier de Dijon", NEW_SIRETS[0], DIJON, "établissement hospitalier", "non", ""],
        ["EHPAD de Toulouse", NEW_SIRETS[1], TOULOUSE, "personnes âgées", "oui", ""],
    ])  # fmt: skip
    result = run(engine, schemes, Kind.employers, path, scheme_id=None)
    assert [(i.line, i.column) for i in result.issues] == [(3, "Code commune")]
    message = result.issues[0].message
    assert message.startswith("Commune acceptée par aucun dispositif : ")
    assert (
        "ars-bfc-cae : Toulouse (31555) est en région 76, hors de la région du dispositif (27)"
        in message
    )
    assert f"{SCHEME} : Toulouse (31555) est membre de « Toulouse Métropole » (METRO)" in message


# -- duplicates ----------------------------------------------------------------------------------


def test_duplicates_within_the_file_are_reported(
    engine: sa.Engine, schemes: SchemeRegistry, world: World, tmp_path: Path
) -> None:
    employers = write_csv(tmp_path / "e.csv", [
        EMPLOYER_HEADER,
        GOOD_EMPLOYER,
        ["Autre nom", NEW_SIRETS[0][:3] + " " + NEW_SIRETS[0][3:], "12145", "elderly", "oui", ""],
    ])  # fmt: skip
    result = run(engine, schemes, Kind.employers, employers)
    assert not result.written
    assert result.issues == [
        Issue(
            3,
            "SIRET",
            "812 34567600017",
            "Doublon dans le fichier : ce SIRET figure déjà à la ligne 2.",
        )
    ]
    learners = write_csv(tmp_path / "l.csv", [
        LEARNER_HEADER,
        GOOD_LEARNER,
        ["FABRE", "LEA", "2003-04-05", "autre@exemple.fr", "IFAS de Mende", "07/09/2026", "02/07/2027", ""],
    ])  # fmt: skip
    result = run(engine, schemes, Kind.learners, learners, skip_invalid=True)
    assert result.issues == [
        Issue(
            3,
            "Nom",
            "FABRE",
            "Doublon dans le fichier : cet apprenant (mêmes nom, prénom et date de naissance) figure déjà à la ligne 2.",
        )
    ]
    assert (result.created, result.invalid) == (1, 1)  # the first one is kept


def test_rows_already_in_the_database_are_updated_not_duplicated(
    world: World, tmp_path: Path
) -> None:
    w = world
    employers_before, learners_before = count(w.engine, Employer), count(w.engine, Learner)
    path = write_csv(tmp_path / "e.csv", [
        EMPLOYER_HEADER,
        ["EHPAD 0 (nouveau nom)", VALID_SIRETS[0], RURAL_OCCITANIE[0], "personnes âgées", "oui", ""],
        ["EHPAD 1", VALID_SIRETS[1], RURAL_OCCITANIE[1], "elderly", "oui", "direction1@exemple.fr"],
    ])  # fmt: skip
    result = run(w.engine, w.schemes, Kind.employers, path)
    assert (result.created, result.updated, result.unchanged) == (0, 1, 1)
    assert count(w.engine, Employer) == employers_before
    renamed = employer(w.engine, VALID_SIRETS[0])
    assert renamed.name == "EHPAD 0 (nouveau nom)"
    assert renamed.email == "direction0@exemple.fr"  # an empty optional cell erases nothing
    # Learners match on their identity, case and accents aside.
    path = write_csv(tmp_path / "l.csv", [
        LEARNER_HEADER,
        ["TEST", "apprenant0", "01/01/2003", "nouvelle@exemple.fr", "IFAS de Mende", "07/09/2026", "02/07/2027", ""],
    ])  # fmt: skip
    result = run(w.engine, w.schemes, Kind.learners, path)
    assert (result.created, result.updated) == (0, 1) and count(
        w.engine, Learner
    ) == learners_before
    with w.uow() as uow:
        learner = uow.session.get_one(Learner, w.learners[0])
        assert learner.iban is not None
        assert (learner.first_name, learner.email, learner.iban.reveal()) == (
            "Apprenant0",
            "nouvelle@exemple.fr",
            IBAN,
        )


def test_an_identity_shared_by_two_learners_of_the_database_is_refused(
    world: World, tmp_path: Path
) -> None:
    w = world
    twin = directory.add_learner(
        w.uow(), first_name="Apprenant0", last_name="Test", birth_date=date(2003, 1, 1),
        email="homonyme@exemple.fr", institute_id=w.institute, training_start=date(2026, 9, 7),
        training_end=date(2027, 7, 2), iban=None, today=TODAY,
    )  # fmt: skip
    before = rows_of(w.engine)
    path = write_csv(
        tmp_path / "l.csv",
        [
            LEARNER_HEADER,
            [
                "Test",
                "Apprenant0",
                "01/01/2003",
                "x@exemple.fr",
                "IFAS de Mende",
                "07/09/2026",
                "02/07/2027",
                "",
            ],
        ],
    )
    result = run(w.engine, w.schemes, Kind.learners, path)
    assert not result.written and rows_of(w.engine) == before
    assert result.issues == [
        Issue(
            2,
            "Nom",
            "Test",
            f"Plusieurs apprenants de la base correspondent à cette ligne (n° {w.learners[0]}, {twin}) : impossible de savoir lequel mettre à jour ; corrigez la base d'abord.",
        )
    ]


def test_a_changed_iban_invalidates_the_unsigned_contract_as_an_update_does(
    world: World, tmp_path: Path
) -> None:
    w = world
    case = cases.open_case(w.uow(), w.offers[0], w.learners[0], on=date(2026, 5, 30))
    to_selected(w, case)
    contract_signed_by_all(w, case)
    path = write_csv(
        tmp_path / "l.csv",
        [
            LEARNER_HEADER,
            [
                "Test",
                "Apprenant0",
                "01/01/2003",
                "a0@exemple.fr",
                "IFAS de Mende",
                "07/09/2026",
                "02/07/2027",
                "FR7610107001011234567890129",
            ],
        ],
    )
    result = run(w.engine, w.schemes, Kind.learners, path)
    assert result.updated == 1 and len(result.warnings) == 1 and "invalidé" in result.warnings[0]
    with w.uow() as uow:
        statuses = uow.session.scalars(sa.select(Document.status).where(Document.case_id == case))
        assert list(statuses) == ["invalidated"]


# -- re-import, round trip -----------------------------------------------------------------------


def test_reimporting_the_same_files_changes_nothing(
    engine: sa.Engine, schemes: SchemeRegistry, tmp_path: Path
) -> None:
    files = [
        (
            Kind.institutes,
            write_csv(
                tmp_path / "i.csv",
                [
                    ["Nom", "Code commune", "Dispositifs"],
                    ["IFAS de Mende", "48095", ""],
                    ["IFSI de Rodez", "12202", SCHEME],
                ],
            ),
        ),
        (
            Kind.employers,
            write_csv(
                tmp_path / "e.csv",
                [
                    EMPLOYER_HEADER,
                    GOOD_EMPLOYER,
                    ["SAAD", "55210055400013", "12145", "home_care", "non", ""],
                ],
            ),
        ),
        (
            Kind.learners,
            write_csv(
                tmp_path / "l.csv",
                [
                    LEARNER_HEADER,
                    GOOD_LEARNER,
                    [
                        "Roux",
                        "Inès",
                        "30/11/2002",
                        "ines@exemple.fr",
                        "IFSI de Rodez",
                        "07/09/2026",
                        "02/07/2027",
                        "",
                    ],
                ],
            ),
        ),
    ]
    for kind, path in files:
        assert run(engine, schemes, kind, path).created == 2
    before = rows_of(engine)
    for kind, path in files:
        result = run(engine, schemes, kind, path)
        assert (result.created, result.updated, result.unchanged, result.written) == (0, 0, 2, True)
    assert rows_of(engine) == before


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_export_then_import_gives_the_same_data(
    world: World, other_engine: sa.Engine, tmp_path: Path, suffix: str
) -> None:
    w = world
    directory.add_institute(
        w.uow(),
        name="IFSI « Les Cèdres » & Co",
        commune="12202",
        schemes=["ars-bfc-cae", SCHEME],
        scheme_registry=w.schemes,
    )
    directory.add_employer(
        w.uow(),
        name="=SOMME(A1)",
        siret=NEW_SIRETS[0],
        commune="12145",
        sector="home_care",
        recruitment_difficulty=False,
    )
    first = {kind: tmp_path / f"{kind.value}-1{suffix}" for kind in Kind}
    second = {kind: tmp_path / f"{kind.value}-2{suffix}" for kind in Kind}
    for kind in (Kind.institutes, Kind.employers, Kind.learners):  # learners name institutes
        assert export_file(w.uow(), kind, first[kind]) > 0
        result = run(other_engine, w.schemes, kind, first[kind], scheme_id=None)
        assert result.written and result.created > 0 and not result.issues, result.issues
        export_file(UnitOfWork(session_factory(other_engine)), kind, second[kind])
        assert read_table(second[kind]) == without_ibans(read_table(first[kind]))
        again = run(w.engine, w.schemes, kind, first[kind], scheme_id=None)
        assert again.unchanged == again.rows and again.created == again.updated == 0
    if suffix == ".csv":
        assert all(
            first[k].read_bytes() == second[k].read_bytes() for k in Kind if k != Kind.learners
        )
    exported = read_table(first[Kind.learners])
    assert exported[0] == [
        "Nom",
        "Prénom",
        "Date de naissance",
        "Courriel",
        "Institut",
        "Code commune de l'institut",
        "Début de formation",
        "Fin de formation",
        "IBAN",
    ]
    assert exported[1][:3] == [
        "Test",
        "Apprenant0",
        "01/01/2003" if suffix == ".csv" else "2003-01-01",
    ]
    assert ["=SOMME(A1)", NEW_SIRETS[0], "12145", "aide à domicile", "non", ""] in read_table(
        first[Kind.employers]
    )


# -- the command line ----------------------------------------------------------------------------


@pytest.fixture
def cli_engines(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[sa.Engine]]:
    """The engines the in-process commands create, disposed at the end (a process exit would)."""
    from workflow.cli import common

    engines: list[sa.Engine] = []

    def tracked(url: str | None = None, **kwargs: Any) -> sa.Engine:
        engines.append(make_engine(url, **kwargs))
        return engines[-1]

    monkeypatch.setattr(common, "make_engine", tracked)
    yield engines
    for e in engines:
        e.dispose()


def test_the_command_line_refuses_then_skips_and_exports(
    db_url: str, engine: sa.Engine, tmp_path: Path, cli_engines: list[sa.Engine]
) -> None:
    from workflow.cli import app

    runner = CliRunner()
    path = write_csv(tmp_path / "employeurs.csv", MIXED)
    refused = runner.invoke(app, ["--db", db_url, "import", "employers", str(path)])
    assert refused.exit_code == 1, refused.output
    assert (
        "Import des employeurs refusé : 4 ligne(s) invalide(s) sur 6. Rien n'a été enregistré"
        in refused.stderr
    )
    assert "ligne 3, SIRET « 12345678901234 » : SIRET invalide" in refused.stderr
    assert (tmp_path / "employeurs.erreurs.csv").exists() and count(engine, Employer) == 0
    done = runner.invoke(
        app,
        [
            "--db",
            db_url,
            "import",
            "employers",
            str(path),
            "--skip-invalid",
            "--json",
            "--report",
            str(tmp_path / "r.xlsx"),
        ],
    )
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert (data["created"], data["invalid"], data["written"], data["report"]) == (
        2,
        4,
        True,
        str(tmp_path / "r.xlsx"),
    )
    assert read_table(tmp_path / "r.xlsx")[1] == [
        "3",
        "SIRET",
        "12345678901234",
        data["issues"][0]["message"],
    ]
    out = tmp_path / "export.csv"
    exported = runner.invoke(app, ["--db", db_url, "export", "employers", str(out)])
    assert exported.exit_code == 0 and "Export des employeurs : 2 ligne(s)" in exported.stdout
    again = runner.invoke(app, ["--db", db_url, "import", "employers", str(out)])
    assert again.exit_code == 0 and "0 créé(s), 0 mis à jour, 2 inchangé(s)" in again.stdout
    bad = runner.invoke(app, ["--db", db_url, "import", "employers", str(tmp_path / "x.ods")])
    assert bad.exit_code == 1 and "Format de fichier non pris en charge" in str(bad.exception)


# -- the upload page -------------------------------------------------------------------------------


@pytest.fixture
def client(
    world: World, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    monkeypatch.setattr("workflow.web.imports.reports_dir", lambda: tmp_path)
    with world.uow() as uow:
        employer_id = uow.session.scalars(sa.select(Employer.id)).first()
    for role, extra in (("region", {}), ("admin", {}), ("employer", {"employer_id": employer_id})):
        accounts.add_user(
            world.uow(),
            email=f"{role}@exemple.fr",
            name=role.capitalize(),
            role=role,
            password=PASSWORD,
            **extra,
        )
    with TestClient(create_app(db_url, secret_key="test")) as c:
        yield c


def _upload(client: TestClient, path: Path, csrf: str | None, **fields: str) -> Any:
    data = {"kind": "employers", "scheme": SCHEME, **fields}
    if csrf is not None:
        data["csrf"] = csrf
    with path.open("rb") as handle:
        return client.post("/imports", data=data, files={"file": (path.name, handle, "text/csv")})


def test_the_upload_page_is_for_caseworkers_only(
    client: TestClient, world: World, tmp_path: Path
) -> None:
    login(client, "employer")
    assert client.get("/imports").status_code == 403
    path = write_csv(tmp_path / "e.csv", [EMPLOYER_HEADER, GOOD_EMPLOYER])
    before = rows_of(world.engine)
    assert _upload(client, path, csrf_of(client.get("/").text)).status_code == 403
    assert rows_of(world.engine) == before
    login(client, "admin")
    page = client.get("/imports")
    assert page.status_code == 200 and "Imports de fichiers" in page.text
    assert '<label class="fr-label" for="file">' in page.text
    assert '<label class="fr-label" for="kind">' in page.text
    assert 'href="/imports" aria-current="page">Imports</a>' in page.text


def test_an_upload_without_csrf_token_is_refused(
    client: TestClient, world: World, tmp_path: Path
) -> None:
    login(client, "region")
    before = rows_of(world.engine)
    response = _upload(
        client, write_csv(tmp_path / "e.csv", [EMPLOYER_HEADER, GOOD_EMPLOYER]), None
    )
    assert response.status_code == 403 and "CSRF" in response.text
    assert rows_of(world.engine) == before


def test_an_upload_shows_the_problems_and_the_report_then_skips_them(
    client: TestClient, world: World, tmp_path: Path
) -> None:
    login(client, "region")
    csrf = csrf_of(client.get("/imports").text)
    path = write_csv(tmp_path / "employeurs.csv", MIXED)
    before = rows_of(world.engine)
    refused = _upload(client, path, csrf)
    assert refused.status_code == 400 and "Import des employeurs refusé" in refused.text
    assert (
        "<td>12345678901234</td>" in refused.text
        and "Valeur attendue : oui ou non." in refused.text
    )
    assert rows_of(world.engine) == before
    link = refused.text.split('href="/imports/rapports/')[1].split('"')[0]
    report = client.get(f"/imports/rapports/{link}")
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(report.content.decode("utf-8-sig").splitlines(), delimiter=";"))
    assert lines[0] == ["Ligne", "Colonne", "Valeur", "Message"] and len(lines) == 7
    assert (
        TestClient(client.app).get(f"/imports/rapports/{link}", follow_redirects=False).status_code
        == 303
    )  # signed out
    done = _upload(client, path, csrf, skip_invalid="1")
    assert (
        done.status_code == 200
        and "2 créé(s), 0 mis à jour, 0 inchangé(s), 4 ligne(s) invalide(s) écartée(s)" in done.text
    )
    assert count(world.engine, Employer) == len(before["employers"]) + 2
