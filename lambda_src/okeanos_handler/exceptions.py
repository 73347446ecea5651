"""Errors of the okeanos handler, one per way a submission can fail."""

from __future__ import annotations

from okeanos.exceptions import OkeanosError


class SubmissionError(OkeanosError):
    """A step could not be submitted now; the task message is requeued, not dropped."""


class ClusterFullError(SubmissionError):
    """The cluster has its maximum of PENDING plus RUNNING steps (or of backfill steps)."""


class ClusterUnavailableError(SubmissionError):
    """The cluster is not in a state that accepts steps, or EMR rejected the request."""


class StepArgumentsError(OkeanosError, ValueError):
    """The ``spark-submit`` arguments built for a task are invalid (empty or too long)."""
