"""Unannounced inspections (四不两直: 不发通知、不打招呼、不听汇报、不用陪同接待, 直奔基层、直插现场).

An inspector records an inspection at a site — a place (venue), a facility or a community — with the
time, the inspector and the team, straight from a phone. Each finding has a text, a severity, photos
and the unit responsible for it, and becomes a problem of the lists (source ``inspection``) assigned to
that unit in the site's jurisdiction, so it is followed until rectified like any other.

Photos are checked by their first bytes (not by the name or the browser's word), limited in size and
number, and kept under the data directory by their SHA-256, like the command module's attachments.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from sqlalchemy import ForeignKey, Index, Select, String, Text, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from fangkong.command import organisation, problems
from fangkong.command.models import CommandScoped, OrgUnit, Problem, ProblemSource
from fangkong.command.schemas import ProblemIn
from fangkong.core import idempotency
from fangkong.core.auth import Permission
from fangkong.core.db import Base, utcnow
from fangkong.core.errors import N_, Invalid, NotFound
from fangkong.core.scope import covers, get_or_404, principal_of, system_access
from fangkong.geo.models import Facility, Jurisdiction, Level, Place

MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_PHOTOS = 6  # per finding
MAX_TEXT = 2000
FOLDER = "command/inspections"


class SiteKind(StrEnum):
    """What kind of site was inspected."""

    PLACE = "place"  # a venue: market, supermarket, school …
    FACILITY = "facility"  # a sampling site, isolation site, hospital, lab, warehouse
    COMMUNITY = "community"  # a community or village, its gates and compounds

    @property
    def label(self) -> str:
        """The kind in the interface (an msgid)."""
        return SITE_KIND_LABELS[self]


SITE_KIND_LABELS = {
    SiteKind.PLACE: N_("Place"),
    SiteKind.FACILITY: N_("Facility"),
    SiteKind.COMMUNITY: N_("Community"),
}


class Severity(StrEnum):
    """How serious a finding is."""

    MINOR = "minor"  # 一般
    MAJOR = "major"  # 较重
    SERIOUS = "serious"  # 严重

    @property
    def label(self) -> str:
        """The severity in the interface (an msgid)."""
        return SEVERITY_LABELS[self]


SEVERITY_LABELS = {
    Severity.MINOR: N_("Minor"),
    Severity.MAJOR: N_("Major"),
    Severity.SERIOUS: N_("Serious"),
}


class Inspection(CommandScoped, Base):
    """One unannounced inspection (四不两直) of a site; ``jurisdiction_code`` is the site's."""

    __tablename__ = "inspections"
    __table_args__ = (Index("ix_inspections_jurisdiction_code_inspected_at", "jurisdiction_code", "inspected_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_kind: Mapped[SiteKind] = mapped_column()
    place_id: Mapped[int | None] = mapped_column(ForeignKey("places.id"))
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facilities.id"))
    site_name: Mapped[str] = mapped_column(String(160))  # the venue's, facility's or community's name
    location: Mapped[str] = mapped_column(String(200), default="")  # where exactly: a gate, a counter …
    inspected_at: Mapped[datetime] = mapped_column()
    inspector_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    inspector_name: Mapped[str] = mapped_column(String(80))
    team: Mapped[str] = mapped_column(String(200), default="")  # the others of the inspection team
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    findings: Mapped[list[Finding]] = relationship(back_populates="inspection", order_by="Finding.id")


class Finding(CommandScoped, Base):
    """A finding (发现问题) of an inspection, filed as a problem for its responsible unit."""

    __tablename__ = "inspection_findings"

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    severity: Mapped[Severity] = mapped_column()
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    problem_id: Mapped[int | None] = mapped_column(ForeignKey("problems.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    inspection: Mapped[Inspection] = relationship(back_populates="findings")
    unit: Mapped[OrgUnit] = relationship()
    problem: Mapped[Problem | None] = relationship()
    photos: Mapped[list[FindingPhoto]] = relationship(back_populates="finding", order_by="FindingPhoto.id")


class FindingPhoto(CommandScoped, Base):
    """A photo of a finding; its bytes live under the data directory, named by their SHA-256."""

    __tablename__ = "inspection_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("inspection_findings.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column()
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(200))  # relative to the data directory
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    finding: Mapped[Finding] = relationship(back_populates="photos")


# ------------------------------------------------------------------------------------------------ input


@dataclass(frozen=True)
class SiteIn:
    """The inspected site: a place, a facility, or a community (by its code)."""

    kind: SiteKind
    place_id: int | None = None
    facility_id: int | None = None
    community_code: str | None = None
    location: str = ""


@dataclass(frozen=True)
class PhotoIn:
    """An uploaded photo."""

    filename: str
    data: bytes


@dataclass(frozen=True)
class FindingIn:
    """A finding: what is wrong, how serious, who must put it right, and its photos."""

    text: str
    severity: Severity
    unit_id: int | None
    photos: Sequence[PhotoIn] = ()


# The image formats a photo may be, by their first bytes (a browser's content type is not trusted).
_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"WEBP", 8, "image/webp"),  # RIFF....WEBP
)


def image_type(data: bytes) -> str | None:
    """The content type of a JPEG, PNG or WebP image by its magic bytes; None for anything else."""
    for magic, offset, content_type in _SIGNATURES:
        if data[offset:offset + len(magic)] == magic and (offset == 0 or data[:4] == b"RIFF"):
            return content_type
    return None


# ------------------------------------------------------------------------------------------- services


def record_inspection(session: Session, site: SiteIn, *, inspected_at: datetime, team: str = "", notes: str = "",
                      form_key: str | None = None, now: datetime | None = None) -> Inspection:
    """Record an inspection of a site in the principal's jurisdiction (a repeated ``form_key`` returns it)."""
    now = now or utcnow()
    principal = principal_of(session)
    principal.require(Permission.COMMAND_WRITE)
    earlier = idempotency.recall(session, form_key, Inspection.__tablename__)
    if earlier is not None:
        return get_inspection(session, int(earlier))
    code, name = _site(session, site)
    if inspected_at > now:
        raise Invalid.field("inspected_at", N_("The inspection cannot be in the future."))
    if not principal.can(Permission.COMMAND_WRITE, code):
        raise Invalid.field(_site_field(site.kind), N_("This site is outside your jurisdiction."))
    user_name = principal.username
    if principal.user_id is not None:
        from fangkong.users.models import User

        with system_access(session):
            user = session.get(User, principal.user_id)
            user_name = user.display_name if user is not None else user_name
    inspection = Inspection(jurisdiction_code=code, site_kind=site.kind, place_id=site.place_id,
                            facility_id=site.facility_id, site_name=name[:160], location=site.location.strip()[:200],
                            inspected_at=inspected_at, inspector_id=principal.user_id,
                            inspector_name=user_name[:80], team=team.strip()[:200], notes=notes.strip(),
                            created_at=now)
    session.add(inspection)
    session.flush()
    idempotency.remember(session, form_key, Inspection.__tablename__, inspection.id)
    return inspection


def get_inspection(session: Session, inspection_id: int) -> Inspection:
    """An inspection the principal may read (``NotFound`` otherwise, audited when it exists)."""
    return get_or_404(session, Inspection, inspection_id, what=N_("No such inspection."))


def inspections(*, under: str | None = None) -> Select[Inspection]:
    """The inspection list's query, latest first (the scope is added by the session)."""
    stmt = select(Inspection)
    if under:
        stmt = stmt.where(Inspection.jurisdiction_code.startswith(under, autoescape=True))
    return stmt.order_by(Inspection.inspected_at.desc(), Inspection.id.desc())


def units_for(session: Session, code: str) -> list[OrgUnit]:
    """The units that may answer for a finding at a site of ``code``: those at, above or under it."""
    return [u for u in organisation.units(session)
            if covers(u.jurisdiction_code, code) or covers(code, u.jurisdiction_code)]


def add_finding(session: Session, inspection: Inspection, data: FindingIn, *, form_key: str | None = None,
                root: Path | None = None, now: datetime | None = None) -> Finding:
    """Add a finding with its photos and file it as a problem for its unit, in the site's jurisdiction.

    A repeated ``form_key`` (a double tap, a retried upload) returns the finding already made.
    """
    now = now or utcnow()
    earlier = idempotency.recall(session, form_key, Finding.__tablename__)
    if earlier is not None:
        return get_or_404(session, Finding, int(earlier), what=N_("No such finding."))
    text = data.text.strip()
    if not text:
        raise Invalid.field("text", N_("Describe what was found."))
    if len(text) > MAX_TEXT:
        raise Invalid.field("text", N_("At most {limit} characters."), limit=MAX_TEXT)
    if data.unit_id is None:
        raise Invalid.field("unit_id", N_("Name the unit that must put it right."))
    try:
        unit = organisation.get_unit(session, data.unit_id)
    except NotFound:  # a unit the user cannot see is no choice, not a missing page
        raise Invalid.field("unit_id", N_("No such unit.")) from None
    if not (covers(unit.jurisdiction_code, inspection.jurisdiction_code)
            or covers(inspection.jurisdiction_code, unit.jurisdiction_code)):
        raise Invalid.field("unit_id", N_("This unit does not work where the site is."))
    if len(data.photos) > MAX_PHOTOS:
        raise Invalid.field("photos", N_("At most {limit} photos per finding."), limit=MAX_PHOTOS)
    checked = [(p, _check_photo(p)) for p in data.photos]
    finding = Finding(jurisdiction_code=inspection.jurisdiction_code, text=text, severity=data.severity,
                      unit_id=unit.id, created_at=now)
    inspection.findings.append(finding)
    session.flush()
    problem = problems.file_problem(session, ProblemIn(
        jurisdiction_code=inspection.jurisdiction_code, title=_title(inspection, text),
        description=text, source=ProblemSource.INSPECTION, unit_id=unit.id, found_at=min(inspection.inspected_at, now)),
        source_key=f"inspection-finding:{finding.id}",
        params={"inspection_id": inspection.id, "severity": data.severity.value}, now=now)
    finding.problem_id = problem.id
    for photo, content_type in checked:
        finding.photos.append(_store_photo(session, finding, photo, content_type, root=root))
    session.flush()
    idempotency.remember(session, form_key, Finding.__tablename__, finding.id)
    return finding


def get_photo(session: Session, photo_id: int) -> FindingPhoto:
    """A photo the principal may read (``NotFound`` otherwise, audited when it exists)."""
    return get_or_404(session, FindingPhoto, photo_id, what=N_("No such photo."))


def photo_path(photo: FindingPhoto, *, root: Path | None = None) -> Path:
    """Where a photo's bytes are (the caller has loaded the row, so it is in scope)."""
    return (root or _data_dir()) / photo.path


# ------------------------------------------------------------------------------------------------ helpers


def _site_field(kind: SiteKind) -> str:
    return {SiteKind.PLACE: "place_id", SiteKind.FACILITY: "facility_id", SiteKind.COMMUNITY: "community"}[kind]


def _site(session: Session, site: SiteIn) -> tuple[str, str]:
    """(jurisdiction code, name) of the site; a site that does not exist is a field error."""
    field = _site_field(site.kind)
    stmt: Select[str, str] | None = None
    if site.kind is SiteKind.PLACE and site.place_id is not None:
        stmt = select(Place.jurisdiction_code, Place.name).where(Place.id == site.place_id)
    elif site.kind is SiteKind.FACILITY and site.facility_id is not None:
        stmt = select(Facility.jurisdiction_code, Facility.name).where(Facility.id == site.facility_id)
    elif site.kind is SiteKind.COMMUNITY and site.community_code:
        stmt = select(Jurisdiction.code, Jurisdiction.name).where(
            Jurisdiction.code == site.community_code, func.length(Jurisdiction.code) == Level.COMMUNITY.value)
    row = None
    if stmt is not None:
        # Places, facilities and the tree are reference data every role with geo:read sees; the check
        # that the site lies in the inspector's jurisdiction follows.
        with system_access(session):
            row = session.execute(stmt).one_or_none()
    if row is None:
        raise Invalid.field(field, N_("Choose the site that was inspected."))
    return row[0], row[1]


def _title(inspection: Inspection, text: str) -> str:
    first = text.splitlines()[0]
    title = f"{inspection.site_name}: {first}"
    return title if len(title) <= 200 else title[:199] + "…"


def _check_photo(photo: PhotoIn) -> str:
    if not photo.data:
        raise Invalid.field("photos", N_("The file {filename} is empty."), filename=photo.filename)
    if len(photo.data) > MAX_PHOTO_BYTES:
        raise Invalid.field("photos", N_("The photo {filename} is larger than {mb} MB."), filename=photo.filename,
                            mb=MAX_PHOTO_BYTES // (1024 * 1024))
    content_type = image_type(photo.data)
    if content_type is None:
        raise Invalid.field("photos", N_("The file {filename} is not a JPEG, PNG or WebP photo."),
                            filename=photo.filename)
    return content_type


def _data_dir() -> Path:
    from fangkong.config import get_settings

    return get_settings().data_dir


def _store_photo(session: Session, finding: Finding, photo: PhotoIn, content_type: str, *,
                 root: Path | None) -> FindingPhoto:
    # Named by content, written to a temporary name and renamed, so a rolled-back transaction leaves at
    # most a file no row points to, and the same photo twice is kept once.
    sha = hashlib.sha256(photo.data).hexdigest()
    relative = f"{FOLDER}/{sha[:2]}/{sha}"
    path = (root or _data_dir()) / relative
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.part")
        partial.write_bytes(photo.data)
        os.replace(partial, path)
    made = FindingPhoto(jurisdiction_code=finding.jurisdiction_code,
                        filename=Path(photo.filename).name[:200] or "photo",
                        content_type=content_type, size=len(photo.data), sha256=sha, path=relative)
    session.add(made)
    return made
