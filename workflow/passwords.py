"""The password policy of the web accounts (issue 14), applied wherever a password is chosen:
`fidelis user add`, `fidelis user reset-password` and the administration page.

A password is 12 to 128 characters, does not contain the account's name or address, and zxcvbn
(Dropbox's estimator: dictionaries, keyboard patterns, repeats, dates) rates it at least 3 of 4 —
more than 10⁸ guesses. With sign-in slowed then locked after ten failures (workflow.signin), this
meets the CNIL's recommendation for a password with access restriction (deliberation 2022-100,
case 2) and ANSSI's advice to favour long passphrases over composition rules."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable

from zxcvbn import zxcvbn

from workflow.errors import InvalidInput

MIN_LENGTH = 12
MAX_LENGTH = 128
MIN_SCORE = 3
# zxcvbn knows English only: the passwords French people choose most, and this application's
# own words, count as known words too.
FRENCH_WORDS = (
    "azerty", "motdepasse", "soleil", "bonjour", "doudou", "loulou", "chouchou", "coucou",
    "jetaime", "marseille", "toulouse", "montpellier", "nicolas", "camille", "julien", "celine",
    "chocolat", "vacances", "printemps", "automne", "famille", "amour", "liberte", "france",
    "bienvenue", "secret", "fidelis", "region", "occitanie", "ehpad", "ifas", "infirmier",
    "infirmiere", "aidesoignant", "aidesoignante",
)  # fmt: skip
# zxcvbn's warnings (English) in French; an unknown one gets the general sentence.
WARNINGS = {
    'Repeats like "aaa" are easy to guess.': "les répétitions comme « aaa » se devinent vite",
    'Repeats like "abcabcabc" are only slightly harder to guess than "abc".': (
        "les répétitions comme « abcabc » se devinent presque aussi vite que « abc »"
    ),
    'Sequences like "abc" or "6543" are easy to guess.': (
        "les suites comme « abc » ou « 6543 » se devinent vite"
    ),
    "Straight rows of keys are easy to guess.": "une rangée de touches se devine vite",
    "Short keyboard patterns are easy to guess.": "un court motif de clavier se devine vite",
    "Recent years are easy to guess.": "les années récentes se devinent vite",
    "Dates are often easy to guess.": "les dates se devinent vite",
    "This is a top-10 common password.": "c'est l'un des mots de passe les plus courants",
    "This is a top-100 common password.": "c'est l'un des mots de passe les plus courants",
    "This is a very common password.": "c'est un mot de passe très courant",
    "This is similar to a commonly used password.": "il ressemble à un mot de passe courant",
    "A word by itself is easy to guess.": "un mot seul se devine vite",
    "Names and surnames by themselves are easy to guess.": (
        "un nom ou un prénom seul se devine vite"
    ),
    "Common names and surnames are easy to guess.": "les noms et prénoms courants se devinent vite",
}
GENERAL = "il est trop court ou trop prévisible"
ADVICE = (
    "Préférez une phrase de plusieurs mots peu courants, séparés par des espaces ou des tirets."
)
# zxcvbn keeps the user's words in a module-level dictionary: one estimate at a time.
_estimating = threading.Lock()


def _personal(name: str, email: str) -> list[str]:
    """The parts of the account's name and address long enough to be worth refusing."""
    words = re.split(r"[^\w]+", f"{name} {email.partition('@')[0]}".lower())
    return [w for w in words if len(w) >= 4]


def check(password: str, *, name: str = "", email: str = "", others: Iterable[str] = ()) -> None:
    """Raise InvalidInput (field `password`), in French, unless `password` meets the policy."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(
            f"Le mot de passe doit faire au moins {MIN_LENGTH} caractères. {ADVICE}", "password"
        )
    if len(password) > MAX_LENGTH:
        raise InvalidInput(
            f"Le mot de passe doit faire au plus {MAX_LENGTH} caractères.", "password"
        )
    lowered = password.lower()
    personal = _personal(name, email)
    if any(word in lowered for word in personal):
        raise InvalidInput(
            "Le mot de passe ne doit pas contenir votre nom ou votre adresse électronique.",
            "password",
        )
    with _estimating:
        found = zxcvbn(
            password,
            user_inputs=[*FRENCH_WORDS, *personal, *others],
            max_length=MAX_LENGTH,
        )
    if found["score"] < MIN_SCORE:
        warning = WARNINGS.get(found["feedback"]["warning"], GENERAL)
        raise InvalidInput(f"Mot de passe trop facile à deviner : {warning}. {ADVICE}", "password")


__all__ = ["MAX_LENGTH", "MIN_LENGTH", "check"]
