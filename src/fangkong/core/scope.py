"""Jurisdiction scoping: the one mechanism through which every query sees only what it may.

Each request, CLI command or job binds a ``Principal`` to its session. Tables whose rows belong to a
jurisdiction inherit ``Scoped`` and name the permission that reads them and the one that writes
them. Then:

* every ORM SELECT (and ORM UPDATE / DELETE) on a scoped table gets a filter on
  ``jurisdiction_code`` for the code prefixes the principal holds that permission for, added by the
  ``do_orm_execute`` hook below, so no route or service writes a scope filter of its own;
* every flush is checked by the ``before_flush`` hook: a new, changed or deleted scoped row outside
  the principal's write scope stops the transaction with ``Forbidden``.

A table may also name a facility column (``facility_attribute``): an account bound to a facility
(a lab, an isolation site, a hospital) then sees and writes only that facility's rows of it, on top
of its jurisdiction.

A session with no principal refuses to query scoped tables at all, so forgetting to bind one fails
loudly instead of leaking.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from sqlalchemy import ColumnElement, and_, event, false, or_, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column, with_loader_criteria
from sqlalchemy.sql.util import find_tables

from fangkong.core.auth import ROLE_PERMISSIONS, Permission, Role
from fangkong.core.db import code_column_type
from fangkong.core.errors import N_, Forbidden, NotFound

PRINCIPAL_KEY = "principal"
AGGREGATE_OPTION = "fangkong_aggregate"


def prefix_range(prefix: str) -> tuple[str, str]:
    """The half-open string range [low, high) holding every code that starts with ``prefix``."""
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


def covers(prefix: str, code: str) -> bool:
    """Whether jurisdiction ``prefix`` contains ``code``."""
    return code.startswith(prefix)


def minimal_prefixes(prefixes: Iterable[str]) -> tuple[str, ...]:
    """Drop every prefix already covered by a shorter one."""
    kept: list[str] = []
    for p in sorted(set(prefixes), key=len):
        if not any(p.startswith(k) for k in kept):
            kept.append(p)
    return tuple(sorted(kept))


@dataclass(frozen=True)
class Grant:
    """One role held over one jurisdiction subtree."""

    role: Role
    jurisdiction_code: str


@dataclass(frozen=True)
class Principal:
    """Who is acting: a user (with grants), a machine token, or the system itself."""

    user_id: int | None
    username: str
    grants: tuple[Grant, ...] = ()
    is_system: bool = False
    address: str | None = None
    facility_id: int | None = None
    via_token: bool = False
    _cache: dict[Permission, tuple[str, ...]] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def system(cls, name: str = "system") -> Principal:
        """The unrestricted principal of the CLI, jobs and start-up."""
        return cls(user_id=None, username=name, is_system=True)

    @property
    def roles(self) -> frozenset[Role]:
        """Every role held, whatever the jurisdiction."""
        return frozenset(g.role for g in self.grants)

    @property
    def home_code(self) -> str:
        """The widest jurisdiction the principal is bound to (shortest code)."""
        if self.is_system or not self.grants:
            return ""
        return min((g.jurisdiction_code for g in self.grants), key=len)

    def prefixes(self, permission: Permission) -> tuple[str, ...] | None:
        """The jurisdiction prefixes where ``permission`` holds; ``None`` means everywhere."""
        if self.is_system:
            return None
        if permission not in self._cache:
            self._cache[permission] = minimal_prefixes(
                g.jurisdiction_code for g in self.grants if permission in ROLE_PERMISSIONS[g.role]
            )
        return self._cache[permission]

    def can(self, permission: Permission, code: str | None = None) -> bool:
        """Whether ``permission`` holds somewhere, or over ``code`` when given."""
        prefixes = self.prefixes(permission)
        if prefixes is None:
            return True
        if code is None:
            return bool(prefixes)
        return any(covers(p, code) for p in prefixes)

    def require(self, permission: Permission, code: str | None = None) -> None:
        """Raise ``Forbidden`` unless ``permission`` holds (over ``code`` when given)."""
        if not self.can(permission, code):
            raise Forbidden(N_("Your role does not allow this."))

    def bind(self, session: Session) -> None:
        """Make every query of ``session`` act as this principal."""
        session.info[PRINCIPAL_KEY] = self


def principal_of(session: Session) -> Principal:
    """The principal bound to ``session``."""
    principal = session.info.get(PRINCIPAL_KEY)
    if principal is None:
        raise RuntimeError("session has no principal bound; use Principal.bind or system_session")
    return principal


@contextmanager
def system_access(session: Session) -> Iterator[None]:
    """Run a block unscoped: only for authentication and existence checks inside ``core``."""
    saved = session.info.get(PRINCIPAL_KEY)
    session.info[PRINCIPAL_KEY] = Principal.system()
    try:
        yield
    finally:
        if saved is None:
            session.info.pop(PRINCIPAL_KEY, None)
        else:
            session.info[PRINCIPAL_KEY] = saved


class Scoped:
    """Mixin for tables whose rows belong to a jurisdiction (by division code)."""

    read_permission: ClassVar[Permission]
    write_permission: ClassVar[Permission]
    # Counting rows is allowed with this permission (viewers see how many, never who).
    aggregate_permission: ClassVar[Permission] = Permission.AGGREGATES_READ
    # The column holding the facility a row belongs to, for facility-bound accounts (see module doc).
    facility_attribute: ClassVar[str | None] = None

    jurisdiction_code: Mapped[str] = mapped_column(code_column_type(), index=True)


_SCOPED: list[type[Any]] = []


def scoped_classes() -> list[type[Any]]:
    """Every mapped class that inherits ``Scoped``."""
    if not _SCOPED:
        from fangkong.core.db import Base

        _SCOPED.extend(
            m.class_ for m in Base.registry.mappers if issubclass(m.class_, Scoped) and not m.inherits
        )
    return _SCOPED


def scope_criteria(cls: Any, prefixes: tuple[str, ...] | None) -> ColumnElement[bool] | None:
    """The filter on ``cls.jurisdiction_code`` for ``prefixes`` (None: no filter)."""
    if prefixes is None:
        return None
    if not prefixes:
        return false()
    column = cls.jurisdiction_code
    ranges = [and_(column >= lo, column < hi) for lo, hi in map(prefix_range, prefixes)]
    return ranges[0] if len(ranges) == 1 else or_(*ranges)


def criteria_for(principal: Principal, cls: Any, permission: Permission) -> ColumnElement[bool] | None:
    """Everything ``principal`` may reach of ``cls`` with ``permission``: its jurisdictions and,
    for a facility-bound account, its facility (None: no filter).

    The ORM hook applies this to every statement; a bulk service that must use table-level SQL
    (a million-row import) applies the same criteria through this function.
    """
    criteria = scope_criteria(cls, principal.prefixes(permission))
    attribute = getattr(cls, "facility_attribute", None)
    if attribute is None or principal.facility_id is None or principal.is_system:
        return criteria
    own = getattr(cls, attribute) == principal.facility_id
    return own if criteria is None else and_(criteria, own)


@event.listens_for(Session, "do_orm_execute")
def _scope_statement(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.is_relationship_load:
        # Lazy loads carry the criteria of the statement that loaded the parent.
        return
    through_core = not state.is_orm_statement
    if through_core and not _touches_scoped_tables(state.statement):
        return
    principal = principal_of(state.session)
    if principal.is_system:
        return
    if through_core:
        # Table-level statements carry no entity to filter; only the system may use them on scoped tables.
        raise RuntimeError("scoped tables are queried through their ORM classes, where the scope applies")
    aggregate = bool(state.execution_options.get(AGGREGATE_OPTION))
    options = []
    for cls in scoped_classes():
        if state.is_select:
            permission = cls.aggregate_permission if aggregate else cls.read_permission
        else:
            permission = cls.write_permission
        criteria = criteria_for(principal, cls, permission)
        if criteria is not None:
            options.append(with_loader_criteria(cls, criteria, include_aliases=True))
    if options:
        state.statement = state.statement.options(*options)


def _touches_scoped_tables(statement: Any) -> bool:
    scoped_tables = {cls.__table__ for cls in scoped_classes()}
    return any(t in scoped_tables for t in find_tables(statement, include_crud=True, include_joins=True))


@event.listens_for(Session, "before_flush")
def _check_writes(session: Session, _flush_context: Any, _instances: Any) -> None:
    principal = session.info.get(PRINCIPAL_KEY)
    if principal is None or principal.is_system:
        return
    for obj in (*session.new, *session.dirty, *session.deleted):
        if not isinstance(obj, Scoped):
            continue
        codes = {obj.jurisdiction_code}
        history = _attr_history(obj, "jurisdiction_code")
        codes.update(c for c in history if c)
        for code in codes:
            if not principal.can(type(obj).write_permission, code):
                raise Forbidden(N_("You may not change records outside your jurisdiction."))
        attribute = type(obj).facility_attribute
        if attribute and principal.facility_id is not None and getattr(obj, attribute) != principal.facility_id:
            raise Forbidden(N_("You may not change records of another facility."))


def _attr_history(obj: Any, name: str) -> list[str]:
    hist = sa_inspect(obj).attrs[name].history
    return [*hist.deleted]


M = TypeVar("M")


def get_or_404(session: Session, model: type[M], ident: Any, *, what: str | None = None) -> M:
    """Load one row by primary key within the principal's scope.

    A row that exists outside the scope is reported exactly like a missing one, and the attempt is
    written to the audit log.
    """
    key = sa_inspect(model).primary_key[0]
    obj = session.execute(select(model).where(key == ident)).scalar_one_or_none()
    if obj is not None:
        return obj
    with system_access(session):
        hidden = session.execute(select(model).where(key == ident)).scalar_one_or_none()
    if hidden is not None:
        from fangkong.core import audit

        audit.record(
            session,
            audit.Action.ACCESS_DENIED,
            entity=hidden,
            entity_id=ident,
            detail={"reason": "outside scope"},
            survive_rollback=True,
        )
        session.expunge(hidden)
    raise NotFound(what or N_("No such record."))
