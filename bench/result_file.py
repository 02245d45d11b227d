"""Reading a lab result file of a city-wide round: ``testing.resultfile.read_results`` on a big CSV.

Writes a CSV in the standard template (Chinese headers; tube codes with leading zeros, the four
result words, test times in the two forms Excel and lab systems write, a Ct value on a fifth of the
rows) once as UTF-8 and once as GB18030, as Chinese Excel saves it, under a temporary directory, then
times ``read_results`` on each file's bytes (reading the file from disk is not timed) and prints rows
per second. Every row is good, so the figure is that of the file the caller goes on to import.

    python bench/result_file.py --rows 1000000 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from fangkong.testing.resultfile import read_results

WORDS = ("阴性",) * 97 + ("阳性", "无效", "可疑")


def make_csv(rows: int, seed: int) -> str:
    """The text of a valid result file of ``rows`` tubes."""
    rng = random.Random(seed)
    start = datetime(2021, 1, 20, 8, 0)
    lines = ["管号,检测结果,检测时间,检测机构,Ct值"]
    for i in range(rows):
        tested = start + timedelta(seconds=rng.randrange(12 * 3600))
        # Half as Excel writes a date cell to CSV on a Chinese system, half as lab systems write it.
        when = f"{tested:%Y}/{tested.month}/{tested.day} {tested:%H:%M}" if i % 2 else f"{tested:%Y-%m-%d %H:%M:%S}"
        ct = f"{rng.uniform(15, 40):.1f}" if i % 5 == 0 else ""
        lines.append(f"{i:010d},{rng.choice(WORDS)},{when},LAB{i % 37:03d},{ct}")
    return "\r\n".join(lines) + "\r\n"


def time_read(path: Path, repeat: int) -> tuple[float, int]:
    """The median seconds ``read_results`` takes on the file, and how many rows it returned."""
    data = path.read_bytes()
    now = datetime(2021, 1, 21, tzinfo=UTC)
    seconds = []
    rows = 0
    for _ in range(repeat):
        began = time.perf_counter()
        result = read_results(data, path.name, now=now)
        seconds.append(time.perf_counter() - began)
        if not result.ok:
            raise SystemExit(f"{path.name}: {len(result.errors)} errors, first {result.errors[0]}")
        rows = result.rows.num_rows
    return statistics.median(seconds), rows


def main() -> None:
    """Write the files, time them, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20210120)
    args = parser.parse_args()

    print(f"python {platform.python_version()}, pyarrow {pa.__version__}, {os.cpu_count()} CPUs, "
          f"{pa.cpu_count()} Arrow threads; median of {args.repeat}")
    text = make_csv(args.rows, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        files = {
            "UTF-8": Path(tmp, "results-utf8.csv"),
            "GB18030": Path(tmp, "results-gb18030.csv"),
        }
        files["UTF-8"].write_bytes(text.encode("utf-8"))
        files["GB18030"].write_bytes(text.encode("gb18030"))
        for label, path in files.items():
            seconds, rows = time_read(path, args.repeat)
            size = path.stat().st_size / 1e6
            print(f"{label:8} {rows:>9,} rows  {size:6.1f} MB  {seconds:6.3f} s  {rows / seconds:>12,.0f} rows/s")


if __name__ == "__main__":
    main()
