"""The command benchmark's fixture: a city's units and task forces, a million tasks, their five lists.

Not what is measured. On the demo city's tree (``synth.demo.load`` without households, with
communities added under the demo's streets so that one holds a few thousand people, see
``testing_city.add_communities``), the organisation is set up through the ORM: the demo's
headquarters and task forces, a task force of every standard key in every district, departments of
the city and the districts, a street office per street and a committee per community. A commander
is added for each district that the demo has none for.

Then the lists are generated with numpy and written through the driver (``testing_city.write_rows``:
PostgreSQL ``COPY``, SQLite ``executemany``; explicit ids; the ``ix_`` indexes dropped for the load and
rebuilt after it):

* directives of the city's and the districts' headquarters, each with a few root tasks handed down
  level by level (city → district → street → community, each hand-down taken with a probability),
  and tasks a street or community enters on its own; every task with its responsibilities (leading
  leader, leader in charge, responsible unit, co-operating units, named person);
* statuses from the deadlines, bottom-up: a leaf due in the past is mostly done (on time or late),
  a few are still overdue (fewer the older), some cancelled; one due later is in progress, assigned,
  done early or cancelled; a parent is done only when every child is done or cancelled, after the
  last of them, and otherwise still open (overdue when past its own deadline);
* problems of every source spread over the communities, streets, districts and the city; measures
  with owners and deadlines; rectifications that were verified, failed verification or await it;
  a problem closes at its last measure's verification; escalations for what ran out of time.

Created times spread over the four weeks before "now"; every time lies before "now".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import testing_city as city
from sqlalchemy import Engine, select

from fangkong.command.clocks import superior
from fangkong.command.models import OrgUnit, OrgUnitKind, TaskForce
from fangkong.command.organisation import DEMO_TASK_FORCES, STANDARD_TASK_FORCES
from fangkong.core.auth import Role, hash_password
from fangkong.core.db import system_session
from fangkong.geo.models import Jurisdiction
from fangkong.users.models import RoleGrant, User

HOUR, DAY = 3600.0, 86400.0
WEEKS = 4  # the outbreak so far
KEYS = list(STANDARD_TASK_FORCES)
CITY_DEPARTMENTS = ("卫生健康委员会", "公安局", "交通运输局", "商务局", "市场监督管理局", "教育局", "民政局",
                    "住房和城乡建设局", "城市管理局", "工业和信息化局", "应急管理局", "委宣传部")
DISTRICT_DEPARTMENTS = ("卫生健康局", "公安分局", "商务局", "市场监督管理局", "民政局", "城市管理局")
TASK_TITLES = ("开展全员核酸检测", "落实密接人员集中隔离", "完成流调报告", "封控区生活物资配送", "重点人群排查",
               "隔离点消杀", "入户排查返乡人员", "药店购药登记核查", "集贸市场闭环管理", "特殊群体就医保障",
               "核酸采样点设置", "转运车辆调度", "社区卡口值守", "防控宣传入户", "冷链物品检测")
PROBLEM_TITLES = ("采样点排队过长", "隔离点人员混住", "封控小区出入登记不全", "物资配送不及时", "流调信息填报不全",
                  "卡口值守人员脱岗", "消杀记录缺失", "居民反映买药难")
ALERT_TITLES = (("The core information / investigation report of case {case_id} was not in on time", "case_id"),
                ("Contact {contact_id} was not under control on time", "contact_id"),
                ("{missing} persons of a re-sampling order were not re-sampled on time", "missing"))
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚"


@dataclass
class Org:
    """The city's jurisdictions and who works in each, as arrays indexed by jurisdiction."""

    codes: list[str]  # city, districts, streets, communities (sorted)
    level: np.ndarray  # 0 city, 1 district, 2 street, 3 community
    parent: np.ndarray  # index of the parent (-1 for the city)
    body: np.ndarray  # the level's own unit: headquarters, street office, committee
    departments: list[list[int]]  # of the city or the district the jurisdiction lies in
    forces: np.ndarray  # [jurisdiction, key] → task force id (the nearest at or above)
    offices: np.ndarray  # [jurisdiction, key] → that task force's office if it sits at this level, else -1
    commander: np.ndarray  # user id of the level's commander or -1
    worker: np.ndarray  # user id of the community's worker or -1
    units: int = 0
    task_forces: int = 0
    personas: dict[str, str] = field(default_factory=dict)  # district code → its commander's username

    def children(self) -> tuple[np.ndarray, np.ndarray]:
        """The children of each jurisdiction as CSR arrays (starts, child indexes)."""
        order = np.argsort(self.parent, kind="stable")
        kids = order[self.parent[order] >= 0]
        counts = np.bincount(self.parent[kids], minlength=len(self.codes))
        return np.r_[0, np.cumsum(counts)], kids


