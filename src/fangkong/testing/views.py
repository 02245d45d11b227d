"""Pages and API of whole-population testing."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from fangkong.core import jobs
from fangkong.core.auth import Permission
from fangkong.core.deps import SessionDep, requires
from fangkong.core.errors import N_, Invalid, NotFound, field_errors
from fangkong.core.i18n import get_locale
from fangkong.core.scope import Principal, get_or_404
from fangkong.geo import service as geo
from fangkong.geo.models import Level
from fangkong.people.models import Person
from fangkong.testing import coverage, pooling, resultfile, results, service
from fangkong.testing.models import ControlState, DoorVisit, NoSampleReason, Risk, Round, Tube
from fangkong.testing.schemas import (
    BatchResult,
    DoorVisitIn,
    ImportOut,
    OrderOut,
    PlanIn,
    RoundIn,
    RoundOut,
    SampleBatch,
    ShipmentIn,
    SiteIn,
    SiteOut,
    TubeOut,
)
from fangkong.web import forms, nav, overview
from fangkong.web.templating import render

pages = APIRouter(include_in_schema=False)
api = APIRouter(tags=["testing"])

nav.register(nav.NavItem("testing", N_("Testing rounds"), "/testing", Permission.TESTING_READ, order=10))
nav.register(nav.NavItem("testing", N_("Sampling sites"), "/testing/sites", Permission.TESTING_READ, order=15))
nav.register(nav.NavItem("testing", N_("Lab results"), "/testing/results", Permission.RESULTS_WRITE, order=20))
nav.register(nav.NavItem("testing", N_("Pool planner"), "/testing/planner", Permission.TESTING_READ, order=30))

Reader = Annotated[Principal, Depends(requires(Permission.TESTING_READ))]
Writer = Annotated[Principal, Depends(requires(Permission.TESTING_WRITE))]
Marker = Annotated[Principal, Depends(requires(Permission.TESTING_MARK))]
TubeReader = Annotated[Principal, Depends(requires(Permission.TUBES_READ))]
Uploader = Annotated[Principal, Depends(requires(Permission.RESULTS_WRITE))]
LOCAL = ZoneInfo("Asia/Shanghai")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# ------------------------------------------------------------------------------------------- pages


@pages.get("/testing")
def rounds_page(request: Request, session: SessionDep, principal: Reader) -> Response:
    """The rounds the user takes part in, and a form to open one."""
    return render(request, "testing/rounds.html", {"rounds": service.rounds(session), "risks": list(Risk),
                                                   "data": {}, "errors": {}})


@pages.post("/testing/rounds")
def open_round(request: Request, session: SessionDep, principal: Writer, name: Annotated[str, Form()] = "",
               jurisdiction_code: Annotated[str, Form()] = "", starts_at: Annotated[str, Form()] = "",
               default_risk: Annotated[str, Form()] = "low") -> Response:
    """Open a round from the form."""
    data = {"name": name, "jurisdiction_code": jurisdiction_code, "starts_at": starts_at, "default_risk": default_risk}
    try:
        try:
            start = datetime.fromisoformat(starts_at).replace(tzinfo=LOCAL) if starts_at else None
        except ValueError:
            raise Invalid.field("starts_at", N_("Not a date and time: “{value}”."), value=starts_at) from None
        try:
            round_in = RoundIn.model_validate({**data, "starts_at": start})
        except ValidationError as exc:
            raise Invalid(N_("Please correct the marked fields."), errors=field_errors(exc.errors())) from None
        round_ = service.create_round(session, round_in)
    except Invalid as exc:
        return render(request, "testing/rounds.html", {"rounds": service.rounds(session), "risks": list(Risk),
                                                       "data": data, "errors": {e.field: e for e in exc.errors},
                                                       "error": exc}, status=exc.status)
    return RedirectResponse(f"/testing/rounds/{round_.id}", status_code=303)


@pages.get("/testing/rounds/{round_id}")
def round_page(request: Request, session: SessionDep, principal: Reader, round_id: int,
               under: str | None = None) -> Response:
    """A round's progress: the funnel, each child area's figures and chart, turnaround per lab."""
    round_ = service.get_round(session, round_id)
    figures = coverage.coverage(session, round_, _area(session, principal, round_, under))
    node = geo.get_jurisdiction(session, figures.total.code)
    trail = geo.ancestors(session, node) if node else []
    return render(request, "testing/round.html", {
        "round": round_, "cov": figures, "node": node, "trail": trail,
        "turnaround": coverage.turnaround(session, round_),
        "open_orders": len(service.orders(session, round_, open_only=True)),
        "is_community": len(figures.total.code) == Level.COMMUNITY.value,
    })


def _start_of(principal: Principal, code: str) -> str:
    """Where a user's view of a round starts: the round's area, or the user's, whichever is narrower."""
    home = principal.home_code
    return home if home.startswith(code) else code


