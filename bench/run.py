"""The okeanos benchmark: http_status_hourly end to end, with DuckDB as the reference.

``python -m bench.run --size quick|full [--repeat N]`` (``make bench-quick``,
``make bench``):

1. generate combined web logs for each size (quick: 200k and 1M lines; full:
   1M, 3M and 10M), cached under ``bench/work/`` by the generator spec;
2. write the class archive of local Spark JVMs unless it exists
   (:mod:`okeanos_spark.class_archive`), and start a local OpenSearch node
   on a free port of 127.0.0.1;
3. for each size, run ``http_status_hourly`` into it with ``run_job`` in a
   fresh process (:mod:`bench.spark_run`), sampling the RSS of that
   process tree (Spark JVM and Python processes) 10 times a second, and
   check that the view equals the generator's summary; with ``--repeat N``,
   N runs of each engine, the median reported and every run checked;
4. for each size, run the same aggregation with DuckDB over the same files
   in a fresh process (:mod:`bench.duckdb_http_status`), also sampled and
   checked;
5. stop the node, call the ``main`` of the other benchmarks that exist
   (handler cold start, loop freshness, CDK synth time), and write everything
   to ``bench/results/<date>-<commit>-<size>.json``.

Events are the well-formed lines. Events per second divide them by the
seconds of ``run_job`` or of the DuckDB query; Spark's JVM start-up is
excluded from that figure and reported apart. The load average is recorded before the run
and before each measurement, because the machine may be shared.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from bench.compare import differences
from bench.measure import load_average, machine, run_measured
from okeanos.generate.web import WebLogSpec, WebLogSummary, generate_web_logs

logger = logging.getLogger("bench.run")

ROOT = Path(__file__).resolve().parents[1]
WORK_DIR = ROOT / "bench" / "work"
RESULTS_DIR = ROOT / "bench" / "results"
SIZES = {"quick": (200_000, 1_000_000), "full": (1_000_000, 3_000_000, 10_000_000)}
JOB = "http_status_hourly"
# The goals the numbers are read against; recorded with each result, not enforced.
GOALS = {"spark_events_per_second": 500_000, "spark_to_duckdb_ratio": 0.5, "peak_memory_bytes_at_10m": 2 * 1024**3}
# Other benchmark modules, each with main(argv) -> dict, run when present,
# with the arguments of their quick variant for --size quick.
OTHER_BENCHMARKS = {
    "handler_cold_start": ["--quick"],
    "loop_freshness": ["--quick"],
    "synth_time": [],
}
OPENSEARCH_HEAP = "1g"


def data_spec(fmt: str, lines: int) -> WebLogSpec:
    """Return the generator spec of a benchmark input: one day, 4 files per hour."""
    return WebLogSpec(format=fmt, lines=lines, hours=24, files_per_hour=4)


def ensure_data(spec: WebLogSpec) -> Dict[str, object]:
    """Generate the input of ``spec`` unless it is cached; return its directory, summary and timing."""
    directory = WORK_DIR / spec.cache_key()
    logs, summary_path = directory / "logs", directory / "summary.json"
    if summary_path.is_file():
        return {"logs": logs, "summary": WebLogSummary.load(summary_path), "cached": True}
    shutil.rmtree(directory, ignore_errors=True)
    started = time.perf_counter()
    summary = generate_web_logs(spec, logs)
    seconds = time.perf_counter() - started
    summary.save(summary_path)  # written last: its presence marks a complete input
    return {"logs": logs, "summary": summary, "cached": False, "seconds": seconds}


def view_rows(client, source: str) -> List[Dict[str, object]]:
    """Read the view documents of ``source`` as rows of bucket, status and metrics."""
    from opensearchpy.helpers import scan

    from okeanos.indices import view_index
    from okeanos_spark.registry import get_job

    (dimension,) = get_job(JOB).dimensions
    client.indices.refresh(index=view_index(JOB))
    query = {"query": {"term": {"source": source}}}
    return [
        {
            "bucket": hit["_source"]["bucket"],
            "status": hit["_source"][dimension],
            "requests": hit["_source"]["requests"],
            "bytes": hit["_source"]["bytes"],
            "clients": hit["_source"]["clients"],
        }
        for hit in scan(client, index=view_index(JOB), query=query)
    ]


def run_spark(logs: Path, fmt: str, source: str, url: str, conf: Sequence[str]) -> Dict[str, object]:
    """Run the job in a fresh process; return its timings and memory peaks."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
        out_path = out.name
    command = [
        sys.executable, "-m", "bench.spark_run", "--input", str(logs), "--format", fmt,
        "--source", source, "--opensearch-url", url, "--out", out_path,
    ]
    for item in conf:
        command += ["--conf", item]
    load = load_average()
    result = run_measured(command, env=_child_env())
    try:
        if result.returncode != 0:
            raise RuntimeError(f"the Spark run failed (exit {result.returncode}):\n{result.stderr[-4000:]}")
        timings = json.loads(Path(out_path).read_text(encoding="utf-8"))
    finally:
        os.unlink(out_path)
    timings.update(
        process_seconds=result.seconds, cpu_seconds=result.cpu_seconds, memory=result.memory, load_average_before=load
    )
    return timings


