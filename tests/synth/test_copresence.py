"""The (place, time) range join against a brute-force all-pairs check."""

from __future__ import annotations

import numpy as np

from fangkong.synth.copresence import co_present


def brute_force(place: np.ndarray, t_in: np.ndarray, t_out: np.ndarray, probe: np.ndarray, start: np.ndarray,
                end: np.ndarray) -> set[tuple[int, int]]:
    return {(i, row) for i, p in enumerate(probe) for row in range(len(place))
            if row != p and place[row] == place[p] and t_in[row] < end[i] and t_out[row] > start[i]}


def test_it_finds_exactly_the_overlapping_visits_at_the_same_place() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        n = int(rng.integers(1, 400))
        place = rng.integers(0, 6, n)
        t_in = rng.integers(0, 1_000, n)
        # Mostly short stays and a few long ones, so that the longest stay bounds the search.
        t_out = t_in + np.where(rng.random(n) < 0.1, rng.integers(1, 600, n), rng.integers(1, 40, n))
        order = np.lexsort((t_in, place))
        place, t_in, t_out = place[order], t_in[order], t_out[order]
        probe = rng.choice(n, size=min(n, 15), replace=False)
        # A probe's window lies within its own visit (an infectious period may start or end inside it).
        start = t_in[probe] + (rng.random(len(probe)) * (t_out[probe] - t_in[probe]) / 2).astype(np.int64)
        end = t_out[probe] - (rng.random(len(probe)) * (t_out[probe] - start) / 2).astype(np.int64)
        i, row = co_present(place, t_in, t_out, probe, start, end)
        assert set(zip(i.tolist(), row.tolist(), strict=True)) == brute_force(place, t_in, t_out, probe, start, end)
        assert len(set(zip(i.tolist(), row.tolist(), strict=True))) == len(i)


def test_touching_visits_do_not_overlap_and_an_empty_probe_finds_nothing() -> None:
    place = np.array([0, 0, 0, 1])
    t_in = np.array([0, 10, 20, 10])
    t_out = np.array([10, 20, 30, 20])
    # 0–10 and 20–30 touch 10–20 without overlapping; the fourth visit is at another place.
    assert all(len(a) == 0 for a in co_present(place, t_in, t_out, np.array([1]), np.array([10]), np.array([20])))
    none = np.zeros(0, np.int64)
    assert all(len(a) == 0 for a in co_present(place, t_in, t_out, none, none, none))
