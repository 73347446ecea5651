"""The AWS log formats (alb, cloudfront, s3-access), and encodings through every line format.

Expected values are written out by hand from the AWS documentation's
description of each sample, or computed here with the standard library.
"""

from __future__ import annotations

import importlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List

import pytest

from tests.web_reference import REAL_DATA

pytestmark = pytest.mark.spark

AWS_SAMPLES = REAL_DATA / "aws-doc-samples"
ALB_SAMPLE = AWS_SAMPLES / "alb_access.log"
CLOUDFRONT_SAMPLE = AWS_SAMPLES / "cloudfront_standard.log"
S3_SAMPLE = AWS_SAMPLES / "s3_server_access.log"

FORMAT_MODULES = {
    "alb": "alb",
    "cloudfront": "cloudfront",
    "s3-access": "s3_access",
    "combined": "combined",
}


def input_format(name: str):
    """Return the format object of ``name``, importing its module (which registers it)."""
    return importlib.import_module(f"okeanos_spark.formats.{FORMAT_MODULES[name]}").FORMAT


def read_records(spark, name: str, paths: List[Path]) -> List[Dict[str, Any]]:
    """Read ``paths`` with format ``name``; each record as a dict, ``ts`` as epoch microseconds."""
    from pyspark.sql import functions as F

    records = input_format(name).read(spark, [str(path) for path in paths])
    rows = records.withColumn("ts", F.unix_micros("ts")).collect()
    return [row.asDict() for row in rows]


def write_file(path: Path, lines: List[str], *, newline: str = "\n", prefix: bytes = b"") -> Path:
    path.write_bytes(prefix + "".join(line + newline for line in lines).encode("utf-8"))
    return path


def read_text(spark, tmp_path: Path, name: str, lines: List[str]) -> List[Dict[str, Any]]:
    return read_records(spark, name, [write_file(tmp_path / "input.log", lines)])


