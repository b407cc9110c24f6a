"""Accounts of the web application: argon2 password hashes checked against the password policy
(workflow.passwords), API tokens, their administration (list, disable, enable, reset a password,
revoke a token — each change that should end a sign-in revokes the account's web sessions), and
what each role may see (SPEC roles: `region` caseworker, `employer`, `institute`, `admin`, and
`learner` — issue 15 — who sees their own cases only).
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

ROLES = ("region", "employer", "institute", "admin", "learner")
# Who may do what, named once; the web's dependencies (workflow.web.deps) and pages use these.
# STAFF (workflow.states): the caseworkers' service — every page, every case, every action.
EMPLOYERS = frozenset({"employer"})  # « Mes paiements »: an employer's own allowance shares
ATTESTERS = STAFF | EMPLOYERS  # the yearly attestation of service (SPEC §4)
LEARNER_READERS = STAFF | {"institute"}  # the learners' list (an institute sees its own)
ADMINS = frozenset({"admin"})  # the accounts' administration
LEARNERS = frozenset({"learner"})  # « Mon espace »: a learner's own applications and commitment
INSTITUTES = frozenset({"institute"})  # « Mes apprenants »: an institute's own learners
# The participants: their accounts are invited (a one-time sign-in link), a password optional.
PARTICIPANTS = LEARNERS | EMPLOYERS | INSTITUTES
# How a role is named where people read it: the actor of an event, the accounts list.
ROLE_LABELS = {
    "region": "Région",
    "employer": "employeur",
    "institute": "institut de formation",
    "admin": "administrateur",
    "learner": "apprenant",
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
    learner_id: int | None = None

    @classmethod
    def of(cls, user: User) -> Principal:
        return cls(
            user.id, user.name, user.role, user.employer_id, user.institute_id, user.learner_id
        )

    @property
    def actor(self) -> str:
        """Who acted, as the case's history records it. A learner by their account's number,
        not their name: the append-only history keeps no learner's name (docs/ARCHITECTURE.md),
        and the retention purge could not erase it there."""
        if self.role == "learner":
            return f"apprenant (compte n° {self.id})"
        return f"{self.name} ({ROLE_LABELS.get(self.role, self.role)})"


# Where the tie is typed, as the refusal names it: the command line's options by default, a
# form's fields on the web (workflow.web.admin).
CLI_TIES = {"employer": "--employer", "institute": "--institute", "learner": "--learner"}


def add_user(
    uow: UnitOfWork,
    *,
    email: str,
    name: str | None,
    role: str,
    password: str | None,
    employer_id: int | None = None,
    institute_id: int | None = None,
    learner_id: int | None = None,
) -> tuple[int, str]:
    """Create an account; return its id and its API token (shown once, stored hashed). A
    participant's account (learner, employer, institute) may have no password — it signs in by
    an invitation's one-time link (workflow.invitations) — and takes by default the name of the
    learner, employer or institute it is tied to."""
    if role not in ROLES:
        raise InvalidInput(f"Rôle inconnu « {validation.shown(role)} ».", "role")
    check_ties(role, employer_id, institute_id, learner_id)
    if password is None and role not in PARTICIPANTS:
        raise InvalidInput("Un compte du service instructeur a un mot de passe.", "password")
    clean_email = validation.email(email)
    token = secrets.token_urlsafe(32)
    with uow:
        s = uow.session
        tied_name = _tied_name(s, employer_id, institute_id, learner_id)
        clean_name = validation.non_blank(name or tied_name or "", "name", "Le nom")
        if password is not None:
            passwords.check(password, name=clean_name, email=clean_email)
        if s.scalars(sa.select(User.id).where(User.email == clean_email)).first() is not None:
            raise InvalidInput(f"Un compte existe déjà pour {clean_email}.", "email")
        if learner_id is not None:
            taken = s.scalars(sa.select(User.email).where(User.learner_id == learner_id)).first()
            if taken is not None:
                raise InvalidInput(f"Cet apprenant a déjà un compte ({taken}).", "learner")
        user = User(
            email=clean_email,
            name=clean_name,
            role=role,
            # No password yet: the hash of a secret nobody knows (no sign-in by password).
            password_hash=_hasher.hash(password or secrets.token_urlsafe(32)),
            api_token_hash=hash_token(token),
            employer_id=employer_id,
            institute_id=institute_id,
            learner_id=learner_id,
        )
        s.add(user)
        s.flush()
        uow.commit()
        return user.id, token


def check_ties(
    role: str,
    employer_id: int | None,
    institute_id: int | None,
    learner_id: int | None,
    ties: dict[str, str] = CLI_TIES,
) -> None:
    """An employer's, institute's or learner's account is tied to its record, and only it."""
    for tied_role, ident, what in (
        ("employer", employer_id, "employeur"),
        ("institute", institute_id, "institut"),
        ("learner", learner_id, "apprenant"),
    ):
        if (role == tied_role) != (ident is not None):
            raise InvalidInput(
                f"Un compte {what} est rattaché à un {what} ({ties[tied_role]}), et lui seul.",
                tied_role,
            )


