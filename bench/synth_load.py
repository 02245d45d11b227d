"""Load a synthetic dataset into an empty database and print the rows per second of each table.

    python bench/synth_load.py DATASET_DIR                       # a temporary SQLite file
    python bench/synth_load.py DATASET_DIR --database URL        # an empty database, e.g. PostgreSQL

DATASET_DIR is what ``fangkong synth --out DIR`` wrote. The database is migrated first; presence goes
to a temporary data directory. A table's time runs from its first progress report to the next
table's, so it includes building the table's indexes (and the last one's, adding the demo
logins and placing presence).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from fangkong.core.db import describe_url, make_engine
from fangkong.core.migrate import upgrade
from fangkong.synth.load import load_dataset


def main() -> None:
    """Run the load once and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--database", help="URL of an empty database (default: a temporary SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        engine = make_engine(url)
        started: dict[str, tuple[float, int]] = {}

        def progress(stage: str, done: int, total: int) -> None:
            started.setdefault(stage, (time.perf_counter(), total))

        begin = time.perf_counter()
        counts = load_dataset(engine, args.dataset, data_dir=Path(tmp) / "data", progress=progress)
        end = time.perf_counter()
        engine.dispose()
    print(f"load of {args.dataset} into {describe_url(url)}: {end - begin:.1f} s")
    stages = list(started)
    for i, stage in enumerate(stages):
        t0, total = started[stage]
        t1 = started[stages[i + 1]][0] if i + 1 < len(stages) else end
        rate = f"{total / (t1 - t0):>10,.0f} rows/s" if stage in counts else ""
        print(f"  {stage:<14} {total:>10,} {t1 - t0:7.2f} s {rate}")


if __name__ == "__main__":
    main()