def by_line(records: List[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    return {record["line"]: record for record in records}


def micros(text: str, pattern: str) -> int:
    """Epoch microseconds of ``text``, parsed with ``datetime.strptime``; naive means UTC."""
    moment = datetime.strptime(text, pattern)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    delta = moment - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def alb_line(
    *,
    time: str = "2018-07-02T22:23:00.186641Z",
    client: str = "192.168.131.39:2817",
    status: str = "200",
    sent: str = "366",
    request: str = "GET http://www.example.com:80/ HTTP/1.1",
    agent: str = "curl/7.46.0",
    tail: str = '- - arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/t/1 "Root=1-1" "-" "-" 0',
) -> str:
    head = f"http {time} app/my-lb/50dc6c495c0c9188 {client} 10.0.0.1:80 0.000 0.001 0.000 {status} 200 34 {sent}"
    return f'{head} "{request}" "{agent}" {tail}'.rstrip()


def s3_line(
    *,
    time: str = "06/Feb/2019:00:00:38 +0000",
    remote_ip: str = "192.0.2.3",
    request_uri: str = '"GET /bucket1/photo.jpg HTTP/1.1"',
    status: str = "200",
    sent: str = "113",
    referer: str = '"-"',
    agent: str = '"S3Console/0.4"',
    tail: str = " - hostid SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader bucket1.s3.amazonaws.com TLSv1.2",
) -> str:
    return (
        f"79a59df9 bucket1 [{time}] {remote_ip} 79a59df9 3E57427F3EXAMPLE REST.GET.OBJECT photo.jpg "
        f"{request_uri} {status} - {sent} 113 7 - {referer} {agent}{tail}"
    )


CLOUDFRONT_FIELDS = (
    "date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status "
    "cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id "
    "x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher "
    "x-edge-response-result-type cs-protocol-version"
).split()


def cloudfront_line(**values: str) -> str:
    """A CloudFront line in the order of CLOUDFRONT_FIELDS, with defaults for unnamed fields."""
    defaults = {
        "date": "2019-12-04",
        "time": "21:02:31",
        "sc-bytes": "392",
        "c-ip": "192.0.2.100",
        "cs-method": "GET",
        "cs-uri-stem": "/index.html",
        "sc-status": "200",
        "cs(Referer)": "-",
        "cs(User-Agent)": "curl/7.46.0",
        "cs-uri-query": "-",
        "cs-protocol-version": "HTTP/2.0",
    }
    defaults.update({key.replace("_", "-"): value for key, value in values.items()})
    return "\t".join(defaults.get(name, "-") for name in CLOUDFRONT_FIELDS)


CLOUDFRONT_HEADER = ["#Version: 1.0", "#Fields: " + " ".join(CLOUDFRONT_FIELDS)]


# --- ALB -------------------------------------------------------------------

# The seven entries of the ELB user guide's examples, as the guide describes
# them: HTTP, HTTPS, HTTP/2, WebSockets, secured WebSockets, a Lambda target
# that succeeded, and one that returned an invalid response (502).
ALB_EXPECTED = [
    ("2018-07-02T22:23:00.186641", "192.168.131.39", "GET", "http://www.example.com:80/", "HTTP/1.1", "200", 366, "curl/7.46.0"),
    ("2018-07-02T22:23:00.186641", "192.168.131.39", "GET", "https://www.example.com:443/", "HTTP/1.1", "200", 57, "curl/7.46.0"),
    ("2018-07-02T22:23:00.186641", "10.0.1.252", "GET", "https://10.0.2.105:773/", "HTTP/2.0", "200", 257, "curl/7.46.0"),
    ("2018-07-02T22:23:00.186641", "10.0.0.140", "GET", "http://10.0.0.30:80/", "HTTP/1.1", "101", 587, "-"),
    ("2018-07-02T22:23:00.186641", "10.0.0.140", "GET", "https://10.0.0.30:443/", "HTTP/1.1", "101", 786, "-"),
    ("2018-11-30T22:23:00.186641", "192.168.131.39", "GET", "http://www.example.com:80/", "HTTP/1.1", "200", 366, "curl/7.46.0"),
    ("2018-11-30T22:23:00.186641", "192.168.131.39", "GET", "http://www.example.com:80/", "HTTP/1.1", "502", 366, "curl/7.46.0"),
]


def test_alb_sample_every_line_parsed(spark) -> None:
    records = read_records(spark, "alb", [ALB_SAMPLE])
    line_count = len(ALB_SAMPLE.read_text(encoding="utf-8").splitlines())
    assert len(records) == line_count
    assert [record["status"] for record in records] == ["parsed"] * line_count


def test_alb_sample_values(spark) -> None:
    lines = ALB_SAMPLE.read_text(encoding="utf-8").splitlines()
    records = by_line(read_records(spark, "alb", [ALB_SAMPLE]))
    for line, expected in zip(lines, ALB_EXPECTED):
        time, client, method, target, protocol, status, sent, agent = expected
        record = records[line]
        assert record["ts"] == micros(time, "%Y-%m-%dT%H:%M:%S.%f")
        assert record["client"] == client
        assert record["method"] == method
        assert record["target"] == target
        assert record["path"] == "/"
        assert record["protocol"] == protocol
        assert record["http_status"] == status
        assert record["bytes"] == sent
        assert record["referrer"] is None
        assert record["user_agent"] == agent


def test_alb_newer_fields_ignored(spark, tmp_path) -> None:
    # The 2018 fields, then classification, conn_trace_id and fields not yet defined.
    tail = (
        '- - arn:aws:elasticloadbalancing:us-east-2:1:targetgroup/t/1 "Root=1-1" "-" "-" 0 '
        '2018-07-02T22:22:48.364000Z "forward" "-" "-" "10.0.0.1:80" "200" "-" "-" '
        'TID_1234 "-" "-" "-" future_field "another future field"'
    )
    line = alb_line(tail=tail)
    [record] = read_text(spark, tmp_path, "alb", [line])
    assert record["status"] == "parsed"
    assert record["http_status"] == "200"


def test_alb_first_fourteen_fields_enough(spark, tmp_path) -> None:
    [record] = read_text(spark, tmp_path, "alb", [alb_line(tail="")])
    assert record["status"] == "parsed"


ALB_CLIENTS = {
    "192.0.2.1:2817": "192.0.2.1",
    "2001:db8:85a3::8a2e:370:7334:54321": "2001:db8:85a3::8a2e:370:7334",
    "[2001:db8::1]:443": "2001:db8::1",
}


def test_alb_client_without_port(spark, tmp_path) -> None:
    lines = {alb_line(client=client_port): client for client_port, client in ALB_CLIENTS.items()}
    records = by_line(read_text(spark, tmp_path, "alb", list(lines)))
    for line, client in lines.items():
        assert records[line]["client"] == client


def test_alb_path_of_full_url(spark, tmp_path) -> None:
    request = "GET https://www.example.com:443/a%20b/c.html?x=1&y=%22 HTTP/1.1"
    [record] = read_text(spark, tmp_path, "alb", [alb_line(request=request)])
    assert record["target"] == "https://www.example.com:443/a%20b/c.html?x=1&y=%22"
    assert record["path"] == "/a%20b/c.html"


def test_alb_url_without_path(spark, tmp_path) -> None:
    [record] = read_text(spark, tmp_path, "alb", [alb_line(request="GET https://h:443?x=1 HTTP/1.1")])
    assert record["path"] == "/"


def test_alb_status_dash_kept(spark, tmp_path) -> None:
    [record] = read_text(spark, tmp_path, "alb", [alb_line(status="-")])
    assert record["status"] == "parsed"
    assert record["http_status"] == "-"


def test_alb_escaped_quote_in_agent(spark, tmp_path) -> None:
    agent = r"Mozilla/5.0 \"quoted\" (X11; Linux)"
    [record] = read_text(spark, tmp_path, "alb", [alb_line(agent=agent)])
    assert record["status"] == "parsed"
    assert record["user_agent"] == agent


def test_alb_long_path_intact(spark, tmp_path) -> None:
    path = "/" + "/".join(f"segment-{index:04d}" for index in range(60))
    [record] = read_text(spark, tmp_path, "alb", [alb_line(request=f"GET https://h:443{path}?q=1 HTTP/1.1")])
    assert len(path.encode("utf-8")) > 512
    assert record["path"] == path


ALB_REJECTS = {
    "http 2018-07-02T22:23:00Z app/lb/1 192.0.2.1:1 - 0 0 0 200 200": "unparseable",
    alb_line(request='GET / "unbalanced'): "unparseable",
    alb_line(time="2018/07/02T22:23:00Z"): "bad_timestamp",
    alb_line(time="2018-13-02T22:23:00Z"): "bad_timestamp",
    alb_line(status="2x0"): "bad_status",
    alb_line(sent="lots"): "bad_bytes",
}


def test_alb_rejects_with_reason(spark, tmp_path) -> None:
    records = by_line(read_text(spark, tmp_path, "alb", list(ALB_REJECTS)))
    for line, reason in ALB_REJECTS.items():
        assert records[line]["status"] == "rejected"
        assert records[line]["reason"] == reason
        assert records[line]["ts"] is None


# --- S3 server access -------------------------------------------------------

# The five records of the S3 user guide's example: three bucket
# sub-resource reads at 00:00:38, a versioning read at 00:01:00 and the
# upload of s3-dg.pdf at 00:01:57, with bytes_sent "-" (nothing sent).
S3_EXPECTED = [
    ("06/Feb/2019:00:00:38", "GET", "/awsexamplebucket1?versioning", "/awsexamplebucket1", "200", 113),
    ("06/Feb/2019:00:00:38", "GET", "/awsexamplebucket1?logging", "/awsexamplebucket1", "200", 242),
    ("06/Feb/2019:00:00:38", "GET", "/awsexamplebucket1?policy", "/awsexamplebucket1", "404", 297),
    ("06/Feb/2019:00:01:00", "GET", "/awsexamplebucket1?versioning", "/awsexamplebucket1", "200", 113),
    ("06/Feb/2019:00:01:57", "PUT", "/awsexamplebucket1/s3-dg.pdf", "/awsexamplebucket1/s3-dg.pdf", "200", 0),
]


def test_s3_sample_every_line_parsed(spark) -> None:
    records = read_records(spark, "s3-access", [S3_SAMPLE])
    line_count = len(S3_SAMPLE.read_text(encoding="utf-8").splitlines())
    assert len(records) == line_count
    assert [record["status"] for record in records] == ["parsed"] * line_count


def test_s3_sample_values(spark) -> None:
    lines = S3_SAMPLE.read_text(encoding="utf-8").splitlines()
    records = by_line(read_records(spark, "s3-access", [S3_SAMPLE]))
    for line, expected in zip(lines, S3_EXPECTED):
        time, method, target, path, status, sent = expected
        record = records[line]
        assert record["ts"] == micros(time, "%d/%b/%Y:%H:%M:%S")
        assert record["client"] == "192.0.2.3"
        assert record["method"] == method
        assert record["target"] == target
        assert record["path"] == path
        assert record["protocol"] == "HTTP/1.1"
        assert record["http_status"] == status
        assert record["bytes"] == sent
        assert record["referrer"] == "-"
        assert record["user_agent"] == "S3Console/0.4"


def test_s3_dst_change_separate_hours(spark, tmp_path) -> None:
    # 1 November 2020 in New York: 01:30 happens at -0400, then again at -0500.
    first = "01/Nov/2020:01:30:00 -0400"
    second = "01/Nov/2020:01:30:00 -0500"
    records = by_line(read_text(spark, tmp_path, "s3-access", [s3_line(time=first), s3_line(time=second)]))
    pattern = "%d/%b/%Y:%H:%M:%S %z"
    first_ts = records[s3_line(time=first)]["ts"]
    second_ts = records[s3_line(time=second)]["ts"]
    assert first_ts == micros(first, pattern)
    assert second_ts == micros(second, pattern)
    assert first_ts // 3_600_000_000 != second_ts // 3_600_000_000


def test_s3_half_hour_offset(spark, tmp_path) -> None:
    time = "06/Feb/2019:05:30:38 +0530"
    [record] = read_text(spark, tmp_path, "s3-access", [s3_line(time=time)])
    assert record["ts"] == micros(time, "%d/%b/%Y:%H:%M:%S %z")


def test_s3_bytes_dash_is_zero(spark, tmp_path) -> None:
    [record] = read_text(spark, tmp_path, "s3-access", [s3_line(sent="-")])
    assert record["bytes"] == 0


def test_s3_status_dash_kept(spark, tmp_path) -> None:
    [record] = read_text(spark, tmp_path, "s3-access", [s3_line(status="-")])
    assert record["http_status"] == "-"


def test_s3_method_from_request_uri(spark, tmp_path) -> None:
    line = s3_line(request_uri='"HEAD /bucket1/a%20b.txt?versionId=3 HTTP/1.1"')
    [record] = read_text(spark, tmp_path, "s3-access", [line])
    assert record["method"] == "HEAD"
    assert record["target"] == "/bucket1/a%20b.txt?versionId=3"
    assert record["path"] == "/bucket1/a%20b.txt"


def test_s3_request_uri_dash(spark, tmp_path) -> None:
    for request_uri in ("-", '"-"'):
        [record] = read_text(spark, tmp_path, "s3-access", [s3_line(request_uri=request_uri)])
        assert record["status"] == "parsed"
        assert record["method"] is None
        assert record["path"] is None


def test_s3_ipv6_remote_ip(spark, tmp_path) -> None:
    [record] = read_text(spark, tmp_path, "s3-access", [s3_line(remote_ip="2001:db8::8a2e:370:7334")])
    assert record["client"] == "2001:db8::8a2e:370:7334"


def test_s3_agent_with_spaces_and_escaped_quote(spark, tmp_path) -> None:
    agent = r"aws-cli/2.15 Python/3.11 \"quoted\" exe/x86_64"
    [record] = read_text(spark, tmp_path, "s3-access", [s3_line(agent=f'"{agent}"')])
    assert record["user_agent"] == agent


def test_s3_oldest_layout(spark, tmp_path) -> None:
    [record] = read_text(spark, tmp_path, "s3-access", [s3_line(tail="")])
    assert record["status"] == "parsed"


S3_REJECTS = {
    "79a59df9 bucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - REST.GET.OBJECT": "unparseable",
    s3_line(time="06/Feb/2019 00:00:38"): "bad_timestamp",
    s3_line(status="OK"): "bad_status",
    s3_line(sent="1.5"): "bad_bytes",
}


def test_s3_rejects_with_reason(spark, tmp_path) -> None:
    records = by_line(read_text(spark, tmp_path, "s3-access", list(S3_REJECTS)))
    for line, reason in S3_REJECTS.items():
        assert records[line]["status"] == "rejected"
        assert records[line]["reason"] == reason


# --- CloudFront ---------------------------------------------------------------

# The six records of the CloudFront developer guide's example: three hits on
# /index.html from 192.0.2.100 on 4 December 2019 (the third ends with an
# extra tab), then three 502 errors (OriginDnsError) from 192.0.2.200.
CLOUDFRONT_EXPECTED = [
    ("2019-12-04 21:02:31", "192.0.2.100", "/index.html", "HTTP/2.0", "200", 392, "-"),
    ("2019-12-04 21:02:31", "192.0.2.100", "/index.html", "HTTP/2.0", "200", 392, "-"),
    ("2019-12-04 21:02:31", "192.0.2.100", "/index.html", "HTTP/2.0", "200", 392, "-"),
    ("2019-12-13 22:36:27", "192.0.2.200", "/favicon.ico", "HTTP/1.1", "502", 900, "http://www.example.com/"),
    ("2019-12-13 22:36:26", "192.0.2.200", "/", "HTTP/1.1", "502", 900, "-"),
    ("2019-12-13 22:37:02", "192.0.2.200", "/", "HTTP/1.1", "502", 900, "-"),
]
CHROME_78 = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/78.0.3904.108 Safari/537.36"
)


def test_cloudfront_sample_accounted(spark) -> None:
    records = read_records(spark, "cloudfront", [CLOUDFRONT_SAMPLE])
    lines = CLOUDFRONT_SAMPLE.read_text(encoding="utf-8").splitlines()
    headers = [line for line in lines if line.startswith("#")]
    statuses = [record["status"] for record in records]
    assert len(records) == len(lines)
    assert statuses.count("skipped") == len(headers)
    assert statuses.count("parsed") == len(lines) - len(headers)
    assert statuses.count("rejected") == 0


def test_cloudfront_sample_values(spark) -> None:
    lines = [
        line
        for line in CLOUDFRONT_SAMPLE.read_text(encoding="utf-8").splitlines()
        if not line.startswith("#")
    ]
    records = by_line(read_records(spark, "cloudfront", [CLOUDFRONT_SAMPLE]))
    agents = [CHROME_78] * 5 + ["curl/7.55.1"]
    for line, expected, agent in zip(lines, CLOUDFRONT_EXPECTED, agents):
        time, client, path, protocol, status, sent, referrer = expected
        record = records[line]
        assert record["ts"] == micros(time, "%Y-%m-%d %H:%M:%S")
        assert record["client"] == client
        assert record["method"] == "GET"
        assert record["target"] == path
        assert record["path"] == path
        assert record["protocol"] == protocol
        assert record["http_status"] == status
        assert record["bytes"] == sent
        assert record["referrer"] == referrer
        assert record["user_agent"] == agent


def test_cloudfront_headers_skipped_not_counted(spark, tmp_path) -> None:
    lines = CLOUDFRONT_HEADER + [cloudfront_line()]
    records = read_text(spark, tmp_path, "cloudfront", lines)
    skipped = [record["line"] for record in records if record["status"] == "skipped"]
    assert skipped == CLOUDFRONT_HEADER


def test_cloudfront_fields_mapped_by_header(spark, tmp_path) -> None:
    reordered = list(reversed(CLOUDFRONT_FIELDS))
    values = dict(zip(CLOUDFRONT_FIELDS, cloudfront_line(sc_status="404", c_ip="192.0.2.9").split("\t")))
    line = "\t".join(values[name] for name in reordered)
    lines = ["#Version: 1.0", "#Fields: " + " ".join(reordered), line]
    records = by_line(read_text(spark, tmp_path, "cloudfront", lines))
    assert records[line]["http_status"] == "404"
    assert records[line]["client"] == "192.0.2.9"


def test_cloudfront_second_header_applies_below(spark, tmp_path) -> None:
    short_fields = ["date", "time", "c-ip", "cs-method", "cs-uri-stem", "sc-status", "sc-bytes"]
    above = cloudfront_line(cs_uri_stem="/first")
    below = "\t".join(["2019-12-05", "01:00:00", "192.0.2.7", "POST", "/second", "201", "10"])
    lines = CLOUDFRONT_HEADER + [above, "#Version: 1.0", "#Fields: " + " ".join(short_fields), below]
    records = by_line(read_text(spark, tmp_path, "cloudfront", lines))
    assert records[above]["path"] == "/first"
    assert records[below]["path"] == "/second"
    assert records[below]["method"] == "POST"
    assert records[below]["protocol"] is None
    assert records[below]["ts"] == micros("2019-12-05 01:00:00", "%Y-%m-%d %H:%M:%S")


def test_cloudfront_headers_per_file(spark, tmp_path) -> None:
    reordered = list(reversed(CLOUDFRONT_FIELDS))
    values = dict(zip(CLOUDFRONT_FIELDS, cloudfront_line(sc_status="304").split("\t")))
    second_line = "\t".join(values[name] for name in reordered)
    first = write_file(tmp_path / "a.log", CLOUDFRONT_HEADER + [cloudfront_line(sc_status="200")])
    second = write_file(tmp_path / "b.log", ["#Fields: " + " ".join(reordered), second_line])
    records = read_records(spark, "cloudfront", [first, second])
    parsed = sorted(record["http_status"] for record in records if record["status"] == "parsed")
    assert parsed == ["200", "304"]


def test_cloudfront_query_joins_target(spark, tmp_path) -> None:
    line = cloudfront_line(cs_uri_stem="/search", cs_uri_query="q=a%20b&page=2")
    records = by_line(read_text(spark, tmp_path, "cloudfront", CLOUDFRONT_HEADER + [line]))
    assert records[line]["target"] == "/search?q=a%20b&page=2"
    assert records[line]["path"] == "/search"


def test_cloudfront_status_000_kept(spark, tmp_path) -> None:
    line = cloudfront_line(sc_status="000", sc_bytes="-")
    records = by_line(read_text(spark, tmp_path, "cloudfront", CLOUDFRONT_HEADER + [line]))
    assert records[line]["http_status"] == "000"
    assert records[line]["bytes"] == 0


CLOUDFRONT_AGENTS = {
    "Mozilla/5.0%20(X11;%20Linux)": "Mozilla/5.0 (X11; Linux)",
    "Googlebot/2.1;%20+http://www.google.com/bot.html": "Googlebot/2.1; +http://www.google.com/bot.html",
    "say%20%22hi%22": 'say "hi"',
    "broken%zzescape": "broken%zzescape",
}


def test_cloudfront_agent_decoded(spark, tmp_path) -> None:
    lines = {cloudfront_line(**{"cs(User-Agent)": logged}): decoded for logged, decoded in CLOUDFRONT_AGENTS.items()}
    records = by_line(read_text(spark, tmp_path, "cloudfront", CLOUDFRONT_HEADER + list(lines)))
    for line, decoded in lines.items():
        assert records[line]["user_agent"] == decoded


def test_cloudfront_line_above_header_rejected(spark, tmp_path) -> None:
    line = cloudfront_line()
    records = by_line(read_text(spark, tmp_path, "cloudfront", [line] + CLOUDFRONT_HEADER))
    assert records[line]["status"] == "rejected"
    assert records[line]["reason"] == "no_fields_header"


def test_cloudfront_header_without_status(spark, tmp_path) -> None:
    fields = [name for name in CLOUDFRONT_FIELDS if name != "sc-status"]
    line = "\t".join(["2019-12-04", "21:02:31"] + ["-"] * (len(fields) - 2))
    records = by_line(read_text(spark, tmp_path, "cloudfront", ["#Fields: " + " ".join(fields), line]))
    assert records[line]["reason"] == "missing_field"


def test_cloudfront_truncated_line_rejected(spark, tmp_path) -> None:
    line = "\t".join(cloudfront_line().split("\t")[:10])
    records = by_line(read_text(spark, tmp_path, "cloudfront", CLOUDFRONT_HEADER + [line]))
    assert records[line]["reason"] == "too_few_fields"


def test_cloudfront_bad_values_rejected(spark, tmp_path) -> None:
    cases = {
        cloudfront_line(time="25:61:00"): "bad_timestamp",
        cloudfront_line(sc_status="2000"): "bad_status",
        cloudfront_line(sc_bytes="-1"): "bad_bytes",
    }
    records = by_line(read_text(spark, tmp_path, "cloudfront", CLOUDFRONT_HEADER + list(cases)))
    for line, reason in cases.items():
        assert records[line]["reason"] == reason


def test_cloudfront_blank_line_rejected(spark, tmp_path) -> None:
    records = read_text(spark, tmp_path, "cloudfront", CLOUDFRONT_HEADER + ["", cloudfront_line()])
    [blank] = [record for record in records if record["line"] == ""]
    assert blank["reason"] == "empty_line"


def test_cloudfront_empty_file_no_lines(spark, tmp_path) -> None:
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    assert read_records(spark, "cloudfront", [path]) == []


def test_cloudfront_gzip_file(spark, tmp_path) -> None:
    import gzip

    path = tmp_path / "E2EXAMPLE.2019-12-04-21.abcd.gz"
    path.write_bytes(gzip.compress("\n".join(CLOUDFRONT_HEADER + [cloudfront_line()]).encode()))
    records = read_records(spark, "cloudfront", [path])
    assert sorted(record["status"] for record in records) == ["parsed", "skipped", "skipped"]


# --- Encodings, through every line format -------------------------------------


def sample_line(name: str, *, agent: str = "agent/1.0", path: str = "/index.html") -> str:
    if name == "alb":
        return alb_line(agent=agent, request=f"GET https://h:443{path} HTTP/1.1")
    if name == "s3-access":
        return s3_line(agent=f'"{agent}"', request_uri=f'"GET {path} HTTP/1.1"')
    if name == "cloudfront":
        return cloudfront_line(**{"cs(User-Agent)": agent, "cs-uri-stem": path})
    return f'192.0.2.1 - - [06/Feb/2019:00:00:38 +0000] "GET {path} HTTP/1.1" 200 10 "-" "{agent}"'


def header_lines(name: str) -> List[str]:
    return CLOUDFRONT_HEADER if name == "cloudfront" else []


def requests_of(records: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [record for record in records if record["status"] != "skipped"]


@pytest.mark.parametrize("name", sorted(FORMAT_MODULES))
def test_encoding_bom_removed(spark, tmp_path, name: str) -> None:
    lines = header_lines(name) + [sample_line(name)]
    path = write_file(tmp_path / "bom.log", lines, prefix="\ufeff".encode("utf-8"))
    records = read_records(spark, name, [path])
    assert [record["status"] for record in requests_of(records)] == ["parsed"]
    assert len(records) == len(lines)


@pytest.mark.parametrize("name", sorted(FORMAT_MODULES))
def test_encoding_crlf_lines(spark, tmp_path, name: str) -> None:
    lines = header_lines(name) + [sample_line(name), sample_line(name, path="/two")]
    path = write_file(tmp_path / "crlf.log", lines, newline="\r\n")
    records = requests_of(read_records(spark, name, [path]))
    assert sorted(record["path"] for record in records) == ["/index.html", "/two"]
    assert all(not record["user_agent"].endswith("\r") for record in records)


@pytest.mark.parametrize("name", sorted(FORMAT_MODULES))
def test_encoding_invalid_utf8_replaced(spark, tmp_path, name: str) -> None:
    good = sample_line(name, agent="agent-XX-1.0")
    raw = "".join(line + "\n" for line in header_lines(name) + [good]).encode("utf-8")
    path = tmp_path / "invalid.log"
    path.write_bytes(raw.replace(b"XX", b"\xff\xfe"))
    [record] = requests_of(read_records(spark, name, [path]))
    assert record["status"] == "parsed"
    assert "\ufffd" in record["user_agent"]


@pytest.mark.parametrize("name", sorted(FORMAT_MODULES))
def test_encoding_one_megabyte_line(spark, tmp_path, name: str) -> None:
    agent = "A" * (1 << 20)
    lines = header_lines(name) + [sample_line(name, agent=agent), sample_line(name)]
    records = requests_of(read_text(spark, tmp_path, name, lines))
    lengths = sorted(len(record["user_agent"]) for record in records)
    assert [record["status"] for record in records] == ["parsed", "parsed"]
    assert lengths == [len("agent/1.0"), len(agent)]


def test_cloudfront_glob_characters_in_name(spark, tmp_path) -> None:
    path = write_file(tmp_path / "E2EXAMPLE[1].log", CLOUDFRONT_HEADER + [cloudfront_line()])
    write_file(tmp_path / "E2EXAMPLE1.log", CLOUDFRONT_HEADER + [cloudfront_line(sc_status="404")])
    records = read_records(spark, "cloudfront", [path])
    assert [record["http_status"] for record in records if record["status"] == "parsed"] == ["200"]


def test_cloudfront_lines_alone_rejected(spark) -> None:
    from tests.spark_rows import lines_frame

    with pytest.raises(ValueError, match="format cloudfront maps each line by the #Fields header"):
        input_format("cloudfront").parse_lines(lines_frame(spark, ["#Version: 1.0"]))
