"""Accounts of the web application: argon2 password hashes checked against the password policy
(workflow.passwords), API tokens, their administration (list, disable, enable, reset a password,
revoke a token — each change that should end a sign-in revokes the account's web sessions), and
what each role may see (SPEC roles: `region` caseworker, `employer`, `institute`, `admin`).
Signing in itself, its throttling and the sessions' life are workflow.signin."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlalchemy.orm import Session

from workflow import passwords, validation
from workflow.db import UnitOfWork
from workflow.errors import InvalidInput, NotFound
from workflow.models import Case, Employer, Institute, Learner, Offer, User, WebSession, utcnow
from workflow.states import ACTIONS, STAFF

ROLES = ("region", "employer", "institute", "admin")
# Who may do what, named once; the web's dependencies (workflow.web.deps) and pages use these.
# STAFF (workflow.states): the caseworkers' service — every page, every case, every action.
EMPLOYERS = frozenset({"employer"})  # « Mes paiements »: an employer's own allowance shares
ATTESTERS = STAFF | EMPLOYERS  # the yearly attestation of service (SPEC §4)
LEARNER_READERS = STAFF | {"institute"}  # the learners' list (an institute sees its own)
ADMINS = frozenset({"admin"})  # the accounts' administration
# How a role is named where people read it: the actor of an event, the accounts list.
ROLE_LABELS = {
    "region": "Région",
    "employer": "employeur",
    "institute": "institut de formation",
    "admin": "administrateur",
}
_hasher = PasswordHasher()


@dataclass(frozen=True)
class Principal:
    """Who is acting, as the web layer knows them."""

    id: int
    name: str
    role: str
    employer_id: int | None
    institute_id: int | None

    @classmethod
    def of(cls, user: User) -> Principal:
        return cls(user.id, user.name, user.role, user.employer_id, user.institute_id)

    @property
    def actor(self) -> str:
        return f"{self.name} ({ROLE_LABELS.get(self.role, self.role)})"


def add_user(
    uow: UnitOfWork,
    *,
    email: str,
    name: str,
    role: str,
    password: str,
    employer_id: int | None = None,
    institute_id: int | None = None,
) -> tuple[int, str]:
    """Create an account; return its id and its API token (shown once, stored hashed)."""
    if role not in ROLES:
        raise InvalidInput(f"Rôle inconnu « {role} » (rôles : {', '.join(ROLES)}).", "role")
    clean_name = validation.non_blank(name, "name", "Le nom")
    passwords.check(password, name=name, email=email)
    if (role == "employer") != (employer_id is not None):
        raise InvalidInput(
            "Un compte employeur est rattaché à un employeur (--employer), et lui seul."
        )
    if (role == "institute") != (institute_id is not None):
        raise InvalidInput(
            "Un compte institut est rattaché à un institut (--institute), et lui seul."
        )
    clean_email = validation.email(email)
    token = secrets.token_urlsafe(32)
    with uow:
        s = uow.session
        if employer_id is not None and s.get(Employer, employer_id) is None:
            raise NotFound("Employeur", employer_id)
        if institute_id is not None and s.get(Institute, institute_id) is None:
            raise NotFound("Institut", institute_id)
        if s.scalars(sa.select(User.id).where(User.email == clean_email)).first() is not None:
            raise InvalidInput(f"Un compte existe déjà pour {clean_email}.", "email")
        user = User(
            email=clean_email,
            name=clean_name,
            role=role,
            password_hash=_hasher.hash(password),
            api_token_hash=hash_token(token),
            employer_id=employer_id,
            institute_id=institute_id,
        )
        s.add(user)
        s.flush()
        uow.commit()
        return user.id, token


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def find_user(s: Session, email: str) -> User | None:
    return s.scalars(sa.select(User).where(User.email == email.strip().lower())).first()


def authenticate(s: Session, email: str, password: str) -> User | None:
    """The account whose password this is (disabled or not: workflow.signin says which), else
    None — after the same work whether the account exists or not."""
    user = find_user(s, email)
    if user is None:
        _hasher.hash(password)  # same cost whether the account exists or not
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except VerificationError:
        return None
    return user


def by_token(s: Session, token: str) -> Principal | None:
    """The enabled account whose API token this is."""
    user = s.scalars(
        sa.select(User).where(User.api_token_hash == hash_token(token), User.disabled_at.is_(None))
    ).first()
    return Principal.of(user) if user else None


# -- administration --------------------------------------------------------------------------


def _account(uow: UnitOfWork, who: str | int) -> User:
    """The account by its e-mail address (the CLI) or its id (the administration page)."""
    s = uow.session
    user = s.get(User, who) if isinstance(who, int) else find_user(s, who)
    if user is None:
        raise InvalidInput(f"Aucun compte pour {who}.", "email")
    return user


def revoke_sessions(s: Session, user_id: int, now: datetime) -> None:
    """End every web session of the account (its cookies no longer open anything)."""
    s.execute(
        sa.update(WebSession)
        .where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def disable(uow: UnitOfWork, who: str | int, *, now: datetime | None = None) -> str:
    """Disable the account: no sign-in, no API, its sessions revoked. Returns its address."""
    with uow:
        user = _account(uow, who)
        at = now or utcnow()
        user.disabled_at = user.disabled_at or at
        revoke_sessions(uow.session, user.id, at)
        uow.commit()
        return user.email


def enable(uow: UnitOfWork, who: str | int) -> str:
    with uow:
        user = _account(uow, who)
        user.disabled_at = None
        uow.commit()
        return user.email


def reset_password(
    uow: UnitOfWork, who: str | int, password: str, *, now: datetime | None = None
) -> str:
    """Give the account a new password (the policy applies) and end its sessions."""
    with uow:
        user = _account(uow, who)
        passwords.check(password, name=user.name, email=user.email)
        user.password_hash = _hasher.hash(password)
        revoke_sessions(uow.session, user.id, now or utcnow())
        uow.commit()
        return user.email


def revoke_token(uow: UnitOfWork, who: str | int, *, new: bool = False) -> tuple[str, str | None]:
    """Revoke the account's API token; with `new`, issue another. Returns the account's address
    and the new token (to show once), or None."""
    token = secrets.token_urlsafe(32) if new else None
    with uow:
        user = _account(uow, who)
        user.api_token_hash = hash_token(token) if token else None
        uow.commit()
        return user.email, token


def user_rows(s: Session) -> list[dict[str, Any]]:
    """Every account, by address: what `fidelis user list` and the administration page show."""
    return [
        {
            "id": u.id,
            "email": u.email,
            "name": u.name,
            "role": u.role,
            "active": u.disabled_at is None,
            "api_token": u.api_token_hash is not None,
            "last_sign_in_at": u.last_sign_in_at.isoformat() if u.last_sign_in_at else None,
        }
        for u in s.scalars(sa.select(User).order_by(User.email))
    ]


def is_staff(who: Principal) -> bool:
    """Whether `who` works for the caseworkers' service (sees every case and the whole outbox)."""
    return who.role in STAFF


