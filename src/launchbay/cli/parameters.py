"""The table's flags as typer options, generated: ``@with_flags(command)``."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional, TypeVar

import typer

from launchbay.cli.flags import REPEATED, SWITCH, Flag, FlagError, ParsedFlags, PathValue, flags_of

CommandT = TypeVar("CommandT", bound=Callable[..., None])


def annotation(flag: Flag) -> object:
    """The type typer reads for ``flag``: bool, or an optional value or list.
    (Spelled as calls: these are values made at run time, not annotations.)"""
    if flag.form == SWITCH:
        return bool
    value_type: object = Path if flag.value_type is PathValue else flag.value_type
    if flag.form == REPEATED:
        value_type = list.__class_getitem__(value_type)
    return Optional.__getitem__(value_type)


def _parameter(flag: Flag) -> inspect.Parameter:
    option = typer.Option(
        False if flag.form == SWITCH else None,
        *flag.spellings,
        help=flag.help,
        rich_help_panel=flag.panel,
        show_default=False,
        metavar=flag.metavar,
    )
    return inspect.Parameter(
        flag.attribute, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation(flag)
    )


def with_flags(command_name: str) -> Callable[[CommandT], CommandT]:
    """Give a command the table's flags for ``command_name``; it receives them
    as one ``options: ParsedFlags`` argument, and a ``FlagError`` it raises
    becomes typer's usage error (exit 2)."""
    table = flags_of(command_name)

    def decorate(command: CommandT) -> CommandT:
        signature = inspect.signature(command)
        hints = typing.get_type_hints(command)
        own = [
            p.replace(annotation=hints.get(p.name, p.annotation))
            for p in signature.parameters.values()
            if p.name != "options"
        ]
        positional = [p for p in own if p.kind is not inspect.Parameter.KEYWORD_ONLY]
        keyword = [p for p in own if p.kind is inspect.Parameter.KEYWORD_ONLY]

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> None:
            values = {flag.attribute: kwargs.pop(flag.attribute) for flag in table}
            # typer gives None for a repeatable flag never given
            options = ParsedFlags(**{key: value for key, value in values.items() if value is not None})
            try:
                command(options=options, **kwargs)
            except FlagError as exc:
                raise typer.BadParameter(str(exc), param_hint=exc.param_hint) from None

        new_signature = signature.replace(
            parameters=positional
            + [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in keyword]
            + [_parameter(flag) for flag in table]
        )
        wrapper.__signature__ = new_signature  # type: ignore[attr-defined]
        del wrapper.__wrapped__  # typer must read the new signature, not the original
        wrapper.__annotations__ = {p.name: p.annotation for p in new_signature.parameters.values()}
        return typing.cast(CommandT, wrapper)

    return decorate
