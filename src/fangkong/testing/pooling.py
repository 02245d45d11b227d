"""Pool planner for pooled sampling (混采): Dorfman two-stage testing against the entropy lower bound.

In Dorfman testing the swabs of ``k`` persons go into one tube (a pool); a negative pool clears all
``k``, a positive pool calls each member back for a single tube (单管复核). The planner compares the
allowed pool sizes for a prevalence estimate, a population and a lab capacity, and sets beside them
the binary entropy H(p), the fewest tests per person that any scheme of yes/no tests could need on
average.

A test of imperfect sensitivity ``s`` detects a positive pool, or a positive single tube, with
probability ``s``, independently at each stage; there is no dilution model beyond that and no false
positives. Figures assume whole pools: a leftover pool smaller than ``k`` changes a total by about
one pool's worth of tests, which does not matter at the scale of a district.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import numpy.typing as npt

# Two sizes whose tests per person differ by less than this are a tie, so that rounding in the last
# bit does not decide between pool sizes that are equal on paper.
_TIE_TOLERANCE = 1e-12


@dataclass(frozen=True)
class PoolOption:
    """What one pool size costs and finds for the whole population."""

    pool_size: int
    tests_per_person: float
    tests: float  # expected total tests for the population
    hours: float  # tests / lab capacity
    share_found: float  # expected share of infected persons detected


@dataclass(frozen=True)
class PoolPlan:
    """The options for each allowed pool size, the recommended one and the entropy lower bound."""

    prevalence: float
    population: int
    capacity_per_hour: float
    sensitivity: float
    options: tuple[PoolOption, ...]  # one per allowed size, ascending size
    recommended: PoolOption
    lower_bound_per_person: float  # binary entropy H(p)
    lower_bound_tests: float
    lower_bound_hours: float


def dorfman_tests_per_person(prevalence: float, pool_size: int, sensitivity: float = 1.0) -> float:
    """Expected tests per person of Dorfman testing: 1/k + s·(1 − (1 − p)^k), or 1 for single tubes."""
    _check_prevalence(prevalence)
    _check_pool_size(pool_size)
    _check_sensitivity(sensitivity)
    if pool_size == 1:
        return 1.0
    # A pool is positive when any member is infected and the test sees it; then all k are retested.
    return 1.0 / pool_size + sensitivity * (1.0 - (1.0 - prevalence) ** pool_size)


def share_found(pool_size: int, sensitivity: float = 1.0) -> float:
    """Expected share of infected persons detected: s for single tubes, s² when a pool must be seen first."""
    _check_pool_size(pool_size)
    _check_sensitivity(sensitivity)
    return sensitivity if pool_size == 1 else sensitivity * sensitivity


def binary_entropy(p: float) -> float:
    """Binary entropy H(p) = −p·log2 p − (1 − p)·log2(1 − p), in bits; 0 at p = 0 and p = 1."""
    if isinstance(p, bool) or not isinstance(p, Real) or not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be a number between 0 and 1, got {p!r}")
    if p in (0.0, 1.0):
        return 0.0
    return -p * math.log2(p) - (1.0 - p) * math.log2(1.0 - p)


def optimal_pool_size(prevalence: float, max_size: int = 100, sensitivity: float = 1.0) -> int:
    """The pool size in 1..max_size with the fewest expected tests per person, the smaller one on a tie."""
    _check_pool_size(max_size, name="max_size")
    return _cheapest(prevalence, range(1, max_size + 1), sensitivity)[0]


def plan(
    prevalence: float,
    population: int,
    capacity_per_hour: float,
    allowed_sizes: Iterable[int],
    sensitivity: float = 1.0,
) -> PoolPlan:
    """Compare the allowed pool sizes for a round and recommend the one needing the fewest tests.

    The recommendation looks at tests only; with sensitivity below 1 pooling also finds fewer of the
    infected (s² instead of s), which each option reports in ``share_found`` for the reader to weigh.
    """
    _check_prevalence(prevalence)
    _check_sensitivity(sensitivity)
    if isinstance(population, bool) or not isinstance(population, Integral) or population < 0:
        raise ValueError(f"population must be a whole number of persons, 0 or more, got {population!r}")
    if (
        isinstance(capacity_per_hour, bool)
        or not isinstance(capacity_per_hour, Real)
        or not math.isfinite(capacity_per_hour)
        or capacity_per_hour <= 0
    ):
        raise ValueError(f"capacity_per_hour must be a finite number above 0, got {capacity_per_hour!r}")
    given = list(allowed_sizes)
    if not given:
        raise ValueError("allowed_sizes must name at least one pool size")
    for size in given:
        _check_pool_size(size, name="each allowed pool size")
    sizes = sorted({int(size) for size in given})

    population = int(population)
    capacity = float(capacity_per_hour)
    options = tuple(_option(prevalence, population, capacity, size, sensitivity) for size in sizes)
    best_size = _cheapest(prevalence, sizes, sensitivity)[0]
    bound = binary_entropy(prevalence)
    return PoolPlan(
        prevalence=prevalence,
        population=population,
        capacity_per_hour=capacity,
        sensitivity=sensitivity,
        options=options,
        recommended=next(option for option in options if option.pool_size == best_size),
        lower_bound_per_person=bound,
        lower_bound_tests=bound * population,
        lower_bound_hours=bound * population / capacity,
    )


def simulate_dorfman(
    infected: npt.NDArray[np.bool_],
    pool_size: int,
    rng: np.random.Generator,
    sensitivity: float = 1.0,
) -> tuple[int, int]:
    """Run Dorfman testing on an actual population (pools formed in a random order): (tests used, infected found)."""
    _check_pool_size(pool_size)
    _check_sensitivity(sensitivity)
    status = np.asarray(infected)
    if status.dtype != np.bool_ or status.ndim != 1:
        raise ValueError("infected must be a one-dimensional array of booleans, one per person")
    # Pools are formed in the order people queue, not by household: shuffle so that the formula's
    # assumption of independent members holds whatever order the array came in.
    shuffled = rng.permutation(status)
    whole = shuffled.size // pool_size * pool_size
    tests, found = _run_pools(shuffled[:whole].reshape(-1, pool_size), rng, sensitivity)
    if whole < shuffled.size:
        # The last few persons make one smaller pool rather than waiting for the next queue.
        extra_tests, extra_found = _run_pools(shuffled[whole:].reshape(1, -1), rng, sensitivity)
        tests, found = tests + extra_tests, found + extra_found
    return tests, found


def _run_pools(pools: npt.NDArray[np.bool_], rng: np.random.Generator, sensitivity: float) -> tuple[int, int]:
    """Test each row as one pool and retest the members of the pools seen positive."""
    count, size = pools.shape
    infected_per_pool = pools.sum(axis=1)
    if size == 1:
        # A single tube is its own result: no second stage, so one chance at detection.
        return count, int(rng.binomial(infected_per_pool, sensitivity).sum())
    seen = (infected_per_pool > 0) & (rng.random(count) < sensitivity)
    # Each infected member of a seen pool is detected by its single tube independently of the pool.
    found = int(rng.binomial(infected_per_pool[seen], sensitivity).sum())
    return count + size * int(seen.sum()), found


def _option(prevalence: float, population: int, capacity: float, size: int, sensitivity: float) -> PoolOption:
    per_person = dorfman_tests_per_person(prevalence, size, sensitivity)
    tests = per_person * population
    return PoolOption(
        pool_size=size,
        tests_per_person=per_person,
        tests=tests,
        hours=tests / capacity,
        share_found=share_found(size, sensitivity),
    )


def _cheapest(prevalence: float, sizes: Iterable[int], sensitivity: float) -> tuple[int, float]:
    """The (size, tests per person) with the fewest tests; ties go to the smaller pool (fewer re-samplings)."""
    best: tuple[int, float] | None = None
    for size in sorted(sizes):
        cost = dorfman_tests_per_person(prevalence, size, sensitivity)
        # Strictly better by more than the tolerance, so an earlier (smaller) size keeps a tie.
        if best is None or cost < best[1] - _TIE_TOLERANCE:
            best = (size, cost)
    if best is None:
        raise ValueError("at least one pool size is needed")
    return best


def _check_prevalence(prevalence: float) -> None:
    if isinstance(prevalence, bool) or not isinstance(prevalence, Real) or not 0.0 <= prevalence < 1.0:
        raise ValueError(f"prevalence must be a number from 0 up to but not including 1, got {prevalence!r}")


def _check_sensitivity(sensitivity: float) -> None:
    if isinstance(sensitivity, bool) or not isinstance(sensitivity, Real) or not 0.0 < sensitivity <= 1.0:
        raise ValueError(f"sensitivity must be a number above 0 and at most 1, got {sensitivity!r}")


def _check_pool_size(size: int, name: str = "pool_size") -> None:
    if isinstance(size, bool) or not isinstance(size, Integral) or size < 1:
        raise ValueError(f"{name} must be a whole number of 1 or more, got {size!r}")
