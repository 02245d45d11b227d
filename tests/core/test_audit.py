"""The audit log: every write recorded by the central hook, and nothing ever rewritten."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from fangkong.core import audit
from fangkong.core.audit import Action, AuditEntry
from fangkong.geo.models import Jurisdiction
from tests.conftest import ADMIN


def test_a_write_is_recorded_with_actor_address_and_fields(session: Session, as_user) -> None:
    principal = as_user(ADMIN)
    node = session.execute(select(Jurisdiction).where(Jurisdiction.code == "220502001")).scalar_one()
    node.name = "新站街道（更名）"
    session.flush()
    entry = session.execute(select(AuditEntry).where(AuditEntry.entity == "jurisdictions")
                            .order_by(AuditEntry.id.desc())).scalars().first()
    assert entry is not None
    assert (entry.action, entry.entity_id, entry.actor_id, entry.address) == (
        Action.UPDATE, "220502001", principal.user_id, "127.0.0.1")
    assert entry.detail == {"fields": ["name"]}
    assert entry.jurisdiction_code == "220502001"


def test_the_orm_refuses_to_change_an_entry(session: Session) -> None:
    audit.record(session, Action.EXPORT, entity_name="persons", detail={"rows": 3})
    entry = session.execute(select(AuditEntry).order_by(AuditEntry.id.desc())).scalars().first()
    assert entry is not None
    entry.detail = {}
    with pytest.raises(RuntimeError, match="append-only"):
        session.flush()


@pytest.mark.parametrize("statement", ["update", "delete"])
def test_the_database_refuses_to_change_an_entry(session: Session, statement: str) -> None:
    audit.record(session, Action.EXPORT, entity_name="persons")
    session.flush()
    table = AuditEntry.__table__
    stmt = update(table).values(actor_name="x") if statement == "update" else delete(table)
    nested = session.begin_nested()
    with pytest.raises(DBAPIError, match="append-only"):
        session.connection().execute(stmt)
    nested.rollback()
    assert session.execute(text("select count(*) from audit_entries")).scalar_one() > 0


def test_a_bulk_load_is_one_entry_per_table(session: Session) -> None:
    audit.bulk(session, "import of file x")
    for i in range(3):
        session.add(Jurisdiction(code=f"220502009{i:03d}", name=f"测试社区{i}", parent_code=None))
    session.flush()
    entries = session.execute(select(AuditEntry).where(AuditEntry.entity == "jurisdictions",
                                                       AuditEntry.action == Action.CREATE)).scalars().all()
    assert [e.detail for e in entries][-1] == {"count": 3, "reason": "import of file x"}
