"""One benchmark run of okeanos in a fresh process: start Spark, run the job, stop.

:mod:`bench.run` starts this module as a subprocess so that the Spark JVM
start-up is part of each measurement, and reported apart from the run. The
result is written as JSON to ``--out``: the seconds to build the session,
the seconds of ``run_job`` and of each of its stages (from its progress
messages), and the run summary.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

JOB = "http_status_hourly"


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, object]:
    """Run the job once and write the timings to ``--out``."""
    process_started = time.perf_counter()
    parser = argparse.ArgumentParser(prog="python -m bench.spark_run", description=__doc__.split("\n")[0])
    parser.add_argument("--input", required=True, help="directory of log files")
    parser.add_argument("--format", required=True, help="their format")
    parser.add_argument("--source", required=True, help="source name of the view documents")
    parser.add_argument("--opensearch-url", required=True, help="URL of the OpenSearch node")
    parser.add_argument("--out", required=True, help="where to write the JSON result")
    parser.add_argument("--master", default="local[*]", help="Spark master (default: %(default)s)")
    parser.add_argument(
        "--conf", action="append", default=[], metavar="KEY=VALUE", help="extra Spark setting (repeatable)"
    )
    args = parser.parse_args(argv)
    config = dict(item.split("=", 1) for item in args.conf)

    from okeanos_spark.run import run_job
    from okeanos_spark.session import build_session

    imported = time.perf_counter()
    spark = build_session("okeanos-bench", master=args.master, config=config, log_level="ERROR")
    session_ready = time.perf_counter()

    marks: List[Tuple[str, float]] = []
    summary = run_job(
        spark,
        job=JOB,
        input_path=args.input,
        input_format=args.format,
        source=args.source,
        opensearch_url=args.opensearch_url,
        progress=lambda message: marks.append((message, time.perf_counter())),
    )
    finished = time.perf_counter()
    effective = {key: spark.conf.get(key, None) for key in _REPORTED_SETTINGS}
    spark.stop()
    stopped = time.perf_counter()

    result = {
        "import_seconds": imported - process_started,
        "session_seconds": session_ready - imported,
        "run_seconds": finished - session_ready,
        "stop_seconds": stopped - finished,
        "stages": _stage_times(marks, session_ready, finished),
        "summary": summary.to_document(),
        "spark_settings": effective,
        "master": args.master,
    }
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=1, default=str)
    return result


_REPORTED_SETTINGS = (
    "spark.master",
    "spark.driver.memory",
    "spark.sql.shuffle.partitions",
    "spark.sql.files.maxPartitionBytes",
    "spark.sql.adaptive.enabled",
    "spark.default.parallelism",
)


def _stage_times(marks: List[Tuple[str, float]], started: float, finished: float) -> List[Dict[str, object]]:
    """Turn progress messages with their times into stages with durations."""
    stages = []
    previous_name, previous_time = "before the first stage", started
    for name, moment in marks:
        stages.append({"stage": previous_name, "seconds": round(moment - previous_time, 3)})
        previous_name, previous_time = name, moment
    stages.append({"stage": previous_name, "seconds": round(finished - previous_time, 3)})
    return stages


if __name__ == "__main__":
    main()
    sys.exit(0)
