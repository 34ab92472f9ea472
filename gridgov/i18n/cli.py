"""One language per run of the ``gridgov`` command, for its messages and its ``--help``.

The language is chosen before anything is parsed: ``--lang zh|en`` anywhere on the command
line (before or after the sub-command), else ``GRIDGOV_LANG``, else zh. Help texts are
written as message keys and put into words when the command tree is built for the run.

How to write a command (the whole convention)::

    @my_app.command("thing", help="cli.thing.help")          # keys, not text
    def thing(
        file: Path,
        commit: Annotated[bool, typer.Option("--commit", help="cli.option.commit")] = False,
    ) -> None:
        if not file.exists():
            raise fail("cli.thing.missing", file=file)             # 错误：... on stderr, exit 1
        typer.echo(say("cli.thing.done", count=3))

Every key goes in both ``gridgov/i18n/zh.json`` and ``en.json``; a domain error with a
``reason(lang)`` (FieldError, Refusal) is shown by ``raise fail_with(error)``.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any, NoReturn, Protocol

import typer
from typer.core import TyperArgument, TyperGroup, TyperOption

from gridgov.i18n import DEFAULT_LANGUAGE, LANGUAGES, catalogue, t

_language: ContextVar[str] = ContextVar("gridgov_cli_language", default=DEFAULT_LANGUAGE)


class Explained(Protocol):
    def reason(self, lang: str = ...) -> str: ...


def language() -> str:
    """The language of this run (zh or en)."""
    return _language.get()


def use_language(lang: str) -> None:
    """Make ``lang`` the language of this run (the root group does it from --lang)."""
    _language.set(lang)


def say(key: str, **params: Any) -> str:
    """The message ``key`` in this run's language, its ``{placeholders}`` filled from
    ``params`` (the one helper a command needs for its output).

    >>> use_language("zh")
    >>> say("cli.dry_run")
    '试运行：未写入任何内容（加 --commit 才写入）'
    """
    return t(key, language(), **params)


def fail(key: str, **params: Any) -> typer.Exit:
    """Print ``错误：<message>`` (in this run's language) on stderr and return the Exit to
    raise: one line, exit code 1, no traceback."""
    return fail_text(say(key, **params))


def fail_with(error: BaseException) -> typer.Exit:
    """Like ``fail`` for a domain error: its ``reason(lang)`` when it has one."""
    reason = getattr(error, "reason", None)
    return fail_text(reason(language()) if callable(reason) else str(error))


def fail_text(message: str) -> typer.Exit:
    """Print an already worded message as the one error line; return the Exit to raise."""
    typer.echo(say("cli.error", message=message), err=True)
    return typer.Exit(code=1)


def normalise_language(value: str) -> str | None:
    """zh or en from ``en``, ``en_US.UTF-8``, ``zh-CN`` ...; None for anything else.

    >>> normalise_language("en_US.UTF-8"), normalise_language("zh-CN"), normalise_language("fr")
    ('en', 'zh', None)
    """
    code = re.split(r"[-_.]", value.strip().lower(), maxsplit=1)[0]
    return code if code in LANGUAGES else None


def choose_language(args: Sequence[str], environ: Mapping[str, str]) -> tuple[str, list[str]]:
    """The run's language and the arguments without ``--lang``: the last ``--lang X`` or
    ``--lang=X`` anywhere, else ``GRIDGOV_LANG``, else zh. An unknown value is refused.

    >>> choose_language(["import", "boundaries", "--lang", "en", "f.geojson"], {})
    ('en', ['import', 'boundaries', 'f.geojson'])
    >>> choose_language(["locate", "f.csv"], {"GRIDGOV_LANG": "en"})
    ('en', ['locate', 'f.csv'])
    """
    chosen: str | None = None
    rest: list[str] = []
    items = iter(args)
    for arg in items:
        text = str(arg)  # tests pass paths too
        if text == "--":
            rest.extend(["--", *items])
            break
        if text == "--lang" or text.startswith("--lang="):
            value = text.partition("=")[2] if "=" in text else str(next(items, ""))
            chosen = normalise_language(value)
            if chosen is None:
                raise UnknownLanguage(value)
            continue
        rest.append(arg)
    if chosen is None and environ.get("GRIDGOV_LANG"):
        chosen = normalise_language(environ["GRIDGOV_LANG"])
        if chosen is None:
            raise UnknownLanguage(environ["GRIDGOV_LANG"])
    return chosen or DEFAULT_LANGUAGE, rest


class UnknownLanguage(ValueError):
    """--lang or GRIDGOV_LANG names a language gridgov does not speak."""


# Typer's help panels read these module constants when they draw (titles, [required] ...).
_CHROME = {
    "ARGUMENTS_PANEL_TITLE": "cli.panel.arguments",
    "OPTIONS_PANEL_TITLE": "cli.panel.options",
    "COMMANDS_PANEL_TITLE": "cli.panel.commands",
    "REQUIRED_LONG_STRING": "cli.panel.required",
    "DEFAULT_STRING": "cli.panel.default",
    "ENVVAR_STRING": "cli.panel.envvar",
}


def localize(command: Any, lang: str) -> None:
    """Put every help text of a built command tree that is a message key into words, and
    the help panels' own words too."""
    from typer import rich_utils

    for constant, key in _CHROME.items():
        setattr(rich_utils, constant, catalogue(lang)[key])  # raw: "[default: {}]"
    for each in _walk(command):
        for attribute in ("help", "short_help", "epilog"):
            setattr(each, attribute, _words(getattr(each, attribute, None), lang))
        for param in each.params:
            if hasattr(param, "help"):
                param.help = _words(param.help, lang)
        help_option = each.get_help_option(typer.Context(each))
        if help_option is not None:
            help_option.help = t("cli.option.help", lang)


def help_keys(command: Any) -> Iterator[tuple[str, str | None]]:
    """(where, help text) for every command and parameter of a built tree, for tests."""
    for each in _walk(command):
        yield each.name or "gridgov", each.help
        for param in each.params:
            if isinstance(param, TyperOption | TyperArgument):
                yield f"{each.name} {param.name}", param.help


def _walk(command: Any) -> Iterator[Any]:
    yield command
    for child in getattr(command, "commands", {}).values():
        yield from _walk(child)


def _words(text: str | None, lang: str) -> str | None:
    if text is not None and text.strip() in catalogue(DEFAULT_LANGUAGE):
        return t(text.strip(), lang)
    return text


# Click's own refusals (a missing option, a bad value) are English; the frequent ones are
# said in the run's language, the rest keep their words behind a translated lead.
_USAGE = (
    (
        re.compile(
            r"^Missing (?:option|argument|parameter) (?P<name>'[^']*'|\S+?)\.?(?P<rest>.*)$", re.S
        ),
        "cli.usage.missing",
    ),
    (re.compile(r"^No such option: (?P<name>\S+)(?P<rest>.*)$"), "cli.usage.no_such_option"),
    (re.compile(r"^No such command '(?P<name>[^']*)'\.(?P<rest>.*)$"), "cli.usage.no_such_command"),
    (re.compile(r"^Invalid value for (?P<name>.+?): (?P<rest>.*)$", re.S), "cli.usage.invalid"),
    (re.compile(r"^Got unexpected extra arguments? \((?P<name>.*)\)$"), "cli.usage.extra"),
    (re.compile(r"^Missing command\.?$"), "cli.usage.no_command"),
)


def usage_message(message: str, lang: str) -> str:
    """A click usage error in ``lang``.

    >>> usage_message("Missing option '--level'.", "zh")
    "缺少 '--level'"
    """
    for pattern, key in _USAGE:
        if match := pattern.match(message):
            found = match.groupdict()
            rest = " ".join((found.get("rest") or "").split())
            rest = rest.replace("Choose from:", t("cli.usage.choose", lang))
            return t(key, lang, name=found.get("name", ""), rest=rest).strip()
    return message


class LocalizedGroup(TyperGroup):
    """The root group: chooses the run's language, then builds the help in it and says
    usage errors in it (the CLI's ``--help`` and messages are never mixed)."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            lang, rest = choose_language(sys.argv[1:] if args is None else args, os.environ)
        except UnknownLanguage as exc:
            typer.echo(t("cli.error", message=t("cli.unknown_language", value=exc)), err=True)
            sys.exit(2)
        use_language(lang)
        localize(self, lang)
        prog_name = prog_name or "gridgov"
        if not standalone_mode:
            return super().main(rest, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(rest, prog_name, complete_var, standalone_mode=False, **extra)
        except typer.TyperException as exc:
            _show_usage_error(exc, lang)
        except typer.Abort:
            typer.echo(t("cli.aborted", lang), err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def _show_usage_error(exc: typer.TyperException, lang: str) -> NoReturn:
    context = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError":  # the help is shown already
        sys.exit(exc.exit_code)
    typer.echo(t("cli.error", lang, message=usage_message(exc.format_message(), lang)), err=True)
    if context is not None:
        typer.echo(t("cli.usage.hint", lang, command=context.command_path), err=True)
    sys.exit(exc.exit_code)
