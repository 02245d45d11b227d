"""The shell's pages: login, logout, language, the overview."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from urllib.parse import urlparse

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from fangkong.core import i18n
from fangkong.core.deps import LANG_COOKIE, SESSION_COOKIE, PrincipalDep, SessionDep, client_address
from fangkong.core.errors import N_, TooManyRequests, Unauthorized
from fangkong.users import service as users
from fangkong.web import nav, overview
from fangkong.web.templating import render

pages = APIRouter(include_in_schema=False)

nav.register(nav.NavItem("general", N_("Overview"), "/", order=0))


def _safe_next(target: str | None) -> str:
    # Only local paths, so the login form cannot be used to send someone elsewhere.
    # Browsers read a backslash as a slash, so "/\\host" would leave the site as surely as "//host".
    if (not target or not target.startswith("/") or target.startswith("//") or "\\" in target
            or urlparse(target).netloc):
        return "/"
    return target


@pages.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    """The login page."""
    return render(request, "login.html", {"next": _safe_next(next)})


@pages.post("/login")
def login(request: Request, session: SessionDep, username: Annotated[str, Form()],
          password: Annotated[str, Form()], next: Annotated[str, Form()] = "/") -> Response:
    """Check the password, open a session, and go where the user was heading."""
    settings = request.app.state.settings
    try:
        user = users.authenticate(
            session, username, password, address=client_address(request),
            window=timedelta(minutes=settings.login_window_minutes),
            per_user=settings.login_max_failures, per_address=settings.login_max_failures_per_address,
        )
    except (Unauthorized, TooManyRequests) as exc:
        # Roll back now but keep the failure on record (it drives the throttle).
        from fangkong.core.db import finish

        finish(session, failed=True)
        return render(request, "login.html", {"next": _safe_next(next), "username": username,
                                              "error": i18n.translate(exc.message, exc.params)},
                      status=exc.status)
    secret = users.start_session(session, user, address=client_address(request), hours=settings.session_hours)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, secret, httponly=True, samesite="lax",
                        secure=settings.cookie_secure or request.url.scheme == "https",
                        max_age=settings.session_hours * 3600)
    if user.locale:
        response.set_cookie(LANG_COOKIE, user.locale, samesite="lax", max_age=365 * 86400)
    return response


@pages.post("/logout")
def logout(request: Request, session: SessionDep, principal: PrincipalDep) -> Response:
    """End the session."""
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        users.end_session(session, secret)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@pages.get("/lang/{locale}")
def switch_language(locale: str, next: str | None = None) -> Response:
    """Remember the chosen interface language and return to the page."""
    response = RedirectResponse(_safe_next(next), status_code=303)
    if locale in i18n.LOCALES:
        response.set_cookie(LANG_COOKIE, locale, samesite="lax", max_age=365 * 86400)
    return response


@pages.get("/")
def home(request: Request, session: SessionDep, principal: PrincipalDep) -> Response:
    """The situation overview of the user's jurisdiction, a row per district."""
    table = overview.rows(session)
    return render(request, "overview.html", {"rows": table, "indicators": overview.indicators(),
                                             "panels": overview.panels(session)})
