"""Signing in to the web application as a public body's security officer expects (issue 14, after
ANSSI's and the CNIL's recommendations on authentication).

Throttling. Each failed sign-in is counted twice in `sign_in_throttles`: for the account (the
address typed, known or not, so that the answer never tells which accounts exist) and for the
client's address. The first failures are free; after them each failure makes the next attempt
wait longer (2, 4, 8… seconds, at most `max_delay`), and at `lock_after` failures the account, or
`address_lock_after` the address, is locked for `lock` (15 minutes). A refused attempt is
answered at once — « réessayez dans N minutes » — and not counted; no request sleeps. An attempt
is counted *before* its password is checked, in one short transaction that locks both rows, so
that parallel guesses cannot slip past the count; a success then takes it back, and clears the
account's record (not the address's: one good account would otherwise wipe a spraying record).
Records calm for `forget` (an hour) are dropped. The rows live in the database, so every web
worker counts the same failures.

Sessions. A successful sign-in opens a row of `web_sessions`; the browser's cookie carries a
random id, of which the table keeps only the SHA-256. A session is refused once revoked (sign-out,
account disabled, password reset: workflow.accounts), after `idle` without a request (30 min) or
`lifetime` after it opened (12 h), whatever its cookie says.

Every function takes `now` (workflow.clock): tests move time by hand."""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from workflow import accounts
from workflow.accounts import Principal
from workflow.errors import FidelisError
from workflow.models import SignInThrottle, User, WebSession
from workflow.settings import Settings, settings

ACCOUNT = "account"
ADDRESS = "address"
# last_seen_at is written at most this often: one write a minute per browser, not per request.
TOUCH_EVERY = timedelta(minutes=1)
# Ended sessions are deleted this long after they opened (the account's next sign-in does it).
KEEP_SESSIONS = timedelta(days=30)
# Longer than any password the policy ever let through (workflow.passwords: 128).
LONGEST_PASSWORD = 1024

Factory = Callable[[], Session]


class SignInRefused(FidelisError):
    """A sign-in refused; the message is for the person at the sign-in page."""


class BadCredentials(SignInRefused):
    def __init__(self) -> None:
        super().__init__("Adresse ou mot de passe incorrect.")


class AccountDisabled(SignInRefused):
    def __init__(self) -> None:
        super().__init__("Ce compte est désactivé : adressez-vous à l'administrateur de Fidelis.")


class TooManyAttempts(SignInRefused):
    def __init__(self, wait: timedelta) -> None:
        self.retry_after = max(1, math.ceil(wait.total_seconds()))
        super().__init__(
            f"Trop de tentatives de connexion : réessayez dans {wait_text(self.retry_after)}."
        )


def wait_text(seconds: int) -> str:
    """« 8 secondes », « 15 minutes »: seconds up to two minutes, whole minutes beyond."""
    if seconds < 120:
        return f"{seconds} seconde{'s' if seconds > 1 else ''}"
    return f"{math.ceil(seconds / 60)} minutes"


@dataclass(frozen=True)
class SignInPolicy:
    """How failures slow down then lock sign-in, and how long a session lives."""

    free_attempts: int = 3
    lock_after: int = 10
    address_free_attempts: int = 10
    address_lock_after: int = 30
    lock: timedelta = timedelta(minutes=15)
    max_delay: timedelta = timedelta(seconds=60)
    forget: timedelta = timedelta(minutes=60)
    idle: timedelta = timedelta(minutes=30)
    lifetime: timedelta = timedelta(hours=12)

    @classmethod
    def from_settings(cls, found: Settings | None = None) -> SignInPolicy:
        """The policy of the environment's FIDELIS_SIGNIN_* and FIDELIS_SESSION_* settings."""
        s = found or settings()
        return cls(
            free_attempts=s.signin_free_attempts,
            lock_after=s.signin_lock_after,
            address_free_attempts=s.signin_address_free_attempts,
            address_lock_after=s.signin_address_lock_after,
            lock=timedelta(minutes=s.signin_lock_minutes),
            max_delay=timedelta(seconds=s.signin_max_delay_seconds),
            forget=timedelta(minutes=s.signin_forget_minutes),
            idle=timedelta(minutes=s.session_idle_minutes),
            lifetime=timedelta(hours=s.session_lifetime_hours),
        )

    def wait_after(self, kind: str, failures: int) -> timedelta:
        """How long the next attempt waits after `failures` failures of an account or address."""
        free, lock_after = (
            (self.free_attempts, self.lock_after)
            if kind == ACCOUNT
            else (self.address_free_attempts, self.address_lock_after)
        )
        if failures >= lock_after:
            return self.lock
        if failures <= free:
            return timedelta(0)
        return min(timedelta(seconds=2 ** min(failures - free, 20)), self.max_delay)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _keys(email: str, address: str) -> list[tuple[str, str]]:
    # The account first, then the address: every attempt locks rows in this order (no deadlock).
    return [(ACCOUNT, email.strip().lower()[:254]), (ADDRESS, address[:254])]


