"""Errors of local mode: the local OpenSearch node."""

from __future__ import annotations

from okeanos.exceptions import OkeanosError


class LocalOpenSearchError(OkeanosError):
    """Base class of the errors raised while managing the local OpenSearch node."""


class OpenSearchInstallError(LocalOpenSearchError):
    """The OpenSearch distribution could not be fetched, verified or extracted."""


class OpenSearchStartError(LocalOpenSearchError):
    """The local OpenSearch node could not be started or did not become healthy."""


class OpenSearchPortInUseError(OpenSearchStartError):
    """The HTTP port of the local node is already bound by another process.

    ``port`` is the port that was requested.
    """

    def __init__(self, message: str, port: int) -> None:
        super().__init__(message)
        self.port = port


class OpenSearchJavaError(OpenSearchStartError):
    """No Java runtime of a version that OpenSearch supports was found."""


class OpenSearchStopError(LocalOpenSearchError):
    """The local OpenSearch node did not exit after SIGTERM and SIGKILL."""
