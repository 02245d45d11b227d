"""Pages of tracing: cases, investigations, contacts, runs, timeliness and chains (the API is in ``api.py``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fangkong.core import jobs
from fangkong.core.auth import Permission
from fangkong.core.deps import SessionDep, requires
from fangkong.core.errors import N_, AppError, Conflict, FieldError, Invalid
from fangkong.core.i18n import gettext
from fangkong.core.paging import paginate
from fangkong.core.scope import Principal, get_or_404, principal_of, system_access
from fangkong.geo.models import Jurisdiction, Level, Place
from fangkong.people import identity
from fangkong.people import service as people
from fangkong.people.models import Person
from fangkong.tracing import api as tracing_api
from fangkong.tracing import chains, runs, service
from fangkong.tracing.models import (
    Case,
    CaseKind,
    Contact,
    ContactKind,
    ContactState,
    FoundBy,
    TracingRun,
)
from fangkong.tracing.schemas import CaseIn, CaseUpdate, ItineraryIn, NamedIn
from fangkong.web import forms, nav, overview
from fangkong.web.templating import render

pages = APIRouter(include_in_schema=False)
api = tracing_api.api

nav.register(nav.NavItem("tracing", N_("Cases"), "/tracing", Permission.TRACING_READ, order=10))
nav.register(nav.NavItem("tracing", N_("Contacts"), "/tracing/contacts", Permission.CONTACTS_READ, order=20))
nav.register(nav.NavItem("tracing", N_("Timeliness"), "/tracing/timeliness", Permission.TRACING_READ, order=30))
nav.register(nav.NavItem("tracing", N_("Transmission chains"), "/tracing/chains", Permission.TRACING_READ,
                         order=40))

Reader = Annotated[Principal, Depends(requires(Permission.TRACING_READ))]
Writer = Annotated[Principal, Depends(requires(Permission.TRACING_WRITE))]
ContactReader = Annotated[Principal, Depends(requires(Permission.CONTACTS_READ))]
Marker = Annotated[Principal, Depends(requires(Permission.CONTACTS_MARK))]
LOCAL = ZoneInfo("Asia/Shanghai")
PAGE_SIZE = 50


# -------------------------------------------------------------------------------------------- helpers




def _errors_of(exc: AppError) -> dict[str, FieldError]:
    return {e.field.split(".")[0]: e for e in exc.errors}


def _place_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    """Venue names by id. Venues are public reference data, named wherever a contact was exposed."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    with system_access(session):
        return {i: name for i, name in session.execute(select(Place.id, Place.name).where(Place.id.in_(wanted)))}



def _districts(session: Session) -> list[Jurisdiction]:
    """The districts the user reaches, for the district filter."""
    return list(session.execute(select(Jurisdiction).where(func.length(Jurisdiction.code) == Level.DISTRICT.value)
                                .order_by(Jurisdiction.code)).scalars())



# ---------------------------------------------------------------------------------------------- cases


def _case_list(request: Request, session: Session, principal: Principal, *, kind: str | None = None,
               found_by: str | None = None, district: str | None = None, overdue: bool = False, page: int = 1,
               data: dict[str, Any] | None = None, errors: dict[str, FieldError] | None = None,
               error: AppError | None = None, candidates: list[Person] | None = None) -> Response:
    now = datetime.now(LOCAL)
    listed = paginate(session, service.cases(kind=forms.choice(CaseKind, kind, "kind"),
                                             found_by=forms.choice(FoundBy, found_by, "found_by"),
                                             under=district or None, overdue=overdue), page=page, size=PAGE_SIZE)
    filters = {"kind": kind or "", "found_by": found_by or "", "district": district or "",
               "overdue": "1" if overdue else ""}
    query = "&".join(f"{k}={v}" for k, v in filters.items() if v)
    return render(request, "tracing/cases.html", {
        "page": listed, "clocks": {c.id: service.clocks(c.investigation, now) for c in listed.items},
        "areas": forms.area_names(session, (c.jurisdiction_code for c in listed.items)),
        "districts": _districts(session), "filters": filters, "base": f"?{query}&" if query else "?",
        "kinds": list(CaseKind), "found_bys": list(FoundBy), "can_write": principal.can(Permission.TRACING_WRITE),
        "data": data or {}, "errors": errors or {}, "error": error, "candidates": candidates or [],
    }, status=error.status if error else 200)


