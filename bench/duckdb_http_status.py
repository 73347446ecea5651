"""http_status_hourly computed by DuckDB over the same files, as the speed reference.

Per UTC hour and status text: requests, bytes (``-`` as 0) and exact
distinct clients, over the lines that parse. Combined logs are read as one
text column with ``read_csv`` and parsed with one ``regexp_extract``; Nginx
JSON lines are read with ``read_json``. Lines that do not parse (and JSON
lines without ``time``, ``remote_ip`` or ``response``) are left out, as
okeanos rejects them.

Run it alone over a generated directory::

    python -m bench.duckdb_http_status --input bench/work/<key>/logs \\
        --format combined --summary bench/work/<key>/summary.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import duckdb

from bench.compare import differences
from okeanos.generate.web import WebLogSummary

FORMATS = ("combined", "nginx-json")

# RE2 pattern of the combined format up to the bytes field: client, ident,
# user, [time], "request" (which may contain \" escapes), status, bytes.
COMBINED_PATTERN = r'^(\S+) \S+ \S+ \[([^\]]+)\] "(?:[^"\\]|\\.)*" (\d{3}) (\d+|-)'
_TIME_FORMAT = "%d/%b/%Y:%H:%M:%S %z"

_AGGREGATE = """
SELECT strftime(date_trunc('hour', ts), '%Y-%m-%dT%H:%M:%SZ') AS bucket,
       status,
       count(*) AS requests,
       CAST(sum(bytes) AS BIGINT) AS bytes,
       count(DISTINCT client) AS clients
FROM typed
GROUP BY ALL
ORDER BY bucket, status
"""


def query(directory: str, fmt: str) -> str:
    """Return the SQL that computes http_status_hourly over every file in ``directory``."""
    glob = _quote(str(Path(directory) / "*"))
    if fmt == "combined":
        # chr(1) as the delimiter and no quoting, so each line is one value.
        source = (
            f"read_csv({glob}, columns={{'line': 'VARCHAR'}}, delim='\x01', quote='', escape='', "
            "header=false, auto_detect=false, new_line='\\n')"
        )
        typed = f"""
WITH parsed AS (
  SELECT regexp_extract(line, {_quote(COMBINED_PATTERN)}, ['client', 'ts', 'status', 'bytes']) AS m
  FROM {source}
), typed AS (
  SELECT m.client AS client,
         strptime(m.ts, '{_TIME_FORMAT}') AS ts,
         m.status AS status,
         coalesce(CAST(nullif(m.bytes, '-') AS BIGINT), 0) AS bytes
  FROM parsed
  WHERE m.client <> ''
)"""
    elif fmt == "nginx-json":
        columns = "{'time': 'VARCHAR', 'remote_ip': 'VARCHAR', 'response': 'BIGINT', 'bytes': 'BIGINT'}"
        typed = f"""
WITH typed AS (
  SELECT remote_ip AS client,
         strptime("time", '{_TIME_FORMAT}') AS ts,
         CAST(response AS VARCHAR) AS status,
         coalesce(bytes, 0) AS bytes
  FROM read_json({glob}, format='newline_delimited', columns={columns}, ignore_errors=true)
  WHERE "time" IS NOT NULL AND remote_ip IS NOT NULL AND response IS NOT NULL
)"""
    else:
        raise ValueError(f"format {fmt!r} has no DuckDB query; use one of {', '.join(FORMATS)}")
    return typed + _AGGREGATE


def http_status_hourly(directory: str, fmt: str, *, threads: Optional[int] = None) -> Dict[str, object]:
    """Run the aggregation and return its rows, wall time and DuckDB settings.

    Parameters
    ----------
    directory
        Directory whose files (plain or ``.gz``) are all read.
    fmt
        ``combined`` or ``nginx-json``.
    threads
        DuckDB worker threads; DuckDB's default (one per core) if not given.
    """
    connection = duckdb.connect()
    try:
        # Buckets are UTC hours, whatever the machine's time zone.
        connection.execute("SET TimeZone = 'UTC'")
        if threads:
            connection.execute(f"SET threads = {int(threads)}")
        sql = query(directory, fmt)
        started = time.perf_counter()
        result = connection.sql(sql)
        names = [c for c in result.columns]
        rows = [dict(zip(names, values)) for values in result.fetchall()]
        seconds = time.perf_counter() - started
        used_threads = connection.execute("SELECT current_setting('threads')").fetchone()[0]
    finally:
        connection.close()
    return {"rows": rows, "seconds": seconds, "threads": int(used_threads), "duckdb": duckdb.__version__}


def run(directory: str, fmt: str, summary: WebLogSummary, *, threads: Optional[int] = None) -> Dict[str, object]:
    """Aggregate with DuckDB, check the rows against ``summary`` and return the measurement."""
    result = http_status_hourly(directory, fmt, threads=threads)
    rows: List[Dict[str, object]] = result.pop("rows")  # type: ignore[assignment]
    diff = differences(summary.rows(), rows)
    seconds = float(result["seconds"])  # type: ignore[arg-type]
    return {
        **result,
        "format": fmt,
        "events": summary.events,
        "lines": summary.lines,
        "events_per_second": summary.events / seconds if seconds else None,
        "groups": len(rows),
        "matches_summary": not diff,
        "differences": diff,
    }


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, object]:
    """Run the DuckDB reference from the command line and print the measurement as JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.duckdb_http_status", description=__doc__.split("\n")[0])
    parser.add_argument("--input", required=True, help="directory of generated log files")
    parser.add_argument("--format", required=True, choices=FORMATS, help="log format of the files")
    parser.add_argument("--summary", required=True, help="the generator's summary JSON for these files")
    parser.add_argument("--threads", type=int, help="DuckDB threads (default: one per core)")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.input):
        parser.error(f"--input {args.input!r} is not a directory")
    result = run(args.input, args.format, WebLogSummary.load(args.summary), threads=args.threads)
    print(json.dumps(result, indent=1))
    return result


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


if __name__ == "__main__":
    sys.exit(0 if main()["matches_summary"] else 1)
