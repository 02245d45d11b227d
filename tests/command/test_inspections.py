"""Unannounced inspections (四不两直): a site, findings with photos, each filed as a problem for its unit.

Personas: the city's inspector (督导检查组, 通化市); the worker of 新站社区 (东昌区); the worker of
东通化社区 (二道江区), a neighbour who sees nothing of 东昌区's inspections.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fangkong.command import inspections
from fangkong.command.inspections import Finding, FindingIn, FindingPhoto, Inspection, PhotoIn, Severity, SiteIn
from fangkong.command.inspections import SiteKind as Kind
from fangkong.command.models import Problem, ProblemSource
from fangkong.config import Settings
from fangkong.core.audit import Action, AuditEntry
from fangkong.core.errors import Invalid
from fangkong.core.scope import system_access
from fangkong.geo.models import Place
from tests.command.conftest import DONGTONGHUA, XINZHAN, committee, hours
from tests.conftest import WORKER_DC, WORKER_EDJ, Client

INSPECTOR = "inspector"


def png(width: int = 2, height: int = 2) -> bytes:
    """A small valid PNG (grey pixels), as a phone camera would send a photo."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def market(session: Session) -> Place:
    """西关蔬菜批发市场, a venue of 新站社区 (东昌区)."""
    with system_access(session):
        return session.execute(select(Place).where(Place.name == "西关蔬菜批发市场")).scalar_one()


def school(session: Session) -> Place:
    """二道江区第一中学, a venue of 东通化社区 (二道江区)."""
    with system_access(session):
        return session.execute(select(Place).where(Place.name == "二道江区第一中学")).scalar_one()


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The suite's settings, with uploaded photos kept out of the working tree."""
    return settings.model_copy(update={"data_dir": tmp_path / "pages"})


@pytest.fixture
def inspection(session: Session, as_user) -> Inspection:  # type: ignore[no-untyped-def]
    """The inspector's inspection of the market, an hour after T0."""
    as_user(INSPECTOR)
    return inspections.record_inspection(session, SiteIn(kind=Kind.PLACE, place_id=market(session).id,
                                                         location="东门入口"),
                                         inspected_at=hours(1), team="李明、赵强", now=hours(1.5))


