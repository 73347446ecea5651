"""Errors shared by every okeanos runtime (CLI, Lambda handler, Spark job)."""

from __future__ import annotations


class OkeanosError(Exception):
    """Base class of every error okeanos raises on purpose."""


class WindowError(OkeanosError, ValueError):
    """A time window, instant or duration is invalid."""


class TaskMessageError(OkeanosError, ValueError):
    """A task message is invalid.

    ``field`` names the offending field as a dotted path (``window.from``),
    so operators can find it in the message they sent.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class ConfigurationError(OkeanosError):
    """A setting (environment variable, option or context value) is invalid or missing."""


class OpenSearchUnavailableError(OkeanosError):
    """An OpenSearch cluster is unreachable, rejects the credentials, or stays unhealthy."""
