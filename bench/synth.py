"""Generate the synthetic city and its outbreak to Parquet, and print what it cost.

    python bench/synth.py --population 1812114 --days 14 --out var/synth/tonghua-full

Prints the wall time of the whole write (city, presence, outbreak, Parquet files and manifest),
persons per second, presence rows per second, and the process's peak resident memory. Loading the
dataset into a database is measured by ``bench/synth_load.py``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import time
from pathlib import Path

from fangkong.synth.dataset import write_dataset


def main() -> None:
    """Write one dataset and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default="tonghua-2021")
    parser.add_argument("--population", type=int, default=1_812_114)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True, help="where to write (replaced if it holds a dataset)")
    args = parser.parse_args()
    if args.out.exists() and (args.out / "manifest.json").exists():
        shutil.rmtree(args.out)
    begin = time.perf_counter()
    manifest = write_dataset(args.out, scenario=args.scenario, population=args.population, days=args.days,
                             seed=args.seed)
    seconds = time.perf_counter() - begin
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # ru_maxrss is in KiB on Linux
    presence = manifest.rows["presence"]
    persons = manifest.rows["persons"]
    size_mib = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file()) / 2**20
    print(f"machine: {os.cpu_count()} cores; scenario {args.scenario}, seed {args.seed}, {args.days} days")
    print(f"persons: {persons:,}   presence rows: {presence:,}   infections: {manifest.rows['infections']:,}")
    print(f"write, end to end: {seconds:.1f} s   ({persons / seconds:,.0f} persons/s, "
          f"{presence / seconds:,.0f} presence rows/s)")
    print(f"peak resident memory: {peak_mib:,.0f} MiB   dataset on disk: {size_mib:,.0f} MiB")


if __name__ == "__main__":
    main()
