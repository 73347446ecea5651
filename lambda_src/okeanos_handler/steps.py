"""EMR step names and ``spark-submit`` arguments for a task.

Step names are ``okeanos:<task>:<window from>`` for a loop step and
``okeanos:<task>:<window from>:backfill`` for a fixed-window (backfill) step,
so an ``EMR Step Status Change`` event can be matched to its task by name,
and steps of other software on a shared cluster are recognised and ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Optional, Sequence

from okeanos.task import TASK_NAME_PATTERN, TaskMessage
from okeanos.windows import Window, format_utc

from okeanos_handler.exceptions import StepArgumentsError

STEP_NAME_PREFIX = "okeanos"
BACKFILL_SUFFIX = "backfill"
COMMAND_RUNNER_JAR = "command-runner.jar"

# "The string values passed into HadoopJarStep object cannot exceed a total
# of 10240 characters." (Amazon EMR API Reference, AddJobFlowSteps,
# https://docs.aws.amazon.com/emr/latest/APIReference/API_AddJobFlowSteps.html)
# The count below covers Jar and Args, the strings okeanos passes there.
MAX_STEP_STRING_CHARS = 10240

_STEP_NAME = re.compile(
    rf"^{STEP_NAME_PREFIX}:(?P<task>{TASK_NAME_PATTERN[1:-1]}):"
    r"(?P<start>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)"
    rf"(?::(?P<kind>{BACKFILL_SUFFIX}))?$"
)


@dataclass(frozen=True)
class StepName:
    """The parts of an okeanos step name."""

    task: str
    start: str
    backfill: bool

    @property
    def key(self) -> str:
        """The task-state key of the step's task (see :func:`state_key`)."""
        return f"{self.task}@{self.start}" if self.backfill else self.task

    def __str__(self) -> str:
        name = f"{STEP_NAME_PREFIX}:{self.task}:{self.start}"
        return f"{name}:{BACKFILL_SUFFIX}" if self.backfill else name


def is_backfill(message: TaskMessage) -> bool:
    """Return whether ``message`` is a backfill: a fixed ``[from, to)`` window rather than "last N hours"."""
    return not message.window.is_relative


def state_key(message: TaskMessage) -> str:
    """Return the task-state key: the task name, or ``task@from`` for a backfill.

    A backfill chunk gets its own key so that it neither waits for nor blocks
    the task's continuous loop, while its documents keep the task's source.
    """
    if is_backfill(message):
        assert message.window.start is not None
        return f"{message.task}@{format_utc(message.window.start)}"
    return message.task


def step_name(message: TaskMessage, window: Window) -> StepName:
    """Return the step name of ``message`` covering ``window``."""
    return StepName(message.task, format_utc(window.start), is_backfill(message))


def parse_step_name(name: str) -> Optional[StepName]:
    """Parse an okeanos step name; ``None`` for a step that okeanos did not submit."""
    match = _STEP_NAME.match(name or "")
    if match is None:
        return None
    return StepName(match.group("task"), match.group("start"), match.group("kind") is not None)


@dataclass(frozen=True)
class StepAssets:
    """Locations of the step's code, and the Spark job's options besides the task."""

    job_package_uri: str
    entry_script_uri: str
    opensearch_url: Optional[str] = None
    index_prefix: Optional[str] = None
    spark_conf: Sequence[str] = ()


def spark_submit_args(message: TaskMessage, assets: StepAssets) -> List[str]:
    """Build the command-runner.jar arguments that run ``message`` with ``spark-submit``.

    One argument per list element: command-runner.jar passes them to
    ``spark-submit`` as they are, with no shell in between, and the task
    travels as URL-safe base64 so no character of it needs quoting.

    Raises
    ------
    StepArgumentsError
        If an argument is empty or the total exceeds :data:`MAX_STEP_STRING_CHARS`.
    """
    args = [
        "spark-submit",
        "--deploy-mode", "cluster",
        "--master", "yarn",
        # A driver that fails must fail the step (and so reach the loop as a
        # FAILED event) rather than be retried by YARN behind its back.
        "--conf", "spark.yarn.maxAppAttempts=1",
    ]
    for setting in assets.spark_conf:
        args += ["--conf", setting]
    args += ["--py-files", assets.job_package_uri, assets.entry_script_uri, "--task", message.to_argument()]
    if assets.opensearch_url:
        args += ["--opensearch-url", assets.opensearch_url]
    if assets.index_prefix:
        args += ["--index-prefix", assets.index_prefix]
    check_step_args(args)
    return args


def check_step_args(args: Sequence[str]) -> None:
    """Raise :class:`StepArgumentsError` unless every argument is non-empty and all fit EMR's limit."""
    for position, arg in enumerate(args):
        if not isinstance(arg, str) or not arg:
            raise StepArgumentsError(f"step argument {position} is empty; every argument must be a non-empty string")
    total = len(COMMAND_RUNNER_JAR) + sum(len(arg) for arg in args)
    if total > MAX_STEP_STRING_CHARS:
        raise StepArgumentsError(
            f"step arguments total {total} characters; EMR accepts at most {MAX_STEP_STRING_CHARS}. "
            "Shorten the input URI or the asset locations."
        )
