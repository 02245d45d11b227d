"""Lab result files in the standard template (标准模板): read one, check every row, write the blank template.

A lab uploads one file per batch: a row per tube with its code (管号), result (检测结果), test time
(检测时间), lab (检测机构) and, optionally, the Ct value (Ct值). ``read_results`` takes the template as
.xlsx or as .csv (UTF-8 with or without BOM, or GB18030/GBK as Chinese Excel saves it), with Chinese or
English headers in any order, and reports every bad row rather than the first: the caller refuses the
whole file when any row is wrong, so the lab should be able to fix them all in one go.

Pure: no database, no web. A city-wide round brings files of a million rows, so a CSV is parsed by
pyarrow and checked with vectorised pyarrow.compute kernels; per-row Python runs only for the values
the kernels could not parse, to say precisely what is wrong with them, and for .xlsx files, which
labs keep small.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation
from python_calamine import CalamineError, CalamineWorkbook, PasswordError

from fangkong.core.errors import N_, FieldError, Invalid

RESULT_VALUES = ("negative", "positive", "invalid", "inconclusive")

# The labs' clock: a time written without a zone is Beijing time.
LAB_TIMEZONE = "Asia/Shanghai"
_LAB_ZONE = ZoneInfo(LAB_TIMEZONE)
# Lab and server clocks drift apart; a result stamped a few minutes ahead of ours is not an error.
CLOCK_SKEW = timedelta(minutes=10)
CT_MIN, CT_MAX = 0.0, 50.0

REQUIRED = N_("This field is required.")
UNKNOWN_RESULT = N_(
    "Unknown result “{value}”: use 阴性, 阳性, 无效 or 可疑 (negative, positive, invalid, inconclusive)."
)
NOT_A_TIME = N_("Not a date and time: “{value}”.")
IN_THE_FUTURE = N_("The test time {value} is in the future.")
DUPLICATE_TUBE = N_("Tube {code} appears twice in the file (first in row {first}).")
BAD_CT = N_("The Ct value must be a number from 0 to 50.")
EMPTY_FILE = N_("The file “{name}” is empty.")
DAMAGED_WORKBOOK = N_("“{name}” cannot be opened as an Excel workbook; it may be damaged.")
UNREADABLE_TEXT = N_("“{name}” is not readable text: save it as CSV in UTF-8 or GBK.")
UNREADABLE_CSV = N_("“{name}” cannot be read as CSV: check that every double quote is closed.")
NOT_A_RESULT_FILE = N_(
    "“{name}” is not a result file: upload the standard template as an Excel workbook (.xlsx) or as CSV (.csv)."
)


@dataclass(frozen=True)
class Column:
    """One column of the standard template; the English header is the key itself."""

    key: str
    zh: str
    required: bool
    help_zh: str
    help_en: str

    @property
    def label(self) -> str:
        """How messages name the column, readable in either language: ``管号 / tube_code``."""
        return f"{self.zh} / {self.key}"


COLUMNS = (
    Column("tube_code", "管号", True,
           "采样管条码，按文本填写（开头的 0 要保留）；每管一行，同一文件中不能重复。",
           "The tube's barcode, as text (keep leading zeros); one row per tube, no tube twice in a file."),
    Column("result", "检测结果", True,
           "阴性、阳性、无效或可疑（也可填 negative、positive、invalid、inconclusive）。",
           "negative, positive, invalid or inconclusive (or 阴性, 阳性, 无效, 可疑)."),
    Column("tested_at", "检测时间", True,
           "出结果的日期和时间，北京时间，如 2021-01-20 14:30 或 2021/1/20 14:30:00；"
           "也可注明时区，如 2021-01-20T14:30:00+08:00。",
           "When the result was obtained, Beijing time, e.g. 2021-01-20 14:30 or 2021/1/20 14:30:00; "
           "or with a zone, e.g. 2021-01-20T06:30:00Z."),
    Column("lab_code", "检测机构", True,
           "检测机构代码。",
           "The lab's code."),
    Column("ct_value", "Ct值", False,
           "选填：0 到 50 之间的数字；没有就留空。",
           "Optional: a number from 0 to 50; leave it empty if there is none."),
)
_ORDER = {column.key: i for i, column in enumerate(COLUMNS)}
_HEADERS = {name.casefold(): column for column in COLUMNS for name in (column.key, column.zh)}

SCHEMA = pa.schema([
    ("row", pa.int32()),
    ("tube_code", pa.string()),
    ("result", pa.string()),
    ("tested_at", pa.timestamp("us", tz="UTC")),
    ("lab_code", pa.string()),
    ("ct_value", pa.float64()),
])

# Every accepted spelling of a result: its position modulo 4 is its place in RESULT_VALUES.
_RESULT_WORDS = pa.array(["阴性", "阳性", "无效", "可疑", *RESULT_VALUES])
_RESULT_CANONICAL = pa.array(RESULT_VALUES)

# What pyarrow's strptime tries, most common first (lab systems, then Excel's CSV on a Chinese system); the
# flag says whether the format carries its own zone (%z also takes "Z"). Anything else goes to the strict parser.
_FAST_FORMATS = (
    ("%Y-%m-%d %H:%M:%S", False),
    ("%Y/%m/%d %H:%M", False),
    ("%Y-%m-%d %H:%M", False),
    ("%Y/%m/%d %H:%M:%S", False),
    ("%Y-%m-%dT%H:%M:%S", False),
    ("%Y-%m-%dT%H:%M:%S%z", True),
    ("%Y-%m-%d %H:%M:%S%z", True),
)
# The strict parser for whatever the fast formats left: the same forms plus fractions of a second.
_TIME_TEXT = re.compile(
    r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:T|\s+)(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:[.,](\d{1,6}))?)?"
    r"\s*(Z|[+-]\d{2}(?::?\d{2})?)?",
    re.ASCII | re.IGNORECASE,
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Excel's 1900 date system counts days from 1899-12-30 (its phantom 1900-02-29 makes up the second day).
_EXCEL_EPOCH = datetime(1899, 12, 30)
_EXCEL_LAST_DAY = 2958465  # 9999-12-31

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the pre-2007 Excel .xls (and .doc) container
_HEADER_PROBE = 1 << 16  # bytes searched for the header row
_HEAD_ROWS = 64


@dataclass
class ResultFile:
    """A lab's result file, read and checked: the rows that parsed, and what is wrong with the others."""

    rows: pa.Table
    errors: list[FieldError] = dataclass_field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no row has an error, so the file may be imported."""
        return not self.errors


def read_results(data: bytes, filename: str, *, now: datetime) -> ResultFile:
    """Read a lab's result file (.xlsx or .csv in the standard template) and check every row."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    if not data or data.isspace():
        raise Invalid(EMPTY_FILE, name=name)
    if _file_kind(data, name) == "xlsx":
        cells, rows = _read_xlsx(data, name)
    else:
        cells, rows = _read_csv(data, name)
    return _check(cells, rows, now=now, name=name)


