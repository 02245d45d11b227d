"""The Jinja2 environment: templates of every module, translations, filters, and ``render``."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from fangkong.core import i18n, jobs
from fangkong.core.deps import csrf_token
from fangkong.web import nav

PACKAGE = Path(__file__).resolve().parent.parent
TEMPLATE_DIRS = [
    PACKAGE / "web" / "templates",
    *sorted(p / "templates" for p in PACKAGE.iterdir() if (p / "templates").is_dir() and p.name != "web"),
]


def _environment() -> Environment:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(d)) for d in TEMPLATE_DIRS]),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["local_time"] = i18n.local_time
    env.filters["number"] = i18n.number
    env.globals["locales"] = i18n.LOCALES
    env.globals["translate"] = i18n.translate
    env.globals["field_label"] = i18n.field_label
    env.globals["progress_of"] = jobs.progress_of
    return env


env = _environment()


def render(request: Request, name: str, context: dict[str, Any] | None = None, *, status: int = 200,
           headers: dict[str, str] | None = None) -> HTMLResponse:
    """Render a page (or an HTMX fragment) with the shell's context."""
    principal = getattr(request.state, "principal", None)
    ctx = {
        "request": request,
        "principal": principal,
        "display_name": getattr(request.state, "display_name", None),
        "menu": nav.menu(principal),
        "locale": i18n.get_locale(),
        "csrf_token": csrf_token(request),
        # A one-time key per rendered form: a double submit carries the same key and creates once.
        "form_key": uuid.uuid4().hex,
        "is_htmx": request.headers.get("hx-request") == "true",
        "path": request.url.path,
        "query": request.url.query,
    }
    ctx.update(context or {})
    html = env.get_template(name).render(ctx)
    return HTMLResponse(html, status_code=status, headers=headers)
