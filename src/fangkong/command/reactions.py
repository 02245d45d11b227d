"""How the command module reacts to the other modules' events.

* a template's event (a new local case, a positive pool) instantiates its tasks (``task_templates``);
* an alert — another loop's clock ran out — files a problem (source ``alert``) where it happened, once per
  alert: a positive pool's members not re-sampled in time (testing ``ResamplingOverdue``), an
  investigation past its clock (tracing ``InvestigationOverdue``), a contact not under control in time
  (tracing ``ControlOverdue``).

Handlers act as the system: whoever caused the event (a lab's upload, a tracer) need not write the lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from fangkong.command import organisation, problems, task_templates
from fangkong.command.models import ProblemSource
from fangkong.command.schemas import ProblemIn
from fangkong.core.db import utcnow
from fangkong.core.errors import N_
from fangkong.core.events import subscribe, subscribe_batch
from fangkong.core.scope import system_access
from fangkong.testing.events import PoolPositive, ResamplingOverdue
from fangkong.tracing.events import CaseReported, ControlOverdue, InvestigationOverdue

# Alert problems' titles: msgids with the alert's values as parameters.
INVESTIGATION_LATE = {
    "core": N_("The core information of case {case_id} was not in on time"),
    "report": N_("The investigation report of case {case_id} was not in on time"),
}
CONTROL_LATE = N_("Contact {contact_id} was not under control on time")
RESAMPLING_LATE = N_("{missing} persons of a re-sampling order were not re-sampled on time")


@subscribe(CaseReported)
def tasks_for_new_case(session: Session, event: CaseReported) -> None:
    """A new local case: the template's tasks for its district, community, city."""
    task_templates.instantiate_for_event(session, event.name, f"case:{event.case_id}", event.jurisdiction_code,
                                         event.reported_at or utcnow())


@subscribe_batch(PoolPositive)
def tasks_for_positive_pools(session: Session, batch: Sequence[PoolPositive]) -> None:
    """Positive pools: the template's tasks where each pool was sampled (a lab file brings many at once)."""
    now = utcnow()
    task_templates.instantiate_for_events(session, PoolPositive.name, [
        task_templates.Occurrence(f"tube:{event.tube_id}", event.jurisdiction_code, now) for event in batch])


@subscribe(InvestigationOverdue)
def problem_from_late_investigation(session: Session, event: InvestigationOverdue) -> None:
    """An investigation missed a clock: a problem for the tracing task force."""
    title = INVESTIGATION_LATE.get(event.stage, INVESTIGATION_LATE["report"])
    alert_problem(session, event.jurisdiction_code, title, key=f"{event.name}:{event.case_id}:{event.stage}",
                  task_force="tracing", due_at=event.due_at, params={"case_id": event.case_id, "stage": event.stage})


@subscribe(ControlOverdue)
def problem_from_late_control(session: Session, event: ControlOverdue) -> None:
    """A contact was not under control in time: a problem where they live."""
    alert_problem(session, event.jurisdiction_code, CONTROL_LATE, key=f"{event.name}:{event.contact_id}",
                  task_force="isolation_transfer", due_at=event.due_at,
                  params={"contact_id": event.contact_id, "kind": event.kind})


@subscribe(ResamplingOverdue)
def problem_from_late_resampling(session: Session, event: ResamplingOverdue) -> None:
    """A re-sampling order ran out of time: a problem for the community that had to re-sample."""
    alert_problem(session, event.jurisdiction_code, RESAMPLING_LATE, key=f"{event.name}:{event.order_id}",
                  task_force="testing", due_at=event.due_at,
                  params={"order_id": event.order_id, "missing": event.missing, "kind": event.kind})


def alert_problem(session: Session, code: str, title: str, *, key: str, task_force: str,
                  due_at: datetime | None, params: dict[str, Any]) -> None:
    """File the problem of an alert once (the key is the alert's), for the level's body and task force."""
    with system_access(session):
        force = organisation.nearest_task_force(session, task_force, code)
        local = task_templates.local_unit(session, code)
        params = {**params, "missed_at": due_at.isoformat() if due_at else None}
        problems.file_problem(session, ProblemIn(
            jurisdiction_code=code, title=title, source=ProblemSource.ALERT,
            unit_id=local.id if local else (force.office_unit_id if force else None),
            task_force_id=force.id if force else None), source_key=key, params=params)