def organise(engine: Engine, city_code: str = "2205") -> Org:
    """Units, task forces and district commanders for the whole tree (through the ORM)."""
    with system_session(engine) as session:
        codes = sorted(session.execute(select(Jurisdiction.code).where(
            Jurisdiction.code.startswith(city_code))).scalars())
        names = dict(session.execute(select(Jurisdiction.code, Jurisdiction.name)).all())
        units = list(session.execute(select(OrgUnit)).scalars())
        # Idempotent: a kept database measured again has its organisation already.
        body = {u.jurisdiction_code: u for u in units if u.kind in (
            OrgUnitKind.HEADQUARTERS, OrgUnitKind.STREET_OFFICE, OrgUnitKind.COMMUNITY_COMMITTEE)}
        for code in codes:
            if code in body:
                continue
            kind = OrgUnitKind.STREET_OFFICE if len(code) == 9 else OrgUnitKind.COMMUNITY_COMMITTEE
            suffix = "办事处" if len(code) == 9 else "居委会"
            body[code] = OrgUnit(jurisdiction_code=code, name=names[code] + suffix, kind=kind,
                                 parent=body.get(code[:6]))
            session.add(body[code])
        departments: dict[str, list[OrgUnit]] = {}
        for u in units:
            if u.kind is OrgUnitKind.DEPARTMENT:
                departments.setdefault(u.jurisdiction_code, []).append(u)
        for code in codes:
            if len(code) > 6 or code in departments:
                continue
            pool = CITY_DEPARTMENTS if code == city_code else DISTRICT_DEPARTMENTS
            departments[code] = [OrgUnit(jurisdiction_code=code, name=names[code] + n, kind=OrgUnitKind.DEPARTMENT,
                                         parent=body[code]) for n in pool]
            session.add_all(departments[code])
        existing = {(f.jurisdiction_code, f.key) for f in session.execute(select(TaskForce)).scalars()}
        for code in codes:
            if len(code) != 6:
                continue
            for key in KEYS:
                if (code, key) in existing:
                    continue
                name = names[code] + DEMO_TASK_FORCES[key][0]
                office = OrgUnit(jurisdiction_code=code, name=name + "办公室", kind=OrgUnitKind.TASK_FORCE_OFFICE,
                                 parent=body[code])
                session.add(TaskForce(jurisdiction_code=code, key=key, name=name, office=office,
                                      lead_leader_name=f"{names[code]}指挥长", in_charge_name=f"{names[code]}副指挥长"))
        users = {u.username: u for u in session.execute(select(User)).scalars()}
        password = hash_password("bench-only")
        personas = {}
        for code in codes:
            if len(code) != 6:
                continue
            username = "dongchang_commander" if code == "220502" else f"commander_{code}"
            if username not in users:
                users[username] = User(username=username, display_name=names[code] + "指挥长", password_hash=password,
                                       jurisdiction_code=code, grants=[RoleGrant(role=Role.COMMANDER,
                                                                                 jurisdiction_code=code)])
                session.add(users[username])
            personas[code] = username
        session.flush()

        index = {c: i for i, c in enumerate(codes)}
        level = np.array([{4: 0, 6: 1, 9: 2, 12: 3}[len(c)] for c in codes])
        parent = np.array([index.get(superior(c), -1) if c != city_code else -1 for c in codes])
        forces = np.zeros((len(codes), len(KEYS)), dtype=np.int64)
        offices = np.full((len(codes), len(KEYS)), -1, dtype=np.int64)
        by_key = {(f.jurisdiction_code, f.key): f for f in session.execute(select(TaskForce)).scalars()}
        for i, code in enumerate(codes):
            for k, key in enumerate(KEYS):
                force = by_key.get((code[:6], key)) or by_key[(city_code, key)]
                forces[i, k] = force.id
                if force.jurisdiction_code == code:
                    offices[i, k] = force.office_unit_id if force.office_unit_id is not None else -1
        commanders = {"2205": users["city_commander"].id, **{c: users[u].id for c, u in personas.items()}}
        workers = {"220502001001": users["dongchang_worker"].id, "220503001001": users["erdaojiang_worker"].id}
        org = Org(codes=codes, level=level, parent=parent,
                  body=np.array([body[c].id for c in codes]),
                  departments=[[u.id for u in departments[c if len(c) <= 6 else c[:6]]] for c in codes],
                  forces=forces, offices=offices,
                  commander=np.array([commanders.get(c, -1) for c in codes]),
                  worker=np.array([workers.get(c, -1) for c in codes]),
                  personas=personas)
        org.units = len(list(session.execute(select(OrgUnit.id)).scalars()))
        org.task_forces = len(by_key)
        return org


