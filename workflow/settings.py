"""Deployment settings, from the environment (prefix FIDELIS_) — pydantic-settings.

FIDELIS_DB              database URL or SQLite file (default ./fidelis.db)
FIDELIS_DOCUMENTS_DIR   where generated and attached documents are stored (./documents)
FIDELIS_SCHEME_DIRS     extra folders of scheme files (see workflow.schemes)
FIDELIS_DEBTOR_NAME / _IBAN / _BIC   the funding body's account debited by SEPA transfers
FIDELIS_SMTP_*          outgoing mail (see workflow.mailer; no FIDELIS_SMTP_HOST: none is sent)
"""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FIDELIS_", extra="ignore")

    documents_dir: Path = Path("documents")
    debtor_name: str = "REGION OCCITANIE"
    # A well-formed example account until the treasury's own is configured.
    debtor_iban: str = "FR7630001007941234567890185"
    debtor_bic: str = "BDFEFRPPCCT"


def settings() -> Settings:
    """Read on each call (cheap), so tests and commands can change the environment."""
    return Settings()


__all__ = [
    "settings",
]
