"""Files attached to progress reports and rectifications, kept under the data directory by their SHA-256."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from sqlalchemy.orm import Session

from fangkong.command.models import Attachment
from fangkong.command.schemas import AttachmentIn
from fangkong.core.errors import N_, Invalid
from fangkong.core.scope import principal_of

MAX_BYTES = 20 * 1024 * 1024
FOLDER = "command/attachments"


def data_dir() -> Path:
    """The deployment's data directory."""
    from fangkong.config import get_settings

    return get_settings().data_dir


def store(session: Session, files: list[AttachmentIn], *, jurisdiction_code: str, report_id: int | None = None,
          rectification_id: int | None = None, root: Path | None = None) -> list[Attachment]:
    """Write ``files`` under the data directory and record them, attached to a report or a rectification.

    A file is named by its content's SHA-256, so storing the same file twice keeps one copy, and a
    transaction that rolls back leaves at most a file no row points to (harmless, and reusable).
    """
    root = root or data_dir()
    made = []
    for f in files:
        if not f.data:
            raise Invalid.field("attachments", N_("The file {filename} is empty."), filename=f.filename)
        if len(f.data) > MAX_BYTES:
            raise Invalid.field("attachments", N_("The file {filename} is larger than 20 MB."), filename=f.filename)
        sha = hashlib.sha256(f.data).hexdigest()
        relative = f"{FOLDER}/{sha[:2]}/{sha}"
        path = root / relative
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".part")
            partial.write_bytes(f.data)
            os.replace(partial, path)
        attachment = Attachment(jurisdiction_code=jurisdiction_code, report_id=report_id,
                                rectification_id=rectification_id, filename=Path(f.filename).name[:200],
                                content_type=f.content_type, size=len(f.data), sha256=sha, path=relative,
                                uploaded_by_id=principal_of(session).user_id)
        session.add(attachment)
        made.append(attachment)
    session.flush()
    return made


def open_file(attachment: Attachment, *, root: Path | None = None) -> Path:
    """Where an attachment's bytes are (the caller has loaded the row, so it is in scope)."""
    return (root or data_dir()) / attachment.path