# ---------------------------------------------------------------- tasks


@dataclass
class Tasks:
    """The generated tasks, in id order (id = index + 1)."""

    jurisdiction: np.ndarray
    parent: np.ndarray  # index or -1
    directive: np.ndarray  # directive id or -1
    key: np.ndarray  # task force key index
    created: np.ndarray
    due: np.ndarray
    status: np.ndarray  # of TaskStatus values
    done: np.ndarray  # nan when not done
    unit: np.ndarray  # responsible unit id or -1


def _pick(rng: np.random.Generator, choices: list[list[int]], which: np.ndarray) -> np.ndarray:
    """One random element of ``choices[w]`` for each ``w`` in ``which``."""
    sizes = np.array([len(c) for c in choices])
    flat = np.array([x for c in choices for x in c])
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    return flat[starts[which] + (rng.random(len(which)) * sizes[which]).astype(np.int64)]


def _trees(rng: np.random.Generator, org: Org, roots: np.ndarray, root_directive: np.ndarray,
           keep: tuple[float, float, float]) -> dict[str, np.ndarray]:
    """Root tasks at ``roots`` and everything handed down from them, generation by generation: a task is
    handed down to each child jurisdiction of its own with the probability ``keep`` gives its level."""
    starts, kids = org.children()
    chance = np.array((*keep, 0.0))
    jur, parent, directive = [roots], [np.full(len(roots), -1)], [root_directive]
    offset = 0
    current, current_directive = roots, root_directive
    while len(current):
        counts = starts[current + 1] - starts[current]
        pos = np.repeat(np.arange(len(current)), counts)
        within = np.arange(len(pos)) - np.repeat(np.cumsum(counts) - counts, counts)
        child = kids[starts[current][pos] + within]
        taken = rng.random(len(child)) < chance[org.level[current]][pos]
        pos, child = pos[taken], child[taken]
        jur.append(child)
        parent.append(offset + pos)
        directive.append(current_directive[pos])
        offset += len(current)
        current, current_directive = child, current_directive[pos]
    return {"jurisdiction": np.concatenate(jur), "parent": np.concatenate(parent),
            "directive": np.concatenate(directive)}


