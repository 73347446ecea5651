"""The ``nginx-json`` format on lines of the real Nginx JSON log and on hand-made edge cases."""

from __future__ import annotations

from typing import Any, Dict

import pytest

from okeanos_spark.formats import get_format
from tests.spark_rows import by_line, lines_frame, utc
from tests.web_reference import NGINX_LOG

pytestmark = pytest.mark.spark

NGINX_JSON = get_format("nginx-json")


def _real_line(number: int) -> str:
    with open(NGINX_LOG, encoding="utf-8") as handle:
        for index, line in enumerate(handle, start=1):
            if index == number:
                return line.rstrip("\n")
    raise AssertionError(f"{NGINX_LOG} has no line {number}")


def _web(**fields: Any) -> Dict[str, Any]:
    row = dict.fromkeys(
        ("ts", "client", "method", "target", "path", "protocol", "http_status", "bytes", "referrer", "user_agent")
    )
    row.update(status="parsed", reason=None)
    row.update(fields)
    return row


def _rejected(reason: str) -> Dict[str, Any]:
    return _web(status="rejected", reason=reason)


def _downloads(product: int, **fields: Any) -> Dict[str, Any]:
    target = f"/downloads/product_{product}"
    return _web(method="GET", target=target, path=target, protocol="HTTP/1.1", referrer="-", **fields)


REAL_LINES = {
    1: _downloads(
        1, ts=utc(2015, 5, 17, 8, 5, 32), client="10.0.6.218", http_status="304", bytes=0,
        user_agent="Debian APT-HTTP/1.3 (0.8.16~exp12ubuntu10.21)",
    ),
    4: _downloads(
        1, ts=utc(2015, 5, 17, 8, 5, 34), client="10.0.6.220", http_status="200", bytes=490,
        user_agent="Debian APT-HTTP/1.3 (0.8.10.3)",
    ),
    100: _downloads(
        2, ts=utc(2015, 5, 17, 8, 5, 37), client="10.0.6.241", http_status="404", bytes=318,
        user_agent="Debian APT-HTTP/1.3 (1.0.1ubuntu2)",
    ),
    1220: _downloads(
        3, ts=utc(2015, 5, 17, 17, 5, 28), client="10.0.7.51", http_status="200", bytes=1074411,
        user_agent="Chef Client/11.16.4 (ruby-1.9.3-p547; ohai-7.4.0; x86_64-linux; +http://opscode.com)",
    ),
}

EDGE_CASES = {
    # Status and bytes as strings, a '-' byte count, an offset west of UTC,
    # no referrer or agent keys, and an extra key.
    '{"time": "17/May/2015:23:30:00 -0700", "remote_ip": "2001:db8::1", "request": "HEAD /a%20b?x=1 HTTP/1.1",'
    ' "response": "200", "bytes": "-", "upstream": "10.9.9.9"}': _web(
        ts=utc(2015, 5, 18, 6, 30), client="2001:db8::1", method="HEAD", target="/a%20b?x=1", path="/a%20b",
        protocol="HTTP/1.1", http_status="200", bytes=0,
    ),
    # JSON escapes are decoded: the target contains a real quote.
    '{"time": "18/May/2015:02:00:00 +0530", "remote_ip": "10.4.0.1", "request": "GET /q\\"x\\" HTTP/1.0",'
    ' "response": 404, "bytes": 5, "referrer": "-", "agent": "a \\"b\\""}': _web(
        ts=utc(2015, 5, 17, 20, 30), client="10.4.0.1", method="GET", target='/q"x"', path='/q"x"',
        protocol="HTTP/1.0", http_status="404", bytes=5, referrer="-", user_agent='a "b"',
    ),
    '{"time": "17/May/2015:10:00:00 +0000", "remote_ip": "10.4.0.2", "request": "-", "response": 400, "bytes": 0}': _web(
        ts=utc(2015, 5, 17, 10), client="10.4.0.2", http_status="400", bytes=0,
    ),
    "": _rejected("empty_line"),
    "not json": _rejected("bad_json"),
    "[1, 2]": _rejected("bad_json"),
    '{"time": "17/May/2015:10:00:00 +0000"': _rejected("bad_json"),
    "{}": _rejected("missing_field"),
    '{"time": "17/May/2015:10:00:00 +0000", "request": "GET / HTTP/1.1", "response": 200, "bytes": 1}': _rejected(
        "missing_field"
    ),
    '{"time": "17/May/2015:10:00:00 +0000", "remote_ip": "10.4.0.3", "request": "GET / HTTP/1.1",'
    ' "response": null, "bytes": 1}': _rejected("missing_field"),
    '{"time": "2015-05-17T10:00:00Z", "remote_ip": "10.4.0.4", "request": "GET / HTTP/1.1",'
    ' "response": 200, "bytes": 1}': _rejected("bad_timestamp"),
    # Times outside [1970-01-01, 9000-01-01) UTC are rejected, not parsed.
    '{"time": "01/Jan/0001:00:00:00 +0000", "remote_ip": "10.4.0.8", "request": "GET / HTTP/1.1",'
    ' "response": 200, "bytes": 1}': _rejected("bad_timestamp"),
    '{"time": "31/Dec/9999:23:59:59 +0000", "remote_ip": "10.4.0.9", "request": "GET / HTTP/1.1",'
    ' "response": 200, "bytes": 1}': _rejected("bad_timestamp"),
    # The status is text of three digits, so a JSON float is not one.
    '{"time": "17/May/2015:10:00:00 +0000", "remote_ip": "10.4.0.5", "request": "GET / HTTP/1.1",'
    ' "response": 200.0, "bytes": 1}': _rejected("bad_status"),
    '{"time": "17/May/2015:10:00:00 +0000", "remote_ip": "10.4.0.6", "request": "GET / HTTP/1.1",'
    ' "response": "OK", "bytes": 1}': _rejected("bad_status"),
    '{"time": "17/May/2015:10:00:00 +0000", "remote_ip": "10.4.0.7", "request": "GET / HTTP/1.1",'
    ' "response": 200, "bytes": -5}': _rejected("bad_bytes"),
}


@pytest.fixture(scope="module")
def real(spark) -> Dict[str, Dict[str, Any]]:
    lines = [_real_line(number) for number in REAL_LINES]
    return by_line(NGINX_JSON.parse_lines(lines_frame(spark, lines)))


@pytest.fixture(scope="module")
def edge(spark) -> Dict[str, Dict[str, Any]]:
    return by_line(NGINX_JSON.parse_lines(lines_frame(spark, list(EDGE_CASES))))


@pytest.mark.parametrize("number", sorted(REAL_LINES))
def test_nginx_json_real_line(real, number: int) -> None:
    assert real[_real_line(number)] == REAL_LINES[number]


@pytest.mark.parametrize("line", list(EDGE_CASES), ids=range(len(EDGE_CASES)))
def test_nginx_json_edge_case(edge, line: str) -> None:
    assert edge[line] == EDGE_CASES[line]
