"""Tables of the direct channel (厅局长直通车): the public's messages, their senders' contacts, public
replies, and the hits that rate-limit the public form.

The sender's name and phone are kept apart from the message (``DirectContact``), in a table read only
with ``command:write`` over the handling unit's jurisdiction, so every other query — the lists, the
problem, a neighbour district's — cannot load them at all; the message row holds only masked copies.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fangkong.command.models import CommandScoped, OrgUnit, Problem
from fangkong.core.auth import Permission
from fangkong.core.db import Base, code_column_type, utcnow
from fangkong.core.errors import N_
from fangkong.core.scope import Scoped


class TrackStatus(StrEnum):
    """What the sender is told of their message: the problem loop, in the public's words."""

    RECEIVED = "received"  # 已受理
    IN_HAND = "in_hand"  # 办理中
    MEASURES_TAKEN = "measures_taken"  # 已采取措施
    CLOSED = "closed"  # 已办结

    @property
    def label(self) -> str:
        """The status in the interface (an msgid)."""
        return TRACK_STATUS_LABELS[self]


TRACK_STATUS_LABELS = {
    TrackStatus.RECEIVED: N_("Received"),
    TrackStatus.IN_HAND: N_("In hand"),
    TrackStatus.MEASURES_TAKEN: N_("Measures taken"),
    TrackStatus.CLOSED: N_("Closed"),
}


class DirectMessage(CommandScoped, Base):
    """A message of the public (直通车), filed as a problem for the department that answers for it.

    ``jurisdiction_code`` is where the sender said the problem is; ``handling_code`` the handling
    unit's jurisdiction, whose users may reveal the sender's contact.
    """

    __tablename__ = "direct_messages"
    __table_args__ = (Index("ix_direct_messages_text_digest_created_at", "text_digest", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tracking_code: Mapped[str] = mapped_column(String(16), unique=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id"), unique=True)
    category: Mapped[str] = mapped_column(String(40))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    task_force_id: Mapped[int | None] = mapped_column(ForeignKey("task_forces.id"))
    handling_code: Mapped[str] = mapped_column(code_column_type())
    has_contact: Mapped[bool] = mapped_column(default=False)
    masked_name: Mapped[str] = mapped_column(String(40), default="")
    masked_phone: Mapped[str] = mapped_column(String(20), default="")
    # Keyed digests (HMAC under the app's secret) of where it came from and of its text: a retry of the
    # same text from the same address or phone is recognised without keeping the address or phone.
    address_digest: Mapped[str] = mapped_column(String(64))
    phone_digest: Mapped[str | None] = mapped_column(String(64))
    text_digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    problem: Mapped[Problem] = relationship()
    unit: Mapped[OrgUnit | None] = relationship()
    replies: Mapped[list[DirectReply]] = relationship(back_populates="message", order_by="DirectReply.id")


class DirectContact(Scoped, Base):
    """The sender's name and phone, if they gave them: personal data, read only by the handling level.

    ``jurisdiction_code`` is the handling unit's; reading it takes ``command:write`` there, and every
    unmasked view is audited (see ``channel.reveal_contact``).
    """

    __tablename__ = "direct_contacts"
    read_permission = Permission.COMMAND_WRITE
    write_permission = Permission.COMMAND_WRITE
    aggregate_permission = Permission.COMMAND_WRITE

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("direct_messages.id"), unique=True)
    name: Mapped[str] = mapped_column(String(40), default="")
    phone: Mapped[str] = mapped_column(String(20), default="")


class DirectReply(CommandScoped, Base):
    """A public reply (答复) to a message, shown to the sender with the tracking code."""

    __tablename__ = "direct_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("direct_messages.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    message: Mapped[DirectMessage] = relationship(back_populates="replies")


class ChannelHit(Base):
    """One use of the public form or the tracking look-up, kept for the rate limits' windows.

    ``digest`` is a keyed digest of the client address or the phone number, never the value itself.
    Not a scoped table: it belongs to no jurisdiction and no user reads it.
    """

    __tablename__ = "direct_channel_hits"
    __table_args__ = (Index("ix_direct_channel_hits_kind_digest_at", "kind", "digest", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # submit_address, submit_phone, track_address
    digest: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
