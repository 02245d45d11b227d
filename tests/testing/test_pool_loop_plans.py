"""The pool loop reads the results by themselves when their statistics count them none.

After a table is emptied and analysed (a vacuum that could not cut it short keeps its pages), the
statistics count its pages and no rows, while an import may have just written a million there in
its own transaction. A read that joins the reacting tubes with their results was then planned as a
walk over every result with the tube looked up inside: a minute for a million-row file. Each table
the pool loop reads is read by itself, whatever the statistics say. PostgreSQL only: the plans are
its own.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from fangkong.core.scope import system_access
from fangkong.geo.models import Facility
from fangkong.testing import service
from fangkong.testing.models import Outcome, Round, SamplingSite, Tube, TubeResult

from ..conftest import DB
from .conftest import residents, sample, tube_code

pytestmark = pytest.mark.skipif(DB != "postgresql", reason="the plans of PostgreSQL")


JOINS = {"Nested Loop", "Hash Join", "Merge Join"}


def nodes_of(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Every node of an EXPLAIN (FORMAT JSON) plan, the top one first."""
    return [plan, *(node for child in plan.get("Plans", []) for node in nodes_of(child))]


def test_the_pool_loop_reads_results_apart_when_statistics_count_them_none(
        session: Session, round_: Round, site: SamplingSite, lab: Facility) -> None:
    people = residents(session, "220502001001", 15)
    codes = [tube_code() for _ in range(3)]
    for k, code in enumerate(codes):
        sample(session, round_, site, code, people[5 * k:5 * k + 5])
    with system_access(session):
        tubes = session.execute(select(Tube).where(Tube.code.in_(codes))).scalars().all()
        for tube in tubes:
            session.add(TubeResult(tube_id=tube.id, outcome=Outcome.POSITIVE, tested_at=datetime.now(UTC),
                                   lab_id=lab.id, jurisdiction_code=tube.jurisdiction_code))
        session.flush()
    # The statistics of an emptied and analysed table that kept its pages; read by the planner from
    # the catalogue, changed here for this test's transaction only.
    session.execute(text("UPDATE pg_class SET relpages = 10000, reltuples = 0 WHERE oid = 'tube_results'::regclass"))
    connection = session.connection()
    reads: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "tube_results" in statement:
            reads.append((statement, parameters))

    event.listen(connection, "before_cursor_execute", keep)
    try:
        counts = service.apply_results(session, [tube.id for tube in tubes])
    finally:
        event.remove(connection, "before_cursor_execute", keep)
    assert counts["positive_pools"] == 3 and counts["controlled"] == 15
    assert reads, "the pool loop reads the results"
    raw: Any = connection.connection.dbapi_connection
    for statement, parameters in reads:
        with raw.cursor() as cursor:
            cursor.execute("EXPLAIN (FORMAT JSON) " + statement, parameters)
            found = cursor.fetchone()[0]
        plan = (found if isinstance(found, list) else json.loads(found))[0]["Plan"]
        nodes = nodes_of(plan)
        assert any(node.get("Relation Name") == "tube_results" for node in nodes), statement
        # Read by themselves: once, whatever the planner believes of their number, never inside a
        # join whose other side multiplies the work.
        assert not [node["Node Type"] for node in nodes if node["Node Type"] in JOINS], (statement, plan)