@pages.get("/tracing")
def cases_page(request: Request, session: SessionDep, principal: Reader, kind: str | None = None,
               found_by: str | None = None, district: str | None = None, overdue: bool = False,
               page: int = 1) -> Response:
    """The case list with its two clocks, the report form and the button that starts a tracing run."""
    return _case_list(request, session, principal, kind=kind, found_by=found_by, district=district,
                      overdue=overdue, page=page)


def _find_person(session: Session, person_id: str, person: str, errors: list[FieldError]) -> int | None:
    """The person a report names: a chosen search result, a register number or a full ID number."""
    text = (person_id or person).strip().upper()
    if not text:
        errors.append(FieldError("person", N_("Choose the person, or give their full ID number.")))
        return None
    if len(text) == 18:
        found = session.execute(select(Person.id).where(Person.id_number == text)).scalar_one_or_none()
    elif text.isdigit():
        found = session.execute(select(Person.id).where(Person.id == int(text))).scalar_one_or_none()
    else:
        found = None
    if found is None:
        errors.append(FieldError("person", N_("No person in your jurisdiction matches this.")))
    return found


@pages.get("/tracing/persons")
def person_candidates(request: Request, session: SessionDep, principal: Writer, q: str = "") -> Response:
    """People matching a name, pinyin initials or the last digits of an ID number, to choose from (HTMX)."""
    try:
        found, error = (people.search_persons(session, q, size=10).items if q.strip() else []), None
    except Invalid as exc:
        found, error = [], exc
    return render(request, "tracing/_person_candidates.html", {"candidates": found, "error": error,
                                                               "areas": forms.area_names(session, (p.jurisdiction_code
                                                                                              for p in found))})


@pages.post("/tracing/cases")
def report_case(request: Request, session: SessionDep, principal: Writer, person_id: Annotated[str, Form()] = "",
                person: Annotated[str, Form()] = "", kind: Annotated[str, Form()] = "",
                found_by: Annotated[str, Form()] = "", sampled_at: Annotated[str, Form()] = "",
                onset_at: Annotated[str, Form()] = "", isolated_at: Annotated[str, Form()] = "") -> Response:
    """Report a case from the form; its investigation's clocks start now."""
    data = {"person": person_id or person, "kind": kind, "found_by": found_by, "sampled_at": sampled_at,
            "onset_at": onset_at, "isolated_at": isolated_at}
    try:
        errors: list[FieldError] = []
        who = _find_person(session, person_id, person, errors)
        times = {name: forms.local_time(data[name], name, errors) for name in ("sampled_at", "onset_at", "isolated_at")}
        case_in = forms.validated(CaseIn, {"person_id": who or 0, "kind": kind, "found_by": found_by, **times}, errors)
        case = service.report_case(session, case_in)
    except (Invalid, Conflict) as exc:
        session.rollback()
        return _case_list(request, session, principal, data=data, errors=_errors_of(exc), error=exc)
    return RedirectResponse(f"/tracing/cases/{case.id}", status_code=303)


def _case_context(session: Session, principal: Principal, case: Case) -> dict[str, Any]:
    """What the case page and the investigation page show of a case."""
    counts = {kind: n for kind, n in session.execute(
        select(Contact.kind, func.count()).where(Contact.case_id == case.id).group_by(Contact.kind)
        .execution_options(fangkong_aggregate=True))}
    inv = case.investigation
    return {
        "case": case, "inv": inv, "clocks": service.clocks(inv),
        "area": forms.area_names(session, [case.jurisdiction_code]),
        "contact_counts": [(k, counts.get(k, 0)) for k in ContactKind], "contacts_total": sum(counts.values()),
        "can_write": principal.can(Permission.TRACING_WRITE, case.jurisdiction_code),
        "can_contacts": principal.can(Permission.CONTACTS_READ),
        "can_person": principal.can(Permission.PEOPLE_READ, case.jurisdiction_code) and case.person is not None,
        "places": _place_names(session, (e.place_id for e in inv.itinerary)),
        "kinds": list(CaseKind), "mask_name": identity.mask_name,
    }


