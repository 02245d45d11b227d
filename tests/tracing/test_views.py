"""The tracing pages, through the application, with cases and contacts made by the services."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fangkong import rulesets
from fangkong.core import i18n
from fangkong.core.db import utcnow
from fangkong.core.jobs import Job
from fangkong.core.scope import system_access
from fangkong.geo.models import Place
from fangkong.people.models import Person, Whereabouts
from fangkong.tracing import service
from fangkong.tracing.models import (
    Case,
    CaseKind,
    Contact,
    ContactKind,
    ContactState,
    FoundBy,
    ItineraryEntry,
    RunState,
    TracingRun,
)
from fangkong.tracing.schemas import CaseIn, ItineraryIn
from tests.conftest import Client

XINZHAN = "220502001001"  # 新站社区, the dongchang worker's community
JIANGNAN = "220502001002"  # 江南社区, its neighbour in 东昌区
DONGTONGHUA = "220503001001"  # 东通化社区, 二道江区
LOCAL = ZoneInfo("Asia/Shanghai")


# ---------------------------------------------------------------------------------------- the records


def residents(session: Session, community: str, n: int, *, skip: int = 0) -> list[Person]:
    """``n`` residents of a community, by id, after the first ``skip``."""
    with system_access(session):
        found = session.execute(select(Person).where(Person.jurisdiction_code == community)
                                .order_by(Person.id).offset(skip).limit(n)).scalars().all()
    assert len(found) == n, community
    return list(found)


def report(session: Session, person: Person, *, hours_ago: float = 1, kind: CaseKind = CaseKind.CONFIRMED,
           source: Case | None = None, onset_days_ago: float | None = None) -> Case:
    """A case of ``person`` reported ``hours_ago``, its first positive sample an hour before."""
    reported = utcnow() - timedelta(hours=hours_ago)
    onset = utcnow() - timedelta(days=onset_days_ago) if onset_days_ago is not None else None
    return service.report_case(session, CaseIn(
        person_id=person.id, kind=kind, found_by=FoundBy.FEVER_CLINIC, sampled_at=reported - timedelta(hours=1),
        reported_at=reported, onset_at=onset, source_case_id=source.id if source else None))


def finished_run(session: Session, cases: list[Case], **fields: object) -> TracingRun:
    """A run over ``cases`` that has finished (the contact engine is not run here)."""
    run = TracingRun(jurisdiction_code="2205", ruleset=rulesets.current().name, case_ids=[c.id for c in cases],
                     state=RunState.DONE, finished_at=utcnow(), **fields)
    session.add(run)
    session.flush()
    return run


def add_contact(session: Session, run: TracingRun, case: Case, person: Person, *,
                kind: ContactKind = ContactKind.CLOSE, place: Place | None = None, via: Person | None = None,
                due_in_hours: float = 12) -> Contact:
    """A contact as a run writes it: evidence of the exposure and a control clock."""
    first = utcnow() - timedelta(days=2)
    contact = Contact(person_id=person.id, jurisdiction_code=person.jurisdiction_code, kind=kind, case_id=case.id,
                      via_person_id=via.id if via else None, place_id=place.id if place else None,
                      first_exposure=first, last_exposure=first + timedelta(minutes=45), run_id=run.id,
                      due_at=utcnow() + timedelta(hours=due_in_hours))
    session.add(contact)
    session.flush()
    return contact


def a_place(session: Session) -> Place:
    with system_access(session):
        place = session.execute(select(Place).order_by(Place.id)).scalars().first()
    assert place is not None
    return place


def local_input(at: datetime) -> str:
    """A time as a ``datetime-local`` field holds it."""
    return at.astimezone(LOCAL).strftime("%Y-%m-%dT%H:%M")


def zh(message: str, **params: object) -> str:
    """A message as the Chinese interface shows it (the catalog's translation, or the msgid until there is one)."""
    before = i18n.get_locale()
    i18n.set_locale("zh_CN")
    try:
        return i18n.translate(message, params)
    finally:
        i18n.set_locale(before)


def states_of(html: str, clock: str) -> list[str]:
    """The states of one clock (``core`` or ``report``) shown on a page, in order."""
    return re.findall(rf'data-clock="{clock}" data-state="(\w+)"', html)


@pytest.fixture
def dc_cases(session: Session) -> list[Case]:
    """Two cases of 新站社区: one reported an hour ago, one six hours ago (its core clock overdue)."""
    a, b = residents(session, XINZHAN, 2, skip=20)
    return [report(session, a, hours_ago=1), report(session, b, hours_ago=6, kind=CaseKind.ASYMPTOMATIC)]


@pytest.fixture
def edj_case(session: Session) -> Case:
    """A case of 东通化社区, 二道江区."""
    return report(session, residents(session, DONGTONGHUA, 1, skip=20)[0])


# ---------------------------------------------------------------------------------------- the case list


def test_the_case_list_shows_each_case_with_its_two_clocks(client: Client, dc_cases: list[Case],
                                                             edj_case: Case) -> None:
    page = client.login("tracer").get("/tracing")
    assert page.status_code == 200
    for case in (*dc_cases, edj_case):
        assert f'href="/tracing/cases/{case.id}"' in page.text
        assert case.person.masked_name in page.text and case.person.name not in page.text
    assert "新站社区" in page.text and "东通化社区" in page.text
    # Newest first: the edj case and the first dc case are an hour old, the second six hours (overdue).
    assert states_of(page.text, "core") == ["running", "running", "overdue"]
    assert states_of(page.text, "report") == ["running"] * 3


def test_the_case_list_filters_by_kind_district_and_overdue(client: Client, dc_cases: list[Case],
                                                             edj_case: Case) -> None:
    client.login("tracer")
    overdue = client.get("/tracing?overdue=1").text
    assert f'data-case="{dc_cases[1].id}"' in overdue and f'data-case="{dc_cases[0].id}"' not in overdue
    asymptomatic = client.get("/tracing?kind=asymptomatic").text
    assert re.findall(r'data-case="(\d+)"', asymptomatic) == [str(dc_cases[1].id)]
    edj = client.get("/tracing?district=220503").text
    assert re.findall(r'data-case="(\d+)"', edj) == [str(edj_case.id)]


def test_a_district_tracer_sees_only_their_districts_cases(client: Client, dc_cases: list[Case],
                                                           edj_case: Case) -> None:
    client.login("dongchang_tracer")
    listed = client.get("/tracing").text
    assert {int(i) for i in re.findall(r'data-case="(\d+)"', listed)} == {c.id for c in dc_cases}
    assert client.get(f"/tracing/cases/{dc_cases[0].id}").status_code == 200
    assert client.get(f"/tracing/cases/{edj_case.id}").status_code == 404
    assert client.get(f"/tracing/cases/{edj_case.id}/investigation").status_code == 404


def test_a_tracer_reports_a_case_by_id_number(client: Client, session: Session) -> None:
    person = residents(session, XINZHAN, 1, skip=30)[0]
    sampled = utcnow() - timedelta(hours=3)
    response = client.login("tracer").post("/tracing/cases", data={
        "person": person.id_number, "kind": "confirmed", "found_by": "fever_clinic",
        "sampled_at": local_input(sampled), "onset_at": local_input(sampled - timedelta(days=1))},
        follow_redirects=False)
    assert response.status_code == 303
    case = session.execute(select(Case).where(Case.person_id == person.id)).scalar_one()
    assert response.headers["location"] == f"/tracing/cases/{case.id}"
    assert case.kind is CaseKind.CONFIRMED and case.onset_at is not None
    assert abs((case.sampled_at - sampled).total_seconds()) < 60


def test_the_report_form_marks_each_wrong_field_in_the_users_language(client: Client, session: Session,
                                                                       dc_cases: list[Case]) -> None:
    client.login("tracer")
    response = client.post("/tracing/cases", data={"person": "220502199901011234", "kind": "confirmed",
                                                   "found_by": "fever_clinic", "sampled_at": "yesterday"})
    assert response.status_code == 422
    assert 'data-field-error="person"' in response.text and 'data-field-error="sampled_at"' in response.text
    assert zh("Not a date and time: “{value}”.", value="yesterday") in response.text
    again = client.post("/tracing/cases", data={"person_id": str(dc_cases[0].person_id), "kind": "confirmed",
                                                "found_by": "fever_clinic",
                                                "sampled_at": local_input(utcnow() - timedelta(hours=2))})
    assert again.status_code == 409
    assert zh("This person is already a case.") in again.text


def test_the_person_search_offers_masked_people_to_choose(client: Client, session: Session) -> None:
    person = residents(session, XINZHAN, 1, skip=30)[0]
    found = client.login("tracer").get(f"/tracing/persons?q={person.id_number[-6:]}",
                                       headers={"HX-Request": "true"})
    assert found.status_code == 200
    assert f'name="person_id" value="{person.id}"' in found.text
    assert person.masked_id_number in found.text and person.id_number not in found.text


def test_trace_these_cases_queues_a_run_and_shows_its_progress(client: Client, session: Session,
                                                               dc_cases: list[Case]) -> None:
    client.login("tracer")
    response = client.post("/tracing/runs", data={"case_id": [str(c.id) for c in dc_cases]},
                           follow_redirects=False)
    assert response.status_code == 303
    run = session.execute(select(TracingRun).order_by(TracingRun.id.desc())).scalars().first()
    assert run is not None and response.headers["location"] == f"/tracing/runs/{run.id}"
    assert sorted(run.case_ids) == sorted(c.id for c in dc_cases) and run.state is RunState.QUEUED
    job = session.get(Job, run.job_id)
    assert job is not None and job.kind == "tracing.run"
    page = client.get(f"/tracing/runs/{run.id}")
    assert page.status_code == 200
    assert f'hx-get="/tracing/runs/{run.id}/progress"' in page.text and "<progress" in page.text
    fragment = client.get(f"/tracing/runs/{run.id}/progress", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and f'id="run-{run.id}"' in fragment.text
    key = re.search(r'name="form_key" value="(\w+)"', client.get("/tracing").text)
    assert key is not None
    twice = [client.post("/tracing/runs", data={"form_key": key.group(1)}, follow_redirects=False)
             for _ in range(2)]
    assert twice[0].headers["location"] == twice[1].headers["location"] != response.headers["location"]


def test_a_finished_run_shows_its_counts_and_warns_of_missing_days(client: Client, session: Session,
                                                                   dc_cases: list[Case]) -> None:
    run = finished_run(session, dc_cases, counts={"by_kind": {"close": 12, "secondary": 30, "exposed": 4},
                                                  "new": 40, "upgraded": 6, "not_in_register": 1},
                       missing_days=["2021-01-09", "2021-01-10"])
    page = client.login("tracer").get(f"/tracing/runs/{run.id}")
    assert page.status_code == 200 and "hx-trigger" not in page.text
    assert 'data-kind="close">12<' in page.text and 'data-figure="upgraded">6<' in page.text
    warning = page.text[page.text.index('data-testid="missing-days"'):]
    assert "2021-01-09, 2021-01-10" in warning[:400]


def test_a_run_with_every_day_present_shows_no_warning(client: Client, session: Session,
                                                       dc_cases: list[Case]) -> None:
    run = finished_run(session, dc_cases, counts={"by_kind": {}, "new": 0})
    page = client.login("tracer").get(f"/tracing/runs/{run.id}")
    assert 'data-testid="missing-days"' not in page.text and 'data-figure="new">0<' in page.text


# ---------------------------------------------------------------------------------------- the case page


def test_the_case_page_shows_clocks_source_contacts_and_chain(client: Client, session: Session,
                                                              dc_cases: list[Case]) -> None:
    first, second = dc_cases
    service.update_case(session, second, service.CaseUpdate(source_case_id=first.id))
    run = finished_run(session, dc_cases)
    for person in residents(session, JIANGNAN, 3):
        add_contact(session, run, second, person)
    add_contact(session, run, second, residents(session, JIANGNAN, 1, skip=3)[0], kind=ContactKind.SECONDARY)
    page = client.login("tracer").get(f"/tracing/cases/{second.id}")
    assert page.status_code == 200
    assert f'href="/people/{second.person_id}"' in page.text and second.person.name not in page.text
    assert states_of(page.text, "core") == ["overdue"] and states_of(page.text, "report") == ["running"]
    assert f'data-testid="source-link">#{first.id}' in page.text
    assert 'data-kind="close"><a href="/tracing/contacts?case_id=' in page.text
    assert re.search(r'data-kind="close"><a [^>]+>3<', page.text)
    assert re.search(r'data-kind="secondary"><a [^>]+>1<', page.text)
    assert f'href="/tracing/chains/{first.id}"' in page.text


def test_the_source_can_be_named_but_never_makes_a_loop(client: Client, session: Session,
                                                        dc_cases: list[Case]) -> None:
    first, second = dc_cases
    client.login("tracer")
    named = client.post(f"/tracing/cases/{second.id}/source", data={"source_case_id": str(first.id)},
                        follow_redirects=False)
    assert named.status_code == 303
    session.expire_all()
    assert session.get(Case, second.id).source_case_id == first.id  # type: ignore[union-attr]
    loop = client.post(f"/tracing/cases/{first.id}/source", data={"source_case_id": str(second.id)})
    assert loop.status_code == 422 and 'data-field-error="source_case_id"' in loop.text


def test_a_care_staff_reads_the_case_but_has_no_forms(client: Client, session: Session,
                                                      dc_cases: list[Case]) -> None:
    from fangkong.core.auth import Role
    from fangkong.users.models import RoleGrant, User

    session.add(User(username="care_test", display_name="救治组", password_hash="!", jurisdiction_code="2205",
                     grants=[RoleGrant(role=Role.CARE_STAFF, jurisdiction_code="2205")]))
    session.flush()
    from fangkong.users import service as users

    user = users.find_user(session, "care_test")
    assert user is not None
    secret = users.start_session(session, user, address="testclient", hours=1)
    from fangkong.core.scope import Principal

    Principal.system().bind(session)
    client.cookies.set("fk_session", secret)
    page = client.get(f"/tracing/cases/{dc_cases[0].id}")
    assert page.status_code == 200 and 'action="/tracing/cases/' not in page.text
    form = client.get(f"/tracing/cases/{dc_cases[0].id}/investigation")
    assert form.status_code == 200 and 'data-testid="complete-core"' not in form.text


# ------------------------------------------------------------------------------------- the investigation


def test_the_investigation_form_saves_what_was_learned(client: Client, session: Session,
                                                       dc_cases: list[Case]) -> None:
    case = dc_cases[1]
    onset = utcnow() - timedelta(days=2)
    client.login("tracer")
    page = client.get(f"/tracing/cases/{case.id}/investigation")
    assert page.status_code == 200 and 'data-testid="investigation-form"' in page.text
    saved = client.post(f"/tracing/cases/{case.id}/investigation", data={
        "kind": "confirmed", "symptoms": "发热 38.5℃，咳嗽", "onset_at": local_input(onset), "notes": "家中三人"},
        follow_redirects=False)
    assert saved.status_code == 303
    session.expire_all()
    case = session.get(Case, case.id)  # type: ignore[assignment]
    assert case.kind is CaseKind.CONFIRMED and case.investigation.symptoms == "发热 38.5℃，咳嗽"
    assert case.onset_at is not None and abs((case.onset_at - onset).total_seconds()) < 60


def test_an_onset_in_the_future_is_marked_beside_its_field(client: Client, dc_cases: list[Case]) -> None:
    case = dc_cases[0]
    response = client.login("tracer").post(f"/tracing/cases/{case.id}/investigation", data={
        "kind": "confirmed", "onset_at": local_input(utcnow() + timedelta(days=1)), "symptoms": "发热"})
    assert response.status_code == 422
    error = re.search(r'data-field-error="onset_at">([^<]+)<', response.text)
    assert error is not None and error.group(1) == zh("This time is in the future.")
    assert "发热" in response.text  # what was typed stays in the form


def test_itinerary_entries_are_added_and_removed_in_place(client: Client, session: Session,
                                                          dc_cases: list[Case]) -> None:
    case = dc_cases[0]
    place = a_place(session)
    client.login("tracer")
    hx = {"HX-Request": "true"}
    start = utcnow() - timedelta(days=3)
    added = client.post(f"/tracing/cases/{case.id}/itinerary", headers=hx, data={
        "place_text": "东昌区某农贸市场门口", "starts_at": local_input(start),
        "ends_at": local_input(start + timedelta(hours=1))})
    assert added.status_code == 200 and added.text.lstrip().startswith('<section id="itinerary"')
    assert "东昌区某农贸市场门口" in added.text
    venue = client.post(f"/tracing/cases/{case.id}/itinerary", headers=hx, data={
        "venue_code": place.venue_code, "starts_at": local_input(start + timedelta(hours=2))})
    assert venue.status_code == 200 and place.name in venue.text
    entries = session.execute(select(ItineraryEntry).where(
        ItineraryEntry.investigation_id == case.investigation.id).order_by(ItineraryEntry.id)).scalars().all()
    assert [(e.place_id, e.place_text) for e in entries] == [(None, "东昌区某农贸市场门口"), (place.id, "")]
    removed = client.post(f"/tracing/cases/{case.id}/itinerary/{entries[0].id}/remove", headers=hx)
    assert removed.status_code == 200 and "东昌区某农贸市场门口" not in removed.text and place.name in removed.text


def test_a_wrong_itinerary_entry_is_marked_beside_its_fields(client: Client, dc_cases: list[Case]) -> None:
    case = dc_cases[0]
    client.login("tracer")
    hx = {"HX-Request": "true"}
    unknown = client.post(f"/tracing/cases/{case.id}/itinerary", headers=hx,
                          data={"venue_code": "NO-SUCH-CODE", "starts_at": local_input(utcnow())})
    assert unknown.status_code == 422 and 'data-field-error="venue_code"' in unknown.text
    assert 'value="NO-SUCH-CODE"' in unknown.text
    nothing = client.post(f"/tracing/cases/{case.id}/itinerary", headers=hx, data={"place_text": "超市"})
    assert nothing.status_code == 422 and 'data-field-error="starts_at"' in nothing.text
    start = utcnow() - timedelta(hours=5)
    backwards = client.post(f"/tracing/cases/{case.id}/itinerary", headers=hx, data={
        "place_text": "超市", "starts_at": local_input(start), "ends_at": local_input(start - timedelta(hours=1))})
    assert backwards.status_code == 422 and 'data-field-error="ends_at"' in backwards.text


def test_named_persons_are_added_masked_and_a_bad_phone_is_marked(client: Client, session: Session,
                                                                  dc_cases: list[Case]) -> None:
    case = dc_cases[0]
    client.login("tracer")
    hx = {"HX-Request": "true"}
    added = client.post(f"/tracing/cases/{case.id}/named", headers=hx,
                        data={"name": "王小明", "phone": "13912345678", "relation": "同事"})
    assert added.status_code == 200 and "王**" in added.text and "王小明" not in added.text
    bad = client.post(f"/tracing/cases/{case.id}/named", headers=hx, data={"name": "李四", "phone": "12345"})
    assert bad.status_code == 422 and 'data-field-error="phone"' in bad.text
    assert len(case.investigation.named) == 1


def test_completing_core_information_in_time_stops_its_clock(client: Client, session: Session,
                                                             dc_cases: list[Case]) -> None:
    case = dc_cases[0]
    client.login("tracer")
    early = client.post(f"/tracing/cases/{case.id}/complete-report")
    assert early.status_code == 422 and 'data-testid="form-error"' in early.text
    done = client.post(f"/tracing/cases/{case.id}/complete-core", follow_redirects=False)
    assert done.status_code == 303
    page = client.get(f"/tracing/cases/{case.id}/investigation")
    assert states_of(page.text, "core") == ["done_in_time"] and 'data-testid="complete-core"' not in page.text
    service.add_itinerary(session, case.investigation, ItineraryIn(place_text="家", starts_at=utcnow()))
    assert client.post(f"/tracing/cases/{case.id}/complete-report", follow_redirects=False).status_code == 303
    assert states_of(client.get(f"/tracing/cases/{case.id}").text, "report") == ["done_in_time"]
    assert client.post(f"/tracing/cases/{case.id}/complete-core").status_code == 409


def test_a_late_core_information_is_done_late(client: Client, dc_cases: list[Case]) -> None:
    case = dc_cases[1]  # reported six hours ago: the four hours have passed
    client.login("tracer")
    client.post(f"/tracing/cases/{case.id}/complete-core")
    assert states_of(client.get(f"/tracing/cases/{case.id}").text, "core") == ["done_late"]


# ------------------------------------------------------------------------------------------ the contacts


@pytest.fixture
def contacts(session: Session, dc_cases: list[Case], edj_case: Case) -> dict[str, Contact]:
    """Contacts of the cases: two in 新站社区 (one overdue), one in 江南社区, one in 二道江区."""
    run = finished_run(session, [*dc_cases, edj_case])
    xinzhan = residents(session, XINZHAN, 2, skip=40)
    close = add_contact(session, run, dc_cases[0], xinzhan[0], place=a_place(session))
    return {
        "close": close,
        "secondary": add_contact(session, run, dc_cases[0], xinzhan[1], kind=ContactKind.SECONDARY,
                                 via=residents(session, JIANGNAN, 1)[0], due_in_hours=-1),
        "jiangnan": add_contact(session, run, dc_cases[1], residents(session, JIANGNAN, 1, skip=5)[0]),
        "edj": add_contact(session, run, edj_case, residents(session, DONGTONGHUA, 1, skip=40)[0]),
    }


def contact_ids(html: str) -> set[int]:
    return {int(i) for i in re.findall(r'data-contact="(\d+)"', html)}


def test_a_community_worker_sees_their_communitys_contacts_only(client: Client, contacts: dict[str, Contact]) -> None:
    page = client.login("dongchang_worker").get("/tracing/contacts")
    assert page.status_code == 200
    assert contact_ids(page.text) == {contacts["close"].id, contacts["secondary"].id}
    close = page.text[page.text.index(f'id="contact-{contacts["close"].id}"'):]
    close = close[:close.index("</li>")]
    assert contacts["close"].person.masked_name in close and contacts["close"].person.name not in close
    assert "新站社区" in close and zh("Close contact") in close
    assert f"#{contacts['close'].case_id}" in close and "/tracing/cases/" not in close  # no case pages for them
    overdue = page.text[page.text.index(f'id="contact-{contacts["secondary"].id}"'):]
    overdue = overdue[:overdue.index("</li>")]
    assert "contact overdue" in overdue and zh("household") in overdue and zh("Overdue") in overdue


def test_a_community_worker_marks_a_contact_under_control(client: Client, session: Session,
                                                          contacts: dict[str, Contact]) -> None:
    contact = contacts["close"]
    client.login("dongchang_worker")
    row = client.post(f"/tracing/contacts/{contact.id}/controlled", headers={"HX-Request": "true"})
    assert row.status_code == 200
    assert row.text.lstrip().startswith(f'<li id="contact-{contact.id}"')
    assert 'data-state="under_control"' in row.text and 'data-testid="mark-controlled"' not in row.text
    session.expire_all()
    assert session.get(Contact, contact.id).state is ContactState.UNDER_CONTROL  # type: ignore[union-attr]
    assert session.get(Person, contact.person_id).whereabouts is Whereabouts.ISOLATED  # type: ignore[union-attr]
    assert client.post(f"/tracing/contacts/{contacts['jiangnan'].id}/controlled").status_code == 404


def test_a_community_worker_cannot_open_the_cases(client: Client, dc_cases: list[Case]) -> None:
    client.login("dongchang_worker")
    assert client.get("/tracing").status_code == 403
    assert client.get(f"/tracing/cases/{dc_cases[0].id}").status_code == 403
    assert client.get("/tracing/chains").status_code == 403


def test_the_contact_list_filters_by_kind_state_and_case(client: Client, dc_cases: list[Case],
                                                         contacts: dict[str, Contact]) -> None:
    client.login("tracer")
    assert contact_ids(client.get("/tracing/contacts").text) == {c.id for c in contacts.values()}
    assert contact_ids(client.get("/tracing/contacts?kind=secondary").text) == {contacts["secondary"].id}
    assert contact_ids(client.get(f"/tracing/contacts?case_id={dc_cases[1].id}").text) == {contacts["jiangnan"].id}
    assert contact_ids(client.get("/tracing/contacts?state=under_control").text) == set()
    assert len(contact_ids(client.get("/tracing/contacts?kind=&state=&case_id=").text)) == 4  # the form, empty
    assert contact_ids(client.get(f"/tracing/contacts?case_id=%23{dc_cases[1].id}").text) == {contacts["jiangnan"].id}
    assert client.get("/tracing/contacts?kind=cousin").status_code == 422


def test_the_contact_list_fits_a_phone(client: Client, contacts: dict[str, Contact]) -> None:
    page = client.login("dongchang_worker").get("/tracing/contacts")
    assert "<table" not in page.text  # cards, not a wide table
    assert 'name="viewport" content="width=device-width' in page.text


# -------------------------------------------------------------------------------- timeliness and chains


def test_timeliness_counts_per_district(client: Client, session: Session, dc_cases: list[Case],
                                        edj_case: Case) -> None:
    service.complete_core(session, dc_cases[0].investigation)
    page = client.login("tracer").get("/tracing/timeliness")
    assert page.status_code == 200
    dc = page.text[page.text.index('data-code="220502"'):]
    dc = dc[:dc.index("</tr>")]
    assert 'data-figure="cases">2<' in dc and 'data-figure="core_in_time">1<' in dc
    assert 'data-figure="overdue_now">1<' in dc
    assert "二道江区" in page.text
    district = client.login("dongchang_tracer").get("/tracing/timeliness").text
    assert "新站街道" in district and "二道江区" not in district


def test_the_chains_list_and_the_chain_page(client: Client, session: Session, dc_cases: list[Case]) -> None:
    first, second = dc_cases
    service.update_case(session, second, service.CaseUpdate(source_case_id=first.id))
    third = report(session, residents(session, JIANGNAN, 1, skip=10)[0], source=second, onset_days_ago=1)
    client.login("tracer")
    listed = client.get("/tracing/chains").text
    row = listed[listed.index(f'data-root="{first.id}"'):]
    assert '<td class="num">3</td>' in row[:300]
    page = client.get(f"/tracing/chains/{third.id}")  # any case of the cluster opens its chain
    assert page.status_code == 200
    assert 'id="chain-chart"' in page.text and f'data-root="{first.id}"' in page.text
    assert "echarts-5.6.0.min.js" in page.text
    for case in (first, second, third):
        assert f'href="/tracing/cases/{case.id}"' in page.text
        assert f'"case_id": {case.id}' in page.text


def test_a_district_tracer_cannot_open_a_neighbours_chain(client: Client, edj_case: Case) -> None:
    assert client.login("dongchang_tracer").get(f"/tracing/chains/{edj_case.id}").status_code == 404


# ------------------------------------------------------------------------------------------ the overview


def test_the_overview_shows_the_tracing_loop(client: Client, session: Session, dc_cases: list[Case],
                                             contacts: dict[str, Contact]) -> None:
    service.mark_controlled(session, contacts["close"])
    page = client.login("tracer").get("/")
    loop = page.text[page.text.index('data-testid="tracing-loop"'):]
    figures = dict(re.findall(r'data-figure="(\w+)"[^>]*>(?:<a [^>]+>)?(\d+)<', loop))
    assert figures == {"cases": "3", "investigated": "0", "contacts": "4", "under_control": "1",
                       "overdue_investigations": "1", "overdue_contacts": "1"}
    worker = client.login("dongchang_worker").get("/")
    assert 'data-testid="tracing-loop"' in worker.text and 'href="/tracing"' not in worker.text


def test_the_overview_has_no_tracing_loop_for_those_without_tracing(client: Client, dc_cases: list[Case]) -> None:
    assert 'data-testid="tracing-loop"' not in client.login("viewer").get("/").text


def test_the_navigation_lists_the_tracing_pages(client: Client) -> None:
    page = client.login("tracer").get("/").text
    for href in ("/tracing", "/tracing/contacts", "/tracing/timeliness", "/tracing/chains"):
        assert f'href="{href}"' in page
    worker = client.login("dongchang_worker").get("/").text
    assert 'href="/tracing/contacts"' in worker and 'href="/tracing/chains"' not in worker


def test_counts_in_the_case_page_are_of_contacts_anywhere(client: Client, session: Session,
                                                          contacts: dict[str, Contact]) -> None:
    """A district tracer counts their case's contacts who live in another district too (counts, no one named)."""
    n = session.execute(select(func.count()).select_from(Contact)
                        .where(Contact.case_id == contacts["close"].case_id)).scalar_one()
    page = client.login("tracer").get(f"/tracing/cases/{contacts['close'].case_id}")
    assert f"({n})" in page.text
