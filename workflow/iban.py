"""Learners' IBANs, encrypted at rest (RGPD art. 32) and shown masked everywhere but the SEPA file.

An `Iban` is what the database stores: the account sealed with Fernet (AES-128-CBC + HMAC-SHA256,
from `cryptography`) under the key `FIDELIS_IBAN_KEY`, with its country, check digits and last four
characters in clear — `v1:FR76:0189:gAAAA…` — so that pages, exports and documents can show it
masked (`FR76 **** **** 0189`) without the key. Only `seal` (entering an IBAN) and `reveal` (the
SEPA file, comparing an entered IBAN with the stored one) need the key; without it they raise
`IbanKeyMissing`, in French. An IBAN is checked (schwifty) before it is sealed, so a stored one is
valid: the `valid_iban` guard needs no key. `str()` of an `Iban` is its masked form, so printing one
by mistake never shows the account."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken

from workflow import validation
from workflow.errors import FidelisError
from workflow.settings import settings

VERSION = "v1"
KEY_VARIABLE = "FIDELIS_IBAN_KEY"
# An IBAN as the exports write it: its country and check digits, its last four characters.
MASKED = re.compile(r"^\s*([A-Z]{2}\d{2})\s+\*{4}\s+\*{4}\s+([0-9A-Z]{4})\s*$")


class IbanKeyMissing(FidelisError):
    def __init__(self) -> None:
        super().__init__(
            f"La clé de chiffrement des IBAN ({KEY_VARIABLE}) n'est pas définie : elle est "
            "nécessaire pour enregistrer un IBAN ou produire un fichier de virements. Définissez "
            "la même clé pour tous les processus (« fidelis privacy new-key » en crée une)."
        )


class IbanKeyInvalid(FidelisError):
    pass


def new_key() -> str:
    """A fresh key for FIDELIS_IBAN_KEY."""
    return Fernet.generate_key().decode("ascii")


def _fernet() -> Fernet:
    secret = settings().iban_key
    if secret is None or not secret.get_secret_value().strip():
        raise IbanKeyMissing()
    try:
        return Fernet(secret.get_secret_value().strip().encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise IbanKeyInvalid(
            f"La clé {KEY_VARIABLE} est invalide : il faut une clé Fernet (32 octets en base64, "
            "44 caractères) ; « fidelis privacy new-key » en crée une."
        ) from None


def mask(country_check: str, last4: str) -> str:
    return f"{country_check} **** **** {last4}"


def is_masked(text: str) -> bool:
    """Whether `text` is an IBAN written masked (an export read back): it says nothing new."""
    return MASKED.match(text.upper()) is not None


@dataclass(frozen=True)
class Iban:
    """A learner's IBAN as stored: `v1:<country and check digits>:<last four>:<Fernet token>`."""

    stored: str

    @classmethod
    def seal(cls, clear: str) -> Iban:
        """Check `clear` (schwifty; InvalidInput in French) and encrypt it under the key."""
        compact = validation.iban(clear)
        token = _fernet().encrypt(compact.encode("ascii")).decode("ascii")
        return cls(f"{VERSION}:{compact[:4]}:{compact[-4:]}:{token}")

    def _parts(self) -> tuple[str, str, str]:
        version, head, tail, token = [*self.stored.split(":", 3), "", "", ""][:4]
        if version != VERSION or not token:
            raise FidelisError("IBAN enregistré illisible (format inconnu).")
        return head, tail, token

    @property
    def masked(self) -> str:
        head, tail, _ = self._parts()
        return mask(head, tail)

    def reveal(self) -> str:
        """The IBAN in clear: for the SEPA file only (and to compare with an entered one)."""
        _, _, token = self._parts()
        try:
            return _fernet().decrypt(token.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise IbanKeyInvalid(
                f"La clé {KEY_VARIABLE} ne permet pas de lire l'IBAN enregistré "
                f"{self.masked} : ce n'est pas celle qui l'a chiffré."
            ) from None

    def same_as(self, clear: str) -> bool:
        """Whether the entered `clear` IBAN is the stored one (needs the key)."""
        return self.reveal() == validation.iban(clear)

    def __str__(self) -> str:
        return self.masked

    def __repr__(self) -> str:
        return f"Iban({self.masked!r})"


def masked(value: Iban | None) -> str:
    """The masked IBAN, or "" when none is known."""
    return value.masked if value is not None else ""


__all__ = [
    "KEY_VARIABLE",
    "Iban",
    "IbanKeyInvalid",
    "IbanKeyMissing",
    "is_masked",
    "mask",
    "masked",
    "new_key",
]
