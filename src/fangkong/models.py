"""Every table, imported in one place so that the metadata (and Alembic) sees them all."""

from fangkong.command.channel_models import ChannelHit, DirectContact, DirectMessage, DirectReply
from fangkong.command.inspections import Finding, FindingPhoto, Inspection
from fangkong.command.models import (
    Attachment,
    Directive,
    Escalation,
    Measure,
    Milestone,
    OrgUnit,
    OrgUnitMember,
    Problem,
    ProgressReport,
    Rectification,
    Responsibility,
    Task,
    TaskForce,
    TaskForceMember,
    TemplateRun,
)
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
    # Inspections and the direct channel.
    "ChannelHit",
    "DirectContact",
    "DirectMessage",
    "DirectReply",
    "Finding",
    "FindingPhoto",
    "Inspection",
    "ApiToken",
    "Attachment",
    "AuditEntry",
    "Building",
    "Case",
    "Compound",
    "Contact",
    "Control",
    "Directive",
    "DoorVisit",
    "Escalation",
    "EventRecord",
    "Facility",
    "Household",
    "IdempotencyKey",
    "Investigation",
    "ItineraryEntry",
    "Job",
    "Jurisdiction",
    "LoginFailure",
    "Measure",
    "Milestone",
    "NamedPerson",
    "OrderMember",
    "OrgUnit",
    "OrgUnitMember",
    "Person",
    "Place",
    "Problem",
    "ProgressReport",
    "Rectification",
    "ResampleOrder",
    "Responsibility",
    "ResultImport",
    "RoleGrant",
    "Round",
    "RoundArea",
    "Sample",
    "SamplingSite",
    "Task",
    "TaskForce",
    "TaskForceMember",
    "TemplateRun",
    "TracingRun",
    "Tube",
    "TubeResult",
    "Unit",
    "User",
    "UserSession",
]