def generate_tasks(org: Org, n: int, now: float, seed: int) -> tuple[Tasks, dict[str, np.ndarray]]:
    """``n`` tasks in trees of directives and of tasks entered by hand, with their statuses and times."""
    rng = np.random.default_rng(seed)
    city_i = int(np.flatnonzero(org.level == 0)[0])
    districts = np.flatnonzero(org.level == 1)
    streets = np.flatnonzero(org.level == 2)
    communities = np.flatnonzero(org.level == 3)
    keep = (0.85, 0.7, 0.55)

    def forest(scale: float) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        # Directives: a third of the city's headquarters, two thirds the districts'; 1–4 root tasks each.
        n_dir = max(1, int(scale))
        dir_jur = np.where(rng.random(n_dir) < 1 / 3, city_i, rng.choice(districts, n_dir))
        per = rng.integers(1, 5, n_dir)
        roots = np.repeat(dir_jur, per)
        root_dir = np.repeat(np.arange(1, n_dir + 1), per)
        # Tasks a street or a community enters on its own (no directive): a tenth of the roots.
        own = int(len(roots) * 0.1)
        own_jur = np.where(rng.random(own) < 0.3, rng.choice(streets, own), rng.choice(communities, own))
        trees = _trees(rng, org, np.r_[roots, own_jur], np.r_[root_dir, np.full(own, -1)], keep)
        directives = {"jurisdiction": dir_jur, "created": np.zeros(n_dir)}
        return trees, directives

    trees, directives = forest(1000)
    per_directive = len(trees["jurisdiction"]) / 1000
    trees, directives = forest(n / per_directive * 1.04)
    # Trim to n: drop community tasks (leaves) at random.
    extra = len(trees["jurisdiction"]) - n
    if extra > 0:
        leaves = np.flatnonzero(org.level[trees["jurisdiction"]] == 3)
        drop = np.zeros(len(trees["jurisdiction"]), dtype=bool)
        drop[rng.choice(leaves, extra, replace=False)] = True
        new_pos = np.cumsum(~drop) - 1
        kept = ~drop
        trees = {"jurisdiction": trees["jurisdiction"][kept], "directive": trees["directive"][kept],
                 "parent": np.where(trees["parent"][kept] >= 0, new_pos[np.maximum(trees["parent"][kept], 0)], -1)}
    jur, parent, directive = trees["jurisdiction"], trees["parent"], trees["directive"]
    count = len(jur)

    # Times, top-down (parents come before their children in the arrays).
    created = np.empty(count)
    due = np.empty(count)
    key = np.empty(count, dtype=np.int64)
    roots = parent < 0
    n_dir = len(directives["jurisdiction"])
    # More work as the outbreak grows: directives issued more often lately.
    issued = now - WEEKS * 7 * DAY * rng.random(n_dir) ** 1.6 - HOUR
    directives["created"] = issued
    root_dir = directive[roots]
    created[roots] = np.where(root_dir > 0, issued[np.maximum(root_dir, 1) - 1],
                              now - WEEKS * 7 * DAY * rng.random(int(roots.sum())) ** 1.6 - HOUR)
    due[roots] = created[roots] + rng.lognormal(np.log(5 * DAY), 0.6, int(roots.sum()))
    key[roots] = rng.integers(0, len(KEYS), int(roots.sum()))
    order = np.flatnonzero(~roots)
    # Children appear after their parents in the arrays, level by level: one vectorised pass per level.
    for lvl in (1, 2, 3):
        at = order[org.level[jur[order]] == lvl]
        p = parent[at]
        created[at] = np.minimum(created[p] + rng.uniform(0.5, 12, len(at)) * HOUR, now - 60)
        room = np.maximum(due[p] - created[at], HOUR)
        due[at] = created[at] + room * rng.uniform(0.8, 1.0, len(at))
        key[at] = key[p]
    created, due = np.floor(created), np.floor(due)

    # Statuses bottom-up: leaves from their deadlines, parents from their children.
    status = np.empty(count, dtype=object)
    done = np.full(count, np.nan)
    r = rng.random(count)
    past = due < now
    age = np.clip(now - due, 0, None)
    still_open = 0.01 + 0.15 * np.exp(-age / (3 * DAY))
    late = rng.exponential(18 * HOUR, count)
    status[past] = np.where(r[past] < still_open[past], "overdue",
                            np.where(r[past] < still_open[past] + 0.03, "cancelled", "done"))
    on_time = rng.random(count) < 0.86
    done_past = np.where(on_time, created + (due - created) * rng.uniform(0.3, 1.0, count),
                         np.minimum(due + late, now - 60))
    status[~past] = np.where(r[~past] < 0.25, "done", np.where(r[~past] < 0.65, "in_progress",
                             np.where(r[~past] < 0.95, "assigned", np.where(r[~past] < 0.98, "cancelled", "draft"))))
    done_future = created + (now - 60 - created) * rng.uniform(0.2, 1.0, count)
    done[:] = np.where(past, done_past, done_future)
    has_children = np.zeros(count, dtype=bool)
    has_children[parent[parent >= 0]] = True
    for lvl in (2, 1, 0):
        at = np.flatnonzero((org.level[jur] == lvl) & has_children)
        if not len(at):
            continue
        kids = np.flatnonzero((parent >= 0) & (org.level[jur] == lvl + 1))
        kid_closed = np.isin(status[kids], ("done", "cancelled"))
        open_kids = np.zeros(count, dtype=bool)
        open_kids[parent[kids[~kid_closed]]] = True
        last_done = np.full(count, -np.inf)
        np.maximum.at(last_done, parent[kids[kid_closed]], np.nan_to_num(done[kids[kid_closed]], nan=-np.inf))
        blocked = at[open_kids[at]]
        status[blocked] = np.where(due[blocked] < now, "overdue", "in_progress")
        free = at[~open_kids[at]]
        finishing = free[status[free] == "done"]
        done[finishing] = np.minimum(np.maximum(done[finishing], last_done[finishing] + rng.uniform(
            0.5, 6, len(finishing)) * HOUR), now - 60)
        # A task handed down is in progress from then on.
        waiting = at[np.isin(status[at], ("assigned", "draft"))]
        status[waiting] = "in_progress"
    done = np.where(status == "done", np.floor(done), np.nan)

    # The responsible unit: a task force office or department or the headquarters at the city and
    # the districts, the street office or the committee below.
    body = org.body[jur]
    office = org.offices[jur, key]
    dept = _pick(rng, org.departments, jur)
    u = rng.random(count)
    upper = org.level[jur] <= 1
    unit = np.where(upper & (u < 0.5) & (office > 0), office, np.where(upper & (u < 0.8), dept, body))
    unit = np.where(status == "draft", -1, unit)
    # Ids in the order the tasks were created, as the application writes them (a parent before its children).
    order = np.argsort(created, kind="stable")
    position = np.empty(count, dtype=np.int64)
    position[order] = np.arange(count)
    new_parent = np.where(parent[order] >= 0, position[np.maximum(parent[order], 0)], -1)
    tasks = Tasks(jurisdiction=jur[order], parent=new_parent, directive=directive[order], key=key[order],
                  created=created[order], due=due[order], status=status[order], done=done[order], unit=unit[order])
    return tasks, directives


