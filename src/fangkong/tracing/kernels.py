"""The contact engine's loops over the presence records, compiled (Numba).

A pass of numpy over a column costs a trip through memory; the loops here make one pass where numpy
would make a dozen, each record handled while it is in the processor's cache. Only loops that read
their arrays in order gain so: a loop that looks every record up in a table by person id was slower
than numpy's gathers, and stayed numpy (docs/benchmarks.md, sixth round). They release the
interpreter's lock, so that the engine's threads run them side by side, and are compiled once per
machine (``cache=True`` keeps the machine code beside this file, or in the user's cache when this
folder cannot be written).

Each takes plain numpy arrays, int64 but for marks (bool), and fills or returns int64 ones; ``engine``
says what they mean.
"""

from __future__ import annotations

import numpy as np
from numba import njit

Ints = np.ndarray


@njit(nogil=True, cache=True)
def pick_searched(person: Ints, place_id: Ints, t_in: Ints, t_out: Ints, dense: Ints, close_need: Ints,
                  shift: int, origin: int, out_person: Ints, out_key: Ints, out_t_out: Ints) -> int:
    """Check a partition's records and pick out those the second hop searches; how many, or -1.

    Every record must be at a place that counts (``dense[place_id]``, the place's dense index, not -1),
    of some length, and in order of its key ``(dense << shift) | (t_in - origin)``; else -1, and the
    outputs mean nothing. The records whose stay is at least ``close_need`` of their place go, in
    order, to the first places of ``out_person``, ``out_key`` and ``out_t_out`` (each as long as the
    partition).
    """
    picked = 0
    last = -1
    places = len(dense)
    for i in range(len(person)):
        place = place_id[i]
        if place < 0 or place >= places:
            return -1
        index = dense[place]
        if index < 0:
            return -1
        stay = t_out[i] - t_in[i]
        if stay <= 0:
            return -1
        key = (index << shift) + (t_in[i] - origin)
        if key < last:
            return -1
        last = key
        if stay >= close_need[index]:
            out_person[picked] = person[i]
            out_key[picked] = key
            out_t_out[picked] = t_out[i]
            picked += 1
    return picked


@njit(nogil=True, cache=True)
def best_sources(s_key: Ints, s_out: Ints, rank: Ints, t_key: Ints, t_out: Ints, t_need: Ints, shift: int,
                 origin: int, first: Ints, until: Ints, chosen: Ints) -> None:
    """For each target record, the best source record overlapping it at least ``t_need`` at its place.

    Both sides are keyed ``(place << shift) | (t_in - origin)`` and sorted by key; a source record also has
    its time out and its source's rank. The best source is the one already there when the target came in
    (a key no greater) that stayed the latest, at least the minimum past that moment; else the next to
    come in, at least the minimum before the target left (every source record is the minimum long).
    Ties go to the latest time out, then the smallest rank. For target ``k``: ``first[k]`` is when the
    overlap begins, ``until[k]`` when the source left, ``chosen[k]`` the source's rank, or -1 (and the
    others mean nothing) when no source overlaps it so.

    One pass over both sides: a running maximum of time out at the target's place, reset at each place,
    and for the sources that come in together, their best, worked out beforehand.
    """
    sources = len(s_key)
    mask = (1 << shift) - 1
    # The best of each run of sources with the same key (place and time in), kept at the run's start.
    group_out = np.empty(sources, dtype=np.int64)
    group_rank = np.empty(sources, dtype=np.int64)
    end = sources
    while end > 0:
        start = end - 1
        best_out, best_rank = s_out[start], rank[start]
        while start > 0 and s_key[start - 1] == s_key[end - 1]:
            start -= 1
            if s_out[start] > best_out or (s_out[start] == best_out and rank[start] < best_rank):
                best_out, best_rank = s_out[start], rank[start]
        group_out[start], group_rank[start] = best_out, best_rank
        end = start
    at = 0  # the first source not come in yet
    place = -1
    latest, latest_rank = -1, -1  # the latest time out at ``place`` so far, and its source
    for k in range(len(t_key)):
        key = t_key[k]
        if key >> shift != place:
            place = key >> shift
            latest, latest_rank = -1, -1
        while at < sources and s_key[at] <= key:
            if s_key[at] >> shift == place and (
                    s_out[at] > latest or (s_out[at] == latest and rank[at] < latest_rank)):
                latest, latest_rank = s_out[at], rank[at]
            at += 1
        t_in = (key & mask) + origin
        if latest_rank >= 0 and latest >= t_in + t_need[k]:
            first[k], until[k], chosen[k] = t_in, latest, latest_rank
        elif at < sources and s_key[at] >> shift == place and (s_key[at] & mask) + origin <= t_out[k] - t_need[k]:
            first[k], until[k], chosen[k] = (s_key[at] & mask) + origin, group_out[at], group_rank[at]
        else:
            chosen[k] = -1


@njit(nogil=True, cache=True)
def case_pairs(lo: Ints, hi: Ints, start: Ints, end: Ints, need: Ints, t_in: Ints, t_out: Ints,
               is_case: np.ndarray) -> tuple[Ints, Ints, Ints, Ints]:
    """The pairs of the first hop: for each case record ``k`` clipped to [``start[k]``, ``end[k]``), the
    records ``j`` in [``lo[k]``, ``hi[k]``) of persons not cases (``is_case`` by record) that overlap it
    at least ``need[k]``; as (k, j, when the overlap begins, when it ends), in the order of ``k``, then
    ``j``. Counted first, then written, so that nothing is held for the candidates that fail.
    """
    count = 0
    for k in range(len(lo)):
        for j in range(lo[k], hi[k]):
            if min(t_out[j], end[k]) - max(t_in[j], start[k]) >= need[k] and not is_case[j]:
                count += 1
    owner = np.empty(count, dtype=np.int64)
    other = np.empty(count, dtype=np.int64)
    first = np.empty(count, dtype=np.int64)
    last = np.empty(count, dtype=np.int64)
    at = 0
    for k in range(len(lo)):
        for j in range(lo[k], hi[k]):
            came, left = max(t_in[j], start[k]), min(t_out[j], end[k])
            if left - came >= need[k] and not is_case[j]:
                owner[at], other[at], first[at], last[at] = k, j, came, left
                at += 1
    return owner, other, first, last
