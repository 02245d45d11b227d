"""The direct channel (厅局长直通车): routing, tracking, every abuse limit, and the sender's privacy.

Personas: a resident with no account; the 东昌区 commander (handles what reaches 东昌区's offices); the
worker of 新站社区 (sees its messages, may not reveal a sender); the worker of 二道江区's 东通化社区 (a
neighbour: sees nothing of 东昌区); the city commander.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fangkong.command import channel, organisation, problems
from fangkong.command.channel_models import ChannelHit, DirectContact, DirectMessage, TrackStatus
from fangkong.command.models import OrgUnit, OrgUnitKind, Problem, ProblemSource, TaskForce
from fangkong.command.schemas import MeasureIn, RectificationIn
from fangkong.core.audit import Action, AuditEntry
from fangkong.core.errors import Invalid, TooManyRequests
from fangkong.core.i18n import set_locale, translate
from fangkong.core.scope import Principal, system_access
from tests.command.conftest import CITY, DC, DONGTONGHUA, XINZHAN, hours
from tests.conftest import CITY_COMMANDER, DC_COMMANDER, WORKER_DC, WORKER_EDJ, Client

SECRET = "test-secret-key"  # the suite's settings' secret key
TEXT = "小区门口的核酸采样点排队两个小时还没有开始采样，老人站不住"


def token(seconds_ago: float = 30, at: float = 0) -> str:
    """A form token shown ``seconds_ago`` seconds before ``at`` hours after ``T0``."""
    return channel.issue_token(SECRET, now=hours(at).timestamp() - seconds_ago)


def sending(text: str = TEXT, *, category: str = "testing", code: str = XINZHAN, name: str = "王秀英",
            phone: str = "13904351234", address: str = "10.0.0.1", honeypot: str = "",
            form_token: str | None = None) -> channel.Submission:
    return channel.Submission(category=category, jurisdiction_code=code, text=text,
                              token=form_token if form_token is not None else token(), address=address, name=name,
                              phone=phone, honeypot=honeypot)


@pytest.fixture
def public(session: Session) -> Session:
    """The session as the public form acts: the channel itself."""
    Principal(user_id=None, username="direct_channel", is_system=True, address="10.0.0.1").bind(session)
    return session


def submit(session: Session, data: channel.Submission, at: float = 0) -> DirectMessage:
    return channel.submit(session, data, secret=SECRET, now=hours(at))


def office(session: Session, code: str, key: str) -> OrgUnit:
    with system_access(session):
        force = session.execute(select(TaskForce).where(TaskForce.jurisdiction_code == code,
                                                        TaskForce.key == key)).scalar_one()
        assert force.office is not None
        return force.office


# ------------------------------------------------------------------------------------------------ routing


def test_a_message_becomes_a_problem_for_the_nearest_office_of_its_category(public: Session) -> None:
    message = submit(public, sending())

    problem = public.get(Problem, message.problem_id)
    assert problem is not None
    assert (problem.source, problem.jurisdiction_code, problem.description) == (
        ProblemSource.DIRECT_CHANNEL, XINZHAN, TEXT)
    # 东昌区 runs its own testing task force: its office answers, not the city's.
    assert problem.unit_id == message.unit_id == office(public, DC, "testing").id
    assert message.handling_code == DC
    assert re.fullmatch(f"[{channel.ALPHABET}]{{10}}", message.tracking_code)


def test_a_category_with_no_task_force_below_goes_to_the_city(public: Session) -> None:
    message = submit(public, sending(category="supply"))

    assert message.unit_id == office(public, CITY, "supply").id
    assert message.handling_code == CITY


def test_with_no_task_force_of_the_category_the_nearest_headquarters_takes_it(public: Session) -> None:
    with system_access(public):
        for force in public.execute(select(TaskForce).where(TaskForce.key == "community_control")).scalars():
            force.is_active = False
        public.flush()
        hq = public.execute(select(OrgUnit).where(OrgUnit.jurisdiction_code == DC,
                                                  OrgUnit.kind == OrgUnitKind.HEADQUARTERS)).scalar_one()

    message = submit(public, sending(category="community"))

    assert message.unit_id == hq.id
    assert message.handling_code == DC


def test_every_shipped_category_label_is_in_the_catalog_list() -> None:
    assert {c.label for c in channel.rules().categories} == set(channel.MESSAGES)
    assert all(c.task_force in organisation.STANDARD_TASK_FORCES for c in channel.rules().categories)


def test_bad_fields_are_named(public: Session) -> None:
    with pytest.raises(Invalid) as caught:
        submit(public, sending("太短", category="weather", code="99", phone="12345"))

    assert {e.field for e in caught.value.errors} == {"category", "jurisdiction", "text", "phone"}
    assert public.execute(select(func.count()).select_from(DirectMessage)).scalar_one() == 0


# ------------------------------------------------------------------------------------------------ tracking


def test_the_sender_follows_the_problem_loop_with_the_tracking_code(public: Session, as_user) -> None:  # type: ignore[no-untyped-def]
    message = submit(public, sending())
    code = channel.format_code(message.tracking_code).lower()  # as typed on a phone

    def status() -> TrackStatus:
        Principal(user_id=None, username="direct_channel", is_system=True).bind(public)
        found = channel.track(public, code, address="10.0.0.9", secret=SECRET, now=hours(1))
        assert found is not None
        return found.status

    assert status() is TrackStatus.RECEIVED
    as_user(DC_COMMANDER)
    channel.reply(public, channel.get_message(public, message.id), "已转东昌区核酸检测专班，正在增设采样台。",
                  now=hours(1))
    assert status() is TrackStatus.IN_HAND
    as_user(DC_COMMANDER)
    problem = problems.get_problem(public, message.problem_id)
    measure = problems.add_measure(public, problem, MeasureIn(title="增设采样台", owner_unit_id=message.unit_id,
                                                              due_at=hours(24)), now=hours(1))
    assert status() is TrackStatus.IN_HAND
    as_user(DC_COMMANDER)
    rect = problems.submit_rectification(public, problems.get_measure(public, measure.id),
                                         RectificationIn(evidence="增设两个采样台"), now=hours(2))
    assert status() is TrackStatus.MEASURES_TAKEN
    as_user(CITY_COMMANDER)
    problems.verify(public, problems.get_rectification(public, rect.id), passed=True, now=hours(3))
    Principal(user_id=None, username="direct_channel", is_system=True).bind(public)
    found = channel.track(public, message.tracking_code, address="10.0.0.9", secret=SECRET, now=hours(4))

    assert found is not None and found.status is TrackStatus.CLOSED
    assert [r.text for r in found.replies] == ["已转东昌区核酸检测专班，正在增设采样台。"]
    shown = repr(found)
    assert "王秀英" not in shown and "13904351234" not in shown and "增设两个采样台" not in shown


def test_an_unknown_or_malformed_code_finds_nothing(public: Session) -> None:
    submit(public, sending())

    assert channel.track(public, "ABCDE-FGHJK", address="x", secret=SECRET, now=hours(1)) is None
    assert channel.track(public, "no such code", address="x", secret=SECRET, now=hours(1)) is None


def test_tracking_look_ups_are_rate_limited_per_address(public: Session) -> None:
    limit = channel.rules().limits.track_per_address_hour
    for _ in range(limit):
        channel.track(public, "ABCDE-FGHJK", address="10.0.0.7", secret=SECRET, now=hours(1))

    with pytest.raises(TooManyRequests):
        channel.track(public, "ABCDE-FGHJK", address="10.0.0.7", secret=SECRET, now=hours(1.5))
    assert channel.track(public, "ABCDE-FGHJK", address="10.0.0.8", secret=SECRET, now=hours(1.5)) is None
    assert channel.track(public, "ABCDE-FGHJK", address="10.0.0.7", secret=SECRET, now=hours(2.1)) is None


# ------------------------------------------------------------------------------------------ abuse limits


def test_too_many_messages_from_one_address_are_refused(public: Session) -> None:
    limit = channel.rules().limits.per_address_hour
    for i in range(limit):
        submit(public, sending(f"{TEXT}（第{i}次）", phone=f"1390435{i:04d}"))

    with pytest.raises(TooManyRequests):
        submit(public, sending(f"{TEXT}（又一次）", phone="13700000000"), at=0.5)
    # Another address is not held back; the same one is again after the hour.
    submit(public, sending(f"{TEXT}（又一次）", phone="13700000000", address="10.0.0.2"), at=0.5)
    submit(public, sending(f"{TEXT}（下一小时）", phone="13700000001", form_token=token(at=1.1)), at=1.1)


def test_too_many_messages_for_one_phone_are_refused(public: Session) -> None:
    limit = channel.rules().limits.per_phone_hour
    for i in range(limit):
        submit(public, sending(f"{TEXT}（第{i}次）", address=f"10.0.1.{i}"))

    with pytest.raises(TooManyRequests) as caught:
        submit(public, sending(f"{TEXT}（又一次）", address="10.0.2.1"), at=0.5)
    assert "phone" in caught.value.message


def test_old_hits_are_pruned(public: Session) -> None:
    submit(public, sending())
    submit(public, sending(f"{TEXT}！", form_token=token(at=25)), at=25)

    with system_access(public):
        hits = public.execute(select(ChannelHit)).scalars().all()
    assert hits and all(hit.at >= hours(24) for hit in hits)
    # The limits count keyed digests: neither the address nor the phone is kept.
    assert not any("10.0.0.1" in hit.digest or "13904351234" in hit.digest for hit in hits)
    assert {hit.kind for hit in hits} == {"submit_address", "submit_phone"}


def test_the_same_text_again_is_a_retry_with_the_same_code(public: Session) -> None:
    first = submit(public, sending())
    again = submit(public, sending("  " + TEXT + "\n", address="10.9.9.9"), at=0.2)
    same_address = submit(public, sending(TEXT, phone=""), at=0.3)

    assert again.id == first.id == same_address.id
    assert public.execute(select(func.count()).select_from(Problem).where(
        Problem.source == ProblemSource.DIRECT_CHANNEL)).scalar_one() == 1
    # After the window it is a new message.
    later = submit(public, sending(form_token=token(at=2)), at=2)
    assert later.id != first.id


@pytest.mark.parametrize(("case", "change"), [
    ("honeypot", {"honeypot": "http://spam.example"}),
    ("too fast", {"form_token": token(seconds_ago=1)}),
    ("expired", {"form_token": token(seconds_ago=3 * 3600)}),
    ("forged", {"form_token": token()[:-4] + "0000"}),
    ("oversize", {"text": "长" * 1001}),
])
def test_robots_expired_forms_and_oversize_texts_are_refused(public: Session, case: str,
                                                             change: dict[str, str]) -> None:
    with pytest.raises(channel.Refused) as caught:
        submit(public, sending(**change))

    assert caught.value.status == 400
    assert public.execute(select(func.count()).select_from(DirectMessage)).scalar_one() == 0


# -------------------------------------------------------------------------------------------- privacy


def test_the_contact_is_kept_apart_and_masked_on_the_message(public: Session) -> None:
    message = submit(public, sending())

    with system_access(public):
        contact = public.execute(select(DirectContact)).scalar_one()
    assert (contact.message_id, contact.name, contact.phone, contact.jurisdiction_code) == (
        message.id, "王秀英", "13904351234", DC)
    assert (message.masked_name, message.masked_phone) == ("王**", "139****1234")
    problem = public.get(Problem, message.problem_id)
    assert problem is not None and "王秀英" not in problem.description + problem.title


def test_only_the_handling_level_reveals_the_sender_and_each_reveal_is_audited(public: Session, as_user) -> None:  # type: ignore[no-untyped-def]
    message_id = submit(public, sending()).id

    as_user(WORKER_DC)  # 新站社区: sees the message, but the contact belongs to 东昌区's office
    message = channel.get_message(public, message_id)
    assert not channel.can_reveal(public, message)
    assert public.execute(select(DirectContact)).scalars().all() == []
    with pytest.raises(Exception) as refused:
        channel.reveal_contact(public, message)
    assert getattr(refused.value, "status", None) == 403

    as_user(DC_COMMANDER)
    message = channel.get_message(public, message_id)
    assert channel.can_reveal(public, message)
    contact = channel.reveal_contact(public, message)
    assert contact.phone == "13904351234"
    public.flush()
    with system_access(public):
        entries = public.execute(select(AuditEntry).where(AuditEntry.action == Action.VIEW_UNMASKED,
                                                          AuditEntry.entity == "direct_contacts")).scalars().all()
    assert [(e.actor_name, e.entity_id, e.detail["message_id"]) for e in entries] == [
        (DC_COMMANDER, str(contact.id), message_id)]


def test_a_neighbour_district_sees_nothing(public: Session, as_user) -> None:  # type: ignore[no-untyped-def]
    message_id = submit(public, sending()).id

    as_user(WORKER_EDJ)
    assert public.execute(channel.messages()).scalars().all() == []
    with pytest.raises(Exception) as hidden:
        channel.get_message(public, message_id)
    assert getattr(hidden.value, "status", None) == 404
    assert public.execute(select(DirectContact)).scalars().all() == []


# ----------------------------------------------------------------------------------------------- pages


def wait_token(client: Client) -> str:
    """The token of the public form, as shown a while ago (a person takes a few seconds to write)."""
    page = client.get("/direct")
    assert page.status_code == 200
    shown = re.search(r'name="token" value="([^"]+)"', page.text)
    assert shown is not None
    issued, _, _ = shown.group(1).partition(".")
    return channel.issue_token(SECRET, now=int(issued) - 10)


def form(client: Client, **change: str) -> dict[str, str]:
    data = {"category": "testing", "district": DC, "street": "220502001", "community": XINZHAN, "text": TEXT,
            "name": "王秀英", "phone": "139 0435 1234", "website": "", "token": wait_token(client)}
    data.update(change)
    return data


def test_a_resident_sends_a_message_without_an_account_and_tracks_it(client: Client) -> None:
    page = client.get("/direct")
    assert page.status_code == 200 and 'lang="zh-CN"' in page.text and "csrf_token" not in page.text

    sent = client.post("/direct", data=form(client))  # no CSRF cookie or token: the form's own token
    assert sent.status_code == 200, sent.text
    code = re.search(r'data-testid="tracking-code">([^<]+)<', sent.text)
    assert code is not None
    again = client.post("/direct", data=form(client))
    assert code.group(1) in again.text

    tracked = client.post("/direct/track", data={"code": code.group(1)})
    assert tracked.status_code == 200
    assert 'data-status="received"' in tracked.text
    assert "王秀英" not in tracked.text and "1234" not in tracked.text.replace(code.group(1), "")
    missing = client.post("/direct/track", data={"code": "AAAAA-AAAAA"})
    assert missing.status_code == 404 and 'data-testid="not-found"' in missing.text


@pytest.mark.parametrize(("change", "status", "field", "message"), [
    ({"website": "http://spam.example"}, 400, None, "This message could not be accepted."),
    ({"token": "1.2.3"}, 400, None, "This form is not valid. Please reload the page and write again."),
    ({"text": "长" * 1001}, 400, "text", ("The message is too long: at most {limit} characters.", {"limit": 1000})),
    ({"category": "", "district": "", "street": "", "community": ""}, 422, "category",
     "Please correct the marked fields."),
])
@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_refusals_answer_in_the_users_language(client_factory: Callable[[], Client], change: dict[str, str],
                                               status: int, field: str | None,
                                               message: str | tuple[str, dict[str, int]], locale: str) -> None:
    client = client_factory()
    response = client.post(f"/direct?lang={locale}", data=form(client, **change))

    assert response.status_code == status
    set_locale(locale)
    try:
        expected = translate(message) if isinstance(message, str) else translate(*message)
    finally:
        set_locale("zh_CN")
    shown = response.text.split('data-testid="form-error"')[1][:300]
    assert expected in shown
    assert ('lang="zh-CN"' in response.text) == (locale == "zh_CN")
    if field:
        assert f'data-field-error="{field}"' in response.text


def test_a_form_sent_at_once_is_refused_as_too_fast(client: Client) -> None:
    page = client.get("/direct")
    token_now = re.search(r'name="token" value="([^"]+)"', page.text)
    assert token_now is not None

    response = client.post("/direct", data={**form(client), "token": token_now.group(1)})

    assert response.status_code == 400


def test_the_sixth_message_of_an_hour_from_one_address_answers_429(client: Client) -> None:
    limit = channel.rules().limits.per_address_hour
    for i in range(limit):
        assert client.post("/direct", data=form(client, text=f"{TEXT}{i}", phone="")).status_code == 200

    response = client.post("/direct", data=form(client, text=f"{TEXT}!", phone=""))

    assert response.status_code == 429
    assert "连接" in response.text or "connection" in response.text


def test_the_areas_picker_lists_public_names_below_a_district(client: Client) -> None:
    streets = client.get("/direct/areas", params={"level": "street", "district": DC})
    communities = client.get("/direct/areas", params={"level": "community", "street": "220502001"})

    assert "新站街道" in streets.text and 'value="220502001"' in streets.text
    assert "新站社区" in communities.text and "东通化" not in communities.text


def test_staff_list_reveal_and_reply(client_factory: Callable[[], Client], session: Session) -> None:
    resident = client_factory()
    sent = resident.post("/direct", data=form(resident))
    code = re.search(r'data-testid="tracking-code">([^<]+)<', sent.text)
    assert code is not None
    session.expire_all()
    with system_access(session):
        message = session.execute(select(DirectMessage)).scalar_one()

    commander = client_factory().login(DC_COMMANDER)
    listing = commander.get("/command/channel")
    assert f'data-message="{message.id}"' in listing.text
    page = commander.get(f"/command/channel/{message.id}")
    assert "王**" in page.text and "139****1234" in page.text and "13904351234" not in page.text
    revealed = commander.post(f"/command/channel/{message.id}/reveal")
    assert revealed.status_code == 200 and "13904351234" in revealed.text
    replied = commander.post(f"/command/channel/{message.id}/replies", data={"reply": "已安排增设采样台。"},
                             follow_redirects=False)
    assert replied.status_code == 303
    empty = commander.post(f"/command/channel/{message.id}/replies", data={"reply": " "})
    assert empty.status_code == 422 and 'data-field-error="reply"' in empty.text

    neighbour = client_factory().login(WORKER_EDJ)
    assert f'data-message="{message.id}"' not in neighbour.get("/command/channel").text
    assert neighbour.get(f"/command/channel/{message.id}").status_code == 404
    assert neighbour.post(f"/command/channel/{message.id}/reveal").status_code == 404

    tracked = resident.post("/direct/track", data={"code": code.group(1)})
    assert "已安排增设采样台。" in tracked.text and 'data-status="in_hand"' in tracked.text
    assert "dongchang" not in tracked.text and "东昌区指挥长" not in tracked.text


def test_messages_of_a_district_stay_apart_from_a_neighbours(public: Session) -> None:
    dc = submit(public, sending())
    edj = submit(public, sending(code=DONGTONGHUA, address="10.3.3.3", phone="13600000000"))

    assert (dc.jurisdiction_code, edj.jurisdiction_code) == (XINZHAN, DONGTONGHUA)
    assert edj.handling_code == CITY  # 二道江区 has no testing task force of its own
