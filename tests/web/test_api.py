"""The JSON API: scoped, paginated, with errors in the user's language naming the field."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fangkong.people import identity
from fangkong.people.models import Person
from tests.conftest import CITY_COMMANDER, WORKER_DC

COMMUNITY_DC = "220502001001"


def valid_id(seq: int) -> str:
    first17 = f"220502199002{seq % 28 + 1:02d}{seq:03d}"
    return first17 + identity.check_digit(first17)


def wrong_check_digit(seq: int) -> str:
    good = valid_id(seq)
    return good[:17] + ("0" if good[17] != "0" else "1")


def test_persons_are_listed_masked_and_paginated(client) -> None:  # type: ignore[no-untyped-def]
    client.login(CITY_COMMANDER)
    body = client.get("/api/v1/persons", params={"size": 5, "page": 2}).json()
    assert (body["page"], body["size"], len(body["items"])) == (2, 5, 5)
    assert body["total"] > 100
    for item in body["items"]:
        assert "*" in item["name"] and "*" in item["id_number"] and item["is_masked"] is True


def test_a_bad_id_number_is_a_422_in_chinese_naming_the_field(client) -> None:  # type: ignore[no-untyped-def]
    client.login(WORKER_DC)
    response = client.post("/api/v1/persons", json={"name": "张三", "id_number": wrong_check_digit(6),
                                                    "jurisdiction_code": COMMUNITY_DC})
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["field"] == "id_number"
    assert error["label"] == "身份证号"
    assert "校验" in error["message"]


def test_the_same_error_in_english_when_asked(client) -> None:  # type: ignore[no-untyped-def]
    client.login(WORKER_DC)
    response = client.post("/api/v1/persons", headers={"Accept-Language": "en-US,en;q=0.9"},
                           json={"name": "张三", "id_number": wrong_check_digit(6), "jurisdiction_code": COMMUNITY_DC})
    assert response.json()["errors"][0]["message"].startswith("The ID number's check digit is wrong")


def test_a_bad_phone_and_an_unknown_jurisdiction_are_both_reported(client) -> None:  # type: ignore[no-untyped-def]
    client.login(WORKER_DC)
    response = client.post("/api/v1/persons", json={"name": "张三", "id_number": valid_id(1), "phone": "123",
                                                    "jurisdiction_code": "22050299"})
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"phone", "jurisdiction_code"}


def test_a_missing_field_is_a_422_naming_it(client) -> None:  # type: ignore[no-untyped-def]
    client.login(WORKER_DC)
    response = client.post("/api/v1/persons", json={"name": "张三"})
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"id_number", "jurisdiction_code"}
    assert response.json()["errors"][0]["message"] == "此项为必填项。"


def test_a_retried_request_with_the_same_key_creates_one_person(client, session: Session) -> None:  # type: ignore[no-untyped-def]
    client.login(WORKER_DC)
    payload = {"name": "李四", "id_number": valid_id(2), "jurisdiction_code": COMMUNITY_DC}
    first = client.post("/api/v1/persons", json=payload, headers={"Idempotency-Key": "k-1"})
    again = client.post("/api/v1/persons", json=payload, headers={"Idempotency-Key": "k-1"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["id"] == again.json()["id"]
    count = session.execute(select(func.count()).select_from(Person).where(Person.id_number == valid_id(2)))
    assert count.scalar_one() == 1


def test_a_duplicate_id_number_is_a_409_with_a_link(client) -> None:  # type: ignore[no-untyped-def]
    client.login(WORKER_DC)
    payload = {"name": "王五", "id_number": valid_id(3), "jurisdiction_code": COMMUNITY_DC}
    created = client.post("/api/v1/persons", json=payload).json()
    response = client.post("/api/v1/persons", json=payload)
    assert response.status_code == 409
    assert response.json()["link"] == f"/people/{created['id']}"


def test_a_cookie_client_without_the_csrf_token_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    client.login(WORKER_DC)
    del client.headers["X-CSRF-Token"]
    response = client.post("/api/v1/persons", json={"name": "x", "id_number": valid_id(4),
                                                    "jurisdiction_code": COMMUNITY_DC})
    assert response.status_code == 403


def test_a_token_client_needs_no_cookie_and_no_csrf(client, session: Session) -> None:  # type: ignore[no-untyped-def]
    from fangkong.users import service

    user = service.find_user(session, WORKER_DC)
    assert user is not None
    token = service.issue_token(session, user, label="phone app")
    session.commit()
    response = client.post("/api/v1/persons", headers={"Authorization": f"Bearer {token}"},
                           json={"name": "赵六", "id_number": valid_id(5), "jurisdiction_code": COMMUNITY_DC})
    assert response.status_code == 201, response.text


def test_a_wrong_token_is_a_401(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/api/v1/persons", headers={"Authorization": "Bearer fk_nonsense"})
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


def test_jurisdictions_filter_by_parent_with_population(client) -> None:  # type: ignore[no-untyped-def]
    client.login(CITY_COMMANDER)
    body = client.get("/api/v1/jurisdictions", params={"parent": "2205"}).json()
    names = [j["name"] for j in body["items"]]
    assert names == ["东昌区", "二道江区", "通化县", "辉南县", "柳河县", "梅河口市", "集安市"]
    assert all(j["population"] > 0 for j in body["items"])


def test_a_malformed_code_is_a_422(client) -> None:  # type: ignore[no-untyped-def]
    client.login(CITY_COMMANDER)
    response = client.get("/api/v1/jurisdictions/22050")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "code"


def test_the_openapi_document_lists_the_v1_endpoints(client) -> None:  # type: ignore[no-untyped-def]
    paths = client.get("/api/openapi.json").json()["paths"]
    assert {"/api/v1/persons", "/api/v1/jurisdictions", "/api/v1/users"} <= set(paths)
    docs = client.get("/api/docs").text
    assert "/static/vendor/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
