"""The ``gridgov`` command: run the service, manage the database, import and look up."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from gridgov.boundaries.generations import (
    GenerationError,
    activate_generation,
    create_generation,
    latest_inactive_generation,
    list_generations,
)
from gridgov.boundaries.importer import ImportRefused, import_boundaries
from gridgov.boundaries.io import BoundaryFileError, Columns, read_boundary_file
from gridgov.boundaries.levels import Level
from gridgov.boundaries.quality import DEFAULT_SLIVER_M2
from gridgov.cache import GridIndexCache
from gridgov.config import get_settings
from gridgov.db import session_scope
from gridgov.db.embedded import cluster_for
from gridgov.departments.service import (
    DepartmentFileError,
    read_departments_csv,
    upsert_departments,
)
from gridgov.geo.crs import InputCRS
from gridgov.i18n.cli import LocalizedGroup, fail, fail_text, fail_with, language, say
from gridgov.register import commands as register_commands
from gridgov.reports import commands as report_commands

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

# Help texts are message keys (gridgov/i18n/{zh,en}.json, ``cli.*``): the root group puts
# them into the run's language (see gridgov/i18n/cli.py).
app = typer.Typer(
    cls=LocalizedGroup,
    name="gridgov",
    help="cli.app.help",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="cli.db.help", no_args_is_help=True)
import_app = typer.Typer(help="cli.import.help", no_args_is_help=True)
generations_app = typer.Typer(help="cli.generations.help", no_args_is_help=True)
demo_app = typer.Typer(help="cli.demo.help", no_args_is_help=True)
users_app = typer.Typer(help="cli.users.help", no_args_is_help=True)
forms_app = typer.Typer(help="cli.forms.help", no_args_is_help=True)
secret_app = typer.Typer(help="cli.secret.help", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(import_app, name="import")
app.add_typer(generations_app, name="generations")
app.add_typer(demo_app, name="demo")
app.add_typer(users_app, name="users")
app.add_typer(forms_app, name="forms")
app.add_typer(secret_app, name="secret")
app.add_typer(register_commands.app, name="register")
import_app.command("register", help="cli.register.import.help")(
    register_commands.import_register_command
)
app.add_typer(report_commands.app, name="report")

Commit = Annotated[bool, typer.Option("--commit", help="cli.option.commit")]


@app.callback()
def _root(
    lang: Annotated[str, typer.Option("--lang", help="cli.option.lang")] = "zh",
) -> None:
    # --lang is taken off the command line before parsing (it may stand anywhere); this
    # parameter only shows it in the help.
    del lang


def _sessions():
    from gridgov.runtime import session_factory

    return session_factory(get_settings())


@app.command(help="cli.serve.help")
def serve(
    demo: Annotated[bool | None, typer.Option("--demo/--no-demo", help="cli.serve.demo")] = None,
    host: Annotated[str | None, typer.Option(help="cli.serve.host")] = None,
    port: Annotated[int | None, typer.Option(help="cli.serve.port")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="cli.serve.workers")] = 1,
) -> None:
    """Run the HTTP service (migrating the database first)."""
    import uvicorn

    from gridgov.demo import prepare_demo
    from gridgov.logs import configure_logging
    from gridgov.register.protect import check_keys, register_keys
    from gridgov.users.secret import SecretKeyError, TokenSecret

    settings = get_settings()
    try:
        TokenSecret(settings)  # made (or checked) once, before any worker starts
        keys = register_keys(settings)
    except SecretKeyError as exc:
        raise fail_with(exc) from exc
    configure_logging(json_lines=settings.log_format == "json", level=settings.log_level)
    if demo is None:
        demo = settings.environment != "production"
    elif demo and settings.environment == "production":
        raise fail("cli.serve.no_demo_in_production")
    with session_scope(_sessions()) as session:
        try:
            check_keys(session, keys)  # a lost key would add everyone again on import
        except SecretKeyError as exc:
            raise fail_with(exc) from exc
        changed = prepare_demo(session, geodata_dir=settings.geodata_dir, load=demo, keys=keys)
    if changed and not demo:
        typer.echo(say("cli.serve.demo_switched_off", users=", ".join(changed)))
    uvicorn.run(
        "api.main:serve_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        # Logging is ours (JSON, request ids); the request line is written by the app.
        log_config=None,
        access_log=False,
    )


@db_app.command("start", help="cli.db.start.help")
def db_start() -> None:
    """Start the embedded cluster (creating it on first use) and migrate it."""
    settings = get_settings()
    if settings.database_url:
        raise fail("cli.db.start.external")
    _sessions()
    typer.echo(cluster_for(settings.data_dir).url)


@db_app.command("stop", help="cli.db.stop.help")
def db_stop() -> None:
    """Stop the embedded cluster."""
    stopped = cluster_for(get_settings().data_dir).stop()
    typer.echo(say("cli.db.stopped" if stopped else "cli.db.not_running"))


@db_app.command("status", help="cli.db.status.help")
def db_status() -> None:
    """Say whether the embedded cluster runs (exit code 1 when it does not)."""
    cluster = cluster_for(get_settings().data_dir)
    if not cluster.is_running():
        typer.echo(say("cli.db.not_running"))
        raise typer.Exit(code=1)
    typer.echo(say("cli.db.running", url=cluster.url))


@import_app.command("boundaries", help="cli.import.boundaries.help")
def import_boundaries_command(
    file: Annotated[Path, typer.Argument(help="cli.argument.boundary_file")],
    level: Annotated[Level, typer.Option(help="cli.import.boundaries.level")],
    crs: Annotated[str | None, typer.Option(help="cli.import.boundaries.crs")] = None,
    generation: Annotated[int | None, typer.Option(help="cli.import.boundaries.generation")] = None,
    sliver_m2: Annotated[float, typer.Option(help="cli.import.boundaries.sliver_m2")] = (
        DEFAULT_SLIVER_M2
    ),
    code_column: Annotated[
        str | None, typer.Option(help="cli.import.boundaries.code_column")
    ] = None,
    name_column: Annotated[
        str | None, typer.Option(help="cli.import.boundaries.name_column")
    ] = None,
    parent_column: Annotated[
        str | None, typer.Option(help="cli.import.boundaries.parent_column")
    ] = None,
    within: Annotated[str | None, typer.Option(help="cli.import.boundaries.within")] = None,
    findings: Annotated[Path | None, typer.Option(help="cli.import.boundaries.findings")] = None,
    commit: Commit = False,
) -> None:
    """Check a boundary file and, with --commit, write it into a generation."""
    lang = language()
    columns = Columns(code=code_column, name=name_column, parent=parent_column)
    try:
        frame = read_boundary_file(file, level=level, crs=crs, columns=columns)
    except BoundaryFileError as exc:
        raise fail_with(exc) from exc
    with session_scope(_sessions()) as session:
        target = generation
        if target is None:
            latest = latest_inactive_generation(session)
            target = latest.id if latest else create_generation(session, name=file.stem).id
        try:
            result = import_boundaries(
                session,
                frame=frame,
                level=level,
                generation_id=target,
                sliver_m2=sliver_m2,
                dry_run=not commit,
                within=within,
            )
        except ImportRefused as refused:
            typer.echo(refused.report.render(lang))
            _write_findings(findings, refused.report.to_geojson(lang))
            session.rollback()
            raise fail("cli.refused", file=file) from refused
        typer.echo(result.report.render(lang))
        _write_findings(findings, result.report.to_geojson(lang))
        if not commit:
            session.rollback()
            typer.echo(say("cli.dry_run"))
        else:
            level_name = say(f"level.{level.value}")
            typer.echo(
                say(
                    "cli.import.boundaries.wrote", count=result.written, level=level_name, id=target
                )
            )


def _write_findings(path: Path | None, collection: dict[str, object]) -> None:
    if path is not None:
        import json

        path.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
        typer.echo(say("cli.import.boundaries.findings_written", path=path))


@import_app.command("departments", help="cli.import.departments.help")
def import_departments_command(
    file: Annotated[Path, typer.Argument(help="cli.argument.table_file")],
    commit: Commit = False,
) -> None:
    """Check departments (code, name, level, area_code, role) and, with --commit, load them."""
    from gridgov.departments.service import check_department_areas

    try:
        rows = read_departments_csv(file)
    except DepartmentFileError as exc:
        raise fail_with(exc) from exc
    with session_scope(_sessions()) as session:
        if problems := check_department_areas(session, rows=rows):
            raise fail("cli.problems_in_file", file=file, problems=problems)
        if not commit:
            typer.echo(say("cli.valid_dry_run", count=len(rows), what=say("cli.what.departments")))
            return
        upsert_departments(session, rows=rows)
    typer.echo(say("cli.wrote", count=len(rows), what=say("cli.what.departments")))


@generations_app.command("list", help="cli.generations.list.help")
def generations_list() -> None:
    """List boundary generations."""
    with session_scope(_sessions()) as session:
        for g in list_generations(session):
            state = say("cli.generations.active" if g.is_active else "cli.generations.inactive")
            typer.echo(f"{g.id}\t{state}\t{g.created_at:%Y-%m-%d %H:%M}\t{g.name}")


@generations_app.command("new", help="cli.generations.new.help")
def generations_new(name: Annotated[str, typer.Argument(help="cli.generations.new.name")]) -> None:
    """Create an empty, inactive generation and print its id."""
    with session_scope(_sessions()) as session:
        typer.echo(create_generation(session, name=name).id)


@generations_app.command("activate", help="cli.generations.activate.help")
def generations_activate(
    generation_id: Annotated[int, typer.Argument(help="cli.generations.activate.id")],
) -> None:
    """Make a generation the one that answers lookups."""
    with session_scope(_sessions()) as session:
        try:
            activate_generation(
                session,
                generation_id=generation_id,
                edge_tolerance_m=get_settings().edge_tolerance_m,
            )
        except GenerationError as exc:
            raise fail_with(exc) from exc
    typer.echo(say("cli.generations.activated", id=generation_id))


@demo_app.command("load", help="cli.demo.load.help")
def demo_load() -> None:
    """Load the demo city (once) and make it active."""
    from gridgov.demo import prepare_demo

    settings = get_settings()
    if settings.environment == "production":
        raise fail("cli.demo.no_demo_in_production")
    from gridgov.register.protect import check_keys, register_keys
    from gridgov.users.secret import SecretKeyError

    try:
        keys = register_keys(settings)
    except SecretKeyError as exc:
        raise fail_with(exc) from exc
    with session_scope(_sessions()) as session:
        try:
            check_keys(session, keys)
        except SecretKeyError as exc:
            raise fail_with(exc) from exc
        prepare_demo(session, geodata_dir=settings.geodata_dir, load=True, keys=keys)
    typer.echo(say("cli.demo.loaded"))


@secret_app.command("rotate", help="cli.secret.rotate.help")
def secret_rotate() -> None:
    """Replace the generated token-signing key: every token issued so far stops working."""
    from gridgov.users.secret import rotate_secret

    settings = get_settings()
    if settings.secret_key is not None:
        raise fail("cli.secret.set_in_environment")
    path = rotate_secret(settings.data_dir)
    typer.echo(say("cli.secret.rotated", path=path))


@app.command(help="cli.locate.help")
def locate(
    file: Annotated[Path, typer.Argument(help="cli.locate.file")],
    crs: Annotated[InputCRS, typer.Option(help="cli.locate.crs")] = InputCRS.WGS84,
    lon_column: Annotated[str | None, typer.Option(help="cli.locate.lon_column")] = None,
    lat_column: Annotated[str | None, typer.Option(help="cli.locate.lat_column")] = None,
    encoding: Annotated[str | None, typer.Option(help="cli.locate.encoding")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="cli.locate.output")] = None,
) -> None:
    """Add grid and area codes to every row of a CSV; every other cell stays as it was."""
    from gridgov.boundaries.points_file import coordinate_columns, locate_table
    from gridgov.errors import FieldError
    from gridgov.i18n import t
    from gridgov.tables import TableError, read_csv_text

    lang = language()
    try:
        source = read_csv_text(file, encoding=encoding)
        lon, lat = coordinate_columns(list(source.frame.columns), lon=lon_column, lat=lat_column)
    except TableError as exc:
        raise fail_with(exc) from exc
    except FieldError as exc:
        raise fail_text(f"{file}: {exc.reason(lang)}") from exc
    with session_scope(_sessions()) as session:
        index = GridIndexCache().get(session)
        if index is None:
            raise fail("locate.no_boundaries")
        result = locate_table(
            session, index=index, table=source.frame, lon_column=lon, lat_column=lat, crs=crs
        )
    for problem in result.unplaced[:20]:
        reason = t(problem.reason, lang, value=problem.value)
        typer.echo(t("locate.row", lang, row=problem.row, reason=reason), err=True)
    if len(result.unplaced) > 20:
        typer.echo(t("locate.more", lang, count=len(result.unplaced) - 20), err=True)
    if output:
        result.frame.to_csv(
            output, index=False, encoding=source.encoding, lineterminator=source.line_terminator
        )
    else:
        typer.echo(result.frame.to_csv(index=False), nl=False)
    summary = t("locate.summary", lang, located=result.located, rows=len(result.frame))
    typer.echo(summary + (f": {output}" if output else ""), err=not output)


@import_app.command("categories", help="cli.import.categories.help")
def import_categories_command(
    file: Annotated[Path, typer.Argument(help="cli.argument.table_file")],
    commit: Commit = False,
) -> None:
    """Check the incident categories (code, parent_code, name_zh, name_en, urgent); --commit
    writes them."""
    from gridgov.responsibilities.service import load_categories

    _import_catalogue(
        file, "cli.what.categories", lambda s: (load_categories(s, path=file), []), commit
    )


@import_app.command("responsibilities", help="cli.import.responsibilities.help")
def import_responsibilities_command(
    file: Annotated[Path, typer.Argument(help="cli.argument.table_file")],
    commit: Commit = False,
) -> None:
    """Check a responsibility list (CSV or .xlsx) and, with --commit, make it the list."""
    from gridgov.responsibilities.service import (
        ResponsibilityListError,
        read_responsibility_file,
        replace_rules,
        validate_rules,
    )

    with session_scope(_sessions()) as session:
        try:
            rules = validate_rules(session, read_responsibility_file(file))
        except ResponsibilityListError as exc:
            _refuse(file, exc.problems)
        if not commit:
            typer.echo(say("cli.valid_dry_run", count=len(rules), what=say("cli.what.rules")))
            return
        replace_rules(session, rules=rules)
    typer.echo(say("cli.import.responsibilities.replaced", count=len(rules)))


def _refuse(file: Path, problems: list[Any], *, shown: int = 50) -> NoReturn:
    """List a refused file's problems (the first ``shown``), then fail: nothing written."""
    lang = language()
    for problem in problems[:shown]:
        said = problem.say(lang) if hasattr(problem, "say") else str(problem)
        typer.echo(f"  {said}")
    if len(problems) > shown:
        typer.echo("  " + say("cli.more_problems", count=len(problems) - shown))
    raise fail("cli.refused_problems", file=file, count=len(problems))


