"""The testing pages and API, through the application."""

from __future__ import annotations

import io
import re
import uuid
from datetime import timedelta

from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from fangkong.core import jobs
from fangkong.core.audit import Action, AuditEntry
from fangkong.core.db import utcnow
from fangkong.core.deps import LANG_COOKIE
from fangkong.core.scope import system_access
from fangkong.testing import resultfile
from fangkong.testing.models import Outcome, Round, SamplingSite
from tests.conftest import Client

from .conftest import XINZHAN, residents, sample, tube_code
from .test_results import local


def test_the_round_page_shows_the_funnel_and_each_district(
        client: Client, session: Session, round_: Round, site: SamplingSite) -> None:
    sample(session, round_, site, tube_code(), residents(session, XINZHAN, 3))
    page = client.login("testing").get(f"/testing/rounds/{round_.id}")
    assert page.status_code == 200
    assert 'data-figure="sampled">3' in page.text
    assert "东昌区" in page.text and "二道江区" in page.text


def test_a_district_user_starts_at_their_district(
        client: Client, session: Session, round_: Round, site: SamplingSite) -> None:
    page = client.login("dongchang_testing").get(f"/testing/rounds/{round_.id}")
    assert "新站街道" in page.text and "二道江区" not in page.text


def test_the_round_page_links_only_the_areas_the_user_may_open(
        client: Client, session: Session, round_: Round) -> None:
    city = client.login("testing").get(f"/testing/rounds/{round_.id}?under={XINZHAN[:9]}")
    assert 'href="?under=2205"' in city.text and 'href="?under=220502"' in city.text
    district = client.login("dongchang_testing").get(f"/testing/rounds/{round_.id}?under={XINZHAN[:9]}")
    assert 'href="?under=2205"' not in district.text and 'href="?under=220502"' in district.text
    assert client.get(f"/testing/rounds/{round_.id}?under=2205").status_code == 404
    worker = client.login("dongchang_worker").get(f"/testing/rounds/{round_.id}")
    assert worker.status_code == 200 and "?under=" not in worker.text


def test_the_worker_sees_and_marks_the_doors_of_their_community(
        client: Client, session: Session, round_: Round, site: SamplingSite) -> None:
    people = residents(session, XINZHAN)
    sample(session, round_, site, tube_code(), people[:2])
    client.login("dongchang_worker")
    page = client.get(f"/testing/rounds/{round_.id}/untested")
    assert page.status_code == 200
    assert f'data-testid="missing-count">{len(people) - 2}<' in page.text
    assert f'data-person="{people[0].id}"' not in page.text and f'data-person="{people[2].id}"' in page.text
    row = client.post(f"/testing/rounds/{round_.id}/untested/{people[2].id}",
                      data={"mark": "cannot_be_sampled", "reason": "bedridden"}, headers={"HX-Request": "true"})
    assert row.status_code == 200 and 'data-mark="cannot_be_sampled"' in row.text
    door = people[2].household.door if people[2].household else ""
    assert door and f'<span class="muted">{door}</span>' in row.text  # the marked row keeps its door
    refused = client.post(f"/testing/rounds/{round_.id}/untested/{people[3].id}", data={"mark": "cannot_be_sampled"})
    assert refused.status_code == 422


def test_a_door_marked_without_a_reason_comes_back_saying_why(
        client: Client, session: Session, round_: Round) -> None:
    person = residents(session, XINZHAN, 1)[0]
    client.login("dongchang_worker")
    client.post(f"/testing/rounds/{round_.id}/untested/{person.id}", data={"mark": "visited"},
                headers={"HX-Request": "true"})
    refused = client.post(f"/testing/rounds/{round_.id}/untested/{person.id}", data={"mark": "cannot_be_sampled"},
                          headers={"HX-Request": "true"})
    assert refused.status_code == 422
    assert refused.text.lstrip().startswith(f'<li id="untested-{person.id}"')  # the row, to swap in place
    assert "请选择无法采样的原因。" in refused.text and 'data-mark="visited"' in refused.text
    page = client.get(f"/testing/rounds/{round_.id}/untested")
    assert '"code":"422","swap":true' in page.text  # the page lets htmx swap a refused row in


def test_the_door_list_names_each_building_and_unit_in_the_reader_s_language(
        client: Client, session: Session, round_: Round) -> None:
    client.login("dongchang_worker")
    chinese = client.get(f"/testing/rounds/{round_.id}/untested").text
    assert re.search(r'<li class="building"><strong>\S+ \w+栋 \w+单元</strong>', chinese)
    client.cookies.set(LANG_COOKIE, "en")
    english = client.get(f"/testing/rounds/{round_.id}/untested").text
    assert re.search(r'<li class="building"><strong>\S+, building \w+, unit \w+</strong>', english)
    assert "bldg" not in english


