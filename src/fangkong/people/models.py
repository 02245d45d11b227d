"""Tables of persons and households."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fangkong.core.auth import Permission
from fangkong.core.db import Base, code_column_type, utcnow
from fangkong.core.errors import N_
from fangkong.core.scope import Scoped
from fangkong.geo.models import Unit
from fangkong.people import identity


class Sex(StrEnum):
    """Sex as recorded on the resident ID (odd 17th digit: male)."""

    MALE = "male"
    FEMALE = "female"

    @property
    def label(self) -> str:
        """The sex in the interface (an msgid)."""
        return N_("Male") if self is Sex.MALE else N_("Female")


class Whereabouts(StrEnum):
    """Where a person is kept now: at home, or taken out of the community's daily life."""

    AT_HOME = "at_home"
    ISOLATED = "isolated"  # in central isolation (集中隔离)
    IN_HOSPITAL = "in_hospital"

    @property
    def label(self) -> str:
        """The value in the interface (an msgid)."""
        return WHEREABOUTS_LABELS[self]


WHEREABOUTS_LABELS = {
    Whereabouts.AT_HOME: N_("At home"),
    Whereabouts.ISOLATED: N_("In central isolation"),
    Whereabouts.IN_HOSPITAL: N_("In hospital"),
}


class Household(Scoped, Base):
    """A household (户) living at one door of a building unit."""

    __tablename__ = "households"
    read_permission = Permission.PEOPLE_READ
    write_permission = Permission.PEOPLE_WRITE

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    door: Mapped[str] = mapped_column(String(20))  # 门牌, e.g. "302"
    unit: Mapped[Unit] = relationship()
    members: Mapped[list[Person]] = relationship(back_populates="household", order_by="Person.id")

    @property
    def label(self) -> str:
        """Compound, building, unit and door."""
        return f"{self.unit.label}{self.door}室"


class Person(Scoped, Base):
    """One person; one row per resident ID number."""

    __tablename__ = "persons"
    # A round's target population is counted per community among those at home.
    __table_args__ = (Index("ix_persons_jurisdiction_whereabouts", "jurisdiction_code", "whereabouts"),)
    read_permission = Permission.PEOPLE_READ
    write_permission = Permission.PEOPLE_WRITE

    id: Mapped[int] = mapped_column(primary_key=True)
    id_number: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(40))
    # Search keys kept beside the data: pinyin initials (zs → 张三), and the ID and phone reversed,
    # so that "last digits" is an indexed prefix search rather than a scan.
    name_initials: Mapped[str] = mapped_column(code_column_type(40), index=True)
    name_pinyin: Mapped[str] = mapped_column(code_column_type(160), index=True)
    id_number_rev: Mapped[str] = mapped_column(code_column_type(18), index=True)
    phone: Mapped[str | None] = mapped_column(String(11))
    phone_rev: Mapped[str | None] = mapped_column(code_column_type(11), index=True)
    sex: Mapped[Sex] = mapped_column()
    birth_date: Mapped[date] = mapped_column()
    address: Mapped[str] = mapped_column(String(160), default="")
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"), index=True)
    household: Mapped[Household | None] = relationship(back_populates="members")
    # Set by the isolation and treatment loops; a round's target is everyone still at home.
    whereabouts: Mapped[Whereabouts] = mapped_column(default=Whereabouts.AT_HOME,
                                                     server_default=Whereabouts.AT_HOME.value)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def masked_name(self) -> str:
        """The name with all but its first character hidden."""
        return identity.mask_name(self.name)

    @property
    def masked_phone(self) -> str:
        """The phone with its middle four digits hidden."""
        return identity.mask_phone(self.phone)

    @property
    def masked_id_number(self) -> str:
        """The ID number with all but the first four and last four characters hidden."""
        return identity.mask_id_number(self.id_number)

    def age_on(self, day: date) -> int:
        """Age in whole years on ``day``."""
        b = self.birth_date
        return day.year - b.year - ((day.month, day.day) < (b.month, b.day))