def _case_page(request: Request, session: Session, principal: Principal, case: Case, *,
               errors: dict[str, FieldError] | None = None, error: AppError | None = None) -> Response:
    context = _case_context(session, principal, case)
    cluster = chains.cluster_of(session, case.id)
    source = session.get(Case, case.source_case_id) if case.source_case_id else None
    others = session.execute(select(Case).where(Case.id != case.id).order_by(Case.id).limit(1000)).scalars().all()
    context.update({"cluster": cluster, "source": source, "others": others, "errors": errors or {}, "error": error})
    return render(request, "tracing/case.html", context, status=error.status if error else 200)


@pages.get("/tracing/cases/{case_id}")
def case_page(request: Request, session: SessionDep, principal: Reader, case_id: int) -> Response:
    """A case: the person (masked), times, clocks, source, investigation, contacts and chain."""
    return _case_page(request, session, principal, service.get_case(session, case_id))


@pages.post("/tracing/cases/{case_id}/source")
def set_source(request: Request, session: SessionDep, principal: Writer, case_id: int,
               source_case_id: Annotated[str, Form()] = "") -> Response:
    """Name (or clear) the case's source case."""
    case = service.get_case(session, case_id)
    try:
        source = int(source_case_id) if source_case_id.strip().isdigit() else None
        # Only a case of the list may be chosen: one outside the user's reach is no choice, not a 404.
        if source_case_id.strip() and (source is None or session.execute(
                select(Case.id).where(Case.id == source)).first() is None):
            raise Invalid.field("source_case_id", N_("No such case."))
        service.update_case(session, case, CaseUpdate.model_validate({"source_case_id": source}))
    except Invalid as exc:
        session.rollback()
        return _case_page(request, session, principal, service.get_case(session, case_id),
                          errors=_errors_of(exc), error=exc)
    return RedirectResponse(f"/tracing/cases/{case.id}", status_code=303)


# -------------------------------------------------------------------------------------- investigation


def _investigation_page(request: Request, session: Session, principal: Principal, case: Case, *,
                        data: dict[str, Any] | None = None, errors: dict[str, FieldError] | None = None,
                        error: AppError | None = None) -> Response:
    context = _case_context(session, principal, case)
    context.update({"data": data, "errors": errors or {}, "error": error, "entry": {}, "entry_errors": {},
                    "named_data": {}, "named_errors": {}})
    return render(request, "tracing/investigation.html", context, status=error.status if error else 200)


@pages.get("/tracing/cases/{case_id}/investigation")
def investigation_page(request: Request, session: SessionDep, principal: Reader, case_id: int) -> Response:
    """The investigation form (流调表), one column on a phone."""
    return _investigation_page(request, session, principal, service.get_case(session, case_id))


@pages.post("/tracing/cases/{case_id}/investigation")
def save_investigation(request: Request, session: SessionDep, principal: Writer, case_id: int,
                       kind: Annotated[str, Form()] = "", onset_at: Annotated[str, Form()] = "",
                       isolated_at: Annotated[str, Form()] = "", symptoms: Annotated[str, Form()] = "",
                       notes: Annotated[str, Form()] = "") -> Response:
    """Save what the investigation learned."""
    case = service.get_case(session, case_id)
    data = {"kind": kind, "onset_at": onset_at, "isolated_at": isolated_at, "symptoms": symptoms, "notes": notes}
    try:
        errors: list[FieldError] = []
        times = {name: forms.local_time(data[name], name, errors) for name in ("onset_at", "isolated_at")}
        update = forms.validated(CaseUpdate, {"kind": kind or None, "symptoms": symptoms, "notes": notes, **times},
                                 errors)
        service.update_case(session, case, update)
    except Invalid as exc:
        session.rollback()
        return _investigation_page(request, session, principal, service.get_case(session, case_id), data=data,
                                   errors=_errors_of(exc), error=exc)
    return RedirectResponse(f"/tracing/cases/{case.id}/investigation", status_code=303)