def template_csv(locale: str = "zh_CN") -> bytes:
    """The blank CSV template: the header row, in UTF-8 with a BOM so that Excel shows the Chinese right."""
    return codecs.BOM_UTF8 + (",".join(_headers(locale)) + "\r\n").encode("utf-8")


def template_xlsx(locale: str = "zh_CN") -> bytes:
    """The blank Excel template: the headers on the first sheet, and what goes in each column on the second."""
    english = _is_english(locale)
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook always has its first sheet
    sheet.title = "Results" if english else "检测结果"
    sheet.append(_headers(locale))
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    shade = PatternFill("solid", fgColor="DDEBF7")
    formats = {"tube_code": "@", "result": "@", "tested_at": "yyyy-mm-dd hh:mm", "lab_code": "@", "ct_value": "0.0#"}
    for index, column in enumerate(COLUMNS, start=1):
        cell = sheet.cell(row=1, column=index)
        cell.font, cell.fill = bold, shade
        letter = cell.column_letter
        # A column style applies to what the lab types later: text keeps a tube code's leading zeros,
        # and a date-time format makes Excel store the test time as a real date cell.
        sheet.column_dimensions[letter].number_format = formats[column.key]
        sheet.column_dimensions[letter].width = 20 if column.key in ("tube_code", "tested_at") else 14
        if column.key == "result":
            words = RESULT_VALUES if english else ("阴性", "阳性", "无效", "可疑")
            choice = DataValidation(type="list", formula1=f'"{",".join(words)}"', allow_blank=True)
            choice.add(f"{letter}2:{letter}1048576")
            sheet.add_data_validation(choice)
        elif column.key == "ct_value":
            bounds = DataValidation(type="decimal", operator="between", formula1=str(CT_MIN), formula2=str(CT_MAX),
                                    allow_blank=True)
            bounds.add(f"{letter}2:{letter}1048576")
            sheet.add_data_validation(bounds)

    notes = book.create_sheet("Instructions" if english else "说明")
    if english:
        notes.append(["Column", "Required", "What to enter"])
        for column in COLUMNS:
            notes.append([column.key, "yes" if column.required else "no", column.help_en])
        general = [
            "Keep the header row. Columns may be in any order; other columns are ignored. "
            "Chinese headers (管号, 检测结果, 检测时间, 检测机构, Ct值) work as well.",
            "Save as an Excel workbook (.xlsx) or as CSV (UTF-8 or GBK) and upload it.",
            "If any row is wrong, nothing in the file is imported: correct the rows listed and upload it again.",
        ]
    else:
        notes.append(["列", "是否必填", "填写说明"])
        for column in COLUMNS:
            notes.append([column.zh, "是" if column.required else "否", column.help_zh])
        general = [
            "请保留第一行表头；列的顺序可以调整，多余的列会被忽略。也可使用英文表头（tube_code、result、"
            "tested_at、lab_code、ct_value）。",
            "保存为 Excel 工作簿（.xlsx）或 CSV（UTF-8 或 GBK 编码）后上传。",
            "只要有一行有误，整个文件都不会导入：请按提示改正所列各行后重新上传。",
        ]
    notes.append([])
    for line in general:
        notes.append([line])
    for cell in notes[1]:
        cell.font, cell.fill = bold, shade
    notes.column_dimensions["A"].width = 14
    notes.column_dimensions["B"].width = 10
    notes.column_dimensions["C"].width = 90
    for row in notes.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def _is_english(locale: str) -> bool:
    """Whether ``locale`` asks for English; every other locale gets the Chinese template."""
    return locale.replace("-", "_").split("_")[0].lower() == "en"