@users_app.command("add", help="cli.users.add.help")
def users_add(
    username: Annotated[str, typer.Argument(help="cli.users.add.username")],
    role: Annotated[str, typer.Option(help="cli.users.add.role")],
    password: Annotated[
        str | None,
        typer.Option(help="cli.users.add.password", envvar="GRIDGOV_NEW_PASSWORD"),
    ] = None,
    generate_password: Annotated[
        bool, typer.Option("--generate-password", help="cli.users.add.generate_password")
    ] = False,
    display_name: Annotated[str | None, typer.Option(help="cli.users.add.display_name")] = None,
    area: Annotated[str | None, typer.Option(help="cli.users.add.area")] = None,
    department: Annotated[str | None, typer.Option(help="cli.users.add.department")] = None,
    grid: Annotated[str | None, typer.Option(help="cli.users.add.grid")] = None,
) -> None:
    """Create an account (the first admin of a city that is not the demo, for one)."""
    import secrets

    from gridgov.users.service import UserError, create_user

    if generate_password and password is not None:
        raise fail("cli.users.add.two_passwords")
    if generate_password:
        password = secrets.token_urlsafe(12)
    elif password is None:
        password = typer.prompt(
            say("cli.users.add.prompt"), hide_input=True, confirmation_prompt=True
        )
    with session_scope(_sessions()) as session:
        try:
            user = create_user(
                session,
                username=username,
                password=password,
                role=role,
                display_name=display_name,
                area_code=area,
                department_code=department,
                grid_code=grid,
            )
        except UserError as exc:
            raise fail_text(f"{exc.field}: {exc.reason(language())}") from exc
        typer.echo(say("cli.users.add.created", username=user.username, role=user.role, id=user.id))
    if generate_password:
        typer.echo(say("cli.users.add.password_once", password=password))


