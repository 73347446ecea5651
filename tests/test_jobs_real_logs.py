"""The web jobs over the whole real Apache and Nginx logs, against plain Python.

The expected numbers come from a second reading of each file with ``re``,
``json`` and ``datetime`` only, bucketed in UTC in this module.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, NamedTuple, Tuple

import pytest

from okeanos_spark import transforms
from okeanos_spark.formats import get_format
from okeanos_spark.inputs import list_files
from okeanos_spark.registry import get_job
from tests.spark_rows import rows
from tests.web_reference import APACHE_LOG, NGINX_LOG

pytestmark = [pytest.mark.spark, pytest.mark.slow]

_APACHE_LINE = re.compile(r'^(\S+) \S+ \S+ \[([^\]]+)\] "([^"]*)" (\d{3}) (\d+|-) "[^"]*" "[^"]*"$')


class Request(NamedTuple):
    ts: datetime
    client: str
    path: str
    status: str
    size: int


def _path(request: str) -> str:
    return request.split(" ")[1].split("?")[0]


def _time(text: str) -> datetime:
    return datetime.strptime(text, "%d/%b/%Y:%H:%M:%S %z").astimezone(timezone.utc)


def _read_apache(path: Path) -> List[Request]:
    requests = []
    for line in path.read_text(encoding="utf-8").splitlines():
        client, time, request, status, size = _APACHE_LINE.match(line).groups()
        requests.append(Request(_time(time), client, _path(request), status, 0 if size == "-" else int(size)))
    return requests


def _read_nginx(path: Path) -> List[Request]:
    requests = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        requests.append(
            Request(
                _time(record["time"]), record["remote_ip"], _path(record["request"]),
                str(record["response"]), int(record["bytes"]),
            )
        )
    return requests


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _status_hourly(requests: List[Request]) -> Dict[Tuple[datetime, str], Tuple[int, int, int]]:
    counts: Dict[Tuple[datetime, str], int] = defaultdict(int)
    sizes: Dict[Tuple[datetime, str], int] = defaultdict(int)
    clients: Dict[Tuple[datetime, str], set] = defaultdict(set)
    for request in requests:
        key = (_hour(request.ts), request.status)
        counts[key] += 1
        sizes[key] += request.size
        clients[key].add(request.client)
    return {key: (counts[key], sizes[key], len(clients[key])) for key in counts}


def _paths_daily(requests: List[Request]) -> Dict[Tuple[datetime, str], Tuple[int, int]]:
    counts: Dict[Tuple[datetime, str], int] = defaultdict(int)
    sizes: Dict[Tuple[datetime, str], int] = defaultdict(int)
    for request in requests:
        key = (_day(request.ts), request.path)
        counts[key] += 1
        sizes[key] += request.size
    return {key: (counts[key], sizes[key]) for key in counts}


SOURCES = {"combined": (APACHE_LOG, _read_apache), "nginx-json": (NGINX_LOG, _read_nginx)}


@pytest.fixture(scope="module", params=sorted(SOURCES))
def source(request, spark):
    name = request.param
    path, reader = SOURCES[name]
    records = get_format(name).read(spark, list_files(str(path))).cache()
    yield {"format": name, "path": path, "records": records, "expected": reader(path)}
    records.unpersist()


def _run(records, job_name: str) -> list:
    job = get_job(job_name)
    parsed = transforms.add_bucket(transforms.parsed_rows(records), job.granularity)
    return rows(job.transform(parsed))


def test_real_log_every_line_parsed(source) -> None:
    statuses = [row["status"] for row in rows(source["records"].select("status"))]
    assert statuses == ["parsed"] * len(source["expected"])


def test_real_log_http_status_hourly(source) -> None:
    output = _run(source["records"], "http_status_hourly")
    actual = {(row["bucket"], row["status"]): (row["requests"], row["bytes"], row["clients"]) for row in output}
    assert actual == _status_hourly(source["expected"])


def test_real_log_http_status_hourly_unique(source) -> None:
    output = _run(source["records"], "http_status_hourly")
    assert len(output) == len({(row["bucket"], row["status"]) for row in output})


def test_real_log_top_paths_daily(source) -> None:
    output = _run(source["records"], "top_paths_daily")
    actual = {(row["bucket"], row["path"]): (row["requests"], row["bytes"]) for row in output}
    assert actual == _paths_daily(source["expected"])


def test_real_log_top_paths_daily_unique(source) -> None:
    output = _run(source["records"], "top_paths_daily")
    assert len(output) == len({(row["bucket"], row["path"]) for row in output})