def visible_cases(who: Principal) -> sa.ColumnElement[bool]:
    """The SQL condition on `Case` for what `who` may see: employers their offers' cases,
    institutes their learners' cases, caseworkers and admins everything."""
    if who.role == "employer":
        return Case.offer_id.in_(sa.select(Offer.id).where(Offer.employer_id == who.employer_id))
    if who.role == "institute":
        return Case.learner_id.in_(
            sa.select(Learner.id).where(Learner.institute_id == who.institute_id)
        )
    return sa.true()


def visible_learners(who: Principal) -> sa.ColumnElement[bool]:
    """The SQL condition on `Learner` for what `who` may see: an institute its own learners,
    everyone else every learner (employers are kept off the list by `LEARNER_READERS`)."""
    if who.role == "institute":
        return Learner.institute_id == who.institute_id
    return sa.true()


def can_see(s: Session, who: Principal, case_id: int) -> bool:
    found = s.scalars(sa.select(Case.id).where(Case.id == case_id, visible_cases(who))).first()
    return found is not None


def ensure_visible(s: Session, who: Principal, case_id: int) -> None:
    """Raise NotFound for a case `who` may not see — the very error of a case that does not
    exist, so that nobody learns which case numbers exist (issue 14)."""
    if not can_see(s, who, case_id):
        raise NotFound("Dossier", case_id)


def can_see_document(s: Session, who: Principal, case_id: int | None) -> bool:
    """A case's documents go with the case; the others (a campaign's list of employers) are the
    caseworkers' service's."""
    return is_staff(who) if case_id is None else can_see(s, who, case_id)


def may_fire(who: Principal, action: str) -> bool:
    """Whether `who`'s role may do `action` (the actions table says who may do what; the guards
    still apply on top). An unknown action is left to the caseworkers, whom the case service
    then tells which actions exist."""
    found = ACTIONS.get(action)
    return who.role in (found.roles if found is not None else STAFF)


__all__ = [
    "ADMINS",
    "ATTESTERS",
    "EMPLOYERS",
    "LEARNER_READERS",
    "ROLE_LABELS",
    "STAFF",
    "Principal",
    "add_user",
    "disable",
    "enable",
    "reset_password",
    "revoke_token",
    "user_rows",
]