def test_the_door_to_door_list_downloads_masked_and_is_audited(
        client: Client, session: Session, round_: Round) -> None:
    people = residents(session, XINZHAN)
    client.login("dongchang_worker")
    response = client.get(f"/testing/rounds/{round_.id}/untested.xlsx?community={XINZHAN}")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    names = {r[4] for r in rows[3:-1]}
    assert len(names) <= len(people) and len(rows) - 4 == len(people)
    assert all(p.name not in names for p in people if len(p.name) > 1)  # masked, never the full name
    assert "dongchang_worker" in str(rows[1][0]) and "dongchang_worker" in str(rows[-1][0])
    entry = session.execute(select(AuditEntry).where(AuditEntry.action == Action.EXPORT)).scalars().all()[-1]
    assert entry.detail["rows"] == len(people) and entry.jurisdiction_code == XINZHAN


def test_a_worker_cannot_export_another_community(client: Client, session: Session, round_: Round) -> None:
    response = client.login("dongchang_worker").get(f"/testing/rounds/{round_.id}/untested.xlsx?community=220503001001")
    assert response.status_code == 404


def test_the_sampling_api_stores_a_batch_once(client: Client, session: Session, round_: Round,
                                              site: SamplingSite) -> None:
    people = residents(session, XINZHAN, 3)
    body = {"round_id": round_.id, "site_id": site.id, "entries": [
        {"client_id": uuid.uuid4().hex, "tube_code": "A0001", "person_id": p.id,
         "sampled_at": (utcnow() - timedelta(minutes=5)).isoformat()} for p in people]}
    client.login("dongchang_testing")
    first = client.post("/api/v1/testing/samples/batch", json=body)
    again = client.post("/api/v1/testing/samples/batch", json=body)
    assert first.status_code == 200 and first.json()["stored"] == 3
    assert again.json()["already_stored"] == 3 and again.json()["stored"] == 0


def test_a_batch_of_more_than_a_thousand_is_refused(client: Client, round_: Round) -> None:
    body = {"round_id": round_.id, "entries": [
        {"client_id": f"c{i:08d}", "tube_code": "X", "person_id": 1, "sampled_at": utcnow().isoformat()}
        for i in range(1001)]}
    assert client.login("dongchang_testing").post("/api/v1/testing/samples/batch", json=body).status_code == 422


def test_the_api_applies_a_file_or_lists_every_bad_row(
        client: Client, session: Session, round_: Round, site: SamplingSite) -> None:
    sample(session, round_, site, code := tube_code(), residents(session, XINZHAN, 2))
    at = local(utcnow())
    client.login("lab")
    bad = f"管号,检测结果,检测时间,检测机构\n{code},阳,{at},LAB220502\nNOPE,阴性,{at},LAB220502\n".encode()
    refused = client.post("/api/v1/testing/results", files={"file": ("r.csv", bad, "text/csv")})
    assert refused.status_code == 422
    errors = refused.json()["errors"]
    assert [(e["row"], e["field"]) for e in errors] == [(2, "result"), (3, "tube_code")]
    assert errors[1]["message"] == "未知管号 NOPE。"
    good = f"管号,检测结果,检测时间,检测机构\n{code},阳性,{at},LAB220502\n".encode("gb18030")
    applied = client.post("/api/v1/testing/results", files={"file": ("r.csv", good, "text/csv")})
    assert applied.status_code == 200 and applied.json()["positives"] == 1


def test_the_templates_download_and_read_back(client: Client) -> None:
    client.login("lab")
    xlsx = client.get("/testing/template.xlsx")
    csv = client.get("/testing/template.csv")
    assert xlsx.status_code == csv.status_code == 200
    assert csv.content.startswith(b"\xef\xbb\xbf") and "管号".encode() in csv.content
    book = load_workbook(io.BytesIO(xlsx.content))
    assert [c.value for c in book.worksheets[0][1]][:4] == ["管号", "检测结果", "检测时间", "检测机构"]
    filled = csv.content + f"T1,阴性,{local(utcnow())},LAB220502,\r\n".encode()
    assert resultfile.read_results(filled, "t.csv", now=utcnow()).rows.column("tube_code").to_pylist() == ["T1"]


def test_the_upload_page_queues_a_job_and_shows_its_progress(client: Client, session: Session) -> None:
    client.login("lab")
    assert client.get("/testing/results").status_code == 200
    response = client.post("/testing/results", files={"file": ("r.csv", "管号,检测结果,检测时间,检测机构\n".encode(),
                                                               "text/csv")})
    assert response.status_code == 200 and 'data-state="queued"' in response.text


