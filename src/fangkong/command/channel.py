"""The direct channel (厅局长直通车): the public reports a problem or a need, without an account.

A message names a category (which department answers for it), a jurisdiction (district, street or
community), its text and, if the sender wishes, a name and phone. It is filed at once as a problem
(source ``direct_channel``) for the office of the category's task force nearest at or above that
jurisdiction, falling back to the nearest headquarters (see ``channel.toml``), and the sender gets a
**tracking code** to follow it: received, in hand, measures taken, closed, and the public replies.

The form is open to anyone, so it defends itself, with every number in ``channel.toml``:

* a signed form token carrying the time the form was shown: sent too soon is a robot, too late is
  expired (it also stands in for the CSRF token, since the sender has no session);
* a honeypot field people do not see and robots fill;
* rate limits per client address and per phone number, counted in the database (``ChannelHit``) so
  that they hold across workers, and pruned as they go;
* a limit on the text's length;
* the same text from the same address or phone within a window is a retry: it returns the first
  message's tracking code and files nothing new.

Tracking look-ups are rate-limited per address too, so codes cannot be guessed by trying.
"""

from __future__ import annotations

import re
import secrets
import time
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Select, delete, func, insert, or_, select
from sqlalchemy.orm import Session, selectinload

from fangkong.command import organisation, problems
from fangkong.command.channel_models import ChannelHit, DirectContact, DirectMessage, DirectReply, TrackStatus
from fangkong.command.models import (
    MeasureStatus,
    OrgUnit,
    OrgUnitKind,
    Problem,
    ProblemSource,
    ProblemStatus,
    TaskForce,
)
from fangkong.command.schemas import ProblemIn
from fangkong.core import audit
from fangkong.core.auth import Permission, same, sign
from fangkong.core.db import utcnow
from fangkong.core.errors import N_, AppError, FieldError, Invalid, NotFound, TooManyRequests
from fangkong.core.scope import get_or_404, principal_of, system_access
from fangkong.geo.models import Jurisdiction, Level
from fangkong.people.identity import mask_name, mask_phone

PATH = Path(__file__).resolve().parent / "channel.toml"
# A tracking code: ten characters people can read out and type on a phone without mixing them up
# (no 0/O, 1/I/L, 5/S or 2/Z pairs). 27^10 ≈ 2·10^14 codes: guessing one is hopeless at the look-up limit.
ALPHABET = "346789ABCDEFGHJKMNPQRTUVWXY"
CODE_LENGTH = 10
PHONE = re.compile(r"^1[3-9]\d{9}$")
NAME_MAX = 40
REPLY_MAX = 1000


class Refused(AppError):
    """The public form's input is refused outright (400): a robot, an expired form, an oversize text."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "refused"


# ------------------------------------------------------------------------------------------------ rules


class CategoryRule(BaseModel):
    """A category of message and the standard task force that answers for it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(pattern=r"^[a-z0-9_-]+$", max_length=40)
    label: str = Field(min_length=1)
    task_force: str


class Limits(BaseModel):
    """The public form's limits."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    per_address_hour: int = Field(gt=0)
    per_address_day: int = Field(gt=0)
    per_phone_hour: int = Field(gt=0)
    per_phone_day: int = Field(gt=0)
    track_per_address_hour: int = Field(gt=0)
    text_min: int = Field(ge=1)
    text_max: int = Field(gt=0)
    token_min_seconds: int = Field(ge=0)
    token_max_seconds: int = Field(gt=0)
    retry_minutes: int = Field(ge=0)


class Rules(BaseModel):
    """Everything in ``channel.toml``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    categories: tuple[CategoryRule, ...] = Field(min_length=1)
    limits: Limits

    @model_validator(mode="after")
    def _keys_unique(self) -> Rules:
        keys = [c.key for c in self.categories]
        if len(keys) != len(set(keys)):
            raise ValueError("category keys repeat")
        return self

    def category(self, key: str) -> CategoryRule | None:
        """The category of ``key``, if there is one."""
        return next((c for c in self.categories if c.key == key), None)


