"""The one place that reads the machine's clock: it only supplies default effective dates
(SPEC §3) and the web's sign-in times; rules, guards and sessions take them as arguments."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
Clock = Callable[[], date]
# The web application's clock (workflow.signin): tests inject one they move by hand.
Instant = Callable[[], datetime]


def today_paris() -> date:
    return datetime.now(PARIS).date()


def now_utc() -> datetime:
    return datetime.now(UTC)


__all__ = [
    "PARIS",
    "Instant",
    "now_utc",
    "today_paris",
]
