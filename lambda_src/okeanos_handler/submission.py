"""Submitting steps to EMR, with the retries and capacity checks a shared cluster needs.

:class:`StepRunner` is what the loop controller needs from a cluster;
:class:`EmrSubmitter` implements it with boto3 (the local runner in
``okeanos.local.runner`` implements it with a local ``spark-submit``).
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Protocol, Sequence

from okeanos.exceptions import TaskMessageError
from okeanos.task import TaskMessage, from_argument

from okeanos_handler.exceptions import ClusterUnavailableError, SubmissionError
from okeanos_handler.steps import COMMAND_RUNNER_JAR

logger = logging.getLogger(__name__)

ACTIVE_STATES = ("PENDING", "RUNNING")
# "You can only add steps to a cluster that is in one of the following
# states: STARTING, BOOTSTRAPPING, RUNNING, or WAITING." (Amazon EMR API
# Reference, AddJobFlowSteps)
ACCEPTING_CLUSTER_STATES = ("STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING")
THROTTLING_CODES = ("ThrottlingException", "Throttling", "TooManyRequestsException")
REJECTED_CODES = ("ValidationException", "InvalidRequestException")


@dataclass(frozen=True)
class ActiveStep:
    """A PENDING or RUNNING step on the cluster."""

    step_id: str
    name: str


class StepRunner(Protocol):
    """A cluster that runs okeanos steps."""

    cluster_id: str

    def check_cluster(self) -> None:
        """Raise :class:`ClusterUnavailableError` unless the cluster accepts steps now."""

    def active_steps(self) -> List[ActiveStep]:
        """Return the PENDING and RUNNING steps of the cluster."""

    def add_step(self, name: str, args: Sequence[str]) -> str:
        """Add one step running ``args`` with command-runner.jar; return its step id."""

    def step_state(self, step_id: str) -> str:
        """Return the state of ``step_id`` (``PENDING``, ``COMPLETED``, ``FAILED``...)."""

    def step_task(self, step_id: str) -> Optional[TaskMessage]:
        """Return the task message that ``step_id`` runs, or ``None`` if it carries none."""


class EmrSubmitter:
    """:class:`StepRunner` for an EMR cluster, through a boto3 EMR client.

    Throttled calls (``ThrottlingException``) are retried up to ``max_attempts``
    times with exponential backoff and full jitter; then
    :class:`SubmissionError` is raised, and the loop requeues the message.

    Parameters
    ----------
    client
        A boto3 EMR client. Build it with botocore retries off
        (``Config(retries={"max_attempts": 1})``) so this class alone decides retries.
    cluster_id
        The cluster that steps are added to.
    max_attempts
        Calls per operation before giving up on throttling; default 5.
    base_delay_seconds
        First backoff delay; it doubles on each attempt; default 0.5.
    sleep
        Called with the delay in seconds; tests pass a recorder.
    """

    def __init__(
        self,
        client: Any,
        cluster_id: str,
        *,
        max_attempts: int = 5,
        base_delay_seconds: float = 0.5,
        sleep: Optional[Callable[[float], None]] = None,
    ) -> None:
        self.cluster_id = cluster_id
        self._client = client
        self._max_attempts = max_attempts
        self._base_delay = base_delay_seconds
        self._sleep = sleep or time.sleep

    def check_cluster(self) -> None:
        response = self._call("describe_cluster", ClusterId=self.cluster_id)
        state = response["Cluster"]["Status"]["State"]
        if state not in ACCEPTING_CLUSTER_STATES:
            raise ClusterUnavailableError(
                f"cluster {self.cluster_id} is {state}; steps can be added only when it is "
                f"{', '.join(ACCEPTING_CLUSTER_STATES)}"
            )

    def active_steps(self) -> List[ActiveStep]:
        steps: List[ActiveStep] = []
        request = {"ClusterId": self.cluster_id, "StepStates": list(ACTIVE_STATES)}
        while True:
            response = self._call("list_steps", **request)
            steps.extend(ActiveStep(step["Id"], step.get("Name", "")) for step in response.get("Steps", []))
            marker = response.get("Marker")
            if not marker:
                return steps
            request["Marker"] = marker

    def add_step(self, name: str, args: Sequence[str]) -> str:
        step = {
            "Name": name,
            # CONTINUE: a failed okeanos step must never cancel other steps or
            # terminate a cluster that other work shares.
            "ActionOnFailure": "CONTINUE",
            "HadoopJarStep": {"Jar": COMMAND_RUNNER_JAR, "Args": list(args)},
        }
        response = self._call("add_job_flow_steps", JobFlowId=self.cluster_id, Steps=[step])
        step_ids = response.get("StepIds") or []
        if len(step_ids) != 1:
            raise SubmissionError(f"add_job_flow_steps on {self.cluster_id} returned step ids {step_ids!r}")
        return step_ids[0]

    def step_state(self, step_id: str) -> str:
        response = self._call("describe_step", ClusterId=self.cluster_id, StepId=step_id)
        return response["Step"]["Status"]["State"]

    def step_task(self, step_id: str) -> Optional[TaskMessage]:
        response = self._call("describe_step", ClusterId=self.cluster_id, StepId=step_id)
        args = response["Step"].get("Config", {}).get("Args", [])
        return task_from_args(args)

    def _call(self, operation: str, **request: Any) -> Any:
        method = getattr(self._client, operation)
        for attempt in range(1, self._max_attempts + 1):
            try:
                return method(**request)
            except self._client.exceptions.ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code in THROTTLING_CODES and attempt < self._max_attempts:
                    delay = random.uniform(0, self._base_delay * 2 ** (attempt - 1))
                    logger.warning(
                        "EMR %s on %s throttled (attempt %d of %d); retrying in %.2f s",
                        operation, self.cluster_id, attempt, self._max_attempts, delay,
                    )
                    self._sleep(delay)
                    continue
                if code in REJECTED_CODES:
                    raise ClusterUnavailableError(
                        f"EMR rejected {operation} on cluster {self.cluster_id}: {exc}"
                    ) from exc
                raise SubmissionError(f"EMR {operation} on cluster {self.cluster_id} failed: {exc}") from exc
        raise AssertionError("unreachable: the last attempt returns or raises")


def task_from_args(args: Sequence[str]) -> Optional[TaskMessage]:
    """Decode the ``--task`` argument of a step's arguments; ``None`` if absent or invalid."""
    for position, arg in enumerate(args[:-1]):
        if arg == "--task":
            try:
                return from_argument(args[position + 1])
            except TaskMessageError:
                return None
    return None
