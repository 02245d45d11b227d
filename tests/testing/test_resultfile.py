"""Lab result files: every format reads to the same rows, every bad row is reported, templates read back."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pyarrow as pa
import pytest

from fangkong.core.errors import Invalid
from fangkong.testing import resultfile
from fangkong.testing.resultfile import RESULT_VALUES, read_results, template_csv, template_xlsx

NOW = datetime(2021, 1, 21, 12, 0, tzinfo=UTC)
ZH_HEADER = ["管号", "检测结果", "检测时间", "检测机构", "Ct值"]
EN_HEADER = ["tube_code", "result", "tested_at", "lab_code", "ct_value"]

# One batch as a lab writes it, in Beijing time, and the rows it must read to.
BATCH = [
    ["0012345678", "阴性", "2021-01-20 14:30", "LAB01", ""],
    ["0012345679", "阳性", "2021/1/20 14:30:15", "LAB01", "23.5"],
    ["0012345680", "无效", "2021-01-20T14:31:00", "LAB02", ""],
    ["0012345681", "可疑", "2021-01-20T06:32:00Z", "LAB02", "38"],
]
CANONICAL = [
    {"row": 2, "tube_code": "0012345678", "result": "negative",
     "tested_at": datetime(2021, 1, 20, 6, 30, tzinfo=UTC), "lab_code": "LAB01", "ct_value": None},
    {"row": 3, "tube_code": "0012345679", "result": "positive",
     "tested_at": datetime(2021, 1, 20, 6, 30, 15, tzinfo=UTC), "lab_code": "LAB01", "ct_value": 23.5},
    {"row": 4, "tube_code": "0012345680", "result": "invalid",
     "tested_at": datetime(2021, 1, 20, 6, 31, tzinfo=UTC), "lab_code": "LAB02", "ct_value": None},
    {"row": 5, "tube_code": "0012345681", "result": "inconclusive",
     "tested_at": datetime(2021, 1, 20, 6, 32, tzinfo=UTC), "lab_code": "LAB02", "ct_value": 38.0},
]


def csv_text(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A CSV as Excel writes it: CRLF line ends, a line break after the last row."""
    return "".join(",".join(cells) + "\r\n" for cells in [header, *rows])


