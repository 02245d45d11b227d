"""Contacts written straight into the tables, for tests of what happens to them after a run."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from fangkong.core.db import utcnow
from fangkong.core.scope import system_access
from fangkong.people.models import Person
from fangkong.tracing.models import Case, Contact, ContactKind, TracingRun


def add_contact(session: Session, person: Person, case: Case, kind: ContactKind = ContactKind.CLOSE, *,
                due_in_hours: float = 12, run: TracingRun | None = None) -> Contact:
    """A contact of ``case``, as a run would have written it."""
    now = utcnow()
    with system_access(session):
        if run is None:
            run = TracingRun(jurisdiction_code="2205", ruleset="protocol-8", case_ids=[case.id])
            session.add(run)
            session.flush()
        contact = Contact(person_id=person.id, jurisdiction_code=person.jurisdiction_code, kind=kind,
                          case_id=case.id, first_exposure=now - timedelta(days=1),
                          last_exposure=now - timedelta(days=1) + timedelta(minutes=30), run_id=run.id,
                          due_at=now + timedelta(hours=due_in_hours))
        session.add(contact)
        session.flush()
    return contact
