"""Task templates (标准模板): an event of another module instantiates a standard set of tasks.

A template (in ``standards.toml``) names the event that instantiates it and its tasks; each task goes to
the event's jurisdiction cut to the task's level, is due a fixed number of hours after the event, and
is assigned by task force: when the nearest task force of the task's key sits at the task's own level,
its office is the responsible unit; otherwise the level's own body (community committee, street office,
headquarters) is responsible and the task force's office co-operates. A task nobody can be found for
stays a draft, for the level to assign.

Instantiation is idempotent per event: a ``TemplateRun`` row, unique per (template, event), is written
first, so an event delivered twice (a replay, a retried job) makes nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fangkong.command import organisation, standards
from fangkong.command.events import TasksInstantiated
from fangkong.command.models import (
    OrgUnit,
    OrgUnitKind,
    Responsibility,
    ResponsibilityRole,
    Task,
    TaskForce,
    TaskOrigin,
    TaskStatus,
    TemplateRun,
)
from fangkong.command.standards import LEVEL_LENGTH, Template, TemplateTask
from fangkong.core import audit, events
from fangkong.core.db import bulk_insert, utcnow
from fangkong.core.scope import system_access

# The body of a level that answers for the level's own work.
LOCAL_KINDS = (OrgUnitKind.COMMUNITY_COMMITTEE, OrgUnitKind.STREET_OFFICE, OrgUnitKind.HEADQUARTERS)
# Event keys asked about in one query (SQLite takes a bounded number of parameters).
KEYS_AT_ONCE = 5000


def level_code(code: str, level: str) -> str:
    """``code`` cut to ``level`` (``event``: as it is; a code already shorter stays as it is)."""
    if level == "event":
        return code
    return code[:LEVEL_LENGTH[level]]


def local_unit(session: Session, code: str) -> OrgUnit | None:
    """The body of jurisdiction ``code`` itself: its community committee, street office or headquarters."""
    return session.execute(select(OrgUnit).where(
        OrgUnit.jurisdiction_code == code, OrgUnit.kind.in_(LOCAL_KINDS), OrgUnit.is_active.is_(True))
        .order_by(OrgUnit.id).limit(1)).scalar_one_or_none()


def instantiate_for_event(session: Session, event_name: str, event_key: str, jurisdiction_code: str,
                          at: datetime, *, now: datetime | None = None) -> list[TemplateRun]:
    """Instantiate every template of ``event_name`` for one event; the runs made (none when done before)."""
    made = []
    places = _Places(session)
    for template in standards.load().for_event(event_name):
        run = instantiate(session, template, event_key=event_key, jurisdiction_code=jurisdiction_code, at=at,
                          now=now, places=places)
        if run is not None:
            made.append(run)
    return made


@dataclass(frozen=True)
class Occurrence:
    """One event that instantiates templates: its key (``tube:12``), where it happened and when."""

    key: str
    jurisdiction_code: str
    at: datetime


def instantiate_for_events(session: Session, event_name: str, occurrences: Sequence[Occurrence], *,
                           now: datetime | None = None) -> list[TemplateRun]:
    """Instantiate every template of ``event_name`` for many events at once; the runs made (those
    written together are not in the session: they are rows, written around the ORM).

    What ``instantiate_for_event`` makes for each, for the thousand positive pools a lab file can bring:
    each place's task force and body are looked up once, and the runs, the tasks and their lines are
    written in one bulk insert each. When another transaction has made some of the runs in between,
    the events are taken one by one instead.
    """
    now = now or utcnow()
    places = _Places(session)
    made: list[TemplateRun] = []
    refused = (IntegrityError, session.get_bind().dialect.loaded_dbapi.IntegrityError)
    with system_access(session):
        for template in standards.load().for_event(event_name):
            done: set[str] = set()
            keys = sorted({o.key for o in occurrences})
            for start in range(0, len(keys), KEYS_AT_ONCE):
                done.update(session.execute(select(TemplateRun.event_key).where(
                    TemplateRun.template_key == template.key,
                    TemplateRun.event_key.in_(keys[start:start + KEYS_AT_ONCE]))).scalars())
            fresh: dict[str, Occurrence] = {}
            for occurrence in occurrences:
                if occurrence.key not in done:
                    fresh.setdefault(occurrence.key, occurrence)
            if not fresh:
                continue
            runs = [TemplateRun(jurisdiction_code=o.jurisdiction_code, template_key=template.key,
                                event_name=template.event, event_key=o.key, event_at=o.at, created_at=now)
                    for o in fresh.values()]
            # Thousands of rows, written around the ORM and audited as one entry per table, with the
            # count and the reason. The unique key refuses a run made by another transaction in
            # between; the savepoint takes the runs back, and the events are taken one by one.
            reason = f"template {template.key} for {len(runs)} events"
            try:
                with session.begin_nested():
                    run_ids = bulk_insert(session, TemplateRun, [_run_row(run) for run in runs], with_ids=True)
            except refused:
                for o in fresh.values():
                    run = instantiate(session, template, event_key=o.key, jurisdiction_code=o.jurisdiction_code,
                                      at=o.at, now=now, places=places)
                    if run is not None:
                        made.append(run)
                continue
            for run, run_id in zip(runs, run_ids, strict=True):
                run.id = run_id
            rows = [_task_rows(places, template, spec, run, o.jurisdiction_code, o.at, now)
                    for run, o in zip(runs, fresh.values(), strict=True) for spec in template.tasks]
            # Inserted around the ORM, which writes tasks one at a time (they may have parent tasks).
            task_ids = bulk_insert(session, Task, [task for task, _ in rows], with_ids=True)
            lines = [{**line, "task_id": task_id} for (_, task_lines), task_id in zip(rows, task_ids, strict=True)
                     for line in task_lines]
            bulk_insert(session, Responsibility, lines)
            for table, count in ((TemplateRun.__tablename__, len(runs)), (Task.__tablename__, len(task_ids)),
                                 (Responsibility.__tablename__, len(lines))):
                audit.record(session, audit.Action.CREATE, entity_name=table, detail={"count": count, "reason": reason})
            per_run = len(template.tasks)
            events.emit_all(session, [TasksInstantiated(jurisdiction_code=run.jurisdiction_code,
                                                        template_key=template.key, event_key=run.event_key,
                                                        task_ids=tuple(task_ids[i * per_run:(i + 1) * per_run]))
                                      for i, run in enumerate(runs)])
            made += runs
    return made


def _run_row(run: TemplateRun) -> dict[str, Any]:
    """The values of a run's row."""
    return {"jurisdiction_code": run.jurisdiction_code, "template_key": run.template_key, "event_name": run.event_name,
            "event_key": run.event_key, "event_at": run.event_at, "created_at": run.created_at}


