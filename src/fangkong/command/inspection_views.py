"""Pages of unannounced inspections (四不两直): the list, a new inspection from a phone, its findings and photos."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fangkong.command import inspections
from fangkong.command.inspections import FindingIn, Inspection, PhotoIn, Severity, SiteIn, SiteKind
from fangkong.core.auth import Permission
from fangkong.core.deps import SessionDep, requires
from fangkong.core.errors import N_, AppError, FieldError, Invalid, NotFound
from fangkong.core.paging import paginate
from fangkong.core.scope import Principal
from fangkong.geo.models import Facility, Jurisdiction, Level, Place
from fangkong.web import nav
from fangkong.web.templating import render

pages = APIRouter(include_in_schema=False)

nav.register(nav.NavItem("command", N_("Inspections"), "/command/inspections", Permission.COMMAND_READ, order=85))

Reader = Annotated[Principal, Depends(requires(Permission.COMMAND_READ))]
Writer = Annotated[Principal, Depends(requires(Permission.COMMAND_WRITE))]
LOCAL = ZoneInfo("Asia/Shanghai")
PAGE_SIZE = 50


def _errors_of(exc: AppError) -> dict[str, FieldError]:
    return {e.field.split(".")[0]: e for e in exc.errors}


def _sites(session: Session) -> dict[str, Any]:
    """What may be chosen as the site: places, facilities and communities in the user's jurisdiction."""
    return {
        "places": session.execute(select(Place).order_by(Place.jurisdiction_code, Place.name)).scalars().all(),
        "facilities": session.execute(select(Facility).order_by(Facility.jurisdiction_code, Facility.name)
                                      ).scalars().all(),
        "communities": session.execute(select(Jurisdiction).where(
            func.length(Jurisdiction.code) == Level.COMMUNITY.value).order_by(Jurisdiction.code)).scalars().all(),
    }


def _int(value: str) -> int | None:
    value = value.strip()
    return int(value) if value.isdigit() else None


# --------------------------------------------------------------------------------------------- the list


@pages.get("/command/inspections")
def inspection_list(request: Request, session: SessionDep, principal: Reader, page: int = 1) -> Response:
    """The inspections in the user's jurisdiction, latest first, with how many findings each."""
    listed = paginate(session, inspections.inspections(), page=page, size=PAGE_SIZE)
    counts = dict(session.execute(select(inspections.Finding.inspection_id, func.count())
                                  .where(inspections.Finding.inspection_id.in_([i.id for i in listed.items]))
                                  .group_by(inspections.Finding.inspection_id)).all())
    return render(request, "command/inspections.html", {
        "page": listed, "counts": counts, "base": "?", "can_write": principal.can(Permission.COMMAND_WRITE)})


# ------------------------------------------------------------------------------------- a new inspection


def _new_form(request: Request, session: Session, *, data: dict[str, str] | None = None,
              error: AppError | None = None) -> Response:
    now = datetime.now(LOCAL).strftime("%Y-%m-%dT%H:%M")
    return render(request, "command/inspection_new.html", {
        **_sites(session), "kinds": list(SiteKind), "data": data or {"site_kind": "place", "inspected_at": now},
        "errors": _errors_of(error) if error else {}, "error": error,
    }, status=error.status if error else 200)


@pages.get("/command/inspections/new")
def new_inspection_form(request: Request, session: SessionDep, principal: Writer) -> Response:
    """The phone-first form of a new inspection: the site, the time, the team."""
    return _new_form(request, session)


