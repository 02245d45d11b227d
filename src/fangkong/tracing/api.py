"""The tracing JSON API under ``/api/v1/tracing``: cases, investigations, contacts, runs and chain graphs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query

from fangkong.core.auth import Permission
from fangkong.core.deps import SessionDep, requires
from fangkong.core.paging import PageOut, paginate
from fangkong.core.scope import Principal, get_or_404
from fangkong.people import identity
from fangkong.tracing import chains, runs, service
from fangkong.tracing.models import Case, CaseKind, Contact, ContactKind, ContactState, FoundBy, NamedPerson
from fangkong.tracing.schemas import (
    CaseDetailOut,
    CaseIn,
    CaseOut,
    CaseUpdate,
    ClockOut,
    ContactOut,
    InvestigationOut,
    ItineraryIn,
    ItineraryOut,
    NamedIn,
    NamedOut,
    RunIn,
    RunOut,
)

api = APIRouter(tags=["tracing"])

Reader = Annotated[Principal, Depends(requires(Permission.TRACING_READ))]
Writer = Annotated[Principal, Depends(requires(Permission.TRACING_WRITE))]
ContactReader = Annotated[Principal, Depends(requires(Permission.CONTACTS_READ))]
Marker = Annotated[Principal, Depends(requires(Permission.CONTACTS_MARK))]
CasePage = PageOut[CaseOut]
ContactPage = PageOut[ContactOut]


def _named_out(named: NamedPerson) -> NamedOut:
    return NamedOut(id=named.id, person_id=named.person_id, masked_name=identity.mask_name(named.name),
                    masked_phone=identity.mask_phone(named.phone), relation=named.relation, note=named.note)


def case_detail(case: Case) -> CaseDetailOut:
    """A case with its investigation and clocks, as the API shows it."""
    inv = case.investigation
    core, report = service.clocks(inv)
    investigation = InvestigationOut(
        case_id=case.id, symptoms=inv.symptoms, notes=inv.notes,
        core=ClockOut(due_at=core.due_at, done_at=core.done_at, state=core.state.value),
        report=ClockOut(due_at=report.due_at, done_at=report.done_at, state=report.state.value),
        itinerary=[ItineraryOut.model_validate(e) for e in inv.itinerary], named=[_named_out(n) for n in inv.named])
    return CaseDetailOut(**CaseOut.model_validate(case).model_dump(), investigation=investigation)


@api.get("/tracing/cases", response_model=CasePage)
def list_cases(session: SessionDep, principal: Reader, kind: CaseKind | None = None, found_by: FoundBy | None = None,
               under: str | None = None, overdue: bool = False, page: int = 1, size: int = 50) -> CasePage:
    """The cases in your jurisdiction, newest report first; ``overdue``: only those past a clock."""
    found = paginate(session, service.cases(kind=kind, found_by=found_by, under=under, overdue=overdue),
                     page=page, size=size)
    return CasePage(items=[CaseOut.model_validate(c) for c in found.items], total=found.total, page=found.page,
                    size=found.size)


@api.post("/tracing/cases", response_model=CaseDetailOut, status_code=201)
def report_case(session: SessionDep, principal: Writer, data: CaseIn) -> CaseDetailOut:
    """Report a case; its investigation's clocks start at the report. A person is a case once: a second
    report of the same person (a retry included) answers 409."""
    case = service.report_case(session, data)
    session.refresh(case, ["investigation"])
    return case_detail(case)


@api.get("/tracing/cases/{case_id}", response_model=CaseDetailOut)
def get_case(session: SessionDep, principal: Reader, case_id: int) -> CaseDetailOut:
    """One case with its investigation."""
    return case_detail(service.get_case(session, case_id))


@api.patch("/tracing/cases/{case_id}", response_model=CaseDetailOut)
def update_case(session: SessionDep, principal: Writer, case_id: int, data: CaseUpdate) -> CaseDetailOut:
    """Record what the investigation learned; fields left out stay as they are."""
    return case_detail(service.update_case(session, service.get_case(session, case_id), data))


@api.post("/tracing/cases/{case_id}/itinerary", response_model=ItineraryOut, status_code=201)
def add_itinerary(session: SessionDep, principal: Writer, case_id: int, data: ItineraryIn) -> ItineraryOut:
    """Add a place (by id) or a described place, with its times, to the case's itinerary."""
    case = service.get_case(session, case_id)
    return ItineraryOut.model_validate(service.add_itinerary(session, case.investigation, data))


