"""Markdown table rows from benchmark result files, for docs/benchmarks.md.

``python -m bench.report bench/results/*.json`` prints one row per input
size of each result, in the column order of the table in the docs. With
several runs per size (``bench.run --repeat``), the seconds are the median
run's, followed by the fastest and slowest run. Files that are not
throughput results (those of the other benchmarks) are skipped with a
line on standard error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Dict, Iterable, List

HEADER = (
    "| date (UTC) | commit | size | events | Spark run s | Spark events/s | session start s "
    "| Spark CPU s | peak RSS MiB | DuckDB s | DuckDB events/s | DuckDB CPU s | Spark / DuckDB "
    "| view = summary | load before |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def rows(result: Dict[str, object]) -> List[str]:
    """Return the table rows of one result."""
    out = []
    commit = str(result["commit"]) + ("+" if result.get("dirty") else "")
    for run in result["runs"]:  # type: ignore[union-attr]
        spark, duck = run["spark"], run["duckdb"]
        load = spark.get("load_average_before") or result["load_average_before"]
        out.append(
            f"| {result['date']} | {commit} | {_size(result)} | {run['events']:,} "
            f"| {_seconds(spark, 'run_seconds')} | {spark['events_per_second']:,.0f} | {spark['session_seconds']:.1f} "
            f"| {_cpu(spark)} | {spark['memory']['peak_total_rss_bytes'] / 2**20:,.0f} "
            f"| {_seconds(duck, 'seconds')} | {duck['events_per_second']:,.0f} | {_cpu(duck)} "
            f"| {run['spark_to_duckdb_ratio']:.2f} "
            f"| {'yes' if spark['view_matches_summary'] and duck['matches_summary'] else 'NO'} "
            f"| {load[0]:.1f} |"
        )
    return out


def _size(result: Dict[str, object]) -> str:
    """Return the size name, with the log format when it is not the default ``combined``."""
    log_format = result.get("format", "combined")
    if log_format == "combined":
        return str(result["size"])
    return f"{result['size']}, {log_format}"


def _seconds(measurement: Dict[str, object], key: str) -> str:
    """Format the median run's seconds, with the range of all runs when there were several."""
    seconds = f"{measurement[key]:.1f}"
    repeats = measurement.get("repeats") or []
    if len(repeats) > 1:  # type: ignore[arg-type]
        seconds += f" ({min(repeats):.1f} to {max(repeats):.1f})"  # type: ignore[type-var]
    return seconds


def _cpu(measurement: Dict[str, object]) -> str:
    # Results written before the sampler read CPU time from /proc have no
    # per-process CPU seconds, and their process-level figure is not comparable.
    memory = measurement["memory"]
    if "cpu_seconds" not in memory:  # type: ignore[operator]
        return "-"
    return f"{memory['cpu_seconds']:.1f}"  # type: ignore[index]


def main(paths: Iterable[str]) -> int:
    """Print the header and the rows of every result file given."""
    print(HEADER)
    for path in paths:
        try:
            result = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            print(f"skipping {path}: not readable as JSON ({exc})", file=sys.stderr)
            continue
        # bench/results/ also keeps the results of the other benchmarks.
        is_throughput = isinstance(result, dict) and isinstance(result.get("runs"), list) and "commit" in result
        if not is_throughput:
            print(f"skipping {path}: not a throughput result of bench.run", file=sys.stderr)
            continue
        for row in rows(result):
            print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
