"""Tables of users, role grants, login sessions, API tokens and login failures."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fangkong.core.auth import Permission, Role
from fangkong.core.db import Base, utcnow
from fangkong.core.scope import Grant, Scoped


class User(Scoped, Base):
    """A person who logs in (or a machine client, for lab accounts), bound to a jurisdiction."""

    __tablename__ = "users"
    read_permission = Permission.USERS_READ
    write_permission = Permission.USERS_WRITE

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    display_name: Mapped[str] = mapped_column(String(60))
    password_hash: Mapped[str] = mapped_column(String(200))
    locale: Mapped[str | None] = mapped_column(String(10))
    is_active: Mapped[bool] = mapped_column(default=True)
    # For lab, isolation-site and hospital accounts: the facility they work for.
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facilities.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column()
    grants: Mapped[list[RoleGrant]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="RoleGrant.id", lazy="selectin"
    )

    def scope_grants(self) -> tuple[Grant, ...]:
        """The grants as the scoping mechanism sees them."""
        return tuple(Grant(g.role, g.jurisdiction_code) for g in self.grants)


class RoleGrant(Scoped, Base):
    """One role held by a user over one jurisdiction subtree."""

    __tablename__ = "role_grants"
    read_permission = Permission.USERS_READ
    write_permission = Permission.USERS_WRITE

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column()
    user: Mapped[User] = relationship(back_populates="grants")


class UserSession(Base):
    """A login session; the cookie holds a secret whose digest is stored here."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    address: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None] = mapped_column()


class ApiToken(Base):
    """A bearer token for a machine client (a lab, a sampling device), acting as its user."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))  # the first characters, to recognise a token in lists
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class LoginFailure(Base):
    """A failed login, kept for the throttling window."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), index=True)
    address: Mapped[str | None] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)



