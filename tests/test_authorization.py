"""The authorization matrix: every persona against every route, in and out of their jurisdiction.

``EXPECTED`` below is the whole policy as a table: one row per case (a route with concrete
parameters), one column per persona. Every (case, persona) pair is one test, and besides the status
each test checks what the response shows and what the request changed:

* everything a response lists (persons, jurisdictions, users, jobs, audit entries) lies inside the
  persona's jurisdiction, and API lists hold exactly the rows of that jurisdiction;
* a full ID number appears only in a successful reveal of that very person;
* a write changes the database exactly when it is allowed; a refused one leaves it as it was;
* a record hidden because it lies outside the scope answers 404, like a missing one, and the
  attempt is in the audit log;
* testing records (rounds, sites, tubes, samples, door visits, results) are seen from the
  persona's testing scope, and a round from anywhere inside or above its area.

``test_every_route_is_in_the_matrix`` fails when a route is added without a row here.

Status conventions: 401 for the anonymous persona means "401 from the API, a 303 to /login from a
page"; 303 otherwise is the redirect a page sends after doing its work. 403: the role lacks the
permission anywhere. 404: the record lies outside the persona's jurisdiction (or does not exist).
422: the input names something outside it (a jurisdiction, a household, a facility).

Personas are signed in through ``users.start_session``, the step of the login form that follows
the password check, so a test does not spend an argon2 verification per persona; the login form
itself is a case of the matrix.
"""

from __future__ import annotations

import hashlib
import io
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from openpyxl import load_workbook
from sqlalchemy import ColumnElement, Connection, Engine, func, or_, select
from sqlalchemy.orm import Session

from fangkong.app import create_app
from fangkong.command import channel, inspections, manuals
from fangkong.command import models as cmd
from fangkong.command.channel_models import DirectMessage, DirectReply
from fangkong.command.manual_models import ManualVersion
from fangkong.command.models import OrgUnit, OrgUnitKind
from fangkong.config import Settings
from fangkong.core.audit import Action, AuditEntry
from fangkong.core.auth import Permission, Role
from fangkong.core.db import system_session, utcnow
from fangkong.core.deps import SESSION_COOKIE
from fangkong.core.jobs import Job, JobState
from fangkong.core.scope import Principal, covers
from fangkong.geo.models import Facility, FacilityKind, Jurisdiction, Place
from fangkong.people.identity import check_digit
from fangkong.people.models import Household, Person, Whereabouts
from fangkong.synth import demo
from fangkong.testing import results, service
from fangkong.testing.coverage import STANDING
from fangkong.testing.models import (
    Control,
    DoorVisit,
    OrderMember,
    Outcome,
    ResampleOrder,
    ResultImport,
    Round,
    RoundArea,
    Sample,
    SamplingSite,
    Tube,
    TubeResult,
)
from fangkong.testing.schemas import EntryStatus, RoundIn, SampleBatch, SiteIn
from fangkong.tracing import service as tracing
from fangkong.tracing.models import Case as TracingCase
from fangkong.tracing.models import CaseKind, Contact, ContactKind, FoundBy, Investigation, RunState, TracingRun
from fangkong.tracing.schemas import CaseIn, ItineraryIn
from fangkong.users import service as users
from fangkong.users.models import RoleGrant, User
from tests.conftest import ADMIN, CITY_COMMANDER, DC_COMMANDER, LAB, VIEWER, WORKER_DC, WORKER_EDJ, Client

DC_COMMUNITY = "220502001001"  # 新站社区, 东昌区: the dongchang worker's community
DC_NEIGHBOUR_COMMUNITY = "220502002001"  # 老站社区: same district, another community
EDJ_COMMUNITY = "220503001001"  # 东通化社区, 二道江区

# Personas besides the demo users of conftest.
ANONYMOUS = "anonymous"
DC_ADMIN = "dongchang_admin"  # administrator of 东昌区 only, created by the test
SUPPLY = "supply"  # supply staff of the city: reads people, may not reveal or change them
LAB_TOKEN = "lab_token"  # the lab's machine client, with an API token
WORKER_DC_TOKEN = "dongchang_worker_token"  # the dongchang worker's phone app, with an API token
# A worker of 新站社区 who also views the city's aggregates: two grants, two scopes. Created by the test.
WORKER_VIEWER = "dongchang_worker_viewer"
# A worker of 新站社区 who is also supply staff of 东昌区: reads the district's people, changes only the
# community's. Created by the test.
WORKER_SUPPLY = "dongchang_worker_supply"


@dataclass(frozen=True)
class Persona:
    """Who sends the requests: which account, how it authenticates, and its jurisdiction."""

    name: str
    username: str | None = None
    home: str = ""  # where it reads records (people, users, jobs, audit); writes are judged by the table
    via_token: bool = False
    geo: str = ""  # where it reads the jurisdiction tree, when that is wider than ``home``
    testing: str = ""  # where it reads testing records, when that is narrower than ``home``

    @property
    def geo_scope(self) -> str:
        """Where the persona reads jurisdictions (and sees their codes)."""
        return self.geo or self.home

    @property
    def testing_scope(self) -> str:
        """Where the persona reads testing records (rounds reach it from above)."""
        return self.testing or self.home


PERSONAS: tuple[Persona, ...] = (
    Persona(ANONYMOUS),
    Persona(WORKER_DC, WORKER_DC, DC_COMMUNITY),
    Persona(WORKER_EDJ, WORKER_EDJ, EDJ_COMMUNITY),
    Persona(DC_COMMANDER, DC_COMMANDER, "220502"),
    Persona(CITY_COMMANDER, CITY_COMMANDER, "2205"),
    Persona(ADMIN, ADMIN, "2205"),
    Persona(DC_ADMIN, DC_ADMIN, "220502"),
    Persona(SUPPLY, SUPPLY, "2205"),
    Persona(LAB, LAB, "220502"),
    Persona(VIEWER, VIEWER, "2205"),
    Persona(LAB_TOKEN, LAB, "220502", via_token=True),
    Persona(WORKER_DC_TOKEN, WORKER_DC, DC_COMMUNITY, via_token=True),
    Persona(WORKER_VIEWER, WORKER_VIEWER, DC_COMMUNITY, geo="2205"),
    Persona(WORKER_SUPPLY, WORKER_SUPPLY, "220502", testing=DC_COMMUNITY),
)
PERSONA = {p.name: p for p in PERSONAS}

