"""The Spark driver program of an EMR step: run one task message.

Command line (stable: the Lambda that submits steps builds exactly this)::

    spark-submit [spark options] okeanos_main.py \\
        --task <TaskMessage.to_argument()> \\
        [--opensearch-url URL] [--index-prefix PREFIX]

``--task``
    The task message as URL-safe base64 of its JSON
    (:meth:`okeanos.task.TaskMessage.to_argument`). Its job must be registered.
``--opensearch-url``
    The cluster the views are written to; ``$OPENSEARCH_URL`` or the local
    node if not given.
``--index-prefix``
    Prefix of the index names; ``$OKEANOS_INDEX_PREFIX`` or ``okeanos`` if not given.

The task's window is resolved when the driver starts ("now" means the
driver's clock), the task name is the views' source, and the input is read
with the task's format. Exit status: 0 when the run succeeded, 1 when it
failed, 2 when the arguments, the task message (a format that is not one of
the job's, say) or a setting such as the OpenSearch URL are invalid. Logs go to
stderr as one JSON object per line with the keys ``level``, ``timestamp``,
``message``, ``logger``, ``job``, ``task`` and ``run_id``. Under spark-submit
they appear on its stdout, because Spark's launcher of Python applications
merges the driver's stderr into stdout (seen with Spark 3.5.6 in local mode),
interleaved with Spark's own log4j lines, which are not JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import datetime, timezone
from typing import List, Optional

from okeanos.exceptions import ConfigurationError, OkeanosError, TaskMessageError, WindowError

logger = logging.getLogger("okeanos_spark.main")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class JsonLogFormatter(logging.Formatter):
    """Format each record as one JSON object with fixed keys and the run's ids."""

    def __init__(self, *, job: Optional[str] = None, task: Optional[str] = None, run_id: Optional[str] = None) -> None:
        super().__init__()
        self.job = job
        self.task = task
        self.run_id = run_id

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "level": record.levelname,
            "timestamp": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "message": record.getMessage(),
            "logger": record.name,
            "job": self.job,
            "task": self.task,
            "run_id": self.run_id,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def parse_arguments(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the step arguments (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="okeanos_main.py", description="Run one okeanos task message.")
    parser.add_argument("--task", required=True, help="the task message, as TaskMessage.to_argument() encodes it")
    parser.add_argument("--opensearch-url", help="cluster URL (default: $OPENSEARCH_URL or the local node)")
    parser.add_argument("--index-prefix", help="index name prefix (default: $OKEANOS_INDEX_PREFIX or okeanos)")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Decode the task, run it, and return the exit status."""
    from okeanos.task import from_argument
    from okeanos_spark.metrics import publish_freshness
    from okeanos_spark.registry import get_job, job_names
    from okeanos_spark.run import new_run_id

    formatter = JsonLogFormatter()
    _configure_logging(formatter)
    args = parse_arguments(argv)

    try:
        task = from_argument(args.task, jobs=job_names())
        window = task.window.resolve()
        formats = get_job(task.job).formats
        if task.input_format not in formats:
            raise TaskMessageError(
                "input.format",
                f"{task.input_format!r} is not a format of job {task.job}; use one of: {', '.join(formats)}",
            )
    except (TaskMessageError, WindowError) as exc:
        logger.error("invalid task message: %s", exc)
        return EXIT_USAGE

    formatter.job = task.job
    formatter.task = task.task
    formatter.run_id = new_run_id()
    logger.info("starting %s over %s (%s) for %s", task.job, task.input_uri, task.input_format, window)

    try:
        summary = _run(task, window, formatter.run_id, args)
    except ConfigurationError as exc:
        logger.error("invalid setting: %s", exc)
        return EXIT_USAGE
    except OkeanosError as exc:
        logger.error("run failed: %s", exc)
        return EXIT_FAILED
    except Exception:
        logger.exception("run failed with an unexpected error")
        return EXIT_FAILED
    logger.info(
        "run succeeded: %d events read, %d rejected, %d skipped, %d documents written, "
        "%d deleted, %.1f s",
        summary.events_read,
        summary.lines_rejected,
        summary.lines_skipped,
        summary.documents_written,
        summary.documents_deleted,
        summary.duration_seconds,
    )
    if task.resubmit:
        # Only a continuous task's step measures how current its view is; a
        # backfill chunk of last year would read as a year of lag.
        publish_freshness(task.task, window.end)
    return EXIT_OK


def _run(task, window, run_id: str, args: argparse.Namespace):
    from okeanos_spark.run import run_job
    from okeanos_spark.session import build_session

    spark = build_session(app_name=f"okeanos-{task.job}-{task.task}")
    return run_job(
        spark,
        job=task.job,
        input_path=task.input_uri,
        input_format=task.input_format,
        source=task.source,
        window=window,
        run_id=run_id,
        opensearch_url=args.opensearch_url,
        index_prefix=args.index_prefix,
    )


def _configure_logging(formatter: logging.Formatter) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    # The okeanos loggers report each stage at INFO; py4j and others stay at WARNING.
    for name in ("okeanos", "okeanos_spark"):
        logging.getLogger(name).setLevel(logging.INFO)
