"""Checks of option values that several commands share.

Each check raises :class:`~okeanos.exceptions.ConfigurationError` naming the
option, before anything runs.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Iterator, Mapping, Optional

from okeanos.exceptions import ConfigurationError, TaskMessageError
from okeanos.task import MAX_LASTNHOURS, TASK_NAME_PATTERN

# Task message fields that the commands build from an option of their own.
OPTION_OF_FIELD: Mapping[str, str] = {
    "task": "--task",
    "job": "JOB",
    "input.uri": "--input",
    "input.format": "--format",
    "window.lastnhours": "--lastnhours",
    "window.runasof": "--runasof",
    "interval_seconds": "--interval",
}


def check_input(value: Optional[str], option: str = "--input") -> Optional[str]:
    """Reject an empty or blank input, which would otherwise resolve to the current directory."""
    if value is not None and not value.strip():
        raise ConfigurationError(f"{option}: {value!r} is empty; give a log file, a directory or an s3:// URI")
    return value


def check_lastnhours(value: Optional[int], option: str = "--lastnhours") -> Optional[int]:
    """Reject a ``--lastnhours`` outside 1 to :data:`~okeanos.task.MAX_LASTNHOURS`."""
    if value is not None and not 1 <= value <= MAX_LASTNHOURS:
        raise ConfigurationError(f"{option}: expected a whole number of hours from 1 to {MAX_LASTNHOURS}, got {value}")
    return value


def check_source(value: Optional[str], option: str = "--source") -> Optional[str]:
    """Reject a source name that no task could have written (see ``TASK_NAME_PATTERN``)."""
    if value is not None and not re.match(TASK_NAME_PATTERN, value):
        raise ConfigurationError(
            f"{option}: {value!r} is not a valid source name; use 1 to 63 lower-case letters, "
            "digits, '.', '_' or '-', starting with a letter or digit"
        )
    return value


@contextmanager
def options_named() -> Iterator[None]:
    """Re-raise a :class:`TaskMessageError` on a field built from an option as an error naming the option."""
    try:
        yield
    except TaskMessageError as exc:
        option = OPTION_OF_FIELD.get(exc.field)
        if option is None:
            raise
        raise ConfigurationError(f"{option}: {exc.reason}") from exc
