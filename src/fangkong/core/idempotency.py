"""Idempotency keys: a retried or double-submitted request creates its record once.

Forms carry a one-time ``form_key`` and API clients send an ``Idempotency-Key`` header. The first
request that creates something remembers (key → record); a repeat finds it and returns the same
record instead of creating another.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from fangkong.core.db import Base, utcnow
from fangkong.core.scope import principal_of


class IdempotencyKey(Base):
    """A key already used, and what it created."""

    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    user_id: Mapped[int | None] = mapped_column()
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def _scoped_key(session: Session, key: str) -> str:
    # Keys are per user, so one user's key can never reveal another user's record.
    return f"{principal_of(session).user_id or 0}:{key}"[:120]


def recall(session: Session, key: str | None, entity: str) -> str | None:
    """The id of the record created earlier under ``key``, if any."""
    if not key:
        return None
    row = session.execute(
        select(IdempotencyKey).where(IdempotencyKey.key == _scoped_key(session, key))
    ).scalar_one_or_none()
    if row is None or row.entity != entity:
        return None
    return row.entity_id


def remember(session: Session, key: str | None, entity: str, entity_id: object) -> None:
    """Record that ``key`` created ``entity_id``; the caller's transaction makes it durable."""
    if not key:
        return
    session.add(IdempotencyKey(key=_scoped_key(session, key), user_id=principal_of(session).user_id,
                               entity=entity, entity_id=str(entity_id)))
    session.flush()
