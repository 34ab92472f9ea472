"""Patrols that record themselves (no database): which places a track of phone positions
passed, when, and what share of each grid's places a month of patrols covered.

The track is cleaned first: positions less accurate than ``max_accuracy_m`` are dropped, a
repeated time keeps its first position, and a lone jump (a spike out and straight back,
faster than ``max_speed_mps`` both ways) is jitter, not a walk. Consecutive positions are
then joined by straight stretches, except across a silence longer than ``max_gap_s`` or a
jump no one could make: the track is not guessed where the phone did not report. A place is
passed when a position or a stretch comes within ``within_m`` metres of it (in a transverse
Mercator projection centred on the track, so metres are metres); it counts once, at the
time the track first came within that distance (interpolated along the stretch), with the
closest the track came to it.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import Transformer


class Fix(NamedTuple):
    """One phone position (WGS84); ``accuracy_m`` as the phone reports it, if it does."""

    at: datetime
    lon: float
    lat: float
    accuracy_m: float | None = None


@dataclass(frozen=True)
class Place:
    """Something a patrol may pass: a house, an enterprise, a thing; ``ref`` names it."""

    ref: Hashable
    lon: float
    lat: float
    grid: str | None = None


@dataclass(frozen=True)
class Passed:
    ref: Hashable
    at: datetime
    distance_m: float


@dataclass(frozen=True)
class PatrolRules:
    within_m: float = 30.0
    max_gap_s: float = 300.0  # a longer silence breaks the track
    max_speed_mps: float = 15.0  # faster than an e-bike in town: a jump, not a move
    max_accuracy_m: float = 50.0


def places_passed(
    track: Sequence[Fix], places: Sequence[Place], *, rules: PatrolRules = PatrolRules()
) -> list[Passed]:
    """The places a track passed, each once, in the order they were first passed.

    >>> t0 = datetime(2026, 12, 1, 9, 0)
    >>> track = [Fix(t0, 109.1000, 21.55), Fix(t0 + timedelta(seconds=100), 109.1010, 21.55)]
    >>> shop = Place("shop", 109.1005, 21.5501)  # halfway along, 11 m off the street
    >>> [(p.ref, p.at.time().isoformat("seconds"), round(p.distance_m))
    ...  for p in places_passed(track, [shop])]  # within 30 m from 23 s on
    [('shop', '09:00:23', 11)]
    """
    fixes = _clean(track, rules)
    if not fixes or not places:
        return []
    lons, lats = np.array([f.lon for f in fixes]), np.array([f.lat for f in fixes])
    to_metres = local_projection(float(np.median(lons)), float(np.median(lats)))
    seconds = np.array([(f.at - fixes[0].at).total_seconds() for f in fixes])
    xy = np.column_stack(to_metres.transform(lons, lats))
    keep = _without_spikes(xy, seconds, rules.max_speed_mps)
    xy, seconds = xy[keep], seconds[keep]
    # Stretches between joined positions, and the positions no stretch touches as points.
    starts = np.flatnonzero(_joined(xy, seconds, rules))
    touched = np.zeros(len(xy), dtype=bool)
    touched[starts] = touched[starts + 1] = True
    lone = np.flatnonzero(~touched)
    first, last = np.concatenate([starts, lone]), np.concatenate([starts + 1, lone])
    lines = (
        shapely.linestrings(np.stack([xy[starts], xy[starts + 1]], axis=1)) if len(starts) else []
    )
    pieces = np.concatenate([np.asarray(lines, dtype=object), shapely.points(xy[lone])])
    place_xy = np.column_stack(
        to_metres.transform([p.lon for p in places], [p.lat for p in places])
    )
    place_points = shapely.points(place_xy)
    near, which = shapely.STRtree(place_points).query(
        pieces, predicate="dwithin", distance=rules.within_m
    )
    if not len(near):
        return []
    entry = _entry_fraction(xy[first[near]], xy[last[near]], place_xy[which], rules.within_m)
    when = seconds[first[near]] + entry * (seconds[last[near]] - seconds[first[near]])
    distance = shapely.distance(pieces[near], place_points[which])
    # Per place: the earliest entry, and the closest it came on any stretch.
    order = np.lexsort((when, which))
    head = np.r_[True, which[order][1:] != which[order][:-1]]
    chosen, closest = order[head], np.minimum.reduceat(distance[order], np.flatnonzero(head))
    passed = [
        Passed(
            places[int(which[i])].ref,
            fixes[0].at + timedelta(seconds=float(when[i])),
            float(d),
        )
        for i, d in zip(chosen, closest, strict=True)
    ]
    return sorted(passed, key=lambda p: p.at)


def _entry_fraction(
    start: NDArray[np.float64], end: NDArray[np.float64], q: NDArray[np.float64], r: float
) -> NDArray[np.float64]:
    """How far along each stretch (0..1) it first comes within ``r`` of its place: the
    smaller root of |start + t (end - start) - q| = r, or 0 if it starts within."""
    d, f = end - start, start - q
    a, b, c = (d * d).sum(axis=1), 2 * (f * d).sum(axis=1), (f * f).sum(axis=1) - r * r
    root = np.sqrt(np.maximum(b * b - 4 * a * c, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(a > 0, (-b - root) / (2 * a), 0.0)
    return np.where(c <= 0, 0.0, np.clip(np.nan_to_num(t), 0.0, 1.0))


def local_projection(lon: float, lat: float) -> Transformer:
    """WGS84 to metres on a transverse Mercator centred at (lon, lat): the scale is off by
    about 1e-5 at 30 km from the centre (3 mm in 300 m), so a city's metres are metres."""
    return Transformer.from_crs(
        "EPSG:4326",
        f"+proj=tmerc +lat_0={lat} +lon_0={lon} +k=1 +x_0=0 +y_0=0 +ellps=WGS84 +units=m",
        always_xy=True,
    )


