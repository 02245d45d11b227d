"""API of users (administrators create them; everyone reads themselves)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import Response

from fangkong.core.auth import Permission
from fangkong.core.deps import PrincipalDep, SessionDep, requires
from fangkong.core.errors import N_
from fangkong.core.paging import PageOut
from fangkong.core.scope import Principal
from fangkong.users import service
from fangkong.users.schemas import UserIn, UserOut
from fangkong.web import nav
from fangkong.web.templating import render

pages = APIRouter(include_in_schema=False)
api = APIRouter(tags=["users"])

nav.register(nav.NavItem("system", N_("Users"), "/users", Permission.USERS_READ))

UserReader = Annotated[Principal, Depends(requires(Permission.USERS_READ))]
UserWriter = Annotated[Principal, Depends(requires(Permission.USERS_WRITE))]


UserPage = PageOut[UserOut]


@pages.get("/users")
def user_list(request: Request, session: SessionDep, principal: UserReader, page: int = 1) -> Response:
    """Users in the jurisdiction, with their roles."""
    return render(request, "users/list.html", {"page": service.list_users(session, page=page)})


@api.get("/users/me", response_model=UserOut)
def me(request: Request, principal: PrincipalDep) -> UserOut:
    """The account making the request."""
    return UserOut.model_validate(request.state.user)


@api.get("/users", response_model=UserPage)
def list_users(session: SessionDep, principal: UserReader, page: int = 1, size: int = 50) -> UserPage:
    """Users whose home jurisdiction is within your scope."""
    result = service.list_users(session, page=page, size=size)
    return UserPage(items=[UserOut.model_validate(u) for u in result.items], total=result.total,
                    page=result.page, size=result.size)


@api.post("/users", response_model=UserOut, status_code=201)
def create_user(session: SessionDep, principal: UserWriter, data: UserIn,
                idempotency_key: Annotated[str | None, Header()] = None) -> UserOut:
    """Create a user; every role grant must lie within your own jurisdiction."""
    return UserOut.model_validate(service.create_user(session, data, key=idempotency_key))
