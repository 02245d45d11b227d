"""The tracing API under /api/v1/tracing, and the chain graph of a large cluster."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from fangkong import rulesets
from fangkong.core.db import bulk_insert, utcnow
from fangkong.people.identity import check_digit
from fangkong.people.models import Person, Sex, Whereabouts
from fangkong.tracing.models import (
    Case,
    CaseKind,
    Contact,
    ContactKind,
    ContactState,
    FoundBy,
    Investigation,
    RunState,
    TracingRun,
)
from tests.conftest import Client

from .test_views import DONGTONGHUA, JIANGNAN, XINZHAN, add_contact, finished_run, report, residents


def case_body(person: Person, **extra: Any) -> dict[str, Any]:
    sampled = utcnow() - timedelta(hours=2)
    return {"person_id": person.id, "kind": "confirmed", "found_by": "fever_clinic",
            "sampled_at": sampled.isoformat(), **extra}


def test_a_case_is_reported_once_and_read_back(client: Client, session: Session) -> None:
    person = residents(session, XINZHAN, 1, skip=30)[0]
    client.login("tracer")
    made = client.post("/api/v1/tracing/cases", json=case_body(person))
    assert made.status_code == 201
    body = made.json()
    assert body["person_id"] == person.id and body["jurisdiction_code"] == XINZHAN
    assert body["investigation"]["core"]["state"] == "running" and body["investigation"]["itinerary"] == []
    again = client.post("/api/v1/tracing/cases", json=case_body(person))
    assert again.status_code == 409 and again.json()["error"] == "conflict"
    read = client.get(f"/api/v1/tracing/cases/{body['id']}")
    assert read.status_code == 200 and read.json() == body


def test_a_bad_report_names_each_field(client: Client, session: Session) -> None:
    person = residents(session, XINZHAN, 1, skip=30)[0]
    response = client.login("tracer").post("/api/v1/tracing/cases", json=case_body(
        person, kind="sick", sampled_at=(utcnow() + timedelta(days=1)).isoformat()))
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["kind"]
    future = client.post("/api/v1/tracing/cases", json=case_body(
        person, sampled_at=(utcnow() + timedelta(days=1)).isoformat()))
    assert future.status_code == 422 and [e["field"] for e in future.json()["errors"]] == ["sampled_at"]


def test_the_case_list_is_paged_and_scoped(client: Client, session: Session) -> None:
    for person in residents(session, XINZHAN, 3, skip=20):
        report(session, person)
    report(session, residents(session, DONGTONGHUA, 1, skip=20)[0])
    city = client.login("tracer").get("/api/v1/tracing/cases?size=2")
    assert city.status_code == 200 and city.json()["total"] == 4 and len(city.json()["items"]) == 2
    district = client.login("dongchang_tracer").get("/api/v1/tracing/cases").json()
    assert district["total"] == 3 and {c["jurisdiction_code"] for c in district["items"]} == {XINZHAN}


def test_an_investigation_through_the_api(client: Client, session: Session) -> None:
    case = report(session, residents(session, XINZHAN, 1, skip=20)[0])
    client.login("tracer")
    url = f"/api/v1/tracing/cases/{case.id}"
    patched = client.patch(url, json={"symptoms": "乏力", "kind": "asymptomatic"})
    assert patched.status_code == 200 and patched.json()["kind"] == "asymptomatic"
    assert patched.json()["investigation"]["symptoms"] == "乏力"
    entry = client.post(url + "/itinerary", json={"place_text": "菜市场",
                                                  "starts_at": (utcnow() - timedelta(days=1)).isoformat()})
    assert entry.status_code == 201 and entry.json()["place_text"] == "菜市场"
    named = client.post(url + "/named", json={"name": "王小明", "phone": "13912345678", "relation": "同事"})
    assert named.status_code == 201 and named.json()["masked_name"] == "王**"
    assert "13912345678" not in named.text
    assert client.post(url + "/complete-report").status_code == 422
    core = client.post(url + "/complete-core")
    assert core.status_code == 200 and core.json()["investigation"]["core"]["state"] == "done_in_time"
    assert client.post(url + "/complete-core").status_code == 409
    report_done = client.post(url + "/complete-report")
    assert report_done.status_code == 200 and report_done.json()["investigation"]["report"]["state"] == "done_in_time"
    assert len(report_done.json()["investigation"]["itinerary"]) == 1


def test_contacts_through_the_api(client: Client, session: Session) -> None:
    case = report(session, residents(session, XINZHAN, 1, skip=20)[0])
    run = finished_run(session, [case])
    mine = [add_contact(session, run, case, p) for p in residents(session, XINZHAN, 3, skip=40)]
    other = add_contact(session, run, case, residents(session, JIANGNAN, 1)[0])
    client.login("dongchang_worker")
    listed = client.get("/api/v1/tracing/contacts?size=2").json()
    assert listed["total"] == 3 and len(listed["items"]) == 2
    assert {c["jurisdiction_code"] for c in listed["items"]} == {XINZHAN}
    marked = client.post(f"/api/v1/tracing/contacts/{mine[0].id}/controlled")
    assert marked.status_code == 200 and marked.json()["state"] == ContactState.UNDER_CONTROL.value
    assert client.post(f"/api/v1/tracing/contacts/{mine[0].id}/controlled").status_code == 409
    assert client.post(f"/api/v1/tracing/contacts/{other.id}/controlled").status_code == 404
    assert client.get("/api/v1/tracing/cases").status_code == 403


def test_a_run_is_queued_and_read_back(client: Client, session: Session) -> None:
    case = report(session, residents(session, XINZHAN, 1, skip=20)[0])
    client.login("tracer")
    made = client.post("/api/v1/tracing/runs", json={"case_ids": [case.id]})
    assert made.status_code == 201
    body = made.json()
    assert body["state"] == "queued" and body["case_ids"] == [case.id] and body["job_id"] is not None
    assert client.get(f"/api/v1/tracing/runs/{body['id']}").json() == body
    key = {"Idempotency-Key": "run-once-2021"}
    first = client.post("/api/v1/tracing/runs", json={"case_ids": [case.id]}, headers=key)
    retried = client.post("/api/v1/tracing/runs", json={"case_ids": [case.id]}, headers=key)
    assert first.status_code == retried.status_code == 201 and first.json()["id"] == retried.json()["id"] != body["id"]
    unknown = client.post("/api/v1/tracing/runs", json={"case_ids": [case.id, 999_999]})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "case_ids"


# ------------------------------------------------------------------------------------- a large cluster


def make_persons(session: Session, n: int, community: str) -> list[int]:
    """``n`` new persons of ``community``, born in 2022 (after every demo person: no ID number is shared)."""
    rows, now = [], utcnow()
    for i in range(n):
        first17 = f"{community[:6]}2022{i // 28_000 + 1:02d}{i // 1000 % 28 + 1:02d}{i % 1000:03d}"
        number = first17 + check_digit(first17)
        rows.append({"id_number": number, "id_number_rev": number[::-1], "name": "测试人", "name_initials": "csr",
                     "name_pinyin": "ceshiren", "sex": Sex.FEMALE, "birth_date": date(2022, 1, 1),
                     "jurisdiction_code": community, "address": "", "whereabouts": Whereabouts.AT_HOME,
                     "created_at": now, "updated_at": now})
    return bulk_insert(session, Person, rows, with_ids=True)


def make_cluster(session: Session, cases: int = 300, contacts: int = 3000) -> list[int]:
    """A cluster of ``cases`` cases from one root, a third of them with the ``contacts`` between them."""
    rng = random.Random(2021)
    people = make_persons(session, cases + contacts, XINZHAN)
    now = utcnow()
    case_rows = [{"person_id": people[i], "jurisdiction_code": XINZHAN, "kind": CaseKind.CONFIRMED,
                  "onset_at": now - timedelta(days=16 - i * 15 // cases), "sampled_at": now - timedelta(days=1),
                  "reported_at": now - timedelta(hours=20), "found_by": FoundBy.CONTACT_SCREENING,
                  "origin": "test", "created_at": now} for i in range(cases)]
    ids = bulk_insert(session, Case, case_rows, with_ids=True)
    # Each case's source is an earlier case: a tree with a few super-spreaders near the root.
    for i, case_id in enumerate(ids[1:], start=1):
        source = ids[rng.randrange(0, min(i, 10))] if rng.random() < 0.5 else ids[rng.randrange(0, i)]
        session.execute(Case.__table__.update().where(Case.__table__.c.id == case_id).values(source_case_id=source))
    bulk_insert(session, Investigation, [{"case_id": c, "jurisdiction_code": XINZHAN, "core_due_at": now,
                                          "report_due_at": now, "symptoms": "", "notes": "", "updated_at": now}
                                         for c in ids])
    run = TracingRun(jurisdiction_code="2205", ruleset=rulesets.current().name, case_ids=ids, state=RunState.DONE)
    session.add(run)
    session.flush()
    spreaders = ids[: cases // 3]
    kinds = [ContactKind.CLOSE] * 5 + [ContactKind.SECONDARY] * 4 + [ContactKind.EXPOSED]
    first = now - timedelta(days=5)
    bulk_insert(session, Contact, [
        {"person_id": p, "jurisdiction_code": XINZHAN, "kind": rng.choice(kinds), "case_id": rng.choice(spreaders),
         "first_exposure": first, "last_exposure": first + timedelta(minutes=30), "run_id": run.id,
         "found_at": now, "due_at": now + timedelta(hours=12), "state": ContactState.TO_CONTROL}
        for p in people[cases:]])
    session.expire_all()
    return ids


def test_the_graph_of_a_large_cluster_stays_small_until_a_case_is_expanded(client: Client,
                                                                           session: Session) -> None:
    ids = make_cluster(session)
    client.login("tracer")
    graph = client.get(f"/api/v1/tracing/chains/{ids[150]}/graph")
    assert graph.status_code == 200
    body = graph.json()
    assert body["root_id"] == ids[0] and body["size"] == 300 and body["contacts"] == 3000
    nodes, links = body["nodes"], body["links"]
    folded = [n for n in nodes if "folded_case_id" in n]
    # 300 cases and, for the 100 cases with contacts, at most one counted node per kind.
    assert len([n for n in nodes if "case_id" in n]) == 300
    assert len(folded) <= 300 and len(nodes) <= 600
    assert sum(n["count"] for n in folded) == 3000
    assert len(links) == len(nodes) - 1  # a tree: every node but the root hangs from one other
    assert sum(body["timeline"]["cases"]) == 300

    busiest = max({n["folded_case_id"] for n in folded},
                  key=lambda c: sum(n["count"] for n in folded if n["folded_case_id"] == c))
    shown = sum(n["count"] for n in folded if n["folded_case_id"] == busiest)
    grown = client.get(f"/api/v1/tracing/chains/{ids[0]}/graph?expand={busiest}").json()
    contacts = [n for n in grown["nodes"] if "contact_id" in n]
    assert len(contacts) == min(shown, 200) and len(grown["nodes"]) > len(nodes)
    assert not [n for n in grown["nodes"] if n.get("folded_case_id") == busiest and shown <= 200]


def test_the_chain_page_of_a_large_cluster_embeds_the_folded_graph(client: Client, session: Session) -> None:
    ids = make_cluster(session)
    page = client.login("tracer").get(f"/tracing/chains/{ids[0]}")
    assert page.status_code == 200
    assert page.text.count('"folded_case_id"') <= 300 and page.text.count('href="/tracing/cases/') == 300
    assert len(page.content) < 600_000


def test_a_district_tracer_cannot_read_a_neighbours_chain(client: Client, session: Session) -> None:
    case = report(session, residents(session, DONGTONGHUA, 1, skip=20)[0])
    assert client.login("dongchang_tracer").get(f"/api/v1/tracing/chains/{case.id}/graph").status_code == 404