def _locked_rows(
    s: Session, keys: list[tuple[str, str]], now: datetime, policy: SignInPolicy
) -> list[SignInThrottle]:
    """The records of `keys`, created if missing and locked until the transaction ends. The
    first statement writes, so that SQLite takes its write lock (and waits its turn) at once."""
    s.execute(
        sa.delete(SignInThrottle).where(
            SignInThrottle.last_failure_at <= now - policy.forget,
            sa.or_(SignInThrottle.blocked_until.is_(None), SignInThrottle.blocked_until <= now),
        )
    )
    insert = postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
    rows = []
    for kind, key in keys:
        s.execute(
            insert(SignInThrottle)
            .values(kind=kind, key=key, failures=0, last_failure_at=now)
            .on_conflict_do_nothing()
        )
        rows.append(
            s.scalars(
                sa.select(SignInThrottle)
                .where(SignInThrottle.kind == kind, SignInThrottle.key == key)
                .with_for_update()
                .execution_options(populate_existing=True)
            ).one()
        )
    return rows


def _count_attempt(
    factory: Factory, keys: list[tuple[str, str]], now: datetime, policy: SignInPolicy
) -> None:
    """Count the attempt as a failure of both records, or raise TooManyAttempts (uncounted)."""
    with factory() as s:
        rows = _locked_rows(s, keys, now, policy)
        blocked = [r.blocked_until for r in rows if r.blocked_until and r.blocked_until > now]
        if blocked:
            s.commit()
            raise TooManyAttempts(max(blocked) - now)
        for row in rows:
            row.failures += 1
            row.last_failure_at = now
            wait = policy.wait_after(row.kind, row.failures)
            row.blocked_until = now + wait if wait else None
        s.commit()


def _take_back(
    s: Session, keys: list[tuple[str, str]], now: datetime, policy: SignInPolicy
) -> None:
    """A success: the account's record is cleared, the address's attempt taken back."""
    account, address = _locked_rows(s, keys, now, policy)
    s.delete(account)
    address.failures = max(address.failures - 1, 0)
    wait = policy.wait_after(ADDRESS, address.failures)
    address.blocked_until = now + wait if wait else None


def sign_in(
    factory: Factory,
    email: str,
    password: str,
    address: str,
    *,
    now: datetime,
    policy: SignInPolicy,
) -> tuple[Principal, str]:
    """Check `password` for the account `email` from the client `address`; return who signed
    in and the new session's id for the cookie. Raises a SignInRefused, in French."""
    keys = _keys(email, address)
    _count_attempt(factory, keys, now, policy)
    if len(password) > LONGEST_PASSWORD:
        raise BadCredentials()  # no account has one so long: not worth hashing
    with factory() as s:
        user = accounts.authenticate(s, email, password)
        if user is None:
            raise BadCredentials()
        if user.disabled_at is not None:
            raise AccountDisabled()
        user_id = user.id
    with factory() as s:
        _take_back(s, keys, now, policy)
        who, token = open_session(s, user_id, now)
        s.commit()
        return who, token


def open_session(s: Session, user_id: int, now: datetime) -> tuple[Principal, str]:
    """Open a web session for the account, in the caller's transaction (after a password, or a
    one-time link: workflow.invitations); return who it is and the session's id for the cookie.
    The account's sessions ended long ago are deleted on the way."""
    token = secrets.token_urlsafe(32)
    s.execute(
        sa.delete(WebSession).where(
            WebSession.user_id == user_id, WebSession.created_at < now - KEEP_SESSIONS
        )
    )
    s.add(WebSession(id_hash=_hash(token), user_id=user_id, created_at=now, last_seen_at=now))
    user = s.get_one(User, user_id)
    user.last_sign_in_at = now
    return Principal.of(user), token


def session_user(
    factory: Factory, token: str, *, now: datetime, policy: SignInPolicy
) -> Principal | None:
    """Who the session `token` belongs to, if it is still open: not revoked, not idle for
    `policy.idle`, younger than `policy.lifetime`, its account enabled."""
    with factory() as s:
        found = s.execute(
            sa.select(WebSession, User)
            .join(User, User.id == WebSession.user_id)
            .where(WebSession.id_hash == _hash(token))
        ).first()
        if found is None:
            return None
        session, user = found
        if (
            session.revoked_at is not None
            or user.disabled_at is not None
            or now - session.last_seen_at >= policy.idle
            or now - session.created_at >= policy.lifetime
        ):
            return None
        who = Principal.of(user)
        stale = now - session.last_seen_at >= TOUCH_EVERY
    if stale:
        with factory() as s:
            s.execute(
                sa.update(WebSession)
                .where(WebSession.id_hash == _hash(token))
                .values(last_seen_at=now)
            )
            s.commit()
    return who


def sign_out(factory: Factory, token: str, *, now: datetime) -> None:
    """Revoke the session `token`: its cookie, even replayed, opens nothing any more."""
    with factory() as s:
        s.execute(
            sa.update(WebSession)
            .where(WebSession.id_hash == _hash(token), WebSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        s.commit()


__all__ = [
    "AccountDisabled",
    "BadCredentials",
    "SignInPolicy",
    "SignInRefused",
    "TooManyAttempts",
    "open_session",
    "session_user",
    "sign_in",
    "sign_out",
]
