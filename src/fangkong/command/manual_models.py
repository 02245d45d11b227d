"""The published versions of the operation manuals (操作手册).

The manuals the system ships are Markdown files in the package (``command/manuals/``): version 1 of
each. A commander publishes a new version from the manual's page; every version is kept, none is
changed afterwards, and the newest one that applies to a reader is the one shown.

A version applies to the jurisdiction it was published for and to everything under it: the city's
version is read in every district, a district's own version only in that district. Like the units
and task forces, the table is not a ``Scoped`` one (a district reads the city's version, which lies
above it); ``manuals.visible`` filters it and the service checks who may publish.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fangkong.core.db import Base, code_column_type, utcnow


class ManualVersion(Base):
    """One published version of one manual in one language; never updated."""

    __tablename__ = "manual_versions"
    __table_args__ = (
        # Version numbers are per manual and language; two publishers racing get one number each.
        UniqueConstraint("manual_key", "language", "number"),
        Index("ix_manual_versions_key_language_code", "manual_key", "language", "jurisdiction_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    manual_key: Mapped[str] = mapped_column(String(60))
    language: Mapped[str] = mapped_column(String(8))
    number: Mapped[int] = mapped_column()
    text: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(String(300), default="")  # what changed, in the publisher's words
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    author_name: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Where the version applies: the publisher's jurisdiction (or one under it) and everything below.
    jurisdiction_code: Mapped[str] = mapped_column(code_column_type())
