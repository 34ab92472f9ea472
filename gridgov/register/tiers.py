"""Household tiers (绿黄红) as pure functions: a rules file says which members' tags and facts
make a household red or yellow; everything else is green.

A rule (geodata/register/tiers.csv: rule, tier, when, name_zh, name_en) holds when every
condition of its ``when`` holds for one and the same member on the given day, e.g.
``age >= 60, tag = living_alone``. Conditions:

- ``age``, ``household.size``, ``<tag>.grade``: compared with a whole number by
  ``=  !=  <  <=  >  >=`` (``≥ ≤ ≠`` too); ``<tag>.grade`` needs a valid tag with a grade;
- ``sex``, ``relation``, ``tag``, ``<tag>.kind``: ``=`` or ``!=`` one value or several
  (``relation = child|grandchild``); ``tag = allowance`` means a tag valid that day,
  ``tag != veteran`` none.

The household takes the worst tier of any rule that holds (red, then yellow); the reason is
the first such rule in file order and the member it held for, and every other rule that
held is kept too. Elderly is never a tag: it is ``age >= 60`` in the rules (老年人权益保障法:
60 and over), so a city that means 65 or 80 edits one number. How often each tier is visited
is a second file (tier_levels.csv: tier, name_zh, name_en, colour, visit_every_months).
"""

from __future__ import annotations

import calendar
import csv
import operator
import re
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from gridgov.tables import RowProblem, RowsRefused

TIERS = ("red", "yellow", "green")  # worst first
SEXES = frozenset({"male", "female"})
RELATIONS = frozenset({"head", "spouse", "child", "parent", "grandchild", "other"})
NUMBERS = {"=": operator.eq, "==": operator.eq, "!=": operator.ne, "≠": operator.ne,
           "<": operator.lt, "<=": operator.le, "≤": operator.le, ">": operator.gt,
           ">=": operator.ge, "≥": operator.ge}  # fmt: skip
SUBJECTS = frozenset({"age", "household.size", "sex", "relation", "tag"})  # and <tag>.grade/kind
CONDITION = re.compile(r"^\s*([a-z_][a-z0-9_.]*)\s*(==|!=|<=|>=|=|<|>|≥|≤|≠)\s*(\S.*?)\s*$")


@dataclass(frozen=True)
class Tag:
    """A tag of a person, with its details and the days it is valid (None: open)."""

    key: str
    kind: str = ""
    grade: int | None = None
    valid_from: date | None = None
    valid_to: date | None = None

    def valid_on(self, day: date) -> bool:
        """Whether the tag holds on ``day`` (both ends included).

        >>> Tag("allowance", valid_to=date(2026, 1, 31)).valid_on(date(2026, 2, 1))
        False
        """
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to
        )


@dataclass(frozen=True)
class Member:
    """A household member as the rules see them; ``ref`` names them in a reason."""

    ref: Hashable
    birth_date: date | None = None
    sex: str = ""
    relation: str = ""
    tags: tuple[Tag, ...] = ()

    def age_on(self, day: date) -> int | None:
        """Whole years on ``day``.

        >>> Member(1, date(1966, 12, 2)).age_on(date(2026, 12, 1))
        59
        """
        if self.birth_date is None:
            return None
        born = self.birth_date
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


# A compiled condition: (member, the day, the household's size) -> holds.
Test = Callable[[Member, date, int], bool]


@dataclass(frozen=True)
class Rule:
    """One row of the rules file; ``test`` is ``when`` compiled."""

    key: str
    tier: str
    when: str
    name_zh: str
    name_en: str
    test: Test = field(repr=False, compare=False)

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_zh


@dataclass(frozen=True)
class Reason:
    """Rule ``rule`` held for member ``member``."""

    rule: str
    tier: str
    member: Hashable


@dataclass(frozen=True)
class Tiering:
    """A household's tier and why: ``reasons[0]`` decided it (none for green by default)."""

    tier: str
    reasons: tuple[Reason, ...] = ()

    @property
    def reason(self) -> Reason | None:
        return self.reasons[0] if self.reasons else None


