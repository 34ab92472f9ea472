"""Pick the responsible department for an incident, level by level (no database).

Levels run community -> street -> district -> city (微循环 -> 小循环 -> 中循环 -> 大循环).
At one level, a rule for the incident's own area beats a rule for an area above it, which
beats the city-wide rule (no area). A level the incident's city does not have (grids
straight under a street or district) is skipped: its rules apply to no incident there, and
escalation goes on to the next level the city has.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gridgov.boundaries.levels import Level

ESCALATION_LEVELS: tuple[Level, ...] = (Level.COMMUNITY, Level.STREET, Level.DISTRICT, Level.CITY)


@dataclass(frozen=True)
class Rule:
    """One row of the responsibility list."""

    category_code: str
    level: Level
    area_code: str | None
    department: str  # a role such as "ZF", or a full department code
    sla_hours: float


@dataclass(frozen=True)
class Assignment:
    """Where an incident goes: the level, the department and how long it has."""

    level: Level
    department: str
    area_code: str  # the incident's area at that level
    sla_hours: float
    rule: Rule


def pick_rule(
    rules: Iterable[Rule], *, category_code: str, level: Level, chain: Mapping[Level, str]
) -> Rule | None:
    """The most specific rule for a category at one level, given the incident's area chain.

    >>> chain = {Level.CITY: "C", Level.DISTRICT: "D1", Level.STREET: "S1"}
    >>> rules = [Rule("01", Level.STREET, None, "ZF", 24), Rule("01", Level.STREET, "D1", "CG", 12)]
    >>> pick_rule(rules, category_code="01", level=Level.STREET, chain=chain).department
    'CG'
    """
    depth = {
        code: ESCALATION_LEVELS[::-1].index(lvl)
        for lvl, code in chain.items()
        if lvl in ESCALATION_LEVELS
    }
    best: Rule | None = None
    best_depth = -2
    for rule in rules:
        if rule.category_code != category_code or rule.level is not level:
            continue
        if rule.area_code is None:
            rule_depth = -1
        elif rule.area_code in depth:
            rule_depth = depth[rule.area_code]
        else:
            continue
        if rule_depth > best_depth:
            best, best_depth = rule, rule_depth
    return best


def assignment_from(
    rules: Iterable[Rule],
    *,
    category_code: str,
    chain: Mapping[Level, str],
    above: Level | None = None,
) -> Assignment | None:
    """The first level with a rule, starting at the community or just above ``above``;
    levels missing from ``chain`` (the city does not have them) are skipped.

    >>> chain = {Level.CITY: "C", Level.DISTRICT: "D1"}  # grids straight under districts
    >>> rules = [Rule("01", Level.COMMUNITY, None, "SQ", 4)]
    >>> rules += [Rule("01", Level.DISTRICT, None, "CG", 48)]
    >>> assignment_from(rules, category_code="01", chain=chain).department
    'CG'
    """
    rules = list(rules)
    start = 0 if above is None else ESCALATION_LEVELS.index(above) + 1
    for level in ESCALATION_LEVELS[start:]:
        if level not in chain:
            continue
        rule = pick_rule(rules, category_code=category_code, level=level, chain=chain)
        if rule is not None:
            return Assignment(level, rule.department, chain[level], rule.sla_hours, rule)
    return None
