"""Scorecards and quadrants from per-department figures (no database).

Speed is the median time from assignment to acceptance. Effectiveness blends the share
resolved within the SLA (weight 0.5), one minus the reopen rate (0.2) and satisfaction
(0.3): reporter ratings and street ratings (双向测评), each on 1-5, averaged and scaled to
0-1. A part with no data drops out and the weights of the rest are renormalised.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from enum import StrEnum

WEIGHTS = {"within_sla": 0.5, "not_reopened": 0.2, "satisfaction": 0.3}


class Quadrant(StrEnum):
    FAST_EFFECTIVE = "fast_effective"  # 快速高效
    SLOW_EFFECTIVE = "slow_effective"  # 慢速高效
    FAST_INEFFECTIVE = "fast_ineffective"  # 快速低效
    SLOW_INEFFECTIVE = "slow_ineffective"  # 慢速低效


@dataclass(frozen=True)
class DepartmentFigures:
    """What a department did in a period."""

    department_code: str
    assigned: int = 0
    accepted: int = 0
    median_accept_hours: float | None = None
    resolved: int = 0
    resolved_within_sla: int = 0
    reopened: int = 0
    rating_mean: float | None = None  # reporters, 1-5
    street_rating_mean: float | None = None  # streets, 1-5

    @property
    def within_sla_share(self) -> float | None:
        return self.resolved_within_sla / self.resolved if self.resolved else None

    @property
    def reopen_rate(self) -> float | None:
        return min(1.0, self.reopened / self.resolved) if self.resolved else None

    @property
    def satisfaction(self) -> float | None:
        """Mean of the available ratings, scaled from 1-5 to 0-1."""
        ratings = [r for r in (self.rating_mean, self.street_rating_mean) if r is not None]
        return (statistics.fmean(ratings) - 1) / 4 if ratings else None

    @property
    def effectiveness(self) -> float | None:
        """The weighted blend of the parts that have data (0-1), or None.

        Three of four resolved in time, two reopened, no ratings (satisfaction drops out):
        (0.5 x 0.75 + 0.2 x 0.5) / 0.7.

        >>> figures = DepartmentFigures("D", resolved=4, resolved_within_sla=3, reopened=2)
        >>> round(figures.effectiveness, 6)
        0.678571
        """
        rate = self.reopen_rate
        parts = {
            "within_sla": self.within_sla_share,
            "not_reopened": None if rate is None else 1 - rate,
            "satisfaction": self.satisfaction,
        }
        present = {k: v for k, v in parts.items() if v is not None}
        if not present:
            return None
        total = sum(WEIGHTS[k] for k in present)
        return sum(WEIGHTS[k] * v for k, v in present.items()) / total


@dataclass(frozen=True)
class Thresholds:
    """Where fast turns slow (hours) and effective turns ineffective (0-1)."""

    speed_hours: float
    effectiveness: float


def city_medians(figures: list[DepartmentFigures]) -> Thresholds | None:
    """Default thresholds: the medians over the departments that have figures."""
    speeds = [f.median_accept_hours for f in figures if f.median_accept_hours is not None]
    effects = [f.effectiveness for f in figures if f.effectiveness is not None]
    if not speeds or not effects:
        return None
    return Thresholds(statistics.median(speeds), statistics.median(effects))


def quadrant(figures: DepartmentFigures, thresholds: Thresholds) -> Quadrant | None:
    """The department's quadrant (None without both a speed and an effectiveness).

    >>> t = Thresholds(speed_hours=2.0, effectiveness=0.6)
    >>> quadrant(DepartmentFigures("D", median_accept_hours=1.0, resolved=1,
    ...                            resolved_within_sla=1), t)
    <Quadrant.FAST_EFFECTIVE: 'fast_effective'>
    """
    effect = figures.effectiveness
    if figures.median_accept_hours is None or effect is None:
        return None
    fast = figures.median_accept_hours <= thresholds.speed_hours
    effective = effect >= thresholds.effectiveness
    if fast:
        return Quadrant.FAST_EFFECTIVE if effective else Quadrant.FAST_INEFFECTIVE
    return Quadrant.SLOW_EFFECTIVE if effective else Quadrant.SLOW_INEFFECTIVE
