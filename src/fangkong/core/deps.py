"""Request dependencies: the session, the principal, permissions and CSRF, by name.

Routes use ``SessionDep`` and ``PrincipalDep``; the session commits when the route returns and rolls
back when it raises (keeping refusals in the audit log, see ``db.finish``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from fangkong.core import audit
from fangkong.core.auth import Permission, same, sign
from fangkong.core.db import finish
from fangkong.core.errors import N_, Forbidden, Unauthorized
from fangkong.core.scope import Principal

SESSION_COOKIE = "fk_session"
CSRF_COOKIE = "fk_csrf"
LANG_COOKIE = "fk_lang"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def request_work(request: Request, session: Session) -> Iterator[Session]:
    """One request's unit of work: commit, or roll back — keeping refusals in the audit log."""
    try:
        yield session
    except Forbidden as exc:
        # A refusal (a role without the permission, an expired form) is recorded although the
        # request's own work is undone.
        audit.record(session, audit.Action.ACCESS_DENIED, entity_name=request.url.path[:40],
                     detail={"method": request.method, "reason": exc.message}, survive_rollback=True)
        finish(session, failed=True)
        raise
    except BaseException:
        finish(session, failed=True)
        raise
    else:
        finish(session, failed=False)
    finally:
        session.close()


def get_session(request: Request) -> Iterator[Session]:
    """A database session for this request (a writing one for unsafe methods)."""
    makers = request.app.state
    yield from request_work(request, (makers.sessions if request.method in SAFE_METHODS else makers.write_sessions)())


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def client_address(request: Request) -> str | None:
    """The client's address, as the server saw it."""
    return request.client.host if request.client else None


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def get_principal(request: Request, session: SessionDep) -> Principal:
    """Who makes this request (session cookie or API token); binds the scope to the session."""
    from fangkong.users import service as users

    token = bearer_token(request)
    if token is not None:
        user = users.user_for_token(session, token)
    else:
        secret = request.cookies.get(SESSION_COOKIE)
        user = users.user_for_session(session, secret) if secret else None
    if user is None:
        raise Unauthorized(N_("Please log in."))
    principal = users.principal_for(user, address=client_address(request), via_token=token is not None)
    principal.bind(session)
    request.state.principal = principal
    request.state.user = user
    # Pages render after the session closes (error pages after a rollback): keep plain values.
    request.state.display_name = user.display_name
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def requires(permission: Permission) -> Callable[[Principal], Principal]:
    """A dependency that admits only principals holding ``permission`` somewhere."""

    def check(principal: PrincipalDep) -> Principal:
        principal.require(permission)
        return principal

    return check


def csrf_token(request: Request) -> str:
    """The CSRF token to put in this page's forms (tied to the browser's CSRF cookie)."""
    seed = getattr(request.state, "csrf_seed", "") or request.cookies.get(CSRF_COOKIE, "")
    return sign(request.app.state.secret_key, seed) if seed else ""


async def verify_csrf(request: Request) -> None:
    """Refuse an unsafe request from a browser unless it carries this browser's CSRF token.

    Token-authenticated machine clients send no cookies and need none.
    """
    if request.method in SAFE_METHODS or bearer_token(request) is not None:
        return
    seed = request.cookies.get(CSRF_COOKIE)
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not seed or not sent or not same(sent, sign(request.app.state.secret_key, seed)):
        raise Forbidden(N_("This form has expired. Reload the page and try again."))
