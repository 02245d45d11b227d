"""How tracing reacts to the other modules' events: a positive single-tube re-test becomes a case."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangkong.core.events import subscribe
from fangkong.core.scope import system_access
from fangkong.testing.events import PositiveFound
from fangkong.tracing import service
from fangkong.tracing.models import Case, CaseKind, FoundBy
from fangkong.tracing.schemas import CaseIn


@subscribe(PositiveFound)
def case_from_positive(session: Session, event: PositiveFound) -> None:
    """Report the case of a positive person found by testing, once (a second positive is no new case).

    It starts as an asymptomatic infection: the investigation records the symptoms and the onset,
    and reclassifies it.
    """
    with system_access(session):
        if session.execute(select(Case.id).where(Case.person_id == event.person_id)).first() is not None:
            return
        found_by = FoundBy(event.found_by) if event.found_by in FoundBy.__members__.values() else FoundBy.MASS_TESTING
        sampled_at = event.sampled_at or event.tested_at
        if sampled_at is None:
            return
        service.report_case(session, CaseIn(
            person_id=event.person_id, kind=CaseKind.ASYMPTOMATIC, found_by=found_by, sampled_at=sampled_at,
            reported_at=max(event.tested_at or sampled_at, sampled_at)),
            origin=f"testing tube {event.tube_id}", now=max(event.tested_at or sampled_at, sampled_at))
