"""Pages of the operation manuals: the index, a manual, search, history, a version and publishing."""

from __future__ import annotations

import difflib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from fangkong.command import manuals
from fangkong.command.manual_search import Hit
from fangkong.core import i18n
from fangkong.core.auth import Permission
from fangkong.core.deps import PrincipalDep, SessionDep, requires
from fangkong.core.errors import N_, AppError, Conflict, Invalid
from fangkong.core.i18n import get_locale
from fangkong.core.scope import Principal
from fangkong.geo.models import Jurisdiction
from fangkong.web import forms, nav
from fangkong.web.templating import render

pages = APIRouter(include_in_schema=False)

nav.register(nav.NavItem("command", N_("Operation manuals"), "/manuals", order=95))
i18n.FIELD_LABELS.setdefault("manual_text", N_("Text of the manual"))
i18n.FIELD_LABELS.setdefault("change_note", N_("What changed"))
i18n.FIELD_LABELS.setdefault("language", N_("Language"))

Publisher = Annotated[Principal, Depends(requires(Permission.DIRECTIVES_WRITE))]
MAX_QUERY = 100


def _language(lang: str | None) -> str:
    """The language asked for (``?language=``), else the interface's."""
    return lang if lang in i18n.LOCALES else get_locale()



@pages.get("/manuals")
def index_page(request: Request, session: SessionDep, principal: PrincipalDep) -> Response:
    """The manuals by task force and by role; the reader's own role manuals first among the roles."""
    shown = manuals.every_current(session, get_locale())
    mine = {r.value for r in principal.roles}
    forces = [m for m in shown if m.task_force]
    roles = sorted((m for m in shown if m.role), key=lambda m: m.role not in mine)
    return render(request, "command/manuals/index.html", {"forces": forces, "roles": roles, "mine": mine,
                                                          "query": ""})


@pages.get("/manuals/search")
def search_page(request: Request, session: SessionDep, principal: PrincipalDep, q: str = "") -> Response:
    """Search the manuals; an HTMX request gets the results only (live search as one types)."""
    query = q.strip()
    if len(query) > MAX_QUERY:
        raise Invalid.field("q", N_("This field is too long."))
    hits: list[Hit] = manuals.search(session, query, get_locale()) if query else []
    template = "command/manuals/_results.html" if request.headers.get("hx-request") == "true" \
        else "command/manuals/search.html"
    return render(request, template, {"hits": hits, "query": query})


@pages.get("/manuals/for")
def manual_for_page(principal: PrincipalDep, path: str = "/") -> Response:
    """The "manual" link of every page: to the section that explains ``path``, or the reader's role manual."""
    return RedirectResponse(manuals.manual_href(path, (r.value for r in principal.roles)), status_code=303)


@pages.get("/manuals/{key}")
def manual_page(request: Request, session: SessionDep, principal: PrincipalDep, key: str) -> Response:
    """A manual with its table of contents, in the version in force for the reader."""
    shown = manuals.current(session, key, get_locale())
    return render(request, "command/manuals/manual.html", {
        "m": shown, "shipped": manuals.shipped(key), "can_publish": principal.can(Permission.DIRECTIVES_WRITE),
        "areas": forms.area_names(session, [shown.jurisdiction_code] if shown.jurisdiction_code else [])})


@pages.get("/manuals/{key}/history")
def history_page(request: Request, session: SessionDep, principal: PrincipalDep, key: str,
                 language: str | None = None) -> Response:
    """Every version of a manual the reader may see, newest first."""
    lang = _language(language)
    versions = manuals.history(session, key, lang)
    if not versions and lang != manuals.BASE_LANGUAGE:
        lang = manuals.BASE_LANGUAGE
        versions = manuals.history(session, key, lang)
    in_force = manuals.current(session, key, lang)
    return render(request, "command/manuals/history.html", {
        "key": key, "title": manuals.current(session, key, get_locale()).title, "versions": versions,
        "language": lang, "in_force": in_force.number if in_force.language == lang else None,
        "areas": forms.area_names(session, [v.jurisdiction_code for v in versions if v.jurisdiction_code])})


@pages.get("/manuals/{key}/versions/{number}")
def version_page(request: Request, session: SessionDep, principal: PrincipalDep, key: str, number: int,
                 language: str | None = None) -> Response:
    """One version of a manual, with what changed since the version before it that the reader sees."""
    lang = _language(language)
    if lang != manuals.BASE_LANGUAGE and manuals.shipped(key, lang) is None and not any(
            v.number == number for v in manuals.history(session, key, lang)):
        lang = manuals.BASE_LANGUAGE
    shown = manuals.version(session, key, lang, number)
    earlier = [v for v in manuals.history(session, key, lang) if v.number < number]
    previous = earlier[0] if earlier else None
    diff = list(difflib.unified_diff(previous.text.splitlines(), shown.text.splitlines(), lineterm="", n=1))[2:] \
        if previous else []
    return render(request, "command/manuals/version.html", {
        "m": shown, "previous": previous, "diff": diff,
        "areas": forms.area_names(session, [shown.jurisdiction_code] if shown.jurisdiction_code else [])})


def _publish_form(request: Request, session: Session, principal: Principal, key: str, *, language: str,
                  data: dict[str, Any] | None = None, error: AppError | None = None) -> Response:
    shown = manuals.current(session, key, language)
    own = manuals.publishable_codes(principal)
    # The reader's own jurisdictions first, each followed by the areas directly under it.
    below = session.execute(select(Jurisdiction.parent_code, Jurisdiction.code)
                            .where(Jurisdiction.parent_code.in_(own)).order_by(Jurisdiction.code)).all()
    codes = [c for code in own for c in [code, *(child for parent, child in below if parent == code)]]
    errors = {e.field: e for e in error.errors} if error else {}
    return render(request, "command/manuals/publish.html", {
        "m": shown, "language": language, "codes": codes, "own": own, "areas": forms.area_names(session, codes),
        "data": data or {"manual_text": shown.text if shown.language == language else "", "language": language,
                         "jurisdiction_code": codes[0] if codes else "", "change_note": ""},
        "errors": errors, "error": error}, status=error.status if error else 200)


@pages.get("/manuals/{key}/publish")
def publish_form(request: Request, session: SessionDep, principal: Publisher, key: str,
                 language: str | None = None) -> Response:
    """The form that publishes a new version, filled with the text in force."""
    return _publish_form(request, session, principal, key, language=_language(language))


@pages.post("/manuals/{key}/publish")
def publish(request: Request, session: SessionDep, principal: Publisher, key: str,
            manual_text: Annotated[str, Form()] = "", language: Annotated[str, Form()] = "",
            jurisdiction_code: Annotated[str, Form()] = "", change_note: Annotated[str, Form()] = "",
            form_key: Annotated[str, Form()] = "") -> Response:
    """Publish a new version; earlier ones are kept. A double submit publishes once."""
    data = {"manual_text": manual_text, "language": language, "jurisdiction_code": jurisdiction_code,
            "change_note": change_note}
    try:
        made = manuals.publish(session, key, language=language, text=manual_text, note=change_note,
                               jurisdiction_code=jurisdiction_code, request_key=form_key or None,
                               author_name=getattr(request.state, "display_name", None))
    except (Invalid, Conflict) as exc:
        session.rollback()
        lang = language if language in i18n.LOCALES else get_locale()
        return _publish_form(request, session, principal, key, language=lang, data=data, error=exc)
    return RedirectResponse(f"/manuals/{key}/versions/{made.number}?language={made.language}", status_code=303)

