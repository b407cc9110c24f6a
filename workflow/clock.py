"""The one place that reads the machine's clock: it supplies default effective dates (SPEC §3)
and the "today" that bounds them (the horizon); rules and guards take dates as arguments.

The demonstration and the tests inject their own clock — `injected(clock)` within a process,
`FIDELIS_TODAY` for a command run in a subprocess — so that a story dated 2028 runs today.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from workflow.settings import settings

PARIS = ZoneInfo("Europe/Paris")
Clock = Callable[[], date]
_injected: ContextVar[Clock | None] = ContextVar("fidelis_clock", default=None)


def today_paris() -> date:
    """Today in Europe/Paris, unless a clock is injected (`injected`, then FIDELIS_TODAY)."""
    clock = _injected.get()
    if clock is not None:
        return clock()
    return settings().today or datetime.now(PARIS).date()


def is_injected() -> bool:
    """Whether "today" comes from an injected clock rather than the machine's."""
    return _injected.get() is not None or settings().today is not None


@contextmanager
def injected(clock: Clock) -> Iterator[None]:
    """Within the block, `today_paris()` is `clock()` (the demonstration's story, a test)."""
    token = _injected.set(clock)
    try:
        yield
    finally:
        _injected.reset(token)


def horizon(today: date) -> date:
    """The latest effective date accepted on `today` (FIDELIS_DATE_HORIZON_DAYS after it)."""
    return today + timedelta(days=settings().date_horizon_days)


__all__ = [
    "PARIS",
    "horizon",
    "injected",
    "is_injected",
    "today_paris",
]
