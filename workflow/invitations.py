"""Invitations (issue 15): a participant's account — a learner, an employer, an institute — is
created without a password, and its owner signs in with a one-time link sent by e-mail through
the outbox.

The link carries a random token (256 bits) of which `sign_in_links` keeps only the SHA-256, so
a copy of the table opens nothing. It opens one web session, once (a conditional UPDATE marks it
used: two clicks at once cannot both win), before it expires (FIDELIS_INVITATION_DAYS, 7 days);
a new invitation leaves the older links valid until they expire or are used. Every function
takes `now`: tests move time by hand."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from workflow import signin
from workflow.accounts import Principal
from workflow.db import UnitOfWork
from workflow.errors import NotFound
from workflow.models import OutboxMessage, SignInLink, User, utcnow
from workflow.settings import settings
from workflow.signin import SignInRefused

LINK_PATH = "/connexion/lien/"
KIND = "invitation"


class LinkRefused(SignInRefused):
    def __init__(self) -> None:
        super().__init__(
            "Ce lien de connexion n'est plus valable (déjà utilisé ou expiré) : "
            "demandez une nouvelle invitation au service instructeur."
        )


@dataclass(frozen=True)
class Invitation:
    """What the CLI prints: the account, the link (valid once, until `expires_at`)."""

    user_id: int
    email: str
    link: str
    expires_at: datetime


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invite(
    uow: UnitOfWork,
    user_id: int,
    *,
    now: datetime | None = None,
    base_url: str | None = None,
    valid_for: timedelta | None = None,
) -> Invitation:
    """A new one-time sign-in link for the account, and the e-mail that carries it queued in the
    outbox (sent by `fidelis outbox send` or the nightly run)."""
    conf = settings()
    at = now or utcnow()
    expires = at + (valid_for or timedelta(days=conf.invitation_days))
    token = secrets.token_urlsafe(32)
    link = (base_url or conf.public_url).rstrip("/") + LINK_PATH + token
    with uow:
        s = uow.session
        user = s.get(User, user_id)
        if user is None:
            raise NotFound("Compte", user_id)
        row = SignInLink(
            token_hash=_hash(token), user_id=user.id, created_at=at, expires_at=expires
        )
        s.add(row)
        s.flush()
        s.add(
            OutboxMessage(
                dedup_key=f"{KIND}:{row.id}",
                kind=KIND,
                due_date=at.date(),
                recipient=user.email,
                # The link itself: it is worth nothing once used or expired.
                context={"name": user.name, "link": link, "expires_on": expires.date().isoformat()},
            )
        )
        uow.commit()
        return Invitation(user.id, user.email, link, expires)


def sign_in_with_link(
    factory: Callable[[], Session], token: str, *, now: datetime
) -> tuple[Principal, str]:
    """Use the link `token` (once): open a web session for its account; return who it is and the
    session's id for the cookie. LinkRefused for an unknown, used or expired link;
    AccountDisabled for a disabled account (the link is then used all the same)."""
    with factory() as s:
        taken = s.execute(
            sa.update(SignInLink)
            .where(
                SignInLink.token_hash == _hash(token),
                SignInLink.used_at.is_(None),
                SignInLink.expires_at > now,
            )
            .values(used_at=now)
            .returning(SignInLink.user_id)
        ).first()
        if taken is None:
            raise LinkRefused()
        user = s.get_one(User, taken[0])
        if user.disabled_at is not None:
            s.commit()
            raise signin.AccountDisabled()
        who, session_id = signin.open_session(s, user.id, now)
        s.commit()
        return who, session_id


def invitation_context(context: dict[str, str]) -> dict[str, object]:
    """The invitation e-mail's template context, from the outbox row's (jobs.outbox)."""
    return {
        "name": context["name"],
        "link": context["link"],
        "expires_on": date.fromisoformat(context["expires_on"]),
    }


__all__ = [
    "KIND",
    "LINK_PATH",
    "Invitation",
    "LinkRefused",
    "invitation_context",
    "invite",
    "sign_in_with_link",
]
