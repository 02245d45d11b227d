"""Accounts: creation, login with throttling, sessions, API tokens."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from fangkong.core import audit, idempotency
from fangkong.core.auth import (
    DUMMY_HASH,
    Permission,
    digest,
    hash_password,
    needs_rehash,
    new_secret,
    verify_password,
)
from fangkong.core.db import keep_after_rollback, utcnow
from fangkong.core.errors import N_, Conflict, FieldError, Invalid, TooManyRequests, Unauthorized
from fangkong.core.paging import Page, paginate
from fangkong.core.scope import Principal, principal_of, system_access
from fangkong.geo import service as geo
from fangkong.geo.models import Facility
from fangkong.users.models import ApiToken, LoginFailure, RoleGrant, User, UserSession
from fangkong.users.schemas import UserIn


def create_user(session: Session, data: UserIn, *, key: str | None = None) -> User:
    """Create a user with their role grants; each grant must lie within the creator's scope."""
    earlier = idempotency.recall(session, key, "users")
    if earlier is not None:
        return session.execute(select(User).where(User.id == int(earlier))).scalar_one()
    errors: list[FieldError] = []
    for i, grant in enumerate(data.grants):
        try:
            geo.require_jurisdiction(session, grant.jurisdiction_code, field=f"grants.{i}.jurisdiction_code")
        except Invalid as exc:
            errors += exc.errors
    # The facility is looked up in scope like the grants: an account may not be bound to another
    # jurisdiction's lab or isolation site.
    if data.facility_id is not None and session.execute(
            select(Facility.id).where(Facility.id == data.facility_id)).first() is None:
        errors.append(FieldError("facility_id", N_("No such facility.")))
    if errors:
        raise Invalid(N_("Please correct the marked fields."), errors=errors)
    with system_access(session):
        taken = session.execute(select(User.id).where(func.lower(User.username) == data.username.lower())).first()
    if taken is not None:
        raise Conflict(N_("The user name {name} is taken."), name=data.username,
                       errors=[FieldError("username", N_("The user name {name} is taken."), {"name": data.username})])
    home = min((g.jurisdiction_code for g in data.grants), key=len)
    user = User(
        username=data.username,
        display_name=data.display_name,
        password_hash=hash_password(data.password),
        jurisdiction_code=home,
        facility_id=data.facility_id,
        grants=[RoleGrant(role=g.role, jurisdiction_code=g.jurisdiction_code) for g in data.grants],
    )
    session.add(user)
    session.flush()
    idempotency.remember(session, key, "users", user.id)
    return user


def list_users(session: Session, *, page: int = 1, size: int = 50) -> Page[User]:
    """Users whose home jurisdiction lies in scope."""
    principal_of(session).require(Permission.USERS_READ)
    return paginate(session, select(User).order_by(User.username), page=page, size=size)


def principal_for(user: User, *, address: str | None = None, via_token: bool = False) -> Principal:
    """The principal a user acts as."""
    return Principal(user_id=user.id, username=user.username, grants=user.scope_grants(),
                     address=address, facility_id=user.facility_id, via_token=via_token)


def _throttled(session: Session, username: str, address: str | None, *, window: timedelta,
               per_user: int, per_address: int) -> bool:
    since = utcnow() - window
    by_user = session.execute(select(func.count()).select_from(LoginFailure).where(
        LoginFailure.username == username, LoginFailure.at >= since)).scalar_one()
    by_address = 0
    if address:
        by_address = session.execute(select(func.count()).select_from(LoginFailure).where(
            LoginFailure.address == address, LoginFailure.at >= since)).scalar_one()
    return by_user >= per_user or by_address >= per_address