@app.command(help="cli.escalate.help")
def escalate(
    now: Annotated[bool, typer.Option("--now", help="cli.escalate.now")] = False,
) -> None:
    """Escalate every incident whose deadline has lapsed (吹哨报到), then exit."""
    from gridgov.incidents.escalation import run_escalation

    if not now:
        raise fail("cli.escalate.say_now")
    run = run_escalation(_sessions())
    typer.echo(
        say(
            "cli.escalate.done",
            escalated=len(run.escalated),
            overdue=len(run.overdue_at_top),
            late=len(run.late_check_ins),
        )
    )


@import_app.command("stockpiles", help="cli.import.stockpiles.help")
def import_stockpiles_command(
    file: Annotated[Path, typer.Argument(help="cli.argument.table_file")],
    commit: Commit = False,
) -> None:
    """Check stockpiles with their stock (CSV or .xlsx, a row per item lot); --commit writes."""
    from gridgov.supplies.stock import StockFileError, import_stock, read_stock_file

    with session_scope(_sessions()) as session:
        try:
            result = import_stock(
                session,
                rows=read_stock_file(file),
                edge_tolerance_m=get_settings().edge_tolerance_m,
            )
        except StockFileError as exc:
            _refuse(file, exc.problems)
        for code, grid, metres in result.attached:
            typer.echo("  " + say("cli.attached", code=code, metres=metres, grid=grid))
        if not commit:
            session.rollback()
            typer.echo(
                say("cli.import.stockpiles.dry_run", stockpiles=result.stockpiles, lots=result.lots)
            )
            return
    typer.echo(say("cli.import.stockpiles.wrote", stockpiles=result.stockpiles, lots=result.lots))


