"""Fixtures of the tracing module: residents of the demo city and cases reported through the service."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from fangkong.core.db import utcnow
from fangkong.core.scope import system_access
from fangkong.people.models import Person
from fangkong.tracing import service
from fangkong.tracing.models import Case, CaseKind, FoundBy
from fangkong.tracing.schemas import CaseIn

XINZHAN = "220502001001"  # 新站社区 in 东昌区, the dongchang_worker's community
JIANGNAN = "220502001002"  # 江南社区, its neighbour in 东昌区
DONGTONGHUA = "220503001001"  # 东通化社区 in 二道江区


def residents(session: Session, community: str, n: int | None = None) -> list[Person]:
    """The first ``n`` residents of a community, by id."""
    with system_access(session):
        found = session.execute(select(Person).where(Person.jurisdiction_code == community)
                                .order_by(Person.id)).scalars().all()
    return list(found[:n] if n is not None else found)


CaseMaker = Callable[..., Case]


@pytest.fixture
def make_case(session: Session) -> CaseMaker:
    """Report a case for a person through the service: ``make_case(person, hours_ago=3)``."""

    def make(person: Person, *, hours_ago: float = 1, kind: CaseKind = CaseKind.CONFIRMED,
             onset: datetime | None = None, source: Case | None = None,
             found_by: FoundBy = FoundBy.FEVER_CLINIC) -> Case:
        reported = utcnow() - timedelta(hours=hours_ago)
        return service.report_case(session, CaseIn(
            person_id=person.id, kind=kind, found_by=found_by, sampled_at=reported - timedelta(hours=6),
            onset_at=onset, reported_at=reported, source_case_id=source.id if source else None))

    return make
