"""System pages: the audit log and the job list."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from fangkong.core import i18n, jobs
from fangkong.core.audit import Action, AuditEntry
from fangkong.core.auth import Permission
from fangkong.core.deps import SessionDep, requires
from fangkong.core.errors import N_, Invalid
from fangkong.core.paging import paginate
from fangkong.core.scope import Principal, get_or_404
from fangkong.web import nav
from fangkong.web.templating import render

pages = APIRouter(include_in_schema=False)

nav.register(nav.NavItem("system", N_("Audit log"), "/audit", Permission.AUDIT_READ))
nav.register(nav.NavItem("system", N_("Jobs"), "/jobs", Permission.JOBS_READ))

AuditReader = Annotated[Principal, Depends(requires(Permission.AUDIT_READ))]
JobReader = Annotated[Principal, Depends(requires(Permission.JOBS_READ))]
JobWriter = Annotated[Principal, Depends(requires(Permission.JOBS_WRITE))]


def _day(value: str | None, field: str) -> datetime | None:
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise Invalid.field(field, N_("Give a date as YYYY-MM-DD.")) from None
    return datetime.combine(day, time(), tzinfo=i18n.TIMEZONE)


@pages.get("/audit")
def audit_log(request: Request, session: SessionDep, principal: AuditReader, actor: str = "",
              action: str = "", entity: str = "", entity_id: str = "", since: str = "", until: str = "",
              page: int = 1) -> Response:
    """Search the audit log: who did what, to which record, when, from where."""
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc())
    if actor:
        stmt = stmt.where(AuditEntry.actor_name.contains(actor.strip()))
    if action:
        if action not in {a.value for a in Action}:
            raise Invalid.field("action", N_("This value is not one of the allowed choices."))
        stmt = stmt.where(AuditEntry.action == Action(action))
    if entity:
        stmt = stmt.where(AuditEntry.entity == entity.strip())
    if entity_id:
        stmt = stmt.where(AuditEntry.entity_id == entity_id.strip())
    start, end = _day(since, "since"), _day(until, "until")
    if start:
        stmt = stmt.where(AuditEntry.at >= start)
    if end:
        stmt = stmt.where(AuditEntry.at < end + timedelta(days=1))
    result = paginate(session, stmt, page=page, size=50)
    filters = {"actor": actor, "action": action, "entity": entity, "entity_id": entity_id,
               "since": since, "until": until}
    return render(request, "audit.html", {"page": result, "filters": filters, "actions": list(Action)})


@pages.get("/jobs")
def job_list(request: Request, session: SessionDep, principal: JobReader, page: int = 1) -> Response:
    """Long-running work: state, progress, errors."""
    result = paginate(session, select(jobs.Job).order_by(jobs.Job.id.desc()), page=page, size=50)
    return render(request, "jobs.html", {"page": result})


@pages.get("/jobs/{job_id}/progress")
def job_progress(request: Request, session: SessionDep, principal: JobReader, job_id: int) -> Response:
    """One job's row, refreshed by HTMX while it runs."""
    job = get_or_404(session, jobs.Job, job_id)
    return render(request, "_job_row.html", {"job": job})


@pages.post("/jobs/{job_id}/rerun")
def job_rerun(request: Request, session: SessionDep, principal: JobWriter, job_id: int) -> Response:
    """Queue a failed job again."""
    jobs.rerun(session, get_or_404(session, jobs.Job, job_id))
    return RedirectResponse("/jobs", status_code=303)