@import_app.command("items", help="cli.import.items.help")
def import_items_command(
    file: Annotated[Path, typer.Argument(help="cli.argument.table_file")],
    commit: Commit = False,
) -> None:
    """Check the item catalogue (code, name_zh, name_en, unit_zh, unit_en); --commit writes."""
    from gridgov.supplies.stock import load_items

    _import_catalogue(file, "cli.what.items", lambda s: (load_items(s, path=file), []), commit)


@import_app.command("incidents", help="cli.import.incidents.help")
def import_incidents_command(
    file: Annotated[Path, typer.Argument(help="cli.argument.table_file")],
    commit: Commit = False,
) -> None:
    """Bring in past incidents (a hotline's or a previous system's) with their original times;
    they notify nobody and escalate nothing. Times without an offset are the city's."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from gridgov.incidents.history import import_history, read_history_file
    from gridgov.tables import RowsRefused, TableError

    settings = get_settings()
    with session_scope(_sessions()) as session:
        index = GridIndexCache().get(session)
        if index is None:
            raise fail("locate.no_boundaries")
        try:
            result = import_history(
                session,
                rows=read_history_file(file),
                index=index,
                timezone=ZoneInfo(settings.timezone),
                now=datetime.now(UTC),
            )
        except RowsRefused as refused:
            _refuse(file, refused.problems)
        except TableError as exc:
            raise fail_with(exc) from exc
        counts = {"count": result.imported, "skipped": result.already_imported}
        if not commit:
            session.rollback()
            typer.echo(say("cli.import.incidents.dry_run", **counts))
            return
    typer.echo(say("cli.import.incidents.wrote", **counts))


@import_app.command("roads", help="cli.import.roads.help")
def import_roads_command(
    file: Annotated[Path, typer.Argument(help="cli.argument.line_file")],
    commit: Commit = False,
) -> None:
    """Replace the road network with the lines of a GeoJSON/GeoPackage/Shapefile."""
    from gridgov.supplies.roads import RoadNetwork, read_roads, replace_roads

    try:
        lines = read_roads(file)
    except Exception as exc:  # pyogrio raises several kinds for unreadable files
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise fail("table.unreadable", path=file, detail=detail) from exc
    if not lines:
        raise fail("cli.import.roads.no_lines", file=file)
    network = RoadNetwork.from_lines(lines)
    nodes = network.graph.number_of_nodes()
    typer.echo(say("cli.import.roads.counted", lines=len(lines), nodes=nodes))
    if not commit:
        typer.echo(say("cli.dry_run"))
        return
    with session_scope(_sessions()) as session:
        replace_roads(session, lines=lines)
    typer.echo(say("cli.import.roads.replaced"))


@import_app.command("sensors", help="cli.import.sensors.help")
def import_sensors_command(
    file: Annotated[Path, typer.Argument(help="cli.argument.table_file")],
    crs: Annotated[InputCRS, typer.Option(help="cli.locate.crs")] = InputCRS.WGS84,
    commit: Commit = False,
) -> None:
    """Check sensors (code, name, kind, owner_department, lon, lat, metrics); --commit writes."""
    from gridgov.sensors.catalogue import import_sensors

    def load(session: Session) -> tuple[int, list[str]]:
        result = import_sensors(
            session, path=file, crs=crs.value, edge_tolerance_m=get_settings().edge_tolerance_m
        )
        notes = [
            say("cli.attached", code=code, metres=metres, grid=grid)
            for code, grid, metres in result.attached
        ] + [say("cli.import.sensors.outside", code=code) for code in result.outside]
        return result.count, notes

    _import_catalogue(file, "cli.what.sensors", load, commit)


@import_app.command("sensor-rules", help="cli.import.sensor_rules.help")
def import_sensor_rules_command(
    file: Annotated[Path, typer.Argument(help="cli.argument.table_file")],
    commit: Commit = False,
) -> None:
    """Check sensor rules (see geodata/sensor_rules.csv for the columns); --commit writes."""
    from gridgov.sensors.catalogue import import_rules

    _import_catalogue(
        file, "cli.what.sensor_rules", lambda s: (import_rules(s, path=file), []), commit
    )


def _import_catalogue(
    file: Path, what: str, load: Callable[[Session], tuple[int, list[str]]], commit: bool
) -> None:
    """Check a catalogue or reference table in a transaction, list every problem, and keep
    it only with --commit (the check needs the database: departments, grids, categories).
    ``what`` is the key of the things' name (``cli.what.items``)."""
    from gridgov.sensors.catalogue import CatalogueError
    from gridgov.tables import TableError

    with session_scope(_sessions()) as session:
        try:
            count, notes = load(session)
        except CatalogueError as exc:
            _refuse(file, exc.problems)
        except TableError as exc:
            raise fail("cli.nothing_written", message=exc.reason(language())) from exc
        except OSError as exc:
            raise fail("table.unreadable", path=file, detail=exc.strerror or exc) from exc
        for note in notes:
            typer.echo(f"  {note}")
        if not commit:
            session.rollback()
            typer.echo(say("cli.valid_dry_run", count=count, what=say(what)))
            return
    typer.echo(say("cli.wrote", count=count, what=say(what)))


