"""Co-presence: who was at the same place at the same time as a few given visits, without an all-pairs join.

The day's presence is sorted by (place, t_in). For a probe visit [a, b) at place p, everyone who
overlaps it arrived at p before b and, since no stay at p lasts longer than the longest stay at p
that day, after a - longest. Those rows are one contiguous range of the sorted table, found by
two binary searches on a (place, t_in) key; only that range is expanded and filtered to the exact
overlap. A probe at the big market thus touches the visits of a few hours at that market, not the
whole city and not the market's whole day.
"""

from __future__ import annotations

import numpy as np

from fangkong.synth.population import Array


def co_present(place: Array, t_in: Array, t_out: Array, probe: Array, start: Array, end: Array
               ) -> tuple[Array, Array]:
    """Pairs (i, row): probe ``i`` (row ``probe[i]`` seen over [start[i], end[i])) overlaps visit ``row``.

    ``place``, ``t_in`` and ``t_out`` are the day's visits sorted by (place, t_in); times are
    integers. A probe's window must lie within its own visit. The probe's own row is left out;
    pairs come ordered by probe, then row.
    """
    n = len(place)
    if n == 0 or len(probe) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    place = place.astype(np.int64)
    t0 = int(t_in.min())
    span_bits = int(max(int(t_out.max()), int(end.max())) - t0 + 1).bit_length()
    if (int(place.max()) + 1).bit_length() + span_bits > 63:
        raise ValueError("place index and time span do not fit one 63-bit key")
    key = (place << span_bits) | (t_in - t0)

    # The longest stay at each probed place, from the place's segment of the sorted table.
    p = place[probe]
    segment_start = np.searchsorted(place, p, side="left")
    segment_end = np.searchsorted(place, p, side="right")
    starts = np.flatnonzero(np.concatenate([[True], place[1:] != place[:-1]]))
    longest_by_segment = np.maximum.reduceat(t_out - t_in, starts)
    longest = longest_by_segment[np.searchsorted(starts, segment_start)]

    low = np.maximum(start - longest - t0, 0)
    lo = np.maximum(np.searchsorted(key, (p << span_bits) | low, side="left"), segment_start)
    hi = np.minimum(np.searchsorted(key, (p << span_bits) | (end - t0), side="left"), segment_end)
    count = np.maximum(hi - lo, 0)
    i = np.repeat(np.arange(len(probe)), count)
    row = lo[i] + np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
    keep = (t_out[row] > start[i]) & (t_in[row] < end[i]) & (row != probe[i])
    return i[keep], row[keep]
