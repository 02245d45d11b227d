"""Pages and API of the jurisdiction tree."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from fangkong.core.auth import Permission
from fangkong.core.deps import PrincipalDep, SessionDep
from fangkong.core.errors import N_
from fangkong.geo import service
from fangkong.geo.models import Jurisdiction
from fangkong.geo.schemas import JurisdictionOut, JurisdictionPage
from fangkong.people.models import Household, Person
from fangkong.web import nav
from fangkong.web.templating import render

pages = APIRouter(include_in_schema=False)
api = APIRouter(tags=["jurisdictions"])

nav.register(nav.NavItem("general", N_("Jurisdictions"), "/geo", Permission.GEO_READ, order=10))


def _with_population(session: SessionDep, nodes: list[Jurisdiction]) -> list[tuple[Jurisdiction, int, int]]:
    return [(n, service.count_under(session, Person, n.code), service.count_under(session, Household, n.code))
            for n in nodes]


def _children_with_population(session: SessionDep, node: Jurisdiction) -> list[tuple[Jurisdiction, int, int]]:
    # One grouped count per table for all children, rather than two counts per child.
    people = service.count_by_child(session, Person, node)
    households = service.count_by_child(session, Household, node)
    return [(c, people.get(c.code, 0), households.get(c.code, 0)) for c in service.children(session, node.code)]


@pages.get("/geo")
def tree(request: Request, session: SessionDep, principal: PrincipalDep) -> Response:
    """The top of the user's part of the tree."""
    nodes = _with_population(session, service.roots(session))
    return render(request, "geo/tree.html", {"nodes": nodes, "node": None, "trail": []})


@pages.get("/geo/{code}")
def node_page(request: Request, session: SessionDep, principal: PrincipalDep, code: str) -> Response:
    """One jurisdiction: its trail, its children and the population of each."""
    node = service.get_jurisdiction(session, code)
    kids = _children_with_population(session, node)
    context = {"node": node, "nodes": kids, "trail": service.ancestors(session, node),
               "population": service.count_under(session, Person, node.code),
               "households": service.count_under(session, Household, node.code)}
    if request.headers.get("hx-request") == "true" and request.query_params.get("fragment") == "children":
        return render(request, "geo/_children.html", context)
    return render(request, "geo/tree.html", context)


def _out(session: SessionDep, node: Jurisdiction) -> JurisdictionOut:
    return JurisdictionOut(code=node.code, name=node.name, level=len(node.code), parent_code=node.parent_code,
                           population=service.count_under(session, Person, node.code))


@api.get("/jurisdictions", response_model=JurisdictionPage)
def list_jurisdictions(session: SessionDep, principal: PrincipalDep, parent: str | None = None,
                       level: int | None = None, q: str | None = None, page: int = 1,
                       size: int = 50) -> JurisdictionPage:
    """Jurisdictions within your scope; filter by parent code, level (code length 2–12) or name."""
    result = service.list_jurisdictions(session, parent=parent, level=level, q=q, page=page, size=size)
    return JurisdictionPage(items=[_out(session, n) for n in result.items], total=result.total,
                            page=result.page, size=result.size)


@api.get("/jurisdictions/{code}", response_model=JurisdictionOut)
def get_jurisdiction(session: SessionDep, principal: PrincipalDep, code: str) -> JurisdictionOut:
    """One jurisdiction and its population."""
    return _out(session, service.get_jurisdiction(session, code))
