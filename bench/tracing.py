"""Trace the contacts of 1,000 cases through the full synthetic city, against a plain scan of its presence.

    python bench/tracing.py --data var/synth/tonghua-full        # reuse a dataset (written if missing)

Writes the city first when ``--data`` holds no dataset (``synth.dataset.write_dataset``: 1,812,114
persons, 14 days, seed 1, about 70 s). Then, in one process:

- the busiest place and the busiest market, with their check-ins: the heavy tail the engine must hold;
- a plain DuckDB scan reading all four presence columns with integer times
  (``max(epoch_us(t_out) - epoch_us(t_in))``, the baseline of the ratio), and once as literally
  specified (``max(t_out - t_in)``, whose interval arithmetic alone costs DuckDB several times the
  reading);
- ``tracing.engine.trace`` of 1,000 cases: the true infections of the ground truth, reported a day
  after onset (five days after infection when without symptoms) and isolated 12 hours later, filled
  up with random residents who are not infected, reported at a random moment of days 3–14 the same
  way; contacts are given no isolation, so every close contact's own window runs to the end of the
  data (the largest second hop);
- the scan and the trace alternate, ``--repeat`` pairs: this machine's speed drifts by a quarter
  within minutes, and a scan timed seconds before its trace sees the same machine. Both ratios are
  printed: the median of the pairs' ratios, and the fastest trace over the fastest scan;
- the peak resident memory of the process, and the contacts of each kind;
- against the ground truth: of the true infections reported on a day, the share that were already
  contacts (of each kind) of the true cases reported before that day began, traced with the presence
  data up to then. The index case and the infections reported on the first day of reports have no
  earlier cases and are left out of the share.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.parquet as pq

from fangkong import rulesets
from fangkong.synth.dataset import MANIFEST, read_manifest, write_dataset
from fangkong.tracing.engine import CaseInput, ContactKind, Source, trace

REPORT_AFTER_ONSET = timedelta(days=1)
REPORT_AFTER_INFECTION = timedelta(days=5)  # found by screening, without symptoms
ISOLATED_AFTER_REPORT = timedelta(hours=12)


def main() -> None:
    """Write or reuse the city, time the scan and the trace, score the trace against the ground truth."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("var/synth/tonghua-full"))
    parser.add_argument("--population", type=int, default=1_812_114, help="when writing the city")
    parser.add_argument("--days", type=int, default=14, help="when writing the city")
    parser.add_argument("--seed", type=int, default=1, help="of the city, and of the cases filled up")
    parser.add_argument("--cases", type=int, default=1_000)
    parser.add_argument("--ruleset", default="protocol-8")
    parser.add_argument("--repeat", type=int, default=3, help="pairs of a scan and a trace")
    parser.add_argument("--no-literal-scan", action="store_true", help="skip the slow interval-arithmetic scan")
    parser.add_argument("--write-cases", type=Path, metavar="CSV",
                        help="only write the cases as a CSV for `fangkong trace --cases`, and stop")
    args = parser.parse_args()
    rules = rulesets.load(args.ruleset).tracing

    if not (args.data / MANIFEST).is_file():
        print(f"writing the city into {args.data} …", flush=True)
        begin = time.perf_counter()
        write_dataset(args.data, scenario="tonghua-2021", population=args.population, days=args.days, seed=args.seed)
        print(f"  written in {time.perf_counter() - begin:.1f} s")
    manifest = read_manifest(args.data)
    if args.write_cases:
        write_cases(args.write_cases, pick_cases(args.data, args.cases, args.seed)[0])
        return
    presence = f"{args.data}/presence/*/*.parquet"
    print(f"machine: {os.cpu_count()} cores, {_memory_gib():.1f} GiB; load average at start "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"dataset: {args.data}: {manifest.rows['persons']:,} persons, {manifest.rows['presence']:,} presence "
          f"records over {manifest.days} days from {manifest.start}, {manifest.rows['infections']:,} infections")

    con = duckdb.connect()
    busiest = con.execute(f"""
        select p.place_id, any_value(l.category), any_value(l.name), count(*) as n
        from read_parquet('{presence}') p join read_parquet('{args.data}/places.parquet') l using (place_id)
        group by p.place_id order by n desc limit 1""").fetchone()
    market = con.execute(f"""
        select p.place_id, any_value(l.name), count(*) as n
        from read_parquet('{presence}') p join read_parquet('{args.data}/places.parquet') l using (place_id)
        where l.category = 'market' group by p.place_id order by n desc limit 1""").fetchone()
    assert busiest is not None and market is not None
    print(f"busiest place: {busiest[1]} {busiest[2]} (#{busiest[0]}), {busiest[3]:,} check-ins in {manifest.days} "
          f"days; busiest market: {market[1]} (#{market[0]}), {market[2]:,} check-ins")

    if not args.no_literal_scan:
        literal = _timed(lambda: con.execute(
            f"select count(*), sum(person_id), sum(place_id), max(t_out - t_in) "
            f"from read_parquet('{presence}')").fetchall())
        print(f"plain scan, 4 columns, as specified (max(t_out - t_in), interval arithmetic): {literal:.2f} s")

    cases, true_cases = pick_cases(args.data, args.cases, args.seed)
    print(f"cases: {len(cases):,} ({len(true_cases):,} true infections, {len(cases) - len(true_cases):,} random "
          f"residents); rule set {args.ruleset}: look back {rules.lookback_days} days, close minutes "
          f"{dict(rules.close_contact_minutes)}, exposed {', '.join(rules.exposed_categories)}")
    source = Source.from_dataset(args.data)
    scans: list[float] = []
    runs: list[float] = []
    result = None
    for _ in range(args.repeat):
        result = None  # the last trace's result is let go, untimed, before the next pair
        scans.append(_timed(lambda: con.execute(
            f"select count(*), sum(person_id), sum(place_id), max(epoch_us(t_out) - epoch_us(t_in)) "
            f"from read_parquet('{presence}')").fetchall()))
        begin = time.perf_counter()
        result = trace(source, cases, rules)
        runs.append(time.perf_counter() - begin)
    con.close()
    assert result is not None
    scan, best = min(scans), min(runs)
    ratios = [t / s for s, t in zip(scans, runs, strict=True)]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"plain scan, 4 columns, integer times: {scan:.2f} s (runs: {_runs(scans)})")
    print(f"trace: {best:.2f} s (runs: {_runs(runs)})")
    print(f"trace / plain scan: {statistics.median(ratios):.1f}x, the median of the pairs "
          f"({', '.join(f'{r:.1f}' for r in ratios)}); {best / scan:.1f}x, fastest over fastest")
    print(f"peak resident memory of the process: {peak:,.0f} MiB")
    counts = result.counts
    print(f"contacts: {counts[ContactKind.CLOSE]:,} close, {counts[ContactKind.SECONDARY]:,} secondary, "
          f"{counts[ContactKind.EXPOSED]:,} exposed; {result.exposures.num_rows:,} evidence rows; "
          f"{result.rows_read:,} presence records read over {len(result.days_read)} days; missing days: "
          f"{', '.join(d.isoformat() for d in result.missing_days) or 'none'}")
    del result
    score(args.data, true_cases, rules)