def _tied_name(
    s: Session, employer_id: int | None, institute_id: int | None, learner_id: int | None
) -> str | None:
    """The name of the record the account is tied to; NotFound for an unknown id."""
    if employer_id is not None:
        employer = s.get(Employer, employer_id)
        if employer is None:
            raise NotFound("Employeur", employer_id)
        return employer.name
    if institute_id is not None:
        institute = s.get(Institute, institute_id)
        if institute is None:
            raise NotFound("Institut", institute_id)
        return institute.name
    if learner_id is not None:
        learner = s.get(Learner, learner_id)
        if learner is None:
            raise NotFound("Apprenant", learner_id)
        return learner.full_name
    return None


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


def account_id(uow: UnitOfWork, who: str) -> int:
    """The id of the account of this address (InvalidInput if none)."""
    with uow:
        return _account(uow, who).id


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


def change_role(
    uow: UnitOfWork,
    who: str | int,
    role: str,
    *,
    employer_id: int | None = None,
    institute_id: int | None = None,
    learner_id: int | None = None,
    ties: dict[str, str] = CLI_TIES,
    now: datetime | None = None,
) -> str:
    """Give the account another role (and the record it is tied to, as `add_user` checks it);
    its sessions end, since what it may see changes. Returns its address."""
    if role not in ROLES:
        raise InvalidInput(f"Rôle inconnu « {validation.shown(role)} ».", "role")
    check_ties(role, employer_id, institute_id, learner_id, ties)
    with uow:
        s = uow.session
        user = _account(uow, who)
        _tied_name(s, employer_id, institute_id, learner_id)
        if learner_id is not None:
            taken = s.scalars(
                sa.select(User.email).where(User.learner_id == learner_id, User.id != user.id)
            ).first()
            if taken is not None:
                raise InvalidInput(f"Cet apprenant a déjà un compte ({taken}).", "learner")
        user.role = role
        user.employer_id, user.institute_id, user.learner_id = employer_id, institute_id, learner_id
        revoke_sessions(s, user.id, now or utcnow())
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
    institutes their learners' cases, a learner their own, caseworkers and admins everything."""
    if who.role == "learner":
        return Case.learner_id == who.learner_id
    if who.role == "employer":
        return employer_cases(who.employer_id)
    if who.role == "institute":
        return institute_cases(who.institute_id)
    return sa.true()


def employer_cases(employer_id: int | None) -> sa.ColumnElement[bool]:
    """The SQL condition on `Case` for the cases on an employer's offers."""
    return Case.offer_id.in_(sa.select(Offer.id).where(Offer.employer_id == employer_id))


def institute_cases(institute_id: int | None) -> sa.ColumnElement[bool]:
    """The SQL condition on `Case` for the cases of an institute's learners."""
    return Case.learner_id.in_(sa.select(Learner.id).where(Learner.institute_id == institute_id))


def visible_learners(who: Principal) -> sa.ColumnElement[bool]:
    """The SQL condition on `Learner` for what `who` may see: an institute its own learners,
    a learner themselves, everyone else every learner (employers are kept off the list by
    `LEARNER_READERS`)."""
    if who.role == "learner":
        return Learner.id == who.learner_id
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
    "INSTITUTES",
    "LEARNERS",
    "LEARNER_READERS",
    "PARTICIPANTS",
    "ROLES",
    "ROLE_LABELS",
    "STAFF",
    "Principal",
    "account_id",
    "add_user",
    "change_role",
    "check_ties",
    "disable",
    "employer_cases",
    "enable",
    "institute_cases",
    "reset_password",
    "revoke_token",
    "user_rows",
]