def _section(request: Request, session: Session, principal: Principal, case: Case, template: str,
             status: int = 200, **context: Any) -> Response:
    """The itinerary or named-persons section (HTMX), or the whole page after a plain form post."""
    full = _case_context(session, principal, case)
    full.update({"entry": {}, "entry_errors": {}, "named_data": {}, "named_errors": {}, **context})
    if request.headers.get("hx-request") == "true":
        return render(request, template, full, status=status)
    if status >= 400:
        full.update({"data": None, "errors": {}, "error": None})
        return render(request, "tracing/investigation.html", full, status=status)
    return RedirectResponse(f"/tracing/cases/{case.id}/investigation", status_code=303)


@pages.post("/tracing/cases/{case_id}/itinerary")
def add_itinerary(request: Request, session: SessionDep, principal: Writer, case_id: int,
                  venue_code: Annotated[str, Form()] = "", place_text: Annotated[str, Form()] = "",
                  starts_at: Annotated[str, Form()] = "", ends_at: Annotated[str, Form()] = "",
                  note: Annotated[str, Form()] = "") -> Response:
    """Add a place and time to the itinerary: a venue by its code, or free text."""
    case = service.get_case(session, case_id)
    entry = {"venue_code": venue_code, "place_text": place_text, "starts_at": starts_at, "ends_at": ends_at,
             "note": note}
    try:
        errors: list[FieldError] = []
        place_id = None
        if venue_code.strip():
            place_id = session.execute(select(Place.id).where(Place.venue_code == venue_code.strip())
                                       ).scalar_one_or_none()
            if place_id is None:
                errors.append(FieldError("venue_code", N_("No place has this venue code.")))
        times = {name: forms.local_time(entry[name], name, errors) for name in ("starts_at", "ends_at")}
        if times["starts_at"] is None and not any(e.field == "starts_at" for e in errors):
            errors.append(FieldError("starts_at", N_("This field is required.")))
        if place_id is None and not place_text.strip() and not venue_code.strip():
            errors.append(FieldError("place_text", N_("Name the place, or describe it.")))
        data = forms.validated(ItineraryIn, {"place_id": place_id, "place_text": place_text, "note": note, **times},
                          errors)
        service.add_itinerary(session, case.investigation, data)
    except Invalid as exc:
        session.rollback()
        case = service.get_case(session, case_id)
        return _section(request, session, principal, case, "tracing/_itinerary.html", exc.status, entry=entry,
                        entry_errors=_errors_of(exc))
    return _section(request, session, principal, case, "tracing/_itinerary.html")


@pages.post("/tracing/cases/{case_id}/itinerary/{entry_id}/remove")
def remove_itinerary(request: Request, session: SessionDep, principal: Writer, case_id: int,
                     entry_id: int) -> Response:
    """Take an entry off the itinerary."""
    case = service.get_case(session, case_id)
    service.remove_itinerary(session, case.investigation, entry_id)
    return _section(request, session, principal, case, "tracing/_itinerary.html")


@pages.post("/tracing/cases/{case_id}/named")
def add_named(request: Request, session: SessionDep, principal: Writer, case_id: int,
              name: Annotated[str, Form()] = "", phone: Annotated[str, Form()] = "",
              relation: Annotated[str, Form()] = "", note: Annotated[str, Form()] = "") -> Response:
    """Add a person the case named."""
    case = service.get_case(session, case_id)
    named = {"name": name, "phone": phone, "relation": relation, "note": note}
    try:
        data = forms.validated(NamedIn, {**named, "phone": phone.strip() or None}, [])
        service.add_named(session, case.investigation, data)
    except Invalid as exc:
        session.rollback()
        case = service.get_case(session, case_id)
        return _section(request, session, principal, case, "tracing/_named.html", exc.status, named_data=named,
                        named_errors=_errors_of(exc))
    return _section(request, session, principal, case, "tracing/_named.html")