def write(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def read(path: Path, *, now: datetime = NOW) -> resultfile.ResultFile:
    return read_results(path.read_bytes(), path.name, now=now)


def read_csv(tmp_path: Path, rows: Sequence[Sequence[str]], header: Sequence[str] = ZH_HEADER,
             *, now: datetime = NOW) -> resultfile.ResultFile:
    return read(write(tmp_path, "results.csv", csv_text(header, rows).encode("utf-8")), now=now)


def write_xlsx(tmp_path: Path, name: str, rows: Sequence[Sequence[object]]) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for cells in rows:
        sheet.append(list(cells))
    path = tmp_path / name
    book.save(path)
    return path


def batch_file(tmp_path: Path, kind: str) -> Path:
    """``BATCH`` written in one of the accepted formats."""
    if kind == "xlsx":
        # Excel cells: real date-time cells, a serial day number where the date format was lost, numbers.
        return write_xlsx(tmp_path, "results.xlsx", [
            ZH_HEADER,
            ["0012345678", "阴性", datetime(2021, 1, 20, 14, 30), "LAB01", None],
            ["0012345679", "阳性", 44216 + (14 * 3600 + 30 * 60 + 15) / 86400, "LAB01", 23.5],
            ["0012345680", "无效", datetime(2021, 1, 20, 14, 31), "LAB02", None],
            ["0012345681", "可疑", "2021-01-20T06:32:00Z", "LAB02", 38],
        ])
    return write(tmp_path, "results.csv", csv_text(ZH_HEADER, BATCH).encode(kind))


# ------------------------------------------------------------------------------------------ formats


@pytest.mark.parametrize("kind", ["utf-8", "utf-8-sig", "gb18030", "xlsx"])
def test_every_format_reads_to_the_same_canonical_rows(tmp_path: Path, kind: str) -> None:
    result = read(batch_file(tmp_path, kind))
    assert result.errors == []
    assert result.ok
    assert result.rows.to_pylist() == CANONICAL


def test_the_gb18030_file_really_is_not_utf8(tmp_path: Path) -> None:
    data = batch_file(tmp_path, "gb18030").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert "管号".encode("gb18030") in data


def test_the_rows_have_the_documented_types(tmp_path: Path) -> None:
    rows = read(batch_file(tmp_path, "utf-8")).rows
    assert rows.schema == pa.schema([
        ("row", pa.int32()), ("tube_code", pa.string()), ("result", pa.string()),
        ("tested_at", pa.timestamp("us", tz="UTC")), ("lab_code", pa.string()), ("ct_value", pa.float64()),
    ])
    assert set(rows.column("result").to_pylist()) <= set(RESULT_VALUES)


def test_english_headers_in_another_order_with_an_extra_column(tmp_path: Path) -> None:
    header = ["remark", "lab_code", "tested_at", "ct_value", "result", "tube_code"]
    rows = [["note", lab, at, ct, res, tube] for tube, res, at, lab, ct in BATCH]
    result = read_csv(tmp_path, rows, header)
    assert result.errors == []
    assert result.rows.to_pylist() == CANONICAL


def test_headers_match_despite_surrounding_spaces_and_case(tmp_path: Path) -> None:
    result = read_csv(tmp_path, BATCH, [" TUBE_CODE ", "Result", " 检测时间", "Lab_Code", "ct值 "])
    assert result.rows.to_pylist() == CANONICAL


def test_the_optional_ct_column_may_be_left_out(tmp_path: Path) -> None:
    result = read_csv(tmp_path, [cells[:4] for cells in BATCH], ZH_HEADER[:4])
    assert result.ok
    assert result.rows.column("ct_value").to_pylist() == [None] * 4


def test_tube_codes_keep_leading_zeros_and_lose_spaces(tmp_path: Path) -> None:
    rows = [["000123", "阴性", "2021-01-20 14:30", "LAB01", ""],
            [" 0012 3456 ", "阴性", "2021-01-20 14:30", "LAB01", ""]]
    result = read_csv(tmp_path, rows)
    assert result.rows.column("tube_code").to_pylist() == ["000123", "00123456"]


def test_english_results_ignore_case_and_cells_their_spaces(tmp_path: Path) -> None:
    rows = [["1", "NEGATIVE", "2021-01-20 14:30", "LAB01", ""],
            ["2", " Positive ", "2021-01-20 14:30", "LAB01", ""],
            ["3", "\u3000阳性\u3000", "2021-01-20 14:30", " LAB01 ", " 30 "]]
    result = read_csv(tmp_path, rows)
    assert result.errors == []
    assert result.rows.column("result").to_pylist() == ["negative", "positive", "positive"]
    assert result.rows.column("lab_code").to_pylist() == ["LAB01"] * 3
    assert result.rows.column("ct_value").to_pylist() == [None, None, 30.0]


def test_blank_rows_are_skipped_but_keep_their_place_in_the_numbering(tmp_path: Path) -> None:
    text = (csv_text(ZH_HEADER, BATCH[:1]) + "\r\n,,,,\r\n"
            + "".join(",".join(cells) + "\r\n" for cells in BATCH[1:]) + "\r\n\r\n")
    result = read(write(tmp_path, "results.csv", text.encode()))
    assert result.ok
    assert result.rows.column("row").to_pylist() == [2, 5, 6, 7]


def test_quoted_values_may_hold_commas_and_line_breaks(tmp_path: Path) -> None:
    text = ("管号,检测结果,检测时间,检测机构,备注\r\n"
            '001,阴性,2021-01-20 14:30,LAB01,"复核, 见\r\n附件"\r\n'
            "002,阴性,2021-01-20 14:30,LAB01,\r\n")
    result = read(write(tmp_path, "results.csv", text.encode()))
    assert result.ok
    assert result.rows.column("tube_code").to_pylist() == ["001", "002"]
    assert result.rows.column("row").to_pylist() == [2, 3]


def test_a_short_row_counts_its_missing_cells_as_empty(tmp_path: Path) -> None:
    text = csv_text(ZH_HEADER, BATCH[:1]) + "0099,阴性,2021-01-20 14:30,LAB01\r\n" + "0098,阴性\r\n"
    result = read(write(tmp_path, "results.csv", text.encode()))
    assert result.rows.column("tube_code").to_pylist() == ["0012345678", "0099"]
    assert [(e.row, e.field, e.message) for e in result.errors] == [
        (4, "tested_at", resultfile.REQUIRED), (4, "lab_code", resultfile.REQUIRED)]


def test_a_row_with_more_cells_than_the_header_is_refused(tmp_path: Path) -> None:
    text = csv_text(ZH_HEADER, BATCH) + "0099,阴性,2021-01-20 14:30,LAB01,,某某医院,检验科\r\n"
    with pytest.raises(Invalid) as caught:
        read(write(tmp_path, "results.csv", text.encode()))
    assert [(e.row, e.params["found"], e.params["expected"]) for e in caught.value.errors] == [(6, 7, 5)]


def test_xlsx_numbers_and_dates_become_text_and_times(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path, "results.xlsx", [
        EN_HEADER,
        [123456, "negative", datetime(2021, 1, 20, 14, 30, 0, 250000), 7, 31.25],
        # 14:30 as a serial number whose float is a hair short of the minute.
        ["654321", "negative", 44216.604166666664, "LAB01", 0],
    ])
    result = read(path)
    assert result.errors == []
    assert result.rows.column("tube_code").to_pylist() == ["123456", "654321"]
    assert result.rows.column("lab_code").to_pylist() == ["7", "LAB01"]
    assert result.rows.column("tested_at").to_pylist() == [
        datetime(2021, 1, 20, 6, 30, 0, 250000, tzinfo=UTC), datetime(2021, 1, 20, 6, 30, tzinfo=UTC)]
    assert result.rows.column("ct_value").to_pylist() == [31.25, 0.0]


def test_an_xlsx_header_below_blank_rows_numbers_rows_as_the_sheet_does(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for column, title in enumerate(ZH_HEADER, start=2):
        sheet.cell(row=3, column=column, value=title)
    for column, value in enumerate(["007", "阴性", "2021-01-20 14:30", "LAB01"], start=2):
        sheet.cell(row=5, column=column, value=value)
    book.save(tmp_path / "results.xlsx")
    result = read(tmp_path / "results.xlsx")
    assert result.rows.column("row").to_pylist() == [5]
    assert result.rows.column("tube_code").to_pylist() == ["007"]


def test_an_xlsx_date_cell_without_a_time_is_not_a_date_and_time(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path, "results.xlsx", [ZH_HEADER, ["1", "阴性", datetime(2021, 1, 20).date(), "LAB01"]])
    result = read(path)
    assert [(e.row, e.field, e.message) for e in result.errors] == [(2, "tested_at", resultfile.NOT_A_TIME)]


def test_a_workbook_named_csv_is_still_read_as_a_workbook(tmp_path: Path) -> None:
    workbook = batch_file(tmp_path, "xlsx").read_bytes()
    result = read(write(tmp_path, "results.csv", workbook))
    assert result.rows.to_pylist() == CANONICAL


def test_a_csv_without_an_extension_is_read_as_csv(tmp_path: Path) -> None:
    result = read(write(tmp_path, "results", csv_text(ZH_HEADER, BATCH).encode("gb18030")))
    assert result.rows.to_pylist() == CANONICAL


# ------------------------------------------------------------------------------------------- times


@pytest.mark.parametrize("text", [
    "2021-01-20 14:30", "2021-01-20 14:30:00", "2021/1/20 14:30", "2021/01/20 14:30:00", "2021-01-20T14:30:00",
    "2021-01-20T14:30", "2021-1-20 14:30", " 2021-01-20 14:30 ",
])
def test_a_time_without_a_zone_is_beijing_time(tmp_path: Path, text: str) -> None:
    result = read_csv(tmp_path, [["1", "阴性", text, "LAB01", ""]])
    assert result.rows.column("tested_at").to_pylist() == [datetime(2021, 1, 20, 6, 30, tzinfo=UTC)]


@pytest.mark.parametrize(("text", "utc"), [
    ("2021-01-20T14:30:00+08:00", datetime(2021, 1, 20, 6, 30, tzinfo=UTC)),
    ("2021-01-20T06:30:00Z", datetime(2021, 1, 20, 6, 30, tzinfo=UTC)),
    ("2021-01-20 09:30:00+03:00", datetime(2021, 1, 20, 6, 30, tzinfo=UTC)),
    ("2021-01-20T01:30:00-0500", datetime(2021, 1, 20, 6, 30, tzinfo=UTC)),
    ("2021-01-19T23:30:00-07:00", datetime(2021, 1, 20, 6, 30, tzinfo=UTC)),
    ("2021-01-20T14:30+08:00", datetime(2021, 1, 20, 6, 30, tzinfo=UTC)),
    ("2021-01-20T14:30:00.250+08:00", datetime(2021, 1, 20, 6, 30, 0, 250000, tzinfo=UTC)),
])
def test_an_explicit_offset_is_respected(tmp_path: Path, text: str, utc: datetime) -> None:
    result = read_csv(tmp_path, [["1", "阴性", text, "LAB01", ""]])
    assert result.errors == []
    assert result.rows.column("tested_at").to_pylist() == [utc]


def test_the_last_days_of_months_are_real_dates(tmp_path: Path) -> None:
    rows = [["1", "阴性", "2020-02-29 10:00", "LAB01", ""], ["2", "阴性", "2020/12/31 23:59:59", "LAB01", ""],
            ["3", "阴性", "2020-01-30T08:00:00+08:00", "LAB01", ""]]
    result = read_csv(tmp_path, rows)
    assert result.errors == []
    assert result.rows.column("tested_at").to_pylist() == [
        datetime(2020, 2, 29, 2, 0, tzinfo=UTC), datetime(2020, 12, 31, 15, 59, 59, tzinfo=UTC),
        datetime(2020, 1, 30, 0, 0, tzinfo=UTC)]


@pytest.mark.parametrize("text", [
    "yesterday", "2021-01-20", "14:30", "2021-02-30 10:00", "2021-04-31T10:00:00+08:00", "2021/2/29 10:00",
    "2021-01-20 14:30:60", "2021-01-20 24:00", "2021-13-01 10:00", "21-1-20 14:30", "20210120 1430",
    "2021-01-20 14:30+25:00",
])
def test_a_text_that_is_not_a_date_and_time_is_reported(tmp_path: Path, text: str) -> None:
    result = read_csv(tmp_path, [BATCH[0], ["1", "阴性", text, "LAB01", ""]])
    assert [(e.row, e.field, e.message, e.params) for e in result.errors] == [
        (3, "tested_at", resultfile.NOT_A_TIME, {"value": text})]
    assert result.rows.column("row").to_pylist() == [2]


def test_a_time_more_than_ten_minutes_ahead_is_in_the_future(tmp_path: Path) -> None:
    # NOW is 20:00 in Beijing.
    rows = [["1", "阴性", "2021-01-21 20:10", "LAB01", ""], ["2", "阴性", "2021-01-21 20:11", "LAB01", ""],
            ["3", "阴性", "2021-01-21T12:30:00Z", "LAB01", ""]]
    result = read_csv(tmp_path, rows)
    assert [(e.row, e.field, e.message, e.params) for e in result.errors] == [
        (3, "tested_at", resultfile.IN_THE_FUTURE, {"value": "2021-01-21 20:11"}),
        (4, "tested_at", resultfile.IN_THE_FUTURE, {"value": "2021-01-21T12:30:00Z"})]
    assert result.rows.column("tube_code").to_pylist() == ["1"]


def test_now_must_say_its_zone(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="timezone"):
        read_csv(tmp_path, BATCH, now=datetime(2021, 1, 21, 12, 0))


# ------------------------------------------------------------------------------------------ bad rows


@pytest.mark.parametrize("value", ["阳", "positive!", "neg", "阴性（-）"])
def test_an_unknown_result_is_reported_with_its_row(tmp_path: Path, value: str) -> None:
    result = read_csv(tmp_path, [*BATCH, ["0099", value, "2021-01-20 14:30", "LAB01", ""]])
    assert [(e.row, e.field, e.message, e.params) for e in result.errors] == [
        (6, "result", resultfile.UNKNOWN_RESULT, {"value": value})]
    assert not result.ok
    assert result.rows.num_rows == 4


@pytest.mark.parametrize("column", [0, 1, 2, 3])
def test_an_empty_required_field_is_reported(tmp_path: Path, column: int) -> None:
    row = ["0099", "阴性", "2021-01-20 14:30", "LAB01", "30"]
    row[column] = " "
    result = read_csv(tmp_path, [*BATCH, row])
    assert [(e.row, e.field, e.message) for e in result.errors] == [
        (6, EN_HEADER[column], resultfile.REQUIRED)]


@pytest.mark.parametrize("value", ["50.1", "-1", "abc", "nan", "1e3", "3,5", "."])
def test_a_ct_value_that_is_not_a_number_from_0_to_50_is_reported(tmp_path: Path, value: str) -> None:
    result = read_csv(tmp_path, [*BATCH, ["0099", "阳性", "2021-01-20 14:30", "LAB01", f'"{value}"']])
    assert [(e.row, e.field, e.message) for e in result.errors] == [(6, "ct_value", resultfile.BAD_CT)]


@pytest.mark.parametrize(("value", "number"), [("0", 0.0), ("50", 50.0), ("37.25", 37.25), (".5", 0.5)])
def test_a_ct_value_from_0_to_50_is_kept(tmp_path: Path, value: str, number: float) -> None:
    result = read_csv(tmp_path, [["0099", "阳性", "2021-01-20 14:30", "LAB01", value]])
    assert result.rows.column("ct_value").to_pylist() == [number]


def test_a_repeated_tube_is_reported_at_each_later_row_naming_the_first(tmp_path: Path) -> None:
    rows = [*BATCH, ["0012345679", "阴性", "2021-01-20 15:00", "LAB01", ""],
            ["0012345679", "阴性", "2021-01-20 15:01", "LAB01", ""],
            ["0012345678", "阴性", "2021-01-20 15:02", "LAB01", ""]]
    result = read_csv(tmp_path, rows)
    assert [(e.row, e.field, e.message, e.params) for e in result.errors] == [
        (6, "tube_code", resultfile.DUPLICATE_TUBE, {"code": "0012345679", "first": 3}),
        (7, "tube_code", resultfile.DUPLICATE_TUBE, {"code": "0012345679", "first": 3}),
        (8, "tube_code", resultfile.DUPLICATE_TUBE, {"code": "0012345678", "first": 2}),
    ]
    assert result.rows.column("row").to_pylist() == [2, 3, 4, 5]


def test_every_bad_row_is_reported_not_just_the_first(tmp_path: Path) -> None:
    rows = []
    for i in range(300):
        row = [f"{i:06d}", "阴性", "2021-01-20 14:30", "LAB01", ""]
        if i % 2:  # every other row spoils its result, its time or its lab in turn
            row[i % 3 + 1] = ["阴阳", "not a time", ""][i % 3]
        rows.append(row)
    result = read_csv(tmp_path, rows)
    bad = [i for i in range(300) if i % 2]
    assert [e.row for e in result.errors] == [i + 2 for i in bad]
    assert [e.field for e in result.errors] == [["result", "tested_at", "lab_code"][i % 3] for i in bad]
    assert result.rows.num_rows == 150


def test_a_row_with_several_problems_gets_one_error_per_field_in_column_order(tmp_path: Path) -> None:
    result = read_csv(tmp_path, [BATCH[0], ["0012345678", "x", "y", "", "99"]])
    assert [(e.row, e.field) for e in result.errors] == [
        (3, "tube_code"), (3, "result"), (3, "tested_at"), (3, "lab_code"), (3, "ct_value")]


# ------------------------------------------------------------------------------------ refused files


def test_a_missing_column_is_named_in_the_users_terms(tmp_path: Path) -> None:
    with pytest.raises(Invalid) as caught:
        read_csv(tmp_path, [[t, r, lab] for t, r, _at, lab, _ct in BATCH], ["管号", "检测结果", "检测机构"])
    assert caught.value.status == 422
    assert caught.value.params == {"columns": "检测时间 / tested_at"}
    assert [(e.field, e.row, e.params) for e in caught.value.errors] == [
        ("tested_at", None, {"column": "检测时间 / tested_at"})]


def test_a_column_given_twice_is_refused(tmp_path: Path) -> None:
    with pytest.raises(Invalid) as caught:
        read_csv(tmp_path, [[*cells, "LAB09"] for cells in BATCH], [*ZH_HEADER, "lab_code"])
    assert [e.field for e in caught.value.errors] == ["lab_code"]


@pytest.mark.parametrize("content", [
    bytes(range(256)) * 4,  # binary, with NUL bytes
    "管号,检测结果".encode("gb18030")[:-1] + b"\xff\xfe\x80\x81",  # neither UTF-8 nor GB18030
])
def test_garbage_bytes_are_refused(tmp_path: Path, content: bytes) -> None:
    with pytest.raises(Invalid) as caught:
        read(write(tmp_path, "results.csv", content))
    assert caught.value.params == {"name": "results.csv"}


@pytest.mark.parametrize(("name", "content", "message"), [
    ("results.pdf", b"%PDF-1.4\n\x00\x01\x02 binary", resultfile.NOT_A_RESULT_FILE),
    ("results.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64), None),
    ("results.xlsx", b"PK\x03\x04 not really a zip", None),
    ("results.xlsx", csv_text(ZH_HEADER, BATCH).encode(), None),
])
def test_a_file_that_is_not_a_result_file_is_refused(tmp_path: Path, name: str, content: bytes,
                                                      message: str | None) -> None:
    with pytest.raises(Invalid) as caught:
        read(write(tmp_path, name, content))
    assert caught.value.params == {"name": name}
    if message is not None:
        assert caught.value.message == message


def test_a_word_document_is_not_taken_for_a_workbook(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    with pytest.raises(Invalid) as caught:
        read(write(tmp_path, "results.docx", buf.getvalue()))
    assert caught.value.message == resultfile.NOT_A_RESULT_FILE


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"\r\n\r\n", b",,,,\r\n,,,,\r\n"])
def test_an_empty_file_is_refused(tmp_path: Path, content: bytes) -> None:
    with pytest.raises(Invalid) as caught:
        read(write(tmp_path, "results.csv", content))
    assert "empty" in caught.value.message


def test_a_header_without_results_is_refused(tmp_path: Path) -> None:
    with pytest.raises(Invalid) as caught:
        read(write(tmp_path, "results.csv", csv_text(ZH_HEADER, []).encode() + b",,,,\r\n"))
    assert "no results" in caught.value.message


def test_an_unclosed_quote_is_refused(tmp_path: Path) -> None:
    text = csv_text(ZH_HEADER, BATCH) + '0099,阴性,2021-01-20 14:30,"LAB01,\r\n'
    with pytest.raises(Invalid) as caught:
        read(write(tmp_path, "results.csv", text.encode()))
    assert caught.value.message == resultfile.UNREADABLE_CSV


# ---------------------------------------------------------------------------------------- templates


def test_the_csv_template_starts_with_a_bom_and_has_the_chinese_headers() -> None:
    data = template_csv()
    assert data.startswith(b"\xef\xbb\xbf")
    assert data[3:].decode("utf-8") == "管号,检测结果,检测时间,检测机构,Ct值\r\n"


def test_the_english_csv_template_has_the_english_headers() -> None:
    assert template_csv("en").decode("utf-8-sig") == "tube_code,result,tested_at,lab_code,ct_value\r\n"


def test_the_csv_template_filled_in_reads_back(tmp_path: Path) -> None:
    data = template_csv() + csv_text([], BATCH)[2:].encode()
    assert read(write(tmp_path, "template.csv", data)).rows.to_pylist() == CANONICAL


@pytest.mark.parametrize(("locale", "header", "notes"),
                         [("zh_CN", ZH_HEADER, "说明"), ("en", EN_HEADER, "Instructions")])
def test_the_xlsx_template_filled_in_with_openpyxl_reads_back(tmp_path: Path, locale: str, header: list[str],
                                                              notes: str) -> None:
    path = write(tmp_path, "template.xlsx", template_xlsx(locale))
    book = openpyxl.load_workbook(path)
    sheet = book.worksheets[0]
    assert [cell.value for cell in sheet[1]] == header
    assert book.sheetnames[1] == notes
    sheet.append(["0012345678", "阴性" if locale == "zh_CN" else "negative", datetime(2021, 1, 20, 14, 30), "LAB01"])
    book.save(path)
    result = read(path)
    assert result.errors == []
    assert result.rows.to_pylist() == [CANONICAL[0]]


def test_the_xlsx_template_keeps_tube_codes_as_text_and_times_as_dates(tmp_path: Path) -> None:
    sheet = openpyxl.load_workbook(write(tmp_path, "template.xlsx", template_xlsx())).worksheets[0]
    assert sheet.column_dimensions["A"].number_format == "@"
    assert "yyyy" in sheet.column_dimensions["C"].number_format


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_the_xlsx_template_explains_every_column_and_value(tmp_path: Path, locale: str) -> None:
    notes = openpyxl.load_workbook(write(tmp_path, "template.xlsx", template_xlsx(locale))).worksheets[1]
    text = "\n".join(str(cell.value) for row in notes.iter_rows() for cell in row if cell.value is not None)
    for title in ZH_HEADER if locale == "zh_CN" else EN_HEADER:
        assert title in text
    for word in ("阴性", "阳性", "无效", "可疑") if locale == "zh_CN" else RESULT_VALUES:
        assert word in text
    assert "2021-01-20 14:30" in text


def test_the_blank_xlsx_template_is_refused_for_having_no_results(tmp_path: Path) -> None:
    with pytest.raises(Invalid) as caught:
        read(write(tmp_path, "template.xlsx", template_xlsx()))
    assert "no results" in caught.value.message

