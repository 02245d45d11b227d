"""Every table, imported in one place so that the metadata (and Alembic) sees them all."""

from fangkong.core.audit import AuditEntry
from fangkong.core.events import EventRecord
from fangkong.core.idempotency import IdempotencyKey
from fangkong.core.jobs import Job
from fangkong.geo.models import Building, Compound, Facility, Jurisdiction, Place, Unit
from fangkong.people.models import Household, Person
from fangkong.testing.models import (
    Control,
    DoorVisit,
    OrderMember,
    ResampleOrder,
    ResultImport,
    Round,
    RoundArea,
    Sample,
    SamplingSite,
    Tube,
    TubeResult,
)
from fangkong.tracing.models import (
    Case,
    Contact,
    Investigation,
    ItineraryEntry,
    NamedPerson,
    TracingRun,
)
from fangkong.users.models import ApiToken, LoginFailure, RoleGrant, User, UserSession

__all__ = [
    "ApiToken",
    "AuditEntry",
    "Building",
    "Case",
    "Compound",
    "Contact",
    "Control",
    "DoorVisit",
    "EventRecord",
    "Facility",
    "Household",
    "IdempotencyKey",
    "Investigation",
    "ItineraryEntry",
    "Job",
    "Jurisdiction",
    "LoginFailure",
    "NamedPerson",
    "OrderMember",
    "Person",
    "Place",
    "ResampleOrder",
    "ResultImport",
    "RoleGrant",
    "Round",
    "RoundArea",
    "Sample",
    "SamplingSite",
    "TracingRun",
    "Tube",
    "TubeResult",
    "Unit",
    "User",
    "UserSession",
]