def _headers(locale: str) -> list[str]:
    """The template's header row in the language of ``locale``."""
    return [column.key if _is_english(locale) else column.zh for column in COLUMNS]


# ----------------------------------------------------------------------------------------- the file


def _file_kind(data: bytes, name: str) -> str:
    """``"xlsx"`` or ``"csv"``, by the name's extension, else by the content; anything else is refused."""
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    # A workbook is a zip whatever its name says; no CSV starts with these bytes. So are .docx files and
    # plain archives, which lack the workbook part.
    if data.startswith(_ZIP_MAGIC):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                is_workbook = "xl/workbook.xml" in archive.namelist()
        except zipfile.BadZipFile as exc:
            raise Invalid(DAMAGED_WORKBOOK, name=name) from exc
        if is_workbook:
            return "xlsx"
        raise Invalid(NOT_A_RESULT_FILE, name=name)
    if extension == "xls" or data.startswith(_OLE_MAGIC):
        raise Invalid(N_("“{name}” is an old-style Excel file (.xls): save it as an Excel workbook (.xlsx) "
                         "and upload it again."), name=name)
    if extension == "xlsx":
        raise Invalid(DAMAGED_WORKBOOK, name=name)
    if extension in ("csv", "txt"):
        return "csv"
    # No extension or an unknown one: text is taken for CSV (its headers are checked next), the rest refused.
    if b"\x00" not in data[:_HEADER_PROBE]:
        return "csv"
    raise Invalid(NOT_A_RESULT_FILE, name=name)


