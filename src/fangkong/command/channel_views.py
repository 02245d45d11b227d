"""Pages of the direct channel (厅局长直通车): the public form and tracking, and the staff's list and replies.

``public`` holds the pages anyone may open, without a login: the application mounts it without the
CSRF check, since a sender has no session; the form's signed token takes its place (see ``channel``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from fangkong.command import channel
from fangkong.command.channel_models import DirectMessage
from fangkong.core.auth import Permission
from fangkong.core.deps import SessionDep, client_address, requires
from fangkong.core.errors import N_, AppError, FieldError, Invalid, TooManyRequests
from fangkong.core.paging import paginate
from fangkong.core.scope import Principal
from fangkong.web import forms, nav
from fangkong.web.templating import render

pages = APIRouter(include_in_schema=False)
public = APIRouter(include_in_schema=False)

nav.register(nav.NavItem("command", N_("Direct channel"), "/command/channel", Permission.COMMAND_READ, order=87))

Reader = Annotated[Principal, Depends(requires(Permission.COMMAND_READ))]
Writer = Annotated[Principal, Depends(requires(Permission.COMMAND_WRITE))]
PAGE_SIZE = 50


def _errors_of(exc: AppError) -> dict[str, FieldError]:
    return {e.field.split(".")[0]: e for e in exc.errors}


def _public_principal(request: Request, session: Session) -> None:
    """The public acts as the channel itself: it writes only what ``channel`` lets it, audited under this name."""
    Principal(user_id=None, username="direct_channel", is_system=True, address=client_address(request)).bind(session)


# ------------------------------------------------------------------------------------------- the public


def _form(request: Request, session: Session, *, data: dict[str, str] | None = None,
          error: AppError | None = None) -> Response:
    data = data or {}
    secret = request.app.state.secret_key
    district = data.get("district", "")
    street = data.get("street", "")
    return render(request, "command/direct.html", {
        "categories": channel.rules().categories, "limits": channel.rules().limits,
        "districts": channel.areas(session), "streets": channel.areas(session, district) if district else [],
        "communities": channel.areas(session, street) if street else [],
        "token": channel.issue_token(secret), "data": data, "errors": _errors_of(error) if error else {},
        "error": error,
    }, status=error.status if error else 200)


@public.get("/direct")
def direct_form(request: Request, session: SessionDep) -> Response:
    """The public form: what it is about, where, what happened; a name and phone if the sender wishes."""
    return _form(request, session)


@public.get("/direct/areas")
def direct_areas(request: Request, session: SessionDep, level: str = "street", district: str = "",
                 street: str = "") -> Response:
    """The streets of a district or the communities of a street, as options of the form's pickers (HTMX)."""
    parent = street if level == "community" else district
    options = channel.areas(session, parent) if parent.isdigit() else []
    return render(request, "command/_direct_options.html", {"options": options, "level": level})


@public.post("/direct")
def direct_submit(request: Request, session: SessionDep, category: Annotated[str, Form()] = "",
                  district: Annotated[str, Form()] = "", street: Annotated[str, Form()] = "",
                  community: Annotated[str, Form()] = "", text: Annotated[str, Form()] = "",
                  name: Annotated[str, Form()] = "", phone: Annotated[str, Form()] = "",
                  website: Annotated[str, Form()] = "", token: Annotated[str, Form()] = "") -> Response:
    """Accept a message and show its tracking code (the same code again for a retry)."""
    data = {"category": category, "district": district, "street": street, "community": community, "text": text,
            "name": name, "phone": phone}
    _public_principal(request, session)
    try:
        message = channel.submit(session, channel.Submission(
            category=category, jurisdiction_code=community or street or district, text=text, token=token,
            address=client_address(request), name=name, phone=phone, honeypot=website),
            secret=request.app.state.secret_key)
    except (channel.Refused, Invalid, TooManyRequests) as exc:
        session.rollback()
        return _form(request, session, data=data, error=exc)
    return render(request, "command/direct_done.html", {"code": channel.format_code(message.tracking_code)})


@public.get("/direct/track")
def track_form(request: Request) -> Response:
    """Where the sender types their tracking code."""
    return render(request, "command/direct_track.html", {"code": "", "tracking": None, "missing": False})


@public.post("/direct/track")
def track(request: Request, session: SessionDep, code: Annotated[str, Form()] = "") -> Response:
    """The status of a message and its public replies, by tracking code (rate-limited per address)."""
    _public_principal(request, session)
    try:
        found = channel.track(session, code, address=client_address(request), secret=request.app.state.secret_key)
    except TooManyRequests as exc:
        session.rollback()
        return render(request, "command/direct_track.html", {"code": code, "tracking": None, "missing": False,
                                                             "error": exc}, status=exc.status)
    return render(request, "command/direct_track.html", {"code": code, "tracking": found, "missing": found is None},
                  status=200 if found else 404)


# -------------------------------------------------------------------------------------------- the staff



def _categories() -> dict[str, str]:
    return {c.key: c.label for c in channel.rules().categories}


@pages.get("/command/channel")
def channel_list(request: Request, session: SessionDep, principal: Reader, page: int = 1) -> Response:
    """The channel's messages in the user's jurisdiction, newest first, each with its problem."""
    listed = paginate(session, channel.messages(), page=page, size=PAGE_SIZE)
    return render(request, "command/channel.html", {
        "page": listed, "base": "?", "categories": _categories(),
        "areas": forms.area_names(session, {m.jurisdiction_code for m in listed.items}),
        "statuses": {m.id: channel.status_of(m) for m in listed.items},
    })


def _message_page(request: Request, session: Session, principal: Principal, message: DirectMessage, *,
                  data: dict[str, str] | None = None, error: AppError | None = None) -> Response:
    context: dict[str, Any] = {
        "message": message, "problem": message.problem, "categories": _categories(),
        "area": channel.area_path(session, message.jurisdiction_code), "status": channel.status_of(message),
        "can_reveal": channel.can_reveal(session, message), "revealed": None,
        "can_reply": principal.can(Permission.COMMAND_WRITE, message.jurisdiction_code),
        "data": data or {}, "errors": _errors_of(error) if error else {}, "error": error,
    }
    return render(request, "command/channel_message.html", context, status=error.status if error else 200)


@pages.get("/command/channel/{message_id}")
def message_page(request: Request, session: SessionDep, principal: Reader, message_id: int) -> Response:
    """A message: its text, where, the handling unit, its problem, the sender (masked) and the replies."""
    return _message_page(request, session, principal, channel.get_message(session, message_id))


@pages.post("/command/channel/{message_id}/reveal")
def reveal_contact(request: Request, session: SessionDep, principal: Writer, message_id: int) -> Response:
    """The sender's name and phone, unmasked, for the handling level (audited); an HTMX fragment."""
    message = channel.get_message(session, message_id)
    contact = channel.reveal_contact(session, message)
    return render(request, "command/_direct_contact.html", {"message": message, "revealed": contact,
                                                            "can_reveal": False})


@pages.post("/command/channel/{message_id}/replies")
def add_reply(request: Request, session: SessionDep, principal: Writer, message_id: int,
              reply: Annotated[str, Form()] = "") -> Response:
    """Reply publicly: the sender reads it with their tracking code."""
    message = channel.get_message(session, message_id)
    try:
        channel.reply(session, message, reply)
    except Invalid as exc:
        session.rollback()
        return _message_page(request, session, principal, channel.get_message(session, message_id),
                             data={"reply": reply}, error=exc)
    return RedirectResponse(f"/command/channel/{message.id}", status_code=303)