@forms_app.command("audit", help="cli.forms.audit.help")
def forms_audit(
    folder: Annotated[Path, typer.Argument(help="cli.forms.audit.folder")],
    xlsx: Annotated[Path | None, typer.Option(help="cli.forms.audit.xlsx")] = None,
    indicators: Annotated[Path | None, typer.Option(help="cli.forms.audit.indicators")] = None,
) -> None:
    """Which forms fill themselves, which could merge, and what no indicator covers."""
    from gridgov.forms.audit import FormError, audit_forms
    from gridgov.forms.audit_report import render_text, write_workbook
    from gridgov.forms.indicators import load_indicators

    lang = language()
    vocabulary = load_indicators(indicators or get_settings().geodata_dir / "indicators.csv")
    try:
        audit = audit_forms(folder, vocabulary)
    except FormError as exc:
        raise fail_with(exc) from exc
    typer.echo(render_text(audit, lang))
    if xlsx is not None:
        write_workbook(audit, xlsx, lang)
        typer.echo(str(xlsx))


def main() -> None:
    """The console entry point: no traceback reaches a user (GRIDGOV_DEBUG=1 shows it)."""
    import os
    import sys

    try:
        app()
    except Exception as exc:
        if os.environ.get("GRIDGOV_DEBUG"):
            raise
        first = str(exc).splitlines()[0] if str(exc) else ""
        detail = f"{type(exc).__name__}: {first}".rstrip(": ")
        typer.echo(say("cli.error", message=detail), err=True)
        typer.echo(say("cli.debug_hint"), err=True)
        sys.exit(1)