def _clean(track: Iterable[Fix], rules: PatrolRules) -> list[Fix]:
    """Usable positions in time order; a repeated time keeps its first position."""
    good = [
        f
        for f in track
        if -180 <= f.lon <= 180
        and -90 <= f.lat <= 90
        and (f.accuracy_m is None or f.accuracy_m <= rules.max_accuracy_m)
    ]
    good.sort(key=lambda f: f.at)
    return [f for i, f in enumerate(good) if i == 0 or f.at != good[i - 1].at]


def _speeds(xy: NDArray[np.float64], seconds: NDArray[np.float64]) -> NDArray[np.float64]:
    """Speed between each position and the next, in m/s."""
    step = np.hypot(*np.diff(xy, axis=0).T)
    return step / np.diff(seconds)  # times are strictly increasing after _clean


def _without_spikes(
    xy: NDArray[np.float64], seconds: NDArray[np.float64], max_speed: float
) -> NDArray[np.bool_]:
    """Which positions to keep: not a spike out and straight back (repeated until none)."""
    keep = np.ones(len(xy), dtype=bool)
    while True:
        index = np.flatnonzero(keep)
        if len(index) < 3:
            return keep
        speed = _speeds(xy[index], seconds[index])
        before, after = speed[:-1], speed[1:]
        skip = np.hypot(*(xy[index[2:]] - xy[index[:-2]]).T) / (
            seconds[index[2:]] - seconds[index[:-2]]
        )
        spikes = (before > max_speed) & (after > max_speed) & (skip <= max_speed)
        if not spikes.any():
            return keep
        keep[index[1:-1][spikes]] = False


def _joined(
    xy: NDArray[np.float64], seconds: NDArray[np.float64], rules: PatrolRules
) -> NDArray[np.bool_]:
    """For each position but the last: whether a stretch joins it to the next."""
    if len(xy) < 2:
        return np.zeros(0, dtype=bool)
    gaps = np.diff(seconds)
    return (gaps <= rules.max_gap_s) & (_speeds(xy, seconds) <= rules.max_speed_mps)


@dataclass(frozen=True)
class Coverage:
    """How many of a grid's places were passed."""

    grid: str
    places: int
    passed: int

    @property
    def share(self) -> float:
        return self.passed / self.places if self.places else 0.0


def coverage_by_grid(places: Iterable[Place], passed: Iterable[Hashable]) -> dict[str, Coverage]:
    """Per grid: places and how many were passed (``passed``: refs from one or many patrols).

    >>> places = [Place(1, 0, 0, "g1"), Place(2, 0, 0, "g1"), Place(3, 0, 0, "g2")]
    >>> coverage_by_grid(places, [1, 1])["g1"].share
    0.5
    """
    seen = set(passed)
    totals: dict[str, list[int]] = {}
    for place in places:
        if place.grid is None:
            continue
        counts = totals.setdefault(place.grid, [0, 0])
        counts[0] += 1
        counts[1] += place.ref in seen
    return {grid: Coverage(grid, n, k) for grid, (n, k) in sorted(totals.items())}


def not_passed(places: Iterable[Place], passed: Iterable[Hashable]) -> list[Place]:
    """The places no patrol passed (e.g. the red households not seen this month)."""
    seen = set(passed)
    return [p for p in places if p.ref not in seen]
