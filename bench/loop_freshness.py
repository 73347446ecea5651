"""Freshness of the local loop: from a log line written to the input directory to its count in OpenSearch.

``python -m bench.loop_freshness [--lines N] [--quick] [--opensearch-url URL]``

The local loop (the AWS handler, the in-process topic and the local
``spark-submit`` runner) runs ``http_status_hourly`` continuously over an
empty directory ("last hour as of now", no interval). A writer appends one
combined-format line with the current time every 2 to 6 seconds. A poller
reads the sum of ``requests`` of the view every 0.25 seconds. Line ``i`` is
visible when that sum reaches ``i``; its freshness is the time from its
write to then. Without ``--opensearch-url`` a temporary local node is
started on a free port of 127.0.0.1 and stopped at the end.

Goals, read against the output and not enforced: p50 <= 10 s, p95 <= 30 s.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

JOB = "http_status_hourly"
TASK = "bench-freshness"
GOAL_P50_SECONDS = 10
GOAL_P95_SECONDS = 30
POLL_SECONDS = 0.25
# How long after the last write a line may take to show before the run gives up.
SETTLE_TIMEOUT_SECONDS = 300


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """Run the benchmark and return its figures (also printed as JSON)."""
    parser = argparse.ArgumentParser(prog="bench.loop_freshness", description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=20, help="lines to write and time (default 20)")
    parser.add_argument("--quick", action="store_true", help="8 lines instead of the default")
    parser.add_argument("--opensearch-url", help="use this cluster instead of a temporary local node")
    parser.add_argument("--seed", type=int, default=17, help="seed of the write intervals (default 17)")
    args = parser.parse_args(argv)
    lines = 8 if args.quick else args.lines
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

    work = Path(tempfile.mkdtemp(prefix="okeanos-bench-freshness-"))
    node = None
    try:
        url = args.opensearch_url
        if url is None:
            node = _start_node(work)
            url = node.url
        result = _measure(url, work, lines, random.Random(args.seed))
    finally:
        if node is not None:
            node.stop()
            shutil.rmtree(node.home, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=2))
    return result


def _measure(url: str, work: Path, count: int, rng: random.Random) -> Dict[str, Any]:
    from okeanos.local.loop import LocalLoop
    from okeanos.local.runner import LocalRunner
    from okeanos.search import make_client
    from okeanos.state.sqlite import SqliteStateStore
    from okeanos.task import parse_task
    from okeanos_handler import app
    from okeanos_spark.registry import job_names

    app.set_log_level(logging.WARNING)
    # The poller searches the view before the first step creates it: each
    # 404 and 503 of that wait is expected, not worth a warning line.
    logging.getLogger("opensearch").setLevel(logging.ERROR)
    input_dir = work / "incoming"
    input_dir.mkdir()
    prefix = "fresh" + uuid.uuid4().hex[:8]
    loop = LocalLoop(
        store=SqliteStateStore(work / "tasks.sqlite"),
        runner=LocalRunner(work_dir=work / "runner"),
        opensearch_url=url,
        index_prefix=prefix,
    )
    message = parse_task(
        {
            "version": 1, "task": TASK, "job": JOB,
            "input": {"uri": str(input_dir), "format": "combined"},
            "window": {"runasof": "now", "lastnhours": 1},
            "resubmit": True, "interval_seconds": 0,
        },
        jobs=job_names(),
    )
    stopping = threading.Event()
    cycle_seconds: List[float] = []
    loop.start(message)
    loop_thread = threading.Thread(
        target=loop.run,
        kwargs={"stop": stopping.is_set, "on_cycle": lambda cycle: cycle_seconds.append(cycle.step.seconds or 0.0)},
        daemon=True,
    )
    loop_thread.start()

    client = make_client(url)
    written: List[float] = []
    visible: Dict[int, float] = {}
    poller = threading.Thread(target=_poll, args=(client, prefix, visible, stopping), daemon=True)
    poller.start()
    log = input_dir / "access.log"
    for number in range(1, count + 1):
        time.sleep(rng.uniform(2.0, 6.0))
        _append_line(log, number)
        written.append(time.monotonic())
    deadline = time.monotonic() + SETTLE_TIMEOUT_SECONDS
    while len(visible) < count and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
    stopping.set()
    loop_thread.join(timeout=600)
    poller.join(timeout=10)

    freshness = sorted(visible[n] - written[n - 1] for n in range(1, count + 1) if n in visible)
    return {
        "benchmark": "loop_freshness",
        "lines": count,
        "lines_seen": len(freshness),
        "p50_seconds": round(_percentile(freshness, 50), 1) if freshness else None,
        "p95_seconds": round(_percentile(freshness, 95), 1) if freshness else None,
        "max_seconds": round(freshness[-1], 1) if freshness else None,
        "cycles": len(cycle_seconds),
        "cycle_seconds_median": round(statistics.median(cycle_seconds), 1) if cycle_seconds else None,
        "goals": {"p50_seconds": GOAL_P50_SECONDS, "p95_seconds": GOAL_P95_SECONDS},
        "load_average": [round(value, 2) for value in os.getloadavg()],
    }


def _append_line(path: Path, number: int) -> None:
    moment = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
    line = f'10.0.0.{number % 250 + 1} - - [{moment}] "GET /bench/{number} HTTP/1.1" 200 {100 + number} "-" "okeanos-bench"\n'
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line)


def _poll(client: Any, prefix: str, visible: Dict[int, float], stopping: threading.Event) -> None:
    from okeanos.indices import view_index

    index = view_index(JOB, prefix=prefix)
    body = {"size": 0, "query": {"term": {"source": TASK}}, "aggs": {"requests": {"sum": {"field": "requests"}}}}
    while not stopping.is_set():
        try:
            response = client.search(index=index, body=body)
            total = int(response["aggregations"]["requests"]["value"])
        except Exception:  # the index does not exist before the first cycle writes it
            total = 0
        now = time.monotonic()
        for number in range(1, total + 1):
            visible.setdefault(number, now)
        time.sleep(POLL_SECONDS)


def _percentile(values: List[float], percent: float) -> float:
    """Nearest-rank percentile of sorted ``values``."""
    rank = max(1, int(round(percent / 100 * len(values) + 0.4999)))
    return values[min(rank, len(values)) - 1]


def _start_node(work: Path):
    from okeanos.local.opensearch import LocalOpenSearch

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # A home of its own under the system temporary directory: when run as
    # root, the node runs as another user, who must be able to enter it.
    node = LocalOpenSearch(Path(tempfile.mkdtemp(prefix="okeanos-bench-opensearch-")), port=port, heap="512m")
    node.install()
    node.start()
    return node


if __name__ == "__main__":
    main(sys.argv[1:])