# fmt: off
EXPECTED: dict[str, tuple[int, ...]] = {
    # case                              anon wDC  wEDJ cDC  city adm  aDC  sup  lab  view labT wDCT w+V  w+S
    # The shell: login, logout, language, the overview.
    "shell.login_form":                (200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "shell.login":                     (303, 303, 303, 303, 303, 303, 303, 303, 303, 303, 303, 303, 303, 303),
    "shell.logout":                    (401, 303, 303, 303, 303, 303, 303, 303, 303, 303, 303, 303, 303, 303),
    "shell.language":                  (303, 303, 303, 303, 303, 303, 303, 303, 303, 303, 303, 303, 303, 303),
    "shell.overview":                  (401, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    # The jurisdiction tree: pages and API.
    "geo.tree":                        (401, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "geo.page.dc":                     (401, 404, 404, 200, 200, 200, 200, 200, 200, 200, 200, 404, 200, 200),
    "geo.page.edj_community":          (401, 404, 200, 404, 200, 200, 404, 200, 404, 200, 404, 404, 200, 404),
    "geo.page.city":                   (401, 404, 404, 404, 200, 200, 404, 200, 404, 200, 404, 404, 200, 404),
    "api.jurisdictions":               (401, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "api.jurisdictions.under_edj":     (401, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "api.jurisdiction.dc_community":   (401, 200, 404, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "api.jurisdiction.dc":             (401, 404, 404, 200, 200, 200, 200, 200, 200, 200, 200, 404, 200, 200),
    "api.jurisdiction.edj_community":  (401, 404, 200, 404, 200, 200, 404, 200, 404, 200, 404, 404, 200, 404),
    "api.jurisdiction.city":           (401, 404, 404, 404, 200, 200, 404, 200, 404, 200, 404, 404, 200, 404),
    "api.jurisdiction.province":       (401, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404),
    # People: pages.
    "people.search":                   (401, 200, 200, 200, 200, 200, 200, 200, 403, 403, 403, 200, 200, 200),
    "people.search.edj_id_tail":       (401, 200, 200, 200, 200, 200, 200, 200, 403, 403, 403, 200, 200, 200),
    "people.new_form":                 (401, 200, 200, 403, 403, 200, 200, 403, 403, 403, 403, 200, 200, 200),
    "people.register.dc":              (401, 303, 422, 403, 403, 303, 303, 403, 403, 403, 403, 303, 303, 303),
    "people.register.edj":             (401, 422, 303, 403, 403, 303, 422, 403, 403, 403, 403, 422, 403, 422),
    "people.page.dc":                  (401, 200, 404, 200, 200, 200, 200, 200, 403, 403, 403, 200, 200, 200),
    "people.page.dc_neighbour":        (401, 404, 404, 200, 200, 200, 200, 200, 403, 403, 403, 404, 404, 200),
    "people.page.edj":                 (401, 404, 200, 404, 200, 200, 404, 200, 403, 403, 403, 404, 404, 404),
    "people.page.missing":             (401, 404, 404, 404, 404, 404, 404, 404, 403, 403, 403, 404, 404, 404),
    "people.reveal.dc":                (401, 200, 404, 200, 200, 200, 200, 403, 403, 403, 403, 200, 200, 200),
    "people.reveal.edj":               (401, 404, 200, 404, 200, 200, 404, 403, 403, 403, 403, 404, 404, 404),
    # People: API.
    "api.persons":                     (401, 200, 200, 200, 200, 200, 200, 200, 403, 403, 403, 200, 200, 200),
    "api.persons.within_edj":          (401, 200, 200, 200, 200, 200, 200, 200, 403, 403, 403, 200, 200, 200),
    "api.persons.edj_id_tail":         (401, 200, 200, 200, 200, 200, 200, 200, 403, 403, 403, 200, 200, 200),
    "api.person.dc":                   (401, 200, 404, 200, 200, 200, 200, 200, 403, 403, 403, 200, 200, 200),
    "api.person.dc_neighbour":         (401, 404, 404, 200, 200, 200, 200, 200, 403, 403, 403, 404, 404, 200),
    "api.person.edj":                  (401, 404, 200, 404, 200, 200, 404, 200, 403, 403, 403, 404, 404, 404),
    "api.person.missing":              (401, 404, 404, 404, 404, 404, 404, 404, 403, 403, 403, 404, 404, 404),
    "api.persons.post.dc":             (401, 201, 422, 403, 403, 201, 201, 403, 403, 403, 403, 201, 201, 201),
    "api.persons.post.edj":            (401, 422, 201, 403, 403, 201, 422, 403, 403, 403, 403, 422, 403, 422),
    "api.persons.post.dc_neighbour":   (401, 422, 422, 403, 403, 201, 201, 403, 403, 403, 403, 422, 403, 403),
    "api.persons.post.edj_household":  (401, 422, 422, 403, 403, 201, 422, 403, 403, 403, 403, 422, 422, 422),
    "api.person.patch.dc":             (401, 200, 404, 403, 403, 200, 200, 403, 403, 403, 403, 200, 200, 200),
    "api.person.patch.dc_neighbour":   (401, 404, 404, 403, 403, 200, 200, 403, 403, 403, 403, 404, 404, 403),
    "api.person.patch.edj":            (401, 404, 200, 403, 403, 200, 404, 403, 403, 403, 403, 404, 404, 404),
    "api.person.patch.edj_household":  (401, 422, 404, 403, 403, 200, 422, 403, 403, 403, 403, 422, 422, 422),
    "api.person.reveal.dc":            (401, 200, 404, 200, 200, 200, 200, 403, 403, 403, 403, 200, 200, 200),
    "api.person.reveal.dc_neighbour":  (401, 404, 404, 200, 200, 200, 200, 403, 403, 403, 403, 404, 404, 403),
    "api.person.reveal.edj":           (401, 404, 200, 404, 200, 200, 404, 403, 403, 403, 403, 404, 404, 404),
    # Users.
    "users.page":                      (401, 403, 403, 200, 200, 200, 200, 403, 403, 403, 403, 403, 403, 403),
    "api.users.me":                    (401, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "api.users":                       (401, 403, 403, 200, 200, 200, 200, 403, 403, 403, 403, 403, 403, 403),
    "api.users.create.dc":             (401, 403, 403, 403, 403, 201, 201, 403, 403, 403, 403, 403, 403, 403),
    "api.users.create.edj":            (401, 403, 403, 403, 403, 201, 422, 403, 403, 403, 403, 403, 403, 403),
    "api.users.create.province":       (401, 403, 403, 403, 403, 422, 422, 403, 403, 403, 403, 403, 403, 403),
    "api.users.create.two_districts":  (401, 403, 403, 403, 403, 201, 422, 403, 403, 403, 403, 403, 403, 403),
    "api.users.create.edj_facility":   (401, 403, 403, 403, 403, 201, 422, 403, 403, 403, 403, 403, 403, 403),
    # The audit log and the jobs.
    "audit.page":                      (401, 403, 403, 200, 200, 200, 200, 403, 403, 403, 403, 403, 403, 403),
    "jobs.page":                       (401, 403, 403, 200, 200, 200, 200, 403, 403, 403, 403, 403, 403, 403),
    "jobs.progress.dc":                (401, 403, 403, 200, 200, 200, 200, 403, 403, 403, 403, 403, 403, 403),
    "jobs.progress.edj":               (401, 403, 403, 404, 200, 200, 404, 403, 403, 403, 403, 403, 403, 403),
    "jobs.rerun.dc":                   (401, 403, 403, 403, 403, 303, 303, 403, 403, 403, 403, 403, 403, 403),
    "jobs.rerun.edj":                  (401, 403, 403, 403, 403, 303, 404, 403, 403, 403, 403, 403, 403, 403),
    # Testing: rounds are seen from inside or above their area; a 二道江区 round is missing to 东昌区.
    "testing.rounds":                  (401, 200, 200, 200, 200, 200, 200, 403, 403, 403, 403, 200, 200, 200),
    "testing.open_round.dc":           (401, 403, 403, 403, 403, 303, 303, 403, 403, 403, 403, 403, 403, 403),
    "testing.open_round.edj":          (401, 403, 403, 403, 403, 303, 422, 403, 403, 403, 403, 403, 403, 403),
    "testing.round.city":              (401, 200, 200, 200, 200, 200, 200, 403, 403, 403, 403, 200, 200, 200),
    "testing.round.edj":               (401, 404, 200, 404, 200, 200, 404, 403, 403, 403, 403, 404, 404, 404),
    "testing.alerts.city":             (401, 200, 200, 200, 200, 200, 200, 403, 403, 403, 403, 200, 200, 200),
    "testing.planner":                 (401, 200, 200, 200, 200, 200, 200, 403, 403, 403, 403, 200, 200, 200),
    "api.testing.rounds":              (401, 200, 200, 200, 200, 200, 200, 403, 403, 403, 403, 200, 200, 200),
    "api.testing.rounds.create.edj":   (401, 403, 403, 403, 403, 201, 422, 403, 403, 403, 403, 403, 403, 403),
    "api.testing.round.edj":           (401, 404, 200, 404, 200, 200, 404, 403, 403, 403, 403, 404, 404, 404),
    "api.testing.coverage.city":       (401, 200, 200, 200, 200, 200, 200, 403, 403, 403, 403, 200, 200, 200),
    "api.testing.coverage.under_edj":  (401, 404, 404, 404, 200, 200, 404, 403, 403, 403, 403, 404, 200, 404),
    "api.testing.orders.city":         (401, 200, 200, 200, 200, 200, 200, 403, 403, 403, 403, 200, 200, 200),
    "api.testing.planner":             (401, 200, 200, 200, 200, 200, 200, 403, 403, 403, 403, 200, 200, 200),
    # Testing: the door-to-door list of a community, its marks and its export.
    "testing.untested.dc":             (401, 200, 404, 200, 200, 200, 200, 403, 403, 403, 403, 200, 200, 200),
    "testing.untested.dc_neighbour":   (401, 404, 404, 200, 200, 200, 200, 403, 403, 403, 403, 404, 404, 403),
    "testing.untested.edj":            (401, 404, 200, 404, 200, 200, 404, 403, 403, 403, 403, 404, 404, 404),
    "testing.mark_door.dc":            (401, 200, 404, 403, 403, 200, 200, 403, 403, 403, 403, 200, 200, 200),
    "testing.mark_door.edj":           (401, 404, 200, 403, 403, 200, 404, 403, 403, 403, 403, 404, 404, 404),
    "api.testing.door_visit.dc":       (401, 200, 404, 403, 403, 200, 200, 403, 403, 403, 403, 200, 200, 200),
    "api.testing.door_visit.dc_neighbour": (401, 404, 404, 403, 403, 200, 200, 403, 403, 403, 403, 404, 404, 403),
    "testing.export.dc":               (401, 200, 404, 200, 200, 200, 200, 403, 403, 403, 403, 200, 200, 200),
    "testing.export.edj":              (401, 404, 200, 404, 200, 200, 404, 403, 403, 403, 403, 404, 404, 404),
    # Testing: sites, samples, tubes. A lab reads the tubes sent to it, nothing else.
    "api.testing.sites":               (401, 200, 200, 200, 200, 200, 200, 403, 403, 403, 403, 200, 200, 200),
    "testing.sites_page":              (401, 200, 200, 200, 200, 200, 200, 403, 403, 403, 403, 200, 200, 200),
    "testing.add_site.dc":             (401, 403, 403, 403, 403, 303, 303, 403, 403, 403, 403, 403, 403, 403),
    "api.testing.sites.create.dc":     (401, 403, 403, 403, 403, 201, 201, 403, 403, 403, 403, 403, 403, 403),
    "api.testing.sites.create.edj":    (401, 403, 403, 403, 403, 201, 422, 403, 403, 403, 403, 403, 403, 403),
    "api.testing.sites.create.serves_edj": (401, 403, 403, 403, 403, 201, 422, 403, 403, 403, 403, 403, 403, 403),
    "api.testing.samples.batch":       (401, 403, 403, 403, 403, 200, 200, 403, 403, 403, 403, 403, 403, 403),
    "api.testing.tube.dc_sent":        (401, 403, 403, 200, 200, 200, 200, 403, 200, 403, 200, 403, 403, 403),
    "api.testing.tube.dc_other_lab":   (401, 403, 403, 200, 200, 200, 200, 403, 404, 403, 404, 403, 403, 403),
    "api.testing.tube.edj_sent":       (401, 403, 403, 404, 200, 200, 404, 403, 404, 403, 404, 403, 403, 403),
    "api.testing.tube.close.dc_open":  (401, 403, 403, 403, 403, 200, 200, 403, 403, 403, 403, 403, 403, 403),
    "api.testing.tube.close.edj_open": (401, 403, 403, 403, 403, 200, 404, 403, 403, 403, 403, 403, 403, 403),
    "api.testing.shipments.dc":        (401, 403, 403, 403, 403, 200, 200, 403, 403, 403, 403, 403, 403, 403),
    "api.testing.shipments.edj":       (401, 403, 403, 403, 403, 200, 422, 403, 403, 403, 403, 403, 403, 403),
    # Testing: lab results, uploaded as a file (a job, on the page) or through the API.
    "testing.results_page":            (401, 403, 403, 403, 403, 200, 200, 403, 200, 403, 200, 403, 403, 403),
    "testing.upload":                  (401, 403, 403, 403, 403, 200, 200, 403, 200, 403, 200, 403, 403, 403),
    "testing.upload_progress.own":     (401, 403, 403, 403, 403, 200, 200, 403, 200, 403, 200, 403, 403, 403),
    "testing.upload_progress.dc_other": (401, 403, 403, 403, 403, 200, 200, 403, 404, 403, 404, 403, 403, 403),
    "testing.template.xlsx":           (200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "api.testing.results.own":         (401, 403, 403, 403, 403, 200, 200, 403, 200, 403, 200, 403, 403, 403),
    "api.testing.results.other_lab_tube": (401, 403, 403, 403, 403, 422, 422, 403, 422, 403, 422, 403, 403, 403),
    "api.testing.results.edj":         (401, 403, 403, 403, 403, 200, 422, 403, 422, 403, 422, 403, 403, 403),
    # Tracing: cases and investigations are read with tracing:read (commanders) and written with
    # tracing:write (here only the administrators); contacts are read and marked where they live.
    "tracing.cases":                   (401, 403, 403, 200, 200, 200, 200, 403, 403, 403, 403, 403, 403, 403),
    "tracing.persons":                 (401, 403, 403, 403, 403, 200, 200, 403, 403, 403, 403, 403, 403, 403),
    "tracing.report.dc":               (401, 403, 403, 403, 403, 303, 303, 403, 403, 403, 403, 403, 403, 403),
    "tracing.report.edj":              (401, 403, 403, 403, 403, 303, 422, 403, 403, 403, 403, 403, 403, 403),
    "tracing.case.dc":                 (401, 403, 403, 200, 200, 200, 200, 403, 403, 403, 403, 403, 403, 403),
    "tracing.case.edj":                (401, 403, 403, 404, 200, 200, 404, 403, 403, 403, 403, 403, 403, 403),
    "tracing.source.dc":               (401, 403, 403, 403, 403, 303, 303, 403, 403, 403, 403, 403, 403, 403),
    "tracing.source.edj_source":       (401, 403, 403, 403, 403, 303, 422, 403, 403, 403, 403, 403, 403, 403),
    "tracing.investigation.dc":        (401, 403, 403, 200, 200, 200, 200, 403, 403, 403, 403, 403, 403, 403),
    "tracing.investigation.edj":       (401, 403, 403, 404, 200, 200, 404, 403, 403, 403, 403, 403, 403, 403),
    "tracing.save_investigation.dc":   (401, 403, 403, 403, 403, 303, 303, 403, 403, 403, 403, 403, 403, 403),
    "tracing.save_investigation.edj":  (401, 403, 403, 403, 403, 303, 404, 403, 403, 403, 403, 403, 403, 403),
    "tracing.itinerary.dc":            (401, 403, 403, 403, 403, 303, 303, 403, 403, 403, 403, 403, 403, 403),
    "tracing.itinerary.remove.dc":     (401, 403, 403, 403, 403, 303, 303, 403, 403, 403, 403, 403, 403, 403),
    "tracing.named.dc":                (401, 403, 403, 403, 403, 303, 303, 403, 403, 403, 403, 403, 403, 403),
    "tracing.complete_core.dc":        (401, 403, 403, 403, 403, 303, 303, 403, 403, 403, 403, 403, 403, 403),
    "tracing.complete_core.edj":       (401, 403, 403, 403, 403, 303, 404, 403, 403, 403, 403, 403, 403, 403),
    "tracing.complete_report.dc2":     (401, 403, 403, 403, 403, 303, 303, 403, 403, 403, 403, 403, 403, 403),
    "tracing.contacts":                (401, 200, 200, 200, 200, 200, 200, 403, 403, 403, 403, 200, 200, 200),
    "tracing.controlled.dc":           (401, 303, 404, 403, 403, 303, 303, 403, 403, 403, 403, 303, 303, 303),
    "tracing.controlled.dc_neighbour": (401, 404, 404, 403, 403, 303, 303, 403, 403, 403, 403, 404, 404, 404),
    "tracing.start_run.dc":            (401, 403, 403, 403, 403, 303, 303, 403, 403, 403, 403, 403, 403, 403),
    "tracing.start_run.edj":           (401, 403, 403, 403, 403, 303, 422, 403, 403, 403, 403, 403, 403, 403),
    "tracing.run.dc":                  (401, 403, 403, 200, 200, 200, 200, 403, 403, 403, 403, 403, 403, 403),
    "tracing.run.edj":                 (401, 403, 403, 404, 200, 200, 404, 403, 403, 403, 403, 403, 403, 403),
    "tracing.run_progress.dc":         (401, 403, 403, 200, 200, 200, 200, 403, 403, 403, 403, 403, 403, 403),
    "tracing.timeliness":              (401, 403, 403, 200, 200, 200, 200, 403, 403, 403, 403, 403, 403, 403),
    "tracing.chains":                  (401, 403, 403, 200, 200, 200, 200, 403, 403, 403, 403, 403, 403, 403),
    "tracing.chain.dc":                (401, 403, 403, 200, 200, 200, 200, 403, 403, 403, 403, 403, 403, 403),
    "tracing.chain.edj":               (401, 403, 403, 404, 200, 200, 404, 403, 403, 403, 403, 403, 403, 403),
    "api.tracing.cases":               (401, 403, 403, 200, 200, 200, 200, 403, 403, 403, 403, 403, 403, 403),
    "api.tracing.cases.post.dc":       (401, 403, 403, 403, 403, 201, 201, 403, 403, 403, 403, 403, 403, 403),
    "api.tracing.cases.post.edj":      (401, 403, 403, 403, 403, 201, 404, 403, 403, 403, 403, 403, 403, 403),
    "api.tracing.case.dc":             (401, 403, 403, 200, 200, 200, 200, 403, 403, 403, 403, 403, 403, 403),
    "api.tracing.case.edj":            (401, 403, 403, 404, 200, 200, 404, 403, 403, 403, 403, 403, 403, 403),
    "api.tracing.case.patch.dc":       (401, 403, 403, 403, 403, 200, 200, 403, 403, 403, 403, 403, 403, 403),
    "api.tracing.case.patch.edj":      (401, 403, 403, 403, 403, 200, 404, 403, 403, 403, 403, 403, 403, 403),
    "api.tracing.itinerary.dc":        (401, 403, 403, 403, 403, 201, 201, 403, 403, 403, 403, 403, 403, 403),
    "api.tracing.named.dc":            (401, 403, 403, 403, 403, 201, 201, 403, 403, 403, 403, 403, 403, 403),
    "api.tracing.complete_core.dc":    (401, 403, 403, 403, 403, 200, 200, 403, 403, 403, 403, 403, 403, 403),
    "api.tracing.complete_report.dc2": (401, 403, 403, 403, 403, 200, 200, 403, 403, 403, 403, 403, 403, 403),
    "api.tracing.contacts":            (401, 200, 200, 200, 200, 200, 200, 403, 403, 403, 403, 200, 200, 200),
    "api.tracing.controlled.dc":       (401, 200, 404, 403, 403, 200, 200, 403, 403, 403, 403, 200, 200, 200),
    "api.tracing.controlled.edj":      (401, 404, 200, 403, 403, 200, 404, 403, 403, 403, 403, 404, 404, 404),
    "api.tracing.runs.post":           (401, 403, 403, 403, 403, 201, 201, 403, 403, 403, 403, 403, 403, 403),
    "api.tracing.run.dc":              (401, 403, 403, 200, 200, 200, 200, 403, 403, 403, 403, 403, 403, 403),
    "api.tracing.run.edj":             (401, 403, 403, 404, 200, 200, 404, 403, 403, 403, 403, 403, 403, 403),
    "api.tracing.chain.dc":            (401, 403, 403, 200, 200, 200, 200, 403, 403, 403, 403, 403, 403, 403),
    "api.tracing.chain.edj":           (401, 403, 403, 404, 200, 200, 404, 403, 403, 403, 403, 403, 403, 403),
    # --- Operation manuals: every signed-in user reads them; a version published for 东昌区 is read in and
    # above 东昌区 (missing to 二道江区); publishing takes directives:write over the chosen jurisdiction.
    "manuals.index":                   (401, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "manuals.search":                  (401, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "manuals.for":                     (401, 303, 303, 303, 303, 303, 303, 303, 303, 303, 303, 303, 303, 303),
    "manuals.page":                    (401, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "manuals.page.missing":            (401, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404),
    "manuals.history":                 (401, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "manuals.version.dc":              (401, 200, 404, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "manuals.publish_form":            (401, 403, 403, 200, 200, 200, 200, 403, 403, 403, 403, 403, 403, 403),
    "manuals.publish.dc":              (401, 403, 403, 303, 303, 303, 303, 403, 403, 403, 403, 403, 403, 403),
    "manuals.publish.edj":             (401, 403, 403, 422, 303, 303, 422, 403, 403, 403, 403, 403, 403, 403),
    # --- end of operation manuals
    # Charts of the command module: plans (Gantt), flow charts, assessment and its export, templates, the
    # overview's work loop. A city plan handed down to 新站社区 is seen as a sub-plan from below; a plan of
    # 二道江区 only is missing to 东昌区.
    "charts.plans":                    (401, 200, 200, 200, 200, 200, 200, 200, 403, 403, 403, 200, 200, 200),
    "charts.plan.city":                (401, 200, 404, 200, 200, 200, 200, 200, 403, 403, 403, 200, 200, 200),
    "charts.plan.edj":                 (401, 404, 200, 404, 200, 200, 404, 200, 403, 403, 403, 404, 404, 404),
    "api.charts.plan.city":            (401, 200, 404, 200, 200, 200, 200, 200, 403, 403, 403, 200, 200, 200),
    "api.charts.plan.edj":             (401, 404, 200, 404, 200, 200, 404, 200, 403, 403, 403, 404, 404, 404),
    "charts.flows":                    (401, 200, 200, 200, 200, 200, 200, 200, 403, 200, 403, 200, 200, 200),
    "charts.flows.under_edj":          (401, 404, 404, 404, 200, 200, 404, 200, 403, 200, 403, 404, 200, 404),
    "charts.assessment":               (401, 200, 200, 200, 200, 200, 200, 200, 403, 200, 403, 200, 200, 200),
    "charts.assessment.export":        (401, 200, 200, 200, 200, 200, 200, 200, 403, 200, 403, 200, 200, 200),
    "charts.templates":                (401, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "charts.template.trace_cases":     (401, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "charts.overview.work_loop":       (401, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    # --- Inspections (四不两直) and the direct channel (厅局长直通车) ---------------------------------
    # Inspections and the channel's messages are read with command:read and written with command:write
    # where their site or sender's area lies; a sender's contact is revealed only with command:write
    # over the handling unit's level (新站社区's message: 东昌区's testing office; 东通化社区's: the city's).
    # The public pages answer everyone, signed in or not.
    "inspections.list":                (401, 200, 200, 200, 200, 200, 200, 200, 403, 403, 403, 200, 200, 200),
    "inspections.new_form":            (401, 200, 200, 200, 200, 200, 200, 200, 403, 403, 403, 200, 200, 200),
    "inspections.record.dc":           (401, 303, 422, 303, 303, 303, 303, 303, 403, 403, 403, 303, 303, 303),
    "inspections.record.edj":          (401, 422, 303, 422, 303, 303, 422, 303, 403, 403, 403, 422, 422, 422),
    "inspections.page.dc":             (401, 200, 404, 200, 200, 200, 200, 200, 403, 403, 403, 200, 200, 200),
    "inspections.page.edj":            (401, 404, 200, 404, 200, 200, 404, 200, 403, 403, 403, 404, 404, 404),
    "inspections.finding.dc":          (401, 303, 404, 303, 303, 303, 303, 303, 403, 403, 403, 303, 303, 303),
    "inspections.finding.edj":         (401, 404, 303, 404, 303, 303, 404, 303, 403, 403, 403, 404, 404, 404),
    "inspections.photo.dc":            (401, 200, 404, 200, 200, 200, 200, 200, 403, 403, 403, 200, 200, 200),
    "inspections.photo.edj":           (401, 404, 200, 404, 200, 200, 404, 200, 403, 403, 403, 404, 404, 404),
    "direct.form":                     (200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "direct.areas":                    (200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "direct.submit":                   (200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "direct.track_form":               (200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "direct.track":                    (200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "channel.list":                    (401, 200, 200, 200, 200, 200, 200, 200, 403, 403, 403, 200, 200, 200),
    "channel.message.dc":              (401, 200, 404, 200, 200, 200, 200, 200, 403, 403, 403, 200, 200, 200),
    "channel.message.edj":             (401, 404, 200, 404, 200, 200, 404, 200, 403, 403, 403, 404, 404, 404),
    "channel.reveal.dc":               (401, 403, 404, 200, 200, 200, 200, 200, 403, 403, 403, 403, 403, 200),
    "channel.reveal.edj":              (401, 404, 403, 404, 200, 200, 404, 200, 403, 403, 403, 404, 404, 404),
    "channel.reply.dc":                (401, 303, 404, 303, 303, 303, 303, 303, 403, 403, 403, 303, 303, 303),
    # --- end of inspections and the direct channel ---------------------------------------------------
    # Command pages and API (the five lists): read and written with command:read / command:write where the
    # record lies (every working role); directives, task forces and units set up with directives:write
    # (commanders, administrators); the dashboard counts with aggregates:read. A record outside the
    # persona's jurisdiction is missing (404, audited); a lab has no command permission. Rescheduling is
    # the level above's: a community's worker reads the task but may not move its deadline.
    "command.inbox":                   (401, 200, 200, 200, 200, 200, 200, 200, 403, 403, 403, 200, 200, 200),
    "command.digest":                  (401, 200, 200, 200, 200, 200, 200, 200, 403, 403, 403, 200, 200, 200),
    "command.dashboard":               (401, 200, 200, 200, 200, 200, 200, 200, 403, 200, 403, 200, 200, 200),
    "command.dashboard.edj":           (401, 404, 404, 404, 200, 200, 404, 200, 403, 200, 403, 404, 200, 404),
    "command.directives":              (401, 200, 200, 200, 200, 200, 200, 200, 403, 403, 403, 200, 200, 200),
    "command.directives.create.dc":    (401, 403, 403, 303, 303, 303, 303, 403, 403, 403, 403, 403, 403, 403),
    "command.directives.create.edj":   (401, 403, 403, 403, 303, 303, 403, 403, 403, 403, 403, 403, 403, 403),
    "command.directive.dc":            (401, 404, 404, 200, 200, 200, 200, 200, 403, 403, 403, 404, 404, 200),
    "command.directive.edj":           (401, 404, 404, 404, 200, 200, 404, 200, 403, 403, 403, 404, 404, 404),
    "command.directive.issue.dc":      (401, 403, 403, 303, 303, 303, 303, 403, 403, 403, 403, 403, 403, 403),
    "command.directive.issue.edj":     (401, 403, 403, 404, 303, 303, 404, 403, 403, 403, 403, 403, 403, 403),
    "command.directive.close.dc":      (401, 403, 403, 303, 303, 303, 303, 403, 403, 403, 403, 403, 403, 403),
    "command.directive.tasks.dc":      (401, 404, 404, 303, 303, 303, 303, 303, 403, 403, 403, 404, 404, 303),
    "command.tasks":                   (401, 200, 200, 200, 200, 200, 200, 200, 403, 403, 403, 200, 200, 200),
    "command.task.dc":                 (401, 200, 404, 200, 200, 200, 200, 200, 403, 403, 403, 200, 200, 200),
    "command.task.edj":                (401, 404, 200, 404, 200, 200, 404, 200, 403, 403, 403, 404, 404, 404),
    "command.task.assign.dc":          (401, 303, 404, 303, 303, 303, 303, 303, 403, 403, 403, 303, 303, 303),
    "command.task.start.district":     (401, 404, 404, 303, 303, 303, 303, 303, 403, 403, 403, 404, 404, 303),
    "command.task.progress.dc":        (401, 303, 404, 303, 303, 303, 303, 303, 403, 403, 403, 303, 303, 303),
    "command.task.progress.edj":       (401, 404, 303, 404, 303, 303, 404, 303, 403, 403, 403, 404, 404, 404),
    "command.task.complete.dc":        (401, 303, 404, 303, 303, 303, 303, 303, 403, 403, 403, 303, 303, 303),
    "command.task.cancel.dc":          (401, 303, 404, 303, 303, 303, 303, 303, 403, 403, 403, 303, 303, 303),
    "command.task.reschedule.dc":      (401, 403, 404, 303, 303, 303, 303, 303, 403, 403, 403, 403, 403, 303),
    "command.task.hand_down.district": (401, 404, 404, 303, 303, 303, 303, 303, 403, 403, 403, 404, 404, 303),
    "command.task.milestones.dc":      (401, 303, 404, 303, 303, 303, 303, 303, 403, 403, 403, 303, 303, 303),
    "command.milestone.reach.dc":      (401, 303, 404, 303, 303, 303, 303, 303, 403, 403, 403, 303, 303, 303),
    "command.attachment.dc":           (401, 200, 404, 200, 200, 200, 200, 200, 403, 403, 403, 200, 200, 200),
    "command.problems":                (401, 200, 200, 200, 200, 200, 200, 200, 403, 403, 403, 200, 200, 200),
    "command.problems.file.dc":        (401, 303, 403, 303, 303, 303, 303, 303, 403, 403, 403, 303, 303, 303),
    "command.problem.dc":              (401, 200, 404, 200, 200, 200, 200, 200, 403, 403, 403, 200, 200, 200),
    "command.problem.edj":             (401, 404, 200, 404, 200, 200, 404, 200, 403, 403, 403, 404, 404, 404),
    "command.problem.measures.dc":     (401, 303, 404, 303, 303, 303, 303, 303, 403, 403, 403, 303, 303, 303),
    # Closing a problem whose rectification is not yet verified is refused to everyone who reaches it.
    "command.problem.close.dc":        (401, 409, 404, 409, 409, 409, 409, 409, 403, 403, 403, 409, 409, 409),
    "command.measure.rectify.dc":      (401, 303, 404, 303, 303, 303, 303, 303, 403, 403, 403, 303, 303, 303),
    "command.rectification.verify.dc": (401, 303, 404, 303, 303, 303, 303, 303, 403, 403, 403, 303, 303, 303),
    "command.rectification.verify.edj": (401, 404, 303, 404, 303, 303, 404, 303, 403, 403, 403, 404, 404, 404),
    "command.task_forces":             (401, 200, 200, 200, 200, 200, 200, 200, 403, 403, 403, 200, 200, 200),
    "command.task_forces.create.dc":   (401, 403, 403, 303, 303, 303, 303, 403, 403, 403, 403, 403, 403, 403),
    "command.task_force.dc":           (401, 200, 404, 200, 200, 200, 200, 200, 403, 403, 403, 200, 200, 200),
    "command.task_force.update.dc":    (401, 403, 403, 303, 303, 303, 303, 403, 403, 403, 403, 403, 403, 403),
    "command.units":                   (401, 200, 200, 200, 200, 200, 200, 200, 403, 403, 403, 200, 200, 200),
    "command.units.create.dc":         (401, 403, 403, 303, 303, 303, 303, 403, 403, 403, 403, 403, 403, 403),
    "command.unit.dc":                 (401, 200, 404, 200, 200, 200, 200, 200, 403, 403, 403, 200, 200, 200),
    "command.unit.members.dc":         (401, 403, 403, 303, 303, 303, 303, 403, 403, 403, 403, 403, 403, 403),
    "api.command.directives":          (401, 200, 200, 200, 200, 200, 200, 200, 403, 403, 403, 200, 200, 200),
    "api.command.directives.post.dc":  (401, 403, 403, 201, 201, 201, 201, 403, 403, 403, 403, 403, 403, 403),
    "api.command.directive.dc":        (401, 404, 404, 200, 200, 200, 200, 200, 403, 403, 403, 404, 404, 200),
    "api.command.directive.issue.dc":  (401, 403, 403, 200, 200, 200, 200, 403, 403, 403, 403, 403, 403, 403),
    "api.command.directive.close.dc":  (401, 403, 403, 200, 200, 200, 200, 403, 403, 403, 403, 403, 403, 403),
    "api.command.tasks":               (401, 200, 200, 200, 200, 200, 200, 200, 403, 403, 403, 200, 200, 200),
    "api.command.tasks.post.dc":       (401, 201, 403, 201, 201, 201, 201, 201, 403, 403, 403, 201, 201, 201),
    "api.command.task.dc":             (401, 200, 404, 200, 200, 200, 200, 200, 403, 403, 403, 200, 200, 200),
    "api.command.task.edj":            (401, 404, 200, 404, 200, 200, 404, 200, 403, 403, 403, 404, 404, 404),
    "api.command.task.assign.dc":      (401, 200, 404, 200, 200, 200, 200, 200, 403, 403, 403, 200, 200, 200),
    "api.command.task.start.district": (401, 404, 404, 200, 200, 200, 200, 200, 403, 403, 403, 404, 404, 200),
    "api.command.task.progress.dc":    (401, 201, 404, 201, 201, 201, 201, 201, 403, 403, 403, 201, 201, 201),
    "api.command.task.complete.dc":    (401, 200, 404, 200, 200, 200, 200, 200, 403, 403, 403, 200, 200, 200),
    "api.command.task.cancel.dc":      (401, 200, 404, 200, 200, 200, 200, 200, 403, 403, 403, 200, 200, 200),
    "api.command.task.reschedule.dc":  (401, 403, 404, 200, 200, 200, 200, 200, 403, 403, 403, 403, 403, 200),
    "api.command.task.hand_down.district": (401, 404, 404, 201, 201, 201, 201, 201, 403, 403, 403, 404, 404, 201),
    "api.command.problems":            (401, 200, 200, 200, 200, 200, 200, 200, 403, 403, 403, 200, 200, 200),
    "api.command.problems.post.dc":    (401, 201, 403, 201, 201, 201, 201, 201, 403, 403, 403, 201, 201, 201),
    "api.command.problem.dc":          (401, 200, 404, 200, 200, 200, 200, 200, 403, 403, 403, 200, 200, 200),
    "api.command.problem.edj":         (401, 404, 200, 404, 200, 200, 404, 200, 403, 403, 403, 404, 404, 404),
    "api.command.problem.measures.dc": (401, 201, 404, 201, 201, 201, 201, 201, 403, 403, 403, 201, 201, 201),
    "api.command.measure.rectify.dc":  (401, 201, 404, 201, 201, 201, 201, 201, 403, 403, 403, 201, 201, 201),
    "api.command.rectification.verify.dc": (401, 200, 404, 200, 200, 200, 200, 200, 403, 403, 403, 200, 200, 200),
    "api.command.inbox":               (401, 200, 200, 200, 200, 200, 200, 200, 403, 403, 403, 200, 200, 200),
}
# fmt: on

ALLOWED = {200, 201, 303}


# --- The records the cases point at -------------------------------------------------------------


@dataclass
class World:
    """Concrete records of the demo city (and a few made by the test) that cases refer to."""

    dc_person: int  # in 新站社区, the dongchang worker's community
    dc_neighbour: int  # in 老站社区: 东昌区, but not the worker's community
    edj_person: int  # in 二道江区
    missing_person: int  # an id no person has
    edj_household: int
    dc_lab: int  # facilities
    edj_lab: int
    dc_job: int  # failed jobs that may be re-run
    edj_job: int
    id_numbers: dict[int, str] = field(default_factory=dict)
    # Testing records (see ``_testing_records``).
    city_round: int = 0  # over 通化市, started two hours ago
    edj_round: int = 0  # over 二道江区, started three hours ago
    dc_site: int = 0  # sampling sites of 新站社区, 老站社区 and 东通化社区
    dc_sent_tube: str = ""  # tube codes: sent to the 东昌区 lab, no result yet
    dc_open_tube: str = ""  # still open at the 新站社区 site
    dc_other_lab_tube: str = ""  # of 新站社区, sent to the 二道江区 lab
    edj_sent_tube: str = ""  # of 东通化社区, sent to the 二道江区 lab
    edj_open_tube: str = ""
    tube_ids: dict[str, int] = field(default_factory=dict)  # by code
    dc_controlled: int = 0  # persons of a positive pool: 新站社区, 老站社区; a positive pool of 东通化社区
    dc_neighbour_controlled: int = 0
    edj_controlled: int = 0
    lab_job: int = 0  # result uploads: the lab account's, and another 东昌区 user's
    dc_upload_job: int = 0
    # Tracing records (see ``_tracing_records``).
    dc_case: int = 0  # a case of 新站社区, its core information still open, one itinerary entry
    dc_case2: int = 0  # a case of 老站社区 (东昌区) with its core information complete
    edj_case: int = 0  # a case of 东通化社区, 二道江区
    dc_entry: int = 0  # the itinerary entry of ``dc_case``
    dc_run: int = 0  # finished tracing runs started in 东昌区 and in 二道江区
    edj_run: int = 0
    dc_contact: int = 0  # contacts waiting for control: in 新站社区, 老站社区 and 东通化社区
    dc_neighbour_contact: int = 0
    edj_contact: int = 0
    trace_dc_person: int = 0  # persons not yet cases, to report: of 新站社区 and of 东通化社区
    trace_edj_person: int = 0
    trace_ids: dict[str, str] = field(default_factory=dict)  # their ID numbers, by world attribute
    # --- Operation manuals (see ``_manual_records``): a version of the testing manual for 东昌区.
    manual_dc_version: int = 0  # its number
    manual_dc_version_id: int = 0  # its row, as the audit log names it
    # --- end of operation manuals
    # Charts of the command module (see ``_charts_records``).
    charts_city_plan: int = 0  # a directive of 通化市 whose task is handed down to 东昌区 and to 新站社区
    charts_edj_plan: int = 0  # a directive of 二道江区 with one task there
    # Inspections and the direct channel (see ``_inspection_and_channel_records``).
    dc_inspection: int = 0  # of a venue of 新站社区, with one finding and its photo
    edj_inspection: int = 0  # of a venue of 东通化社区 (二道江区), likewise
    dc_photo: int = 0
    edj_photo: int = 0
    dc_committee: int = 0  # the units a finding names: the committees of 新站社区 and 东通化社区
    edj_committee: int = 0
    dc_message: int = 0  # messages of the public about testing: in 新站社区 (handled by 东昌区's testing office)
    edj_message: int = 0  # and in 东通化社区 (handled by the city's), each with the sender's name and phone
    dc_message_code: str = ""  # the tracking code of ``dc_message``
    # Command records (see ``_command_records``): by world attribute, the id of each.
    cmd_dc_task: int = 0  # an assigned task of 新站社区 with a milestone and a report with a file
    cmd_edj_task: int = 0  # an assigned task of 东通化社区
    cmd_dc_district_task: int = 0  # an assigned task of 东昌区 itself, to hand down
    cmd_dc_milestone: int = 0
    cmd_dc_attachment: int = 0
    cmd_dc_directive: int = 0  # draft directives of 东昌区 and 二道江区; an issued one of 东昌区 with no task left
    cmd_edj_directive: int = 0
    cmd_dc_issued_directive: int = 0
    cmd_dc_problem: int = 0  # problems of 新站社区 and 东通化社区: a measure awaiting verification, one open
    cmd_edj_problem: int = 0
    cmd_dc_open_measure: int = 0
    cmd_dc_rect: int = 0
    cmd_edj_rect: int = 0
    cmd_dc_force: int = 0  # 东昌区's tracing task force
    cmd_dc_unit: int = 0  # 新站社区's committee
    cmd_dc_tracer: int = 0  # a user who does not work for it yet

    def tube(self, code: str) -> str:
        """A tube's id, as the audit log names it."""
        return str(self.tube_ids[code])

    @property
    def edj_id_tail(self) -> str:
        """The last eight characters of the 二道江区 person's ID number: a search that finds them."""
        return self.id_numbers[self.edj_person][-8:]

    def matches_edj_tail(self) -> ColumnElement[bool]:
        """What a search for ``edj_id_tail`` matches: the end of an ID number or of a phone."""
        return or_(Person.id_number.endswith(self.edj_id_tail), Person.phone.endswith(self.edj_id_tail))


def new_id_number(region: str, seq: int) -> str:
    """A valid ID number no demo person has (the demo city's people were all born before 2021)."""
    first17 = f"{region}20210115{seq:03d}"
    return first17 + check_digit(first17)


NEW_DC_ID = new_id_number("220502", 11)
NEW_EDJ_ID = new_id_number("220503", 12)
NEW_NEIGHBOUR_ID = new_id_number("220502", 13)


def _first_person(session: Session, code: str) -> Person:
    person = session.execute(select(Person).where(Person.jurisdiction_code == code,
                                                  Person.household_id.is_not(None))
                             .order_by(Person.id)).scalars().first()
    assert person is not None, code
    return person


@pytest.fixture(scope="session")
def demo_records(engine) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The demo city's records the cases point at, looked up once (every test rolls its changes back)."""
    with system_session(engine) as session:
        dc, neighbour, edj = (_first_person(session, code)
                              for code in (DC_COMMUNITY, DC_NEIGHBOUR_COMMUNITY, EDJ_COMMUNITY))
        household = session.execute(select(Household.id).where(Household.jurisdiction_code == EDJ_COMMUNITY)
                                    .order_by(Household.id)).scalars().first()
        labs = {code: ident for code, ident in session.execute(
            select(Facility.jurisdiction_code, Facility.id).where(Facility.kind == FacilityKind.LAB))}
        top = session.execute(select(func.max(Person.id))).scalar_one()
        assert household is not None
        return {"dc_person": dc.id, "dc_neighbour": neighbour.id, "edj_person": edj.id,
                "missing_person": top + 1000, "edj_household": household, "dc_lab": labs["220502"],
                "edj_lab": labs["220503"], "id_numbers": {p.id: p.id_number for p in (dc, neighbour, edj)}}


@pytest.fixture(scope="module")
def matrix_connection(engine: Engine) -> Iterator[Connection]:
    """One connection for the whole matrix, inside a transaction rolled back at its end."""
    conn = engine.connect()
    outer = conn.begin()
    yield conn
    outer.rollback()
    conn.close()


@pytest.fixture(scope="module")
def matrix_world(matrix_connection: Connection, demo_records: dict[str, Any]) -> World:
    """The records of the cases, made once for the matrix (each test runs in a savepoint after them)."""
    session = Session(bind=matrix_connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    Principal.system().bind(session)
    try:
        made = _accounts_and_jobs(session, demo_records)
        _testing_records(session, made)
        _tracing_records(session, made)
        _manual_records(session, made)
        _charts_records(session, made)
        _inspection_and_channel_records(session, made)
        _command_records(session, made)
        session.commit()  # releases the session's savepoint: the records stay in the matrix's transaction
    finally:
        session.close()
    return made


@pytest.fixture
def connection(matrix_connection: Connection) -> Iterator[Connection]:
    """The matrix's connection inside a savepoint, rolled back after the test: the suite's ``connection``,
    with the records of the cases already there."""
    savepoint = matrix_connection.begin_nested()
    yield matrix_connection
    if savepoint.is_active:
        savepoint.rollback()


@pytest.fixture
def world(matrix_world: World, connection: Connection) -> World:
    """The records the cases point at."""
    return replace(matrix_world)


def _accounts_and_jobs(session: Session, demo_records: dict[str, Any]) -> World:
    """The demo city's records, with three personas' accounts and two failed jobs added."""
    # No usable passwords: these personas sign in by session only.
    for username, home, grants in [
        (DC_ADMIN, "220502", [(Role.ADMIN, "220502")]),
        (WORKER_VIEWER, "2205", [(Role.COMMUNITY_WORKER, DC_COMMUNITY), (Role.VIEWER, "2205")]),
        (WORKER_SUPPLY, "220502", [(Role.COMMUNITY_WORKER, DC_COMMUNITY), (Role.SUPPLY_STAFF, "220502")]),
    ]:
        session.add(User(username=username, display_name=username, password_hash="!", jurisdiction_code=home,
                         grants=[RoleGrant(role=role, jurisdiction_code=code) for role, code in grants]))
    jobs = {code: Job(kind="import", state=JobState.FAILED, error="boom", jurisdiction_code=code)
            for code in ("220502", "220503")}
    session.add_all(jobs.values())
    session.flush()
    return World(**demo_records, dc_job=jobs["220502"].id, edj_job=jobs["220503"].id)


@pytest.fixture
def settings(settings: Settings, tmp_path) -> Settings:  # type: ignore[no-untyped-def]
    """The suite's settings, with uploaded files kept out of the working tree."""
    return settings.model_copy(update={"data_dir": tmp_path})


def _unsampled(session: Session, world: World, code: str, n: int) -> list[int]:
    """``n`` residents of ``code`` at home, none of the persons the cases name."""
    found = session.execute(select(Person.id).where(
        Person.jurisdiction_code == code, Person.whereabouts == Whereabouts.AT_HOME,
        Person.id.not_in([world.dc_person, world.dc_neighbour, world.edj_person])).order_by(Person.id).limit(n)).all()
    assert len(found) == n, code
    return [ident for (ident,) in found]


def _testing_records(session: Session, world: World) -> None:
    """Two rounds, three sites, tubes in every state and two positive pools, for the testing cases.

    In the city round: tubes of 新站社区 sent to the 东昌区 lab, still open, and sent to the
    二道江区 lab; tubes of 东通化社区 sent and open; a positive pool of 新站社区 and 老站社区 and one
    of 东通化社区, whose members are under control with re-sampling orders. Two result uploads wait
    as jobs: the lab account's own and another 东昌区 user's. The persons the cases name are in
    none of them, so they are still to be sampled.
    """
    start = utcnow() - timedelta(hours=2)
    city = service.create_round(session, RoundIn(name="全市第一轮", jurisdiction_code="2205", starts_at=start))
    edj = service.create_round(session, RoundIn(name="二道江区加密检测", jurisdiction_code="220503",
                                                starts_at=start - timedelta(hours=1)))
    sites = {code: service.create_site(session, SiteIn(name=f"{code}采样点", jurisdiction_code=code,
                                                       opens_at=time(6), closes_at=time(22), serves=[code]))
             for code in (DC_COMMUNITY, DC_NEIGHBOUR_COMMUNITY, EDJ_COMMUNITY)}
    dc, neighbour, edj_people = (_unsampled(session, world, DC_COMMUNITY, 5),
                                 _unsampled(session, world, DC_NEIGHBOUR_COMMUNITY, 1),
                                 _unsampled(session, world, EDJ_COMMUNITY, 3))
    # (site, tube: its persons), one batch per site; then the tubes each lab received.
    batches = {
        DC_COMMUNITY: {"MXDC00001": dc[0:2], "MXDC00002": dc[2:3], "MXDC00003": dc[3:4],
                       "MXDC00004": [dc[4], neighbour[0]]},
        EDJ_COMMUNITY: {"MXEDJ0001": edj_people[0:1], "MXEDJ0002": edj_people[1:2], "MXEDJ0003": edj_people[2:3]},
    }
    sent = {world.dc_lab: ["MXDC00001", "MXDC00004"], world.edj_lab: ["MXDC00003", "MXEDJ0001", "MXEDJ0003"]}
    at = (utcnow() - timedelta(minutes=30)).isoformat()
    for code, tubes in batches.items():
        entries = [{"client_id": f"matrix-{tube}-{person}", "tube_code": tube, "person_id": person, "sampled_at": at}
                   for tube, persons in tubes.items() for person in persons]
        stored = service.register_batch(session, SampleBatch.model_validate(
            {"round_id": city.id, "site_id": sites[code].id, "entries": entries})).stored
        assert stored == len(entries)
    for lab, codes in sent.items():
        service.send_tubes(session, codes, lab)
    ids = dict(session.execute(select(Tube.code, Tube.id).where(Tube.round_id == city.id)).all())
    for code, lab, where in (("MXDC00004", world.dc_lab, DC_COMMUNITY), ("MXEDJ0003", world.edj_lab, EDJ_COMMUNITY)):
        session.add(TubeResult(tube_id=ids[code], outcome=Outcome.POSITIVE, tested_at=utcnow(), lab_id=lab,
                               jurisdiction_code=where))
    session.flush()
    assert service.apply_results(session, [ids["MXDC00004"], ids["MXEDJ0003"]])["controlled"] == 3
    jobs = {name: Job(kind=results.IMPORT_JOB, params={"path": "-", "filename": f"{name}.csv"},
                      created_by_id=session.execute(select(User.id).where(User.username == name)).scalar_one(),
                      jurisdiction_code="220502")
            for name in (LAB, "dongchang_testing")}
    session.add_all(jobs.values())
    session.flush()
    world.city_round, world.edj_round, world.dc_site = city.id, edj.id, sites[DC_COMMUNITY].id
    world.dc_sent_tube, world.dc_open_tube, world.dc_other_lab_tube = "MXDC00001", "MXDC00002", "MXDC00003"
    world.edj_sent_tube, world.edj_open_tube = "MXEDJ0001", "MXEDJ0002"
    world.tube_ids = ids
    world.dc_controlled, world.dc_neighbour_controlled, world.edj_controlled = dc[4], neighbour[0], edj_people[2]
    world.lab_job, world.dc_upload_job = jobs[LAB].id, jobs["dongchang_testing"].id


def _residents(session: Session, code: str, n: int, skip: int) -> list[Person]:
    """``n`` residents of ``code`` past the first ``skip`` (who are the testing records' persons)."""
    found = session.execute(select(Person).where(Person.jurisdiction_code == code).order_by(Person.id)
                            .offset(skip).limit(n)).scalars().all()
    assert len(found) == n, code
    return list(found)


def _tracing_records(session: Session, world: World) -> None:
    """Three cases (新站社区, 老站社区, 东通化社区), a run of each district and a contact in each community.

    The 新站社区 case has an itinerary entry and its core information still open; the 老站社区 case's
    core information is complete, so its report may be completed. None of the persons is one the
    other cases name.
    """
    reported = utcnow() - timedelta(hours=1)

    def case_of(person: Person) -> TracingCase:
        return tracing.report_case(session, CaseIn(person_id=person.id, kind=CaseKind.CONFIRMED,
                                                   found_by=FoundBy.FEVER_CLINIC, reported_at=reported,
                                                   sampled_at=reported - timedelta(hours=1)))

    (dc, to_report, dc_contact), (neighbour, neighbour_contact), (edj, edj_report, edj_contact) = (
        _residents(session, DC_COMMUNITY, 3, skip=10), _residents(session, DC_NEIGHBOUR_COMMUNITY, 2, skip=10),
        _residents(session, EDJ_COMMUNITY, 3, skip=10))
    dc_case, dc_case2, edj_case = case_of(dc), case_of(neighbour), case_of(edj)
    entry = tracing.add_itinerary(session, dc_case.investigation, ItineraryIn(place_text="新站农贸市场",
                                                                              starts_at=reported - timedelta(days=2)))
    tracing.complete_core(session, dc_case2.investigation)
    dc_case2.investigation.symptoms = "发热"
    runs = {code: TracingRun(jurisdiction_code=code, ruleset="protocol-8", case_ids=[case.id], state=RunState.DONE,
                             counts={"by_kind": {"close": 1}, "new": 1}, missing_days=["2021-01-10"])
            for code, case in (("220502", dc_case), ("220503", edj_case))}
    session.add_all(runs.values())
    session.flush()
    first = reported - timedelta(days=3)
    contacts = [Contact(person_id=person.id, jurisdiction_code=person.jurisdiction_code, kind=ContactKind.CLOSE,
                        case_id=case.id, first_exposure=first, last_exposure=first + timedelta(hours=1),
                        run_id=run.id, due_at=utcnow() + timedelta(hours=12))
                for person, case, run in ((dc_contact, dc_case, runs["220502"]),
                                          (neighbour_contact, dc_case2, runs["220502"]),
                                          (edj_contact, edj_case, runs["220503"]))]
    session.add_all(contacts)
    session.flush()
    world.dc_case, world.dc_case2, world.edj_case, world.dc_entry = dc_case.id, dc_case2.id, edj_case.id, entry.id
    world.dc_run, world.edj_run = runs["220502"].id, runs["220503"].id
    world.dc_contact, world.dc_neighbour_contact, world.edj_contact = (c.id for c in contacts)
    world.trace_dc_person, world.trace_edj_person = to_report.id, edj_report.id
    world.trace_ids = {"trace_dc_person": to_report.id_number, "trace_edj_person": edj_report.id_number}


# --- Operation manuals --------------------------------------------------------------------------

MANUAL_KEY = "taskforce-testing"


def _manual_records(session: Session, world: World) -> None:
    """A version of the testing manual published for 东昌区 (read in and above 东昌区, not in 二道江区)."""
    made = manuals.publish(session, MANUAL_KEY, language="zh_CN", text="东昌区补充：核酸采样点晚间延长开放。",
                           jurisdiction_code="220502", author_name="东昌区指挥长")
    world.manual_dc_version, world.manual_dc_version_id = made.number, made.id


def manual_versions_with(text: str) -> Effect:
    return lambda s, w: s.execute(select(func.count()).select_from(ManualVersion)
                                  .where(ManualVersion.text == text + "\n")).scalar_one()


def _publish(code: str) -> Case:
    text = f"矩阵测试版本 {code}"
    return Case("POST", "/manuals/{key}/publish", f"/manuals/{MANUAL_KEY}/publish",
                form=lambda w: {"language": "zh_CN", "jurisdiction_code": code, "manual_text": text,
                                "change_note": "matrix", "form_key": f"matrix-manual-{code}"},
                effect=manual_versions_with(text))


# --- end of operation manuals
# --- Charts of the command module: the records their cases point at, and what a response must show


def _charts_records(session: Session, world: World) -> None:
    """A city directive whose task is handed down to 东昌区 and on to 新站社区, and a directive of 二道江区
    whose task is handed down to 东通化社区."""
    from fangkong.command import service as command
    from fangkong.command.schemas import DirectiveIn, HandDownIn, PartyIn, ResponsibilityIn, TaskIn

    who = ResponsibilityIn(assignee=PartyIn(name="专人"))
    due = utcnow() + timedelta(days=2)

    def plan(code: str, title: str) -> tuple[int, Any]:
        directive = command.create_directive(session, DirectiveIn(jurisdiction_code=code, title=title))
        command.issue_directive(session, directive)
        task = command.create_task(session, TaskIn(jurisdiction_code=code, title=title, directive_id=directive.id,
                                                   due_at=due, responsibility=who))
        return directive.id, task

    world.charts_city_plan, city_task = plan("2205", "全市核酸检测")
    district = command.hand_down(session, city_task, HandDownIn(jurisdiction_code="220502", responsibility=who))
    command.hand_down(session, district, HandDownIn(jurisdiction_code=DC_COMMUNITY, responsibility=who))
    world.charts_edj_plan, edj_task = plan("220503", "二道江区封控")
    command.hand_down(session, edj_task, HandDownIn(jurisdiction_code=EDJ_COMMUNITY, responsibility=who))


CHARTS_PLAN = "/command/plans/{directive_id}"


def _plan(route: str, key: str, **kw: Any) -> Case:
    """A plan of the world, by attribute; a 404 on it must be audited."""
    return Case("GET", route, route.replace("{directive_id}", "{" + key + "}"), target=("directives", key),
                overlapping=True, **kw)


def plans_listed(response: Any, s: Session, w: World, persona: Persona) -> None:
    """The plans listed are those with a task where the persona reads the lists (or of their own level)."""
    from fangkong.command.models import Task as CommandTask

    reach = _reach(s, persona, Permission.COMMAND_READ)
    for key in ("charts_city_plan", "charts_edj_plan"):
        ident = getattr(w, key)
        codes = s.execute(select(CommandTask.jurisdiction_code).where(CommandTask.directive_id == ident)).scalars()
        assert (f'href="/command/plans/{ident}"' in response.text) == any(_within(c, reach) for c in codes), key


def plan_bars_in_scope(response: Any, s: Session, w: World, persona: Persona) -> None:
    """The Gantt holds exactly the plan's tasks where the persona reads the lists."""
    from fangkong.command.models import Task as CommandTask

    reach = _reach(s, persona, Permission.COMMAND_READ)
    directive = response.json()["directive"]["id"]
    expected = {t.id for t in s.execute(select(CommandTask).where(CommandTask.directive_id == directive)).scalars()
                if _within(t.jurisdiction_code, reach)}
    assert expected and {b["id"] for b in response.json()["bars"]} == expected


def work_loop_counted(response: Any, s: Session, w: World, persona: Persona) -> None:
    """The work loop's tasks are counted over where the persona may count."""
    from fangkong.command.models import Task as CommandTask
    from fangkong.command.models import TaskStatus

    reach = _reach(s, persona, Permission.AGGREGATES_READ)
    now = utcnow()
    assigned = sum(1 for t in s.execute(select(CommandTask).where(CommandTask.status == TaskStatus.ASSIGNED))
                   .scalars() if _within(t.jurisdiction_code, reach) and (t.due_at is None or t.due_at >= now))
    shown = re.search(r'data-stage="assigned" data-count="(\d+)"', response.text)
    assert shown is not None and int(shown.group(1)) == assigned


def assessment_exports(s: Session, w: World) -> int:
    return s.execute(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == Action.EXPORT, AuditEntry.entity == "assessment")).scalar_one()


def assessment_watermarked(response: Any, s: Session, w: World, persona: Persona) -> None:
    """The export carries the exporting user's name above and below the ranking."""
    rows = list(load_workbook(io.BytesIO(response.content), read_only=True).worksheets[0].iter_rows(values_only=True))
    assert persona.username is not None and persona.username in rows[1][0] and persona.username in rows[-1][0]


def work_loop_shown(response: Any, s: Session, w: World, persona: Persona) -> None:
    """The overview shows the work loop (counts only) to whoever may count, and to no one else."""
    user = users.find_user(s, persona.username or "")
    assert user is not None
    assert ('data-testid="work-loop"' in response.text) == users.principal_for(user).can(Permission.AGGREGATES_READ)
# --- Inspections and the direct channel: records, effects, checks ---------------------------------

MATRIX_PHOTO = b"\x89PNG\r\n\x1a\n" + b"matrix photo"  # a PNG by its first bytes; content enough to serve
MATRIX_MESSAGE = "矩阵测试：小区门口的核酸采样点排队很久还没有开始采样"
MATRIX_SENDER = ("王秀英", "13904351234")


def _photo_path() -> str:
    sha = hashlib.sha256(MATRIX_PHOTO).hexdigest()
    return f"{inspections.FOLDER}/{sha[:2]}/{sha}"


@pytest.fixture(autouse=True)
def _matrix_photo_on_disk(request: pytest.FixtureRequest) -> None:
    """The photo of the inspection cases, written where this test's application keeps its files."""
    params = getattr(request.node, "callspec", None)
    if params is None or not str(params.params.get("case_id", "")).startswith("inspections.photo"):
        return
    path = request.getfixturevalue("settings").data_dir / _photo_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(MATRIX_PHOTO)


def _inspection_and_channel_records(session: Session, world: World) -> None:
    """An inspection with a finding and a photo at a venue of 新站社区 and of 东通化社区; a message of the
    public from each community, with the sender's name and phone."""
    committees = dict(session.execute(select(OrgUnit.jurisdiction_code, OrgUnit.id).where(
        OrgUnit.kind == OrgUnitKind.COMMUNITY_COMMITTEE)).all())
    now = utcnow()
    made = {}
    for code, place_name in ((DC_COMMUNITY, "西关蔬菜批发市场"), (EDJ_COMMUNITY, "二道江区第一中学")):
        place = session.execute(select(Place).where(Place.name == place_name)).scalar_one()
        inspection = inspections.record_inspection(session, inspections.SiteIn(kind=inspections.SiteKind.PLACE,
                                                                                place_id=place.id),
                                                   inspected_at=now - timedelta(hours=1), team="矩阵")
        finding = inspections.add_finding(session, inspection, inspections.FindingIn(
            text="入口未查验场所码", severity=inspections.Severity.MAJOR, unit_id=committees[code]), now=now)
        photo = inspections.FindingPhoto(jurisdiction_code=code, finding_id=finding.id, filename="p.png",
                                         content_type="image/png", size=len(MATRIX_PHOTO),
                                         sha256=hashlib.sha256(MATRIX_PHOTO).hexdigest(), path=_photo_path())
        session.add(photo)
        session.flush()
        token = channel.issue_token("test-secret-key", now=now.timestamp() - 30)
        message = channel.submit(session, channel.Submission(
            category="testing", jurisdiction_code=code, text=f"{MATRIX_MESSAGE}（{code}）", token=token,
            address=f"matrix-{code}", name=MATRIX_SENDER[0], phone=MATRIX_SENDER[1]), secret="test-secret-key",
            now=now)
        made[code] = (inspection.id, photo.id, message)
    (world.dc_inspection, world.dc_photo, dc_message), (world.edj_inspection, world.edj_photo, edj_message) = (
        made[DC_COMMUNITY], made[EDJ_COMMUNITY])
    world.dc_message, world.edj_message, world.dc_message_code = (dc_message.id, edj_message.id,
                                                                  dc_message.tracking_code)
    world.dc_committee, world.edj_committee = committees[DC_COMMUNITY], committees[EDJ_COMMUNITY]


def inspections_titled(team: str) -> Effect:
    return lambda s, w: s.execute(select(func.count()).select_from(inspections.Inspection)
                                  .where(inspections.Inspection.team == team)).scalar_one()


def findings_of(key: str) -> Effect:
    return lambda s, w: s.execute(select(func.count()).select_from(inspections.Finding)
                                  .where(inspections.Finding.inspection_id == getattr(w, key))).scalar_one()


def contact_reveals(key: str) -> Effect:
    return lambda s, w: s.execute(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == Action.VIEW_UNMASKED, AuditEntry.entity == "direct_contacts",
        AuditEntry.detail["message_id"].as_integer() == getattr(w, key))).scalar_one()


def replies_to(key: str) -> Effect:
    return lambda s, w: s.execute(select(func.count()).select_from(DirectReply)
                                  .where(DirectReply.message_id == getattr(w, key))).scalar_one()


def public_messages(s: Session, w: World) -> int:
    return s.execute(select(func.count()).select_from(DirectMessage)).scalar_one()


def _listed_in_reach(attribute: str, model: Any) -> Check:
    """Exactly the records of ``model`` where the persona reads the command lists are listed."""
# --- Command: the records its cases point at ------------------------------------------------------

# Files of the command records: the attachment row names its file by an absolute path here, so that the
# application finds it whatever each test's data directory is.
COMMAND_FILES = Path(tempfile.mkdtemp(prefix="matrix-command-"))


def _command_records(session: Session, world: World) -> None:
    """Tasks, directives and problems of 新站社区, 东昌区 and 东通化社区 (二道江区), made as the system.

    The 新站社区 task has a milestone and a progress report with a file; each community's problem has a
    measure whose rectification awaits verification (submitted by the system, so anyone in reach may
    verify it); the 新站社区 problem has an open measure too.
    """
    from fangkong.command import problems as command_problems
    from fangkong.command import service as command
    from fangkong.command.models import OrgUnit, OrgUnitKind, TaskForce
    from fangkong.command.schemas import (
        AttachmentIn,
        DirectiveIn,
        MeasureIn,
        MilestoneIn,
        ProblemIn,
        ProgressIn,
        RectificationIn,
        ResponsibilityIn,
        TaskIn,
    )

    def body(code: str, kind: OrgUnitKind) -> int:
        return session.execute(select(OrgUnit.id).where(OrgUnit.jurisdiction_code == code, OrgUnit.kind == kind)
                               ).scalars().first() or 0

    due = utcnow() + timedelta(hours=24)

    def task(code: str, unit: int, title: str) -> Any:
        return command.create_task(session, TaskIn(jurisdiction_code=code, title=title, due_at=due,
                                                   responsibility=ResponsibilityIn(unit_id=unit)))

    dc_unit, edj_unit = body(DC_COMMUNITY, OrgUnitKind.COMMUNITY_COMMITTEE), body(EDJ_COMMUNITY,
                                                                                  OrgUnitKind.COMMUNITY_COMMITTEE)
    dc_task, edj_task = task(DC_COMMUNITY, dc_unit, "摸排返乡人员"), task(EDJ_COMMUNITY, edj_unit, "摸排返乡人员")
    district_task = task("220502", body("220502", OrgUnitKind.HEADQUARTERS), "全区核酸检测")
    milestone = command.add_milestone(session, dc_task, MilestoneIn(title="完成一半", due_at=due - timedelta(hours=12)))
    report = command.report_progress(session, dc_task, ProgressIn(text="已摸排", percent=10),
                                     files=[AttachmentIn(filename="现场.jpg", content_type="image/jpeg",
                                                         data=b"\xff\xd8matrix-photo")], root=COMMAND_FILES)
    attachment = report.attachments[0]
    attachment.path = str(COMMAND_FILES / attachment.path)
    directives = {code: command.create_directive(session, DirectiveIn(jurisdiction_code=code, title="第二轮检测"))
                  for code in ("220502", "220503")}
    issued = command.issue_directive(session, command.create_directive(session, DirectiveIn(
        jurisdiction_code="220502", title="已发布的指令")))

    def problem(code: str, unit: int) -> tuple[Any, Any]:
        found = command_problems.file_problem(session, ProblemIn(jurisdiction_code=code, title="采样点排队过长"))
        measure = command_problems.add_measure(session, found, MeasureIn(title="增设采样台", owner_unit_id=unit))
        return found, command_problems.submit_rectification(session, measure, RectificationIn(evidence="已增设"))

    (dc_problem, dc_rect), (edj_problem, edj_rect) = problem(DC_COMMUNITY, dc_unit), problem(EDJ_COMMUNITY, edj_unit)
    open_measure = command_problems.add_measure(session, dc_problem, MeasureIn(title="错峰采样", owner_name="网格员"))
    world.cmd_dc_task, world.cmd_edj_task, world.cmd_dc_district_task = dc_task.id, edj_task.id, district_task.id
    world.cmd_dc_milestone, world.cmd_dc_attachment = milestone.id, attachment.id
    world.cmd_dc_directive, world.cmd_edj_directive = directives["220502"].id, directives["220503"].id
    world.cmd_dc_issued_directive = issued.id
    world.cmd_dc_problem, world.cmd_edj_problem = dc_problem.id, edj_problem.id
    world.cmd_dc_open_measure = open_measure.id
    world.cmd_dc_rect, world.cmd_edj_rect = dc_rect.id, edj_rect.id
    world.cmd_dc_force = session.execute(select(TaskForce.id).where(TaskForce.jurisdiction_code == "220502",
                                                                    TaskForce.key == "tracing")).scalar_one()
    world.cmd_dc_unit = dc_unit
    world.cmd_dc_tracer = session.execute(select(User.id).where(User.username == "dongchang_tracer")).scalar_one()
    session.flush()


def cmd_task_state(key: str) -> Effect:
    """What the task actions change: status, deadline, unit, progress, reports, milestones, sub-tasks."""

    def state(s: Session, w: World) -> tuple[Any, ...]:
        task_id = getattr(w, key)
        task = s.execute(select(cmd.Task.status, cmd.Task.due_at, cmd.Task.unit_id, cmd.Task.progress)
                         .where(cmd.Task.id == task_id)).one()
        counts = tuple(s.execute(select(func.count()).select_from(model).where(column == task_id)).scalar_one()
                       for model, column in ((cmd.ProgressReport, cmd.ProgressReport.task_id),
                                             (cmd.Milestone, cmd.Milestone.task_id),
                                             (cmd.Task, cmd.Task.parent_id),
                                             (cmd.Responsibility, cmd.Responsibility.task_id)))
        return (*task, *counts)

    return state


def cmd_directive_state(key: str) -> Effect:
    def state(s: Session, w: World) -> tuple[Any, ...]:
        directive_id = getattr(w, key)
        status = s.execute(select(cmd.Directive.status).where(cmd.Directive.id == directive_id)).scalar_one()
        tasks = s.execute(select(func.count()).select_from(cmd.Task).where(cmd.Task.directive_id == directive_id)
                          ).scalar_one()
        return status, tasks

    return state


def cmd_count(model: Any, *where: Callable[[World], Any]) -> Effect:
    """How many rows of ``model`` match (each condition a function of the world)."""
    return lambda s, w: s.execute(select(func.count()).select_from(model).where(*(c(w) for c in where))
                                  ).scalar_one()


def cmd_problem_state(key: str) -> Effect:
    def state(s: Session, w: World) -> tuple[Any, ...]:
        problem_id = getattr(w, key)
        return (s.execute(select(cmd.Problem.status).where(cmd.Problem.id == problem_id)).scalar_one(),
                *s.execute(select(cmd.Measure.id, cmd.Measure.status).where(cmd.Measure.problem_id == problem_id)
                           .order_by(cmd.Measure.id)).all())

    return state


def cmd_rect_state(key: str) -> Effect:
    return lambda s, w: s.execute(select(cmd.Rectification.status, cmd.Rectification.verified_by_id)
                                  .where(cmd.Rectification.id == getattr(w, key))).one()


def cmd_exports(s: Session, w: World) -> int:
    return s.execute(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == Action.EXPORT, AuditEntry.entity == "command_attachments",
        AuditEntry.entity_id == str(w.cmd_dc_attachment))).scalar_one()


def cmd_items_seen(model: Any, attribute: str) -> Check:
    """A page lists exactly the rows of ``model`` the persona reads (``data-<attribute>`` ids)."""

    def check(response: Any, s: Session, w: World, persona: Persona) -> None:
        reach = _reach(s, persona, Permission.COMMAND_READ)
        expected = {r.id for r in s.execute(select(model)).scalars() if _within(r.jurisdiction_code, reach)}
        # A community's worker reaches no directive (they are issued by headquarters): none may be listed.
        assert expected or len(persona.home) == 12
        assert {int(i) for i in re.findall(rf'{attribute}="(\d+)"', response.text)} == expected
        shown = {int(i) for i in re.findall(rf'data-{attribute}="(\d+)"', response.text)}
        assert shown <= expected and (shown == expected or len(shown) >= 50), (shown, expected)
        assert w.cmd_dc_task not in expected or attribute != "task" or w.cmd_dc_task in shown

    return check


def sender_masked_unless_revealed(response: Any, s: Session, w: World, persona: Persona) -> None:
    """The sender's name and phone are in a response only when it is a reveal."""
    revealed = "/reveal" in str(response.url)
    assert (MATRIX_SENDER[1] in response.text) == revealed
    assert (MATRIX_SENDER[0] in response.text) == revealed


def assert_photo(response: Any) -> None:
    """The photo is served as what its bytes are."""
    assert response.headers["content-type"] == "image/png"
    assert response.content == MATRIX_PHOTO


def tracked_without_personal_data(response: Any, s: Session, w: World, persona: Persona) -> None:
    """The tracking page shows the status and never the sender."""
    assert 'data-status="received"' in response.text
    assert MATRIX_SENDER[0] not in response.text and MATRIX_SENDER[1] not in response.text


def _public_form(w: World) -> dict[str, str]:
    token = channel.issue_token("test-secret-key", now=utcnow().timestamp() - 30)
    return {"category": "supply", "district": "220502", "street": "", "community": "", "text": MATRIX_MESSAGE,
            "name": "", "phone": "", "website": "", "token": token}


def _inspection_form(code: str) -> Callable[[World], dict[str, str]]:
    return lambda w: {"site_kind": "community", "community": code, "team": f"matrix-{code}",
                      "inspected_at": (utcnow() - timedelta(hours=1)).astimezone(ZoneInfo("Asia/Shanghai"))
                      .strftime("%Y-%m-%dT%H:%M")}


def _finding_form(committee: str) -> Callable[[World], dict[str, str]]:
    return lambda w: {"text": "消毒记录缺失", "severity": "minor", "unit_id": str(getattr(w, committee))}


# --- end of inspections and the direct channel -------------------------------------------------------
def _cmd(method: str, route: str, key: str | None = None, table: str | None = None, **kw: Any) -> Case:
    """A command case on the record of world attribute ``key`` (the route's one id); a 404 on it is audited."""
    url = re.sub(r"\{\w+_id\}", "{" + key + "}", route) if key else route
    return Case(method, route, url, target=(table, key) if table and key else None, **kw)


def _local(hours: float) -> str:
    """A time ``hours`` from now as a form's ``datetime-local`` field holds it."""
    return (utcnow() + timedelta(hours=hours)).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def sign_in(client_factory, session: Session) -> Callable[..., Client]:  # type: ignore[no-untyped-def]
    """A client acting as ``persona``: a browser with a session cookie, or a machine with a token.

    ``csrf``: fetch the browser's CSRF token first (needed by POST and PATCH, not by GET), so that an
    unsafe request is judged on who sends it, not refused for want of a token.
    """

    def make(persona: Persona, *, csrf: bool = True) -> Client:
        client: Client = client_factory()
        if persona.username is None:
            if csrf:
                client.headers["X-CSRF-Token"] = client.csrf()
            return client
        user = users.find_user(session, persona.username)
        assert user is not None, persona.username
        if persona.via_token:
            client.headers["Authorization"] = f"Bearer {users.issue_token(session, user, label='matrix')}"
            return client
        secret = users.start_session(session, user, address="testclient", hours=1)
        Principal.system().bind(session)  # start_session acts as the user; the fixture stays the system
        client.cookies.set(SESSION_COOKIE, secret)
        if csrf:
            client.headers["X-CSRF-Token"] = client.csrf()
        return client

    return make


# --- What a write changes ------------------------------------------------------------------------

Effect = Callable[[Session, World], Any]


def persons_with(id_number: str) -> Effect:
    return lambda s, w: s.execute(select(func.count()).select_from(Person)
                                  .where(Person.id_number == id_number)).scalar_one()


def person_row(key: str) -> Effect:
    return lambda s, w: tuple(s.execute(select(Person.name, Person.address, Person.phone, Person.household_id)
                                        .where(Person.id == getattr(w, key))).one())


def reveals_of(key: str) -> Effect:
    return lambda s, w: s.execute(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == Action.VIEW_UNMASKED, AuditEntry.entity == "persons",
        AuditEntry.entity_id == str(getattr(w, key)))).scalar_one()


def user_named(username: str) -> Effect:
    return lambda s, w: s.execute(select(func.count()).select_from(User)
                                  .where(User.username == username)).scalar_one()


def job_state(key: str) -> Effect:
    return lambda s, w: s.execute(select(Job.state).where(Job.id == getattr(w, key))).scalar_one()


# The testing tables a refused request must leave exactly as they were.
TESTING_TABLES = (Round, RoundArea, SamplingSite, Tube, TubeResult, Sample, DoorVisit, ResampleOrder, OrderMember,
                  Control, ResultImport)


@dataclass(frozen=True)
class WriteState:
    """What a testing write is meant to change, and every row of the testing tables besides."""

    meant: Any
    rows: tuple[Any, ...]


def rows_of_testing_tables(s: Session) -> tuple[Any, ...]:
    """Every row of the testing tables (a few dozen in a test), in key order."""
    return tuple(tuple(tuple(row) for row in s.execute(select(*m.__table__.c).order_by(
        *m.__table__.primary_key.columns)).all()) for m in TESTING_TABLES)


def with_testing_rows(effect: Effect) -> Effect:
    """``effect`` and the testing tables: an allowed write changes the first, a refused one neither."""
    return lambda s, w: WriteState(effect(s, w), rows_of_testing_tables(s))


def rounds_named(name: str) -> Effect:
    return with_testing_rows(lambda s, w: s.execute(select(func.count()).select_from(Round)
                                                    .where(Round.name == name)).scalar_one())


def sites_named(name: str) -> Effect:
    return with_testing_rows(lambda s, w: s.execute(select(func.count()).select_from(SamplingSite)
                                                    .where(SamplingSite.name == name)).scalar_one())


def door_visit(person: str) -> Effect:
    return with_testing_rows(lambda s, w: s.execute(select(DoorVisit.mark, DoorVisit.reason).where(
        DoorVisit.round_id == w.city_round, DoorVisit.person_id == getattr(w, person))).one_or_none())


def samples_of(*persons: str) -> Effect:
    return with_testing_rows(lambda s, w: tuple(s.execute(select(func.count()).select_from(Sample).where(
        Sample.round_id == w.city_round, Sample.person_id == getattr(w, p))).scalar_one() for p in persons))


def tube_row(tube: str) -> Effect:
    return with_testing_rows(lambda s, w: tuple(s.execute(select(Tube.state, Tube.lab_id, Tube.closed_at)
                                                          .where(Tube.code == getattr(w, tube))).one()))


def tube_result(tube: str) -> Effect:
    return with_testing_rows(lambda s, w: s.execute(select(TubeResult.outcome)
                                                    .join(Tube, Tube.id == TubeResult.tube_id)
                                                    .where(Tube.code == getattr(w, tube))).scalar_one_or_none())


def upload_jobs(s: Session, w: World) -> int:
    return s.execute(select(func.count()).select_from(Job).where(Job.kind == results.IMPORT_JOB)).scalar_one()


def exports_of_round(s: Session, w: World) -> int:
    return s.execute(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == Action.EXPORT, AuditEntry.entity == "untested",
        AuditEntry.entity_id == str(w.city_round))).scalar_one()


# --- The cases -----------------------------------------------------------------------------------


# A further check of a successful response: (response, session, world, persona).
Check = Callable[[Any, Session, World, Persona], None]


@dataclass(frozen=True)
class Listing:
    """An API list whose items must be exactly the rows of ``model`` in the persona's jurisdiction."""

    model: Any
    code_field: str = "jurisdiction_code"
    where: Callable[[World], list[ColumnElement[bool]]] = lambda w: []
    is_paged: bool = True  # a page of ``items`` with its ``total``, or a plain list of every row


@dataclass(frozen=True)
class Case:
    """One request: the route it exercises, the concrete URL and body, and what to check after it."""

    method: str
    route: str  # the path template as the application registers it
    url: str  # with ``{world attribute}`` placeholders
    json: Callable[[World], dict[str, Any]] | None = None
    form: Callable[[World], dict[str, str]] | None = None
    effect: Effect | None = None  # the state a successful request changes (and a refused one must not)
    # (table, world attribute, primary key or a function of the world giving it) of the record looked
    # up in scope: a 404 must be audited.
    target: tuple[str, str | Callable[[World], str]] | None = None
    listing: Listing | None = None
    # Records the response shows exactly when the persona's jurisdiction covers them:
    # ("person" | "job", world attribute) or ("user" | "code", literal).
    shows: tuple[tuple[str, str], ...] = ()
    reveals: str | None = None  # world attribute of the person whose full ID number a 200 may show
    is_own_account: bool = False  # the response is the persona's own account, whatever its grants
    files: Callable[[World], dict[str, tuple[str, bytes, str]]] | None = None  # a multipart upload
    # Records a body lists may lie above the persona's jurisdiction too (a round, seen from within it).
    overlapping: bool = False
    check: Check | None = None  # what else a successful (200, 201) response must show

    @property
    def is_page(self) -> bool:
        return not self.route.startswith("/api/")

    @property
    def is_testing(self) -> bool:
        """Whether the response shows testing records, judged by the persona's testing scope."""
        return self.route.startswith(("/testing", "/api/v1/testing"))


def _user_in(username: str, *grants: tuple[str, str], facility: str | None = None) -> Callable[[World], dict]:
    def body(w: World) -> dict[str, Any]:
        return {"username": username, "display_name": "新用户", "password": "matrix-password-2021",
                "grants": [{"role": role, "jurisdiction_code": code} for role, code in grants],
                "facility_id": getattr(w, facility) if facility else None}

    return body


def _person_in(id_number: str, code: str, household: str | None = None) -> Callable[[World], dict]:
    return lambda w: {"name": "张新", "id_number": id_number, "jurisdiction_code": code,
                      "phone": "13900000000", "household_id": getattr(w, household) if household else None}


def _form(id_number: str, code: str) -> Callable[[World], dict[str, str]]:
    return lambda w: {"name": "李新", "id_number": id_number, "jurisdiction_code": code,
                      "address": "新站路1号", "form_key": f"matrix-{id_number}"}


def _person_case(method: str, route: str, key: str, **kw: Any) -> Case:
    """A case on one person, named by world attribute; a 404 on an existing person must be audited."""
    url = route.replace("{person_id}", "{" + key + "}")
    return Case(method, route, url, target=("persons", key) if key != "missing_person" else None, **kw)


def _jurisdiction_case(route: str, code: str) -> Case:
    return Case("GET", route, route.replace("{code}", code), target=("jurisdictions", code))


def _job_case(method: str, route: str, key: str, **kw: Any) -> Case:
    return Case(method, route, route.replace("{job_id}", "{" + key + "}"), target=("jobs", key), **kw)


def _reveal(route: str, key: str) -> Case:
    return _person_case("POST", route, key, effect=reveals_of(key), reveals=key)


def _create_user(username: str, *grants: tuple[str, str], facility: str | None = None) -> Case:
    return Case("POST", "/api/v1/users", "/api/v1/users", json=_user_in(username, *grants, facility=facility),
                effect=user_named(username))


def _testing(method: str, route: str, url: str | None = None, **kw: Any) -> Case:
    """A case on the testing records: ``{round_id}`` is the city round unless ``url`` says otherwise."""
    return Case(method, route, url or route.replace("{round_id}", "{city_round}"), **kw)


def _result_file(*rows: tuple[str, Outcome, str]) -> Callable[[World], dict[str, tuple[str, bytes, str]]]:
    """A lab result file of (tube attribute of the world, outcome, lab code) rows."""

    def files(w: World) -> dict[str, tuple[str, bytes, str]]:
        return {"file": ("results.csv", result_csv([(getattr(w, tube), outcome, lab) for tube, outcome, lab in rows]),
                         "text/csv")}

    return files


def result_csv(rows: list[tuple[str, Outcome, str]]) -> bytes:
    """Result rows in the standard template, as CSV, tested a minute ago."""
    tested = (utcnow() - timedelta(minutes=1)).replace(microsecond=0).isoformat()
    lines = ["tube_code,result,tested_at,lab_code,ct_value"]
    lines += [f"{code},{outcome.value},{tested},{lab}," for code, outcome, lab in rows]
    return ("\n".join(lines) + "\n").encode()


def _tube_case(method: str, route: str, tube: str, **kw: Any) -> Case:
    """A case on one tube, by barcode; a 404 on an existing tube must be audited."""
    return _testing(method, route, route.replace("{code}", "{" + tube + "}"),
                    target=("tubes", lambda w: w.tube(getattr(w, tube))), **kw)


def _round_form(name: str, code: str) -> Callable[[World], dict[str, str]]:
    return lambda w: {"name": name, "jurisdiction_code": code, "starts_at": "2021-01-20T08:00",
                      "default_risk": "low"}


def _site_in(name: str, code: str, *serves: str) -> Callable[[World], dict[str, Any]]:
    return lambda w: {"name": name, "jurisdiction_code": code, "opens_at": "07:00", "closes_at": "21:00",
                      "serves": list(serves or (code,))}


# --- What a successful testing response must show, besides staying in scope


def rounds_seen(response: Any, s: Session, w: World, persona: Persona) -> None:
    """The rounds listed are exactly those over, at or under the persona's testing scope."""
    where = persona.testing_scope
    expected = {r.id for r in s.execute(select(Round)).scalars()
                if covers(where, r.jurisdiction_code) or covers(r.jurisdiction_code, where)}
    assert {r["id"] for r in response.json()} == expected


def coverage_counted(response: Any, s: Session, w: World, persona: Persona) -> None:
    """The funnel counts everyone under its area, so nobody sampled is hidden from a figure."""
    total = response.json()["total"]
    under = total["code"]
    sampled = s.execute(select(func.count()).select_from(Sample).where(
        Sample.round_id == w.city_round, STANDING, Sample.jurisdiction_code.startswith(under))).scalar_one()
    target = s.execute(select(func.count()).select_from(Person).where(
        Person.jurisdiction_code.startswith(under), Person.whereabouts == Whereabouts.AT_HOME)).scalar_one()
    assert sampled > 0
    assert (total["target"], total["sampled"]) == (target, sampled)


def _untested_count(s: Session, w: World, community: str) -> int:
    sampled = select(Sample.person_id).where(Sample.round_id == w.city_round, STANDING)
    return s.execute(select(func.count()).select_from(Person).where(
        Person.jurisdiction_code == community, Person.whereabouts == Whereabouts.AT_HOME,
        Person.id.not_in(sampled))).scalar_one()


def untested_counted(community: str) -> Check:
    """The list counts every person of the community still to be sampled."""

    def check(response: Any, s: Session, w: World, persona: Persona) -> None:
        shown = re.search(r'data-testid="missing-count">([\d,]+)<', response.text)
        assert shown is not None
        assert int(shown.group(1).replace(",", "")) == _untested_count(s, w, community) > 0

    return check


def export_masked(community: str) -> Check:
    """The export lists the same persons, masked, under the exporting user's watermark."""

    def check(response: Any, s: Session, w: World, persona: Persona) -> None:
        sheet = load_workbook(io.BytesIO(response.content), read_only=True).worksheets[0]
        rows = [[str(c) for c in row if c is not None] for row in sheet.iter_rows(values_only=True)]
        text = "\n".join("\t".join(row) for row in rows)
        assert persona.username is not None and persona.username in rows[1][0] and persona.username in rows[-1][0]
        assert len(rows) - 4 == _untested_count(s, w, community)  # title, watermark, headers … watermark
        names = s.execute(select(Person.name, Person.id_number).where(Person.jurisdiction_code == community)).all()
        assert not any(name in text or number in text for name, number in names)

    return check


def samples_stored_in_scope(response: Any, s: Session, w: World, persona: Persona) -> None:
    """Each entry of a batch is stored when its person lies in the persona's jurisdiction, rejected if not."""
    codes = [s.execute(select(Person.jurisdiction_code).where(Person.id == getattr(w, key))).scalar_one()
             for key in ("dc_person", "edj_person")]
    statuses = [e["status"] for e in response.json()["entries"]]
    assert statuses == [EntryStatus.STORED if covers(persona.home, c) else EntryStatus.REJECTED for c in codes]


def upload_queued(response: Any, s: Session, w: World, persona: Persona) -> None:
    """An uploaded file waits as a job that will run as the user who uploaded it."""
    job = s.execute(select(Job).where(Job.kind == results.IMPORT_JOB).order_by(Job.id.desc())).scalars().first()
    user = users.find_user(s, persona.username or "")
    assert job is not None and user is not None
    assert (job.created_by_id, job.state) == (user.id, JobState.QUEUED)
    assert f'id="import-job-{job.id}"' in response.text


def result_stored(response: Any, s: Session, w: World, persona: Persona) -> None:
    """The file was applied, not taken for one imported before."""
    body = response.json()
    assert (body["new_results"], body["already_imported"]) == (1, False)


def funnel_shown(response: Any, s: Session, w: World, persona: Persona) -> None:
    """The overview shows the latest round's funnel (counts, nobody named) to whoever may count."""
    user = users.find_user(s, persona.username or "")
    assert user is not None
    principal = users.principal_for(user)
    counts = principal.can(Permission.AGGREGATES_READ)
    assert ('data-testid="testing-funnel"' in response.text) == counts
    if counts:  # the round's name links to its page for those the page admits, and only for them
        linked = f'href="/testing/rounds/{w.city_round}"' in response.text
        assert linked == principal.can(Permission.TESTING_READ)
    assert ('data-testid="tracing-loop"' in response.text) == (
        principal.can(Permission.TRACING_READ) or principal.can(Permission.CONTACTS_READ))


# --- Tracing: what a write changes, what a list must hold


def cases_of_person(key: str) -> Effect:
    return lambda s, w: s.execute(select(func.count()).select_from(TracingCase)
                                  .where(TracingCase.person_id == getattr(w, key))).scalar_one()


def case_state(key: str) -> Effect:
    """A case and its investigation: what the investigation pages and API change."""

    def state(s: Session, w: World) -> tuple[Any, ...]:
        case_id = getattr(w, key)
        row = s.execute(select(TracingCase.source_case_id, TracingCase.kind, TracingCase.onset_at,
                               Investigation.symptoms, Investigation.notes, Investigation.core_done_at,
                               Investigation.report_done_at, Investigation.id)
                        .join(Investigation, Investigation.case_id == TracingCase.id)
                        .where(TracingCase.id == case_id)).one()
        inv = s.get(Investigation, row[-1])
        assert inv is not None
        s.refresh(inv)
        return (*row[:-1], tuple(e.id for e in inv.itinerary), tuple(n.id for n in inv.named))

    return state


def contact_state(key: str) -> Effect:
    return lambda s, w: s.execute(select(Contact.state, Contact.controlled_at)
                                  .where(Contact.id == getattr(w, key))).one()


def tracing_runs(s: Session, w: World) -> int:
    return s.execute(select(func.count()).select_from(TracingRun)).scalar_one()


def _reach(s: Session, persona: Persona, permission: Permission) -> tuple[str, ...]:
    user = users.find_user(s, persona.username or "")
    assert user is not None
    return users.principal_for(user).prefixes(permission) or ()


def _within(code: str, prefixes: tuple[str, ...]) -> bool:
    return any(covers(p, code) for p in prefixes)


def contacts_seen(response: Any, s: Session, w: World, persona: Persona) -> None:
    """Exactly the contacts living where the persona reads contacts are listed (a page or the API)."""
    reach = _reach(s, persona, Permission.CONTACTS_READ)
    expected = {c.id for c in s.execute(select(Contact)).scalars() if _within(c.jurisdiction_code, reach)}
    if response.headers.get("content-type", "").startswith("text/html"):
        shown = {int(i) for i in re.findall(r'data-contact="(\d+)"', response.text)}
    else:
        body = response.json()
        assert body["total"] == len(expected)
        shown = {c["id"] for c in body["items"]}
    assert expected and shown == expected


def candidates_in_scope(response: Any, s: Session, w: World, persona: Persona) -> None:
    """The persons offered to report are those the persona reads: the 二道江区 person exactly when in reach."""
    offered = {int(i) for i in re.findall(r'name="person_id" value="(\d+)"', response.text)}
    codes = dict(s.execute(select(Person.id, Person.jurisdiction_code).where(Person.id.in_(offered))).all())
    reach = _reach(s, persona, Permission.PEOPLE_READ)
    assert all(_within(code, reach) for code in codes.values())
    assert (w.edj_person in offered) == _within(EDJ_COMMUNITY, reach)


def cases_seen(response: Any, s: Session, w: World, persona: Persona) -> None:
    """Exactly the cases where the persona reads cases are listed."""
    reach = _reach(s, persona, Permission.TRACING_READ)
    expected = {c.id for c in s.execute(select(TracingCase)).scalars() if _within(c.jurisdiction_code, reach)}
    assert expected and {int(i) for i in re.findall(r'data-case="(\d+)"', response.text)} == expected


PAGE, API = "/people/{person_id}", "/api/v1/persons/{person_id}"
GEO_PAGE, GEO_API = "/geo/{code}", "/api/v1/jurisdictions/{code}"
LOGIN_FORM = {"username": WORKER_DC, "password": demo.DEMO_PASSWORD, "next": "/people"}
ROUND, API_ROUND = "/testing/rounds/{round_id}", "/api/v1/testing/rounds/{round_id}"
ROUND_URL = "/testing/rounds/{city_round}"
SITES, TUBE = "/api/v1/testing/sites", "/api/v1/testing/tubes/{code}"
UPLOAD_JOB = "/testing/results/jobs/{job_id}"


def _untested(community: str) -> Case:
    """The city round's door-to-door list of a community; one outside the persona's reach is missing (audited)."""
    return _testing("GET", ROUND + "/untested", ROUND_URL + f"/untested?community={community}",
                    target=("jurisdictions", community), check=untested_counted(community))


def _export(community: str) -> Case:
    """The door-to-door list as Excel: an export is in the audit log exactly when it was allowed."""
    return _testing("GET", ROUND + "/untested.xlsx", ROUND_URL + f"/untested.xlsx?community={community}",
                    target=("jurisdictions", community), effect=with_testing_rows(exports_of_round),
                    check=export_masked(community))


def _door_visit(person: str) -> Case:
    return _testing("PUT", API_ROUND + "/door-visits/{person_id}",
                    "/api/v1/testing/rounds/{city_round}/door-visits/{" + person + "}",
                    json=lambda w: {"mark": "cannot_be_sampled", "reason": "away", "note": "外出务工"},
                    target=("persons", person), effect=door_visit(person))


def _results(tube: str, lab: str) -> Case:
    """A lab file with one negative result for ``tube``, reported by ``lab`` (a lab code)."""
    return _testing("POST", "/api/v1/testing/results", files=_result_file((tube, Outcome.NEGATIVE, lab)),
                    effect=tube_result(tube), check=result_stored)

TRACING_CASE, TRACING_API = "/tracing/cases/{case_id}", "/api/v1/tracing/cases/{case_id}"


def _tcase(method: str, route: str, key: str, suffix: str = "", **kw: Any) -> Case:
    """A case on one tracing case, by world attribute; a 404 on it must be audited."""
    url = route.replace("{case_id}", "{" + key + "}").replace("{root_case_id}", "{" + key + "}")
    url = url.replace("{entry_id}", "{dc_entry}") + suffix
    return Case(method, route, url, target=("cases", key), **kw)


def _contact(method: str, route: str, key: str, **kw: Any) -> Case:
    return Case(method, route, route.replace("{contact_id}", "{" + key + "}"), target=("contacts", key),
                effect=contact_state(key), **kw)


def _run(route: str, key: str) -> Case:
    return Case("GET", route, route.replace("{run_id}", "{" + key + "}"), target=("tracing_runs", key))


def _report_form(key: str) -> Callable[[World], dict[str, str]]:
    sampled = (utcnow() - timedelta(hours=2)).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%dT%H:%M")
    return lambda w: {"person": w.trace_ids[key], "kind": "confirmed", "found_by": "fever_clinic",
                      "sampled_at": sampled}


def _report_json(key: str) -> Callable[[World], dict[str, Any]]:
    return lambda w: {"person_id": getattr(w, key), "kind": "confirmed", "found_by": "fever_clinic",
                      "sampled_at": (utcnow() - timedelta(hours=2)).isoformat()}


def _itinerary_in(w: World) -> dict[str, str]:
    return {"place_text": "江南超市", "starts_at": (utcnow() - timedelta(days=1)).isoformat()}


CASES: dict[str, Case] = {
    "shell.login_form": Case("GET", "/login", "/login"),
    "shell.login": Case("POST", "/login", "/login", form=lambda w: LOGIN_FORM),
    "shell.logout": Case("POST", "/logout", "/logout"),
    "shell.language": Case("GET", "/lang/{locale}", "/lang/en?next=/people"),
    "shell.overview": Case("GET", "/", "/", shows=(("code", "220503"),), check=funnel_shown),
    "geo.tree": Case("GET", "/geo", "/geo"),
    "geo.page.dc": _jurisdiction_case(GEO_PAGE, "220502"),
    "geo.page.edj_community": _jurisdiction_case(GEO_PAGE, EDJ_COMMUNITY),
    "geo.page.city": _jurisdiction_case(GEO_PAGE, "2205"),
    "api.jurisdictions": Case("GET", "/api/v1/jurisdictions", "/api/v1/jurisdictions?size=200",
                              listing=Listing(Jurisdiction, "code")),
    "api.jurisdictions.under_edj": Case(
        "GET", "/api/v1/jurisdictions", "/api/v1/jurisdictions?parent=220503",
        listing=Listing(Jurisdiction, "code", lambda w: [Jurisdiction.parent_code == "220503"])),
    "api.jurisdiction.dc_community": _jurisdiction_case(GEO_API, DC_COMMUNITY),
    "api.jurisdiction.dc": _jurisdiction_case(GEO_API, "220502"),
    "api.jurisdiction.edj_community": _jurisdiction_case(GEO_API, EDJ_COMMUNITY),
    "api.jurisdiction.city": _jurisdiction_case(GEO_API, "2205"),
    "api.jurisdiction.province": _jurisdiction_case(GEO_API, "22"),
    "people.search": Case("GET", "/people", "/people"),
    "people.search.edj_id_tail": Case("GET", "/people", "/people?q={edj_id_tail}",
                                      shows=(("person", "edj_person"),)),
    "people.new_form": Case("GET", "/people/new", "/people/new"),
    "people.register.dc": Case("POST", "/people/new", "/people/new", form=_form(NEW_DC_ID, DC_COMMUNITY),
                               effect=persons_with(NEW_DC_ID)),
    "people.register.edj": Case("POST", "/people/new", "/people/new", form=_form(NEW_EDJ_ID, EDJ_COMMUNITY),
                                effect=persons_with(NEW_EDJ_ID)),
    "people.page.dc": _person_case("GET", PAGE, "dc_person"),
    "people.page.dc_neighbour": _person_case("GET", PAGE, "dc_neighbour"),
    "people.page.edj": _person_case("GET", PAGE, "edj_person"),
    "people.page.missing": _person_case("GET", PAGE, "missing_person"),
    "people.reveal.dc": _reveal(PAGE + "/reveal", "dc_person"),
    "people.reveal.edj": _reveal(PAGE + "/reveal", "edj_person"),
    "api.persons": Case("GET", "/api/v1/persons", "/api/v1/persons?size=200", listing=Listing(Person)),
    "api.persons.within_edj": Case(
        "GET", "/api/v1/persons", "/api/v1/persons?jurisdiction=220503&size=200",
        listing=Listing(Person, where=lambda w: [Person.jurisdiction_code.startswith("220503")])),
    "api.persons.edj_id_tail": Case("GET", "/api/v1/persons", "/api/v1/persons?q={edj_id_tail}",
                                    listing=Listing(Person, where=lambda w: [w.matches_edj_tail()])),
    "api.person.dc": _person_case("GET", API, "dc_person"),
    "api.person.dc_neighbour": _person_case("GET", API, "dc_neighbour"),
    "api.person.edj": _person_case("GET", API, "edj_person"),
    "api.person.missing": _person_case("GET", API, "missing_person"),
    "api.persons.post.dc": Case("POST", "/api/v1/persons", "/api/v1/persons",
                                  json=_person_in(NEW_DC_ID, DC_COMMUNITY), effect=persons_with(NEW_DC_ID)),
    "api.persons.post.edj": Case("POST", "/api/v1/persons", "/api/v1/persons",
                                   json=_person_in(NEW_EDJ_ID, EDJ_COMMUNITY),
                                   effect=persons_with(NEW_EDJ_ID)),
    "api.persons.post.dc_neighbour": Case("POST", "/api/v1/persons", "/api/v1/persons",
                                            json=_person_in(NEW_NEIGHBOUR_ID, DC_NEIGHBOUR_COMMUNITY),
                                            effect=persons_with(NEW_NEIGHBOUR_ID)),
    # A person of the worker's community, placed in a household of another district.
    "api.persons.post.edj_household": Case("POST", "/api/v1/persons", "/api/v1/persons",
                                             json=_person_in(NEW_DC_ID, DC_COMMUNITY, "edj_household"),
                                             effect=persons_with(NEW_DC_ID)),
    "api.person.patch.dc": _person_case("PATCH", API, "dc_person", json=lambda w: {"address": "改过的地址"},
                                         effect=person_row("dc_person")),
    "api.person.patch.dc_neighbour": _person_case("PATCH", API, "dc_neighbour",
                                                   json=lambda w: {"name": "改名"},
                                                   effect=person_row("dc_neighbour")),
    "api.person.patch.edj": _person_case("PATCH", API, "edj_person", json=lambda w: {"phone": "13900000001"},
                                          effect=person_row("edj_person")),
    "api.person.patch.edj_household": _person_case("PATCH", API, "dc_person",
                                                    json=lambda w: {"household_id": w.edj_household},
                                                    effect=person_row("dc_person")),
    "api.person.reveal.dc": _reveal(API + "/reveal", "dc_person"),
    "api.person.reveal.dc_neighbour": _reveal(API + "/reveal", "dc_neighbour"),
    "api.person.reveal.edj": _reveal(API + "/reveal", "edj_person"),
    "users.page": Case("GET", "/users", "/users", shows=(("user", WORKER_DC), ("user", WORKER_EDJ))),
    "api.users.me": Case("GET", "/api/v1/users/me", "/api/v1/users/me", is_own_account=True),
    "api.users": Case("GET", "/api/v1/users", "/api/v1/users?size=200", listing=Listing(User)),
    "api.users.create.dc": _create_user("new_dc", ("community_worker", "220502001002"), facility="dc_lab"),
    "api.users.create.edj": _create_user("new_edj", ("community_worker", EDJ_COMMUNITY)),
    "api.users.create.province": _create_user("new_province", ("commander", "22")),
    "api.users.create.two_districts": _create_user("new_two", ("viewer", "220502"), ("viewer", "220503")),
    # Grants inside the district, but bound to the lab of another district.
    "api.users.create.edj_facility": _create_user("new_lab", ("lab", "220502"), facility="edj_lab"),
    "audit.page": Case("GET", "/audit", "/audit"),
    "jobs.page": Case("GET", "/jobs", "/jobs", shows=(("job", "dc_job"), ("job", "edj_job"))),
    "jobs.progress.dc": _job_case("GET", "/jobs/{job_id}/progress", "dc_job"),
    "jobs.progress.edj": _job_case("GET", "/jobs/{job_id}/progress", "edj_job"),
    "jobs.rerun.dc": _job_case("POST", "/jobs/{job_id}/rerun", "dc_job", effect=job_state("dc_job")),
    "jobs.rerun.edj": _job_case("POST", "/jobs/{job_id}/rerun", "edj_job", effect=job_state("edj_job")),
    "testing.rounds": _testing("GET", "/testing", shows=(("round", "city_round"), ("round", "edj_round"))),
    "testing.open_round.dc": Case("POST", "/testing/rounds", "/testing/rounds",
                                  form=_round_form("东昌区第二轮", "220502"), effect=rounds_named("东昌区第二轮")),
    "testing.open_round.edj": Case("POST", "/testing/rounds", "/testing/rounds",
                                   form=_round_form("二道江区第二轮", "220503"), effect=rounds_named("二道江区第二轮")),
    "testing.round.city": _testing("GET", ROUND, target=("testing_rounds", "city_round")),
    "testing.round.edj": _testing("GET", ROUND, ROUND.replace("{round_id}", "{edj_round}"),
                                  target=("testing_rounds", "edj_round")),
    "testing.alerts.city": _testing("GET", ROUND + "/alerts", shows=(
        ("tperson", "dc_controlled"), ("tperson", "dc_neighbour_controlled"), ("tperson", "edj_controlled"))),
    "testing.planner": Case("GET", "/testing/planner", "/testing/planner?prevalence=0.002"),
    "api.testing.rounds": _testing("GET", "/api/v1/testing/rounds", overlapping=True, check=rounds_seen),
    "api.testing.rounds.create.edj": Case("POST", "/api/v1/testing/rounds", "/api/v1/testing/rounds",
                                          json=lambda w: {"name": "二道江区第二轮", "jurisdiction_code": "220503",
                                                          "starts_at": "2021-01-20T08:00:00+08:00"},
                                          effect=rounds_named("二道江区第二轮"), overlapping=True),
    "api.testing.round.edj": _testing("GET", API_ROUND, API_ROUND.replace("{round_id}", "{edj_round}"),
                                      target=("testing_rounds", "edj_round"), overlapping=True),
    "api.testing.coverage.city": _testing("GET", API_ROUND + "/coverage", check=coverage_counted),
    "api.testing.coverage.under_edj": _testing("GET", API_ROUND + "/coverage",
                                               "/api/v1/testing/rounds/{city_round}/coverage?under=220503",
                                               target=("jurisdictions", "220503"), check=coverage_counted),
    "api.testing.orders.city": _testing("GET", API_ROUND + "/orders", listing=Listing(
        ResampleOrder, where=lambda w: [ResampleOrder.round_id == w.city_round], is_paged=False)),
    "api.testing.planner": Case("GET", "/api/v1/testing/planner",
                                "/api/v1/testing/planner?prevalence=0.002&population=100000&capacity_per_hour=2000"),
    "testing.untested.dc": _untested(DC_COMMUNITY),
    "testing.untested.dc_neighbour": _untested(DC_NEIGHBOUR_COMMUNITY),
    "testing.untested.edj": _untested(EDJ_COMMUNITY),
    "testing.mark_door.dc": _testing("POST", ROUND + "/untested/{person_id}", ROUND_URL + "/untested/{dc_person}",
                                     form=lambda w: {"mark": "visited"}, target=("persons", "dc_person"),
                                     effect=door_visit("dc_person")),
    "testing.mark_door.edj": _testing("POST", ROUND + "/untested/{person_id}", ROUND_URL + "/untested/{edj_person}",
                                      form=lambda w: {"mark": "visited"}, target=("persons", "edj_person"),
                                      effect=door_visit("edj_person")),
    "api.testing.door_visit.dc": _door_visit("dc_person"),
    "api.testing.door_visit.dc_neighbour": _door_visit("dc_neighbour"),
    "testing.export.dc": _export(DC_COMMUNITY),
    "testing.export.edj": _export(EDJ_COMMUNITY),
    "api.testing.sites": _testing("GET", "/api/v1/testing/sites", listing=Listing(SamplingSite, is_paged=False)),
    "testing.sites_page": Case("GET", "/testing/sites", "/testing/sites"),
    "testing.add_site.dc": Case("POST", "/testing/sites", "/testing/sites", form=lambda w: {
        "name": "新站社区三号采样点", "jurisdiction_code": DC_COMMUNITY, "opens_at": "07:00", "closes_at": "21:00",
        "serves": DC_COMMUNITY}, effect=sites_named("新站社区三号采样点")),
    "api.testing.sites.create.dc": Case("POST", SITES, SITES, json=_site_in("新站社区二号采样点", DC_COMMUNITY),
                                        effect=sites_named("新站社区二号采样点")),
    "api.testing.sites.create.edj": Case("POST", SITES, SITES, json=_site_in("东通化社区二号采样点", EDJ_COMMUNITY),
                                         effect=sites_named("东通化社区二号采样点")),
    # A site of 新站社区 that would serve a community of another district.
    "api.testing.sites.create.serves_edj": Case("POST", SITES, SITES,
                                                json=_site_in("跨区采样点", DC_COMMUNITY, DC_COMMUNITY, EDJ_COMMUNITY),
                                                effect=sites_named("跨区采样点")),
    # A device's batch: one person of 新站社区, one of 二道江区, into a new tube at the 新站社区 site.
    "api.testing.samples.batch": _testing("POST", "/api/v1/testing/samples/batch", json=lambda w: {
        "round_id": w.city_round, "site_id": w.dc_site, "entries": [
            {"client_id": f"matrix-{key}", "tube_code": "MXNEW0001", "person_id": getattr(w, key),
             "sampled_at": (utcnow() - timedelta(minutes=5)).isoformat()} for key in ("dc_person", "edj_person")]},
        effect=samples_of("dc_person", "edj_person"), check=samples_stored_in_scope),
    "api.testing.tube.dc_sent": _tube_case("GET", TUBE, "dc_sent_tube"),
    "api.testing.tube.dc_other_lab": _tube_case("GET", TUBE, "dc_other_lab_tube"),
    "api.testing.tube.edj_sent": _tube_case("GET", TUBE, "edj_sent_tube"),
    "api.testing.tube.close.dc_open": _tube_case("POST", TUBE + "/close", "dc_open_tube",
                                                 effect=tube_row("dc_open_tube")),
    "api.testing.tube.close.edj_open": _tube_case("POST", TUBE + "/close", "edj_open_tube",
                                                  effect=tube_row("edj_open_tube")),
    "api.testing.shipments.dc": _testing("POST", "/api/v1/testing/shipments", json=lambda w: {
        "lab_id": w.dc_lab, "tube_codes": [w.dc_open_tube]}, effect=tube_row("dc_open_tube")),
    "api.testing.shipments.edj": _testing("POST", "/api/v1/testing/shipments", json=lambda w: {
        "lab_id": w.edj_lab, "tube_codes": [w.edj_open_tube]}, effect=tube_row("edj_open_tube")),
    "testing.results_page": Case("GET", "/testing/results", "/testing/results"),
    "testing.upload": _testing("POST", "/testing/results", files=_result_file(("dc_sent_tube", Outcome.NEGATIVE,
                                                                               "LAB220502")),
                               effect=with_testing_rows(upload_jobs), check=upload_queued),
    "testing.upload_progress.own": _testing("GET", UPLOAD_JOB, UPLOAD_JOB.replace("{job_id}", "{lab_job}"),
                                            target=("jobs", "lab_job")),
    "testing.upload_progress.dc_other": _testing("GET", UPLOAD_JOB, UPLOAD_JOB.replace("{job_id}", "{dc_upload_job}"),
                                                 target=("jobs", "dc_upload_job")),
    "testing.template.xlsx": Case("GET", "/testing/template.{fmt}", "/testing/template.xlsx"),
    # The lab's file for a tube sent to it; for a 东昌区 tube sent to the 二道江区 lab; for a 二道江区 tube,
    # from the 二道江区 lab.
    "api.testing.results.own": _results("dc_sent_tube", "LAB220502"),
    "api.testing.results.other_lab_tube": _results("dc_other_lab_tube", "LAB220502"),
    "api.testing.results.edj": _results("edj_sent_tube", "LAB220503"),
    # Tracing: pages.
    "tracing.cases": Case("GET", "/tracing", "/tracing", check=cases_seen),
    "tracing.persons": Case("GET", "/tracing/persons", "/tracing/persons?q={edj_id_tail}",
                            check=candidates_in_scope),
    "tracing.report.dc": Case("POST", "/tracing/cases", "/tracing/cases", form=_report_form("trace_dc_person"),
                              effect=cases_of_person("trace_dc_person")),
    "tracing.report.edj": Case("POST", "/tracing/cases", "/tracing/cases", form=_report_form("trace_edj_person"),
                               effect=cases_of_person("trace_edj_person")),
    "tracing.case.dc": _tcase("GET", TRACING_CASE, "dc_case"),
    "tracing.case.edj": _tcase("GET", TRACING_CASE, "edj_case"),
    "tracing.source.dc": _tcase("POST", TRACING_CASE + "/source", "dc_case",
                                form=lambda w: {"source_case_id": str(w.dc_case2)}, effect=case_state("dc_case")),
    "tracing.source.edj_source": Case("POST", TRACING_CASE + "/source", "/tracing/cases/{dc_case}/source",
                                      form=lambda w: {"source_case_id": str(w.edj_case)},
                                      effect=case_state("dc_case")),
    "tracing.investigation.dc": _tcase("GET", TRACING_CASE + "/investigation", "dc_case"),
    "tracing.investigation.edj": _tcase("GET", TRACING_CASE + "/investigation", "edj_case"),
    "tracing.save_investigation.dc": _tcase("POST", TRACING_CASE + "/investigation", "dc_case",
                                            form=lambda w: {"kind": "asymptomatic", "symptoms": "咳嗽"},
                                            effect=case_state("dc_case")),
    "tracing.save_investigation.edj": _tcase("POST", TRACING_CASE + "/investigation", "edj_case",
                                             form=lambda w: {"kind": "asymptomatic", "symptoms": "咳嗽"},
                                             effect=case_state("edj_case")),
    "tracing.itinerary.dc": _tcase("POST", TRACING_CASE + "/itinerary", "dc_case",
                                   form=lambda w: {"place_text": "江南超市", "starts_at": "2021-01-10T09:00"},
                                   effect=case_state("dc_case")),
    "tracing.itinerary.remove.dc": _tcase("POST", TRACING_CASE + "/itinerary/{entry_id}/remove", "dc_case",
                                          effect=case_state("dc_case")),
    "tracing.named.dc": _tcase("POST", TRACING_CASE + "/named", "dc_case",
                               form=lambda w: {"name": "赵同事", "relation": "同事"}, effect=case_state("dc_case")),
    "tracing.complete_core.dc": _tcase("POST", TRACING_CASE + "/complete-core", "dc_case",
                                       effect=case_state("dc_case")),
    "tracing.complete_core.edj": _tcase("POST", TRACING_CASE + "/complete-core", "edj_case",
                                        effect=case_state("edj_case")),
    "tracing.complete_report.dc2": _tcase("POST", TRACING_CASE + "/complete-report", "dc_case2",
                                          effect=case_state("dc_case2")),
    "tracing.contacts": Case("GET", "/tracing/contacts", "/tracing/contacts", check=contacts_seen),
    "tracing.controlled.dc": _contact("POST", "/tracing/contacts/{contact_id}/controlled", "dc_contact"),
    "tracing.controlled.dc_neighbour": _contact("POST", "/tracing/contacts/{contact_id}/controlled",
                                                "dc_neighbour_contact"),
    "tracing.start_run.dc": Case("POST", "/tracing/runs", "/tracing/runs", form=lambda w: {"case_id": str(w.dc_case)},
                                 effect=tracing_runs),
    "tracing.start_run.edj": Case("POST", "/tracing/runs", "/tracing/runs",
                                  form=lambda w: {"case_id": str(w.edj_case)}, effect=tracing_runs),
    "tracing.run.dc": _run("/tracing/runs/{run_id}", "dc_run"),
    "tracing.run.edj": _run("/tracing/runs/{run_id}", "edj_run"),
    "tracing.run_progress.dc": _run("/tracing/runs/{run_id}/progress", "dc_run"),
    "tracing.timeliness": Case("GET", "/tracing/timeliness", "/tracing/timeliness"),
    "tracing.chains": Case("GET", "/tracing/chains", "/tracing/chains"),
    "tracing.chain.dc": _tcase("GET", "/tracing/chains/{root_case_id}", "dc_case"),
    "tracing.chain.edj": _tcase("GET", "/tracing/chains/{root_case_id}", "edj_case"),
    # Tracing: API.
    "api.tracing.cases": Case("GET", "/api/v1/tracing/cases", "/api/v1/tracing/cases?size=200",
                              listing=Listing(TracingCase)),
    "api.tracing.cases.post.dc": Case("POST", "/api/v1/tracing/cases", "/api/v1/tracing/cases",
                                      json=_report_json("trace_dc_person"),
                                      effect=cases_of_person("trace_dc_person")),
    "api.tracing.cases.post.edj": Case("POST", "/api/v1/tracing/cases", "/api/v1/tracing/cases",
                                       json=_report_json("trace_edj_person"), target=("persons", "trace_edj_person"),
                                       effect=cases_of_person("trace_edj_person")),
    "api.tracing.case.dc": _tcase("GET", TRACING_API, "dc_case"),
    "api.tracing.case.edj": _tcase("GET", TRACING_API, "edj_case"),
    "api.tracing.case.patch.dc": _tcase("PATCH", TRACING_API, "dc_case", json=lambda w: {"symptoms": "乏力"},
                                        effect=case_state("dc_case")),
    "api.tracing.case.patch.edj": _tcase("PATCH", TRACING_API, "edj_case", json=lambda w: {"symptoms": "乏力"},
                                         effect=case_state("edj_case")),
    "api.tracing.itinerary.dc": _tcase("POST", TRACING_API + "/itinerary", "dc_case", json=_itinerary_in,
                                       effect=case_state("dc_case")),
    "api.tracing.named.dc": _tcase("POST", TRACING_API + "/named", "dc_case",
                                   json=lambda w: {"name": "钱邻居", "relation": "邻居"}, effect=case_state("dc_case")),
    "api.tracing.complete_core.dc": _tcase("POST", TRACING_API + "/complete-core", "dc_case",
                                           effect=case_state("dc_case")),
    "api.tracing.complete_report.dc2": _tcase("POST", TRACING_API + "/complete-report", "dc_case2",
                                              effect=case_state("dc_case2")),
    "api.tracing.contacts": Case("GET", "/api/v1/tracing/contacts", "/api/v1/tracing/contacts?size=200",
                                 check=contacts_seen),
    "api.tracing.controlled.dc": _contact("POST", "/api/v1/tracing/contacts/{contact_id}/controlled", "dc_contact"),
    "api.tracing.controlled.edj": _contact("POST", "/api/v1/tracing/contacts/{contact_id}/controlled",
                                           "edj_contact"),
    "api.tracing.runs.post": Case("POST", "/api/v1/tracing/runs", "/api/v1/tracing/runs",
                                  json=lambda w: {"case_ids": [w.dc_case]}, effect=tracing_runs),
    "api.tracing.run.dc": _run("/api/v1/tracing/runs/{run_id}", "dc_run"),
    "api.tracing.run.edj": _run("/api/v1/tracing/runs/{run_id}", "edj_run"),
    "api.tracing.chain.dc": _tcase("GET", "/api/v1/tracing/chains/{root_case_id}/graph", "dc_case"),
    "api.tracing.chain.edj": _tcase("GET", "/api/v1/tracing/chains/{root_case_id}/graph", "edj_case"),
    # --- Operation manuals
    "manuals.index": Case("GET", "/manuals", "/manuals"),
    "manuals.search": Case("GET", "/manuals/search", "/manuals/search?q=核酸"),
    "manuals.for": Case("GET", "/manuals/for", "/manuals/for?path=/testing"),
    "manuals.page": Case("GET", "/manuals/{key}", f"/manuals/{MANUAL_KEY}"),
    "manuals.page.missing": Case("GET", "/manuals/{key}", "/manuals/no-such-manual"),
    "manuals.history": Case("GET", "/manuals/{key}/history", f"/manuals/{MANUAL_KEY}/history?language=zh_CN"),
    "manuals.version.dc": Case("GET", "/manuals/{key}/versions/{number}",
                               f"/manuals/{MANUAL_KEY}/versions/{{manual_dc_version}}?language=zh_CN",
                               target=("manual_versions", "manual_dc_version_id")),
    "manuals.publish_form": Case("GET", "/manuals/{key}/publish", f"/manuals/{MANUAL_KEY}/publish"),
    "manuals.publish.dc": _publish("220502"),
    "manuals.publish.edj": _publish("220503"),
    # --- end of operation manuals
    # Charts of the command module (see ``_charts_records``).
    "charts.plans": Case("GET", "/command/plans", "/command/plans", check=plans_listed),
    "charts.plan.city": _plan(CHARTS_PLAN, "charts_city_plan"),
    "charts.plan.edj": _plan(CHARTS_PLAN, "charts_edj_plan"),
    "api.charts.plan.city": _plan("/api/v1" + CHARTS_PLAN, "charts_city_plan", check=plan_bars_in_scope),
    "api.charts.plan.edj": _plan("/api/v1" + CHARTS_PLAN, "charts_edj_plan", check=plan_bars_in_scope),
    "charts.flows": Case("GET", "/command/flows", "/command/flows", check=work_loop_counted),
    "charts.flows.under_edj": Case("GET", "/command/flows", "/command/flows?under=220503",
                                   target=("jurisdictions", "220503")),
    "charts.assessment": Case("GET", "/command/assessment", "/command/assessment"),
    "charts.assessment.export": Case("GET", "/command/assessment.xlsx", "/command/assessment.xlsx?of=units",
                                     effect=assessment_exports, check=assessment_watermarked),
    "charts.templates": Case("GET", "/command/templates", "/command/templates"),
    "charts.template.trace_cases": Case("GET", "/command/templates/{name}.csv", "/command/templates/trace-cases.csv"),
    "charts.overview.work_loop": Case("GET", "/", "/", check=work_loop_shown),
    # --- Inspections (四不两直) and the direct channel (厅局长直通车) ---------------------------------
    "inspections.list": Case("GET", "/command/inspections", "/command/inspections",
                             check=_listed_in_reach("data-inspection", inspections.Inspection)),
    "inspections.new_form": Case("GET", "/command/inspections/new", "/command/inspections/new"),
    "inspections.record.dc": Case("POST", "/command/inspections", "/command/inspections",
                                  form=_inspection_form(DC_COMMUNITY),
                                  effect=inspections_titled(f"matrix-{DC_COMMUNITY}")),
    "inspections.record.edj": Case("POST", "/command/inspections", "/command/inspections",
                                   form=_inspection_form(EDJ_COMMUNITY),
                                   effect=inspections_titled(f"matrix-{EDJ_COMMUNITY}")),
    "inspections.page.dc": Case("GET", "/command/inspections/{inspection_id}", "/command/inspections/{dc_inspection}",
                                target=("inspections", "dc_inspection")),
    "inspections.page.edj": Case("GET", "/command/inspections/{inspection_id}",
                                 "/command/inspections/{edj_inspection}", target=("inspections", "edj_inspection")),
    "inspections.finding.dc": Case("POST", "/command/inspections/{inspection_id}/findings",
                                   "/command/inspections/{dc_inspection}/findings", form=_finding_form("dc_committee"),
                                   target=("inspections", "dc_inspection"), effect=findings_of("dc_inspection")),
    "inspections.finding.edj": Case("POST", "/command/inspections/{inspection_id}/findings",
                                    "/command/inspections/{edj_inspection}/findings",
                                    form=_finding_form("edj_committee"), target=("inspections", "edj_inspection"),
                                    effect=findings_of("edj_inspection")),
    "inspections.photo.dc": Case("GET", "/command/inspections/photos/{photo_id}",
                                 "/command/inspections/photos/{dc_photo}", target=("inspection_photos", "dc_photo"),
                                 check=lambda r, s, w, p: assert_photo(r)),
    "inspections.photo.edj": Case("GET", "/command/inspections/photos/{photo_id}",
                                  "/command/inspections/photos/{edj_photo}",
                                  target=("inspection_photos", "edj_photo"), check=lambda r, s, w, p: assert_photo(r)),
    "direct.form": Case("GET", "/direct", "/direct"),
    "direct.areas": Case("GET", "/direct/areas", "/direct/areas?level=street&district=220502"),
    "direct.submit": Case("POST", "/direct", "/direct", form=_public_form, effect=public_messages),
    "direct.track_form": Case("GET", "/direct/track", "/direct/track"),
    "direct.track": Case("POST", "/direct/track", "/direct/track", form=lambda w: {"code": w.dc_message_code},
                         check=tracked_without_personal_data),
    "channel.list": Case("GET", "/command/channel", "/command/channel",
                         check=_listed_in_reach("data-message", DirectMessage)),
    "channel.message.dc": Case("GET", "/command/channel/{message_id}", "/command/channel/{dc_message}",
                               target=("direct_messages", "dc_message"), check=sender_masked_unless_revealed),
    "channel.message.edj": Case("GET", "/command/channel/{message_id}", "/command/channel/{edj_message}",
                                target=("direct_messages", "edj_message"), check=sender_masked_unless_revealed),
    "channel.reveal.dc": Case("POST", "/command/channel/{message_id}/reveal", "/command/channel/{dc_message}/reveal",
                              target=("direct_messages", "dc_message"), effect=contact_reveals("dc_message"),
                              check=sender_masked_unless_revealed),
    "channel.reveal.edj": Case("POST", "/command/channel/{message_id}/reveal",
                               "/command/channel/{edj_message}/reveal", target=("direct_messages", "edj_message"),
                               effect=contact_reveals("edj_message"), check=sender_masked_unless_revealed),
    "channel.reply.dc": Case("POST", "/command/channel/{message_id}/replies", "/command/channel/{dc_message}/replies",
                             form=lambda w: {"reply": "已安排增设采样台。"}, target=("direct_messages", "dc_message"),
                             effect=replies_to("dc_message")),
    # --- end of inspections and the direct channel ---------------------------------------------------
    # Command pages and API: see ``_command_records``.
    "command.inbox": Case("GET", "/command", "/command"),
    "command.digest": Case("GET", "/command/digest", "/command/digest"),
    "command.dashboard": Case("GET", "/command/dashboard", "/command/dashboard"),
    "command.dashboard.edj": Case("GET", "/command/dashboard", "/command/dashboard?code=220503"),
    "command.directives": Case("GET", "/command/directives", "/command/directives",
                               check=cmd_items_seen(cmd.Directive, "directive")),
    "command.directives.create.dc": Case("POST", "/command/directives", "/command/directives",
                                         form=lambda w: {"jurisdiction_code": "220502", "title": "矩阵指令"},
                                         effect=cmd_count(cmd.Directive, lambda w: cmd.Directive.title == "矩阵指令")),
    "command.directives.create.edj": Case("POST", "/command/directives", "/command/directives",
                                          form=lambda w: {"jurisdiction_code": "220503", "title": "矩阵指令"},
                                          effect=cmd_count(cmd.Directive, lambda w: cmd.Directive.title == "矩阵指令")),
    "command.directive.dc": _cmd("GET", "/command/directives/{directive_id}", "cmd_dc_directive", "directives"),
    "command.directive.edj": _cmd("GET", "/command/directives/{directive_id}", "cmd_edj_directive", "directives"),
    "command.directive.issue.dc": _cmd("POST", "/command/directives/{directive_id}/issue", "cmd_dc_directive",
                                       "directives", effect=cmd_directive_state("cmd_dc_directive")),
    "command.directive.issue.edj": _cmd("POST", "/command/directives/{directive_id}/issue", "cmd_edj_directive",
                                        "directives", effect=cmd_directive_state("cmd_edj_directive")),
    "command.directive.close.dc": _cmd("POST", "/command/directives/{directive_id}/close", "cmd_dc_issued_directive",
                                       "directives", effect=cmd_directive_state("cmd_dc_issued_directive")),
    "command.directive.tasks.dc": _cmd("POST", "/command/directives/{directive_id}/tasks", "cmd_dc_directive",
                                       "directives", form=lambda w: {"jurisdiction_code": DC_COMMUNITY,
                                                                     "title": "社区采样", "due_at": _local(20)},
                                       effect=cmd_directive_state("cmd_dc_directive")),
    "command.tasks": Case("GET", "/command/tasks", "/command/tasks", check=cmd_items_seen(cmd.Task, "task")),
    "command.task.dc": _cmd("GET", "/command/tasks/{task_id}", "cmd_dc_task", "tasks"),
    "command.task.edj": _cmd("GET", "/command/tasks/{task_id}", "cmd_edj_task", "tasks"),
    "command.task.assign.dc": _cmd("POST", "/command/tasks/{task_id}/assign", "cmd_dc_task", "tasks",
                                   form=lambda w: {"unit_id": str(w.cmd_dc_unit), "due_at": _local(20),
                                                   "lead_leader_name": "王书记"},
                                   effect=cmd_task_state("cmd_dc_task")),
    "command.task.start.district": _cmd("POST", "/command/tasks/{task_id}/start", "cmd_dc_district_task", "tasks",
                                        effect=cmd_task_state("cmd_dc_district_task")),
    "command.task.progress.dc": _cmd("POST", "/command/tasks/{task_id}/progress", "cmd_dc_task", "tasks",
                                     form=lambda w: {"text": "已摸排120户", "percent": "40"},
                                     effect=cmd_task_state("cmd_dc_task")),
    "command.task.progress.edj": _cmd("POST", "/command/tasks/{task_id}/progress", "cmd_edj_task", "tasks",
                                      form=lambda w: {"text": "已摸排", "percent": "40"},
                                      effect=cmd_task_state("cmd_edj_task")),
    "command.task.complete.dc": _cmd("POST", "/command/tasks/{task_id}/complete", "cmd_dc_task", "tasks",
                                     form=lambda w: {"outcome": "全部完成"}, effect=cmd_task_state("cmd_dc_task")),
    "command.task.cancel.dc": _cmd("POST", "/command/tasks/{task_id}/cancel", "cmd_dc_task", "tasks",
                                   form=lambda w: {"reason": "重复"}, effect=cmd_task_state("cmd_dc_task")),
    "command.task.reschedule.dc": _cmd("POST", "/command/tasks/{task_id}/reschedule", "cmd_dc_task", "tasks",
                                       form=lambda w: {"due_at": _local(30)}, effect=cmd_task_state("cmd_dc_task")),
    "command.task.hand_down.district": _cmd("POST", "/command/tasks/{task_id}/hand-down", "cmd_dc_district_task",
                                            "tasks", form=lambda w: {"jurisdiction_code": DC_COMMUNITY},
                                            effect=cmd_task_state("cmd_dc_district_task")),
    "command.task.milestones.dc": _cmd("POST", "/command/tasks/{task_id}/milestones", "cmd_dc_task", "tasks",
                                       form=lambda w: {"title": "过半", "due_at": _local(10)},
                                       effect=cmd_task_state("cmd_dc_task")),
    "command.milestone.reach.dc": _cmd("POST", "/command/milestones/{milestone_id}/reach", "cmd_dc_milestone",
                                       "milestones", effect=cmd_count(cmd.Milestone,
                                                                      lambda w: cmd.Milestone.id == w.cmd_dc_milestone,
                                                                      lambda w: cmd.Milestone.reached_at.is_(None))),
    "command.attachment.dc": _cmd("GET", "/command/attachments/{attachment_id}", "cmd_dc_attachment",
                                  "command_attachments", effect=cmd_exports),
    "command.problems": Case("GET", "/command/problems", "/command/problems",
                             check=cmd_items_seen(cmd.Problem, "problem")),
    "command.problems.file.dc": Case("POST", "/command/problems", "/command/problems",
                                     form=lambda w: {"jurisdiction_code": DC_COMMUNITY, "title": "矩阵问题"},
                                     effect=cmd_count(cmd.Problem, lambda w: cmd.Problem.title == "矩阵问题")),
    "command.problem.dc": _cmd("GET", "/command/problems/{problem_id}", "cmd_dc_problem", "problems"),
    "command.problem.edj": _cmd("GET", "/command/problems/{problem_id}", "cmd_edj_problem", "problems"),
    "command.problem.measures.dc": _cmd("POST", "/command/problems/{problem_id}/measures", "cmd_dc_problem",
                                        "problems", form=lambda w: {"title": "延长采样时间", "owner_name": "李主任"},
                                        effect=cmd_problem_state("cmd_dc_problem")),
    "command.problem.close.dc": _cmd("POST", "/command/problems/{problem_id}/close", "cmd_dc_problem", "problems",
                                     effect=cmd_problem_state("cmd_dc_problem")),
    "command.measure.rectify.dc": _cmd("POST", "/command/measures/{measure_id}/rectifications",
                                       "cmd_dc_open_measure", "measures", form=lambda w: {"evidence": "已错峰"},
                                       effect=cmd_problem_state("cmd_dc_problem")),
    "command.rectification.verify.dc": _cmd("POST", "/command/rectifications/{rectification_id}/verify",
                                            "cmd_dc_rect", "rectifications", form=lambda w: {"passed": "yes"},
                                            effect=cmd_rect_state("cmd_dc_rect")),
    "command.rectification.verify.edj": _cmd("POST", "/command/rectifications/{rectification_id}/verify",
                                             "cmd_edj_rect", "rectifications", form=lambda w: {"passed": "yes"},
                                             effect=cmd_rect_state("cmd_edj_rect")),
    "command.task_forces": Case("GET", "/command/task-forces", "/command/task-forces"),
    "command.task_forces.create.dc": Case("POST", "/command/task-forces", "/command/task-forces",
                                          form=lambda w: {"jurisdiction_code": "220502", "name": "矩阵专班"},
                                          effect=cmd_count(cmd.TaskForce, lambda w: cmd.TaskForce.name == "矩阵专班")),
    "command.task_force.dc": _cmd("GET", "/command/task-forces/{task_force_id}", "cmd_dc_force"),
    "command.task_force.update.dc": _cmd("POST", "/command/task-forces/{task_force_id}", "cmd_dc_force",
                                         form=lambda w: {"name": "矩阵专班", "lead_leader_name": "赵区长"},
                                         effect=cmd_count(cmd.TaskForce, lambda w: cmd.TaskForce.name == "矩阵专班")),
    "command.units": Case("GET", "/command/units", "/command/units"),
    "command.units.create.dc": Case("POST", "/command/units", "/command/units",
                                    form=lambda w: {"jurisdiction_code": "220502", "name": "矩阵单位",
                                                    "kind": "department"},
                                    effect=cmd_count(cmd.OrgUnit, lambda w: cmd.OrgUnit.name == "矩阵单位")),
    "command.unit.dc": _cmd("GET", "/command/units/{unit_id}", "cmd_dc_unit"),
    "command.unit.members.dc": _cmd("POST", "/command/units/{unit_id}/members", "cmd_dc_unit",
                                    form=lambda w: {"user_id": str(w.cmd_dc_tracer)},
                                    effect=cmd_count(cmd.OrgUnitMember,
                                                     lambda w: cmd.OrgUnitMember.unit_id == w.cmd_dc_unit)),
    "api.command.directives": Case("GET", "/api/v1/command/directives", "/api/v1/command/directives?size=200",
                                   listing=Listing(cmd.Directive)),
    "api.command.directives.post.dc": Case("POST", "/api/v1/command/directives", "/api/v1/command/directives",
                                           json=lambda w: {"jurisdiction_code": "220502", "title": "矩阵指令"},
                                           effect=cmd_count(cmd.Directive,
                                                            lambda w: cmd.Directive.title == "矩阵指令")),
    "api.command.directive.dc": _cmd("GET", "/api/v1/command/directives/{directive_id}", "cmd_dc_directive",
                                     "directives"),
    "api.command.directive.issue.dc": _cmd("POST", "/api/v1/command/directives/{directive_id}/issue",
                                           "cmd_dc_directive", "directives",
                                           effect=cmd_directive_state("cmd_dc_directive")),
    "api.command.directive.close.dc": _cmd("POST", "/api/v1/command/directives/{directive_id}/close",
                                           "cmd_dc_issued_directive", "directives",
                                           effect=cmd_directive_state("cmd_dc_issued_directive")),
    "api.command.tasks": Case("GET", "/api/v1/command/tasks", "/api/v1/command/tasks?size=200",
                              listing=Listing(cmd.Task)),
    "api.command.tasks.post.dc": Case("POST", "/api/v1/command/tasks", "/api/v1/command/tasks",
                                      json=lambda w: {"jurisdiction_code": DC_COMMUNITY, "title": "矩阵任务"},
                                      effect=cmd_count(cmd.Task, lambda w: cmd.Task.title == "矩阵任务")),
    "api.command.task.dc": _cmd("GET", "/api/v1/command/tasks/{task_id}", "cmd_dc_task", "tasks"),
    "api.command.task.edj": _cmd("GET", "/api/v1/command/tasks/{task_id}", "cmd_edj_task", "tasks"),
    "api.command.task.assign.dc": _cmd("POST", "/api/v1/command/tasks/{task_id}/assign", "cmd_dc_task", "tasks",
                                       json=lambda w: {"responsibility": {"unit_id": w.cmd_dc_unit},
                                                       "due_at": (utcnow() + timedelta(hours=20)).isoformat()},
                                       effect=cmd_task_state("cmd_dc_task")),
    "api.command.task.start.district": _cmd("POST", "/api/v1/command/tasks/{task_id}/start",
                                            "cmd_dc_district_task", "tasks",
                                            effect=cmd_task_state("cmd_dc_district_task")),
    "api.command.task.progress.dc": _cmd("POST", "/api/v1/command/tasks/{task_id}/progress", "cmd_dc_task", "tasks",
                                         json=lambda w: {"text": "已摸排", "percent": 50},
                                         effect=cmd_task_state("cmd_dc_task")),
    "api.command.task.complete.dc": _cmd("POST", "/api/v1/command/tasks/{task_id}/complete", "cmd_dc_task", "tasks",
                                         json=lambda w: {"outcome": "完成"}, effect=cmd_task_state("cmd_dc_task")),
    "api.command.task.cancel.dc": _cmd("POST", "/api/v1/command/tasks/{task_id}/cancel", "cmd_dc_task", "tasks",
                                       json=lambda w: {"reason": "重复"}, effect=cmd_task_state("cmd_dc_task")),
    "api.command.task.reschedule.dc": _cmd("POST", "/api/v1/command/tasks/{task_id}/reschedule", "cmd_dc_task",
                                           "tasks", json=lambda w: {"due_at": (utcnow() + timedelta(hours=30))
                                                                    .isoformat()},
                                           effect=cmd_task_state("cmd_dc_task")),
    "api.command.task.hand_down.district": _cmd("POST", "/api/v1/command/tasks/{task_id}/hand-down",
                                                "cmd_dc_district_task", "tasks",
                                                json=lambda w: {"jurisdiction_code": DC_COMMUNITY},
                                                effect=cmd_task_state("cmd_dc_district_task")),
    "api.command.problems": Case("GET", "/api/v1/command/problems", "/api/v1/command/problems?size=200",
                                 listing=Listing(cmd.Problem)),
    "api.command.problems.post.dc": Case("POST", "/api/v1/command/problems", "/api/v1/command/problems",
                                         json=lambda w: {"jurisdiction_code": DC_COMMUNITY, "title": "矩阵问题"},
                                         effect=cmd_count(cmd.Problem, lambda w: cmd.Problem.title == "矩阵问题")),
    "api.command.problem.dc": _cmd("GET", "/api/v1/command/problems/{problem_id}", "cmd_dc_problem", "problems"),
    "api.command.problem.edj": _cmd("GET", "/api/v1/command/problems/{problem_id}", "cmd_edj_problem", "problems"),
    "api.command.problem.measures.dc": _cmd("POST", "/api/v1/command/problems/{problem_id}/measures",
                                            "cmd_dc_problem", "problems",
                                            json=lambda w: {"title": "延长采样时间", "owner_name": "李主任"},
                                            effect=cmd_problem_state("cmd_dc_problem")),
    "api.command.measure.rectify.dc": _cmd("POST", "/api/v1/command/measures/{measure_id}/rectifications",
                                           "cmd_dc_open_measure", "measures", json=lambda w: {"evidence": "已错峰"},
                                           effect=cmd_problem_state("cmd_dc_problem")),
    "api.command.rectification.verify.dc": _cmd("POST", "/api/v1/command/rectifications/{rectification_id}/verify",
                                                "cmd_dc_rect", "rectifications", json=lambda w: {"passed": True},
                                                effect=cmd_rect_state("cmd_dc_rect")),
    "api.command.inbox": Case("GET", "/api/v1/command/inbox", "/api/v1/command/inbox"),
}

# Routes that need no row: framework plumbing, not application data.
UNLISTED = {"/api/openapi.json", "/api/docs"}


# --- What a response shows -----------------------------------------------------------------------

_PERSON_LINK = re.compile(r'href="/people/(\d+)"')
_GEO_LINK = re.compile(r'href="/geo/(\d+)[?"]|data-code="(\d+)"')
_AUDIT_CODE = re.compile(r'<td class="wide">(\d+)</td>')  # the audit table's jurisdiction column
_JOB_ROW = re.compile(r'<tr id="job-(\d+)"')
_ROUND_LINK = re.compile(r'href="/testing/rounds/(\d+)"')
_USER_ROW = re.compile(r"<tr><td>([\w.-]+)</td>")
_GRANT_CODE = re.compile(r"<span class=\"badge\">[^<]*· (\d{2,12})</span>")  # a role badge on the users page


def _table(html: str, testid: str) -> str:
    start = html.find(f'data-testid="{testid}"')
    return html[start:html.find("</table>", start)] if start >= 0 else ""


def shown_in_page(html: str, session: Session) -> dict[str, dict[str, str]]:
    """What an HTML page shows, by kind, each with the jurisdiction it belongs to (system view)."""
    person_ids = {int(i) for i in _PERSON_LINK.findall(html)}
    job_ids = {int(i) for i in _JOB_ROW.findall(html)}
    round_ids = {int(i) for i in _ROUND_LINK.findall(html)}
    usernames = set(_USER_ROW.findall(_table(html, "users")))
    codes = {c for groups in _GEO_LINK.findall(html) for c in groups if c}
    codes |= set(_GRANT_CODE.findall(html)) | set(_AUDIT_CODE.findall(_table(html, "audit")))

    def lookup(column: Any, key: Any, values: set[Any]) -> dict[str, str]:
        if not values:
            return {}
        rows = session.execute(select(key, column).where(key.in_(values))).all()
        assert len(rows) == len(values), f"the page links to records that do not exist: {values}"
        return {str(k): c for k, c in rows}

    return {
        "person": lookup(Person.jurisdiction_code, Person.id, person_ids),
        "job": lookup(Job.jurisdiction_code, Job.id, job_ids),
        "round": lookup(Round.jurisdiction_code, Round.id, round_ids),
        "user": lookup(User.jurisdiction_code, User.username, usernames),
        "code": {c: c for c in codes},
    }


def codes_in_json(value: Any) -> Iterator[tuple[str, str]]:
    """Every (key, code) of a ``jurisdiction_code`` (a record's) or ``code`` (a jurisdiction's) in a body.

    A ``code`` that is not all digits names something else (a tube's barcode).
    """
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("jurisdiction_code", "code") and isinstance(item, str) and item.isdigit():
                yield key, item
            else:
                yield from codes_in_json(item)
    elif isinstance(value, list):
        for item in value:
            yield from codes_in_json(item)


def _record_code(session: Session, world: World, kind: str, ref: str) -> tuple[str, str]:
    """(identifier as the page shows it, jurisdiction) of a ``shows`` entry."""
    if kind in ("person", "tperson"):
        ident = getattr(world, ref)
        return str(ident), session.execute(select(Person.jurisdiction_code)
                                           .where(Person.id == ident)).scalar_one()
    if kind == "job":
        ident = getattr(world, ref)
        return str(ident), session.execute(select(Job.jurisdiction_code).where(Job.id == ident)).scalar_one()
    if kind == "user":
        return ref, session.execute(select(User.jurisdiction_code).where(User.username == ref)).scalar_one()
    if kind == "round":
        ident = getattr(world, ref)
        return str(ident), session.execute(select(Round.jurisdiction_code).where(Round.id == ident)).scalar_one()
    return ref, ref


def _count_in_scope(session: Session, world: World, listing: Listing, home: str) -> int:
    model = listing.model
    stmt = select(func.count()).select_from(model).where(model.jurisdiction_code.startswith(home),
                                                         *listing.where(world))
    return int(session.execute(stmt).scalar_one())


# --- The matrix ----------------------------------------------------------------------------------


def _matrix() -> list[Any]:
    return [pytest.param(case_id, persona.name, id=f"{case_id}-{persona.name}")
            for case_id in EXPECTED for persona in PERSONAS]


def assert_status(case: Case, response: Any, expected: int) -> None:
    """The response has the expected outcome (see the module docstring for the conventions)."""
    got = response.status_code
    location = response.headers.get("location", "")
    if expected == 401 and case.is_page:
        assert got == 303 and location.startswith("/login?next="), (got, location)
        return
    assert got == expected, (got, response.text[:300])
    if got == 303:
        assert not location.startswith("/login?next="), location


@pytest.mark.parametrize(("case_id", "persona_name"), _matrix())
def test_authorization_matrix(case_id: str, persona_name: str, world: World, sign_in,  # type: ignore[no-untyped-def]
                              session: Session) -> None:
    case, persona = CASES[case_id], PERSONA[persona_name]
    expected = EXPECTED[case_id][PERSONAS.index(persona)]
    client = sign_in(persona, csrf=case.method != "GET")
    before = case.effect(session, world) if case.effect else None

    response = client.request(case.method, case.url.format(**vars(world), edj_id_tail=world.edj_id_tail),
                              json=case.json(world) if case.json else None,
                              data=case.form(world) if case.form else None,
                              files=case.files(world) if case.files else None, follow_redirects=False)

    assert_status(case, response, expected)
    session.expire_all()  # what the request committed, seen by the system on the same connection
    if case.effect is not None:
        assert_effect(case, session, world, before, allowed=expected in ALLOWED)
    assert_no_id_number_leaks(case, response, world)
    if case.target is not None and persona.username is not None:
        assert_refusal_audited(case, session, world, persona, hidden=expected == 404)
    if response.status_code in (200, 201) and persona.username is not None:
        assert_shown_within_scope(case, response, session, world, persona)
        if case.check is not None:
            case.check(response, session, world, persona)


def assert_effect(case: Case, session: Session, world: World, before: Any, *, allowed: bool) -> None:
    """A write took effect exactly when it was allowed."""
    after = case.effect(session, world)  # type: ignore[misc]
    if allowed:
        meant = (before.meant, after.meant) if isinstance(before, WriteState) else (before, after)
        assert meant[1] != meant[0], "an allowed write changed nothing"
    else:
        assert after == before, "a refused write changed the database"


def assert_no_id_number_leaks(case: Case, response: Any, world: World) -> None:
    """A full ID number is in a response only when it is a successful reveal of that person."""
    revealed = getattr(world, case.reveals) if case.reveals and response.status_code == 200 else None
    for person_id, id_number in world.id_numbers.items():
        if person_id != revealed:
            assert id_number not in response.text, f"person {person_id}'s ID number leaked"


def assert_refusal_audited(case: Case, session: Session, world: World, persona: Persona, *,
                           hidden: bool) -> None:
    """A record hidden by the scope is refused as missing and the attempt audited; one in scope is not."""
    table, ref = case.target  # type: ignore[misc]
    entity_id = ref(world) if callable(ref) else str(getattr(world, ref, ref))
    denied = session.execute(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == Action.ACCESS_DENIED, AuditEntry.actor_name == persona.username,
        AuditEntry.entity == table, AuditEntry.entity_id == entity_id)).scalar_one()
    assert denied == (1 if hidden else 0), f"access_denied entries for {table} {entity_id}: {denied}"


def assert_shown_within_scope(case: Case, response: Any, session: Session, world: World,
                              persona: Persona) -> None:
    """Everything a response shows lies inside the persona's jurisdiction; lists show all of it."""

    def scope(kind: object) -> str:
        # Jurisdictions (codes) may be read more widely than records, testing records more narrowly.
        if kind in ("code", Jurisdiction):
            return persona.geo_scope
        if kind in ("round", "tperson") or kind in TESTING_TABLES or case.is_testing:
            return persona.testing_scope
        return persona.home

    def within(kind: object, code: str) -> bool:
        # A round is seen from anywhere inside or above its area.
        upward = kind == "round" or (case.overlapping and kind == "jurisdiction_code")
        return covers(scope(kind), code) or (upward and covers(code, scope(kind)))

    if case.is_page:
        if response.headers.get("content-type", "").startswith("text/html"):
            shown = shown_in_page(response.text, session)
            for kind, items in shown.items():
                outside = {ident: code for ident, code in items.items() if not within(kind, code)}
                assert not outside, f"{kind} outside {scope(kind)} shown: {outside}"
            for kind, ref in case.shows:
                ident, code = _record_code(session, world, kind, ref)
                seen = shown["person" if kind == "tperson" else kind]
                assert (ident in seen) == within(kind, code), f"{kind} {ident} shown wrongly"
        return
    body = response.json()
    if case.is_own_account:
        assert body["username"] == persona.username
        return
    outside = [code for key, code in codes_in_json(body) if not within(key, code)]
    assert not outside, f"codes outside the persona's jurisdiction returned: {outside}"
    if case.listing is not None:
        where = scope(case.listing.model)
        items = body["items"] if case.listing.is_paged else body
        assert all(covers(where, item[case.listing.code_field]) for item in items)
        total = _count_in_scope(session, world, case.listing, where)
        if case.listing.is_paged:
            assert body["total"] == total
            assert len(items) == min(body["total"], body["size"])
        else:
            assert len(items) == total


# --- The matrix covers the application -----------------------------------------------------------


def app_routes(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every API route of ``app``, included routers flattened."""
    return {
        (method, context.path)
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute) and context.path not in UNLISTED
        for method in context.methods or ()
    }


def test_every_route_is_in_the_matrix(settings, engine) -> None:  # type: ignore[no-untyped-def]
    routes = app_routes(create_app(settings, engine=engine))
    covered = {(case.method, case.route) for case in CASES.values()}
    assert routes, "no routes found"
    assert routes - covered == set(), "routes with no row in the authorization matrix"
    assert covered - routes == set(), "matrix rows for routes that no longer exist"


def test_the_matrix_has_one_row_per_case_and_a_column_per_persona() -> None:
    assert set(EXPECTED) == set(CASES)
    assert {len(row) for row in EXPECTED.values()} == {len(PERSONAS)}
    assert len(PERSONA) == len(PERSONAS)


# --- The audit trail of a refused read, spelt out ------------------------------------------------


@pytest.mark.parametrize("url", ["/api/v1/persons/{id}", "/people/{id}"])
def test_reading_a_person_outside_the_jurisdiction_is_refused_as_missing_and_audited(
        url: str, world: World, sign_in, session: Session) -> None:
    worker = sign_in(PERSONA[WORKER_DC], csrf=False)
    hidden = worker.get(url.format(id=world.edj_person))
    missing = worker.get(url.format(id=world.missing_person))

    assert hidden.status_code == missing.status_code == 404
    # Nothing tells the two apart (but the id itself, which a page repeats in its language links).
    # The page's CSRF token is random hex that may contain the id's digits: take it out first.
    hidden_body, missing_body = (re.sub(r"[0-9a-f]{64}", "TOKEN", r.text).replace(str(i), "?") for r, i in
                                 ((hidden, world.edj_person), (missing, world.missing_person)))
    assert hidden_body == missing_body
    session.expire_all()
    entries = session.execute(select(AuditEntry).where(AuditEntry.action == Action.ACCESS_DENIED,
                                                       AuditEntry.actor_name == WORKER_DC)).scalars().all()
    assert [(e.entity, e.entity_id, e.jurisdiction_code) for e in entries] == [
        ("persons", str(world.edj_person), EDJ_COMMUNITY)]
    assert entries[0].address == "testclient"