@lru_cache
def load(path: Path = PATH) -> Rules:
    """The rules in ``path`` (the shipped file by default)."""
    with path.open("rb") as fh:
        return Rules.model_validate(tomllib.load(fh))


def rules() -> Rules:
    """The channel's rules in force."""
    return load()


# The msgids of the shipped categories, so that extraction puts them in the catalog.
MESSAGES = (
    N_("Nucleic acid testing"),
    N_("Isolation and transfer"),
    N_("Daily necessities and deliveries"),
    N_("Medical care and medicines"),
    N_("Community control"),
    N_("Enterprises and work"),
    N_("Something else"),
)


# ------------------------------------------------------------------------------------------ form token


def issue_token(secret: str, *, now: float | None = None) -> str:
    """A form token: the time the form was shown and a nonce, signed with the app's secret key."""
    body = f"{int(now if now is not None else time.time())}.{secrets.token_hex(6)}"
    return f"{body}.{sign(secret, 'direct-channel:' + body)}"


def check_token(secret: str, token: str, *, now: float | None = None, limits: Limits | None = None) -> None:
    """Refuse a token that is forged, sent too soon after the form was shown, or too old."""
    limits = limits or rules().limits
    issued, _, rest = token.partition(".")
    nonce, _, signature = rest.partition(".")
    if not (issued.isdigit() and nonce and signature
            and same(signature, sign(secret, f"direct-channel:{issued}.{nonce}"))):
        raise Refused(N_("This form is not valid. Please reload the page and write again."))
    age = (now if now is not None else time.time()) - int(issued)
    if age < limits.token_min_seconds:
        raise Refused(N_("That was very fast. Please check your message and send it again."))
    if age > limits.token_max_seconds:
        raise Refused(N_("This form has expired. Please reload the page and send your message again."))


# ------------------------------------------------------------------------------------------- submitting


@dataclass(frozen=True)
class Submission:
    """What the public form sent."""

    category: str
    jurisdiction_code: str
    text: str
    token: str
    address: str | None
    name: str = ""
    phone: str = ""
    honeypot: str = ""


@dataclass(frozen=True)
class Route:
    """Who handles a message: a unit (the task force's office or a headquarters), its task force."""

    unit: OrgUnit | None
    task_force: TaskForce | None

    @property
    def code(self) -> str | None:
        """The handling unit's jurisdiction."""
        return self.unit.jurisdiction_code if self.unit is not None else None


def route(session: Session, category: CategoryRule, code: str) -> Route:
    """The office of the category's task force nearest at or above ``code``; else the nearest headquarters."""
    with system_access(session):
        force = organisation.nearest_task_force(session, category.task_force, code)
        if force is not None and force.office is not None:
            return Route(force.office, force)
        above = [code[:n] for n in (2, 4, 6, 9, 12) if n <= len(code)]
        hq = session.execute(select(OrgUnit).where(
            OrgUnit.kind == OrgUnitKind.HEADQUARTERS, OrgUnit.jurisdiction_code.in_(above),
            OrgUnit.is_active.is_(True)).order_by(func.length(OrgUnit.jurisdiction_code).desc(), OrgUnit.id)
            .limit(1)).scalar_one_or_none()
    return Route(hq, force)


