"""End-to-end runs of every input format: exact views and every line accounted for.

Each sample is read here a second time in plain Python (``re``, ``datetime``,
``urllib.parse``, ``json``) to compute the view it must produce
(http_status_hourly for the web-request formats, clicks_by_day for events),
and the run summary must account for every line of every input file.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List
from urllib.parse import urlsplit

import pytest

from okeanos.indices import runs_index
from okeanos.views import query_view
from okeanos_spark.accounting import InputPolicy, RejectRatioExceededError
from okeanos_spark.file_checks import CorruptInputError
from okeanos_spark.run import run_job
from tests import web_reference as ref

pytestmark = [pytest.mark.spark, pytest.mark.opensearch, pytest.mark.slow]

# The sink writes from Spark's Python workers, which need opensearch-py.
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

AWS_SAMPLES = ref.REAL_DATA / "aws-doc-samples"
ALB_SAMPLE = AWS_SAMPLES / "alb_access.log"
CLOUDFRONT_SAMPLE = AWS_SAMPLES / "cloudfront_standard.log"
S3_SAMPLE = AWS_SAMPLES / "s3_server_access.log"

_S3_LINE = re.compile(r'^\S+ \S+ \[([^\]]+)\] (\S+) \S+ \S+ \S+ \S+ "([^"]*)" (\S+) \S+ (\S+)')


def read_alb(path: Path) -> List[ref.Request]:
    """Read ALB entries: the first 12 fields contain no space, then the quoted request."""
    requests = []
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split(" ")
        target = line.split('"')[1].split(" ")[1]
        requests.append(ref.Request(
            ts=datetime.strptime(fields[1], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc),
            client=fields[3].rsplit(":", 1)[0],
            path=urlsplit(target).path or "/",
            status=fields[8],
            bytes=int(fields[11]),
        ))
    return requests


def read_cloudfront(path: Path) -> List[ref.Request]:
    """Read CloudFront lines by the names of the last ``#Fields`` header."""
    requests = []
    names: List[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#Fields:"):
            names = line[len("#Fields:"):].split()
            continue
        if line.startswith("#"):
            continue
        values = dict(zip(names, line.split("\t")))
        when = datetime.strptime(f"{values['date']} {values['time']}", "%Y-%m-%d %H:%M:%S")
        requests.append(ref.Request(
            ts=when.replace(tzinfo=timezone.utc),
            client=values["c-ip"],
            path=values["cs-uri-stem"],
            status=values["sc-status"],
            bytes=0 if values["sc-bytes"] == "-" else int(values["sc-bytes"]),
        ))
    return requests


def read_s3(path: Path) -> List[ref.Request]:
    """Read S3 server access records with a regular expression."""
    requests = []
    for line in path.read_text(encoding="utf-8").splitlines():
        time_text, client, request, status, sent = _S3_LINE.match(line).groups()
        requests.append(ref.Request(
            ts=ref.parse_time(time_text),
            client=client,
            path=ref.request_path(request),
            status=status,
            bytes=0 if sent == "-" else int(sent),
        ))
    return requests


SAMPLES = {
    "aws-alb": (ALB_SAMPLE, "alb", read_alb),
    "aws-cloudfront": (CLOUDFRONT_SAMPLE, "cloudfront", read_cloudfront),
    "aws-s3": (S3_SAMPLE, "s3-access", read_s3),
    "web-apache": (ref.APACHE_LOG, "combined", ref.read_combined),
    "web-nginx": (ref.NGINX_LOG, "nginx-json", ref.read_nginx_json),
}


def new_prefix() -> str:
    return "t" + uuid.uuid4().hex[:12]


def line_count(path: Path) -> int:
    """Count lines as Hadoop's line reader does: a final line without a line break counts too."""
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    lines = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    return len(lines) - 1 if lines[-1] == b"" else len(lines)


def stored_summary(client, prefix: str, run_id: str) -> Dict[str, Any]:
    return client.get(index=runs_index(prefix=prefix), id=run_id)["_source"]


def run(spark, client, url: str, prefix: str, **arguments: Any):
    return run_job(spark, client=client, opensearch_url=url, index_prefix=prefix, **arguments)


@pytest.fixture(scope="module")
def sample_runs(spark, opensearch_client, opensearch_url) -> Dict[str, Any]:
    """Run http_status_hourly once over each sample, and return the index prefix and the summaries."""
    prefix = new_prefix()
    summaries = {}
    for source, (path, input_format, _) in SAMPLES.items():
        summaries[source] = run(
            spark, opensearch_client, opensearch_url, prefix,
            job="http_status_hourly", input_path=str(path), input_format=input_format, source=source,
        )
    return {"prefix": prefix, "summaries": summaries}


@pytest.mark.parametrize("source", sorted(SAMPLES))
def test_sample_view_exact(sample_runs, opensearch_client, source: str) -> None:
    path, _, read = SAMPLES[source]
    expected = ref.status_hourly(read(path), source)
    actual = query_view(opensearch_client, "http_status_hourly", source=source, prefix=sample_runs["prefix"])
    assert actual == expected


@pytest.mark.parametrize("source", sorted(SAMPLES))
def test_sample_every_line_accounted(sample_runs, opensearch_client, source: str) -> None:
    path, _, read = SAMPLES[source]
    summary = sample_runs["summaries"][source]
    stored = stored_summary(opensearch_client, sample_runs["prefix"], summary.run_id)
    lines = line_count(path)
    assert stored["lines_read"] == lines
    assert stored["events_read"] + stored["lines_rejected"] + stored["lines_skipped"] == lines
    assert stored["events_read"] == len(read(path))
    assert stored["lines_rejected"] == 0
    assert [entry["lines_read"] for entry in stored["per_file"]] == [lines]


def test_cloudfront_headers_skipped(sample_runs, opensearch_client) -> None:
    summary = sample_runs["summaries"]["aws-cloudfront"]
    stored = stored_summary(opensearch_client, sample_runs["prefix"], summary.run_id)
    headers = [line for line in CLOUDFRONT_SAMPLE.read_text(encoding="utf-8").splitlines() if line.startswith("#")]
    assert stored["lines_skipped"] == len(headers)


# --- a messy input directory --------------------------------------------------


def messy_directory(root: Path) -> Dict[str, Path]:
    """Write ALB logs as an S3 log bucket contains them: gzip files, an empty file, a test file, a marker."""
    alb_lines = ALB_SAMPLE.read_text(encoding="utf-8").splitlines()
    files = {
        "good": root / "2018" / "07" / "02" / "a_20180702T2225Z.log.gz",
        "bad": root / "2018" / "07" / "02" / "b_20180702T2230Z.log.gz",
        "empty": root / "2018" / "07" / "02" / "c_20180702T2235Z.log.gz",
        "test_file": root / "ELBAccessLogTestFile",
        "marker": root / "2018_$folder$",
    }
    for path in files.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    files["good"].write_bytes(gzip.compress(("\n".join(alb_lines) + "\n").encode()))
    files["bad"].write_bytes(gzip.compress(("\n".join(alb_lines[:3] + ["not an ALB entry"]) + "\n").encode()))
    files["empty"].write_bytes(b"")
    files["test_file"].write_text("Enable AccessLog for ELB: my-loadbalancer at 2018-07-02T22:20:00Z")
    files["marker"].write_bytes(b"")
    return files


def test_messy_input_accounted(spark, opensearch_client, opensearch_url, tmp_path) -> None:
    files = messy_directory(tmp_path / "alb")
    prefix = new_prefix()
    summary = run(
        spark, opensearch_client, opensearch_url, prefix,
        job="http_status_hourly", input_path=str(tmp_path / "alb"), input_format="alb",
        source="aws-alb",
        input_policy=InputPolicy(max_reject_ratio=1.0, rejects_location=str(tmp_path / "rejects")),
    )
    stored = stored_summary(opensearch_client, prefix, summary.run_id)
    per_file = {Path(entry["file"]).name: entry for entry in stored["per_file"]}
    # The listing leaves out the folder marker, so only the test file is ignored here.
    assert stored["files_ignored"] == 1
    assert stored["files_empty"] == 1
    assert stored["files_read"] == 2
    assert stored["lines_read"] == line_count(files["good"]) + line_count(files["bad"])
    assert stored["rejected_by_reason"] == [{"reason": "unparseable", "lines": 1}]
    assert per_file[files["bad"].name]["lines_rejected"] == 1
    assert per_file[files["good"].name]["lines_rejected"] == 0


def test_messy_input_rejects_written(spark, opensearch_client, opensearch_url, tmp_path) -> None:
    files = messy_directory(tmp_path / "alb")
    summary = run(
        spark, opensearch_client, opensearch_url, new_prefix(),
        job="http_status_hourly", input_path=str(tmp_path / "alb"), input_format="alb",
        source="aws-alb",
        input_policy=InputPolicy(max_reject_ratio=1.0, rejects_location=str(tmp_path / "rejects")),
    )
    written = tmp_path / "rejects" / summary.run_id / "rejects.jsonl"
    [reject] = [json.loads(line) for line in written.read_text(encoding="utf-8").splitlines()]
    assert reject["file"].endswith(files["bad"].name)
    assert reject["line_number"] == 4
    assert reject["reason"] == "unparseable"
    assert reject["line"] == "not an ALB entry"


def test_reject_ratio_fails_run(spark, opensearch_client, opensearch_url, tmp_path) -> None:
    messy_directory(tmp_path / "alb")
    prefix = new_prefix()
    with pytest.raises(RejectRatioExceededError, match="1 of 11 lines were rejected"):
        run(
            spark, opensearch_client, opensearch_url, prefix,
            job="http_status_hourly", input_path=str(tmp_path / "alb"), input_format="alb",
            source="aws-alb", input_policy=InputPolicy(rejects_location=str(tmp_path / "rejects")),
        )
    opensearch_client.indices.refresh(index=runs_index(prefix=prefix))
    hits = opensearch_client.search(index=runs_index(prefix=prefix))["hits"]["hits"]
    assert [hit["_source"]["status"] for hit in hits] == ["failed"]
    assert hits[0]["_source"]["lines_rejected"] == 1


def test_corrupt_gzip_fails_run(spark, opensearch_client, opensearch_url, tmp_path) -> None:
    files = messy_directory(tmp_path / "alb")
    whole = files["good"].read_bytes()
    files["good"].write_bytes(whole[: len(whole) // 2])
    with pytest.raises(CorruptInputError, match=files["good"].name):
        run(
            spark, opensearch_client, opensearch_url, new_prefix(),
            job="http_status_hourly", input_path=str(tmp_path / "alb"), input_format="alb",
            source="aws-alb", input_policy=InputPolicy(max_reject_ratio=1.0),
        )


def test_corrupt_gzip_skipped_incomplete(spark, opensearch_client, opensearch_url, tmp_path) -> None:
    files = messy_directory(tmp_path / "alb")
    whole = files["good"].read_bytes()
    files["good"].write_bytes(whole[: len(whole) // 2])
    prefix = new_prefix()
    summary = run(
        spark, opensearch_client, opensearch_url, prefix,
        job="http_status_hourly", input_path=str(tmp_path / "alb"), input_format="alb",
        source="aws-alb", input_policy=InputPolicy(max_reject_ratio=1.0, on_corrupt="skip"),
    )
    stored = stored_summary(opensearch_client, prefix, summary.run_id)
    assert stored["complete"] is False
    assert stored["files_corrupt"] == 1
    assert [Path(entry["file"]).name for entry in stored["corrupt_files"]] == [files["good"].name]
    assert stored["lines_read"] == line_count(files["bad"])


def test_dst_change_separate_hours(spark, opensearch_client, opensearch_url, tmp_path) -> None:
    # 1 November 2020 in New York: 01:30 happens at -0400, then again at -0500.
    template = S3_SAMPLE.read_text(encoding="utf-8").splitlines()[0]
    times = ["01/Nov/2020:01:30:00 -0400", "01/Nov/2020:01:30:00 -0500"]
    path = tmp_path / "s3_dst.log"
    path.write_text("".join(template.replace("06/Feb/2019:00:00:38 +0000", time) + "\n" for time in times))
    prefix = new_prefix()
    run(
        spark, opensearch_client, opensearch_url, prefix,
        job="http_status_hourly", input_path=str(path), input_format="s3-access", source="aws-s3",
    )
    expected = ref.status_hourly(read_s3(path), "aws-s3")
    actual = query_view(opensearch_client, "http_status_hourly", source="aws-s3", prefix=prefix)
    assert [row["bucket"] for row in expected] == ["2020-11-01T05:00:00Z", "2020-11-01T06:00:00Z"]
    assert actual == expected


def test_events_view_and_lines(spark, opensearch_client, opensearch_url, tmp_path) -> None:
    from okeanos.generate.events import generate_events

    written = generate_events(
        tmp_path / "events", seed=3, start="2026-01-05T22:00:00Z", hours=3,
        events_per_hour=40, jobs=5, files=2, compress=True,
    )
    clicks: Dict[tuple, int] = {}
    lines_per_file = {}
    for name in written.files:
        lines = gzip.decompress(Path(name).read_bytes()).decode("utf-8").splitlines()
        lines_per_file[Path(name).name] = len(lines)
        for line in lines:
            event = json.loads(line)
            if event["event_type"] == "click":
                day = datetime.fromisoformat(event["timestamp"]).astimezone(timezone.utc)
                key = (day.strftime("%Y-%m-%dT00:00:00Z"), event["job_id"])
                clicks[key] = clicks.get(key, 0) + 1
    expected = [
        {"bucket": bucket, "source": "events", "job_id": job_id, "clicks": count}
        for (bucket, job_id), count in sorted(clicks.items())
    ]
    prefix = new_prefix()
    summary = run(
        spark, opensearch_client, opensearch_url, prefix,
        job="clicks_by_day", input_path=str(tmp_path / "events"), input_format="events", source="events",
    )
    stored = stored_summary(opensearch_client, prefix, summary.run_id)
    per_file = {Path(entry["file"]).name: entry["lines_read"] for entry in stored["per_file"]}
    assert query_view(opensearch_client, "clicks_by_day", source="events", prefix=prefix) == expected
    assert per_file == lines_per_file
    assert stored["lines_read"] == sum(lines_per_file.values())
    assert stored["events_read"] == stored["lines_read"]


def test_extreme_timestamps_rejected(spark, opensearch_client, opensearch_url, tmp_path) -> None:
    good = ref.APACHE_LOG.read_text(encoding="utf-8").splitlines()[:40]
    template = good[0]
    logged = template.split("[", 1)[1].split("]", 1)[0]
    extreme = [
        template.replace(logged, time)
        for time in ("31/Dec/9999:23:59:59 +0000", "01/Jan/0001:00:00:00 +0000", "01/Jan/0001:00:00:00 +1400")
    ]
    reference = tmp_path / "good.log"
    reference.write_text("\n".join(good) + "\n", encoding="utf-8")
    (tmp_path / "input").mkdir()
    path = tmp_path / "input" / "mixed.log"
    path.write_text("\n".join(good[:20] + extreme + good[20:]) + "\n", encoding="utf-8")
    prefix = new_prefix()
    summary = run(
        spark, opensearch_client, opensearch_url, prefix,
        job="http_status_hourly", input_path=str(path), input_format="combined", source="web-apache",
        input_policy=InputPolicy(max_reject_ratio=1.0),
    )
    stored = stored_summary(opensearch_client, prefix, summary.run_id)
    expected = ref.status_hourly(ref.read_combined(reference), "web-apache")
    actual = query_view(opensearch_client, "http_status_hourly", source="web-apache", prefix=prefix)
    assert actual == expected
    assert stored["rejected_by_reason"] == [{"reason": "bad_timestamp", "lines": len(extreme)}]
    assert stored["events_read"] == len(good)
    assert stored["events_read"] + stored["lines_rejected"] + stored["lines_skipped"] == line_count(path)


def colon_directory(root: Path) -> Dict[str, Path]:
    """Write the S3 sample twice: once under a plain name, once under a name with ':'."""
    root.mkdir()
    files = {"good": root / "a.log", "colon": root / "colon:x.log"}
    for path in files.values():
        path.write_bytes(S3_SAMPLE.read_bytes())
    return files


def test_colon_name_fails_run(spark, opensearch_client, opensearch_url, tmp_path) -> None:
    files = colon_directory(tmp_path / "input")
    with pytest.raises(CorruptInputError, match=f"{files['colon'].name}.*rename.*OKEANOS_ON_CORRUPT=skip"):
        run(
            spark, opensearch_client, opensearch_url, new_prefix(),
            job="http_status_hourly", input_path=str(tmp_path / "input"), input_format="s3-access",
            source="aws-s3",
        )


def test_colon_name_skipped_incomplete(spark, opensearch_client, opensearch_url, tmp_path) -> None:
    files = colon_directory(tmp_path / "input")
    prefix = new_prefix()
    summary = run(
        spark, opensearch_client, opensearch_url, prefix,
        job="http_status_hourly", input_path=str(tmp_path / "input"), input_format="s3-access",
        source="aws-s3", input_policy=InputPolicy(on_corrupt="skip"),
    )
    stored = stored_summary(opensearch_client, prefix, summary.run_id)
    assert stored["complete"] is False
    assert [Path(entry["file"]).name for entry in stored["corrupt_files"]] == [files["colon"].name]
    assert stored["lines_read"] == line_count(files["good"])
