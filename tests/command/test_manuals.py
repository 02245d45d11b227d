"""Operation manuals: search in Chinese and English, the shipped texts, versions, publishing and the pages."""

from __future__ import annotations

import re
import warnings

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from fangkong.app import create_app
from fangkong.command import manuals
from fangkong.command.manual_models import ManualVersion
from fangkong.command.manual_search import Index, Section, index_terms, query_terms, snippet
from fangkong.command.organisation import STANDARD_TASK_FORCES
from fangkong.config import Settings
from fangkong.core.audit import Action, AuditEntry
from fangkong.core.auth import Role
from fangkong.core.deps import LANG_COOKIE
from fangkong.core.errors import Forbidden, Invalid, NotFound
from fangkong.core.scope import Principal
from fangkong.web import nav
from tests.conftest import CITY_COMMANDER, DC_COMMANDER, WORKER_DC, WORKER_EDJ, Client

KEY = "taskforce-testing"


def section(anchor: str, title: str, text: str, key: str = "m") -> Section:
    return Section(key, "手册", anchor, title, text)


# ---------------------------------------------------------------------------------------------- search


def test_a_chinese_query_finds_the_sections_holding_a_longer_word_that_contains_it() -> None:
    index = Index([section("a", "采样", "组织全员核酸检测，做到应检尽检。"),
                   section("b", "转运", "密接闭环转运到隔离点。"),
                   section("c", "复核", "混管阳性的人员单管核酸复核。")])

    hits = index.search("核酸")

    assert {h.section.anchor for h in hits} == {"a", "c"}
    assert ("核酸", True) in hits[0].snippet


def test_a_chinese_word_is_indexed_as_characters_and_bigrams_and_queried_as_bigrams() -> None:
    assert index_terms("核酸检测") == ["核", "酸", "检", "测", "核酸", "酸检", "检测"]
    assert query_terms("核酸检测") == ["核酸", "酸检", "检测"]
    assert query_terms("核") == ["核"]
    assert query_terms("Upload 核酸 upload") == ["upload", "核酸"]


def test_every_term_of_the_query_must_be_in_the_section() -> None:
    index = Index([section("a", "", "核酸检测"), section("b", "", "核酸检测 隔离点"), section("c", "", "隔离点")])

    assert [h.section.anchor for h in index.search("核酸 隔离")] == ["b"]
    assert index.search("核酸 消杀") == []


def test_english_search_ignores_case_and_finds_the_words_a_query_word_begins() -> None:
    index = Index([section("a", "Uploading results", "Press Upload and check."),
                   section("b", "Door marks", "Tap Visited after a visit."),
                   section("c", "Contacts", "Mark the contact under control.")])

    assert [h.section.anchor for h in index.search("UPLOAD")] == ["a"]
    assert [h.section.anchor for h in index.search("visit")] == ["b"]
    assert [h.section.anchor for h in index.search("Under CONTROL")] == ["c"]
    assert index.search("uploader") == []


def test_a_match_in_the_title_ranks_above_one_in_the_text_and_the_query_as_written_above_its_parts() -> None:
    index = Index([section("text", "时限", "上传检测结果后查看进度。"),
                  section("title", "上传检测结果", "选择文件，点上传并检查。"),
                  section("scattered", "说明", "上传文件前检测格式，结果另行通知。")])

    assert [h.section.anchor for h in index.search("上传检测结果")] == ["title", "text"]
    assert [h.section.anchor for h in index.search("上传")][:1] == ["title"]
    scores = {h.section.anchor: h.score for h in index.search("上传 结果")}
    assert scores["title"] > scores["text"] > 0 and "scattered" in scores


def test_an_empty_query_finds_nothing_and_markup_is_not_searched() -> None:
    index = Index([section("a", "标题", "**加粗** [链接](https://example.org/核酸) `code`")])

    assert index.search("   ") == []
    assert index.search("核酸") == []  # only in the link's target
    assert [h.section.anchor for h in index.search("链接")] == ["a"]


