"""Where Fidelis finds its configuration, templates and migrations (the project checkout)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def config_dir() -> Path:
    return Path(os.environ.get("FIDELIS_CONFIG_DIR", ROOT / "config"))


def templates_dir() -> Path:
    return ROOT / "templates"


def migrations_dir() -> Path:
    return ROOT / "migrations"


__all__ = [
    "templates_dir",
]
