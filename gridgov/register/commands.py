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
from gridgov.i18n import t
from gridgov.i18n.cli import fail, fail_with, language, say
from gridgov.register.imports import ImportPlan

app = typer.Typer(help="cli.register.help", no_args_is_help=True)
SHOWN = 200  # lines of changes and conflicts printed; the counts say how many there are


def _sessions():
    from gridgov.runtime import session_factory

    return session_factory(get_settings())


def _keys():
    """The register's keys, refused when they do not open what the register has sealed."""
    from gridgov.register.protect import check_keys, register_keys
    from gridgov.users.secret import SecretKeyError

    try:
        keys = register_keys(get_settings())
        with session_scope(_sessions()) as session:
            check_keys(session, keys)
    except SecretKeyError as exc:
        raise fail_with(exc) from exc
    return keys


def _index(session: Session):
    from gridgov.boundaries.generations import active_generation
    from gridgov.boundaries.index import GridIndex

    generation = active_generation(session)
    return GridIndex.build(session, generation=generation) if generation else None


def report(plan: ImportPlan, lang: str) -> list[str]:
    """The dry run's report as lines: counts, problems by row, changes, conflicts."""
    counts = plan.counts()
    lines = [" ".join(f"{k}={v}" for k, v in counts.items())]
    lines += [f"  {p.say(lang)}" for p in plan.problems]
    for title, changes in (("change", plan.changes), ("conflict", plan.conflicts)):
        for c in changes[:SHOWN]:
            lines.append(
                "  "
                + t(f"cli.register.{title}", lang, row=c.row, entity=c.entity, field=c.field)
                + f": {c.old} -> {c.new}"
            )
        if len(changes) > SHOWN:
            lines.append("  " + t(f"cli.register.more_{title}s", lang, count=len(changes) - SHOWN))
    return lines


def import_register_command(
    file: Annotated[Path, typer.Argument(help="cli.register.import.file")],
    source: Annotated[str, typer.Option(help="cli.register.import.source")],
    columns: Annotated[Path, typer.Option(help="cli.register.import.columns")],
    commit: Annotated[bool, typer.Option("--commit", help="cli.option.commit")] = False,
    as_of: Annotated[datetime | None, typer.Option(help="cli.register.import.as_of")] = None,
) -> None:
    """Match a department's list with the register; report matched, new, ambiguous and
    invalid rows and every change; --commit writes the good rows as one batch."""
    lang = language()
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
            raise fail("error.field", field=exc.field, reason=exc.reason(lang)) from exc
        for line in report(result.plan, lang):
            typer.echo(line)
        if result.batch is None:
            session.rollback()
            typer.echo(say("cli.dry_run"))
            return
        typer.echo(say("cli.register.batch_written", batch=result.batch.id))


@app.command("load", help="cli.register.load.help")
def load_command(
    folder: Annotated[Path, typer.Argument(help="cli.register.load.folder")],
) -> None:
    """Load the grassroots' own register files (canonical columns) as one batch."""
    from gridgov.register.grassroots import load_grassroots
    from gridgov.register.vocabulary import load_tags, tags_file

    settings, keys = get_settings(), _keys()
    if not folder.is_dir():
        raise fail("cli.register.no_folder", folder=folder)
    with session_scope(_sessions()) as session:
        load = load_grassroots(
            session,
            keys=keys,
            folder=folder,
            index=_index(session),
            tags=load_tags(tags_file(settings.geodata_dir)),
            today=settings.today(),
            now=datetime.now(UTC),
            geodata_dir=settings.geodata_dir,
        )
    for name, problem in load.problems:
        typer.echo(f"  {name}.csv: {problem.say(language())}")
    counts = " ".join(f"{k}={v}" for k, v in load.counts.items())
    typer.echo(say("cli.register.batch_counts", batch=load.batch_id, counts=counts))


@app.command("batches", help="cli.register.batches.help")
def batches_command() -> None:
    """Import history, newest first."""
    from gridgov.register.batches import list_batches

    with session_scope(_sessions()) as session:
        for batch in list_batches(session):
            undone = f"{batch.undone_at:%Y-%m-%d %H:%M}" if batch.undone_at else ""
            state = say("cli.register.undone_at", at=undone) if undone else ""
            counts = " ".join(f"{k}={v}" for k, v in batch.counts.items())
            typer.echo(
                f"{batch.id}\t{batch.created_at:%Y-%m-%d %H:%M}\t{batch.source}\t"
                f"{batch.file_name}\t{counts}\t{state}".rstrip()
            )


@app.command("undo", help="cli.register.undo.help")
def undo_command(batch: Annotated[int, typer.Argument(help="cli.register.undo.batch")]) -> None:
    """Put back what a batch changed and remove what it created."""
    from gridgov.register.batches import undo_batch

    settings = get_settings()
    with session_scope(_sessions()) as session:
        try:
            undone = undo_batch(
                session,
                batch_id=batch,
                user_id=None,
                now=datetime.now(UTC),
                today=settings.today(),
                geodata_dir=settings.geodata_dir,
            )
        except FieldError as exc:
            raise fail_with(exc) from exc
    typer.echo(
        say(
            "cli.register.undone",
            batch=batch,
            restored=undone.restored,
            removed=undone.removed,
            kept=undone.kept,
        )
    )


@app.command("remove", help="cli.register.remove.help")
def remove_command(
    person: Annotated[int, typer.Argument(help="cli.register.remove.person")],
) -> None:
    """Erase a person's personal fields, keeping what the counts need (docs/PRIVACY.md)."""
    from gridgov.register.removal import remove_person

    with session_scope(_sessions()) as session:
        try:
            remove_person(session, person_id=person, user_id=None, now=datetime.now(UTC))
        except FieldError as exc:
            raise fail_with(exc) from exc
    typer.echo(say("cli.register.removed", person=person))


@app.command("coverage", help="cli.register.coverage.help")
def coverage_command(
    month: Annotated[str, typer.Option(help="cli.register.coverage.month")],
    grid: Annotated[str | None, typer.Option(help="cli.register.coverage.grid")] = None,
    area: Annotated[str | None, typer.Option(help="cli.register.coverage.area")] = None,
) -> None:
    """Per grid: houses visited in the month (patrol or door) and red households not seen."""
    import re
    from datetime import date

    from gridgov.register.coverage import coverage

    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        raise fail("cli.register.coverage.bad_month", month=month)
    settings = get_settings()
    with session_scope(_sessions()) as session:
        try:
            found = coverage(
                session,
                reader=None,
                month=date(int(month[:4]), int(month[5:]), 1),
                timezone=settings.timezone,
                grid_code=grid,
                area_code=area,
            )
        except FieldError as exc:
            raise fail_with(exc) from exc
        for c in found:
            typer.echo(
                say(
                    "cli.register.coverage.line",
                    grid=c.grid,
                    visited=c.visited,
                    houses=c.houses,
                    share=f"{c.share:.0%}",
                    red=c.red,
                    unseen=c.red_not_seen,
                )
            )
            for household in c.not_seen:
                typer.echo(f"  {household.code}\t{household.address}")
        if not found:
            typer.echo(say("cli.register.coverage.none"))


@app.command("retier", help="cli.register.retier.help")
def retier_command() -> None:
    """Recompute every household's tier as of today (the daily job does it too)."""
    from gridgov.register.tiering import retier

    settings = get_settings()
    with session_scope(_sessions()) as session:
        changed = retier(
            session, today=settings.today(), now=datetime.now(UTC), geodata_dir=settings.geodata_dir
        )
    typer.echo(say("cli.register.retiered", count=changed))