def task_rows(org: Org, t: Tasks, now: float, seed: int) -> pa.Table:
    """Rows for ``tasks``."""
    rng = np.random.default_rng(seed + 1)
    n = len(t.jurisdiction)
    ts = city.timestamps
    status = t.status.astype(str)
    started = np.isin(status, ("in_progress", "overdue", "done"))
    start_at = t.created + (np.minimum(t.due, now - 60) - t.created) * rng.uniform(0, 0.3, n)
    overdue = status == "overdue"
    cancelled = status == "cancelled"
    late = (status == "done") & (t.done > t.due)
    escalated = overdue | late
    progress = np.where(status == "done", 100, np.where(started, rng.integers(10, 95, n), 0))
    codes = np.array(org.codes, dtype=object)[t.jurisdiction]
    origin = np.where(t.parent >= 0, "handed_down", np.where(t.directive > 0, "directive", "manual"))
    creator = org.commander[org.parent[t.jurisdiction].clip(0)]

    def when(mask: np.ndarray, values: np.ndarray) -> pa.Array:
        return pa.array(np.where(mask, (values * 1e6).astype(np.int64), 0), pa.int64(),
                        mask=~mask).cast(pa.timestamp("us", tz="UTC"))

    titles = np.array(TASK_TITLES, dtype=object)[rng.integers(0, len(TASK_TITLES), n)]
    return pa.table({
        "id": pa.array(np.arange(1, n + 1)),
        "title": pa.array(titles),
        "description": city.constant("", n),
        "status": pa.array(status),
        "origin": pa.array(origin),
        "directive_id": pa.array(t.directive, mask=t.directive <= 0),
        "parent_id": pa.array(t.parent + 1, mask=t.parent < 0),
        "task_force_id": pa.array(org.forces[t.jurisdiction, t.key]),
        "unit_id": pa.array(t.unit, mask=t.unit <= 0),
        "due_at": ts(t.due),
        "created_by_id": pa.array(creator, mask=creator <= 0),
        "created_at": ts(t.created),
        "assigned_at": when(status != "draft", t.created),
        "started_at": when(started, start_at),
        "overdue_at": when(overdue | late, t.due + 300),
        "done_at": when(status == "done", np.nan_to_num(t.done)),
        "cancelled_at": when(cancelled, np.minimum(t.created + HOUR, now - 60)),
        "escalated_at": when(escalated, t.due + 600),
        "progress": pa.array(progress),
        "outcome": pa.array(np.where(status == "done", "已完成", np.where(cancelled, "任务调整", "")).astype(object)),
        "jurisdiction_code": pa.array(codes),
    })


