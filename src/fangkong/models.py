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
from fangkong.users.models import ApiToken, LoginFailure, RoleGrant, User, UserSession

__all__ = [
    "ApiToken", "AuditEntry", "Building", "Compound", "Control", "DoorVisit", "EventRecord", "Facility",
    "Household", "IdempotencyKey", "Job", "Jurisdiction", "LoginFailure", "OrderMember", "Person", "Place",
    "ResampleOrder", "ResultImport", "RoleGrant", "Round", "RoundArea", "Sample", "SamplingSite", "Tube",
    "TubeResult", "Unit", "User", "UserSession",
]
