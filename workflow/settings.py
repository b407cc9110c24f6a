"""Deployment settings, from the environment (prefix FIDELIS_) — pydantic-settings.

FIDELIS_DB              database URL or SQLite file (default ./fidelis.db)
FIDELIS_DOCUMENTS_DIR   where generated and attached documents are stored (./documents)
FIDELIS_SCHEME_DIRS     extra folders of scheme files (see workflow.schemes)
FIDELIS_SEPA_<FUNDER>_NAME / _IBAN / _BIC   the account a `transfer` funder's SEPA files debit
                        (FIDELIS_SEPA_ARS_IBAN…), over what its scheme declares (`funders`)
FIDELIS_DEBTOR_NAME / _IBAN / _BIC   the older names of the `region` funder's account, read
                        when neither FIDELIS_SEPA_REGION_* nor the scheme give it
FIDELIS_SMTP_*          outgoing mail (see workflow.mailer; no FIDELIS_SMTP_HOST: none is sent)
FIDELIS_DATE_HORIZON_DAYS  how far after today an effective date may be (365)
FIDELIS_MAX_BODY_BYTES / FIDELIS_MAX_IMPORT_BYTES  the web's request body limits (1 MB; 50 MB
                        for the imports page)
FIDELIS_TODAY           a fixed "today" (AAAA-MM-JJ) for demonstrations and tests only: never
                        set it in production (workflow.clock)
FIDELIS_SECRET_KEY      the key that signs the session cookie (the same in every web worker)
FIDELIS_INSECURE_COOKIES=1   development over plain http only: cookies without `Secure`, no HSTS
FIDELIS_SESSION_IDLE_MINUTES / _LIFETIME_HOURS   a web session ends after 30 min idle, 12 h in all
FIDELIS_SIGNIN_*        how sign-in failures slow down then lock an account or an address
                        (workflow.signin.SignInPolicy)
FIDELIS_PUBLIC_URL      the web application's address as users reach it, for the links in e-mails
                        (http://localhost:8000)
FIDELIS_INVITATION_DAYS how long an invitation's one-time sign-in link stays valid (7 days)
FIDELIS_IBAN_KEY        the Fernet key learners' IBANs are encrypted with (see workflow.iban)
FIDELIS_SEAL_PKCS12 / FIDELIS_SEAL_PASSPHRASE   the funding body's seal certificate and key (a
                        PKCS#12 file outside the repository) the signed contracts are sealed with
FIDELIS_SEAL_TSA_URL    a timestamping authority (RFC 3161): the seal then carries a timestamp
FIDELIS_SEAL_TRUST_ROOTS  PEM file(s) of the authorities `fidelis contract verify` trusts
                        (separated by « : »; none: the seal certificate's own chain)
FIDELIS_SEAL_FONT       the TrueType font of the signature page (default: DejaVu Sans)
"""

from __future__ import annotations

import os
from datetime import date
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FIDELIS_", extra="ignore", frozen=True)

    documents_dir: Path = Path("documents")
    # The `region` funder's SEPA account when nothing else gives it (funder_account below).
    debtor_name: str = "REGION OCCITANIE"
    # A well-formed example account until the treasury's own is configured.
    debtor_iban: str = "FR7630001007941234567890185"
    debtor_bic: str = "BDFEFRPPCCT"
    # An effective date later than this after today is a typing error (issue 14); at least a
    # day, so that the nightly run may process tomorrow.
    date_horizon_days: int = Field(default=365, ge=1, le=3660)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_import_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    today: date | None = None
    # The web's sign-in and sessions (workflow.signin, issue 14).
    insecure_cookies: bool = False
    session_idle_minutes: int = Field(default=30, ge=1)
    session_lifetime_hours: int = Field(default=12, ge=1)
    signin_free_attempts: int = Field(default=3, ge=0)
    signin_lock_after: int = Field(default=10, ge=1)
    signin_address_free_attempts: int = Field(default=10, ge=0)
    signin_address_lock_after: int = Field(default=30, ge=1)
    signin_lock_minutes: int = Field(default=15, ge=1)
    signin_max_delay_seconds: int = Field(default=60, ge=1)
    signin_forget_minutes: int = Field(default=60, ge=1)
    # The address of the web application in the links Fidelis sends (invitations, signatures).
    public_url: str = "http://localhost:8000"
    # The participants' invitations (workflow.invitations, issue 15).
    invitation_days: int = Field(default=7, ge=1, le=60)
    # No default: a key in the code would encrypt nothing (workflow.iban says when it is missing).
    iban_key: SecretStr | None = None
    # Electronic signatures and the seal (workflow.esign, workflow.documents.seal; issue 16).
    secret_key: SecretStr | None = None
    seal_pkcs12: Path | None = None
    seal_passphrase: SecretStr | None = None
    seal_tsa_url: str | None = None
    seal_trust_roots: str | None = None
    seal_font: Path | None = None


def settings() -> Settings:
    """The environment's settings as they are now, so tests and commands can change it; parsed
    again only when a FIDELIS_ variable changed (a parse costs half a millisecond, and "today"
    is asked on every action)."""
    return _parsed(tuple(os.environ.get(name) for name in _variables()))


# The funder whose SEPA account the older FIDELIS_DEBTOR_* settings (and their example account)
# still give, as they did when the Région was the only funder paid by transfer.
LEGACY_DEBTOR_FUNDER = "region"
ACCOUNT_FIELDS = ("name", "iban", "bic")


def funder_account(code: str) -> dict[str, str]:
    """What the environment says of a funder's SEPA account: FIDELIS_SEPA_<CODE>_NAME, _IBAN,
    _BIC (those set and not blank). Read at each call: a file is exported a few times a month."""
    found: dict[str, str] = {}
    for key in ACCOUNT_FIELDS:
        value = os.environ.get(f"FIDELIS_SEPA_{code.upper()}_{key.upper()}", "").strip()
        if value:
            found[key] = value
    return found


def legacy_debtor() -> dict[str, str]:
    """The older FIDELIS_DEBTOR_* account (LEGACY_DEBTOR_FUNDER's), with its defaults."""
    conf = settings()
    return {"name": conf.debtor_name, "iban": conf.debtor_iban, "bic": conf.debtor_bic}


@lru_cache(maxsize=1)
def _variables() -> tuple[str, ...]:
    """The environment variables the settings read (FIDELIS_ and the field's name, upper case)."""
    return tuple(f"FIDELIS_{name.upper()}" for name in Settings.model_fields)


@lru_cache(maxsize=16)
def _parsed(environment: tuple[str | None, ...]) -> Settings:
    return Settings()


__all__ = [
    "ACCOUNT_FIELDS",
    "LEGACY_DEBTOR_FUNDER",
    "funder_account",
    "legacy_debtor",
    "settings",
]