def run_duckdb(logs: Path, fmt: str, summary_path: Path) -> Dict[str, object]:
    """Run the DuckDB reference in a fresh process; return its measurement and memory peaks."""
    command = [
        sys.executable, "-m", "bench.duckdb_http_status", "--input", str(logs), "--format", fmt,
        "--summary", str(summary_path),
    ]
    load = load_average()
    result = run_measured(command, env=_child_env())
    if result.returncode not in (0, 1):
        raise RuntimeError(f"the DuckDB run failed (exit {result.returncode}):\n{result.stderr[-4000:]}")
    measurement = json.loads(result.stdout)
    measurement.update(
        process_seconds=result.seconds, cpu_seconds=result.cpu_seconds, memory=result.memory, load_average_before=load
    )
    return measurement


def median_run(runs: List[Dict[str, object]], key: str) -> Dict[str, object]:
    """Return the run with the median ``key`` (the lower middle one of an even count), with every run's ``key``."""
    ordered = sorted(runs, key=lambda run: run[key])
    chosen = dict(ordered[(len(ordered) - 1) // 2])
    chosen["repeats"] = [round(run[key], 3) for run in runs]
    return chosen


def measure_size(lines: int, fmt: str, client, url: str, conf: Sequence[str], repeat: int = 1) -> Dict[str, object]:
    """Generate (or reuse) one size, run Spark and DuckDB on it ``repeat`` times and check each against the summary.

    The figures reported are those of the median run of each engine; every
    run's time is kept in ``repeats``, and every run's output is checked.
    """
    spec = data_spec(fmt, lines)
    data = ensure_data(spec)
    summary: WebLogSummary = data["summary"]  # type: ignore[assignment]
    logs: Path = data["logs"]  # type: ignore[assignment]
    generation = {"cached": data["cached"], "seconds": data.get("seconds"), "spec": spec.cache_key()}
    if not data["cached"]:
        generation["lines_per_second"] = summary.lines / float(data["seconds"])  # type: ignore[arg-type]
    print(f"[{lines:,} lines] input ready ({'cached' if data['cached'] else 'generated'}): {logs}", flush=True)

    source = f"bench-{fmt}-{lines}"
    spark_runs = []
    for _ in range(repeat):
        spark_run = run_spark(logs, fmt, source, url, conf)
        spark_run["differences"] = differences(summary.rows(), view_rows(client, source))
        spark_runs.append(spark_run)
    spark = median_run(spark_runs, "run_seconds")
    spark_diff = [difference for run in spark_runs for difference in run["differences"]]
    spark["events_per_second"] = summary.events / spark["run_seconds"]
    spark["events_per_second_with_startup"] = summary.events / spark["process_seconds"]
    spark["view_matches_summary"] = not spark_diff
    spark["differences"] = spark_diff
    print(
        f"[{lines:,} lines] spark: run {spark['run_seconds']:.1f} s{_median_note(spark)} "
        f"({spark['events_per_second']:,.0f} events/s), session start {spark['session_seconds']:.1f} s, "
        f"peak RSS {spark['memory']['peak_total_rss_bytes'] / 2**20:,.0f} MiB, "
        f"view {'matches' if not spark_diff else 'DIFFERS FROM'} the summary",
        flush=True,
    )

    duck_runs = [run_duckdb(logs, fmt, logs.parent / "summary.json") for _ in range(repeat)]
    duck = median_run(duck_runs, "seconds")
    duck["matches_summary"] = all(run["matches_summary"] for run in duck_runs)
    print(
        f"[{lines:,} lines] duckdb: {duck['seconds']:.1f} s{_median_note(duck)} "
        f"({duck['events_per_second']:,.0f} events/s), "
        f"peak RSS {duck['memory']['peak_total_rss_bytes'] / 2**20:,.0f} MiB, "
        f"result {'matches' if duck['matches_summary'] else 'DIFFERS FROM'} the summary",
        flush=True,
    )
    return {
        "lines": summary.lines,
        "events": summary.events,
        "malformed_lines": summary.malformed_lines,
        "late_lines": summary.late_lines,
        "files": summary.files,
        "input_bytes": summary.bytes_written,
        "groups": len(summary.groups),
        "generation": generation,
        "spark": spark,
        "duckdb": duck,
        "spark_to_duckdb_ratio": spark["events_per_second"] / duck["events_per_second"],
    }


def scaling(runs: List[Dict[str, object]]) -> Dict[str, object]:
    """Describe how the run time grows with the input: seconds per million events at each size."""
    return {
        "events": [run["events"] for run in runs],
        "spark_run_seconds": [round(run["spark"]["run_seconds"], 2) for run in runs],
        "spark_seconds_per_million_events": [
            round(run["spark"]["run_seconds"] / run["events"] * 1e6, 3) for run in runs
        ],
        "duckdb_seconds": [round(run["duckdb"]["seconds"], 2) for run in runs],
        "duckdb_seconds_per_million_events": [
            round(run["duckdb"]["seconds"] / run["events"] * 1e6, 3) for run in runs
        ],
    }


def other_benchmarks(size: str) -> Dict[str, object]:
    """Call the ``main`` of each other benchmark module that exists; note the ones that do not."""
    results: Dict[str, object] = {}
    for name, quick_argv in OTHER_BENCHMARKS.items():
        if not (ROOT / "bench" / f"{name}.py").is_file():
            results[name] = {"skipped": f"bench/{name}.py does not exist yet"}
            print(f"{name}: skipped, bench/{name}.py does not exist", flush=True)
            continue
        argv = list(quick_argv) if size == "quick" else []
        load = load_average()
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.{name}")
            outcome = module.main(argv)
        except (Exception, SystemExit) as exc:  # one failing benchmark must not lose the others
            logger.exception("bench.%s failed", name)
            outcome = {"error": f"{type(exc).__name__}: {exc}"}
        results[name] = {
            "result": outcome,
            "seconds": time.perf_counter() - started,
            "load_average_before": load,
            "argv": argv,
        }
        print(f"{name}: done in {results[name]['seconds']:.1f} s", flush=True)
    return results


def commit() -> Dict[str, object]:
    """Return the short commit id and whether the working tree has uncommitted changes."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()

    return {"commit": git("rev-parse", "--short", "HEAD") or "unknown", "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


def start_opensearch():
    """Start a local OpenSearch node with a new home on a free port; return the node and a client."""
    from okeanos.local.opensearch import LocalOpenSearch
    from okeanos.search import make_client, wait_for_cluster

    home = Path(tempfile.mkdtemp(prefix="okeanos-bench-opensearch-"))
    node = LocalOpenSearch(home, port=_free_port(), heap=OPENSEARCH_HEAP)
    try:
        node.install()
        node.start()
        client = make_client(node.url)
        wait_for_cluster(client, timeout_seconds=120)
    except BaseException:
        stop_opensearch(node)
        raise
    return node, client


def stop_opensearch(node) -> None:
    """Stop a node from :func:`start_opensearch` and delete its home."""
    try:
        node.stop()
    finally:
        shutil.rmtree(node.home, ignore_errors=True)


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, object]:
    """Run the benchmark and write its result JSON; return the result."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="quick", help="input sizes to run (default: %(default)s)")
    parser.add_argument("--format", choices=("combined", "nginx-json"), default="combined", help="log format (default: %(default)s)")
    parser.add_argument("--lines", type=int, action="append", help="run this size instead of the --size list (repeatable)")
    parser.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE", help="extra Spark setting for the run")
    parser.add_argument("--skip-others", action="store_true", help="do not run the other benchmarks")
    parser.add_argument("--note", help="free text stored with the result, such as what was changed")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of each engine per size; the median is reported (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat: {args.repeat} is invalid; use 1 or more runs per size")
    for lines in args.lines or ():
        if lines < 1:
            parser.error(f"--lines: {lines} is invalid; use 1 or more lines")
    for item in args.conf:
        if "=" not in item or not item.split("=", 1)[0]:
            parser.error(f"--conf: {item!r} is invalid; write it as KEY=VALUE")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

    started_at = datetime.now(timezone.utc)
    result: Dict[str, object] = {
        "date": started_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        **commit(),
        "size": args.size if not args.lines else "custom",
        "format": args.format,
        "job": JOB,
        "machine": machine(),
        "load_average_before": load_average(),
        "goals": GOALS,
        "spark_conf": list(args.conf),
        "repeat": args.repeat,
        "note": args.note,
    }
    sizes = tuple(args.lines) if args.lines else SIZES[args.size]
    # Written before the first measurement, so that every Spark run starts
    # the same way, as local runs do once the archive exists.
    from okeanos_spark import class_archive

    archive = class_archive.ensure()
    result["class_archive"] = str(archive) if archive is not None else None
    print(f"class archive: {archive or 'none (disabled or unavailable)'}", flush=True)

    node, client = start_opensearch()
    runs = []
    try:
        for lines in sizes:
            runs.append(measure_size(lines, args.format, client, node.url, args.conf, args.repeat))
    finally:
        client.close()
        stop_opensearch(node)
    result["runs"] = runs
    result["scaling"] = scaling(runs)
    result["load_average_after"] = load_average()
    result["other"] = {} if args.skip_others else other_benchmarks(args.size)
    result["all_views_match"] = all(run["spark"]["view_matches_summary"] and run["duckdb"]["matches_summary"] for run in runs)

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{started_at:%Y%m%dT%H%M%SZ}-{result['commit']}-{result['size']}.json"
    path.write_text(json.dumps(result, indent=1, default=str) + "\n", encoding="utf-8")
    print(f"result: {path}", flush=True)
    return result


def _median_note(run: Dict[str, object]) -> str:
    repeats = run["repeats"]
    if len(repeats) < 2:  # type: ignore[arg-type]
        return ""
    return f" (median of {', '.join(f'{seconds:.1f}' for seconds in repeats)})"  # type: ignore[union-attr]


def _child_env() -> Dict[str, str]:
    env = dict(os.environ)
    env.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    # Python workers must run the virtualenv's interpreter, which has opensearch-py.
    env.setdefault("PYSPARK_PYTHON", sys.executable)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), str(ROOT / "spark"), env.get("PYTHONPATH")]))
    return env


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


if __name__ == "__main__":
    outcome = main()
    sys.exit(0 if outcome["all_views_match"] else 1)