def _area(session: SessionDep, principal: Principal, round_: Round, under: str | None) -> str:
    """Where a view of a round is counted: ``under`` when given and the user may count there, else
    where their view starts. Counting elsewhere would show zeros, as if nobody there had been sampled."""
    if under is None:
        return _start_of(principal, round_.jurisdiction_code)
    under = geo.check_code(under, field="under")
    coverage.require_reach(session, Permission.AGGREGATES_READ, under)
    return under


@pages.get("/testing/rounds/{round_id}/alerts")
def alerts_page(request: Request, session: SessionDep, principal: Reader, round_id: int) -> Response:
    """Positive pools and re-sampling orders with their clocks, the most urgent first."""
    round_ = service.get_round(session, round_id)
    orders = service.orders(session, round_)
    controlled = service.controls(session, round_, state=ControlState.CONTROLLED)
    cases = service.controls(session, round_, state=ControlState.CASE)
    return render(request, "testing/alerts.html", {
        "round": round_, "orders": orders, "controlled": controlled, "cases": cases, "now": datetime.now(LOCAL),
        "areas": forms.area_names(session, [*(o.jurisdiction_code for o in orders),
                                            *(c.jurisdiction_code for c in (*controlled, *cases))]),
    })


@pages.get("/testing/rounds/{round_id}/untested")
def untested_page(request: Request, session: SessionDep, principal: Reader, round_id: int,
                  community: str | None = None, page: int = 1) -> Response:
    """The people of a community not yet sampled, by building, with door marks (phone first)."""
    round_ = service.get_round(session, round_id)
    community = community or (principal.home_code if len(principal.home_code) == 12 else "")
    if not community:
        return render(request, "testing/untested.html", {"round": round_, "community": None, "page": None,
                                                         "communities": _communities(session, round_)})
    listed = coverage.untested(session, round_, community, page=page, size=100)
    return render(request, "testing/untested.html", {
        "round": round_, "community": geo.get_jurisdiction(session, community), "page": listed,
        "reasons": list(NoSampleReason), "can_mark": principal.can(Permission.TESTING_MARK, community),
        "communities": [],
    })


def _communities(session: SessionDep, round_: object) -> list[object]:
    from sqlalchemy import func, select

    from fangkong.geo.models import Jurisdiction

    return list(session.execute(select(Jurisdiction).where(func.length(Jurisdiction.code) == 12)
                                .order_by(Jurisdiction.code).limit(500)).scalars())


@pages.post("/testing/rounds/{round_id}/untested/{person_id}")
def mark_door(request: Request, session: SessionDep, principal: Marker, round_id: int, person_id: int,
              mark: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = "",
              note: Annotated[str, Form()] = "") -> Response:
    """Mark a door visit; answers the person's updated row."""
    round_ = service.get_round(session, round_id)
    try:
        data = DoorVisitIn.model_validate({"mark": mark, "reason": reason or None, "note": note})
    except ValidationError as exc:
        error = Invalid(N_("Choose why this person cannot be sampled."), errors=field_errors(exc.errors()))
        # The row comes back with the message in it: a worker on a phone sees why nothing was marked.
        person = get_or_404(session, Person, person_id)
        return _door_row(request, round_, person, coverage.door_visit(session, round_, person.id), error)
    visit = coverage.mark_door(session, round_, person_id, data)
    return _door_row(request, round_, get_or_404(session, Person, person_id), visit)


