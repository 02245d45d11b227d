"""Tables of the jurisdiction tree, compounds (小区) → buildings → units, places and facilities."""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fangkong.core.auth import Permission
from fangkong.core.db import Base, code_column_type
from fangkong.core.errors import N_
from fangkong.core.scope import Scoped


class Level(IntEnum):
    """Administrative level, by the length of its division code (行政区划代码)."""

    PROVINCE = 2
    CITY = 4
    DISTRICT = 6  # district or county (区/县/县级市)
    STREET = 9  # street or town (街道/乡镇)
    COMMUNITY = 12  # community or village (社区/村)

    @classmethod
    def of(cls, code: str) -> Level:
        """The level a code of this length denotes."""
        return cls(len(code))

    @property
    def label(self) -> str:
        """The level's name in the interface (an msgid)."""
        return LEVEL_LABELS[self]

    @property
    def child(self) -> Level | None:
        """The level below, or None for a community."""
        order = list(Level)
        i = order.index(self)
        return order[i + 1] if i + 1 < len(order) else None


LEVEL_LABELS = {
    Level.PROVINCE: N_("Province"),
    Level.CITY: N_("City"),
    Level.DISTRICT: N_("District / county"),
    Level.STREET: N_("Street / town"),
    Level.COMMUNITY: N_("Community"),
}


class GeoScoped(Scoped):
    """Reference data of the tree: read by every role in its jurisdiction, written by administrators."""

    read_permission = Permission.GEO_READ
    write_permission = Permission.GEO_WRITE
    aggregate_permission = Permission.GEO_READ


class Jurisdiction(GeoScoped, Base):
    """One node of the tree; its code is a prefix of every code below it."""

    __tablename__ = "jurisdictions"

    code: Mapped[str] = mapped_column(code_column_type(), primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    parent_code: Mapped[str | None] = mapped_column(
        code_column_type(), ForeignKey("jurisdictions.code"), index=True
    )

    def __init__(self, **kw: Any) -> None:
        kw.setdefault("jurisdiction_code", kw.get("code"))
        super().__init__(**kw)

    @property
    def level(self) -> Level:
        """Province, city, district, street or community."""
        return Level.of(self.code)


class Compound(GeoScoped, Base):
    """A residential compound (小区) in a community."""

    __tablename__ = "compounds"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    address: Mapped[str] = mapped_column(String(160), default="")
    lat: Mapped[float | None] = mapped_column()
    lon: Mapped[float | None] = mapped_column()
    buildings: Mapped[list[Building]] = relationship(back_populates="compound", order_by="Building.id")


class Building(GeoScoped, Base):
    """A building (楼栋) of a compound."""

    __tablename__ = "buildings"

    id: Mapped[int] = mapped_column(primary_key=True)
    compound_id: Mapped[int] = mapped_column(ForeignKey("compounds.id"), index=True)
    number: Mapped[str] = mapped_column(String(20))
    compound: Mapped[Compound] = relationship(back_populates="buildings")
    units: Mapped[list[Unit]] = relationship(back_populates="building", order_by="Unit.id")


class Unit(GeoScoped, Base):
    """A unit (单元) of a building: one stairwell, the unit of door-to-door work."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id"), index=True)
    number: Mapped[str] = mapped_column(String(20))
    building: Mapped[Building] = relationship(back_populates="units")

    @property
    def label(self) -> str:
        """``<compound> <building>栋 <unit>单元``."""
        b = self.building
        return f"{b.compound.name} {b.number}栋{self.number}单元"


class PlaceCategory(StrEnum):
    """Kinds of venue that carry a venue code (场所码)."""

    MARKET = "market"
    SUPERMARKET = "supermarket"
    RESTAURANT = "restaurant"
    SCHOOL = "school"
    KINDERGARTEN = "kindergarten"  # 幼儿园: enclosed rooms of small children, traced like a classroom
    HOSPITAL = "hospital"
    PHARMACY = "pharmacy"
    WORKPLACE = "workplace"
    BUS_LINE = "bus_line"
    GATHERING_VENUE = "gathering_venue"
    OTHER = "other"  # any other venue with a venue code (a bath house, a bank hall …)


class Place(GeoScoped, Base):
    """A venue where presence is recorded."""

    __tablename__ = "places"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    category: Mapped[PlaceCategory] = mapped_column(index=True)
    venue_code: Mapped[str] = mapped_column(String(40), unique=True)
    address: Mapped[str] = mapped_column(String(160), default="")
    lat: Mapped[float | None] = mapped_column()
    lon: Mapped[float | None] = mapped_column()


class FacilityKind(StrEnum):
    """Kinds of facility the response runs."""

    LAB = "lab"
    SAMPLING_SITE = "sampling_site"
    ISOLATION_SITE = "isolation_site"
    HOSPITAL = "hospital"
    WAREHOUSE = "warehouse"

    @property
    def label(self) -> str:
        """The kind's name in the interface (an msgid)."""
        return FACILITY_LABELS[self]


FACILITY_LABELS = {
    FacilityKind.LAB: N_("Laboratory"),
    FacilityKind.SAMPLING_SITE: N_("Sampling site"),
    FacilityKind.ISOLATION_SITE: N_("Isolation site"),
    FacilityKind.HOSPITAL: N_("Hospital"),
    FacilityKind.WAREHOUSE: N_("Warehouse"),
}


class Facility(GeoScoped, Base):
    """A lab, sampling site, isolation site, hospital or warehouse."""

    __tablename__ = "facilities"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    # A short code the facility is known by in files (a lab's 检测机构 code in its result files).
    code: Mapped[str | None] = mapped_column(String(40), unique=True)
    kind: Mapped[FacilityKind] = mapped_column(index=True)
    address: Mapped[str] = mapped_column(String(160), default="")
    capacity: Mapped[int | None] = mapped_column()
    lat: Mapped[float | None] = mapped_column()
    lon: Mapped[float | None] = mapped_column()