def household_tier(rules: Sequence[Rule], members: Sequence[Member], *, on: date) -> Tiering:
    """The tier of a household on ``on``, with every rule that held and for whom.

    >>> row = {"rule": "alone", "tier": "red", "when": "age >= 60, tag = living_alone",
    ...        "name_zh": "独居老人", "name_en": "Elderly alone"}
    >>> rules = parse_rules([row])
    >>> grandma = Member("p1", date(1950, 3, 1), tags=(Tag("living_alone"),))
    >>> household_tier(rules, [grandma], on=date(2026, 12, 1))
    Tiering(tier='red', reasons=(Reason(rule='alone', tier='red', member='p1'),))
    """
    size = len(members)
    reasons = [
        Reason(rule.key, rule.tier, member.ref)
        for rule in rules
        for member in members
        if rule.test(member, on, size)
    ]
    if not reasons:
        return Tiering("green")
    reasons.sort(key=lambda r: TIERS.index(r.tier))  # stable: file order within a tier
    return Tiering(reasons[0].tier, tuple(reasons))


def parse_rules(rows: Iterable[dict[str, str]], *, tags: Iterable[str] | None = None) -> list[Rule]:
    """Rules from rows of the rules file, checked; every problem is listed (RowsRefused)."""
    known = frozenset(tags) if tags is not None else None
    rules, problems, seen = [], [], set()
    for number, row in enumerate(rows, start=2):
        values = {k: (row.get(k) or "").strip() for k in ("rule", "tier", "when", "name_zh")}
        found = [RowProblem(number, k, "is empty") for k, v in values.items() if not v]
        if values["rule"] in seen:
            found.append(RowProblem(number, "rule", f"{values['rule']} appears twice"))
        seen.add(values["rule"])
        if values["tier"] and values["tier"] not in TIERS:
            found.append(
                RowProblem(number, "tier", f"{values['tier']!r} is not red, yellow or green")
            )
        tests = []
        for part in re.split(r"[,，]", values["when"]) if values["when"] else []:
            try:
                tests.append(compile_condition(part, known))
            except ValueError as exc:
                found.append(RowProblem(number, "when", str(exc)))
        problems += found
        if not found:
            rules.append(
                Rule(
                    values["rule"],
                    values["tier"],
                    values["when"],
                    values["name_zh"],
                    (row.get("name_en") or "").strip() or values["name_zh"],
                    all_of(tests),
                )
            )
    if problems:
        raise RowsRefused(problems)
    return rules


def all_of(tests: list[Test]) -> Test:
    return lambda member, day, size: all(test(member, day, size) for test in tests)


def compile_condition(text: str, tags: frozenset[str] | None) -> Test:
    """One condition as a test; ValueError names what is wrong.

    >>> test = compile_condition("disability.grade <= 2", None)
    >>> test(Member(1, tags=(Tag("disability", grade=1),)), date(2026, 1, 1), 1)
    True
    """
    match = CONDITION.match(text)
    if not match:
        raise ValueError(f"{text.strip()!r} is not 'subject operator value'")
    subject, op, value = match.groups()
    tag, _, detail = subject.partition(".")
    if subject not in SUBJECTS and detail not in ("grade", "kind"):
        raise ValueError(
            f"unknown subject {subject!r} (age, sex, relation, household.size, tag, "
            "<tag>.grade, <tag>.kind)"
        )
    if subject in ("age", "household.size") or detail == "grade":
        return _number_test(subject, op, value, tags)
    if op not in ("=", "==", "!=", "≠"):
        raise ValueError(f"{subject} takes = or !=, not {op}")
    wanted = frozenset(v.strip() for v in value.split("|") if v.strip())
    negate = op in ("!=", "≠")
    if subject == "sex" or subject == "relation":
        allowed = SEXES if subject == "sex" else RELATIONS
        if not wanted <= allowed:
            raise ValueError(f"{subject} is one of {', '.join(sorted(allowed))}")
        return lambda m, day, size: (getattr(m, subject) in wanted) != negate
    if subject == "tag":
        _check_tags(wanted, tags)
        return lambda m, day, size: (
            any(t.key in wanted and t.valid_on(day) for t in m.tags) != negate
        )
    _check_tags({tag}, tags)  # <tag>.kind
    return lambda m, day, size: (
        any(t.key == tag and t.kind in wanted and t.valid_on(day) for t in m.tags) != negate
    )


