"""The rules of bounded input (issue 14), on plain values: the table of text limits and its
control characters, ids, ratios, the horizon of effective dates, the nightly run's as-of day,
the injected clock, the signed scan's formats and what the terminal is shown."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from jobs.nightly import check_as_of
from tests.unit.test_states import Facts
from workflow import clock, validation
from workflow.cli.common import plain
from workflow.documents.scans import SCAN_MAX_BYTES, scan_suffix
from workflow.errors import GuardFailed, InvalidInput
from workflow.states import ACTIONS, GUARDS, GuardContext, State, check, guards_of
from workflow.validation import LIMITS, MAX_ID

# -- texts --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(LIMITS))
def test_each_limit_accepts_its_length_and_refuses_one_more(kind: str) -> None:
    limit = LIMITS[kind]
    assert validation.text("x" * limit.chars, kind) == "x" * limit.chars
    with pytest.raises(InvalidInput, match=f"dépasse {limit.chars:,}".replace(",", "\xa0")):
        validation.text("x" * (limit.chars + 1), kind)


CONTROLS = [
    *(chr(c) for c in range(0x20) if chr(c) not in "\t\n"),
    "\x7f", "\x80", "\x9b", "\x9f",  # DEL and C1 (0x9B: the one-byte CSI)
    "\u2028", "\u2029",  # line and paragraph separators
    "\u202a", "\u202e", "\u2066", "\u2069",  # bidirectional embeddings, overrides, isolates
    "\ud800", "\udcff",  # lone surrogates (undecodable bytes on a terminal)
]  # fmt: skip


@pytest.mark.parametrize("char", CONTROLS, ids=[f"U+{ord(c):04X}" for c in CONTROLS])
@pytest.mark.parametrize("kind", ["name", "note"])
def test_control_characters_are_refused_with_their_code(char: str, kind: str) -> None:
    with pytest.raises(InvalidInput, match=f"U\\+{ord(char):04X} en position 3"):
        validation.text(f"ab{char}cd", kind)


def test_tab_and_newline_only_where_several_lines_are_allowed() -> None:
    assert validation.text("ligne 1\r\n\tligne 2 ", "note") == "ligne 1\n\tligne 2"
    assert validation.text("motif\nsur deux lignes", "reason") == "motif\nsur deux lignes"
    for char in "\t\n":
        with pytest.raises(InvalidInput, match="caractère de contrôle interdit"):
            validation.text(f"Lé{char}a", "person_name")


def test_names_in_any_script_are_accepted() -> None:
    for name in ("Léa-Marie d'Hérouville", "Ølstrøm", "Nguyễn", "محمد", "Ζωή", "李"):
        assert validation.text(name, "person_name") == name


def test_a_refused_value_is_repeated_short_and_without_its_controls() -> None:
    assert validation.shown("a\x1b[31mb") == "a\ufffd[31mb"
    assert validation.shown("x" * 500) == "x" * validation.SHOWN_CHARS + "…"
    with pytest.raises(InvalidInput) as refused:
        validation.parse_date("\x1b" + "9" * 100_000)
    assert len(str(refused.value)) < 200 and "\x1b" not in str(refused.value)


def test_email_siret_and_iban_are_bounded_before_they_are_parsed() -> None:
    with pytest.raises(InvalidInput, match="dépasse 254"):
        validation.email("a" * 250 + "@exemple.fr")
    with pytest.raises(InvalidInput, match="SIRET invalide"):
        validation.siret("7" * 100_000)
    with pytest.raises(InvalidInput, match=r"IBAN invalide : .* \(trop long\)"):
        validation.iban("FR76" * 100)
    # schwifty's reasons in French
    with pytest.raises(InvalidInput, match="clé de contrôle incorrecte"):
        validation.iban("FR7630006000011234567890188")


# -- numbers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["1", " 42 ", str(MAX_ID)])
def test_ids_from_one_to_the_largest_bigint(text: str) -> None:
    assert validation.ident(text, "CASE") == int(text)


@pytest.mark.parametrize(
    "text", ["0", "-1", str(MAX_ID + 1), "1" * 40, "1_000", "1e3", "١٢", "²", "", "abc"]
)
def test_other_ids_are_a_french_error(text: str) -> None:
    with pytest.raises(InvalidInput, match="Numéro invalide pour CASE"):
        validation.ident(text, "CASE")


@pytest.mark.parametrize(
    ("text", "value"),
    [("0,8", "0.8"), ("80 %", "0.8"), ("1", "1"), ("0.1", "0.1"), ("0.125", "0.125")],
)
def test_ratios_in_range(text: str, value: str) -> None:
    assert validation.ratio(text) == Decimal(value)


@pytest.mark.parametrize(
    "text",
    [
        "NaN",
        "sNaN",
        "Infinity",
        "-inf",
        "0",
        "0.05",
        "1.001",
        "1e-9",
        "1e3%",
        "0.8125",
        "0." + "5" * 40,
        "NaN%",
    ],
)
def test_ratios_out_of_range_or_too_precise_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput, match="Quotité de temps partiel invalide"):
        validation.ratio(text)


def test_places_have_a_ceiling() -> None:
    assert validation.places(validation.MAX_PLACES) == validation.MAX_PLACES
    with pytest.raises(InvalidInput, match="places"):
        validation.places(validation.MAX_PLACES + 1)


# -- the horizon, the nightly run, the clock ------------------------------------------------------


def _ctx(on: date, today: date | None) -> GuardContext:
    return GuardContext(
        State.LISTED, on, Facts(), last_effective_date=date(2026, 5, 1), today=today
    )


def test_every_action_checks_the_horizon() -> None:
    for name in ACTIONS:
        assert "within_horizon" in [g.name for g in guards_of(name)], name
    with pytest.raises(GuardFailed) as refused:
        check("submit", _ctx(date(2099, 1, 1), date(2026, 11, 28)))
    assert refused.value.guards == ("within_horizon",)
    assert check("submit", _ctx(date(2027, 11, 28), date(2026, 11, 28))) is State.APPLIED


def test_the_horizon_is_a_year_after_today_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FIDELIS_DATE_HORIZON_DAYS", raising=False)
    today = date(2026, 11, 28)
    guard = GUARDS["within_horizon"]
    assert guard.check(_ctx(today + timedelta(days=365), today))
    assert not guard.check(_ctx(today + timedelta(days=366), today))
    assert guard.message(_ctx(date(2099, 1, 1), today)) == (
        "la date d'effet (01/01/2099) est trop loin dans l'avenir : au plus tard le 28/11/2027, "
        "les dates d'un dossier ne pouvant plus reculer ensuite"
    )
    assert guard.check(_ctx(date(2099, 1, 1), None))  # no clock, no horizon (a replay)
    monkeypatch.setenv("FIDELIS_DATE_HORIZON_DAYS", "30")
    assert guard.check(_ctx(today + timedelta(days=30), today))
    assert not guard.check(_ctx(today + timedelta(days=31), today))


def test_the_nightly_run_goes_no_further_than_tomorrow() -> None:
    today = clock.today_paris()
    check_as_of(today + timedelta(days=1))
    check_as_of(today - timedelta(days=700))
    with pytest.raises(InvalidInput, match="au plus tard pour demain"):
        check_as_of(today + timedelta(days=2))


def test_today_is_the_machine_s_unless_a_clock_is_injected(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FIDELIS_TODAY")
    assert not clock.is_injected()
    monkeypatch.setenv("FIDELIS_TODAY", "2031-02-03")
    assert clock.today_paris() == date(2031, 2, 3) and clock.is_injected()
    with clock.injected(lambda: date(2040, 1, 1)):  # the demo's way, within a process
        assert clock.today_paris() == date(2040, 1, 1)
        check_as_of(date(2040, 1, 2))
    assert clock.today_paris() == date(2031, 2, 3)


# -- the signed scan -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "suffix"),
    [
        (b"%PDF-1.7\n...%%EOF", ".pdf"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", ".png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", ".jpg"),
        (b"II*\x00\x08\x00\x00\x00", ".tif"),
        (b"MM\x00*\x00\x00\x00\x08", ".tif"),
    ],
)
def test_a_scan_is_known_by_its_first_bytes(content: bytes, suffix: str) -> None:
    assert scan_suffix(content, "scan.exe") == suffix


@pytest.mark.parametrize(
    "content",
    [b"MZ\x90\x00", b"PK\x03\x04", b"<html>%PDF-", b"GIF89a", b"plain text", b" %PDF-1.4"],
)
def test_anything_else_is_no_scan(content: bytes) -> None:
    with pytest.raises(InvalidInput, match="ni un PDF ni une image"):
        scan_suffix(content, "scan.pdf")


def test_a_scan_is_neither_empty_nor_too_large() -> None:
    with pytest.raises(InvalidInput, match="vide"):
        scan_suffix(b"", "scan.pdf")
    with pytest.raises(InvalidInput, match="dépasse 20 Mo"):
        scan_suffix(b"%PDF-" + b"\x00" * SCAN_MAX_BYTES, "scan.pdf")


# -- the terminal ----------------------------------------------------------------------------------


def test_the_terminal_is_shown_data_as_text() -> None:
    assert plain("[bold]Léa[/bold]\x1b[31m") == "\\[bold]Léa\\[/bold]\ufffd[31m"
    assert plain("[link=http://exemple.invalid]ici[/link]") == (
        "\\[link=http://exemple.invalid]ici\\[/link]"
    )
    assert plain("Fabre") == "Fabre"
