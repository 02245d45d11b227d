"""The application: ``create_app()`` mounts every module's routes and maps errors once."""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from fangkong import __version__
from fangkong.config import Settings, get_settings
from fangkong.core import i18n, jobs
from fangkong.core.db import make_engine, session_factory, writing
from fangkong.core.deps import CSRF_COOKIE, LANG_COOKIE, verify_csrf
from fangkong.core.errors import N_, AppError, Invalid, NotFound, Unauthorized, field_errors

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "web" / "static"


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """Build the application for ``settings`` (the environment's by default)."""
    settings = settings or get_settings()
    engine = engine or make_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker = None
        if settings.run_jobs_in_process:
            worker = jobs.Worker(engine)
            worker.start()
        yield
        if worker is not None:
            worker.stop()

    app = FastAPI(
        title="fangkong API",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    app.state.write_sessions = session_factory(writing(engine))
    app.state.secret_key = settings.resolved_secret_key()
    apply_default_locale(settings)

    _install_middleware(app, settings)
    _install_error_handlers(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/api/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/api/openapi.json",
            title="fangkong API",
            swagger_js_url="/static/vendor/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )

    from fangkong.command import channel_views, inspection_views, manual_views
    from fangkong.command import charts as command_charts
    from fangkong.command import views as command_views
    from fangkong.geo import views as geo_views
    from fangkong.people import views as people_views
    from fangkong.testing import views as testing_views
    from fangkong.tracing import views as tracing_views
    from fangkong.users import views as users_views
    from fangkong.web import admin, views

    csrf = [Depends(verify_csrf)]
    for module in (views, admin, geo_views, people_views, users_views, testing_views, tracing_views,
                   command_views, command_charts, manual_views, inspection_views, channel_views):
        app.include_router(module.pages, dependencies=csrf)
        if hasattr(module, "public"):
            # Forms of the public, sent without a session: they carry a signed token of their own instead.
            app.include_router(module.public)
        if hasattr(module, "api"):
            app.include_router(module.api, prefix="/api/v1", dependencies=csrf)

    from fangkong.users.service import load_principal
    from fangkong.wiring import load_modules

    load_modules()

    jobs.set_principal_loader(load_principal)
    return app


def apply_default_locale(settings: Settings) -> None:
    """Speak the deployment's default language (zh-CN unless configured) where nobody chose another."""
    i18n.DEFAULT_LOCALE = settings.default_locale if settings.default_locale in i18n.LOCALES else "zh_CN"


def _install_middleware(app: FastAPI, settings: Settings) -> None:
    @app.middleware("http")
    async def request_context(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        # The language: an explicit choice (?lang=, then the cookie) wins. Pages otherwise speak the
        # deployment's default (zh-CN); API clients may ask for theirs with Accept-Language.
        i18n.set_locale(i18n.negotiate(request.query_params.get("lang"), request.cookies.get(LANG_COOKIE),
                                       request.headers.get("accept-language") if _is_api(request) else None))
        seed = request.cookies.get(CSRF_COOKIE)
        new_seed = None
        if not seed:
            new_seed = secrets.token_urlsafe(24)
            request.state.csrf_seed = new_seed
        response = await call_next(request)
        if new_seed is not None and not _is_api(request):
            response.set_cookie(CSRF_COOKIE, new_seed, httponly=True, samesite="lax",
                                secure=settings.cookie_secure or request.url.scheme == "https")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if not request.url.path.startswith("/static"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def error_body(exc: AppError) -> dict[str, Any]:
    """The JSON body of an error, in the request's language."""
    body: dict[str, Any] = {
        "error": exc.code,
        "message": i18n.translate(exc.message, exc.params),
        "errors": [
            {"field": e.field, "label": i18n.field_label(e.field), "message": i18n.translate(e.message, e.params),
             **({"row": e.row} if e.row else {})}
            for e in exc.errors
        ],
    }
    if exc.link:
        body["link"] = exc.link
    return body


def _install_error_handlers(app: FastAPI) -> None:
    from fangkong.web.templating import render

    def respond(request: Request, exc: AppError) -> Response:
        if _is_api(request):
            return JSONResponse(error_body(exc), status_code=exc.status, headers=exc.headers)
        if isinstance(exc, Unauthorized):
            if request.headers.get("hx-request") == "true":
                return Response(status_code=204, headers={"HX-Redirect": "/login"})
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        return render(request, "error.html", {"error": exc, "body": error_body(exc)}, status=exc.status,
                      headers=exc.headers)

    @app.exception_handler(AppError)
    async def app_error(request: Request, exc: AppError) -> Response:
        return respond(request, exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        return respond(request, Invalid(N_("Please correct the marked fields."), errors=field_errors(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return respond(request, NotFound(N_("There is no such page.")))
        err = AppError(N_("The request could not be handled."))
        err.status = exc.status_code  # type: ignore[misc]
        return respond(request, err)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return respond(request, AppError(N_("Something went wrong on our side. It has been logged.")))
