"""Deployment settings, from the environment (prefix FIDELIS_) — pydantic-settings.

FIDELIS_DB              database URL or SQLite file (default ./fidelis.db)
FIDELIS_DOCUMENTS_DIR   where generated and attached documents are stored (./documents)
FIDELIS_SCHEME_DIRS     extra folders of scheme files (see workflow.schemes)
FIDELIS_DEBTOR_NAME / _IBAN / _BIC   the funding body's account debited by SEPA transfers
FIDELIS_SMTP_*          outgoing mail (see workflow.mailer; no FIDELIS_SMTP_HOST: none is sent)
FIDELIS_DATE_HORIZON_DAYS  how far after today an effective date may be (365)
FIDELIS_MAX_BODY_BYTES / FIDELIS_MAX_IMPORT_BYTES  the web's request body limits (1 MB; 50 MB
                        for the imports page)
FIDELIS_TODAY           a fixed "today" (AAAA-MM-JJ) for demonstrations and tests only: never
                        set it in production (workflow.clock)
"""

from __future__ import annotations

import os
from datetime import date
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FIDELIS_", extra="ignore", frozen=True)

    documents_dir: Path = Path("documents")
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


def settings() -> Settings:
    """The environment's settings as they are now, so tests and commands can change it; parsed
    again only when a FIDELIS_ variable changed (a parse costs half a millisecond, and "today"
    is asked on every action)."""
    return _parsed(
        tuple(sorted((k, v) for k, v in os.environ.items() if k[:8].upper() == "FIDELIS_"))
    )


@lru_cache(maxsize=16)
def _parsed(environment: tuple[tuple[str, str], ...]) -> Settings:
    return Settings()


__all__ = [
    "settings",
]
