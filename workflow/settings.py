"""Deployment settings, from the environment (prefix FIDELIS_) — pydantic-settings.

FIDELIS_DB              database URL or SQLite file (default ./fidelis.db)
FIDELIS_DOCUMENTS_DIR   where generated and attached documents are stored (./documents)
FIDELIS_SCHEME_DIRS     extra folders of scheme files (see workflow.schemes)
FIDELIS_DEBTOR_NAME / _IBAN / _BIC   the funding body's account debited by SEPA transfers
FIDELIS_SMTP_*          outgoing mail (see workflow.mailer)
FIDELIS_SECRET_KEY      the key that signs the session cookie (the same in every web worker)
FIDELIS_INSECURE_COOKIES=1   development over plain http only: cookies without `Secure`, no HSTS
FIDELIS_SESSION_IDLE_MINUTES / _LIFETIME_HOURS   a web session ends after 30 min idle, 12 h in all
FIDELIS_SIGNIN_*        how sign-in failures slow down then lock an account or an address
                        (workflow.signin.SignInPolicy)
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FIDELIS_", extra="ignore")

    documents_dir: Path = Path("documents")
    debtor_name: str = "REGION OCCITANIE"
    # A well-formed example account until the treasury's own is configured.
    debtor_iban: str = "FR7630001007941234567890185"
    debtor_bic: str = "BDFEFRPPCCT"
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


def settings() -> Settings:
    """Read on each call (cheap), so tests and commands can change the environment."""
    return Settings()


__all__ = [
    "settings",
]