def responsibility_rows(org: Org, t: Tasks, seed: int) -> pa.Table:
    """Rows for ``responsibilities``: leading leader, leader in charge, responsible unit, 0–2 co-operating
    units and the named person of each assigned task (a draft has only its leaders)."""
    rng = np.random.default_rng(seed + 2)
    n = len(t.jurisdiction)
    tasks = np.arange(1, n + 1)
    assigned = t.unit > 0
    names = np.array([s + g for s in SURNAMES for g in GIVEN], dtype=object)
    jur_names = np.array(org.codes, dtype=object)
    parts: list[dict[str, Any]] = []

    def part(which: np.ndarray, role: str, unit: np.ndarray | None, user: np.ndarray | None, name: np.ndarray) -> None:
        parts.append({"task_id": tasks[which], "role": np.full(len(which), role, dtype=object),
                      "unit_id": unit if unit is not None else np.full(len(which), -1),
                      "user_id": user if user is not None else np.full(len(which), -1),
                      "name": name, "jurisdiction_code": jur_names[t.jurisdiction[which]]})

    everyone = np.arange(n)
    commander = org.commander[t.jurisdiction]
    part(everyone, "lead_leader", None, commander, np.where(commander > 0, "", "指挥长").astype(object))
    part(everyone, "leader_in_charge", None, None, names[rng.integers(0, len(names), n)] + "副指挥长")
    with_unit = np.flatnonzero(assigned)
    part(with_unit, "responsible_unit", t.unit[with_unit], None, np.full(len(with_unit), "", dtype=object))
    co = rng.choice(3, n, p=(0.3, 0.45, 0.25))
    for k in (1, 2):
        which = np.flatnonzero(assigned & (co >= k))
        co_unit = _pick(rng, org.departments, t.jurisdiction[which])
        which, co_unit = which[co_unit != t.unit[which]], co_unit[co_unit != t.unit[which]]
        if k == 2:  # not the same department twice
            first = dict(zip(parts[-1]["task_id"].tolist(), parts[-1]["unit_id"].tolist(), strict=True))
            same = np.array([first.get(int(i) + 1) == u for i, u in zip(which, co_unit, strict=True)], dtype=bool)
            which, co_unit = which[~same], co_unit[~same]
        part(which, "co_unit", co_unit, None, np.full(len(which), "", dtype=object))
    worker = org.worker[t.jurisdiction[with_unit]]
    part(with_unit, "assignee", None, worker,
         np.where(worker > 0, "", names[rng.integers(0, len(names), len(with_unit))]).astype(object))
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.argsort(cols["task_id"], kind="stable")
    cols = {k: v[order] for k, v in cols.items()}
    total = len(order)
    return pa.table({
        "id": pa.array(np.arange(1, total + 1)),
        "task_id": pa.array(cols["task_id"]),
        "role": pa.array(cols["role"]),
        "unit_id": pa.array(cols["unit_id"], mask=cols["unit_id"] <= 0),
        "user_id": pa.array(cols["user_id"], mask=cols["user_id"] <= 0),
        "name": pa.array(cols["name"]),
        "jurisdiction_code": pa.array(cols["jurisdiction_code"]),
    })


def directive_rows(org: Org, directives: dict[str, np.ndarray]) -> pa.Table:
    """Rows for ``directives``: issued, by the headquarters of the city or a district."""
    n = len(directives["jurisdiction"])
    creator = org.commander[directives["jurisdiction"]]
    return pa.table({
        "id": pa.array(np.arange(1, n + 1)),
        "title": pa.array([f"指挥部第{i}号令" for i in range(1, n + 1)]),
        "body": city.constant("", n),
        "status": city.constant("issued", n),
        "created_by_id": pa.array(creator, mask=creator <= 0),
        "created_at": city.timestamps(np.floor(directives["created"]) - HOUR),
        "issued_at": city.timestamps(np.floor(directives["created"])),
        "issued_by_id": pa.array(creator, mask=creator <= 0),
        "jurisdiction_code": pa.array(np.array(org.codes, dtype=object)[directives["jurisdiction"]]),
    })


# ---------------------------------------------------------------- problems


@dataclass
class Problems:
    """The generated problems, measures and rectifications, as tables, and their counts."""

    problems: pa.Table
    measures: pa.Table
    rectifications: pa.Table
    escalations: pa.Table
    counts: dict[str, int]


