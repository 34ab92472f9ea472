"""Effectiveness, thresholds and quadrants on figures worked out by hand (no database)."""

from __future__ import annotations

import pytest

from gridgov.evaluation.quadrants import (
    DepartmentFigures,
    Quadrant,
    Thresholds,
    city_medians,
    quadrant,
)
from tests import evaluation as by_hand


def figures(**values) -> DepartmentFigures:
    return DepartmentFigures("D", **values)


def test_all_three_parts_are_weighted_half_a_fifth_and_three_tenths():
    # 1 of 4 in time, 2 of 4 reopened, reporters 5 and the street 4: satisfaction 0.875.
    f = figures(resolved=4, resolved_within_sla=1, reopened=2, rating_mean=5.0,
                street_rating_mean=4.0)  # fmt: skip
    assert (f.within_sla_share, f.reopen_rate, f.satisfaction) == (0.25, 0.5, 0.875)
    # 0.5 x 0.25 + 0.2 x 0.5 + 0.3 x 0.875 = 0.4875
    assert f.effectiveness == pytest.approx(0.4875)


def test_without_ratings_the_other_two_parts_are_renormalised():
    f = figures(resolved=4, resolved_within_sla=1, reopened=2)
    assert f.satisfaction is None
    # (0.5 x 0.25 + 0.2 x 0.5) / 0.7 = 0.225 / 0.7
    assert f.effectiveness == pytest.approx(0.32142857)


def test_with_only_a_street_rating_satisfaction_is_everything():
    f = figures(street_rating_mean=2.0)
    assert (f.within_sla_share, f.reopen_rate) == (None, None)
    assert f.effectiveness == pytest.approx(0.25)  # (2 - 1) / 4


def test_reporter_and_street_ratings_are_averaged_as_two_means():
    f = figures(resolved=1, resolved_within_sla=0, rating_mean=1.0, street_rating_mean=4.0)
    assert f.satisfaction == pytest.approx(0.375)  # ((1 + 4) / 2 - 1) / 4
    # 0.5 x 0 + 0.2 x 1 + 0.3 x 0.375 = 0.3125
    assert f.effectiveness == pytest.approx(0.3125)


def test_a_reopen_rate_above_one_is_capped():
    f = figures(resolved=2, resolved_within_sla=2, reopened=3)
    assert f.reopen_rate == 1.0
    assert f.effectiveness == pytest.approx(0.5 / 0.7)  # (0.5 x 1 + 0.2 x 0) / 0.7


def test_no_data_means_no_effectiveness():
    assert figures(assigned=3).effectiveness is None
    assert figures().satisfaction is None


@pytest.mark.parametrize(
    ("resolved", "within", "reopened", "rating", "street"),
    [(5, 3, 1, 4.0, None), (3, 0, 0, None, 5.0), (7, 7, 7, 1.0, 1.0), (2, 1, 0, 2.5, 3.5)],
)
def test_effectiveness_matches_the_plain_computation(resolved, within, reopened, rating, street):
    f = figures(resolved=resolved, resolved_within_sla=within, reopened=reopened,
                rating_mean=rating, street_rating_mean=street)  # fmt: skip
    ratings = [r for r in (rating, street) if r is not None]
    expected = by_hand.effectiveness(
        within_sla=within / resolved, reopen_rate=min(1, reopened / resolved), ratings=ratings
    )
    assert f.effectiveness == pytest.approx(expected)


def test_city_medians_are_the_middle_of_the_departments_with_figures():
    departments = [
        figures(median_accept_hours=1.0, resolved=2, resolved_within_sla=2),  # 1.0
        figures(median_accept_hours=3.0, resolved=2, resolved_within_sla=1),  # 0.45/0.7
        figures(median_accept_hours=10.0, resolved=2, resolved_within_sla=0, reopened=2),  # 0
        figures(median_accept_hours=2.0),  # a speed but no effectiveness
        figures(street_rating_mean=3.0),  # an effectiveness (0.5) but no speed
    ]
    thresholds = city_medians(departments)
    assert thresholds is not None
    assert thresholds.speed_hours == 2.5  # (2 + 3) / 2
    # Effectiveness 0, 0.5, 0.45/0.7 and 1: the middle two averaged.
    assert thresholds.effectiveness == pytest.approx((0.5 + 0.45 / 0.7) / 2)
    assert city_medians([figures(median_accept_hours=1.0)]) is None
    assert city_medians([figures(resolved=1, resolved_within_sla=1)]) is None


@pytest.mark.parametrize(
    ("hours", "within", "expected"),
    [
        (2.0, 3, Quadrant.FAST_EFFECTIVE),  # both on the threshold: fast and effective
        (1.0, 4, Quadrant.FAST_EFFECTIVE),
        (2.5, 3, Quadrant.SLOW_EFFECTIVE),
        (1.0, 2, Quadrant.FAST_INEFFECTIVE),
        (2.5, 2, Quadrant.SLOW_INEFFECTIVE),
    ],
)
def test_quadrants_around_the_thresholds(hours, within, expected):
    # Four resolved, none reopened: effectiveness = (0.5 x within/4 + 0.2) / 0.7.
    f = figures(median_accept_hours=hours, resolved=4, resolved_within_sla=within)
    t = Thresholds(speed_hours=2.0, effectiveness=(0.5 * 3 / 4 + 0.2) / 0.7)
    assert quadrant(f, t) is expected


def test_no_quadrant_without_a_speed_or_an_effectiveness():
    t = Thresholds(speed_hours=2.0, effectiveness=0.5)
    assert quadrant(figures(resolved=1, resolved_within_sla=1), t) is None
    assert quadrant(figures(median_accept_hours=1.0), t) is None
