"""Transmission chains and clusters, and the timeliness of investigations.

Cases linked to their source case form trees; a cluster (聚集性疫情) is one tree, named by its root
(the earliest known case). The chain graph folds each case's contacts into one counted node per
kind until the user expands that case, so a 300-case cluster with thousands of contacts stays a
graph of a few hundred nodes.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fangkong.core.db import utcnow
from fangkong.core.errors import N_, NotFound
from fangkong.geo.models import Jurisdiction
from fangkong.tracing.models import Case, Contact, ContactKind, Investigation

# Contacts shown one by one when a case is expanded; beyond, the rest stay a counted node.
EXPANDED_CONTACTS = 200


@dataclass
class Cluster:
    """A tree of cases linked by their sources."""

    root_id: int
    case_ids: list[int] = field(default_factory=list)
    first_onset: datetime | None = None
    last_report: datetime | None = None

    @property
    def size(self) -> int:
        """How many cases."""
        return len(self.case_ids)


@dataclass(frozen=True)
class _CaseRow:
    id: int
    source_case_id: int | None
    onset_at: datetime | None
    sampled_at: datetime
    reported_at: datetime
    kind: str
    jurisdiction_code: str


def _cases(session: Session) -> dict[int, _CaseRow]:
    rows = session.execute(select(Case.id, Case.source_case_id, Case.onset_at, Case.sampled_at, Case.reported_at,
                                  Case.kind, Case.jurisdiction_code))
    return {r[0]: _CaseRow(r[0], r[1], r[2], r[3], r[4], r[5].value, r[6]) for r in rows}


def clusters(session: Session, *, min_size: int = 1) -> list[Cluster]:
    """The clusters among the cases the user reaches, largest first.

    A case whose source lies outside the user's reach starts its own tree here.
    """
    rows = _cases(session)
    root_of: dict[int, int] = {}

    def root(case_id: int) -> int:
        path = []
        while case_id not in root_of:
            parent = rows[case_id].source_case_id
            if parent is None or parent not in rows or parent in path:
                root_of[case_id] = case_id
                break
            path.append(case_id)
            case_id = parent
        top = root_of[case_id]
        for c in path:
            root_of[c] = top
        return top

    found: dict[int, Cluster] = {}
    for case_id in sorted(rows):
        top = root(case_id)
        cluster = found.setdefault(top, Cluster(top))
        cluster.case_ids.append(case_id)
        row = rows[case_id]
        onset = row.onset_at or row.sampled_at
        if cluster.first_onset is None or onset < cluster.first_onset:
            cluster.first_onset = onset
        if cluster.last_report is None or row.reported_at > cluster.last_report:
            cluster.last_report = row.reported_at
    return sorted((c for c in found.values() if c.size >= min_size), key=lambda c: (-c.size, c.root_id))


def cluster_of(session: Session, case_id: int) -> Cluster:
    """The cluster holding ``case_id`` (``NotFound`` if the user does not reach the case)."""
    for cluster in clusters(session):
        if case_id in cluster.case_ids:
            return cluster
    raise NotFound(N_("No such record."))


def graph(session: Session, cluster: Cluster, *, expand: Collection[int] = ()) -> dict[str, object]:
    """The ECharts graph of a cluster: cases as nodes, source → case as links, each case's contacts
    folded into one node per kind (with the count) unless the case is in ``expand``; and the
    timeline (cases by day of onset, or of first positive sample without onset)."""
    rows = _cases(session)
    members = [rows[i] for i in cluster.case_ids]
    ids = [m.id for m in members]
    folded: dict[tuple[int, str], int] = defaultdict(int)
    for case_id, kind, n in session.execute(
            select(Contact.case_id, Contact.kind, func.count()).where(Contact.case_id.in_(ids))
            .group_by(Contact.case_id, Contact.kind)):
        folded[(case_id, kind.value)] += n
    nodes: list[dict[str, object]] = []
    links: list[dict[str, object]] = []
    for m in members:
        nodes.append({"id": f"c{m.id}", "name": f"#{m.id}", "category": 0 if m.kind == "confirmed" else 1,
                      "case_id": m.id, "onset": (m.onset_at or m.sampled_at).date().isoformat(),
                      "symbolSize": 18 if m.id == cluster.root_id else 12})
        if m.source_case_id is not None and m.source_case_id in rows and m.source_case_id in cluster.case_ids:
            links.append({"source": f"c{m.source_case_id}", "target": f"c{m.id}"})
    category_of_kind = {ContactKind.CLOSE.value: 2, ContactKind.SECONDARY.value: 3, ContactKind.EXPOSED.value: 4}
    for case_id in ids:
        shown: dict[str, int] = defaultdict(int)
        if case_id in expand:
            for contact_id, kind in session.execute(
                    select(Contact.id, Contact.kind).where(Contact.case_id == case_id)
                    .order_by(Contact.kind, Contact.id).limit(EXPANDED_CONTACTS)):
                nodes.append({"id": f"p{contact_id}", "name": "", "category": category_of_kind[kind.value],
                              "symbolSize": 5, "contact_id": contact_id})
                links.append({"source": f"c{case_id}", "target": f"p{contact_id}"})
                shown[kind.value] += 1
        for kind in ContactKind:
            rest = folded.get((case_id, kind.value), 0) - shown[kind.value]
            if rest > 0:
                node_id = f"k{case_id}-{kind.value}"
                nodes.append({"id": node_id, "name": str(rest), "category": category_of_kind[kind.value],
                              "symbolSize": min(8 + rest ** 0.5, 30), "folded_case_id": case_id, "count": rest})
                links.append({"source": f"c{case_id}", "target": node_id})
    by_day: dict[str, int] = defaultdict(int)
    for m in members:
        by_day[(m.onset_at or m.sampled_at).date().isoformat()] += 1
    days = sorted(by_day)
    return {"nodes": nodes, "links": links, "timeline": {"days": days, "cases": [by_day[d] for d in days]},
            "contacts": sum(folded.values())}


@dataclass(frozen=True)
class Timeliness:
    """How investigations of a jurisdiction's cases kept their clocks."""

    code: str
    name: str
    cases: int
    core_in_time: int
    report_in_time: int
    overdue_now: int
    median_core_hours: float | None

    @property
    def core_rate(self) -> float | None:
        """Share of cases whose core information came in time."""
        return self.core_in_time / self.cases if self.cases else None

    @property
    def report_rate(self) -> float | None:
        """Share of cases whose full report came in time."""
        return self.report_in_time / self.cases if self.cases else None