def instantiate(session: Session, template: Template, *, event_key: str, jurisdiction_code: str, at: datetime,
                now: datetime | None = None, places: _Places | None = None) -> TemplateRun | None:
    """Make a template's tasks for one event, once: ``None`` when this event has made them already.

    Runs as the system: the event may come from a lab's upload or a tracer's report, who do not
    write the command lists, and the tasks belong to whichever levels the template says.
    """
    now = now or utcnow()
    places = places or _Places(session)
    with system_access(session):
        if session.execute(select(TemplateRun.id).where(TemplateRun.template_key == template.key,
                                                        TemplateRun.event_key == event_key)).first():
            return None
        run = TemplateRun(jurisdiction_code=jurisdiction_code, template_key=template.key, event_name=template.event,
                          event_key=event_key, event_at=at, created_at=now)
        try:
            with session.begin_nested():
                session.add(run)
        except IntegrityError:
            # Another transaction instantiated it for the same event in between.
            return None
        with session.no_autoflush:
            tasks = [_task(places, template, spec, run, jurisdiction_code, at, now) for spec in template.tasks]
        session.flush()
        events.emit(session, TasksInstantiated(jurisdiction_code=jurisdiction_code, template_key=template.key,
                                               event_key=event_key, task_ids=tuple(t.id for t in tasks)))
    return run


class _Places:
    """The task force of a key and the local body of each place, looked up once per place."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._forces: dict[tuple[str, str], TaskForce | None] = {}
        self._bodies: dict[str, OrgUnit | None] = {}

    def task_force(self, key: str, code: str) -> TaskForce | None:
        if (key, code) not in self._forces:
            self._forces[(key, code)] = organisation.nearest_task_force(self.session, key, code)
        return self._forces[(key, code)]

    def body(self, code: str) -> OrgUnit | None:
        if code not in self._bodies:
            self._bodies[code] = local_unit(self.session, code)
        return self._bodies[code]


def _task(places: _Places, template: Template, spec: TemplateTask, run: TemplateRun, event_code: str,
          at: datetime, now: datetime) -> Task:
    """A template's task for one event, with its responsibility lines, added to the session."""
    values, lines = _task_rows(places, template, spec, run, event_code, at, now)
    task = Task(**values, responsibilities=[Responsibility(**line) for line in lines])
    places.session.add(task)
    return task


def _task_rows(places: _Places, template: Template, spec: TemplateTask, run: TemplateRun, event_code: str,
               at: datetime, now: datetime) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A template's task for one event as the values of its row and of its responsibility lines."""
    code = level_code(event_code, spec.level)
    force = places.task_force(spec.task_force, code)
    lines: list[tuple[ResponsibilityRole, int | None, int | None, str]] = []  # role, unit, user, name
    if force is not None:
        if force.lead_leader_user_id or force.lead_leader_name:
            lines.append((ResponsibilityRole.LEAD_LEADER, None, force.lead_leader_user_id, force.lead_leader_name))
        if force.in_charge_user_id or force.in_charge_name:
            lines.append((ResponsibilityRole.LEADER_IN_CHARGE, None, force.in_charge_user_id, force.in_charge_name))
    office = force.office_unit_id if force is not None else None
    local = places.body(code)
    unit_id: int | None
    co_unit_id: int | None
    if force is not None and force.jurisdiction_code == code and office is not None:
        unit_id, co_unit_id = office, None
    elif local is not None:
        unit_id, co_unit_id = local.id, office
    else:
        unit_id, co_unit_id = office, None
    if unit_id is not None:
        lines.append((ResponsibilityRole.RESPONSIBLE_UNIT, unit_id, None, ""))
    if co_unit_id is not None:
        lines.append((ResponsibilityRole.CO_UNIT, co_unit_id, None, ""))
    task = {"jurisdiction_code": code, "title": spec.title, "description": spec.description,
            "origin": TaskOrigin.TEMPLATE, "template_run_id": run.id, "template_key": f"{template.key}/{spec.key}",
            "source_key": f"{template.event}:{run.event_key}", "task_force_id": force.id if force else None,
            "unit_id": unit_id, "starts_at": at, "due_at": at + timedelta(hours=spec.due_hours), "created_at": now,
            # A task nobody can be found for stays a draft, for the level to assign.
            "status": TaskStatus.ASSIGNED if unit_id is not None else TaskStatus.DRAFT,
            "assigned_at": now if unit_id is not None else None, "progress": 0, "outcome": ""}
    return task, [{"role": role, "unit_id": unit, "user_id": user, "name": name or "", "jurisdiction_code": code}
                  for role, unit, user, name in lines]