def test_the_snippet_is_cut_around_the_first_match() -> None:
    text = "前言" * 100 + "这里说明核酸采样。" + "后记" * 100

    pieces = snippet(text, "核酸")

    assert pieces[0] == ("…", False) and pieces[-1] == ("…", False)
    assert [p for p, hit in pieces if hit] == ["核酸"]
    assert sum(len(p) for p, _ in pieces) < 100


# ------------------------------------------------------------------------------------- shipped manuals


def test_every_task_force_and_every_role_has_a_manual_in_chinese() -> None:
    shipped = [manuals.shipped(key) for key in manuals.all_keys()]

    assert {m.task_force for m in shipped if m and m.task_force} == set(STANDARD_TASK_FORCES)
    assert {m.role for m in shipped if m and m.role} == {r.value for r in Role}


def test_every_pages_entry_points_at_a_section_of_its_manual_in_every_language() -> None:
    for (key, language), manual in manuals.catalogue().items():
        anchors = [s.anchor for s in manual.sections]
        assert len(anchors) == len(set(anchors)), (key, language)
        assert set(manual.pages.values()) <= set(anchors), (key, language)
        base = manuals.shipped(key)
        assert base is not None, f"{key}.{language} has no Chinese version"
        if language != manuals.BASE_LANGUAGE:  # a translation keeps the anchors the links point at
            assert anchors == [s.anchor for s in base.sections], key
            assert manual.pages == base.pages, key


def test_the_role_manuals_of_the_pages_that_exist_have_an_english_version() -> None:
    for role in ("community_worker", "lab", "tracer", "commander", "testing_staff", "admin"):
        assert manuals.shipped(f"role-{role}", "en") is not None, role


def test_the_manual_link_leads_to_the_section_of_the_page_or_the_readers_role_manual() -> None:
    assert manuals.manual_href("/testing", ["testing_staff"]) == "/manuals/taskforce-testing#rounds"
    assert manuals.manual_href("/testing/rounds/7", ["commander"]) == "/manuals/taskforce-testing#round-progress"
    # A longer prefix wins; among equals, the manual written for the reader's role.
    assert manuals.manual_href("/testing/rounds/7/untested", ["commander"]) == \
        "/manuals/taskforce-testing#door-to-door"
    assert manuals.manual_href("/testing/rounds/7/untested", ["community_worker"]) == \
        "/manuals/role-community_worker#door-marks"
    assert manuals.manual_href("/testing/results", ["lab"]) == "/manuals/role-lab#upload"
    assert manuals.manual_href("/", ["viewer"]) == "/manuals/taskforce-coordination#overview"
    # "/" is the overview only; a page no manual explains opens the reader's role manual.
    assert manuals.manual_href("/no/such/page", ["tracer"]) == "/manuals/role-tracer"
    assert manuals.manual_href("/no/such/page", []) == "/manuals"


# Pages registered in the navigation when the manuals were written: each must have its section. Pages
# added later are listed by the test below (a warning) until a manual's pages table names them.
NAV_HREFS_WITH_MANUALS = {"/", "/geo", "/people", "/users", "/audit", "/jobs", "/testing", "/testing/sites",
                          "/testing/results", "/testing/planner", "/tracing", "/tracing/contacts",
                          "/tracing/timeliness", "/tracing/chains", "/manuals"}


def test_every_page_of_the_navigation_has_a_section_of_a_manual(settings: Settings, engine: Engine) -> None:
    create_app(settings, engine=engine)  # every module registers its navigation
    hrefs = {item.href for item in nav._items}
    lacking = sorted(h for h in hrefs if manuals.page_section(h, []) is None)

    assert hrefs >= NAV_HREFS_WITH_MANUALS
    assert [h for h in lacking if h in NAV_HREFS_WITH_MANUALS] == []
    if lacking:
        warnings.warn(f"pages with no section in a manual's [pages] table: {lacking}", stacklevel=1)