def _number_test(subject: str, op: str, value: str, tags: frozenset[str] | None) -> Test:
    if not re.fullmatch(r"-?\d{1,3}", value):
        raise ValueError(f"{subject} is compared with a whole number, not {value!r}")
    compare, limit = NUMBERS[op], int(value)
    if subject == "age":

        def test(m: Member, day: date, size: int) -> bool:
            age = m.age_on(day)
            return age is not None and compare(age, limit)

        return test
    if subject == "household.size":
        return lambda m, day, size: compare(size, limit)
    tag = subject.partition(".")[0]
    _check_tags({tag}, tags)
    return lambda m, day, size: any(
        t.key == tag and t.grade is not None and compare(t.grade, limit) and t.valid_on(day)
        for t in m.tags
    )


def _check_tags(keys: Iterable[str], known: frozenset[str] | None) -> None:
    unknown = sorted(set(keys) - known) if known is not None else []
    if unknown:
        raise ValueError(f"unknown tag {', '.join(unknown)} (see tags.csv)")


@dataclass(frozen=True)
class TierLevel:
    """How a tier is shown and how often its households are visited (None: no reminders)."""

    tier: str
    name_zh: str
    name_en: str
    colour: str
    visit_every_months: int | None


def parse_levels(rows: Iterable[dict[str, str]]) -> dict[str, TierLevel]:
    """The tier levels file, checked: every tier once, a #rrggbb colour, whole months."""
    levels, problems = {}, []
    for number, row in enumerate(rows, start=2):
        tier = (row.get("tier") or "").strip()
        colour = (row.get("colour") or "").strip()
        months = (row.get("visit_every_months") or "").strip()
        if tier not in TIERS or tier in levels:
            problems.append(RowProblem(number, "tier", f"{tier!r} is not a tier, or repeats"))
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", colour):
            problems.append(RowProblem(number, "colour", f"{colour!r} is not #rrggbb"))
        if months and not (months.isdigit() and 1 <= int(months) <= 120):
            problems.append(RowProblem(number, "visit_every_months", f"{months!r} is not 1-120"))
        levels[tier] = TierLevel(
            tier,
            (row.get("name_zh") or tier).strip(),
            (row.get("name_en") or tier).strip(),
            colour,
            int(months) if months.isdigit() else None,
        )
    missing = [t for t in TIERS if t not in levels]
    if missing:
        problems.append(RowProblem(1, "tier", f"missing {', '.join(missing)}"))
    if problems:
        raise RowsRefused(problems)
    return levels


def visit_due(level: TierLevel, *, last_visit: date | None, assigned_on: date) -> date | None:
    """When a household of this tier is next due a visit: ``visit_every_months`` after the last
    visit; on the day it got the tier if never visited; None for a tier without reminders.

    >>> red = TierLevel("red", "红", "Red", "#d73027", 1)
    >>> visit_due(red, last_visit=date(2026, 1, 31), assigned_on=date(2025, 6, 1))
    datetime.date(2026, 2, 28)
    """
    if level.visit_every_months is None:
        return None
    if last_visit is None:
        return assigned_on
    return add_months(last_visit, level.visit_every_months)


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or the month's last day if it has no such day.

    >>> add_months(date(2026, 11, 30), 3)
    datetime.date(2027, 2, 28)
    """
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def read_rows(path: Path | str) -> list[dict[str, str]]:
    """A small UTF-8 configuration CSV (a BOM allowed) as rows."""
    with Path(path).open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def load_rules(path: Path | str, *, tags_path: Path | str | None = None) -> list[Rule]:
    """The rules file, its tags checked against the tags file when given."""
    tags = [row["key"].strip() for row in read_rows(tags_path)] if tags_path else None
    return parse_rules(read_rows(path), tags=tags)


def load_levels(path: Path | str) -> dict[str, TierLevel]:
    return parse_levels(read_rows(path))
