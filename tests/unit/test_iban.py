"""IBANs sealed with the key of the environment, shown masked without it (workflow.iban)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from workflow.errors import InvalidInput
from workflow.iban import Iban, IbanKeyInvalid, IbanKeyMissing, is_masked, new_key
from workflow.models import SealedIban

CLEAR = "FR7630006000011234567890189"


def test_sealed_then_revealed_with_the_key_masked_without_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sealed = Iban.seal("FR76 3000 6000 0112 3456 7890 189")
    assert CLEAR not in sealed.stored and "30006" not in sealed.stored
    assert sealed.reveal() == CLEAR
    assert sealed.masked == str(sealed) == "FR76 **** **** 0189"
    assert CLEAR not in repr(sealed) and CLEAR not in f"{sealed}"
    assert Iban.seal(CLEAR).stored != sealed.stored  # a fresh nonce each time
    assert sealed.same_as("fr76 3000 6000 0112 3456 7890 189")
    assert not sealed.same_as("FR7610107001011234567890129")
    monkeypatch.delenv("FIDELIS_IBAN_KEY")
    assert sealed.masked == "FR76 **** **** 0189"  # no key needed to show it masked
    with pytest.raises(IbanKeyMissing, match="FIDELIS_IBAN_KEY"):
        sealed.reveal()
    with pytest.raises(IbanKeyMissing, match="n'est pas définie"):
        Iban.seal(CLEAR)


def test_another_key_or_no_key_at_all_is_a_french_error(monkeypatch: pytest.MonkeyPatch) -> None:
    sealed = Iban.seal(CLEAR)
    monkeypatch.setenv("FIDELIS_IBAN_KEY", new_key())
    with pytest.raises(IbanKeyInvalid, match="ce n'est pas celle qui l'a chiffré"):
        sealed.reveal()
    monkeypatch.setenv("FIDELIS_IBAN_KEY", "motdepasse")
    with pytest.raises(IbanKeyInvalid, match="clé Fernet"):
        Iban.seal(CLEAR)


def test_a_bad_iban_is_refused_before_it_is_sealed() -> None:
    with pytest.raises(InvalidInput, match="IBAN invalide"):
        Iban.seal("FR7630006000011234567890188")


def test_a_masked_iban_is_recognised() -> None:
    assert is_masked("FR76 **** **** 0189") and is_masked(" fr76 **** **** 0189 ")
    assert not is_masked(CLEAR) and not is_masked("FR76 **** 0189")


def test_the_column_stores_only_sealed_values() -> None:
    column = SealedIban()
    dialect = sa.create_engine("sqlite://").dialect
    sealed = Iban.seal(CLEAR)
    assert column.process_bind_param(sealed, dialect) == sealed.stored
    assert column.process_result_value(sealed.stored, dialect) == sealed
    with pytest.raises(TypeError, match="sealed"):
        column.process_bind_param(CLEAR, dialect)  # type: ignore[arg-type]