def test_markdown_is_rendered_with_raw_html_escaped_and_no_script_links() -> None:
    html = str(manuals.render_markdown('<script>alert("x")</script>\n\n**粗体** [点我](javascript:alert(1))\n'
                                       '\n<img src=x onerror=alert(1)>'))

    assert "<script" not in html and "&lt;script&gt;" in html
    assert "<img" not in html
    assert "javascript:" not in html.replace("[点我](javascript:alert(1))", "")
    assert "<strong>粗体</strong>" in html


def test_sections_take_their_anchor_from_the_heading_and_ignore_headings_in_code() -> None:
    found = manuals.split_sections("导言\n\n## 第一节 {#one}\n正文\n```\n## 不是标题\n```\n## 第二节\n正文二\n")

    assert [(s.anchor, s.title) for s in found] == [("", ""), ("one", "第一节"), ("section-2", "第二节")]
    assert "## 不是标题" in found[1].body


# -------------------------------------------------------------------------------------------- versions


def test_a_published_version_is_shown_and_every_earlier_version_is_kept(session: Session, as_user) -> None:
    as_user(CITY_COMMANDER)
    first = manuals.publish(session, KEY, language="zh_CN", text="## 启动 {#rounds}\n第二版：核酸检测每天两轮。",
                            jurisdiction_code="2205", note="改为每天两轮")
    second = manuals.publish(session, KEY, language="zh_CN", text="## 启动 {#rounds}\n第三版：每天三轮。",
                             jurisdiction_code="2205")

    assert (first.number, second.number) == (2, 3)
    shown = manuals.current(session, KEY, "zh_CN")
    assert (shown.number, shown.is_shipped, shown.sections[0].anchor) == (3, False, "rounds")
    assert "每天三轮" in shown.text
    assert [v.number for v in manuals.history(session, KEY, "zh_CN")] == [3, 2, 1]
    assert "每天两轮" in manuals.version(session, KEY, "zh_CN", 2).text
    assert manuals.version(session, KEY, "zh_CN", 1).is_shipped

    as_user(WORKER_DC)  # a reader under the city sees the city's newest
    assert manuals.current(session, KEY, "zh_CN").number == 3
    # The search reads the version in force.
    assert any(h.section.manual_key == KEY for h in manuals.search(session, "三轮", "zh_CN"))
    assert not any(h.section.manual_key == KEY for h in manuals.search(session, "两轮", "zh_CN"))


def test_a_districts_version_is_read_in_the_district_and_missing_to_a_neighbour(session: Session, as_user) -> None:
    as_user(DC_COMMANDER)
    made = manuals.publish(session, KEY, language="zh_CN", text="东昌区：采样点延长到夜间十点。",
                           jurisdiction_code="220502")

    as_user(WORKER_DC)
    assert manuals.current(session, KEY, "zh_CN").number == made.number
    as_user(CITY_COMMANDER)  # the city keeps its own version in force, and sees the district's in the history
    assert manuals.current(session, KEY, "zh_CN").is_shipped
    assert made.number in [v.number for v in manuals.history(session, KEY, "zh_CN")]
    as_user(WORKER_EDJ)
    assert manuals.current(session, KEY, "zh_CN").is_shipped
    assert made.number not in [v.number for v in manuals.history(session, KEY, "zh_CN")]
    with pytest.raises(NotFound):
        manuals.version(session, KEY, "zh_CN", made.number)
    Principal.system().bind(session)
    denied = session.execute(select(AuditEntry).where(AuditEntry.action == Action.ACCESS_DENIED,
                                                      AuditEntry.entity == "manual_versions")).scalars().all()
    assert [(e.entity_id, e.actor_name) for e in denied] == [(str(made.id), WORKER_EDJ)]


def test_publishing_is_refused_without_directives_write(session: Session, as_user) -> None:
    as_user(WORKER_DC)
    with pytest.raises(Forbidden):
        manuals.publish(session, KEY, language="zh_CN", text="网格员改的", jurisdiction_code="220502001001")
    assert session.execute(select(func.count()).select_from(ManualVersion)).scalar_one() == 0