def generate_problems(org: Org, t: Tasks, n: int, now: float, seed: int) -> Problems:
    """``n`` problems with their measures and rectifications."""
    rng = np.random.default_rng(seed + 3)
    # Where: 70 % communities, 20 % streets, 8 % districts, 2 % the city.
    level = rng.choice(4, n, p=(0.02, 0.08, 0.2, 0.7))
    by_level = [np.flatnonzero(org.level == lvl) for lvl in range(4)]
    jur = np.empty(n, dtype=np.int64)
    for lvl in range(4):
        at = np.flatnonzero(level == lvl)
        jur[at] = rng.choice(by_level[lvl], len(at))
    source = rng.choice(["inspection", "direct_channel", "progress_report", "alert", "manual"], n,
                        p=(0.3, 0.15, 0.2, 0.25, 0.1))
    found = np.floor(now - WEEKS * 7 * DAY * rng.random(n) - 600)
    due = found + np.where(source == "alert", 24, 72) * HOUR
    key = rng.integers(0, len(KEYS), n)
    u = rng.random(n)
    unit = np.where(u < 0.7, org.body[jur], np.where(u < 0.85, _pick(rng, org.departments, jur),
                                                      np.where(org.offices[jur, key] > 0, org.offices[jur, key],
                                                               org.body[jur])))
    # A progress report's problem names a task of its jurisdiction.
    by_jur = np.argsort(t.jurisdiction, kind="stable")
    first = np.searchsorted(t.jurisdiction[by_jur], np.arange(len(org.codes)))
    size = np.bincount(t.jurisdiction, minlength=len(org.codes))
    has_task = (source == "progress_report") & (size[jur] > 0)
    task = np.full(n, -1)
    at = jur[has_task]
    task[has_task] = by_jur[first[at] + (rng.random(len(at)) * size[at]).astype(int)] + 1

    # Status by age: older problems are mostly closed; a young one may have no measure yet.
    age = now - found
    closed = rng.random(n) < 1 - np.exp(-age / (3 * DAY))
    with_measures = closed | (rng.random(n) < np.clip(age / DAY, 0.1, 0.9))
    per = np.where(with_measures, rng.choice([1, 2, 3], n, p=(0.5, 0.3, 0.2)), 0)
    m_problem = np.repeat(np.arange(n), per)
    m = len(m_problem)
    m_created = np.floor(np.minimum(found[m_problem] + rng.uniform(1, 24, m) * HOUR, now - 300))
    m_due = m_created + 48 * HOUR
    to_verify = np.floor(np.minimum(rng.lognormal(np.log(30 * HOUR), 0.5, m), now - 120 - m_created))
    m_closed = closed[m_problem]
    draw = rng.random(m)
    can_verify = m_created + to_verify < now - 120
    m_status = np.where(m_closed, "verified", np.where((draw < 0.3) & can_verify, "verified",
                        np.where(draw < 0.55, "submitted", np.where(m_due < now, "overdue", "open"))))
    # A problem not closed keeps at least one measure that is not verified: its last one.
    last = np.r_[m_problem[1:] != m_problem[:-1], True] if m else np.zeros(0, dtype=bool)
    m_status = np.where(last & ~m_closed & (m_status == "verified"), "submitted", m_status)
    verified = m_status == "verified"
    m_verified_at = np.where(verified, m_created + to_verify, np.nan)
    p_closed_at = np.full(n, np.nan)
    if m:
        np.fmax.at(p_closed_at, m_problem, m_verified_at)
    p_status = np.where(closed & with_measures, "closed", np.where(with_measures, "rectifying", "open"))
    reopened = rng.choice([0, 1, 2], m, p=(0.82, 0.15, 0.03))

    codes = np.array(org.codes, dtype=object)
    alert = source == "alert"
    which_alert = rng.integers(0, len(ALERT_TITLES), n)
    titles = np.where(alert, np.array([a[0] for a in ALERT_TITLES], dtype=object)[which_alert],
                      np.array(PROBLEM_TITLES, dtype=object)[rng.integers(0, len(PROBLEM_TITLES), n)])
    params = np.array(["{}"] * n, dtype=object)
    values = rng.integers(1, 5000, n)
    for i in np.flatnonzero(alert):
        params[i] = json.dumps({ALERT_TITLES[which_alert[i]][1]: int(values[i])})
    ts = city.timestamps

    def when(mask: np.ndarray, values: np.ndarray) -> pa.Array:
        return pa.array(np.where(mask, (np.nan_to_num(values) * 1e6).astype(np.int64), 0), pa.int64(),
                        mask=~mask).cast(pa.timestamp("us", tz="UTC"))

    p_closed = p_status == "closed"
    problem_ids = np.arange(1, n + 1)
    problems = pa.table({
        "id": pa.array(problem_ids),
        "title": pa.array(titles),
        "description": city.constant("", n),
        "params": pa.array(params),
        "source": pa.array(source.astype(object)),
        "source_key": pa.array(np.char.add("bench.alert:", problem_ids.astype(str)).astype(object), mask=~alert),
        "status": pa.array(p_status.astype(object)),
        "task_id": pa.array(task, mask=task <= 0),
        "unit_id": pa.array(unit),
        "task_force_id": pa.array(org.forces[jur, key]),
        "found_at": ts(found),
        "due_at": ts(due),
        "closed_at": when(p_closed, p_closed_at),
        "escalated_at": when(~p_closed & (due < now), due + 600),
        "created_at": ts(found + 60),
        "jurisdiction_code": pa.array(codes[jur]),
    })
    owner = np.where(rng.random(m) < 0.8, unit[m_problem], _pick(rng, org.departments, jur[m_problem]))
    m_ids = np.arange(1, m + 1)
    measures = pa.table({
        "id": pa.array(m_ids),
        "problem_id": pa.array(m_problem + 1),
        "title": pa.array(np.char.add("整改措施", (np.arange(m) % 3 + 1).astype(str)).astype(object)),
        "status": pa.array(m_status.astype(object)),
        "owner_unit_id": pa.array(owner),
        "owner_name": city.constant("", m),
        "due_at": ts(m_due),
        "created_at": ts(m_created),
        "overdue_at": when(m_status == "overdue", m_due + 300),
        "escalated_at": when(m_status == "overdue", m_due + 600),
        "verified_at": when(verified, m_verified_at),
        "seconds_to_verified": pa.array(np.where(verified, to_verify, 0).astype(np.int64), mask=~verified),
        "times_reopened": pa.array(reopened),
        "jurisdiction_code": pa.array(codes[jur[m_problem]]),
    })

    # Rectifications: each failed one before the last, then the one verified or awaiting verification.
    submitted_last = np.isin(m_status, ("verified", "submitted"))
    per_m = reopened + submitted_last
    r_measure = np.repeat(np.arange(m), per_m)
    r_pos = np.arange(len(r_measure)) - np.repeat(np.cumsum(per_m) - per_m, per_m)
    r_is_last = r_pos == per_m[r_measure] - 1
    span = np.where(verified, m_verified_at, now - 120)[r_measure] - m_created[r_measure]
    r_submitted = np.floor(m_created[r_measure] + span * (r_pos + 0.5) / (per_m[r_measure] + 0.5))
    final = r_is_last & submitted_last[r_measure]
    r_status = np.where(final, np.where(verified[r_measure], "verified", "submitted"), "rejected")
    r_verified = np.where(r_status == "verified", m_verified_at[r_measure],
                          np.where(r_status == "rejected", r_submitted + 0.3 * span / (per_m[r_measure] + 0.5), np.nan))
    k = len(r_measure)
    done = r_status != "submitted"
    rectifications = pa.table({
        "id": pa.array(np.arange(1, k + 1)),
        "measure_id": pa.array(r_measure + 1),
        "status": pa.array(r_status.astype(object)),
        "evidence": city.constant("已整改，附现场照片", k),
        "submitted_by_name": pa.array(np.array(["网格员", "街道干部", "专班联络员"], dtype=object)[r_pos % 3]),
        "submitted_at": ts(r_submitted),
        "verify_due_at": ts(r_submitted + 24 * HOUR),
        "verified_by_name": pa.array(np.where(done, "督导组", "").astype(object)),
        "verified_at": when(done, np.floor(np.nan_to_num(r_verified))),
        "verdict": pa.array(np.where(r_status == "rejected", "整改不到位", "").astype(object)),
        "jurisdiction_code": pa.array(codes[jur[m_problem[r_measure]]]),
    })

    # Escalations (督办) of what ran out of time: overdue tasks and tasks done late, overdue measures,
    # problems past their deadline and still open.
    t_status = t.status.astype(str)
    t_esc = np.flatnonzero((t_status == "overdue") | ((t_status == "done") & (t.done > t.due)))
    m_esc = np.flatnonzero(m_status == "overdue")
    p_esc = np.flatnonzero(~p_closed & (due < now))
    kinds = np.r_[np.full(len(t_esc), "task", dtype=object), np.full(len(m_esc), "measure", dtype=object),
                  np.full(len(p_esc), "problem", dtype=object)]
    item = np.r_[t_esc + 1, m_esc + 1, p_esc + 1]
    item_jur = np.r_[t.jurisdiction[t_esc], jur[m_problem[m_esc]], jur[p_esc]]
    item_due = np.r_[t.due[t_esc], m_due[m_esc], due[p_esc]]
    resolved = np.r_[np.nan_to_num(t.done[t_esc], nan=0), np.zeros(len(m_esc) + len(p_esc))]
    superior_code = np.array([superior(c) for c in org.codes], dtype=object)
    e = len(item)
    escalations = pa.table({
        "id": pa.array(np.arange(1, e + 1)),
        "item_kind": pa.array(kinds),
        "item_id": pa.array(item),
        "to_code": pa.array(superior_code[item_jur]),
        "due_at": ts(item_due),
        "at": ts(item_due + 600),
        "resolved_at": when(resolved > 0, resolved),
        "jurisdiction_code": pa.array(codes[item_jur]),
    })
    counts = {"problems": n, "measures": m, "rectifications": k, "escalations": e,
              "problems closed": int(p_closed.sum()), "measures verified": int(verified.sum())}
    return Problems(problems, measures, rectifications, escalations, counts)


# ---------------------------------------------------------------- load

TABLES = ("directives", "tasks", "responsibilities", "problems", "measures", "rectifications", "escalations")


def load(engine: Engine, tables: dict[str, pa.Table]) -> None:
    """Write the generated tables (indexes dropped and rebuilt), then let the id sequences continue."""
    sqlite = engine.dialect.name == "sqlite"
    names = [t for t in TABLES if t in tables]
    with city.indexes_dropped(engine, names), city.raw_load(engine) as dbapi:
        for name in names:
            city.write_rows(dbapi, sqlite, name, tables[name])
    city.reset_sequences(engine, names)