def _locate(header: Sequence[Any]) -> dict[str, int]:
    """Which cell of the header row holds each template column; missing required columns are refused."""
    found: dict[str, int] = {}
    twice: list[Column] = []
    for index, cell in enumerate(header):
        column = _HEADERS.get(str(cell).strip().casefold()) if cell is not None else None
        if column is None:
            continue  # a column of the lab's own: ignored
        if column.key in found:
            twice.append(column)
        found.setdefault(column.key, index)
    if twice:
        raise Invalid(
            N_("These columns appear more than once in the header row: {columns}."),
            errors=[FieldError(c.key, N_("The column {column} appears more than once."), {"column": c.label})
                    for c in twice],
            columns=", ".join(c.label for c in twice),
        )
    missing = [column for column in COLUMNS if column.required and column.key not in found]
    if missing:
        raise Invalid(
            N_("The file lacks the required columns {columns}: use the headers of the standard template."),
            errors=[FieldError(c.key, N_("The column {column} is missing."), {"column": c.label}) for c in missing],
            columns=", ".join(c.label for c in missing),
        )
    return found


def _read_csv(data: bytes, name: str) -> tuple[dict[str, pa.Array], np.ndarray]:
    """The template's columns of a CSV file as string arrays, and the sheet row number of each row."""
    text = _as_utf8(data, name)
    if not text or text.isspace():
        raise Invalid(EMPTY_FILE, name=name)
    width = _header_width(text)
    columns = _parse_csv(text, width, name)
    if columns is None:
        columns = _parse_ragged_csv(text, width, name)
    start = _first_filled_row(columns)
    if start is None:
        raise Invalid(EMPTY_FILE, name=name)
    found = _locate([column[start].as_py() for column in columns])
    cells = {key: columns[index].slice(start + 1) for key, index in found.items()}
    # Sheet rows count from 1, and the data starts on the row after the header.
    rows = np.arange(start + 2, len(columns[0]) + 1, dtype=np.int32)
    return cells, rows


def _as_utf8(data: bytes, name: str) -> bytes:
    """The text in UTF-8: a BOM means UTF-8; valid UTF-8 is UTF-8; anything else is GB18030 (Excel's GBK)."""
    if b"\x00" in data:
        raise Invalid(UNREADABLE_TEXT, name=name)  # a binary file; GB18030 would decode it regardless
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
        if not _is_utf8(data):
            raise Invalid(UNREADABLE_TEXT, name=name)
        return data
    if _is_utf8(data):
        return data
    try:
        decoded = data.decode("gb18030")
    except UnicodeDecodeError:
        raise Invalid(UNREADABLE_TEXT, name=name) from None
    # GB18030 has its own BOM, which decodes to U+FEFF.
    return decoded.removeprefix("\ufeff").encode("utf-8")


def _is_utf8(data: bytes) -> bool:
    """Whether ``data`` is strict UTF-8, checked by Arrow in place (no Python string is built)."""
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    blob = pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(data)])
    try:
        blob.cast(pa.large_string())
    except pa.ArrowInvalid:
        return False
    return True


def _header_width(text: bytes) -> int:
    """How many cells the header row has: the first record with any text in it."""
    probe = text[:_HEADER_PROBE].decode("utf-8", errors="ignore")
    for record in csv.reader(io.StringIO(probe, newline="")):
        if any(cell.strip() for cell in record):
            return len(record)
    return 1