def _door_row(request: Request, round_: Round, person: Person, visit: DoorVisit | None,
              error: Invalid | None = None) -> Response:
    """A person's row of the door-to-door list, as the list shows it (with their door)."""
    door = person.household.door if person.household else ""
    return render(request, "testing/_untested_row.html", {
        "round": round_, "person": person, "visit": visit, "door": door, "reasons": list(NoSampleReason),
        "can_mark": True, "error": error}, status=error.status if error else 200)


@pages.get("/testing/rounds/{round_id}/untested.xlsx")
def export_untested(session: SessionDep, principal: Reader, round_id: int, community: str) -> Response:
    """The door-to-door list as an Excel file (masked, watermarked, audited)."""
    round_ = service.get_round(session, round_id)
    content = coverage.export_untested(session, round_, community)
    name = f"untested-{round_.id}-{community}.xlsx"
    return Response(content, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@pages.get("/testing/sites")
def sites_page(request: Request, session: SessionDep, principal: Reader) -> Response:
    """The sampling sites in scope with their hours and the communities they serve."""
    return render(request, "testing/sites.html", {"sites": service.sites(session), "data": {}, "errors": {}})


@pages.post("/testing/sites")
def add_site(request: Request, session: SessionDep, principal: Writer, name: Annotated[str, Form()] = "",
             jurisdiction_code: Annotated[str, Form()] = "", address: Annotated[str, Form()] = "",
             opens_at: Annotated[str, Form()] = "", closes_at: Annotated[str, Form()] = "",
             serves: Annotated[str, Form()] = "") -> Response:
    """Register a sampling site from the form (communities served: codes separated by spaces or commas)."""
    data = {"name": name, "jurisdiction_code": jurisdiction_code, "address": address, "opens_at": opens_at,
            "closes_at": closes_at, "serves": serves}
    try:
        try:
            site_in = SiteIn.model_validate({**data, "serves": serves.replace(",", " ").split()})
        except ValidationError as exc:
            raise Invalid(N_("Please correct the marked fields."), errors=field_errors(exc.errors())) from None
        service.create_site(session, site_in)
    except Invalid as exc:
        return render(request, "testing/sites.html", {"sites": service.sites(session), "data": data,
                                                      "errors": {e.field.split(".")[0]: e for e in exc.errors},
                                                      "error": exc}, status=exc.status)
    return RedirectResponse("/testing/sites", status_code=303)


@pages.get("/testing/results")
def results_page(request: Request, session: SessionDep, principal: Uploader) -> Response:
    """The lab upload page: the template, the upload form, the latest imports."""
    return render(request, "testing/upload.html", {"imports": results.imports(session)})


@pages.post("/testing/results")
async def upload_results(request: Request, session: SessionDep, principal: Uploader,
                         file: Annotated[UploadFile, File()]) -> Response:
    """Accept a result file and check and apply it as a job; answers the job's progress fragment."""
    data = await file.read()
    if not data:
        error = Invalid.field("file", N_("The file is empty."))
        return render(request, "testing/_upload_refused.html", {"error": error}, status=error.status)
    digest = hashlib.sha256(data).hexdigest()
    folder = request.app.state.settings.data_dir / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest}{Path(file.filename or '').suffix.lower()[:8]}"
    if not path.exists():
        path.write_bytes(data)
    job = results.enqueue_import(session, path, file.filename or path.name)
    return render(request, "testing/_import_job.html", {"job": job, "progress": jobs.progress_of(job)})


@pages.get("/testing/results/jobs/{job_id}")
def upload_progress(request: Request, session: SessionDep, principal: Uploader, job_id: int) -> Response:
    """How far an upload's check has come, or what it found."""
    job = results.import_job(session, job_id)
    return render(request, "testing/_import_job.html", {"job": job, "progress": jobs.progress_of(job)})


