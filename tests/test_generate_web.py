"""Tests of the web log generator and of the DuckDB reference aggregation.

The expected totals are recounted here from the written files with small
parsers of each format, independent of the generator's own counting.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import pytest

from okeanos.exceptions import ConfigurationError
from okeanos.generate.web import FORMATS, WebLogSpec, file_name, generate_web_logs

TINY = dict(lines=3000, hours=3, files_per_hour=2, late_share=0.05, malformed_share=0.01, clients=500, paths=200)

_COMBINED = re.compile(r'^(\S+) \S+ \S+ \[([^\]]+)\] "(?:[^"\\]|\\.)*" (\d{3}) (\d+|-) "')
_ALB = re.compile(r'^\S+ (\S+) \S+ ([0-9.]+):\d+ \S+ \S+ \S+ \S+ (\d{3}) \S+ \d+ (\d+) "')
_S3 = re.compile(r'^\S+ \S+ \[([^\]]+)\] (\S+) \S+ \S+ \S+ \S+ "(?:[^"\\]|\\.)*" (\d{3}) \S+ (\d+|-) ')


def _apache_hour(text: str) -> str:
    moment = datetime.strptime(text, "%d/%b/%Y:%H:%M:%S %z").astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:00:00Z")


def _parse(fmt: str, line: str):
    """Return (hour, status, bytes, client) of a well-formed line, or None."""
    if fmt == "combined":
        m = _COMBINED.match(line)
        if m:
            return _apache_hour(m[2]), m[3], 0 if m[4] == "-" else int(m[4]), m[1]
    elif fmt == "nginx-json":
        try:
            record = json.loads(line)
            return _apache_hour(record["time"]), str(record["response"]), record["bytes"], record["remote_ip"]
        except (ValueError, KeyError):
            return None
    elif fmt == "alb":
        m = _ALB.match(line)
        if m:
            return m[1][:13] + ":00:00Z", m[3], int(m[4]), m[2]
    elif fmt == "cloudfront":
        fields = line.split("\t")
        if len(fields) >= 33:
            return f"{fields[0]}T{fields[1][:2]}:00:00Z", fields[8], int(fields[3]), fields[4]
    elif fmt == "s3-access":
        m = _S3.match(line)
        if m:
            return _apache_hour(m[1]), m[3], 0 if m[4] == "-" else int(m[4]), m[2]
    return None


def _read_lines(path: Path):
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            line = line.rstrip("\n")
            if not line.startswith("#"):
                yield line


def _recount(fmt: str, directory: Path):
    groups = defaultdict(lambda: [0, 0, set()])
    malformed = 0
    for path in sorted(directory.iterdir()):
        for line in _read_lines(path):
            parsed = _parse(fmt, line)
            if parsed is None:
                malformed += 1
                continue
            hour, status, size, client = parsed
            group = groups[(hour, status)]
            group[0] += 1
            group[1] += size
            group[2].add(client)
    rows = [
        {"bucket": hour, "status": status, "requests": n, "bytes": b, "clients": len(c)}
        for (hour, status), (n, b, c) in sorted(groups.items())
    ]
    return rows, malformed


def _tree_bytes(directory: Path):
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """Each format generated once at the tiny size: format -> (directory, summary)."""
    out = {}
    for fmt in FORMATS:
        directory = tmp_path_factory.mktemp(fmt.replace("-", "_"))
        out[fmt] = (directory, generate_web_logs(WebLogSpec(format=fmt, **TINY), directory, workers=1))
    return out


@pytest.mark.parametrize("fmt", FORMATS)
def test_summary_matches_recount(generated, fmt):
    directory, summary = generated[fmt]
    rows, _ = _recount(fmt, directory)
    assert summary.rows() == rows


@pytest.mark.parametrize("fmt", FORMATS)
def test_malformed_count_matches_recount(generated, fmt):
    directory, summary = generated[fmt]
    _, malformed = _recount(fmt, directory)
    assert summary.malformed_lines == malformed


@pytest.mark.parametrize("fmt", FORMATS)
def test_line_count(generated, fmt):
    directory, summary = generated[fmt]
    written = sum(1 for path in directory.iterdir() for _ in _read_lines(path))
    assert written == TINY["lines"]


def test_files_named_and_counted(generated):
    directory, summary = generated["combined"]
    spec = WebLogSpec(format="combined", **TINY)
    assert sorted(p.name for p in directory.iterdir()) == sorted(file_name(spec, i) for i in range(spec.file_count))


def test_late_lines_in_earlier_hours(generated):
    directory, summary = generated["combined"]
    late = 0
    for path in directory.iterdir():
        file_hour = int(path.name[len("access-2015-05-17T"):][:2])
        for line in _read_lines(path):
            parsed = _parse("combined", line)
            if parsed is not None and int(parsed[0][11:13]) < file_hour:
                late += 1
    assert late == summary.late_lines


def test_late_lines_present(generated):
    assert generated["combined"][1].late_lines > 0


def test_cloudfront_header(generated):
    directory, _ = generated["cloudfront"]
    first = sorted(directory.iterdir())[0].read_text(encoding="utf-8").splitlines()
    assert first[0] == "#Version: 1.0"
    assert first[1].startswith("#Fields: date time x-edge-location sc-bytes c-ip")


def test_same_seed_same_bytes(tmp_path):
    spec = WebLogSpec(format="combined", **TINY)
    generate_web_logs(spec, tmp_path / "a", workers=1)
    generate_web_logs(spec, tmp_path / "b", workers=2)
    assert _tree_bytes(tmp_path / "a") == _tree_bytes(tmp_path / "b")


def test_other_seed_other_bytes(tmp_path):
    generate_web_logs(WebLogSpec(format="combined", seed=1, **TINY), tmp_path / "a", workers=1)
    generate_web_logs(WebLogSpec(format="combined", seed=2, **TINY), tmp_path / "b", workers=1)
    assert _tree_bytes(tmp_path / "a") != _tree_bytes(tmp_path / "b")


def test_gzip_holds_same_lines(tmp_path, generated):
    plain_dir, _ = generated["nginx-json"]
    generate_web_logs(WebLogSpec(format="nginx-json", gzip=True, **TINY), tmp_path, workers=1)
    unpacked = {p.name[: -len(".gz")]: gzip.decompress(p.read_bytes()) for p in tmp_path.iterdir()}
    assert unpacked == _tree_bytes(plain_dir)


def test_summary_json_round_trip(tmp_path, generated):
    _, summary = generated["s3-access"]
    summary.save(tmp_path / "summary.json")
    from okeanos.generate.web import WebLogSummary

    assert WebLogSummary.load(tmp_path / "summary.json") == summary


def test_spec_rejects_unknown_format():
    with pytest.raises(ConfigurationError, match="format 'w3c' is not one of"):
        WebLogSpec(format="w3c")


def test_spec_rejects_uneven_files_per_hour():
    with pytest.raises(ConfigurationError, match="files_per_hour must divide 3600"):
        WebLogSpec(files_per_hour=7)


def test_spec_lists_every_problem():
    with pytest.raises(ConfigurationError) as caught:
        WebLogSpec(lines=0, late_share=1.5)
    assert "lines must be a whole number >= 1, got 0" in str(caught.value)
    assert "late_share must be between 0 and 1, got 1.5" in str(caught.value)


@pytest.mark.parametrize("fmt", ["combined", "nginx-json"])
def test_duckdb_reference_matches_recount(generated, fmt):
    from bench.duckdb_http_status import http_status_hourly

    directory, _ = generated[fmt]
    expected, _ = _recount(fmt, directory)
    result = http_status_hourly(str(directory), fmt, threads=1)
    assert result["rows"] == expected


def test_cli_writes_files_and_summary(tmp_path, generated):
    from okeanos.cli import main
    from okeanos.generate.web import WebLogSummary

    options = ["--lines", "3000", "--hours", "3", "--files-per-hour", "2", "--late-share", "0.05"]
    options += ["--malformed-share", "0.01", "--clients", "500", "--paths", "200", "--workers", "1"]
    code = main(["generate", "web", "--format", "combined", "--out", str(tmp_path / "logs"), *options])
    assert code == 0
    assert _tree_bytes(tmp_path / "logs") == _tree_bytes(generated["combined"][0])
    assert WebLogSummary.load(tmp_path / "logs.summary.json") == generated["combined"][1]
