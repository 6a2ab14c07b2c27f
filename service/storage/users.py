"""Moderator and admin logins: argon2 password hashes and per-site memberships."""

from __future__ import annotations

import contextlib
import secrets
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.storage import audit
from service.storage.models import Membership, Site, User, utcnow

MODERATOR, ADMIN = "moderator", "admin"
ROLES = (MODERATOR, ADMIN)
MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 1024
MAX_EMAIL_CHARS = 320

_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so a login takes as long either way.
_DUMMY_HASH = _hasher.hash("modassist-no-such-user")


class UserError(ValueError):
    """A user cannot be created or changed as asked (the message says why)."""


def normalise_email(email: str) -> str:
    """Return the e-mail address trimmed and lower-cased; raise UserError when it is not one."""
    value = email.strip().lower()
    local, _, domain = value.partition("@")
    if not local or not domain or " " in value or len(value) > MAX_EMAIL_CHARS:
        raise UserError(f"not an e-mail address: {email!r}")
    return value


def check_password(password: str) -> None:
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise UserError(
            f"password must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters long"
        )


def create_user(
    session: Session,
    email: str,
    password: str | None,
    site: Site,
    role: str,
    *,
    actor: str = "cli",
) -> tuple[User, str | None]:
    """Create a login with a membership of `site`; return it and the one-time password.

    Without `password` a random one is generated and returned (shown once); with it, None
    is returned. Raises UserError for a bad role, e-mail or password, or a taken e-mail.
    """
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    address = normalise_email(email)
    if get_by_email(session, address) is not None:
        raise UserError(f"a user with e-mail {address} exists already")
    one_time = None
    if password is None:
        one_time = secrets.token_urlsafe(12)
        password = one_time
    check_password(password)
    user = User(email=address, password_hash=_hasher.hash(password))
    session.add(user)
    session.flush()
    session.add(Membership(user_id=user.id, site_id=site.id, role=role))
    audit.record(
        session,
        actor,
        "user.created",
        site_id=site.id,
        target_type="user",
        target_id=user.id,
        after={"role": role},
    )
    session.flush()
    return user, one_time


def add_membership(
    session: Session, user: User, site: Site, role: str, *, actor: str
) -> Membership:
    """Give the user `role` on `site` (replacing a role they had there)."""
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    membership = session.scalars(
        select(Membership).where(Membership.user_id == user.id, Membership.site_id == site.id)
    ).one_or_none()
    before = {"role": membership.role} if membership else None
    if membership is None:
        membership = Membership(user_id=user.id, site_id=site.id, role=role)
        session.add(membership)
    membership.role = role
    audit.record(
        session,
        actor,
        "user.membership_set",
        site_id=site.id,
        target_type="user",
        target_id=user.id,
        before=before,
        after={"role": role},
    )
    session.flush()
    return membership


def get_by_email(session: Session, email: str) -> User | None:
    try:
        address = normalise_email(email)
    except UserError:
        return None
    return session.scalars(select(User).where(User.email == address)).one_or_none()


def verify_password(user: User, password: str) -> bool:
    """Tell whether `password` is the user's password."""
    try:
        return bool(_hasher.verify(user.password_hash, password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def authenticate(session: Session, email: str, password: str) -> User | None:
    """Return the enabled user with this e-mail and password, else None (in similar time)."""
    user = get_by_email(session, email)
    if user is None or len(password) > MAX_PASSWORD_CHARS:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY_HASH, password[:MAX_PASSWORD_CHARS])
        return None
    if user.disabled_at is not None or not verify_password(user, password):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def set_password(session: Session, user: User, password: str, *, actor: str) -> None:
    """Replace the user's password (after checking its length)."""
    check_password(password)
    user.password_hash = _hasher.hash(password)
    audit.record(session, actor, "user.password_set", target_type="user", target_id=user.id)
    session.flush()


def roles_for(session: Session, user: User) -> dict[str, str]:
    """Return the user's role per site id."""
    rows = session.execute(
        select(Membership.site_id, Membership.role).where(Membership.user_id == user.id)
    )
    return {str(site_id): str(role) for site_id, role in rows}


def disable(session: Session, user: User, *, actor: str, now: datetime | None = None) -> None:
    """Stop the user from logging in (their decisions stay attributed)."""
    user.disabled_at = now or utcnow()
    audit.record(session, actor, "user.disabled", target_type="user", target_id=user.id)
    session.flush()