@api.post("/tracing/cases/{case_id}/named", response_model=NamedOut, status_code=201)
def add_named(session: SessionDep, principal: Writer, case_id: int, data: NamedIn) -> NamedOut:
    """Add a person the case named; the answer shows them masked."""
    case = service.get_case(session, case_id)
    return _named_out(service.add_named(session, case.investigation, data))


@api.post("/tracing/cases/{case_id}/complete-core", response_model=CaseDetailOut)
def complete_core(session: SessionDep, principal: Writer, case_id: int) -> CaseDetailOut:
    """The core information is complete (409 when it already was)."""
    case = service.get_case(session, case_id)
    service.complete_core(session, case.investigation)
    return case_detail(case)


@api.post("/tracing/cases/{case_id}/complete-report", response_model=CaseDetailOut)
def complete_report(session: SessionDep, principal: Writer, case_id: int) -> CaseDetailOut:
    """The full report is complete; it needs the core information first."""
    case = service.get_case(session, case_id)
    service.complete_report(session, case.investigation)
    return case_detail(case)


@api.get("/tracing/contacts", response_model=ContactPage)
def list_contacts(session: SessionDep, principal: ContactReader, kind: ContactKind | None = None,
                  state: ContactState | None = None, case_id: int | None = None, page: int = 1,
                  size: int = 50) -> ContactPage:
    """The contacts living in your jurisdiction with their evidence, the earliest clock first."""
    found = paginate(session, service.contacts(kind=kind, state=state, case_id=case_id), page=page, size=size)
    return ContactPage(items=[ContactOut.model_validate(c) for c in found.items], total=found.total,
                       page=found.page, size=found.size)


@api.post("/tracing/contacts/{contact_id}/controlled", response_model=ContactOut)
def mark_controlled(session: SessionDep, principal: Marker, contact_id: int) -> ContactOut:
    """The contact is under control (409 unless they were waiting for it)."""
    return ContactOut.model_validate(service.mark_controlled(session, get_or_404(session, Contact, contact_id)))


@api.post("/tracing/runs", response_model=RunOut, status_code=201)
def start_run(session: SessionDep, principal: Writer, data: RunIn,
              idempotency_key: Annotated[str | None, Header()] = None) -> RunOut:
    """Queue a tracing run over the named cases, or every case you reach when none is named. Send an
    ``Idempotency-Key`` header so that a retry queues no second run."""
    return RunOut.model_validate(runs.start_run(session, data.case_ids, key=idempotency_key))


@api.get("/tracing/runs/{run_id}", response_model=RunOut)
def get_run(session: SessionDep, principal: Reader, run_id: int) -> RunOut:
    """A run: queued, done with its counts and missing presence days, or failed."""
    return RunOut.model_validate(runs.get_run(session, run_id))


@api.get("/tracing/chains/{root_case_id}/graph")
def chain_graph(session: SessionDep, principal: Reader, root_case_id: int,
                expand: Annotated[list[int] | None, Query()] = None) -> dict[str, object]:
    """The ECharts graph of the cluster holding a case: cases, source links, and each case's contacts
    folded into a counted node per kind unless the case is in ``expand`` (repeat the parameter)."""
    cluster = chains.cluster_of(session, service.get_case(session, root_case_id).id)
    graph = chains.graph(session, cluster, expand=set(expand or ()))
    return {"root_id": cluster.root_id, "size": cluster.size, **graph}
