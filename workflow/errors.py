"""The exceptions Fidelis raises on purpose. Every message is for a person, in French.

FidelisError                  anything the user can fix; the CLI prints it and exits 1
├── InvalidInput              a bad value: IBAN, SIRET, e-mail, date order, places…
│   └── GuardFailed           (also a TriggerRefused, below)
├── NotFound                  an id that does not exist
│   └── DocumentPurged        …any more: the retention purge erased it (workflow.documents.store)
├── NotEligible               an employer or commune outside a scheme's rules
├── UnknownTrigger            an action name the table does not know
├── TriggerRefused            a known action that cannot be done now
│   └── GuardFailed           …because named guards failed (SPEC §3): `failures` names them
├── ConcurrentModification    someone changed the case meanwhile (optimistic locking)
├── DatabaseBusy              SQLite's write lock not obtained within the busy timeout
├── SchemeError               a scheme file missing, unreadable or invalid (workflow.schemes)
├── UnknownScheme             a scheme id no file defines (workflow.schemes)
├── UnknownCommune            an INSEE code of no current commune (workflow.territory)
│   └── MalformedInsee        …not even shaped like one
├── DocumentError             a document cannot be produced (workflow.documents.render)
│   ├── MissingVariable       the template asks for a value the context lacks
│   └── LibreOfficeMissing    no LibreOffice to convert to PDF (workflow.documents.pdf)
├── DocumentTampered          a stored file no longer matches its SHA-256 (workflow.archive)
├── MailError                 the SMTP server refused or failed (workflow.mailer)
│   ├── TransientMailError    …try again later
│   │   └── ServerUnreachable …no SMTP session could be opened at all: the sender stops
│   └── PermanentMailError    …do not try again
├── SepaError                 a SEPA file would be empty or invalid (workflow.sepa)
├── IbanKeyMissing            no FIDELIS_IBAN_KEY to seal or reveal an IBAN (workflow.iban)
├── IbanKeyInvalid            …set, but not a key, or not the one that sealed it
├── RunRefused                the nightly run is already running (jobs.lease)
├── SealError                 the contract cannot be sealed: no certificate, bad passphrase
│                             (workflow.documents.seal)
├── EsignRefused              an electronic signature refused: code wrong, expired, locked,
│                             not this party's turn (workflow.esign)
└── SignInRefused             a sign-in refused (workflow.signin)
    ├── BadCredentials        …unknown address or wrong password (one message for both)
    ├── AccountDisabled       …the right password of a disabled account
    ├── LinkRefused           …a one-time sign-in link unknown, used or expired
    │                          (workflow.invitations)
    └── TooManyAttempts       …too many failures: `retry_after` says how long to wait

Each is defined beside the code that raises it; `tests/unit/test_public_surface.py` checks that
this tree names them all.
"""

from __future__ import annotations

from collections.abc import Sequence


class FidelisError(Exception):
    """Base class: an error whose message can be shown as is."""


class InvalidInput(FidelisError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(FidelisError):
    def __init__(self, what: str, ident: object) -> None:
        super().__init__(f"{what} introuvable : n° {ident}.")
        self.what = what
        self.ident = ident


class NotEligible(FidelisError):
    def __init__(self, message: str, reasons: Sequence[str] = ()) -> None:
        super().__init__(message + ("" if not reasons else " " + " ".join(reasons)))
        self.reasons = tuple(reasons)


class UnknownTrigger(FidelisError):
    def __init__(self, trigger: str, known: Sequence[str]) -> None:
        super().__init__(
            # A name typed at length is not repeated whole (workflow.validation.shown).
            f"Action inconnue : « {trigger[:60]} ». Actions possibles : {', '.join(known)}."
        )
        self.trigger = trigger


class TriggerRefused(FidelisError):
    def __init__(self, message: str, trigger: str) -> None:
        super().__init__(message)
        self.trigger = trigger


class GuardFailed(TriggerRefused, InvalidInput):
    """Named guards refused the action (SPEC §3); `failures` are (guard name, French message)
    pairs. It is also an InvalidInput: what was asked cannot be done as asked."""

    def __init__(
        self, trigger: str, failures: Sequence[tuple[str, str]], label: str | None = None
    ) -> None:
        self.failures = tuple(failures)
        detail = " ; ".join(message for _, message in self.failures)
        # The action as the reader knows it; no code (a page shows none, issue 15): the
        # command line adds the trigger and how to give what is missing (cli.main).
        action = f"« {label} »" if label else f"« {trigger} »"
        TriggerRefused.__init__(self, f"Action {action} refusée : {detail}", trigger)
        self.field = None

    @property
    def guards(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.failures)


class ConcurrentModification(FidelisError):
    def __init__(self, what: str = "L'enregistrement", ident: object = None) -> None:
        number = "" if ident is None else f" n° {ident}"
        super().__init__(
            f"{what}{number} a été modifié entre-temps par quelqu'un d'autre : "
            "rechargez-le et recommencez (rien n'a été enregistré)."
        )


class DatabaseBusy(FidelisError):
    """SQLite's write lock still held by someone else after the busy timeout."""

    def __init__(self, seconds: float) -> None:
        waited = format(seconds, "g").replace(".", ",")
        super().__init__(
            f"La base de données est occupée par un autre traitement depuis plus de {waited} s : "
            "réessayez dans un instant (rien n'a été enregistré)."
        )


__all__ = [
    "ConcurrentModification",
    "DatabaseBusy",
    "FidelisError",
    "GuardFailed",
    "InvalidInput",
    "NotFound",
]
