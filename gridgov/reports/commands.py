"""``gridgov report ...``: fill a department's form from the database."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from gridgov.config import get_settings
from gridgov.errors import FieldError
from gridgov.i18n import t
from gridgov.i18n.cli import fail, fail_text, fail_with, language

app = typer.Typer(help="cli.report.help", no_args_is_help=True)


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all (a temporary file, then a rename)."""
    folder = path.resolve().parent
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".gridgov-", suffix=path.suffix)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@app.command("fill", help="cli.report.fill.help")
def fill_command(
    template: Annotated[Path, typer.Argument(help="cli.report.fill.template")],
    area: Annotated[str, typer.Option(help="cli.report.fill.area")],
    period: Annotated[str, typer.Option(help="cli.report.month")],
    output: Annotated[Path, typer.Option("--output", "-o", help="cli.report.fill.output")],
    as_user: Annotated[str | None, typer.Option("--as", help="cli.report.fill.as")] = None,
) -> None:
    """Fill TEMPLATE.xlsx for an area and a month; nothing is written if any cell fails.
    With ``--as USERNAME`` the fill is that user's: their scope, and rosters as the
    register's read table lets them read people, each person shown written to the access
    log."""
    lang = language()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    from sqlalchemy import select

    from gridgov.db import session_scope
    from gridgov.errors import OutOfScope
    from gridgov.register.protect import check_keys, register_keys
    from gridgov.reports.fill import TemplateRefused
    from gridgov.reports.service import fill_report
    from gridgov.runtime import session_factory
    from gridgov.users.models import User
    from gridgov.users.secret import SecretKeyError

    settings = get_settings()
    try:
        data = template.read_bytes()
    except OSError as exc:
        raise fail_text(f"{template}: {exc.strerror or exc}") from exc
    bar = Progress(
        TextColumn(t("reports.filling", lang)),
        BarColumn(),
        MofNCompleteColumn(),
        transient=True,
        console=None,
    )
    task = bar.add_task("fill", total=None)
    keys = None
    if as_user is not None:  # a roster opens sealed ID numbers: a lost key stops here
        try:
            keys = register_keys(settings)
            with session_scope(session_factory(settings)) as session:
                check_keys(session, keys)
        except SecretKeyError as exc:
            raise fail_with(exc) from exc
    try:
        with bar, session_scope(session_factory(settings)) as session:
            actor = None
            if as_user is not None:
                user = session.scalar(select(User).where(User.username == as_user))
                if user is None or not user.is_active:
                    raise FieldError("as", "reports.unknown_user", name=as_user)
                actor = user.actor()
            filled = fill_report(
                session,
                data=data,
                area=area,
                period=period,
                geodata_dir=settings.geodata_dir,
                timezone=settings.timezone,
                actor=actor,
                keys=keys,
                template_name=template.name,
                lang=lang,
                today=settings.today(),
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
            # Committed on leaving: a roster's access-log rows (a fill writes nothing else).
    except TemplateRefused as exc:
        for problem in exc.problems:
            typer.echo(f"  {problem.sheet}!{problem.cell}: {problem.reason(lang)}", err=True)
        raise fail_text(f"{template}: {exc.reason(lang)}") from exc
    except FieldError as exc:
        raise fail("error.field", field=exc.field, reason=exc.reason(lang)) from exc
    except OutOfScope as exc:
        raise fail_text(exc.reason(lang)) from exc
    try:
        write_atomically(output, filled)
    except OSError as exc:
        raise fail_text(f"{output}: {exc.strerror or exc}") from exc
    typer.echo(t("reports.written", lang, path=output))


@app.command("grid-heads", help="cli.report.grid_heads.help")
def grid_heads_command(
    month: Annotated[str, typer.Option(help="cli.report.month")],
    csv: Annotated[bool, typer.Option("--csv", help="cli.report.grid_heads.csv")] = False,
) -> None:
    """Grid heads' month: reports made and confirmed valid, incidents of the grid on time."""
    lang = language()
    from gridgov.db import session_scope
    from gridgov.reports.grid_heads import COLUMNS, grid_head_month, grid_heads_csv, red_level
    from gridgov.reports.indicators import month_period
    from gridgov.runtime import session_factory

    settings = get_settings()
    try:
        period = month_period(month, timezone=settings.timezone)
    except FieldError as exc:
        raise fail("error.field", field="month", reason=exc.reason(lang)) from exc
    with session_scope(session_factory(settings)) as session:
        rows = grid_head_month(session, period=period, red=red_level(settings.geodata_dir))
        session.rollback()  # reads only
    if csv:
        typer.echo(grid_heads_csv(rows), nl=False)
        return
    heads = [t(f"reports.grid_heads.{c}", lang) for c in COLUMNS]
    table = [heads, *(["" if v is None else str(v) for v in r.row().values()] for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(heads))]
    for line in table:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))
