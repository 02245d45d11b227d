"""Roles, permissions and password hashing.

A role is a set of permissions; a user holds one or more roles, each bound to one jurisdiction
(see ``users.models.RoleGrant``). What a permission reaches is decided by ``core.scope``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from fangkong.core.errors import N_


class Permission(StrEnum):
    """What a role may do, within the jurisdiction its grant is bound to."""

    GEO_READ = "geo:read"  # the jurisdiction tree, compounds, places, facilities
    GEO_WRITE = "geo:write"
    AGGREGATES_READ = "aggregates:read"  # counts and rates, never a person
    PEOPLE_READ = "people:read"  # masked persons and households
    PEOPLE_WRITE = "people:write"
    PEOPLE_REVEAL = "people:reveal"  # unmasked name, phone, ID number (audited)
    USERS_READ = "users:read"
    USERS_WRITE = "users:write"
    AUDIT_READ = "audit:read"
    JOBS_READ = "jobs:read"
    JOBS_WRITE = "jobs:write"
    TESTING_READ = "testing:read"  # rounds, samples, coverage, re-sampling orders, temporary control
    TESTING_WRITE = "testing:write"  # rounds, sites, tubes, samples
    TESTING_MARK = "testing:mark"  # door-to-door marks on the list of people not yet sampled
    TUBES_READ = "tubes:read"  # tubes and their results (a lab account: its own tubes only)
    RESULTS_WRITE = "results:write"  # lab result imports
    TRACING_READ = "tracing:read"  # cases, investigations, tracing runs, transmission chains
    TRACING_WRITE = "tracing:write"  # report cases, investigate, start tracing runs
    CONTACTS_READ = "contacts:read"  # the contacts living in the jurisdiction, with their evidence
    CONTACTS_MARK = "contacts:mark"  # a contact is under control
    COMMAND_READ = "command:read"  # the five lists: tasks, responsibilities, problems, measures, rectifications
    COMMAND_WRITE = "command:write"  # create, assign, hand down, report on and verify the work of the lists
    DIRECTIVES_WRITE = "directives:write"  # issue directives; set up task forces and units


class Role(StrEnum):
    """The roles of the design, as permission sets."""

    ADMIN = "admin"
    COMMANDER = "commander"
    TESTING_STAFF = "testing_staff"
    TRACER = "tracer"
    ISOLATION_STAFF = "isolation_staff"
    SUPPLY_STAFF = "supply_staff"
    CARE_STAFF = "care_staff"
    PUBLICITY_STAFF = "publicity_staff"
    COMMUNITY_WORKER = "community_worker"  # 网格员, 楼长
    LAB = "lab"
    INSPECTOR = "inspector"
    VIEWER = "viewer"

    @property
    def label(self) -> str:
        """The role's name in the interface (an msgid)."""
        return ROLE_LABELS[self]


ROLE_LABELS: dict[Role, str] = {
    Role.ADMIN: N_("Administrator"),
    Role.COMMANDER: N_("Commander"),
    Role.TESTING_STAFF: N_("Testing staff"),
    Role.TRACER: N_("Tracer"),
    Role.ISOLATION_STAFF: N_("Isolation staff"),
    Role.SUPPLY_STAFF: N_("Supply staff"),
    Role.CARE_STAFF: N_("Care staff"),
    Role.PUBLICITY_STAFF: N_("Publicity staff"),
    Role.COMMUNITY_WORKER: N_("Community worker"),
    Role.LAB: N_("Laboratory"),
    Role.INSPECTOR: N_("Inspector"),
    Role.VIEWER: N_("Viewer"),
}

P = Permission
_BASE = {P.GEO_READ, P.AGGREGATES_READ}
_PEOPLE = {P.PEOPLE_READ, P.PEOPLE_WRITE, P.PEOPLE_REVEAL}
_TESTING = {P.TESTING_READ, P.TESTING_WRITE, P.TESTING_MARK, P.TUBES_READ, P.RESULTS_WRITE}
_CONTACTS = {P.CONTACTS_READ, P.CONTACTS_MARK}
# Every working role reads and writes the command module's work in its jurisdiction (DESIGN: every role
# reads and writes the tasks and problems assigned to it).
_COMMAND = {P.COMMAND_READ, P.COMMAND_WRITE}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(set(Permission)),
    Role.COMMANDER: frozenset(_BASE | _COMMAND | {P.PEOPLE_READ, P.PEOPLE_REVEAL, P.USERS_READ, P.AUDIT_READ,
                                                 P.JOBS_READ, P.TESTING_READ, P.TUBES_READ, P.TRACING_READ,
                                                 P.CONTACTS_READ, P.DIRECTIVES_WRITE}),
    Role.TESTING_STAFF: frozenset(_BASE | _PEOPLE | _TESTING | _COMMAND | {P.JOBS_READ, P.JOBS_WRITE}),
    Role.TRACER: frozenset(_BASE | _PEOPLE | _CONTACTS | _COMMAND | {P.JOBS_READ, P.JOBS_WRITE, P.TESTING_READ,
                                                                   P.TUBES_READ, P.TRACING_READ, P.TRACING_WRITE}),
    # Isolation staff and community workers receive the contacts of their jurisdiction and put them
    # under control; they do not read the cases' investigations.
    Role.ISOLATION_STAFF: frozenset(_BASE | _PEOPLE | _CONTACTS | _COMMAND | {P.TESTING_READ}),
    Role.SUPPLY_STAFF: frozenset(_BASE | _COMMAND | {P.PEOPLE_READ}),
    Role.CARE_STAFF: frozenset(_BASE | _COMMAND | {P.PEOPLE_READ, P.PEOPLE_REVEAL, P.TRACING_READ}),
    Role.PUBLICITY_STAFF: frozenset(_BASE | _COMMAND),
    Role.COMMUNITY_WORKER: frozenset(_BASE | _PEOPLE | _CONTACTS | _COMMAND | {P.TESTING_READ, P.TESTING_MARK}),
    # A lab account is bound to its lab (User.facility_id): it reads and imports its own tubes only.
    # No jobs permission: that would show (and re-run) every job of the lab's district; it follows
    # its own uploads through the results pages.
    Role.LAB: frozenset({P.GEO_READ, P.TUBES_READ, P.RESULTS_WRITE}),
    # Inspectors file the problems of their unannounced inspections (四不两直) into the command lists.
    Role.INSPECTOR: frozenset(_BASE | _COMMAND),
    Role.VIEWER: frozenset(_BASE),
}

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(password_hash)


# A hash to verify against when the user name is unknown, so both paths take the same time.
DUMMY_HASH = _hasher.hash(secrets.token_hex(8))


def new_secret() -> str:
    """A random, URL-safe secret for a session cookie or an API token."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """The SHA-256 of a secret; only digests of sessions and tokens are stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


def sign(key: str, value: str) -> str:
    """An HMAC of ``value`` under ``key`` (CSRF tokens)."""
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time string comparison."""
    return hmac.compare_digest(a.encode(), b.encode())