def _parse_csv(text: bytes, width: int, name: str) -> list[pa.Array] | None:
    """Every cell as a string, empty lines kept so that row numbers stay those of the sheet; None when some
    row has more or fewer cells than the header."""
    names = [f"c{i}" for i in range(width)]
    ragged = False

    def skip(_row: Any) -> str:
        nonlocal ragged
        ragged = True
        return "skip"

    try:
        table = pa_csv.read_csv(
            pa.BufferReader(text),
            read_options=pa_csv.ReadOptions(column_names=names),
            # Line breaks inside values need quotes; without any quote the blocks can be split blindly, faster.
            parse_options=pa_csv.ParseOptions(newlines_in_values=b'"' in text, ignore_empty_lines=False,
                                              invalid_row_handler=skip),
            convert_options=pa_csv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()),
                                                  strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise Invalid(UNREADABLE_CSV, name=name) from exc
    if ragged:
        return None
    return [table.column(i).combine_chunks() for i in range(width)]


def _parse_ragged_csv(text: bytes, width: int, name: str) -> list[pa.Array]:
    """Python's csv reader, for the rare file whose rows differ in length: a short row is padded with empty
    cells (hand-made files drop the empty ones at the end), a long one refused unless its extra cells are empty."""
    columns: list[list[str]] = [[] for _ in range(width)]
    too_long: list[FieldError] = []
    try:
        records = csv.reader(io.StringIO(text.decode("utf-8"), newline=""), strict=True)
        for number, record in enumerate(records, start=1):
            if len(record) > width and any(cell.strip() for cell in record[width:]):
                too_long.append(FieldError("-", N_("Row {row} has {found} cells where the header row has {expected}."),
                                           {"row": number, "found": len(record), "expected": width}, row=number))
            record.extend([""] * (width - len(record)))
            for column, cell in zip(columns, record, strict=False):
                column.append(cell)
    except csv.Error as exc:
        raise Invalid(UNREADABLE_CSV, name=name) from exc
    if too_long:
        raise Invalid(
            N_("Some rows have more cells than the header row: a value holding a comma must be put in double quotes."),
            errors=too_long,
        )
    return [pa.array(column, pa.string()) for column in columns]


def _first_filled_row(columns: Sequence[pa.Array]) -> int | None:
    """The index of the first row with a non-blank cell: the header row."""
    # The header is nearly always the first row; only a file of blank lines needs the whole scan.
    head = [column.slice(0, _HEAD_ROWS).to_pylist() for column in columns]
    for index in range(min(len(columns[0]), _HEAD_ROWS)):
        if any(_is_filled(column[index]) for column in head):
            return index
    filled = np.logical_or.reduce(
        [mask_of(pc.greater(pc.binary_length(pc.utf8_trim_whitespace(column)), 0)) for column in columns])
    return int(np.argmax(filled)) if filled.any() else None


def _is_filled(value: Any) -> bool:
    """Whether a cell holds anything but spaces."""
    return value is not None and str(value).strip() != ""


def _read_xlsx(data: bytes, name: str) -> tuple[dict[str, pa.Array], np.ndarray]:
    """The template's columns of the first sheet as string arrays, and the sheet row number of each row."""
    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        grid = book.get_sheet_by_index(0).to_python(skip_empty_area=False)
    except PasswordError as exc:
        raise Invalid(N_("“{name}” is protected by a password: remove it and upload the file again."),
                      name=name) from exc
    except (CalamineError, ValueError, IndexError) as exc:
        raise Invalid(DAMAGED_WORKBOOK, name=name) from exc
    # The header is the first row with anything in it, as in a CSV.
    start = next((i for i, row in enumerate(grid) if any(_is_filled(cell) for cell in row)), None)
    if start is None:
        raise Invalid(EMPTY_FILE, name=name)
    found = _locate(grid[start])
    body = grid[start + 1:]
    cells = {}
    for key, index in found.items():
        as_text = _time_cell_text if key == "tested_at" else _cell_text
        cells[key] = pa.array([as_text(row[index]) if index < len(row) else "" for row in body], pa.string())
    rows = np.arange(start + 2, start + 2 + len(body), dtype=np.int32)
    return cells, rows