def submit(session: Session, data: Submission, *, secret: str, now: datetime | None = None) -> DirectMessage:
    """Accept a message of the public and file its problem; a retry returns the message already filed.

    Raises ``Refused`` (400) for a robot, a bad or expired token or an oversize text, ``Invalid`` (422)
    for a field to correct, ``TooManyRequests`` (429) past a rate limit.
    """
    now = now or utcnow()
    limits = rules().limits
    if data.honeypot.strip():
        raise Refused(N_("This message could not be accepted."))
    check_token(secret, data.token, now=now.timestamp(), limits=limits)
    text = " ".join(data.text.split())
    if len(text) > limits.text_max:
        raise Refused(N_("The message is too long: at most {limit} characters."), limit=limits.text_max,
                      errors=[FieldError("text", N_("At most {limit} characters."), {"limit": limits.text_max})])
    category, code, name, phone = _checked(session, data, text, limits)

    address_digest = _digest(secret, "address", data.address or "-")
    phone_digest = _digest(secret, "phone", phone) if phone else None
    text_digest = _digest(secret, "text", text)
    with system_access(session):
        since = now - timedelta(minutes=limits.retry_minutes)
        sources = [DirectMessage.address_digest == address_digest]
        if phone_digest is not None:
            sources.append(DirectMessage.phone_digest == phone_digest)
        earlier = session.execute(select(DirectMessage).where(
            DirectMessage.text_digest == text_digest, DirectMessage.created_at >= since, or_(*sources))
            .order_by(DirectMessage.id).limit(1)).scalar_one_or_none()
    if earlier is not None:
        return earlier

    _prune(session, now)
    if (_hits(session, "submit_address", address_digest, now - timedelta(hours=1)) >= limits.per_address_hour
            or _hits(session, "submit_address", address_digest, now - timedelta(days=1)) >= limits.per_address_day):
        raise TooManyRequests(N_("Too many messages from this connection. Please try again later."))
    if phone_digest is not None and (
            _hits(session, "submit_phone", phone_digest, now - timedelta(hours=1)) >= limits.per_phone_hour
            or _hits(session, "submit_phone", phone_digest, now - timedelta(days=1)) >= limits.per_phone_day):
        raise TooManyRequests(N_("Too many messages for this phone number. Please try again later."))
    _hit(session, "submit_address", address_digest, now)
    if phone_digest is not None:
        _hit(session, "submit_phone", phone_digest, now)

    handler = route(session, category, code)
    problem = problems.file_problem(session, ProblemIn(
        jurisdiction_code=code, title=_title(text), description=text, source=ProblemSource.DIRECT_CHANNEL,
        unit_id=handler.unit.id if handler.unit else None,
        task_force_id=handler.task_force.id if handler.task_force else None), params={"category": category.key},
        now=now)
    message = DirectMessage(
        jurisdiction_code=code, tracking_code=_new_code(session), problem_id=problem.id, category=category.key,
        unit_id=handler.unit.id if handler.unit else None,
        task_force_id=handler.task_force.id if handler.task_force else None,
        handling_code=handler.code or code, has_contact=bool(name or phone), masked_name=mask_name(name),
        masked_phone=mask_phone(phone), address_digest=address_digest, phone_digest=phone_digest,
        text_digest=text_digest, created_at=now)
    session.add(message)
    session.flush()
    if name or phone:
        session.add(DirectContact(jurisdiction_code=message.handling_code, message_id=message.id, name=name,
                                  phone=phone))
        session.flush()
    return message


def _checked(session: Session, data: Submission, text: str,
             limits: Limits) -> tuple[CategoryRule, str, str, str]:
    """The category, jurisdiction, name and phone, or ``Invalid`` naming every field to correct."""
    errors: list[FieldError] = []
    category = rules().category(data.category)
    if category is None:
        errors.append(FieldError("category", N_("Choose what your message is about.")))
    code = data.jurisdiction_code.strip()
    with system_access(session):
        known = code.isdigit() and len(code) >= Level.DISTRICT.value and session.execute(
            select(Jurisdiction.code).where(Jurisdiction.code == code)).first() is not None
    if not known:
        errors.append(FieldError("jurisdiction",
                                 N_("Choose your district, and your street or community if you know it.")))
    if len(text) < limits.text_min:
        errors.append(FieldError("text", N_("Please describe the problem or need in at least {limit} characters."),
                                 {"limit": limits.text_min}))
    name = " ".join(data.name.split())
    if len(name) > NAME_MAX:
        errors.append(FieldError("name", N_("At most {limit} characters."), {"limit": NAME_MAX}))
    phone = re.sub(r"[\s-]", "", data.phone)
    if phone and not PHONE.match(phone):
        errors.append(FieldError("phone", N_("Not a mobile number: 11 digits, starting with 1.")))
    if errors:
        raise Invalid(N_("Please correct the marked fields."), errors=errors)
    assert category is not None
    return category, code, name, phone