def timeliness(session: Session, parent_code: str, *, now: datetime | None = None) -> list[Timeliness]:
    """The timeliness of investigations per child jurisdiction of ``parent_code`` (per district for the city)."""
    now = now or utcnow()
    children = session.execute(select(Jurisdiction.code, Jurisdiction.name)
                                .where(Jurisdiction.parent_code == parent_code).order_by(Jurisdiction.code))
    rows = session.execute(select(Case.jurisdiction_code, Case.reported_at, Investigation.core_due_at,
                                  Investigation.core_done_at, Investigation.report_due_at,
                                  Investigation.report_done_at)
                           .join(Investigation, Investigation.case_id == Case.id)).all()
    out = []
    for code, name in children:
        mine = [r for r in rows if r[0].startswith(code)]
        hours = [(r[3] - r[1]).total_seconds() / 3600 for r in mine if r[3] is not None]
        out.append(Timeliness(
            code=code, name=name, cases=len(mine),
            core_in_time=sum(1 for r in mine if r[3] is not None and r[3] <= r[2]),
            report_in_time=sum(1 for r in mine if r[5] is not None and r[5] <= r[4]),
            overdue_now=sum(1 for r in mine if (r[3] is None and now > r[2]) or (r[5] is None and now > r[4])),
            median_core_hours=statistics.median(hours) if hours else None))
    return out
