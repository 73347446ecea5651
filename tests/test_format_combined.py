"""The ``combined`` format on lines of the real Apache log and on hand-made edge cases."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any, Dict

import pytest

from okeanos_spark.formats import get_format
from okeanos_spark.inputs import list_files
from tests.spark_rows import by_line, lines_frame, rows, utc
from tests.web_reference import APACHE_LOG

pytestmark = pytest.mark.spark

COMBINED = get_format("combined")


def _real_line(number: int) -> str:
    with open(APACHE_LOG, encoding="utf-8") as handle:
        for index, line in enumerate(handle, start=1):
            if index == number:
                return line.rstrip("\n")
    raise AssertionError(f"{APACHE_LOG} has no line {number}")


def _web(**fields: Any) -> Dict[str, Any]:
    row = {
        "ts": None,
        "client": None,
        "method": None,
        "target": None,
        "path": None,
        "protocol": None,
        "http_status": None,
        "bytes": None,
        "referrer": None,
        "user_agent": None,
        "status": "parsed",
        "reason": None,
    }
    row.update(fields)
    return row


def _rejected(reason: str) -> Dict[str, Any]:
    return _web(status="rejected", reason=reason)


REAL_LINES = {
    1: _web(
        ts=utc(2015, 5, 17, 10, 5, 3),
        client="10.0.0.1",
        method="GET",
        target="/presentations/logstash-monitorama-2013/images/kibana-search.png",
        path="/presentations/logstash-monitorama-2013/images/kibana-search.png",
        protocol="HTTP/1.1",
        http_status="200",
        bytes=203023,
        referrer="http://semicomplete.com/presentations/logstash-monitorama-2013/",
        user_agent=(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36"
        ),
    ),
    43: _web(
        ts=utc(2015, 5, 17, 10, 5, 58),
        client="10.0.0.11",
        method="GET",
        target="/blog/tags/examples",
        path="/blog/tags/examples",
        protocol="HTTP/1.0",
        http_status="200",
        bytes=9208,
        referrer="http://www.semicomplete.com/blog/tags/C",
        user_agent="Mozilla/5.0 (compatible; archive.org_bot +http://www.archive.org/details/archive.org_bot)",
    ),
    44: _web(
        ts=utc(2015, 5, 17, 10, 5, 36),
        client="10.0.0.12",
        method="GET",
        target="/reset.css",
        path="/reset.css",
        protocol="HTTP/1.1",
        http_status="200",
        bytes=1015,
        referrer="-",
        user_agent="-",
    ),
    63: _web(
        ts=utc(2015, 5, 17, 10, 5, 22),
        client="10.0.0.6",
        method="GET",
        target="/doc/index.html?org/elasticsearch/action/search/SearchResponse.html",
        path="/doc/index.html",
        protocol="HTTP/1.1",
        http_status="404",
        bytes=294,
        referrer="-",
        user_agent="Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    ),
    77: _web(
        ts=utc(2015, 5, 17, 11, 5, 11),
        client="10.0.0.23",
        method="GET",
        target="/robots.txt",
        path="/robots.txt",
        protocol="HTTP/1.1",
        http_status="200",
        bytes=0,
        referrer="-",
        user_agent="Sogou web spider/4.0(+http://www.sogou.com/docs/help/webmasters.htm#07)",
    ),
    93: _web(
        ts=utc(2015, 5, 17, 11, 5, 10),
        client="10.0.0.28",
        method="GET",
        target=(
            "/blog/geekery/disabling-battery-in-ubuntu-vms.html?utm_source=feedburner&utm_medium=feed"
            "&utm_campaign=Feed%3A+semicomplete%2Fmain+%28semicomplete.com+-+Jordan+Sissel%29"
        ),
        path="/blog/geekery/disabling-battery-in-ubuntu-vms.html",
        protocol="HTTP/1.1",
        http_status="200",
        bytes=9316,
        referrer="-",
        user_agent="Tiny Tiny RSS/1.11 (http://tt-rss.org/)",
    ),
}

EDGE_CASES = {
    # An offset west of UTC: 23:30 at -0700 is 06:30 UTC the next day.
    '10.1.0.1 - - [17/May/2015:23:30:00 -0700] "GET /west HTTP/1.1" 200 5 "-" "-"': _web(
        ts=utc(2015, 5, 18, 6, 30), client="10.1.0.1", method="GET", target="/west", path="/west",
        protocol="HTTP/1.1", http_status="200", bytes=5, referrer="-", user_agent="-",
    ),
    # A half-hour offset east of UTC: 02:00 at +0530 is 20:30 UTC the day before.
    '10.1.0.2 - - [18/May/2015:02:00:00 +0530] "GET /east HTTP/1.1" 200 6 "-" "-"': _web(
        ts=utc(2015, 5, 17, 20, 30), client="10.1.0.2", method="GET", target="/east", path="/east",
        protocol="HTTP/1.1", http_status="200", bytes=6, referrer="-", user_agent="-",
    ),
    '10.1.0.3 - frank [17/May/2015:10:00:00 +0000] "POST /form HTTP/1.1" 204 - "https://example.org/" "curl/8.0"': _web(
        ts=utc(2015, 5, 17, 10), client="10.1.0.3", method="POST", target="/form", path="/form",
        protocol="HTTP/1.1", http_status="204", bytes=0, referrer="https://example.org/", user_agent="curl/8.0",
    ),
    # Escaped quotes stay escaped, as logged.
    r'10.1.0.4 - - [17/May/2015:10:00:01 +0000] "GET /say?q=\"hi\" HTTP/1.1" 200 12 "-" "Agent \"quoted\" 1.0"': _web(
        ts=utc(2015, 5, 17, 10, 0, 1), client="10.1.0.4", method="GET", target=r"/say?q=\"hi\"", path="/say",
        protocol="HTTP/1.1", http_status="200", bytes=12, referrer="-", user_agent=r"Agent \"quoted\" 1.0",
    ),
    # URL-encoded paths are kept as logged; the path ends at the first '?'.
    '10.1.0.5 - - [17/May/2015:10:00:02 +0000] "GET /caf%C3%A9/menu%20du%20jour?a=1?b=2 HTTP/1.1" 200 7 "-" "-"': _web(
        ts=utc(2015, 5, 17, 10, 0, 2), client="10.1.0.5", method="GET", target="/caf%C3%A9/menu%20du%20jour?a=1?b=2",
        path="/caf%C3%A9/menu%20du%20jour", protocol="HTTP/1.1", http_status="200", bytes=7, referrer="-",
        user_agent="-",
    ),
    # The common log format: no referrer and no user agent.
    '2001:db8::7 - - [17/May/2015:10:00:03 +0000] "GET /clf HTTP/1.0" 304 0': _web(
        ts=utc(2015, 5, 17, 10, 0, 3), client="2001:db8::7", method="GET", target="/clf", path="/clf",
        protocol="HTTP/1.0", http_status="304", bytes=0,
    ),
    # No request at all (a client that timed out): parsed, counted by status.
    '10.1.0.6 - - [17/May/2015:10:00:04 +0000] "-" 408 0 "-" "-"': _web(
        ts=utc(2015, 5, 17, 10, 0, 4), client="10.1.0.6", http_status="408", bytes=0, referrer="-", user_agent="-",
    ),
    # An HTTP/0.9 request line has no protocol.
    '10.1.0.7 - - [17/May/2015:10:00:05 +0000] "GET /old" 200 9 "-" "-"': _web(
        ts=utc(2015, 5, 17, 10, 0, 5), client="10.1.0.7", method="GET", target="/old", path="/old",
        http_status="200", bytes=9, referrer="-", user_agent="-",
    ),
    # Fields that Nginx formats append after the user agent are ignored.
    '10.1.0.8 - - [17/May/2015:10:00:06 +0000] "GET /x HTTP/2.0" 000 0 "-" "h2load" "10.9.9.9" 0.003': _web(
        ts=utc(2015, 5, 17, 10, 0, 6), client="10.1.0.8", method="GET", target="/x", path="/x",
        protocol="HTTP/2.0", http_status="000", bytes=0, referrer="-", user_agent="h2load",
    ),
    '10.1.0.9 - - [17/May/2015:10:00:07 +0000] "GET /dash HTTP/1.1" - 0 "-" "-"': _web(
        ts=utc(2015, 5, 17, 10, 0, 7), client="10.1.0.9", method="GET", target="/dash", path="/dash",
        protocol="HTTP/1.1", http_status="-", bytes=0, referrer="-", user_agent="-",
    ),
    "": _rejected("empty_line"),
    "   \t ": _rejected("empty_line"),
    "hello world": _rejected("unparseable"),
    '10.1.0.10 - - 17/May/2015:10:00:00 +0000 "GET / HTTP/1.1" 200 1': _rejected("unparseable"),
    '10.1.0.11 - - [17/May/2015:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "unterminated': _rejected("unparseable"),
    '10.1.0.12 - - [32/May/2015:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"': _rejected("bad_timestamp"),
    '10.1.0.13 - - [17/May/2015:7:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"': _rejected("bad_timestamp"),
    '10.1.0.14 - - [2015-05-17T10:00:00Z] "GET / HTTP/1.1" 200 1 "-" "-"': _rejected("bad_timestamp"),
    '10.1.0.15 - - [17/May/2015:10:00:00 +0000] "GET / HTTP/1.1" 2x0 1 "-" "-"': _rejected("bad_status"),
    '10.1.0.16 - - [17/May/2015:10:00:00 +0000] "GET / HTTP/1.1" 200 12k "-" "-"': _rejected("bad_bytes"),
    # The largest long is a valid byte count, one more is not.
    '10.1.0.17 - - [17/May/2015:10:00:00 +0000] "GET / HTTP/1.1" 200 9223372036854775807 "-" "-"': _web(
        ts=utc(2015, 5, 17, 10), client="10.1.0.17", method="GET", target="/", path="/",
        protocol="HTTP/1.1", http_status="200", bytes=2**63 - 1, referrer="-", user_agent="-",
    ),
    '10.1.0.18 - - [17/May/2015:10:00:00 +0000] "GET / HTTP/1.1" 200 9223372036854775808 "-" "-"': _rejected(
        "bad_bytes"
    ),
    '10.1.0.19 - - [17/May/2015:10:00:00 +0000] "GET / HTTP/1.1" 200 10000000000000000000 "-" "-"': _rejected(
        "bad_bytes"
    ),
    # Times outside [1970-01-01, 9000-01-01) UTC are rejected, not parsed.
    '10.1.0.20 - - [01/Jan/1970:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"': _web(
        ts=utc(1970, 1, 1), client="10.1.0.20", method="GET", target="/", path="/",
        protocol="HTTP/1.1", http_status="200", bytes=1, referrer="-", user_agent="-",
    ),
    '10.1.0.21 - - [31/Dec/1969:23:59:59 +0000] "GET / HTTP/1.1" 200 1 "-" "-"': _rejected("bad_timestamp"),
    '10.1.0.22 - - [31/Dec/9999:23:59:59 +0000] "GET / HTTP/1.1" 200 1 "-" "-"': _rejected("bad_timestamp"),
    '10.1.0.23 - - [01/Jan/0001:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"': _rejected("bad_timestamp"),
    '10.1.0.24 - - [01/Jan/0001:00:00:00 +1400] "GET / HTTP/1.1" 200 1 "-" "-"': _rejected("bad_timestamp"),
    '10.1.0.25 - - [01/Jan/9000:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"': _rejected("bad_timestamp"),
}


@pytest.fixture(scope="module")
def real(spark) -> Dict[str, Dict[str, Any]]:
    lines = [_real_line(number) for number in REAL_LINES]
    return by_line(COMBINED.parse_lines(lines_frame(spark, lines)))


@pytest.fixture(scope="module")
def edge(spark) -> Dict[str, Dict[str, Any]]:
    return by_line(COMBINED.parse_lines(lines_frame(spark, list(EDGE_CASES))))


@pytest.mark.parametrize("number", sorted(REAL_LINES))
def test_combined_real_line(real, number: int) -> None:
    assert real[_real_line(number)] == REAL_LINES[number]


@pytest.mark.parametrize("line", list(EDGE_CASES), ids=range(len(EDGE_CASES)))
def test_combined_edge_case(edge, line: str) -> None:
    assert edge[line] == EDGE_CASES[line]


def test_combined_columns(spark) -> None:
    records = COMBINED.parse_lines(lines_frame(spark, [_real_line(1)]))
    expected = [
        "ts", "client", "method", "target", "path", "protocol", "http_status", "bytes", "referrer",
        "user_agent", "file", "status", "reason", "line",
    ]
    assert records.columns == expected


def test_combined_selected_columns(spark) -> None:
    # Every edge-case line must come out of a narrower read as it does out of the full one.
    lines = lines_frame(spark, list(EDGE_CASES))
    narrow = COMBINED.parse_lines(lines, columns=("http_status", "client"))
    assert narrow.columns == ["ts", "client", "http_status", "file", "status", "reason", "line"]
    full = by_line(COMBINED.parse_lines(lines))
    for line, row in by_line(narrow).items():
        assert row == {name: full[line][name] for name in row}


def test_combined_selected_columns_no_files(spark) -> None:
    records = COMBINED.read(spark, [], columns=("bytes",))
    assert records.columns == ["ts", "bytes", "file", "status", "reason", "line"]
    assert records.count() == 0


def test_combined_unknown_column(spark) -> None:
    with pytest.raises(ValueError, match="format combined has no column\\(s\\) job_id in schema web_request"):
        COMBINED.parse_lines(lines_frame(spark, [_real_line(1)]), columns=("client", "job_id"))


def test_combined_columns_as_string(spark) -> None:
    with pytest.raises(ValueError, match="columns: 'client' is one string; pass a sequence"):
        COMBINED.read(spark, [], columns="client")


def test_combined_column_types(spark) -> None:
    records = COMBINED.parse_lines(lines_frame(spark, [_real_line(1)]))
    types = dict(records.dtypes)
    assert (types["ts"], types["bytes"], types["http_status"]) == ("timestamp", "bigint", "string")


def test_combined_byte_order_mark(spark) -> None:
    line = _real_line(44)
    [row] = rows(COMBINED.parse_lines(lines_frame(spark, ["\ufeff" + line])))
    assert (row["status"], row["client"], row["line"]) == ("parsed", "10.0.0.12", line)


def _write(path: Path, text: bytes, compress: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(text, mtime=0) if compress else text)


def test_combined_invalid_utf8(spark, tmp_path: Path) -> None:
    text = b'10.2.0.1 - - [17/May/2015:10:00:00 +0000] "GET /bad\xffpath HTTP/1.1" 200 1 "-" "agent \xfe"\n'
    _write(tmp_path / "bad.log", text)
    [row] = rows(COMBINED.read(spark, list_files(str(tmp_path))))
    assert (row["status"], row["path"], row["user_agent"]) == ("parsed", "/bad\ufffdpath", "agent \ufffd")


@pytest.fixture(scope="module")
def tree_records(spark, tmp_path_factory) -> Dict[str, Any]:
    root = tmp_path_factory.mktemp("combined-tree")
    late = b'10.3.0.1 - - [17/May/2015:10:00:59 +0000] "GET /late HTTP/1.1" 200 10 "-" "-"\n'
    early = b'10.3.0.1 - - [17/May/2015:10:00:01 +0000] "GET /early HTTP/1.1" 200 20 "-" "-"\n'
    # A BOM at the start of a file, CRLF line ends, and a blank line at the end.
    _write(root / "plain.log", b"\xef\xbb\xbf" + late.replace(b"\n", b"\r\n") + early.replace(b"\n", b"\r\n") + b"\r\n")
    _write(root / "day" / "zipped.log.gz", early + late, compress=True)
    _write(root / "day" / "_SUCCESS", b"")
    return {"files": list_files(str(root)), "rows": rows(COMBINED.read(spark, list_files(str(root))))}


def test_combined_read_tree_files(tree_records) -> None:
    names = sorted({Path(row["file"]).name for row in tree_records["rows"]})
    assert names == ["plain.log", "zipped.log.gz"]


def test_combined_read_tree_out_of_order(tree_records) -> None:
    # Each line keeps its own time; the jump back in time rejects nothing.
    parsed = [(Path(row["file"]).name, row["path"], row["ts"]) for row in tree_records["rows"] if row["status"] == "parsed"]
    expected = [
        ("plain.log", "/early", utc(2015, 5, 17, 10, 0, 1)),
        ("plain.log", "/late", utc(2015, 5, 17, 10, 0, 59)),
        ("zipped.log.gz", "/early", utc(2015, 5, 17, 10, 0, 1)),
        ("zipped.log.gz", "/late", utc(2015, 5, 17, 10, 0, 59)),
    ]
    assert sorted(parsed) == expected


def test_combined_read_tree_blank_line(tree_records) -> None:
    rejected = [(Path(row["file"]).name, row["reason"]) for row in tree_records["rows"] if row["status"] != "parsed"]
    assert rejected == [("plain.log", "empty_line")]


def test_combined_read_no_files(spark) -> None:
    records = COMBINED.read(spark, [])
    assert (records.count(), records.columns[-4:]) == (0, ["file", "status", "reason", "line"])


def test_combined_ansi_mode(spark) -> None:
    # Invalid numbers are checked before any cast and fields are read with
    # get(), so ANSI mode raises nothing.
    lines = [
        '10.5.0.1 - - [17/May/2015:10:00:00 +0000] "GET / HTTP/1.1" 200 99999999999999999999 "-" "-"',
        '10.5.0.2 - - [31/Feb/2015:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"',
        "garbage",
    ]
    spark.conf.set("spark.sql.ansi.enabled", "true")
    try:
        reasons = sorted(row["reason"] for row in rows(COMBINED.parse_lines(lines_frame(spark, lines))))
    finally:
        spark.conf.set("spark.sql.ansi.enabled", "false")
    assert reasons == ["bad_bytes", "bad_timestamp", "unparseable"]


def test_combined_colon_in_directory_name(spark, tmp_path: Path) -> None:
    # Hourly directories are often named by time; only a ':' in the file name itself breaks Hadoop.
    _write(tmp_path / "2015-05-17T10:00" / "access.log", (_real_line(1) + "\n").encode("utf-8"))
    [row] = rows(COMBINED.read(spark, list_files(str(tmp_path))))
    assert row["status"] == "parsed"
    assert row["file"].endswith("/2015-05-17T10:00/access.log")


def test_combined_glob_characters_in_names(spark, tmp_path: Path) -> None:
    line = b'10.6.0.1 - - [17/May/2015:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"\n'
    for name in ("a[1].log", "b{x}.log", "c*.log", "c-other.log", "d?.log"):
        _write(tmp_path / name, line)
    records = rows(COMBINED.read(spark, list_files(str(tmp_path))))
    # Each file is read once: "c*.log" must not also match "c-other.log".
    assert sorted(row["file"].rsplit("/", 1)[-1] for row in records) == [
        "a%5B1%5D.log",
        "b%7Bx%7D.log",
        "c*.log",
        "c-other.log",
        "d%3F.log",
    ]


def test_combined_filter_runs_parser_once(spark) -> None:
    from pyspark.sql import functions as F

    records = COMBINED.read(spark, [str(APACHE_LOG)])
    filtered = records.filter(F.col("status") == "parsed").filter(F.col("ts") >= F.lit("2015-05-18"))
    plan = filtered._jdf.queryExecution().executedPlan().toString()
    assert plan.count("regexp_replace(") == 1


def test_combined_columns_generator(spark) -> None:
    records = COMBINED.read(spark, [], columns=(name for name in ("client", "path")))
    assert records.columns == ["ts", "client", "path", "file", "status", "reason", "line"]


def test_combined_columns_not_strings(spark) -> None:
    with pytest.raises(ValueError, match="columns: None is not a column name"):
        COMBINED.read(spark, [], columns=["client", None])
