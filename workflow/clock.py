"""The one place that reads the machine's clock: it only supplies default effective dates
(SPEC §3); rules and guards take dates as arguments."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
Clock = Callable[[], date]


def today_paris() -> date:
    return datetime.now(PARIS).date()


__all__ = [
    "PARIS",
    "today_paris",
]
