"""Household tiers (绿黄红) in the database: each household's tier and deciding rule, stored
on the row and recomputed after whatever changes its members' tags or facts (an import, an
undo, the grassroots load, a doorstep visit) and once a day (ages and tag validity move).

The rules are the pure ``tiers.py``; this module reads members and tags set-based (one
query each, no row objects), decides in Python, and writes back with one statement that
touches only the households whose tier or rule changed (``tier_at``: when it got this one).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, text, union
from sqlalchemy.orm import Session

from gridgov.register.models import Household, Person, PersonTag, RegisterChange
from gridgov.register.tiers import (
    Member,
    Rule,
    Tag,
    TierLevel,
    household_tier,
    load_levels,
    load_rules,
)

CHUNK = 20_000  # households per read and write: bounded memory on a prefecture's register


@dataclass(frozen=True)
class TierConfig:
    """The rules and the levels a city configured (geodata/register/)."""

    rules: tuple[Rule, ...]
    levels: dict[str, TierLevel]

    def rule(self, key: str | None) -> Rule | None:
        return next((r for r in self.rules if r.key == key), None)

    def reason(self, key: str | None, lang: str) -> str:
        """The deciding rule's name in ``lang`` ('' for none, the key for a rule since
        removed from the file)."""
        if key is None:
            return ""
        rule = self.rule(key)
        return rule.name(lang) if rule is not None else key


_configs: dict[tuple[Path, float, float], TierConfig] = {}
_configs_lock = threading.Lock()


def tier_config(geodata_dir: Path | None = None) -> TierConfig:
    """The rules and levels of ``geodata_dir`` (default: the settings'), read again when a
    file changed."""
    if geodata_dir is None:
        from gridgov.config import get_settings

        geodata_dir = get_settings().geodata_dir
    folder = Path(geodata_dir) / "register"
    key = (
        folder,
        (folder / "tiers.csv").stat().st_mtime,
        (folder / "tier_levels.csv").stat().st_mtime,
    )
    with _configs_lock:
        found = _configs.get(key)
        if found is None:
            rules = load_rules(folder / "tiers.csv", tags_path=folder / "tags.csv")
            found = _configs[key] = TierConfig(
                tuple(rules), load_levels(folder / "tier_levels.csv")
            )
        return found


def _tag(
    tag: str, details: dict[str, Any] | None, valid_from: date | None, valid_to: date | None
) -> Tag:
    details = details or {}
    grade = details.get("grade")
    try:
        grade = int(grade) if grade not in (None, "") else None
    except (TypeError, ValueError):
        grade = None
    return Tag(tag, str(details.get("kind") or ""), grade, valid_from, valid_to)


def _decide(
    session: Session,
    rules: tuple[Rule, ...],
    today: date,
    *,
    ids: list[int] | None = None,
    bounds: tuple[int, int] | None = None,
) -> dict[int, tuple[str, str | None]]:
    """(tier, deciding rule) of the households ``ids``, or of those whose id lies within
    ``bounds`` (both ends included)."""
    households = select(Household.id)
    people = select(
        Person.id, Person.household_id, Person.birth_date, Person.sex, Person.relation
    ).where(Person.removed_at.is_(None))
    tags = (
        select(PersonTag.person_id, PersonTag.tag, PersonTag.details, PersonTag.valid_from,
               PersonTag.valid_to)
        .join(Person, Person.id == PersonTag.person_id)
        .where(Person.removed_at.is_(None))
    )  # fmt: skip
    if ids is not None:
        households = households.where(Household.id.in_(ids))
        people = people.where(Person.household_id.in_(ids))
        tags = tags.where(Person.household_id.in_(ids))
    if bounds is not None:
        households = households.where(Household.id.between(*bounds))
        people = people.where(Person.household_id.between(*bounds))
        tags = tags.where(Person.household_id.between(*bounds))
    held: dict[int, list[Tag]] = defaultdict(list)
    for person_id, key, details, valid_from, valid_to in session.execute(tags):
        held[person_id].append(_tag(key, details, valid_from, valid_to))
    members: dict[int, list[Member]] = {h: [] for h in session.scalars(households)}
    for person_id, household_id, born, sex, relation in session.execute(people):
        if household_id is None:
            continue
        members.setdefault(household_id, []).append(
            Member(person_id, born, sex or "", relation or "", tuple(held.get(person_id, ())))
        )
    decided = {}
    for household_id, found in members.items():
        tiering = household_tier(rules, found, on=today)
        decided[household_id] = (tiering.tier, tiering.reason.rule if tiering.reason else None)
    return decided


_WRITE = text(
    """
    UPDATE households AS h SET tier = v.tier, tier_rule = v.rule, tier_at = :now
    FROM unnest(CAST(:ids AS bigint[]), CAST(:tiers AS text[]), CAST(:rules AS text[]))
         AS v(id, tier, rule)
    WHERE h.id = v.id AND (h.tier IS DISTINCT FROM v.tier OR h.tier_rule IS DISTINCT FROM v.rule)
    """
)


def retier(
    session: Session,
    *,
    household_ids: Iterable[int] | None = None,
    today: date,
    now: datetime,
    geodata_dir: Path | None = None,
) -> int:
    """Recompute and store the tier and deciding rule of ``household_ids`` (None: every
    household) as of ``today``; the number whose tier or rule changed. The caller commits.

    The doorstep visit calls it with the visited household after a visit."""
    config = tier_config(geodata_dir)
    session.flush()
    if household_ids is not None:
        wanted = sorted({int(h) for h in household_ids if h is not None})
        parts: Iterator[dict[int, tuple[str, str | None]]] = (
            _decide(session, config.rules, today, ids=wanted[n : n + CHUNK])
            for n in range(0, len(wanted), CHUNK)
        )
    else:  # every household, a range of ids at a time
        ids = list(session.scalars(select(Household.id).order_by(Household.id)))
        parts = (
            _decide(
                session, config.rules, today, bounds=(ids[n], ids[min(n + CHUNK, len(ids)) - 1])
            )
            for n in range(0, len(ids), CHUNK)
        )
    changed = 0
    for decided in parts:
        if decided:
            result = session.execute(
                _WRITE,
                {
                    "ids": list(decided),
                    "tiers": [tier for tier, _ in decided.values()],
                    "rules": [rule for _, rule in decided.values()],
                    "now": now,
                },
            )
            changed += result.rowcount  # type: ignore[attr-defined]
    for row in list(session.identity_map.values()):
        if isinstance(row, Household):
            session.expire(row, ["tier", "tier_rule", "tier_at"])
    return changed


def households_of_batch(session: Session, *, batch_id: int) -> set[int]:
    """The households whose members a batch changed, created or tagged (read before an undo
    removes what the batch created)."""
    changes = select(RegisterChange.entity_id).where(RegisterChange.batch_id == batch_id)
    people = select(Person.household_id).where(
        Person.id.in_(changes.where(RegisterChange.entity == "person"))
    )
    tagged = (
        select(Person.household_id)
        .join(PersonTag, PersonTag.person_id == Person.id)
        .where(PersonTag.id.in_(changes.where(RegisterChange.entity == "tag")))
    )
    return {h for h in session.scalars(union(people, tagged)) if h is not None}
