"""One call for a department import: read the column file and the tags, plan, and (with
``commit``) write the plan as a batch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from gridgov.boundaries.index import GridIndex
from gridgov.errors import FieldError
from gridgov.register.batches import commit_plan
from gridgov.register.imports import ImportPlan, plan_import
from gridgov.register.models import RegisterBatch
from gridgov.register.protect import RegisterKeys
from gridgov.register.rows import read_column_file
from gridgov.register.tiering import households_of_batch, retier
from gridgov.register.vocabulary import load_tags, tags_file
from gridgov.tables import TableError

MAX_SOURCE = 64


@dataclass(frozen=True)
class ImportResult:
    """The plan (the dry run's report) and, when committed, its batch."""

    plan: ImportPlan
    batch: RegisterBatch | None


def import_register(
    session: Session,
    *,
    keys: RegisterKeys,
    path: Path,
    columns_path: Path,
    source: str,
    geodata_dir: Path,
    today: date,
    now: datetime,
    index: GridIndex | None = None,
    as_of: datetime | None = None,
    commit: bool = False,
    user_id: int | None = None,
) -> ImportResult:
    """Plan a department's list; with ``commit``, write every good row as one batch (rows
    with problems are listed and never written) and retier the households it touched. The
    caller commits the transaction."""
    if not source.strip() or len(source) > MAX_SOURCE:
        raise FieldError("source", "register.source", limit=MAX_SOURCE)
    try:
        columns = read_column_file(columns_path)
    except TableError as exc:
        raise FieldError("columns", "register.columns", detail=str(exc)) from exc
    tags = load_tags(tags_file(geodata_dir))
    plan = plan_import(
        session,
        keys=keys,
        path=path,
        columns=columns,
        source=source.strip(),
        tags=tags,
        today=today,
        index=index,
        as_of=as_of,
    )
    batch = commit_plan(session, plan=plan, user_id=user_id, now=now) if commit else None
    if batch is not None:
        changed = households_of_batch(session, batch_id=batch.id)
        retier(session, household_ids=changed, today=today, now=now, geodata_dir=geodata_dir)
    return ImportResult(plan=plan, batch=batch)