def pick_cases(folder: Path, wanted: int, seed: int) -> tuple[list[CaseInput], list[CaseInput]]:
    """(all the cases, the true ones): the ground truth's infections, then random residents up to ``wanted``."""
    infections = pq.read_table(folder / "infections.parquet").to_pylist()
    true_cases = []
    for row in infections[:wanted]:
        onset = row["onset_at"]
        reported = onset + REPORT_AFTER_ONSET if onset else row["infected_at"] + REPORT_AFTER_INFECTION
        true_cases.append(CaseInput(row["infectee_id"], onset, reported, reported + ISOLATED_AFTER_REPORT))
    infected = {row["infectee_id"] for row in infections}
    persons = pq.read_table(folder / "persons.parquet", columns=["person_id"])["person_id"].to_numpy()
    rng = np.random.default_rng(seed)
    start = datetime.combine(read_manifest(folder).start, datetime.min.time(), UTC)
    span = timedelta(days=read_manifest(folder).days)
    filled: list[CaseInput] = []
    for person in rng.permutation(persons):
        if len(true_cases) + len(filled) >= wanted:
            break
        if int(person) in infected:
            continue
        reported = start + timedelta(days=2) + (span - timedelta(days=2)) * float(rng.random())
        filled.append(CaseInput(int(person), None, reported, reported + ISOLATED_AFTER_REPORT))
    return true_cases + filled, true_cases


def write_cases(path: Path, cases: list[CaseInput]) -> None:
    """The cases in the CSV format of ``fangkong trace --cases`` (times to the second)."""

    def iso(moment: datetime | None) -> str:
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else ""

    lines = ["person_id,onset_at,sampled_at,isolated_at"]
    lines += [f"{c.person_id},{iso(c.onset_at)},{iso(c.sampled_at)},{iso(c.isolated_at)}" for c in cases]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(cases):,} cases to {path}")


def score(folder: Path, true_cases: list[CaseInput], rules: rulesets.TracingRules) -> None:
    """The share of true infections that were already contacts of the cases reported before their day."""
    manifest = read_manifest(folder)
    by_day: dict[date, list[CaseInput]] = {}
    for case in true_cases:
        by_day.setdefault(case.sampled_at.date(), []).append(case)
    report_days = sorted(by_day)
    found = {kind: 0 for kind in ContactKind}
    scored = 0
    begin = time.perf_counter()
    for day in report_days[1:]:
        earlier = [c for d in report_days if d < day for c in by_day[d]]
        days = tuple(d for d in manifest.presence_days if d < day)
        if not days:
            continue
        source = Source.from_dataset(folder)
        result = trace(Source(source.presence, source.persons, source.places, days), earlier, rules)
        kinds = dict(zip(result.contacts["person_id"].to_pylist(), result.contacts["kind"].to_pylist(), strict=True))
        for case in by_day[day]:
            scored += 1
            kind = kinds.get(case.person_id)
            if kind is not None:
                found[ContactKind(kind)] += 1
    listed = sum(found.values())
    print(f"ground truth: {scored} true infections reported on days {report_days[1]}–{report_days[-1]} after the "
          f"first reports ({len(by_day[report_days[0]])} on {report_days[0]}); "
          f"{listed} ({listed / max(scored, 1):.0%}) were already contacts of the cases reported before their day "
          f"(close {found[ContactKind.CLOSE]}, secondary {found[ContactKind.SECONDARY]}, exposed "
          f"{found[ContactKind.EXPOSED]}); {len(report_days) - 1} traces in {time.perf_counter() - begin:.0f} s")
    close_share = found[ContactKind.CLOSE] / max(scored, 1)
    print(f"  as close contacts alone: {close_share:.0%}")


def _timed(work: Callable[[], object]) -> float:
    begin = time.perf_counter()
    work()
    return time.perf_counter() - begin


def _runs(seconds: list[float]) -> str:
    return ", ".join(f"{s:.2f}" for s in seconds)


def _memory_gib() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30


if __name__ == "__main__":
    main()

