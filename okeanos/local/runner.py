"""The local step runner: runs the handler's EMR steps with the venv's ``spark-submit``.

It implements the handler's ``StepRunner`` interface, so the handler builds
exactly the arguments it would send to EMR. :meth:`LocalRunner.local_command`
then turns them into a local command: it drops the cluster-only options
(``--deploy-mode cluster``, ``--master yarn``, ``spark.yarn.*`` settings) and
runs in client mode on ``local[2]``. It also replaces the S3 job package and
entry script by a zip of the local packages and ``spark/okeanos_main.py``, and
starts the driver with the class archive of :mod:`okeanos_spark.class_archive`
(the first step that finds none writes it). When a
step ends, the runner reports it as an ``EMR Step Status Change`` event shaped
like EMR's (same ``detail`` keys) to the subscriber, the same handler function.
"""

from __future__ import annotations

import logging
import os
import random
import string
import subprocess
import sys
import time
import uuid
import zipfile
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Deque, Dict, List, Optional, Sequence, Tuple

from okeanos.exceptions import OkeanosError
from okeanos.task import TaskMessage
from okeanos.windows import format_utc, utc_now
from okeanos_spark import class_archive

logger = logging.getLogger(__name__)

LOCAL_CLUSTER_ID = "j-OKEANOSLOCAL"
LOCAL_MASTER = "local[2]"
REPO_ROOT = Path(__file__).resolve().parents[2]
# Options that only mean something on a YARN cluster, and take a value.
_CLUSTER_OPTIONS = {"--deploy-mode": "cluster", "--master": "yarn"}


class LocalStepError(OkeanosError):
    """A local step could not be started (no spark-submit, bad arguments)."""


@dataclass
class LocalStep:
    """One step queued or run by the local runner."""

    step_id: str
    name: str
    args: List[str]
    state: str = "PENDING"
    message: str = ""
    started: Optional[float] = None
    seconds: Optional[float] = None
    output_tail: List[str] = field(default_factory=list)


