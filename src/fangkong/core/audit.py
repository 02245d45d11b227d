"""The append-only audit log: every write, every unmasked view, every export, every refusal.

Writes are recorded by the ``after_flush`` hook below, so no service can forget one; views of
unmasked personal data, exports, logins and refusals are recorded by calling ``record``. Rows are
never updated or deleted: the ORM refuses it here, and a database trigger (see the migration)
refuses it for anyone who goes around the ORM.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import String, event, insert, inspect
from sqlalchemy.orm import Mapped, Session, mapped_column

from fangkong.core.auth import Permission
from fangkong.core.db import Base, keep_after_rollback, utcnow
from fangkong.core.errors import N_
from fangkong.core.scope import PRINCIPAL_KEY, Principal, Scoped


class Action(StrEnum):
    """What was done."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    VIEW_UNMASKED = "view_unmasked"
    EXPORT = "export"
    ACCESS_DENIED = "access_denied"
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"
    TOKEN_ISSUED = "token_issued"

    @property
    def label(self) -> str:
        """The action's name in the interface (an msgid)."""
        return ACTION_LABELS[self]


ACTION_LABELS = {
    Action.CREATE: N_("Created"),
    Action.UPDATE: N_("Changed"),
    Action.DELETE: N_("Deleted"),
    Action.VIEW_UNMASKED: N_("Viewed unmasked"),
    Action.EXPORT: N_("Exported"),
    Action.ACCESS_DENIED: N_("Refused (outside scope)"),
    Action.LOGIN: N_("Logged in"),
    Action.LOGIN_FAILED: N_("Login failed"),
    Action.LOGOUT: N_("Logged out"),
    Action.TOKEN_ISSUED: N_("API token issued"),
}


class AuditEntry(Scoped, Base):
    """One audited act. ``jurisdiction_code`` is the record's (or, failing that, the actor's)."""

    __tablename__ = "audit_entries"
    read_permission = Permission.AUDIT_READ
    write_permission = Permission.AUDIT_READ
    aggregate_permission = Permission.AUDIT_READ

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(index=True)
    actor_name: Mapped[str] = mapped_column(String(80))
    address: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[Action] = mapped_column(index=True)
    entity: Mapped[str] = mapped_column(String(40), index=True)
    entity_id: Mapped[str | None] = mapped_column(String(40), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


# Tables whose writes are not audited row by row: the log itself, and bookkeeping that is
# itself a record of activity (sessions, throttling, job progress, the event journal).
UNAUDITED_TABLES = {"audit_entries", "user_sessions", "login_failures", "jobs", "domain_events", "idempotency_keys"}
# Updates that touch only these columns are bookkeeping already recorded another way (a login, a
# token's use), not changes to the record.
BOOKKEEPING_COLUMNS = {"last_login_at", "last_used_at", "updated_at"}


def _row(principal: Principal | None, action: Action, entity: str, entity_id: Any, code: str | None,
         detail: dict[str, Any]) -> dict[str, Any]:
    principal = principal or Principal.system("unknown")
    return {
        "at": utcnow(),
        "actor_id": principal.user_id,
        "actor_name": principal.username,
        "address": principal.address,
        "action": action,
        "entity": entity,
        "entity_id": None if entity_id is None else str(entity_id),
        "jurisdiction_code": code if code is not None else principal.home_code,
        "detail": detail,
    }


def record(
    session: Session,
    action: Action,
    *,
    entity: Any = None,
    entity_name: str | None = None,
    entity_id: Any = None,
    jurisdiction_code: str | None = None,
    detail: dict[str, Any] | None = None,
    survive_rollback: bool = False,
) -> None:
    """Append one entry for an act that is not a plain write (a view, an export, a login …).

    ``survive_rollback`` keeps the entry even when the transaction fails (refusals, failed logins).
    """
    if entity is not None:
        entity_name = entity_name or entity.__tablename__
        entity_id = entity_id if entity_id is not None else getattr(entity, "id", None)
        if jurisdiction_code is None:
            jurisdiction_code = getattr(entity, "jurisdiction_code", None)
    row = _row(session.info.get(PRINCIPAL_KEY), action, entity_name or "-", entity_id,
               jurisdiction_code, detail or {})
    if survive_rollback:
        keep_after_rollback(session, AuditEntry.__table__, row)
    else:
        session.execute(insert(AuditEntry).values(**row))


@event.listens_for(Session, "before_flush")
def _refuse_rewrites(session: Session, _ctx: Any, _instances: Any) -> None:
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, AuditEntry):
            raise RuntimeError("the audit log is append-only")


BULK_KEY = "audit_bulk"


def bulk(session: Session, reason: str) -> None:
    """Audit the writes of this session as one entry per table and action, with counts.

    For loads of thousands of rows (the demo city, a lab file), where an entry per row would bury
    the log; the entry names the reason (and the job) so the rows can still be traced.
    """
    session.info[BULK_KEY] = reason


@event.listens_for(Session, "after_flush")
def _record_writes(session: Session, _ctx: Any) -> None:
    principal = session.info.get(PRINCIPAL_KEY)
    bulk_reason = session.info.get(BULK_KEY)
    counts: dict[tuple[Action, str], int] = {}
    rows: list[dict[str, Any]] = []
    changes = [(Action.CREATE, o) for o in session.new] + [(Action.UPDATE, o) for o in session.dirty] + [
        (Action.DELETE, o) for o in session.deleted
    ]
    for action, obj in changes:
        table = getattr(obj, "__tablename__", None)
        if table is None or table in UNAUDITED_TABLES:
            continue
        state = inspect(obj)
        # A row counted among thousands needs no fields, but an update does, to leave out bookkeeping.
        described = not bulk_reason or action is Action.UPDATE
        changed = sorted(a.key for a in state.attrs if a.history.has_changes()) if described else []
        if action is Action.UPDATE and set(changed) <= BOOKKEEPING_COLUMNS:
            continue
        if bulk_reason:
            counts[(action, table)] = counts.get((action, table), 0) + 1
            continue
        detail: dict[str, Any] = {"fields": changed} if action is not Action.DELETE else {}
        ident = state.identity[0] if state.identity else getattr(obj, "id", None)
        rows.append(_row(principal, action, table, ident, getattr(obj, "jurisdiction_code", None), detail))
    for (action, table), n in counts.items():
        rows.append(_row(principal, action, table, None, None, {"count": n, "reason": bulk_reason}))
    if rows:
        session.connection().execute(insert(AuditEntry), rows)
