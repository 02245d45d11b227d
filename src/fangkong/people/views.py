"""Pages and API of persons: search, the person page, the audited reveal, registration."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Header, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from fangkong.core.auth import Permission
from fangkong.core.deps import SessionDep, requires
from fangkong.core.errors import N_, Conflict, Invalid, field_errors
from fangkong.core.paging import PageOut
from fangkong.core.scope import Principal
from fangkong.people import service
from fangkong.people.schemas import PersonIn, PersonOut, PersonPatch, PersonUnmasked
from fangkong.web import nav
from fangkong.web.templating import render

pages = APIRouter(include_in_schema=False)
api = APIRouter(tags=["persons"])

nav.register(nav.NavItem("general", N_("People"), "/people", Permission.PEOPLE_READ, order=20))

Reader = Annotated[Principal, Depends(requires(Permission.PEOPLE_READ))]
Writer = Annotated[Principal, Depends(requires(Permission.PEOPLE_WRITE))]


PersonPage = PageOut[PersonOut]


@pages.get("/people")
def search_page(request: Request, session: SessionDep, principal: Reader, q: str = "", page: int = 1) -> Response:
    """Person search; the results refresh as the user types."""
    try:
        result, error = service.search_persons(session, q, page=page), None
    except Invalid as exc:
        result, error = None, exc
    template = "people/_results.html" if request.headers.get("hx-request") == "true" else "people/search.html"
    return render(request, template, {"q": q, "page": result, "error": error})


@pages.get("/people/new")
def new_person_form(request: Request, principal: Writer) -> Response:
    """The registration form."""
    return render(request, "people/new.html", {"data": {}, "errors": {}})


@pages.post("/people/new")
def register_person(request: Request, session: SessionDep, principal: Writer,
                    name: Annotated[str, Form()] = "", id_number: Annotated[str, Form()] = "",
                    phone: Annotated[str, Form()] = "", jurisdiction_code: Annotated[str, Form()] = "",
                    address: Annotated[str, Form()] = "", form_key: Annotated[str, Form()] = "") -> Response:
    """Register a person from the form; a double submit lands on the same person."""
    data = {"name": name, "id_number": id_number, "phone": phone or None,
            "jurisdiction_code": jurisdiction_code, "address": address}
    try:
        try:
            person_in = PersonIn.model_validate(data)
        except ValidationError as exc:
            raise Invalid(N_("Please correct the marked fields."), errors=field_errors(exc.errors())) from None
        person = service.create_person(session, person_in, key=form_key or None)
    except (Invalid, Conflict) as exc:
        errors = {e.field: e for e in exc.errors}
        return render(request, "people/new.html", {"data": data, "errors": errors, "error": exc},
                      status=exc.status)
    return RedirectResponse(f"/people/{person.id}", status_code=303)


@pages.get("/people/{person_id}")
def person_page(request: Request, session: SessionDep, principal: Reader, person_id: int) -> Response:
    """A person, masked, with their household."""
    person = service.get_person(session, person_id)
    members = service.household_members(session, person.household) if person.household else []
    return render(request, "people/detail.html", {"person": person, "members": members,
                                                  "can_reveal": principal.can(Permission.PEOPLE_REVEAL,
                                                                              person.jurisdiction_code)})


@pages.post("/people/{person_id}/reveal")
def reveal_fragment(request: Request, session: SessionDep, principal: Reader, person_id: int) -> Response:
    """The unmasked identity, as an HTMX fragment; the view is written to the audit log."""
    person = service.reveal(session, service.get_person(session, person_id))
    return render(request, "people/_identity.html", {"person": person, "revealed": True})


@api.get("/persons", response_model=PersonPage)
def list_persons(session: SessionDep, principal: Reader, q: str | None = None, jurisdiction: str | None = None,
                 page: int = 1, size: int = 20) -> PersonPage:
    """Persons within your scope, masked. ``q``: a name, pinyin initials, or the last 4+ digits of an
    ID number or phone; ``jurisdiction``: a code prefix to narrow to."""
    result = service.search_persons(session, q, within=jurisdiction, page=page, size=size)
    return PersonPage(items=[PersonOut.model_validate(p) for p in result.items], total=result.total,
                      page=result.page, size=result.size, total_is_capped=result.is_total_capped)


@api.get("/persons/{person_id}", response_model=PersonOut)
def get_person(session: SessionDep, principal: Reader, person_id: int) -> PersonOut:
    """One person, masked."""
    return PersonOut.model_validate(service.get_person(session, person_id))


@api.post("/persons", response_model=PersonOut, status_code=201)
def create_person(session: SessionDep, principal: Writer, data: PersonIn,
                  idempotency_key: Annotated[str | None, Header()] = None) -> PersonOut:
    """Register a person. Send an ``Idempotency-Key`` header so that a retry creates no duplicate."""
    return PersonOut.model_validate(service.create_person(session, data, key=idempotency_key))


@api.patch("/persons/{person_id}", response_model=PersonOut)
def update_person(session: SessionDep, principal: Writer, person_id: int, patch: PersonPatch) -> PersonOut:
    """Correct a person's name, phone, address or household."""
    return PersonOut.model_validate(service.update_person(session, service.get_person(session, person_id), patch))


@api.post("/persons/{person_id}/reveal", response_model=PersonUnmasked)
def reveal(session: SessionDep, principal: Reader, person_id: int) -> PersonUnmasked:
    """The unmasked name, ID number and phone; every call is written to the audit log."""
    return PersonUnmasked.model_validate(service.reveal(session, service.get_person(session, person_id)))