def test_publishing_for_a_neighbours_jurisdiction_or_with_bad_input_names_the_fields(session: Session,
                                                                                        as_user) -> None:
    as_user(DC_COMMANDER)
    with pytest.raises(Invalid) as caught:
        manuals.publish(session, KEY, language="fr", text="  ", jurisdiction_code="220503", note="x" * 301)
    assert {e.field for e in caught.value.errors} == {"language", "manual_text", "jurisdiction_code", "change_note"}
    with pytest.raises(Invalid) as caught:  # the text in force, unchanged
        manuals.publish(session, KEY, language="zh_CN", text=manuals.shipped(KEY).text, jurisdiction_code="220502")
    assert [e.field for e in caught.value.errors] == ["manual_text"]
    with pytest.raises(NotFound):
        manuals.publish(session, "no-such-manual", language="zh_CN", text="x", jurisdiction_code="220502")
    assert session.execute(select(func.count()).select_from(ManualVersion)).scalar_one() == 0


def test_a_retried_form_publishes_once(session: Session, as_user) -> None:
    as_user(DC_COMMANDER)
    once = manuals.publish(session, KEY, language="zh_CN", text="只发布一次", jurisdiction_code="220502",
                           request_key="form-1")
    again = manuals.publish(session, KEY, language="zh_CN", text="只发布一次", jurisdiction_code="220502",
                            request_key="form-1")

    assert once.id == again.id
    assert session.execute(select(func.count()).select_from(ManualVersion)).scalar_one() == 1


def test_an_english_reader_gets_the_chinese_text_where_there_is_no_english_one(session: Session, as_user) -> None:
    as_user(WORKER_DC)
    worker = manuals.current(session, "role-community_worker", "en")
    force = manuals.current(session, "taskforce-supply", "en")

    assert (worker.language, worker.fallback) == ("en", False)
    assert (force.language, force.fallback) == ("zh_CN", True)


# ----------------------------------------------------------------------------------------------- pages