def _cell_text(value: Any) -> str:
    """An Excel cell as the text a CSV would hold: whole numbers without ".0" (a tube code typed as a number)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value)


def _time_cell_text(value: Any) -> str:
    """A test-time cell as text: a date cell, or a serial day number when the cell lost its date format."""
    if isinstance(value, int | float) and not isinstance(value, bool) and 1 <= value <= _EXCEL_LAST_DAY:
        # Excel keeps times to the millisecond; the float's last digits are noise (14:30 is 0.6041666…).
        value = _EXCEL_EPOCH + timedelta(milliseconds=round(float(value) * 86_400_000))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="milliseconds" if value.microsecond else "seconds")
    if isinstance(value, date):
        return value.isoformat()  # a date alone is not a date and time, and is reported as such
    return _cell_text(value)


# --------------------------------------------------------------------------------------- the rows


class _Findings:
    """The errors found so far and, for each row, whether it has one."""

    def __init__(self, rows: np.ndarray) -> None:
        self.rows = rows
        self.bad = np.zeros(len(rows), dtype=bool)
        self.errors: list[tuple[int, int, FieldError]] = []

    def add(self, key: str, mask: np.ndarray, message: str,
            params: Callable[[np.ndarray], list[dict[str, Any]]] | None = None) -> None:
        """Report ``message`` on ``key`` for every row where ``mask`` is true."""
        where = np.flatnonzero(mask)
        if not where.size:
            return
        self.bad[where] = True
        values = params(where) if params else [{} for _ in where]
        order = _ORDER[key]
        rows = self.rows[where].tolist()
        self.errors.extend(
            (row, order, FieldError(key, message, p, row=row)) for row, p in zip(rows, values, strict=True)
        )

    def sorted(self) -> list[FieldError]:
        """The errors in the order of the sheet: by row, then by column."""
        return [error for _row, _order, error in sorted(self.errors, key=lambda e: (e[0], e[1]))]


def _check(cells: dict[str, pa.Array], rows: np.ndarray, *, now: datetime, name: str) -> ResultFile:
    """Check every row; the rows without an error become the table, the others the errors."""
    text = {key: pc.utf8_trim_whitespace(column.fill_null("")) for key, column in cells.items()}
    # A tube code typed in groups ("0012 3456") is still one barcode.
    text["tube_code"] = pc.replace_substring(text["tube_code"], " ", "")
    filled = {key: mask_of(pc.greater(pc.binary_length(column), 0)) for key, column in text.items()}
    # A row with nothing in the template's columns carries no result (Excel leaves such rows at the end).
    has_any = np.logical_or.reduce(list(filled.values()))
    if not has_any.all():
        keep = np.flatnonzero(has_any)
        text = {key: column.take(pa.array(keep)) for key, column in text.items()}
        filled = {key: mask[keep] for key, mask in filled.items()}
        rows = rows[keep]
    if not len(rows):
        raise Invalid(N_("The file “{name}” has a header row but no results."), name=name)

    found = _Findings(rows)
    for column in COLUMNS:
        if column.required:
            found.add(column.key, ~filled[column.key], REQUIRED)

    outcome = _results(text["result"], filled["result"])
    found.add("result", filled["result"] & (outcome < 0), UNKNOWN_RESULT, _values_of(text["result"]))

    micros, parsed = _parse_times(text["tested_at"], filled["tested_at"])
    found.add("tested_at", filled["tested_at"] & ~parsed, NOT_A_TIME, _values_of(text["tested_at"]))
    latest = (now + CLOCK_SKEW - _EPOCH) // timedelta(microseconds=1)
    found.add("tested_at", parsed & (micros > latest), IN_THE_FUTURE, _values_of(text["tested_at"]))

    ct = np.full(len(rows), np.nan)
    ct_filled = filled.get("ct_value", np.zeros(len(rows), dtype=bool))
    if "ct_value" in text:
        ct, ct_ok = _ct_values(text["ct_value"], ct_filled)
        found.add("ct_value", ct_filled & ~ct_ok, BAD_CT, _values_of(text["ct_value"]))

    _find_duplicates(text["tube_code"], filled["tube_code"], found)

    good = ~found.bad
    chosen = None if good.all() else np.flatnonzero(good)

    def pick(values: pa.Array) -> pa.Array:
        return values if chosen is None else values.take(pa.array(chosen))

    def pick_np(values: np.ndarray) -> np.ndarray:
        return values if chosen is None else values[chosen]

    table = pa.table(
        [
            pa.array(pick_np(rows), pa.int32()),
            pick(text["tube_code"]),
            _RESULT_CANONICAL.take(pa.array(np.where(pick_np(outcome) < 0, 0, pick_np(outcome)))),
            pa.array(pick_np(micros), pa.timestamp("us", tz="UTC")),
            pick(text["lab_code"]),
            pa.array(pick_np(ct), pa.float64(), mask=~pick_np(ct_filled)),
        ],
        schema=SCHEMA,
    )
    return ResultFile(rows=table, errors=found.sorted())


def mask_of(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean Arrow array as a NumPy mask, null counting as false."""
    return np.asarray(values.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def _values_of(column: pa.Array) -> Callable[[np.ndarray], list[dict[str, Any]]]:
    """Message parameters ``{"value": cell text}`` for the given rows."""
    return lambda where: [{"value": value} for value in column.take(pa.array(where)).to_pylist()]


def _results(column: pa.Array, filled: np.ndarray) -> np.ndarray:
    """The position of each result in ``RESULT_VALUES``, or -1 when the word is unknown."""
    outcome = pc.index_in(column, value_set=_RESULT_WORDS).fill_null(-1).to_numpy(zero_copy_only=False)
    outcome = np.array(outcome, dtype=np.int64)
    # Case only matters for English words and is rare, so only the misses are lowered and looked up again.
    misses = np.flatnonzero(filled & (outcome < 0))
    if misses.size:
        lowered = pc.utf8_lower(column.take(pa.array(misses)))
        outcome[misses] = pc.index_in(lowered, value_set=_RESULT_WORDS).fill_null(-1).to_numpy(zero_copy_only=False)
    return np.where(outcome < 0, -1, outcome % len(RESULT_VALUES))


def _parse_times(column: pa.Array, filled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each test time as UTC microseconds since 1970, and whether it parsed."""
    micros = np.zeros(len(column), dtype=np.int64)
    parsed = np.zeros(len(column), dtype=bool)
    todo = np.flatnonzero(filled)
    for fmt, zoned in _FAST_FORMATS:
        if not todo.size:
            break
        part = column if todo.size == len(column) else column.take(pa.array(todo))
        stamps = pc.strptime(part, format=fmt, unit="us", error_is_null=True)
        ok = mask_of(pc.is_valid(stamps))
        # glibc's strptime reads "21-1-20" as the year 21, and rolls 31 April over to 1 May and 14:30:60 over
        # to 14:31:00. Such rows are left to the strict parser, which refuses them; finding them costs a
        # look at the texts of the few rows whose parsed value could be one.
        suspect = ok & mask_of(pc.less(pc.year(stamps), 1000))
        # (With a zone, the day is that of UTC, which may differ from the one written.)
        may_roll = ok.copy() if zoned else ok & mask_of(pc.less_equal(pc.day(stamps), 3))
        suspect[may_roll] |= mask_of(pc.match_substring_regex(part.take(pa.array(np.flatnonzero(may_roll))),
                                                              r"[-/](?:29|30|31)[ T]"))
        if "%S" in fmt:
            may_leap = ok & mask_of(pc.less_equal(pc.second(stamps), 1))
            suspect[may_leap] |= mask_of(pc.match_substring(part.take(pa.array(np.flatnonzero(may_leap))), ":6"))
        if not zoned:
            stamps = pc.assume_timezone(stamps, timezone=LAB_TIMEZONE, ambiguous="earliest", nonexistent="earliest")
        good = ok & ~suspect
        values = stamps.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
        micros[todo[good]] = values[good]
        parsed[todo[good]] = True
        todo = todo[~ok]
    # What no fast format took (or took wrongly), the strict parser reads one by one.
    rest = np.flatnonzero(filled & ~parsed)
    if rest.size:
        for index, value in zip(rest.tolist(), column.take(pa.array(rest)).to_pylist(), strict=True):
            moment = _parse_time_text(value)
            if moment is not None:
                micros[index] = (moment - _EPOCH) // timedelta(microseconds=1)
                parsed[index] = True
    return micros, parsed


def _parse_time_text(value: str) -> datetime | None:
    """One test time, strictly: a real date and time, Beijing time unless it names its zone; else None."""
    match = _TIME_TEXT.fullmatch(value)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0),
                          int((fraction or "0").ljust(6, "0")))
    except ValueError:
        return None
    if zone is None:
        return moment.replace(tzinfo=_LAB_ZONE).astimezone(UTC)
    if zone.upper() == "Z":
        return moment.replace(tzinfo=UTC)
    digits = zone[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
    if offset >= timedelta(hours=24):
        return None
    return moment.replace(tzinfo=timezone(-offset if zone[0] == "-" else offset)).astimezone(UTC)


def _ct_values(column: pa.Array, filled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each Ct value as a float (NaN when empty or bad), and whether it is a number from 0 to 50."""
    # Plain decimals only: digits with at most one point (no sign, exponent, "nan" or "inf").
    numeric = filled & mask_of(pc.ascii_is_decimal(pc.replace_substring(column, ".", "", max_replacements=1)))
    kept = pc.if_else(pa.array(numeric), column, pa.scalar(None, pa.string()))
    values = np.asarray(pc.cast(kept, pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False),
                        dtype=np.float64)
    in_range = numeric & (values >= CT_MIN) & (values <= CT_MAX)
    return np.where(in_range, values, np.nan), in_range


def _find_duplicates(codes: pa.Array, filled: np.ndarray, found: _Findings) -> None:
    """Report every later occurrence of a tube code, naming the row of its first."""
    where = np.flatnonzero(filled)
    if where.size < 2:
        return
    present = codes if where.size == len(codes) else codes.take(pa.array(where))
    # Dictionary codes are given in order of first appearance, so a first occurrence is exactly where the
    # running maximum of the codes goes up, and the k-th such place is where code k first appears.
    indices = np.asarray(pc.dictionary_encode(present).indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    running = np.maximum.accumulate(indices)
    first = np.empty(len(indices), dtype=bool)
    first[0] = True
    first[1:] = running[1:] > running[:-1]
    if first.all():
        return
    first_at = np.flatnonzero(first)
    later = np.flatnonzero(~first)
    mask = np.zeros(len(codes), dtype=bool)
    mask[where[later]] = True
    # Rows in mask order: the later occurrences ascending, as ``where[later]`` is.
    first_rows = found.rows[where[first_at[indices[later]]]].tolist()
    later_codes = present.take(pa.array(later)).to_pylist()
    params = [{"code": code, "first": row} for code, row in zip(later_codes, first_rows, strict=True)]
    found.add("tube_code", mask, DUPLICATE_TUBE, lambda _where: params)