def authenticate(session: Session, username: str, password: str, *, address: str | None,
                 window: timedelta, per_user: int, per_address: int) -> User:
    """The user whose name and password these are; failures are counted and throttled.

    A failure is kept even though the request's transaction rolls back (see ``keep_after_rollback``).
    """
    username = username.strip().lower()
    with system_access(session):
        if _throttled(session, username, address, window=window, per_user=per_user, per_address=per_address):
            raise TooManyRequests(N_("Too many failed logins. Try again in {minutes} minutes."),
                                  minutes=int(window.total_seconds() // 60))
        user = session.execute(select(User).where(func.lower(User.username) == username)).scalar_one_or_none()
        ok = verify_password(user.password_hash if user else DUMMY_HASH, password)
        if user is None or not ok or not user.is_active:
            keep_after_rollback(session, LoginFailure.__table__,
                                {"username": username, "address": address, "at": utcnow()})
            audit.record(session, audit.Action.LOGIN_FAILED, entity_name="users",
                         entity_id=user.id if user else None,
                         jurisdiction_code=user.jurisdiction_code if user else "",
                         detail={"username": username[:60]}, survive_rollback=True)
            raise Unauthorized(N_("Wrong user name or password."))
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        user.last_login_at = utcnow()
        session.execute(delete(LoginFailure).where(LoginFailure.username == username))
        session.flush()
    return user


def start_session(session: Session, user: User, *, address: str | None, hours: int) -> str:
    """Open a login session; returns the secret for the cookie (only its digest is stored)."""
    secret = new_secret()
    session.add(UserSession(digest=digest(secret), user_id=user.id, address=address,
                            expires_at=utcnow() + timedelta(hours=hours)))
    principal_for(user, address=address).bind(session)
    audit.record(session, audit.Action.LOGIN, entity=user)
    session.flush()
    return secret


def user_for_session(session: Session, secret: str) -> User | None:
    """The user of a live session cookie."""
    with system_access(session):
        row = session.execute(
            select(User).join(UserSession, UserSession.user_id == User.id).where(
                UserSession.digest == digest(secret), UserSession.revoked_at.is_(None),
                UserSession.expires_at > utcnow(), User.is_active.is_(True))
        ).scalar_one_or_none()
    return row


def end_session(session: Session, secret: str) -> None:
    """Log out: revoke the session behind the cookie."""
    with system_access(session):
        row = session.execute(select(UserSession).where(UserSession.digest == digest(secret))).scalar_one_or_none()
        if row is not None and row.revoked_at is None:
            row.revoked_at = utcnow()
    audit.record(session, audit.Action.LOGOUT, entity_name="users", entity_id=principal_of(session).user_id)
    session.flush()


def issue_token(session: Session, user: User, *, label: str, days: int | None = 365) -> str:
    """Issue an API token for ``user``; the secret is shown once and only its digest kept."""
    secret = "fk_" + new_secret()
    expires: datetime | None = utcnow() + timedelta(days=days) if days else None
    session.add(ApiToken(token_digest=digest(secret), prefix=secret[:10], user_id=user.id, label=label,
                         expires_at=expires))
    audit.record(session, audit.Action.TOKEN_ISSUED, entity=user, detail={"label": label, "prefix": secret[:10]})
    session.flush()
    return secret


def user_for_token(session: Session, secret: str) -> User | None:
    """The user behind a live API token."""
    now = utcnow()
    with system_access(session):
        token = session.execute(select(ApiToken).where(
            ApiToken.token_digest == digest(secret), ApiToken.revoked_at.is_(None),
            or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now))).scalar_one_or_none()
        if token is None:
            return None
        user = session.execute(select(User).where(User.id == token.user_id, User.is_active.is_(True))
                               ).scalar_one_or_none()
        if user is not None and (token.last_used_at is None or now - token.last_used_at > timedelta(minutes=5)):
            token.last_used_at = now  # coarse, so a busy lab does not write on every request
    return user


def load_principal(session: Session, user_id: int) -> Principal:
    """The principal of a user by id (for jobs acting on a user's behalf)."""
    with system_access(session):
        user = session.execute(select(User).where(User.id == user_id)).scalar_one()
    return principal_for(user)


def find_user(session: Session, username: str) -> User | None:
    """A user by name, unscoped (for the CLI)."""
    with system_access(session):
        return session.execute(select(User).where(func.lower(User.username) == username.lower())
                               ).scalar_one_or_none()