def test_every_page_carries_the_manual_link_and_it_opens_the_section_of_the_page(client: Client) -> None:
    client.login(WORKER_DC)
    page = client.get("/testing")
    assert 'href="/manuals/for?path=/testing"' in page.text

    response = client.get("/manuals/for?path=/testing/rounds/3/untested", follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"] == "/manuals/role-community_worker#door-marks"
    # A path that is not ours is not followed anywhere else.
    elsewhere = client.get("/manuals/for?path=//evil.example/x", follow_redirects=False)
    assert elsewhere.headers["location"] == "/manuals/role-community_worker"


def test_the_index_lists_the_manuals_by_role_with_the_readers_own_first_and_by_task_force(client: Client) -> None:
    client.login(WORKER_DC)
    page = client.get("/manuals")

    roles = page.text[page.text.index('data-testid="role-manuals"'):page.text.index('data-testid="task-force-manuals"')]
    links = re.findall(r'href="/manuals/([a-z_-]+)"', roles)
    assert links[0] == "role-community_worker" and len(links) == len(Role)
    assert roles.count('data-testid="own-role"') == 1
    forces = page.text[page.text.index('data-testid="task-force-manuals"'):]
    assert re.findall(r'href="/manuals/taskforce-([a-z_]+)"', forces) == list(STANDARD_TASK_FORCES)


def test_the_manual_page_has_a_table_of_contents_with_the_sections_anchors(client: Client) -> None:
    client.login(WORKER_DC)
    page = client.get(f"/manuals/{KEY}")

    assert page.status_code == 200
    anchors = re.findall(r'<section id="([a-z0-9-]+)"', page.text)
    assert anchors[:2] == ["rounds", "round-progress"]
    for anchor in anchors:
        assert f'href="#{anchor}"' in page.text


def test_the_search_page_answers_htmx_with_the_results_highlighted(client: Client) -> None:
    client.login(WORKER_DC)
    partial = client.get("/manuals/search?q=核酸", headers={"HX-Request": "true"})
    full = client.get("/manuals/search?q=核酸")

    assert partial.status_code == 200 and "<html" not in partial.text
    assert "<mark>核酸</mark>" in partial.text
    assert 'href="/manuals/taskforce-testing' in partial.text
    assert "<html" in full.text and "<mark>核酸</mark>" in full.text
    assert client.get("/manuals/search?q=" + "核" * 101).status_code == 422


def test_a_script_in_a_published_text_is_shown_as_text(client: Client) -> None:
    client.login(CITY_COMMANDER)
    form = client.get(f"/manuals/{KEY}/publish")
    key = re.search(r'name="form_key" value="([0-9a-f]+)"', form.text).group(1)  # type: ignore[union-attr]
    text = '## 启动 {#rounds}\n<script>alert("manual")</script>\n[点我](javascript:alert(1))'

    published = client.post(f"/manuals/{KEY}/publish", data={
        "language": "zh_CN", "jurisdiction_code": "2205", "manual_text": text, "change_note": "测试",
        "form_key": key}, follow_redirects=False)
    page = client.get(f"/manuals/{KEY}")

    assert published.status_code == 303
    assert '<script>alert("manual")' not in page.text and "&lt;script&gt;alert" in page.text
    assert 'href="javascript:' not in page.text
    assert '<section id="rounds"' in page.text


def test_the_publish_form_names_the_bad_fields_in_the_readers_language(client: Client, session: Session) -> None:
    client.login(DC_COMMANDER)
    client.cookies.set(LANG_COOKIE, "en")

    response = client.post(f"/manuals/{KEY}/publish", data={
        "language": "zh_CN", "jurisdiction_code": "220503", "manual_text": "", "form_key": "k1"})

    assert response.status_code == 422
    assert "Text of the manual: This field is required." in response.text
    assert "Jurisdiction code: You may publish only for your own jurisdiction." in response.text
    assert session.execute(select(func.count()).select_from(ManualVersion)).scalar_one() == 0


def test_the_publish_form_offers_the_publishers_jurisdictions_and_the_areas_under_them(client: Client) -> None:
    client.login(DC_COMMANDER)
    form = client.get(f"/manuals/{KEY}/publish")

    codes = re.findall(r'<option value="(\d+)"', form.text)
    assert codes[0] == "220502" and len(codes) > 1
    assert all(c.startswith("220502") and len(c) <= 9 for c in codes)
    assert "本手册说明全员核酸检测" in form.text  # filled with the text in force


def test_publishing_from_the_page_is_refused_to_a_worker(client: Client, session: Session) -> None:
    client.login(WORKER_DC)

    form = client.get(f"/manuals/{KEY}/publish")
    posted = client.post(f"/manuals/{KEY}/publish", data={
        "language": "zh_CN", "jurisdiction_code": "220502001001", "manual_text": "改了", "form_key": "k2"})

    assert form.status_code == posted.status_code == 403
    assert "Publish a new version" not in client.get(f"/manuals/{KEY}").text
    assert session.execute(select(func.count()).select_from(ManualVersion)).scalar_one() == 0


def test_the_history_lists_the_versions_and_a_version_shows_its_changes(client: Client) -> None:
    client.login(CITY_COMMANDER)
    for n, text in enumerate(("## 启动 {#rounds}\n甲乙丙", "## 启动 {#rounds}\n甲乙丁")):
        form = client.get(f"/manuals/{KEY}/publish")
        key = re.search(r'name="form_key" value="([0-9a-f]+)"', form.text).group(1)  # type: ignore[union-attr]
        client.post(f"/manuals/{KEY}/publish", data={"language": "zh_CN", "jurisdiction_code": "2205",
                                                     "manual_text": text, "change_note": f"第{n}次",
                                                     "form_key": key})

    history = client.get(f"/manuals/{KEY}/history?language=zh_CN")
    version = client.get(f"/manuals/{KEY}/versions/3?language=zh_CN")

    assert re.findall(r'<tr data-version="(\d+)"', history.text) == ["3", "2", "1"]
    assert version.status_code == 200
    assert "<del>-甲乙丙</del>" in version.text and "<ins>+甲乙丁</ins>" in version.text
    assert client.get(f"/manuals/{KEY}/versions/9?language=zh_CN").status_code == 404
