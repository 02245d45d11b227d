"""The assessment (可考评) as an Excel file: the ranking the page shows, headed in the reader's language,
watermarked with who exported it and when, and written to the audit log like every export."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from fangkong.command import assessment
from fangkong.command.assessment import Score
from fangkong.core import audit
from fangkong.core.db import utcnow
from fangkong.core.errors import N_, Invalid
from fangkong.core.i18n import local_time, translate
from fangkong.core.scope import principal_of

# What is ranked: units (责任单位) or task forces (专班).
SUBJECTS: dict[str, tuple[str, Callable[..., list[Score]]]] = {
    "units": (N_("Units"), assessment.assess_units),
    "task_forces": (N_("Task forces"), assessment.assess_task_forces),
}

# The columns of the ranking, in order: (key, header msgid, value of a score).
COLUMNS: tuple[tuple[str, str, Callable[[Score], Any]], ...] = (
    ("rank", N_("Rank"), lambda s: s.rank),
    ("name", N_("Unit or task force"), lambda s: s.name),
    ("jurisdiction_code", N_("Jurisdiction"), lambda s: s.jurisdiction_code),
    ("tasks", N_("Tasks"), lambda s: s.tasks),
    ("done_on_time", N_("Done on time"), lambda s: s.done_on_time),
    ("done_late", N_("Done late"), lambda s: s.done_late),
    ("overdue", N_("Overdue"), lambda s: s.overdue),
    ("on_time_rate", N_("On-time rate"), lambda s: s.on_time_rate),
    ("problems", N_("Problems"), lambda s: s.problems),
    ("problems_closed", N_("Problems closed"), lambda s: s.problems_closed),
    ("median_hours_to_verified", N_("Median hours to a verified rectification"),
     lambda s: s.median_hours_to_verified),
)
SORTS = {key for key, _, _ in COLUMNS}
# Columns where a higher figure is worse, or a name: sorted ascending by default.
ASCENDING = {"rank", "name", "jurisdiction_code", "done_late", "overdue", "median_hours_to_verified"}


def ranking(session: Session, subject: str, *, sort: str = "rank", descending: bool | None = None,
            under: str | None = None, now: datetime | None = None) -> list[Score]:
    """The assessment of ``subject`` (units or task forces), sorted by a column; ``Invalid`` names a bad one.

    Empty figures (no problem, no verified rectification) go last whichever way the column is sorted.
    """
    if subject not in SUBJECTS:
        raise Invalid.field("of", N_("This value is not one of the allowed choices."))
    if sort not in SORTS:
        raise Invalid.field("sort", N_("This value is not one of the allowed choices."))
    scores = SUBJECTS[subject][1](session, under=under, now=now)
    value = next(v for key, _, v in COLUMNS if key == sort)
    down = (sort not in ASCENDING) if descending is None else descending
    present = [s for s in scores if value(s) is not None]
    missing = [s for s in scores if value(s) is None]
    present.sort(key=lambda s: (s.rank, s.name, s.id))  # a stable tie-break: the ranking's own order
    present.sort(key=value, reverse=down)
    return present + missing


def export_xlsx(session: Session, subject: str, scores: Sequence[Score], *, now: datetime | None = None) -> bytes:
    """The ranking as ``.xlsx``: a title, the exporting user's watermark, the headers, a row per score."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    now = now or utcnow()
    principal = principal_of(session)
    title = translate(N_("Assessment")) + " · " + translate(SUBJECTS[subject][0])
    mark = translate(N_("Exported by {user} at {time}."), {"user": principal.username, "time": local_time(now)})
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook always has its first sheet
    sheet.title = title[:31]
    sheet.append([title])
    sheet.append([mark])
    sheet.append([translate(header) for _, header, _ in COLUMNS])
    for cell in sheet[3]:
        cell.font = Font(bold=True)
    for score in scores:
        row = []
        for _key, _, value in COLUMNS:
            v = value(score)
            row.append(round(v, 4) if isinstance(v, float) else v)
        sheet.append(row)
        if score.on_time_rate is not None:
            sheet.cell(row=sheet.max_row, column=8).number_format = "0%"
    sheet.append([mark])
    sheet.freeze_panes = "A4"
    sheet.column_dimensions["B"].width = 28
    buffer = io.BytesIO()
    book.save(buffer)
    audit.record(session, audit.Action.EXPORT, entity_name="assessment", entity_id=subject,
                 jurisdiction_code=principal.home_code, detail={"subject": subject, "rows": len(scores),
                                                                "format": "xlsx"})
    return buffer.getvalue()