def test_an_empty_file_is_refused_with_a_message_the_page_shows(client: Client) -> None:
    client.login("lab")
    assert '"code":"422","swap":true' in client.get("/testing/results").text
    refused = client.post("/testing/results", files={"file": ("r.csv", b"", "text/csv")},
                          headers={"HX-Request": "true"})
    assert refused.status_code == 422
    assert refused.text.startswith('<div class="error-box" role="alert" data-testid="upload-refused">')
    assert "文件为空。" in refused.text


def test_the_planner_recommends_a_pool_size(client: Client) -> None:
    page = client.login("testing").get("/testing/planner?prevalence=0.001&population=1800000&capacity=40000")
    assert page.status_code == 200
    assert "推荐：10混1" in page.text
    api = client.get("/api/v1/testing/planner?prevalence=0.05&population=1000&capacity_per_hour=100")
    assert api.json()["recommended"]["pool_size"] == 5
    assert client.get("/testing/planner?prevalence=2").status_code == 422


def test_the_overview_shows_the_testing_funnel(client: Client, session: Session, round_: Round,
                                               site: SamplingSite) -> None:
    sample(session, round_, site, tube_code(), residents(session, XINZHAN, 4))
    page = client.login("viewer").get("/")
    assert 'data-testid="testing-funnel"' in page.text and round_.name in page.text


def test_the_overview_links_the_round_only_for_those_who_may_open_it(
        client: Client, session: Session, round_: Round) -> None:
    link = f'href="/testing/rounds/{round_.id}"'
    assert link in client.login("testing").get("/").text
    assert link not in client.login("viewer").get("/").text  # counts only: the round page would refuse them
    assert client.get(f"/testing/rounds/{round_.id}").status_code == 403


def _finished_upload(client: Client, session: Session, user: str, positives: int) -> str:
    """The progress fragment of an upload by ``user`` once its job has applied a file with ``positives``."""
    client.login(user)
    queued = client.post("/testing/results", files={"file": ("r.csv", "管号,检测结果,检测时间,检测机构\n".encode(),
                                                             "text/csv")})
    found = re.search(r'id="import-job-(\d+)"', queued.text)
    assert found is not None
    with system_access(session):
        job = session.get(jobs.Job, int(found.group(1)))
        assert job is not None
        job.state = jobs.JobState.SUCCEEDED
        job.result = {"applied": True, "already_imported": False, "import_id": 1, "rows": 10, "new_results": 10,
                      "positives": positives}
        session.flush()
    return client.get(f"/testing/results/jobs/{job.id}").text


def test_an_applied_file_with_positives_points_to_the_alerts_for_those_who_may_read_them(
        client: Client, session: Session) -> None:
    assert 'href="/testing"' in _finished_upload(client, session, "testing", positives=2)
    for_lab = _finished_upload(client, session, "lab", positives=2)
    assert 'data-testid="import-applied"' in for_lab and 'href="/testing"' not in for_lab
    assert client.get("/testing").status_code == 403  # what the link would have answered the lab


def test_a_round_and_a_site_are_named_in_their_forms_as_things_not_persons(client: Client) -> None:
    client.login("dongchang_testing")
    assert "<label>轮次名称 <input" in client.get("/testing").text
    assert "<label>采样点名称 <input" in client.get("/testing/sites").text


def test_sites_are_listed_with_their_hours_and_added_from_the_form(client: Client, session: Session,
                                                                   site: SamplingSite) -> None:
    client.login("dongchang_testing")
    page = client.get("/testing/sites")
    assert site.name in page.text and "06:00–22:00" in page.text
    added = client.post("/testing/sites", data={"name": "江南社区采样点", "jurisdiction_code": "220502001002",
                                                "opens_at": "07:00", "closes_at": "19:30",
                                                "serves": "220502001002, 220502001001"}, follow_redirects=False)
    assert added.status_code == 303
    assert "江南社区采样点" in client.get("/testing/sites").text
    wrong = client.post("/testing/sites", data={"name": "x", "jurisdiction_code": "220502001002",
                                                "opens_at": "19:00", "closes_at": "07:00", "serves": "999"})
    assert wrong.status_code == 422 and "结束时间须晚于开始时间" in wrong.text and "999" in wrong.text


def test_the_pool_alerts_name_each_community(client: Client, session: Session, round_: Round, site: SamplingSite,
                                            post_result) -> None:
    code = tube_code()
    sample(session, round_, site, code, residents(session, XINZHAN, 3))
    assert post_result(code, Outcome.POSITIVE)["positive_pools"] == 1
    page = client.login("dongchang_testing").get(f"/testing/rounds/{round_.id}/alerts").text
    orders = page[page.index('data-testid="orders"'):page.index('data-testid="controlled"')]
    controlled = page[page.index('data-testid="controlled"'):page.index('data-testid="cases"')]
    for table in (orders, controlled):
        assert "<td>新站社区</td>" in table and XINZHAN not in table
