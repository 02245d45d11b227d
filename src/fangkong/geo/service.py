"""Operations on the jurisdiction tree, compounds, places and facilities."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fangkong.core.errors import N_, Invalid
from fangkong.core.paging import Page, paginate
from fangkong.core.scope import AGGREGATE_OPTION, get_or_404, prefix_range, system_access
from fangkong.geo.models import Jurisdiction, Level

_CODE_SHAPE = re.compile(r"^\d+$")
CODE_LENGTHS = {level.value for level in Level}


def check_code(code: str, *, field: str = "jurisdiction_code") -> str:
    """A well-formed division code (2, 4, 6, 9 or 12 digits), or ``Invalid`` naming the field."""
    code = (code or "").strip()
    if not _CODE_SHAPE.match(code) or len(code) not in CODE_LENGTHS:
        raise Invalid.field(field, N_("A jurisdiction code has 2, 4, 6, 9 or 12 digits; {code} does not."),
                            code=code or "∅")
    return code


def get_jurisdiction(session: Session, code: str) -> Jurisdiction:
    """One jurisdiction within the user's scope (404 otherwise)."""
    return get_or_404(session, Jurisdiction, check_code(code, field="code"),
                      what=N_("No such jurisdiction."))


def require_jurisdiction(session: Session, code: str, *, field: str = "jurisdiction_code") -> Jurisdiction:
    """The jurisdiction an input names; ``Invalid`` on the field when it is malformed or not in scope."""
    code = check_code(code, field=field)
    node = session.execute(select(Jurisdiction).where(Jurisdiction.code == code)).scalar_one_or_none()
    if node is None:
        raise Invalid.field(field, N_("Unknown jurisdiction code {code}."), code=code)
    return node


def roots(session: Session) -> list[Jurisdiction]:
    """The top nodes the user can see: those whose parent is outside their scope."""
    visible = select(Jurisdiction.code)
    stmt = (
        select(Jurisdiction)
        .where((Jurisdiction.parent_code.is_(None)) | Jurisdiction.parent_code.not_in(visible))
        .order_by(Jurisdiction.code)
    )
    return list(session.execute(stmt).scalars())


def children(session: Session, code: str) -> list[Jurisdiction]:
    """The visible children of ``code``."""
    stmt = select(Jurisdiction).where(Jurisdiction.parent_code == code).order_by(Jurisdiction.code)
    return list(session.execute(stmt).scalars())


def ancestors(session: Session, node: Jurisdiction) -> list[Jurisdiction]:
    """The chain from the top of the tree down to ``node``'s parent, for breadcrumbs.

    Division names and codes are public reference data, so they are read unscoped; only the
    user's own subtree is ever listed or counted.
    """
    codes = [node.code[:n] for n in sorted(CODE_LENGTHS) if n < len(node.code)]
    if not codes:
        return []
    with system_access(session):
        found = session.execute(select(Jurisdiction).where(Jurisdiction.code.in_(codes))).scalars().all()
        for item in found:
            session.expunge(item)
    return sorted(found, key=lambda j: len(j.code))


def list_jurisdictions(
    session: Session, *, parent: str | None = None, level: int | None = None, q: str | None = None,
    page: int = 1, size: int = 50,
) -> Page[Jurisdiction]:
    """Jurisdictions in scope, filtered by parent, level (code length) or name."""
    stmt = select(Jurisdiction).order_by(Jurisdiction.code)
    if parent:
        stmt = stmt.where(Jurisdiction.parent_code == check_code(parent, field="parent"))
    if level:
        if level not in CODE_LENGTHS:
            raise Invalid.field("level", N_("The level must be one of 2, 4, 6, 9 or 12."))
        stmt = stmt.where(func.length(Jurisdiction.code) == level)
    if q:
        stmt = stmt.where(Jurisdiction.name.contains(q.strip()))
    return paginate(session, stmt, page=page, size=size)


def count_by_child(session: Session, model: type, parent: Jurisdiction) -> dict[str, int]:
    """How many rows of ``model`` lie under each child of ``parent`` (an aggregate, no one named)."""
    child = parent.level.child
    if child is None:
        return {}
    code = model.jurisdiction_code  # type: ignore[attr-defined]
    lo, hi = prefix_range(parent.code)
    child_code = func.substr(code, 1, child.value).label("child_code")
    stmt = (
        select(child_code, func.count())
        .where(code >= lo, code < hi)
        .group_by(child_code)
        .execution_options(**{AGGREGATE_OPTION: True})
    )
    return {k: n for k, n in session.execute(stmt).all()}


def count_under(session: Session, model: type, code: str) -> int:
    """How many rows of ``model`` lie under ``code`` (an aggregate)."""
    column = model.jurisdiction_code  # type: ignore[attr-defined]
    lo, hi = prefix_range(code)
    stmt = (
        select(func.count())
        .select_from(model)
        .where(column >= lo, column < hi)
        .execution_options(**{AGGREGATE_OPTION: True})
    )
    return int(session.execute(stmt).scalar_one())

