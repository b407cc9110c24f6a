"""Accounts of the web application: argon2 password hashes, API tokens, and what each role may
see (SPEC roles: `region` caseworker, `employer`, `institute`, `admin`)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlalchemy.orm import Session

from workflow import validation
from workflow.db import UnitOfWork
from workflow.errors import InvalidInput, NotFound
from workflow.models import Case, Employer, Institute, Learner, Offer, User
from workflow.states import ACTIONS, STAFF
from workflow.validation import LIMITS

ROLES = ("region", "employer", "institute", "admin")
# Who may do what, named once; the web's dependencies (workflow.web.deps) and pages use these.
# STAFF (workflow.states): the caseworkers' service — every page, every case, every action.
EMPLOYERS = frozenset({"employer"})  # « Mes paiements »: an employer's own allowance shares
ATTESTERS = STAFF | EMPLOYERS  # the yearly attestation of service (SPEC §4)
LEARNER_READERS = STAFF | {"institute"}  # the learners' list (an institute sees its own)
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
    if len(password) < 10:
        raise InvalidInput("Le mot de passe doit faire au moins 10 caractères.", "password")
    if len(password) > LIMITS["password"].chars:
        raise InvalidInput(
            f"Le mot de passe dépasse {LIMITS['password'].chars} caractères.", "password"
        )
    clean_name = validation.non_blank(name, "name", "Le nom")
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


def authenticate(s: Session, email: str, password: str) -> Principal | None:
    user = s.scalars(sa.select(User).where(User.email == email.strip().lower())).first()
    if user is None:
        _hasher.hash(password)  # same cost whether the account exists or not
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except VerificationError:
        return None
    return Principal.of(user)


def by_token(s: Session, token: str) -> Principal | None:
    user = s.scalars(sa.select(User).where(User.api_token_hash == hash_token(token))).first()
    return Principal.of(user) if user else None


def by_id(s: Session, user_id: int) -> Principal | None:
    user = s.get(User, user_id)
    return Principal.of(user) if user else None


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


def may_fire(who: Principal, action: str) -> bool:
    """Whether `who`'s role may do `action` (the actions table says who may do what; the guards
    still apply on top). An unknown action is left to the caseworkers, whom the case service
    then tells which actions exist."""
    found = ACTIONS.get(action)
    return who.role in (found.roles if found is not None else STAFF)


__all__ = [
    "ATTESTERS",
    "EMPLOYERS",
    "LEARNER_READERS",
    "STAFF",
    "Principal",
    "add_user",
]
