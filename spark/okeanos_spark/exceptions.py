"""Errors of a Spark run: writing views to OpenSearch and checking what was written."""

from __future__ import annotations

from okeanos.exceptions import OkeanosError


class SinkError(OkeanosError):
    """Base class of the errors raised while writing a view to OpenSearch."""


class SinkUnavailableError(SinkError):
    """OpenSearch could not be reached at ``url`` after every retry.

    ``url`` is the cluster URL with any user name and password removed.
    """

    def __init__(self, message: str, url: str) -> None:
        super().__init__(message)
        self.url = url


class SinkItemError(SinkError):
    """OpenSearch did not index a document.

    ``doc_id``, ``status`` and ``reason`` describe the first failed item;
    ``failed`` counts every failed item of the run.
    """

    def __init__(self, doc_id: str, status: int, reason: str, failed: int) -> None:
        super().__init__(
            f"{failed} document(s) were not indexed; the first, id {doc_id}, "
            f"failed with status {status}: {reason}"
        )
        self.doc_id = doc_id
        self.status = status
        self.reason = reason
        self.failed = failed


class SinkCountError(SinkError):
    """The number of documents written differs from the number of rows produced."""