def test_image_types_are_told_by_their_first_bytes() -> None:
    assert inspections.image_type(png()) == "image/png"
    assert inspections.image_type(b"\xff\xd8\xff\xe0" + b"\x00" * 20) == "image/jpeg"
    assert inspections.image_type(b"RIFF\x10\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert inspections.image_type(b"<svg xmlns='http://www.w3.org/2000/svg'/>") is None
    assert inspections.image_type(b"GIF89a") is None


def test_an_inspection_belongs_to_its_sites_jurisdiction(session: Session, inspection: Inspection) -> None:
    assert (inspection.jurisdiction_code, inspection.site_name, inspection.inspector_name, inspection.team) == (
        XINZHAN, "西关蔬菜批发市场", "督导检查组", "李明、赵强")


def test_a_finding_is_filed_as_a_problem_for_its_unit_with_its_photos(session: Session, inspection: Inspection,
                                                                      files_root: Path) -> None:
    unit = committee(session, XINZHAN)

    finding = inspections.add_finding(session, inspection, FindingIn(
        text="入口未查验场所码，测温枪无电", severity=Severity.MAJOR, unit_id=unit.id,
        photos=[PhotoIn("IMG_0001.png", png())]), root=files_root, now=hours(1.5))

    problem = session.get(Problem, finding.problem_id)
    assert problem is not None
    assert (problem.source, problem.jurisdiction_code, problem.unit_id, problem.found_at) == (
        ProblemSource.INSPECTION, XINZHAN, unit.id, hours(1))
    assert problem.title == "西关蔬菜批发市场: 入口未查验场所码，测温枪无电"
    assert problem.source_key == f"inspection-finding:{finding.id}"
    [photo] = finding.photos
    assert (photo.content_type, photo.filename, photo.jurisdiction_code) == ("image/png", "IMG_0001.png", XINZHAN)
    assert (files_root / photo.path).read_bytes() == png()


def test_a_finding_sent_twice_is_made_once(session: Session, inspection: Inspection, files_root: Path) -> None:
    data = FindingIn(text="工作人员未戴口罩", severity=Severity.MINOR, unit_id=committee(session, XINZHAN).id)

    first = inspections.add_finding(session, inspection, data, form_key="k-1", root=files_root, now=hours(1.5))
    again = inspections.add_finding(session, inspection, data, form_key="k-1", root=files_root, now=hours(1.6))

    assert first.id == again.id
    assert session.execute(select(func.count()).select_from(Problem).where(
        Problem.source == ProblemSource.INSPECTION)).scalar_one() == 1


@pytest.mark.parametrize(("photo", "field"), [
    (PhotoIn("virus.jpg", b"MZ\x90\x00 not an image"), "photos"),
    (PhotoIn("empty.png", b""), "photos"),
    (PhotoIn("huge.png", png() + b"\x00" * inspections.MAX_PHOTO_BYTES), "photos"),
])
def test_a_bad_photo_refuses_the_whole_finding(session: Session, inspection: Inspection, files_root: Path,
                                               photo: PhotoIn, field: str) -> None:
    with pytest.raises(Invalid) as caught:
        inspections.add_finding(session, inspection, FindingIn(
            text="消毒记录缺失", severity=Severity.MINOR, unit_id=committee(session, XINZHAN).id,
            photos=[PhotoIn("ok.png", png()), photo]), root=files_root, now=hours(1.5))

    assert [e.field for e in caught.value.errors] == [field]
    assert session.execute(select(func.count()).select_from(Finding)).scalar_one() == 0
    assert session.execute(select(func.count()).select_from(Problem).where(
        Problem.source == ProblemSource.INSPECTION)).scalar_one() == 0
    assert not (files_root / "command").exists()


def test_the_unit_must_work_where_the_site_is(session: Session, inspection: Inspection, files_root: Path) -> None:
    neighbour = committee(session, DONGTONGHUA)

    with pytest.raises(Invalid) as caught:
        inspections.add_finding(session, inspection, FindingIn(text="未落实扫码", severity=Severity.SERIOUS,
                                                               unit_id=neighbour.id), root=files_root, now=hours(2))

    assert [e.field for e in caught.value.errors] == ["unit_id"]


def test_the_finding_needs_a_text_and_a_unit(session: Session, inspection: Inspection, files_root: Path) -> None:
    with pytest.raises(Invalid) as no_text:
        inspections.add_finding(session, inspection, FindingIn(text="  ", severity=Severity.MINOR, unit_id=None),
                                root=files_root)
    with pytest.raises(Invalid) as no_unit:
        inspections.add_finding(session, inspection, FindingIn(text="未扫码", severity=Severity.MINOR, unit_id=None),
                                root=files_root)

    assert [e.field for e in no_text.value.errors] == ["text"]
    assert [e.field for e in no_unit.value.errors] == ["unit_id"]


def test_a_site_outside_the_jurisdiction_or_a_future_time_is_refused(session: Session, as_user) -> None:  # type: ignore[no-untyped-def]
    as_user(WORKER_DC)
    with pytest.raises(Invalid) as outside:
        inspections.record_inspection(session, SiteIn(kind=Kind.PLACE, place_id=school(session).id),
                                      inspected_at=hours(1), now=hours(2))
    with pytest.raises(Invalid) as future:
        inspections.record_inspection(session, SiteIn(kind=Kind.COMMUNITY, community_code=XINZHAN),
                                      inspected_at=hours(3), now=hours(2))
    with pytest.raises(Invalid) as no_site:
        inspections.record_inspection(session, SiteIn(kind=Kind.COMMUNITY, community_code="220502001"),
                                      inspected_at=hours(1), now=hours(2))

    assert [e.field for e in outside.value.errors] == ["place_id"]
    assert [e.field for e in future.value.errors] == ["inspected_at"]
    assert [e.field for e in no_site.value.errors] == ["community"]
    assert session.execute(select(func.count()).select_from(Inspection)).scalar_one() == 0


def test_a_neighbour_district_does_not_see_the_inspection(session: Session, inspection: Inspection,
                                                         as_user) -> None:  # type: ignore[no-untyped-def]
    as_user(WORKER_EDJ)

    assert session.execute(inspections.inspections()).scalars().all() == []
    with pytest.raises(Exception) as hidden:
        inspections.get_inspection(session, inspection.id)
    assert getattr(hidden.value, "status", None) == 404


# ----------------------------------------------------------------------------------------------- pages


def test_the_inspector_records_an_inspection_and_findings_from_the_pages(
        client_factory: Callable[[], Client], session: Session, settings: Settings) -> None:
    inspector = client_factory().login(INSPECTOR)
    form = inspector.get("/command/inspections/new")
    assert form.status_code == 200 and 'name="place_id"' in form.text
    place = market(session)

    bad = inspector.post("/command/inspections", data={"site_kind": "place", "place_id": "",
                                                       "inspected_at": "2021-01-20T09:00"})
    assert bad.status_code == 422 and 'data-field-error="place_id"' in bad.text
    made = inspector.post("/command/inspections", data={"site_kind": "place", "place_id": str(place.id),
                                                        "inspected_at": "2021-01-20T09:00", "team": "李明",
                                                        "form_key": "page-1"}, follow_redirects=False)
    assert made.status_code == 303
    url = made.headers["location"]
    inspection_id = int(url.rsplit("/", 1)[1])
    unit = committee(session, XINZHAN)

    added = inspector.post(f"{url}/findings", headers={"HX-Request": "true"},
                           data={"text": "入口未查验场所码", "severity": "major", "unit_id": str(unit.id),
                                 "form_key": "finding-1"},
                           files=[("photos", ("IMG_1.png", png(), "image/png"))])
    assert added.status_code == 200, added.text
    finding_id = int(re.findall(r'data-finding="(\d+)"', added.text)[-1])
    photo_id = int(re.findall(r'data-photo="(\d+)"', added.text)[0])
    refused = inspector.post(f"{url}/findings", headers={"HX-Request": "true"},
                             data={"text": "测温枪无电", "severity": "minor", "unit_id": str(unit.id)},
                             files=[("photos", ("IMG_2.jpg", b"not a photo at all", "image/jpeg"))])
    assert refused.status_code == 422 and 'data-field-error="photos"' in refused.text

    shown = inspector.get(f"/command/inspections/photos/{photo_id}")
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/png" and shown.content == png()
    assert list((settings.data_dir / "command" / "inspections").glob("*/*")) != []
    listing = inspector.get("/command/inspections")
    assert f'data-inspection="{inspection_id}"' in listing.text

    session.expire_all()
    with system_access(session):
        finding = session.get(Finding, finding_id)
        assert finding is not None and finding.problem is not None
        assert finding.problem.unit_id == unit.id
        assert session.execute(select(func.count()).select_from(FindingPhoto)).scalar_one() == 1
        assert session.execute(select(func.count()).select_from(Finding)).scalar_one() == 1

    neighbour = client_factory().login(WORKER_EDJ)
    assert neighbour.get(url).status_code == 404
    assert neighbour.get(f"/command/inspections/photos/{photo_id}").status_code == 404
    assert f'data-inspection="{inspection_id}"' not in neighbour.get("/command/inspections").text
    session.expire_all()
    with system_access(session):
        denied = session.execute(select(AuditEntry.entity, AuditEntry.entity_id).where(
            AuditEntry.action == Action.ACCESS_DENIED, AuditEntry.actor_name == WORKER_EDJ)).all()
    assert set(denied) == {("inspections", str(inspection_id)), ("inspection_photos", str(photo_id))}