def _title(text: str) -> str:
    return text if len(text) <= 60 else text[:59] + "…"


def _digest(secret: str, kind: str, value: str) -> str:
    return sign(secret, f"direct-channel-{kind}:{value}")


def _new_code(session: Session) -> str:
    with system_access(session):
        while True:
            code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
            if session.execute(select(DirectMessage.id).where(DirectMessage.tracking_code == code)).first() is None:
                return code


def _hits(session: Session, kind: str, digest: str, since: datetime) -> int:
    return session.execute(select(func.count()).select_from(ChannelHit).where(
        ChannelHit.kind == kind, ChannelHit.digest == digest, ChannelHit.at >= since)).scalar_one()


def _hit(session: Session, kind: str, digest: str, now: datetime) -> None:
    # A table-level insert: bookkeeping of the limits, not a record to audit row by row.
    session.execute(insert(ChannelHit).values(kind=kind, digest=digest, at=now))


def _prune(session: Session, now: datetime) -> None:
    """Drop hits older than the longest window (a day)."""
    session.execute(delete(ChannelHit).where(ChannelHit.at < now - timedelta(days=1)))


# --------------------------------------------------------------------------------------------- tracking


def normalise_code(code: str) -> str | None:
    """A tracking code as typed (lower case, spaces, dashes) in its stored form; None if it cannot be one."""
    cleaned = re.sub(r"[\s-]", "", code).upper()
    if len(cleaned) != CODE_LENGTH or any(c not in ALPHABET for c in cleaned):
        return None
    return cleaned


def format_code(code: str) -> str:
    """A tracking code in two groups of five, as the sender reads it."""
    return f"{code[:5]}-{code[5:]}"


@dataclass(frozen=True)
class Reply:
    """A public reply as the sender sees it: when and what, not who."""

    at: datetime
    text: str


@dataclass(frozen=True)
class Tracking:
    """What the sender may see of their message: never anyone's personal data or internal notes."""

    code: str
    category_label: str
    area: str
    received_at: datetime
    status: TrackStatus
    replies: list[Reply] = field(default_factory=list)


def status_of(message: DirectMessage) -> TrackStatus:
    """The public's status of a message, from its problem's loop and the replies."""
    problem = message.problem
    if problem.status is ProblemStatus.CLOSED:
        return TrackStatus.CLOSED
    if any(m.status in (MeasureStatus.SUBMITTED, MeasureStatus.VERIFIED) for m in problem.measures):
        return TrackStatus.MEASURES_TAKEN
    if problem.measures or message.replies:
        return TrackStatus.IN_HAND
    return TrackStatus.RECEIVED


def track(session: Session, code: str, *, address: str | None, secret: str,
          now: datetime | None = None) -> Tracking | None:
    """Look up a message by its tracking code (rate-limited per address); None when no message has it."""
    now = now or utcnow()
    limits = rules().limits
    digest = _digest(secret, "address", address or "-")
    _prune(session, now)
    if _hits(session, "track_address", digest, now - timedelta(hours=1)) >= limits.track_per_address_hour:
        raise TooManyRequests(N_("Too many look-ups from this connection. Please try again in an hour."))
    _hit(session, "track_address", digest, now)
    wanted = normalise_code(code)
    if wanted is None:
        return None
    with system_access(session):
        message = session.execute(select(DirectMessage).where(DirectMessage.tracking_code == wanted)
                                  ).scalar_one_or_none()
        if message is None:
            return None
        category = rules().category(message.category)
        area = area_path(session, message.jurisdiction_code)
        return Tracking(code=format_code(message.tracking_code),
                        category_label=category.label if category else message.category, area=area,
                        received_at=message.created_at, status=status_of(message),
                        replies=[Reply(r.at, r.text) for r in message.replies])