def _complete(request: Request, session: Session, principal: Principal, case_id: int, stage: str) -> Response:
    case = service.get_case(session, case_id)
    try:
        if stage == "core":
            service.complete_core(session, case.investigation)
        else:
            service.complete_report(session, case.investigation)
    except (Invalid, Conflict) as exc:
        session.rollback()
        return _investigation_page(request, session, principal, service.get_case(session, case_id),
                                   errors=_errors_of(exc), error=exc)
    return RedirectResponse(f"/tracing/cases/{case.id}/investigation", status_code=303)


@pages.post("/tracing/cases/{case_id}/complete-core")
def complete_core(request: Request, session: SessionDep, principal: Writer, case_id: int) -> Response:
    """The core information is complete: the first clock stops."""
    return _complete(request, session, principal, case_id, "core")


@pages.post("/tracing/cases/{case_id}/complete-report")
def complete_report(request: Request, session: SessionDep, principal: Writer, case_id: int) -> Response:
    """The report is complete: the second clock stops."""
    return _complete(request, session, principal, case_id, "report")


# ------------------------------------------------------------------------------------------- contacts


@pages.get("/tracing/contacts")
def contacts_page(request: Request, session: SessionDep, principal: ContactReader, kind: str | None = None,
                  state: str | None = None, case_id: str = "", page: int = 1) -> Response:
    """The contacts living in the user's jurisdiction, with the evidence and the control clock (phone first)."""
    case_id = case_id.strip().lstrip("#")  # the filter form sends an empty field, or a case no. as shown
    if case_id and not case_id.isdigit():
        raise Invalid.field("case_id", N_("This field must be a whole number."))
    listed = paginate(session, service.contacts(kind=forms.choice(ContactKind, kind, "kind"),
                                                state=forms.choice(ContactState, state, "state"),
                                                case_id=int(case_id) if case_id else None),
                      page=page, size=PAGE_SIZE)
    filters = {"kind": kind or "", "state": state or "", "case_id": case_id}
    query = "&".join(f"{k}={v}" for k, v in filters.items() if v)
    return render(request, "tracing/contacts.html", {
        "page": listed, **_contact_rows_context(session, principal, listed.items), "filters": filters,
        "base": f"?{query}&" if query else "?", "kinds": list(ContactKind), "states": list(ContactState),
    })


def _contact_rows_context(session: Session, principal: Principal, contacts: list[Contact]) -> dict[str, Any]:
    """What a contact's row needs: place and area names, the secondary contact's close contact, rights."""
    via_ids = {c.via_person_id for c in contacts if c.via_person_id is not None}
    via = {p.id: p.masked_name for p in session.execute(select(Person).where(Person.id.in_(via_ids))).scalars()}
    return {"places": _place_names(session, (c.place_id for c in contacts)),
            "areas": forms.area_names(session, (c.jurisdiction_code for c in contacts)), "via": via,
            "now": datetime.now(LOCAL), "can_cases": principal.can(Permission.TRACING_READ),
            "can_mark": {c.id: principal.can(Permission.CONTACTS_MARK, c.jurisdiction_code) for c in contacts}}


@pages.post("/tracing/contacts/{contact_id}/controlled")
def mark_controlled(request: Request, session: SessionDep, principal: Marker, contact_id: int) -> Response:
    """The contact is under control; answers the contact's updated row."""
    contact = get_or_404(session, Contact, contact_id)
    service.mark_controlled(session, contact)
    if request.headers.get("hx-request") != "true":
        return RedirectResponse("/tracing/contacts", status_code=303)
    return render(request, "tracing/_contact_row.html", {"c": contact, **_contact_rows_context(session, principal,
                                                                                                [contact])})


# ----------------------------------------------------------------------------------------------- runs