class LocalRunner:
    """Runs handler-built steps one at a time with the local ``spark-submit``.

    Parameters
    ----------
    spark_submit
        The ``spark-submit`` script; default: the one of the installed pyspark package.
    python
        Interpreter of the driver and the workers; default: this one.
    work_dir
        Where the job package zip is built; default: ``<state dir>/local``.
    env
        Extra environment variables for ``spark-submit``.
    timeout_seconds
        Limit of one step; a step that runs longer is killed and FAILED; default 1800.
    """

    cluster_id = LOCAL_CLUSTER_ID
    # The handler accepts local input paths only for a runner that reads them.
    reads_local_paths = True

    def __init__(
        self,
        *,
        spark_submit: Optional[str] = None,
        python: Optional[str] = None,
        work_dir: Optional[Path] = None,
        env: Optional[Dict[str, str]] = None,
        timeout_seconds: int = 1800,
    ) -> None:
        self.spark_submit = spark_submit or default_spark_submit()
        self.python = python or sys.executable
        if work_dir is None:
            from okeanos.settings import state_dir

            work_dir = state_dir() / "local"
        self.work_dir = Path(work_dir)
        self.env = dict(env or {})
        self.timeout_seconds = timeout_seconds
        self.steps: Dict[str, LocalStep] = {}
        self._pending: Deque[str] = deque()
        self._subscriber: Optional[Callable[[Dict[str, Any], Any], Any]] = None
        self._package: Optional[Path] = None

    def subscribe(self, subscriber: Callable[[Dict[str, Any], Any], Any]) -> None:
        """Send step status change events to ``subscriber(event, context)``."""
        self._subscriber = subscriber

    # -- StepRunner ----------------------------------------------------

    def check_cluster(self) -> None:
        """Accept steps always: the local runner has no cluster state."""

    def active_steps(self) -> List[Any]:
        from okeanos_handler.submission import ActiveStep

        return [
            ActiveStep(step.step_id, step.name) for step in self.steps.values() if step.state in ("PENDING", "RUNNING")
        ]

    def add_step(self, name: str, args: Sequence[str]) -> str:
        step_id = "s-" + "".join(random.choices(string.ascii_uppercase + string.digits, k=13))
        self.steps[step_id] = LocalStep(step_id, name, list(args))
        self._pending.append(step_id)
        return step_id

    def step_state(self, step_id: str) -> str:
        # A step of an earlier process ended with it (killed, or stopped
        # with Ctrl-C before its end was reported).
        step = self.steps.get(step_id)
        return step.state if step is not None else "CANCELLED"

    def step_task(self, step_id: str) -> Optional[TaskMessage]:
        from okeanos_handler.submission import task_from_args

        step = self.steps.get(step_id)
        return task_from_args(step.args) if step is not None else None

    # -- running -------------------------------------------------------

    @property
    def pending(self) -> int:
        """Steps waiting to run."""
        return len(self._pending)

    def local_command(self, args: Sequence[str]) -> List[str]:
        """Turn the EMR ``spark-submit`` arguments into a local command line."""
        if not args or args[0] != "spark-submit":
            raise LocalStepError(f"step arguments must start with spark-submit, got {list(args[:1])!r}")
        command = [self.spark_submit, "--master", LOCAL_MASTER, "--deploy-mode", "client"]
        rest = list(args[1:])
        position = 0
        while position < len(rest):
            arg = rest[position]
            value = rest[position + 1] if position + 1 < len(rest) else None
            if arg in _CLUSTER_OPTIONS:
                position += 2
                continue
            if arg == "--conf" and value is not None and value.startswith("spark.yarn."):
                position += 2
                continue
            if arg == "--py-files":
                # The next two arguments are the job package and the entry script.
                command += [
                    "--py-files",
                    str(self.job_package()),
                    str(REPO_ROOT / "spark" / "okeanos_main.py"),
                ]
                position += 3
                continue
            command.append(arg)
            position += 1
        return command

    def job_package(self) -> Path:
        """Return a zip of the ``okeanos`` and ``okeanos_spark`` packages, built once per runner."""
        if self._package is None:
            self.work_dir.mkdir(parents=True, exist_ok=True)
            path = self.work_dir / "okeanos-jobs.zip"
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
                for package_root, package in (
                    (REPO_ROOT, "okeanos"),
                    (REPO_ROOT / "spark", "okeanos_spark"),
                ):
                    for source in sorted((package_root / package).rglob("*.py")):
                        archive.write(source, source.relative_to(package_root).as_posix())
            self._package = path
        return self._package

    def run_next(self) -> Optional[LocalStep]:
        """Run the oldest pending step to its end, report it, and return it (``None``: none pending).

        Ctrl-C stops ``spark-submit``, reports the step as ``CANCELLED`` (so
        the task does not keep a step in flight) and raises
        ``KeyboardInterrupt`` again.
        """
        if not self._pending:
            return None
        step = self.steps[self._pending.popleft()]
        step.state = "RUNNING"
        step.started = time.monotonic()
        command = self.local_command(step.args)
        archive_options, creating = self._archive_options()
        if archive_options:
            command[1:1] = ["--driver-java-options", " ".join(archive_options)]
        env = dict(os.environ)
        env.update({"PYSPARK_PYTHON": self.python, "PYSPARK_DRIVER_PYTHON": self.python})
        env.update(self.env)

        logger.info("running step %s (%s)", step.step_id, step.name)
        try:
            completed = subprocess.run(
                command,
                env=env,
                capture_output=True,
                text=True,
                timeout=self.timeout_seconds,
                check=False,
            )
            output = (completed.stderr or "").splitlines()
            step.output_tail = output[-20:]
            if completed.returncode == 0:
                step.state = "COMPLETED"
                step.message = "completed"
            else:
                step.state = "FAILED"
                step.message = f"spark-submit exited with status {completed.returncode}: " + " | ".join(output[-3:])
        except subprocess.TimeoutExpired:
            step.state = "FAILED"
            step.message = f"timed out after {self.timeout_seconds} s"
        except OSError as exc:
            step.state = "FAILED"
            step.message = f"spark-submit could not start: {exc}"
        except KeyboardInterrupt:
            # subprocess.run has killed spark-submit before re-raising.
            step.state = "CANCELLED"
            step.message = "interrupted with Ctrl-C"
            if creating:
                class_archive.finish_creation(archive_options, succeeded=False)
            self._report(step)
            raise

        if creating:
            class_archive.finish_creation(archive_options, succeeded=step.state == "COMPLETED")
        self._report(step)
        return step

    def _archive_options(self) -> Tuple[List[str], bool]:
        """Return the driver's class archive options, and whether they write a new archive."""
        created = class_archive.creation_options()
        if created is not None:
            return created, True
        return class_archive.java_options(), False

    def _report(self, step: LocalStep) -> None:
        step.seconds = time.monotonic() - (step.started or time.monotonic())
        if self._subscriber is not None:
            self._subscriber(step_status_change_event(step, self.cluster_id), None)


def default_spark_submit() -> str:
    """Return the ``spark-submit`` script of the installed pyspark package."""
    import pyspark

    path = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    if not path.exists():
        raise LocalStepError(f"spark-submit not found at {path}; reinstall pyspark in the virtualenv")
    return str(path)


def step_status_change_event(step: LocalStep, cluster_id: str, *, now: Optional[datetime] = None) -> Dict[str, Any]:
    """Return an ``EMR Step Status Change`` event for ``step``, shaped as EMR sends it."""
    moment = now or utc_now()
    failed = step.state != "COMPLETED"
    verb = "completed execution" if not failed else "failed"
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "EMR Step Status Change",
        "source": "aws.emr",
        "account": "000000000000",
        "time": format_utc(moment),
        "region": "local-1",
        "resources": [],
        "detail": {
            "severity": "ERROR" if failed else "INFO",
            "actionOnFailure": "CONTINUE",
            "stepId": step.step_id,
            "name": step.name,
            "clusterId": cluster_id,
            "state": step.state,
            "message": (
                f"Step {step.step_id} ({step.name}) in Amazon EMR cluster {cluster_id} (okeanos local) "
                f"{verb} at {moment.strftime('%Y-%m-%d %H:%M')} UTC. {step.message if failed else ''}"
            ).strip(),
        },
    }