def area_path(session: Session, code: str) -> str:
    """The names from the district down to ``code`` (public names of the tree)."""
    codes = [code[:n] for n in (6, 9, 12) if n <= len(code)]
    with system_access(session):
        names = dict(session.execute(select(Jurisdiction.code, Jurisdiction.name)
                                     .where(Jurisdiction.code.in_(codes))).all())
    return " ".join(names[c] for c in codes if c in names)


def areas(session: Session, parent: str | None = None) -> list[tuple[str, str]]:
    """(code, name) of the districts, or of the jurisdictions right below ``parent``: the public pickers."""
    with system_access(session):
        if parent:
            stmt = select(Jurisdiction.code, Jurisdiction.name).where(Jurisdiction.parent_code == parent,
                                                                      func.length(Jurisdiction.code) > 4)
        else:
            stmt = select(Jurisdiction.code, Jurisdiction.name).where(
                func.length(Jurisdiction.code) == Level.DISTRICT.value)
        return [(c, n) for c, n in session.execute(stmt.order_by(Jurisdiction.code))]


# ------------------------------------------------------------------------------------------------ staff


def messages(*, under: str | None = None) -> Select[DirectMessage]:
    """The channel's messages, newest first (the scope is added by the session)."""
    # The list shows each message's problem and its status for the sender: load them with the page.
    stmt = select(DirectMessage).options(selectinload(DirectMessage.problem).selectinload(Problem.measures),
                                         selectinload(DirectMessage.replies))
    if under:
        stmt = stmt.where(DirectMessage.jurisdiction_code.startswith(under, autoescape=True))
    return stmt.order_by(DirectMessage.created_at.desc(), DirectMessage.id.desc())


def get_message(session: Session, message_id: int) -> DirectMessage:
    """A message the principal may read (``NotFound`` otherwise, audited when it exists)."""
    return get_or_404(session, DirectMessage, message_id, what=N_("No such message."))


def can_reveal(session: Session, message: DirectMessage) -> bool:
    """Whether the principal may see the sender's contact: ``command:write`` over the handling unit's level."""
    return message.has_contact and principal_of(session).can(Permission.COMMAND_WRITE, message.handling_code)


def reveal_contact(session: Session, message: DirectMessage) -> DirectContact:
    """The sender's name and phone, unmasked, for the handling level only; the view is audited."""
    if not message.has_contact:
        raise NotFound(N_("The sender left no contact details."))
    principal_of(session).require(Permission.COMMAND_WRITE, message.handling_code)
    contact = session.execute(select(DirectContact).where(DirectContact.message_id == message.id)
                              ).scalar_one_or_none()
    if contact is None:  # the scope hides it (a grant that reaches the problem but not the handling level)
        raise NotFound(N_("The sender left no contact details."))
    audit.record(session, audit.Action.VIEW_UNMASKED, entity=contact,
                 detail={"fields": ["name", "phone"], "message_id": message.id})
    return contact


def reply(session: Session, message: DirectMessage, text: str, *, now: datetime | None = None) -> DirectReply:
    """A public reply to the sender (shown with their tracking code), by someone who works the message."""
    now = now or utcnow()
    principal = principal_of(session)
    principal.require(Permission.COMMAND_WRITE, message.jurisdiction_code)
    text = text.strip()
    if not text:
        raise Invalid.field("reply", N_("Write the reply."))
    if len(text) > REPLY_MAX:
        raise Invalid.field("reply", N_("At most {limit} characters."), limit=REPLY_MAX)
    made = DirectReply(jurisdiction_code=message.jurisdiction_code, text=text, author_id=principal.user_id, at=now)
    message.replies.append(made)
    session.flush()
    return made