@pages.post("/command/inspections")
def record_inspection(request: Request, session: SessionDep, principal: Writer,
                      site_kind: Annotated[str, Form()] = "", place_id: Annotated[str, Form()] = "",
                      facility_id: Annotated[str, Form()] = "", community: Annotated[str, Form()] = "",
                      location: Annotated[str, Form()] = "", inspected_at: Annotated[str, Form()] = "",
                      team: Annotated[str, Form()] = "", notes: Annotated[str, Form()] = "",
                      form_key: Annotated[str, Form()] = "") -> Response:
    """Record the inspection, then go to its page to add the findings one after another."""
    data = {"site_kind": site_kind, "place_id": place_id, "facility_id": facility_id, "community": community,
            "location": location, "inspected_at": inspected_at, "team": team, "notes": notes}
    try:
        errors: list[FieldError] = []
        try:
            kind = SiteKind(site_kind)
        except ValueError:
            errors.append(FieldError("site_kind", N_("This value is not one of the allowed choices.")))
            kind = SiteKind.PLACE
        when = None
        try:
            when = datetime.fromisoformat(inspected_at.strip()).replace(tzinfo=LOCAL) if inspected_at.strip() else None
        except ValueError:
            errors.append(FieldError("inspected_at", N_("Not a date and time: “{value}”."), {"value": inspected_at}))
        if when is None and not errors:
            errors.append(FieldError("inspected_at", N_("This field is required.")))
        if len(location) > 200 or len(team) > 200:
            errors.append(FieldError("location" if len(location) > 200 else "team", N_("This field is too long.")))
        if errors:
            raise Invalid(N_("Please correct the marked fields."), errors=errors)
        assert when is not None
        made = inspections.record_inspection(
            session, SiteIn(kind=kind, place_id=_int(place_id), facility_id=_int(facility_id),
                            community_code=community.strip() or None, location=location),
            inspected_at=when, team=team, notes=notes, form_key=form_key or None)
    except Invalid as exc:
        session.rollback()
        return _new_form(request, session, data=data, error=exc)
    return RedirectResponse(f"/command/inspections/{made.id}", status_code=303)


# ------------------------------------------------------------------------------ an inspection, findings


def _context(session: Session, principal: Principal, inspection: Inspection) -> dict[str, Any]:
    return {"inspection": inspection, "severities": list(Severity),
            "units": inspections.units_for(session, inspection.jurisdiction_code),
            "can_write": principal.can(Permission.COMMAND_WRITE, inspection.jurisdiction_code),
            "max_photos": inspections.MAX_PHOTOS, "max_mb": inspections.MAX_PHOTO_BYTES // (1024 * 1024),
            "finding": {}, "errors": {}, "error": None}


# Before the inspection's page, whose path would otherwise take "photos" for an inspection id.
@pages.get("/command/inspections/photos/{photo_id}")
def photo(request: Request, session: SessionDep, principal: Reader, photo_id: int) -> Response:
    """A finding's photo, only to those whose jurisdiction holds the inspection."""
    found = inspections.get_photo(session, photo_id)
    path = inspections.photo_path(found, root=request.app.state.settings.data_dir)
    if not path.exists():
        raise NotFound(N_("No such photo."))
    return FileResponse(path, media_type=found.content_type,
                        headers={"Cache-Control": "private, no-store", "Content-Disposition": "inline"})


@pages.get("/command/inspections/{inspection_id}")
def inspection_page(request: Request, session: SessionDep, principal: Reader, inspection_id: int) -> Response:
    """An inspection: the site, the team, its findings with photos and links to their problems."""
    inspection = inspections.get_inspection(session, inspection_id)
    return render(request, "command/inspection.html", _context(session, principal, inspection))


@pages.post("/command/inspections/{inspection_id}/findings")
def add_finding(request: Request, session: SessionDep, principal: Writer, inspection_id: int,
                text: Annotated[str, Form()] = "", severity: Annotated[str, Form()] = "",
                unit_id: Annotated[str, Form()] = "", form_key: Annotated[str, Form()] = "",
                photos: Annotated[list[UploadFile] | None, File()] = None) -> Response:
    """Add a finding with its photos; it is filed as a problem for its unit. HTMX gets the section back."""
    inspection = inspections.get_inspection(session, inspection_id)
    finding = {"text": text, "severity": severity, "unit_id": unit_id}
    try:
        try:
            level = Severity(severity)
        except ValueError:
            raise Invalid.field("severity", N_("Choose how serious it is.")) from None
        uploads = [f for f in photos or [] if f.filename]
        files = [PhotoIn(filename=f.filename or "photo",
                         data=f.file.read(inspections.MAX_PHOTO_BYTES + 1)) for f in uploads]
        inspections.add_finding(session, inspection, FindingIn(text=text, severity=level, unit_id=_int(unit_id),
                                                               photos=files),
                                form_key=form_key or None, root=request.app.state.settings.data_dir)
    except Invalid as exc:
        session.rollback()
        inspection = inspections.get_inspection(session, inspection_id)
        context = _context(session, principal, inspection)
        context.update({"finding": finding, "errors": _errors_of(exc), "error": exc})
        is_htmx = request.headers.get("hx-request") == "true"
        template = "command/_findings.html" if is_htmx else "command/inspection.html"
        return render(request, template, context, status=exc.status)
    if request.headers.get("hx-request") == "true":
        session.flush()
        session.refresh(inspection)
        return render(request, "command/_findings.html", _context(session, principal, inspection))
    return RedirectResponse(f"/command/inspections/{inspection.id}", status_code=303)
