"""``gridgov import register`` and ``gridgov register ...``: department lists, the
grassroots' own files, import history, undo, removal."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from gridgov.config import get_settings
from gridgov.db import session_scope
from gridgov.errors import FieldError
from gridgov.register.imports import ImportPlan

app = typer.Typer(help="The register (一张表): history, undo, removal.", no_args_is_help=True)
Lang = Annotated[str, typer.Option(help="Language of the report: zh or en.", envvar="GRIDGOV_LANG")]
SHOWN = 200  # lines of changes and conflicts printed; the counts say how many there are


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=1)


def _sessions():
    from gridgov.runtime import session_factory

    return session_factory(get_settings())


def _keys():
    from gridgov.register.protect import register_keys
    from gridgov.users.secret import SecretKeyError

    try:
        return register_keys(get_settings())
    except SecretKeyError as exc:
        raise _fail(str(exc)) from exc


def _index(session: Session):
    from gridgov.boundaries.generations import active_generation
    from gridgov.boundaries.index import GridIndex

    generation = active_generation(session)
    return GridIndex.build(session, generation=generation) if generation else None


def report(plan: ImportPlan, lang: str) -> list[str]:
    """The dry run's report as lines: counts, problems by row, changes, conflicts."""
    counts = plan.counts()
    lines = [" ".join(f"{k}={v}" for k, v in counts.items())]
    lines += [f"  row {p.row}: {p.column}: {p.said(lang)}" for p in plan.problems]
    for title, changes in (("change", plan.changes), ("conflict", plan.conflicts)):
        for c in changes[:SHOWN]:
            lines.append(f"  {title} row {c.row}: {c.entity} {c.field}: {c.old} -> {c.new}")
        if len(changes) > SHOWN:
            lines.append(f"  ... {len(changes) - SHOWN} more {title}s")
    return lines


def import_register_command(
    file: Path,
    source: Annotated[str, typer.Option(help="The department the list comes from, e.g. 民政局.")],
    columns: Annotated[Path, typer.Option(help="Its column file (see geodata/register/columns/).")],
    commit: Annotated[bool, typer.Option(help="Write the good rows (default: dry run).")] = False,
    as_of: Annotated[
        datetime | None,
        typer.Option(help="When the department drew the list: newer than a visit, it wins."),
    ] = None,
    lang: Lang = "zh",
) -> None:
    """Match a department's list with the register; report matched, new, ambiguous and
    invalid rows and every change; --commit writes the good rows as one batch."""
    from gridgov.register.service import import_register

    settings, keys = get_settings(), _keys()
    if as_of is not None and as_of.tzinfo is None:
        from zoneinfo import ZoneInfo

        as_of = as_of.replace(tzinfo=ZoneInfo(settings.timezone))
    with session_scope(_sessions()) as session:
        try:
            result = import_register(
                session,
                keys=keys,
                path=file,
                columns_path=columns,
                source=source,
                geodata_dir=settings.geodata_dir,
                today=settings.today(),
                now=datetime.now(UTC),
                index=_index(session),
                as_of=as_of,
                commit=commit,
            )
        except FieldError as exc:
            raise _fail(f"{exc.field}: {exc.reason(lang)}") from exc
        for line in report(result.plan, lang):
            typer.echo(line)
        if result.batch is None:
            session.rollback()
            typer.echo("dry run: add --commit to write the good rows")
            return
        typer.echo(f"batch {result.batch.id} written")


@app.command("load")
def load_command(
    folder: Annotated[Path, typer.Argument(help="houses.csv, households.csv, people.csv ...")],
    lang: Lang = "zh",
) -> None:
    """Load the grassroots' own register files (canonical columns) as one batch."""
    from gridgov.register.grassroots import load_grassroots
    from gridgov.register.vocabulary import load_tags, tags_file

    settings, keys = get_settings(), _keys()
    if not folder.is_dir():
        raise _fail(f"{folder}: no such folder")
    with session_scope(_sessions()) as session:
        load = load_grassroots(
            session,
            keys=keys,
            folder=folder,
            index=_index(session),
            tags=load_tags(tags_file(settings.geodata_dir)),
            today=settings.today(),
            now=datetime.now(UTC),
        )
    for name, problem in load.problems:
        typer.echo(f"  {name}.csv row {problem.row}: {problem.column}: {problem.said(lang)}")
    typer.echo(f"batch {load.batch_id}: " + " ".join(f"{k}={v}" for k, v in load.counts.items()))


@app.command("batches")
def batches_command() -> None:
    """Import history, newest first."""
    from gridgov.register.batches import list_batches

    with session_scope(_sessions()) as session:
        for batch in list_batches(session):
            state = f"undone {batch.undone_at:%Y-%m-%d %H:%M}" if batch.undone_at else ""
            counts = " ".join(f"{k}={v}" for k, v in batch.counts.items())
            typer.echo(
                f"{batch.id}\t{batch.created_at:%Y-%m-%d %H:%M}\t{batch.source}\t"
                f"{batch.file_name}\t{counts}\t{state}".rstrip()
            )


@app.command("undo")
def undo_command(batch: int, lang: Lang = "zh") -> None:
    """Put back what a batch changed and remove what it created."""
    from gridgov.register.batches import undo_batch

    with session_scope(_sessions()) as session:
        try:
            undone = undo_batch(session, batch_id=batch, user_id=None, now=datetime.now(UTC))
        except FieldError as exc:
            raise _fail(exc.reason(lang)) from exc
    typer.echo(
        f"batch {batch} undone: {undone.restored} fields restored, {undone.removed} records"
        f" removed, {undone.kept} fields changed again since and kept"
    )


@app.command("remove")
def remove_command(person: int, lang: Lang = "zh") -> None:
    """Erase a person's personal fields, keeping what the counts need (docs/PRIVACY.md)."""
    from gridgov.register.removal import remove_person

    with session_scope(_sessions()) as session:
        try:
            remove_person(session, person_id=person, user_id=None, now=datetime.now(UTC))
        except FieldError as exc:
            raise _fail(exc.reason(lang)) from exc
    typer.echo(f"person {person}: personal fields erased")
