"""Transmission chains: clusters from source links, the folded graph, and timeliness per district."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from fangkong.core.db import utcnow
from fangkong.tracing import chains, service
from fangkong.tracing.models import ContactKind
from tests.tracing.conftest import DONGTONGHUA, JIANGNAN, XINZHAN, CaseMaker, residents
from tests.tracing.helpers import add_contact


def test_cases_linked_to_their_source_form_one_cluster(session: Session, make_case: CaseMaker) -> None:
    a, b, c, d = residents(session, XINZHAN, 4)
    e = residents(session, JIANGNAN, 1)[0]
    root = make_case(a, hours_ago=50, onset=utcnow() - timedelta(days=4))
    child = make_case(b, hours_ago=30, source=root)
    grandchild = make_case(c, hours_ago=20, source=child)
    sibling = make_case(e, hours_ago=10, source=root)
    alone = make_case(d, hours_ago=5)
    found = {cl.root_id: cl for cl in chains.clusters(session)}
    assert sorted(found[root.id].case_ids) == sorted([root.id, child.id, grandchild.id, sibling.id])
    assert found[root.id].first_onset == root.onset_at
    assert found[alone.id].case_ids == [alone.id]
    assert chains.cluster_of(session, grandchild.id).root_id == root.id
    assert [cl.root_id for cl in chains.clusters(session, min_size=2)] == [root.id]


def test_a_case_whose_source_is_out_of_reach_starts_its_own_tree(session: Session, as_user,
                                                                 make_case: CaseMaker) -> None:
    far = residents(session, DONGTONGHUA, 1)[0]
    near = residents(session, XINZHAN, 1)[0]
    root = make_case(far, hours_ago=40)
    child = make_case(near, hours_ago=10, source=root)
    as_user("dongchang_tracer")
    assert chains.cluster_of(session, child.id).root_id == child.id


def test_the_graph_folds_contacts_into_counts_until_a_case_is_expanded(session: Session,
                                                                       make_case: CaseMaker) -> None:
    people = residents(session, XINZHAN, 40)
    # Onsets a day apart fall on two days whatever the hour the test runs.
    root = make_case(people[0], hours_ago=30, onset=utcnow() - timedelta(days=2))
    child = make_case(people[1], hours_ago=10, source=root, onset=utcnow() - timedelta(days=1))
    for p in people[2:32]:
        add_contact(session, p, root, ContactKind.CLOSE)
    for p in people[32:40]:
        add_contact(session, p, child, ContactKind.SECONDARY)
    cluster = chains.cluster_of(session, root.id)
    folded = chains.graph(session, cluster)
    assert folded["contacts"] == 38
    counts = {n["id"]: n.get("count") for n in folded["nodes"]}  # type: ignore[union-attr]
    assert counts == {f"c{root.id}": None, f"c{child.id}": None,
                      f"k{root.id}-close": 30, f"k{child.id}-secondary": 8}
    assert {"source": f"c{root.id}", "target": f"c{child.id}"} in folded["links"]  # type: ignore[operator]
    expanded = chains.graph(session, cluster, expand={root.id})
    ids = [n["id"] for n in expanded["nodes"]]  # type: ignore[union-attr]
    assert len(ids) == 2 + 30 + 1 and f"k{root.id}-close" not in ids
    assert expanded["timeline"]["cases"] == [1, 1]  # type: ignore[index]  (onsets on two days)


def test_timeliness_counts_clocks_kept_per_district(session: Session, make_case: CaseMaker) -> None:
    a, b = residents(session, XINZHAN, 2)
    far = residents(session, DONGTONGHUA, 1)[0]
    kept = make_case(a, hours_ago=3)
    service.complete_core(session, kept.investigation)
    make_case(b, hours_ago=6)  # core missed
    make_case(far, hours_ago=1)
    rows = {t.code: t for t in chains.timeliness(session, "2205")}
    dongchang, erdaojiang = rows["220502"], rows["220503"]
    assert (dongchang.cases, dongchang.core_in_time, dongchang.overdue_now) == (2, 1, 1)
    assert dongchang.core_rate == 0.5 and dongchang.median_core_hours is not None
    assert (erdaojiang.cases, erdaojiang.core_in_time, erdaojiang.overdue_now) == (1, 0, 0)
    assert rows["220521"].cases == 0 and rows["220521"].core_rate is None