@pages.post("/tracing/runs")
def start_run(request: Request, session: SessionDep, principal: Writer,
              case_id: Annotated[list[int] | None, Form()] = None,
              form_key: Annotated[str, Form()] = "") -> Response:
    """Trace the chosen cases (every case the user reaches when none is chosen) and show the run;
    a double submit shows the run the first one queued."""
    run = runs.start_run(session, case_id or [], key=form_key or None)
    return RedirectResponse(f"/tracing/runs/{run.id}", status_code=303)


def _run_context(session: Session, run: TracingRun) -> dict[str, Any]:
    job = runs.run_job(session, run)
    return {"run": run, "job": job, "progress": jobs.progress_of(job) if job else None,
            "by_kind": [(k, (run.counts.get("by_kind") or {}).get(k.value, 0)) for k in ContactKind]}


@pages.get("/tracing/runs/{run_id}")
def run_page(request: Request, session: SessionDep, principal: Reader, run_id: int) -> Response:
    """A tracing run: its progress, then what it found and the presence days it missed."""
    return render(request, "tracing/run.html", _run_context(session, runs.get_run(session, run_id)))


@pages.get("/tracing/runs/{run_id}/progress")
def run_progress(request: Request, session: SessionDep, principal: Reader, run_id: int) -> Response:
    """The run's progress fragment, polled while it runs."""
    return render(request, "tracing/_run.html", _run_context(session, runs.get_run(session, run_id)))


# ------------------------------------------------------------------------------- timeliness and chains


@pages.get("/tracing/timeliness")
def timeliness_page(request: Request, session: SessionDep, principal: Reader) -> Response:
    """How each area under the user's kept the investigation clocks."""
    home = principal.home_code
    rows = chains.timeliness(session, home)
    return render(request, "tracing/timeliness.html", {
        "rows": rows, "home": forms.area_names(session, [home]).get(home, home), "total": _total(home, rows)})


def _total(code: str, rows: list[chains.Timeliness]) -> chains.Timeliness:
    """The sums over the areas (a median of medians would mean nothing: the total row has none)."""
    return chains.Timeliness(code=code, name="", cases=sum(r.cases for r in rows),
                             core_in_time=sum(r.core_in_time for r in rows),
                             report_in_time=sum(r.report_in_time for r in rows),
                             overdue_now=sum(r.overdue_now for r in rows), median_core_hours=None)


@pages.get("/tracing/chains")
def chains_page(request: Request, session: SessionDep, principal: Reader) -> Response:
    """The clusters, largest first."""
    found = chains.clusters(session)
    return render(request, "tracing/chains.html", {"clusters": found[:300], "more": max(0, len(found) - 300)})


@pages.get("/tracing/chains/{root_case_id}")
def chain_page(request: Request, session: SessionDep, principal: Reader, root_case_id: int) -> Response:
    """A cluster's transmission chain as a graph, with its cases by day of onset."""
    cluster = chains.cluster_of(session, service.get_case(session, root_case_id).id)
    members = session.execute(select(Case).where(Case.id.in_(cluster.case_ids)).order_by(Case.id)).scalars().all()
    return render(request, "tracing/chain.html", {"cluster": cluster, "members": members,
                                                  "graph": chains.graph(session, cluster),
                                                  "categories": [gettext(k) for k in CHAIN_CATEGORIES]})


# The graph's categories, in the order of ``chains.graph``'s category numbers.
CHAIN_CATEGORIES = [N_("Confirmed case"), N_("Asymptomatic infection"), N_("Close contact"),
                    N_("Secondary contact"), N_("Exposed at a place")]


# --------------------------------------------------------------------------------------------- overview


def _overview_loop(session: Session) -> dict[str, Any] | None:
    """The tracing loop for the overview: to those who read cases or contacts, counted over their area."""
    principal = principal_of(session)
    reads_cases = principal.can(Permission.TRACING_READ)
    reads_contacts = principal.can(Permission.CONTACTS_READ)
    if not (reads_cases or reads_contacts):
        return None
    return {"loop": service.loop_counts(session), "reads_cases": reads_cases, "reads_contacts": reads_contacts}


overview.register_panel(overview.Panel("tracing", "tracing/_overview_loop.html", _overview_loop))
