"""The pool planner: Dorfman figures, the entropy bound, the recommendation and a simulated lab."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fangkong.testing import pooling

# Below this prevalence some pool size of 2..20 beats single tubes; at and above it none does.
# Pooling k is worse than single tubes when 1/k + 1 - (1-p)^k > 1, i.e. p > 1 - k^(-1/k); k = 3 is
# the last size to give up.
K3_CROSSOVER = 1 - 3 ** (-1 / 3)  # 0.30664


def test_ten_in_one_pools_at_one_percent_need_about_a_fifth_of_a_test_per_person() -> None:
    assert pooling.dorfman_tests_per_person(0.01, 10) == pytest.approx(0.1 + 1 - 0.99**10)
    assert pooling.dorfman_tests_per_person(0.01, 10) == pytest.approx(0.19562, abs=5e-6)


@pytest.mark.parametrize("prevalence", [0.0, 0.01, 0.5, 0.99])
def test_single_tubes_need_one_test_per_person(prevalence: float) -> None:
    assert pooling.dorfman_tests_per_person(prevalence, 1) == 1.0


@pytest.mark.parametrize("size", [2, 5, 10, 20])
def test_with_no_infection_only_the_pools_are_tested(size: int) -> None:
    assert pooling.dorfman_tests_per_person(0.0, size) == pytest.approx(1 / size)


def test_the_classic_optimal_pool_sizes_are_11_at_one_percent_and_5_at_five_percent() -> None:
    assert pooling.optimal_pool_size(0.01) == 11
    assert pooling.optimal_pool_size(0.05) == 5
    # 11 wins over 10 by less than 1e-4 tests per person: check the neighbours themselves too.
    cost = {k: pooling.dorfman_tests_per_person(0.01, k) for k in (10, 11, 12)}
    assert cost[11] < cost[10] < cost[12]


def test_with_no_infection_the_largest_pool_is_optimal() -> None:
    assert pooling.optimal_pool_size(0.0, max_size=30) == 30


@pytest.mark.parametrize(("prevalence", "recommended"), [(0.001, 10), (0.05, 5), (0.35, 1)])
def test_it_recommends_the_cheapest_of_1_5_and_10(prevalence: float, recommended: int) -> None:
    result = pooling.plan(prevalence, 100_000, 2_000, (1, 5, 10))
    assert result.recommended.pool_size == recommended
    assert result.recommended.tests_per_person == min(option.tests_per_person for option in result.options)


def test_pooling_loses_to_single_tubes_for_every_size_above_the_size_3_crossover() -> None:
    crossovers = {k: _crossover(k) for k in range(2, 21)}
    for k, p in crossovers.items():
        assert p == pytest.approx(1 - k ** (-1 / k), abs=1e-9), k
    assert max(crossovers, key=crossovers.__getitem__) == 3
    assert crossovers[3] == pytest.approx(K3_CROSSOVER, abs=1e-9)
    assert all(pooling.dorfman_tests_per_person(K3_CROSSOVER + 1e-6, k) > 1 for k in range(2, 21))
    assert pooling.dorfman_tests_per_person(K3_CROSSOVER - 1e-6, 3) < 1
    assert pooling.optimal_pool_size(K3_CROSSOVER + 1e-6) == 1


def test_ties_go_to_the_smaller_pool() -> None:
    # At p = 1 - 1/√2 pools of 2 and of 4 both cost exactly one test per person, as single tubes do.
    p = 1 - 2**-0.5
    assert pooling.dorfman_tests_per_person(p, 2) == pytest.approx(1, abs=1e-12)
    assert pooling.dorfman_tests_per_person(p, 4) == pytest.approx(1, abs=1e-12)
    assert pooling.plan(p, 1_000, 100, (4, 2, 1)).recommended.pool_size == 1
    assert pooling.plan(p, 1_000, 100, (4, 2)).recommended.pool_size == 2


def test_options_come_one_per_allowed_size_in_ascending_order() -> None:
    result = pooling.plan(0.01, 10_000, 500, [20, 5, 1, 10, 5])
    assert [option.pool_size for option in result.options] == [1, 5, 10, 20]


@given(
    prevalence=st.floats(min_value=0.0, max_value=0.5, exclude_min=True, exclude_max=True),
    size=st.integers(min_value=1, max_value=200),
)
def test_the_entropy_bound_is_never_above_dorfman(prevalence: float, size: int) -> None:
    assert pooling.binary_entropy(prevalence) <= pooling.dorfman_tests_per_person(prevalence, size)


def test_entropy_is_one_bit_at_one_half_and_none_at_the_ends() -> None:
    assert pooling.binary_entropy(0.5) == 1.0
    assert pooling.binary_entropy(0.0) == 0.0
    assert pooling.binary_entropy(1.0) == 0.0
    # A textbook value: H(0.11) is just under half a bit.
    assert pooling.binary_entropy(0.11) == pytest.approx(0.49992, abs=1e-5)


@given(st.floats(min_value=0.0, max_value=1.0))
def test_entropy_is_symmetric(p: float) -> None:
    assert pooling.binary_entropy(p) == pytest.approx(pooling.binary_entropy(1 - p), abs=1e-12)


def test_the_plan_reports_the_entropy_bound_for_the_population() -> None:
    result = pooling.plan(0.05, 100_000, 2_000, (1, 5, 10))
    assert result.lower_bound_per_person == pytest.approx(pooling.binary_entropy(0.05))
    assert result.lower_bound_tests == pytest.approx(100_000 * pooling.binary_entropy(0.05))
    assert result.lower_bound_hours == pytest.approx(result.lower_bound_tests / 2_000)
    assert result.lower_bound_tests < result.recommended.tests


@given(
    prevalence=st.floats(min_value=0.0, max_value=0.9),
    population=st.integers(min_value=0, max_value=20_000_000),
    capacity=st.floats(min_value=1.0, max_value=1e6),
    sensitivity=st.floats(min_value=0.5, max_value=1.0),
)
def test_hours_are_tests_over_capacity(prevalence: float, population: int, capacity: float, sensitivity: float) -> None:
    result = pooling.plan(prevalence, population, capacity, (1, 5, 10, 20), sensitivity)
    for option in result.options:
        assert option.tests == pytest.approx(option.tests_per_person * population)
        assert option.hours == pytest.approx(option.tests / capacity)


@given(
    prevalence=st.floats(min_value=0.0, max_value=0.9),
    population=st.integers(min_value=1, max_value=1_000_000),
    factor=st.integers(min_value=2, max_value=50),
)
def test_totals_scale_with_the_population(prevalence: float, population: int, factor: int) -> None:
    small = pooling.plan(prevalence, population, 1_000, (1, 5, 10))
    large = pooling.plan(prevalence, population * factor, 1_000, (1, 5, 10))
    for a, b in zip(small.options, large.options, strict=True):
        assert b.tests == pytest.approx(a.tests * factor)
        assert b.hours == pytest.approx(a.hours * factor)
    assert large.lower_bound_tests == pytest.approx(small.lower_bound_tests * factor)
    assert large.recommended.pool_size == small.recommended.pool_size


def test_a_nine_in_ten_test_retests_fewer_pools_and_finds_fewer_infected() -> None:
    assert pooling.dorfman_tests_per_person(0.01, 10, 0.9) == pytest.approx(0.1 + 0.9 * (1 - 0.99**10))
    assert pooling.dorfman_tests_per_person(0.01, 1, 0.9) == 1.0
    result = pooling.plan(0.01, 10_000, 500, (1, 10), sensitivity=0.9)
    found = {option.pool_size: option.share_found for option in result.options}
    assert found == {1: pytest.approx(0.9), 10: pytest.approx(0.81)}


@pytest.mark.parametrize("prevalence", [0.002, 0.01, 0.05])
@pytest.mark.parametrize("size", [5, 10, 20])
def test_a_simulated_round_uses_the_tests_the_formula_expects(prevalence: float, size: int) -> None:
    rng = np.random.default_rng(20220401 + size * 1000 + round(prevalence * 1000))
    infected = rng.random(1_000_000) < prevalence
    tests, found = pooling.simulate_dorfman(infected, size, rng)
    assert found == infected.sum()  # a perfect test misses no one
    expected, error = _tests_per_person_and_error(prevalence, size, 1.0, infected.size)
    assert abs(tests / infected.size - expected) < 4 * error


@pytest.mark.parametrize(("prevalence", "size"), [(0.002, 20), (0.01, 10), (0.05, 5), (0.05, 20)])
def test_a_simulated_round_with_a_nine_in_ten_test_matches_tests_and_share_found(prevalence: float, size: int) -> None:
    sensitivity = 0.9
    rng = np.random.default_rng(20220402 + size * 1000 + round(prevalence * 1000))
    infected = rng.random(1_000_000) < prevalence
    tests, found = pooling.simulate_dorfman(infected, size, rng, sensitivity)
    expected, error = _tests_per_person_and_error(prevalence, size, sensitivity, infected.size)
    assert abs(tests / infected.size - expected) < 4 * error
    share, share_error = _share_found_and_error(prevalence, size, sensitivity, infected.size)
    assert share == pooling.share_found(size, sensitivity)
    assert abs(found / infected.sum() - share) < 4 * share_error


def test_simulated_single_tubes_test_everyone_once_and_find_the_sensitivity_share() -> None:
    rng = np.random.default_rng(7)
    infected = rng.random(1_000_000) < 0.01
    tests, found = pooling.simulate_dorfman(infected, 1, rng, 0.9)
    assert tests == infected.size
    # Each infected person is found or not independently: a plain binomial error.
    error = math.sqrt(0.9 * 0.1 / infected.sum())
    assert abs(found / infected.sum() - 0.9) < 4 * error


@pytest.mark.parametrize(
    ("population", "size", "clear_tests", "all_infected_tests"),
    [
        (100, 10, 10, 10 + 100),
        (23, 10, 3, 3 + 23),  # a last pool of 3 is retested like the others
        (21, 10, 3, 3 + 20),  # a last "pool" of 1 is a single tube: nothing to retest
        (5, 1, 5, 5),
    ],
)
def test_a_simulated_round_counts_pools_and_retests_exactly(
    population: int, size: int, clear_tests: int, all_infected_tests: int
) -> None:
    rng = np.random.default_rng(1)
    nobody = np.zeros(population, dtype=bool)
    everybody = np.ones(population, dtype=bool)
    assert pooling.simulate_dorfman(nobody, size, rng) == (clear_tests, 0)
    assert pooling.simulate_dorfman(everybody, size, rng) == (all_infected_tests, population)
    assert not nobody.any() and everybody.all()  # the caller's array is left as it was


def test_pools_are_formed_in_a_random_order() -> None:
    # The 1,000 infected queue together; pooled in that order they would fill just 100 pools of 10.
    infected = np.zeros(100_000, dtype=bool)
    infected[:1_000] = True
    tests, _ = pooling.simulate_dorfman(infected, 10, np.random.default_rng(3))
    in_queue_order = 10_000 + 100 * 10
    assert tests > in_queue_order + 5_000


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"prevalence": -0.01}, "prevalence"),
        ({"prevalence": 1.0}, "prevalence"),
        ({"prevalence": float("nan")}, "prevalence"),
        ({"population": -1}, "population"),
        ({"population": 10.5}, "population"),
        ({"population": True}, "population"),
        ({"capacity_per_hour": 0}, "capacity_per_hour"),
        ({"capacity_per_hour": -5.0}, "capacity_per_hour"),
        ({"capacity_per_hour": float("inf")}, "capacity_per_hour"),
        ({"allowed_sizes": ()}, "allowed_sizes"),
        ({"allowed_sizes": (1, 0)}, "pool size"),
        ({"allowed_sizes": (1, 2.5)}, "pool size"),
        ({"sensitivity": 0.0}, "sensitivity"),
        ({"sensitivity": 1.1}, "sensitivity"),
    ],
)
def test_the_plan_rejects_invalid_inputs(changes: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {
        "prevalence": 0.01,
        "population": 10_000,
        "capacity_per_hour": 500.0,
        "allowed_sizes": (1, 5, 10),
        "sensitivity": 1.0,
    }
    with pytest.raises(ValueError, match=message):
        pooling.plan(**(arguments | changes))


def test_the_formulas_and_the_simulation_reject_invalid_inputs() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="pool_size"):
        pooling.dorfman_tests_per_person(0.01, 0)
    with pytest.raises(ValueError, match="sensitivity"):
        pooling.dorfman_tests_per_person(0.01, 10, 0.0)
    with pytest.raises(ValueError, match="max_size"):
        pooling.optimal_pool_size(0.01, max_size=0)
    with pytest.raises(ValueError, match="between 0 and 1"):
        pooling.binary_entropy(1.5)
    with pytest.raises(ValueError, match="booleans"):
        pooling.simulate_dorfman(np.zeros(10, dtype=int), 5, rng)
    with pytest.raises(ValueError, match="one-dimensional"):
        pooling.simulate_dorfman(np.zeros((2, 5), dtype=bool), 5, rng)
    with pytest.raises(ValueError, match="pool_size"):
        pooling.simulate_dorfman(np.zeros(10, dtype=bool), 0, rng)


def _crossover(size: int) -> float:
    """The prevalence at which pools of ``size`` cost one test per person, found by bisection."""
    low, high = 0.0, 0.99
    for _ in range(100):
        middle = (low + high) / 2
        if pooling.dorfman_tests_per_person(middle, size) < 1:
            low = middle
        else:
            high = middle
    return low


def _tests_per_person_and_error(
    prevalence: float, size: int, sensitivity: float, population: int
) -> tuple[float, float]:
    """The formula's tests per person and the standard error of a simulated round of ``population``."""
    # Pools, not persons, are the independent units: the k members of a pool share one first-stage
    # result and are retested together, so a per-person binomial error would be about √k too small.
    # Per pool, tests = 1 + k·B with B ~ Bernoulli(q), q = s·(1 - (1-p)^k); per person that is
    # 1/k + (share of pools retested), whose error over n pools is √(q(1 - q)/n).
    pools = population // size
    retested = sensitivity * (1 - (1 - prevalence) ** size)
    return pooling.dorfman_tests_per_person(prevalence, size, sensitivity), math.sqrt(retested * (1 - retested) / pools)


def _share_found_and_error(prevalence: float, size: int, sensitivity: float, population: int) -> tuple[float, float]:
    """The share of infected found in pools of ``size`` > 1 and its standard error over ``population``."""
    # The share is a ratio of sums over independent pools, found F over infected X, so its error
    # comes from the delta method: Var(F - s²X) / (n·E[X]²). With X ~ Binomial(k, p), the pool seen
    # with probability s and each of its X infected then found with probability s, working out
    # E[F²], E[FX] and E[X²] gives Var(F - s²X) = s²(1 - s)(E[X] + s·E[X²]).
    pools = population // size
    mean_x = size * prevalence
    mean_x2 = size * prevalence * (1 - prevalence) + mean_x**2
    variance = sensitivity**2 * (1 - sensitivity) * (mean_x + sensitivity * mean_x2)
    return sensitivity**2, math.sqrt(variance / pools) / mean_x
