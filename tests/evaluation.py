"""Evaluation figures worked out the plain way, independently of gridgov.evaluation.

The weights are written here a second time (0.5 within the SLA, 0.2 not reopened, 0.3
satisfaction, as README and docs/PLAN.md say), so a change of the code's weights, of its
renormalisation or of its quadrant boundaries turns a test red."""

from __future__ import annotations

WITHIN_SLA, NOT_REOPENED, SATISFACTION = 0.5, 0.2, 0.3


def effectiveness(
    *, within_sla: float | None, reopen_rate: float | None, ratings: list[float]
) -> float | None:
    """The blend of the parts that have data; ``ratings`` are the reporter and street means."""
    weighted = weights = 0.0
    if within_sla is not None:
        weighted, weights = weighted + WITHIN_SLA * within_sla, weights + WITHIN_SLA
    if reopen_rate is not None:
        weighted, weights = weighted + NOT_REOPENED * (1 - reopen_rate), weights + NOT_REOPENED
    if ratings:
        mean = sum(ratings) / len(ratings)
        weighted, weights = weighted + SATISFACTION * (mean - 1) / 4, weights + SATISFACTION
    return weighted / weights if weights else None


def quadrant(hours: float, effect: float, *, speed_hours: float, threshold: float) -> str:
    """Fast is at most the speed threshold; effective is at least the effectiveness one."""
    speed = "fast" if hours <= speed_hours else "slow"
    return f"{speed}_{'effective' if effect >= threshold else 'ineffective'}"