@pages.get("/testing/template.{fmt}")
def result_template(fmt: str, lang: str | None = None) -> Response:
    """The standard template (标准模板) for lab results, as .xlsx or .csv."""
    locale = lang or get_locale()
    if fmt == "xlsx":
        return Response(resultfile.template_xlsx(locale), media_type=XLSX,
                        headers={"Content-Disposition": 'attachment; filename="lab-results-template.xlsx"'})
    if fmt == "csv":
        return Response(resultfile.template_csv(locale), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="lab-results-template.csv"'})
    raise NotFound(N_("There is no such page."))


@pages.get("/testing/planner")
def planner_page(request: Request, principal: Reader, prevalence: str = "0.001", population: str = "1800000",
                 capacity: str = "40000", sensitivity: str = "0.95") -> Response:
    """The pool planner: pool size, tests and hours for a prevalence, beside the lower bound."""
    form = {"prevalence": prevalence, "population": population, "capacity": capacity, "sensitivity": sensitivity}
    try:
        data = PlanIn.model_validate({"prevalence": prevalence, "population": population,
                                      "capacity_per_hour": capacity, "sensitivity": sensitivity})
    except ValidationError as exc:
        errors = {e.field.replace("capacity_per_hour", "capacity"): e for e in field_errors(exc.errors())}
        return render(request, "testing/planner.html", {"form": form, "plan": None, "errors": errors}, status=422)
    from fangkong import rulesets

    plan = pooling.plan(data.prevalence, data.population, data.capacity_per_hour,
                        rulesets.current().testing.allowed_pool_sizes, sensitivity=data.sensitivity)
    return render(request, "testing/planner.html", {"form": form, "plan": plan, "errors": {}})


# --------------------------------------------------------------------------------------------- API


@api.get("/testing/rounds", response_model=list[RoundOut])
def list_rounds(session: SessionDep, principal: Reader) -> list[RoundOut]:
    """The rounds over, at or under your jurisdiction, the newest first."""
    return [RoundOut.model_validate(r) for r in service.rounds(session)]


@api.post("/testing/rounds", response_model=RoundOut, status_code=201)
def create_round(session: SessionDep, principal: Writer, data: RoundIn) -> RoundOut:
    """Open a round; its deadline and pool sizes default to the rule set's."""
    return RoundOut.model_validate(service.create_round(session, data))


@api.get("/testing/rounds/{round_id}", response_model=RoundOut)
def get_round(session: SessionDep, principal: Reader, round_id: int) -> RoundOut:
    """One round."""
    return RoundOut.model_validate(service.get_round(session, round_id))


@api.get("/testing/rounds/{round_id}/coverage")
def round_coverage(session: SessionDep, principal: Reader, round_id: int,
                   under: str | None = None) -> dict[str, object]:
    """The testing funnel under a jurisdiction (by default, where your view of the round starts), per child area."""
    round_ = service.get_round(session, round_id)
    figures = coverage.coverage(session, round_, _area(session, principal, round_, under))

    def row(r: coverage.CoverageRow) -> dict[str, object]:
        return {"code": r.code, "name": r.name, "target": r.target, "sampled": r.sampled, "resulted": r.resulted,
                "controlled": r.controlled, "positives": r.positives}

    return {"total": row(figures.total), "children": [row(c) for c in figures.children],
            "positive_pools": figures.positive_pools}


@api.get("/testing/rounds/{round_id}/orders", response_model=list[OrderOut])
def list_orders(session: SessionDep, principal: Reader, round_id: int, open_only: bool = False) -> list[OrderOut]:
    """The re-sampling orders of a round in your jurisdiction, the most urgent first."""
    found = service.orders(session, service.get_round(session, round_id), open_only=open_only)
    return [OrderOut.model_validate(o) for o in found]


@api.get("/testing/sites", response_model=list[SiteOut])
def list_sites(session: SessionDep, principal: Reader, serving: str | None = None) -> list[SiteOut]:
    """Sampling sites in your jurisdiction (those serving a community, with ``serving``)."""
    return [SiteOut.model_validate(s) for s in service.sites(session, serving=serving)]


@api.post("/testing/sites", response_model=SiteOut, status_code=201)
def create_site(session: SessionDep, principal: Writer, data: SiteIn) -> SiteOut:
    """Register a sampling site."""
    return SiteOut.model_validate(service.create_site(session, data))


@api.post("/testing/samples/batch", response_model=BatchResult)
def register_samples(session: SessionDep, principal: Writer, batch: SampleBatch) -> BatchResult:
    """Register up to 1,000 samples from a sampling device. Each entry carries the device's own
    ``client_id``: a batch sent again stores nothing twice. Tubes not yet known are opened at the
    batch's site. Each entry gets its own outcome, in the order sent."""
    return service.register_batch(session, batch)


@api.get("/testing/tubes/{code}", response_model=TubeOut)
def get_tube(session: SessionDep, principal: TubeReader, code: str) -> TubeOut:
    """A tube and, once back, its result."""
    tube = service.get_tube(session, code)
    return _tube_out(tube)


def _tube_out(tube: Tube) -> TubeOut:
    out = TubeOut.model_validate(tube)
    out.outcome = tube.result.outcome if tube.result else None
    return out


@api.post("/testing/tubes/{code}/close", response_model=TubeOut)
def close_tube(session: SessionDep, principal: Writer, code: str) -> TubeOut:
    """Close a tube that will take no more persons."""
    return _tube_out(service.close_tube(session, service.get_tube(session, code)))


@api.post("/testing/shipments")
def ship_tubes(session: SessionDep, principal: Writer, data: ShipmentIn) -> dict[str, int]:
    """Hand tubes to a lab."""
    return {"sent": service.send_tubes(session, data.tube_codes, data.lab_id)}


@api.post("/testing/results", response_model=ImportOut)
async def import_results(session: SessionDep, principal: Uploader, file: Annotated[UploadFile, File()]) -> ImportOut:
    """Apply a lab result file in the standard template (.csv in UTF-8 or GB18030, or .xlsx). It applies
    whole or not at all: a 422 answer lists every bad row. Sending the same file again changes nothing."""
    data = await file.read()
    record, again = results.import_results(session, data, file.filename or "results.csv")
    out = ImportOut.model_validate(record)
    out.already_imported = again
    return out


@api.put("/testing/rounds/{round_id}/door-visits/{person_id}")
def put_door_visit(session: SessionDep, principal: Marker, round_id: int, person_id: int,
                   data: DoorVisitIn) -> dict[str, object]:
    """Mark a door visit to a person not yet sampled (the latest mark stands)."""
    visit = coverage.mark_door(session, service.get_round(session, round_id), person_id, data)
    return {"person_id": visit.person_id, "mark": visit.mark, "reason": visit.reason, "note": visit.note,
            "marked_at": visit.marked_at}


@api.get("/testing/planner")
def plan_pools(principal: Reader, prevalence: float, population: int, capacity_per_hour: float,
               sensitivity: float = 1.0) -> dict[str, object]:
    """The recommended pool size by Dorfman two-stage testing among the rule set's sizes, with the lower bound."""
    from fangkong import rulesets

    data = PlanIn(prevalence=prevalence, population=population, capacity_per_hour=capacity_per_hour,
                  sensitivity=sensitivity)
    plan = pooling.plan(data.prevalence, data.population, data.capacity_per_hour,
                        rulesets.current().testing.allowed_pool_sizes, sensitivity=data.sensitivity)
    return {"recommended": plan.recommended.__dict__, "options": [o.__dict__ for o in plan.options],
            "lower_bound_per_person": plan.lower_bound_per_person, "lower_bound_tests": plan.lower_bound_tests,
            "lower_bound_hours": plan.lower_bound_hours}


def _overview_funnel(session: SessionDep) -> dict[str, object] | None:
    """The latest round's funnel for the overview, counted over the user's own area."""
    from fangkong.core.scope import principal_of

    principal = principal_of(session)
    found = service.rounds(session, permission=Permission.AGGREGATES_READ)
    if not found:
        return None
    round_ = found[0]
    figures = coverage.coverage(session, round_, _start_of(principal, round_.jurisdiction_code))
    return {"round": round_, "cov": figures}


overview.register_panel(overview.Panel("testing", "testing/_overview_funnel.html", _overview_funnel))
