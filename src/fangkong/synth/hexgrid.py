"""A hexagonal grid around a district seat: community cells, their outlines, and GeoJSON.

Communities of a district occupy the first cells of a hexagonal spiral around the seat, so the
district is one compact patch of tiles whose outline is the union of its cells. Distances are
kilometres east (x) and north (y) of the seat; ``to_lonlat`` turns them into degrees.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

# Axial directions of a pointy-top hexagonal grid, walked in this order around a ring.
_DIRECTIONS = ((1, 0), (1, -1), (0, -1), (-1, 0), (-1, 1), (0, 1))
# Corners of a pointy-top cell on the integer lattice (x in units of √3/2·size, y of size/2),
# counter-clockwise from the lower right.
_CORNERS = ((1, -1), (1, 1), (0, 2), (-1, 1), (-1, -1), (0, -2))
_KM_PER_DEGREE_LAT = 110.574
_KM_PER_DEGREE_LON_AT_EQUATOR = 111.320


def spiral(n: int) -> np.ndarray:
    """Axial coordinates ``(q, r)`` of the first ``n`` cells of a spiral from the centre outwards."""
    cells = [(0, 0)]
    ring = 1
    while len(cells) < n:
        q, r = -ring, ring  # the ring's corner in direction 4, then walk its six sides
        for dq, dr in _DIRECTIONS:
            for _ in range(ring):
                cells.append((q, r))
                q, r = q + dq, r + dr
        ring += 1
    return np.array(cells[:n], dtype=np.int64).reshape(-1, 2)


def rings_for(n: int) -> int:
    """How many rings around the centre cell ``n`` cells reach."""
    ring = 0
    while 1 + 3 * ring * (ring + 1) < n:
        ring += 1
    return ring


def centres(cells: np.ndarray, size: float) -> np.ndarray:
    """Centres ``(x, y)`` in km of cells whose corners lie ``size`` km from their centre."""
    q, r = cells[:, 0].astype(float), cells[:, 1].astype(float)
    return np.stack([size * math.sqrt(3) * (q + r / 2), size * 1.5 * r], axis=1)


def _lattice(cell: tuple[int, int]) -> list[tuple[int, int]]:
    q, r = cell
    return [(2 * q + r + dx, 3 * r + dy) for dx, dy in _CORNERS]


def _from_lattice(points: list[tuple[int, int]], size: float) -> list[tuple[float, float]]:
    return [(x * size * math.sqrt(3) / 2, y * size / 2) for x, y in points]


def cell_outline(cell: tuple[int, int], size: float) -> list[tuple[float, float]]:
    """The closed counter-clockwise ring of one cell, in km."""
    corners = _lattice(cell)
    return _from_lattice([*corners, corners[0]], size)


def union_outline(cells: np.ndarray, size: float) -> list[list[tuple[float, float]]]:
    """Closed counter-clockwise rings, in km, bounding the union of the cells (one for a compact patch)."""
    edges: dict[tuple[tuple[int, int], tuple[int, int]], int] = {}
    for cell in map(tuple, cells.tolist()):
        corners = _lattice(cell)
        for a, b in zip(corners, corners[1:] + corners[:1], strict=True):
            if (b, a) in edges:  # shared with a neighbour: inside the union
                del edges[(b, a)]
            else:
                edges[(a, b)] = 1
    following: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for a, b in sorted(edges):
        following.setdefault(a, []).append(b)
    rings = []
    while following:
        start = min(following)
        ring = [start]
        point = start
        while True:
            nxt = following[point].pop()
            if not following[point]:
                del following[point]
            ring.append(nxt)
            point = nxt
            if point == start:
                break
        rings.append(_from_lattice(ring, size))
    return rings


def to_lonlat(xy: np.ndarray, lon0: float, lat0: float) -> tuple[np.ndarray, np.ndarray]:
    """Degrees of points given in km east and north of ``(lon0, lat0)``."""
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    lon = lon0 + xy[:, 0] / (_KM_PER_DEGREE_LON_AT_EQUATOR * math.cos(math.radians(lat0)))
    lat = lat0 + xy[:, 1] / _KM_PER_DEGREE_LAT
    return lon, lat


def km_between(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Distance in km between two nearby points (equirectangular approximation)."""
    dx = (lon2 - lon1) * _KM_PER_DEGREE_LON_AT_EQUATOR * math.cos(math.radians((lat1 + lat2) / 2))
    dy = (lat2 - lat1) * _KM_PER_DEGREE_LAT
    return math.hypot(dx, dy)


def polygon_feature(rings: list[list[tuple[float, float]]], lon0: float, lat0: float,
                    properties: dict[str, Any]) -> dict[str, Any]:
    """A GeoJSON Feature: a Polygon (or a MultiPolygon of several outer rings) in lon/lat."""
    polygons = []
    for ring in rings:
        lon, lat = to_lonlat(np.array(ring), lon0, lat0)
        polygons.append([[[round(x, 6), round(y, 6)] for x, y in zip(lon.tolist(), lat.tolist(), strict=True)]])
    geometry: dict[str, Any] = (
        {"type": "Polygon", "coordinates": polygons[0]} if len(polygons) == 1
        else {"type": "MultiPolygon", "coordinates": polygons}
    )
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def feature_collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    """A GeoJSON FeatureCollection."""
    return {"type": "FeatureCollection", "features": features}
