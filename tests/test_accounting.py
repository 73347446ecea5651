"""Line accounting: counts per file, the rejects sample, line numbers, and the reject-ratio limit."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Dict, List

import pytest

from okeanos.exceptions import ConfigurationError
from okeanos_spark.accounting import (
    InputPolicy,
    LineCounts,
    RejectedLine,
    RejectRatioExceededError,
    check_reject_ratio,
    count_lines,
    find_line_numbers,
    max_reject_ratio,
    sample_rejects,
    write_rejects,
)
from tests.web_reference import REAL_DATA

GOOD = '192.0.2.1 - - [06/Feb/2019:00:00:38 +0000] "GET /a HTTP/1.1" 200 10 "-" "curl/8"'
BAD = "this is not an access log line"


def read_combined(spark, paths: List[Path]):
    from okeanos_spark.formats.combined import FORMAT

    return FORMAT.read(spark, [str(path) for path in paths])


def write_lines(path: Path, lines: List[str], *, newline: str = "\n", prefix: bytes = b"") -> Path:
    data = prefix + "".join(line + newline for line in lines).encode("utf-8")
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def file_key(records, path: Path) -> str:
    """The ``file`` value Spark gives ``path``."""
    [name] = [row["file"] for row in records.select("file").distinct().collect() if row["file"].endswith(path.name)]
    return name


# --- LineCounts and the ratio limit, no Spark ---------------------------------


def test_counts_lines_read_sum() -> None:
    counts = LineCounts()
    counts.add("parsed", None, 7)
    counts.add("rejected", "unparseable", 2)
    counts.add("rejected", "bad_status", 1)
    counts.add("skipped", None, 2)
    assert counts.lines_read == 12
    assert counts.rejected_by_reason == {"unparseable": 2, "bad_status": 1}
    assert counts.reject_ratio == 3 / 10


def test_counts_unknown_status() -> None:
    with pytest.raises(ValueError, match="'maybe'"):
        LineCounts().add("maybe", None, 1)


def test_ratio_below_limit_passes() -> None:
    counts = LineCounts(parsed=95, rejected=5, rejected_by_reason={"unparseable": 5})
    check_reject_ratio(counts)


def test_ratio_above_limit_fails() -> None:
    counts = LineCounts(parsed=94, rejected=6, rejected_by_reason={"unparseable": 6})
    with pytest.raises(RejectRatioExceededError, match=r"6 of 100 lines were rejected \(6.00%\)") as caught:
        check_reject_ratio(counts, rejects_location="/tmp/rejects/run-1/rejects.jsonl")
    assert caught.value.max_ratio == 0.05
    assert "unparseable: 6" in str(caught.value)
    assert "/tmp/rejects/run-1/rejects.jsonl" in str(caught.value)


def test_ratio_one_disables() -> None:
    counts = LineCounts(rejected=10, rejected_by_reason={"unparseable": 10})
    check_reject_ratio(counts, max_ratio=1.0)


def test_ratio_skipped_not_counted() -> None:
    counts = LineCounts(parsed=1, skipped=1000)
    check_reject_ratio(counts, max_ratio=0.0)


def test_ratio_from_environment(monkeypatch) -> None:
    monkeypatch.setenv("OKEANOS_MAX_REJECT_RATIO", "0.5")
    assert max_reject_ratio() == 0.5


def test_ratio_explicit_over_environment(monkeypatch) -> None:
    monkeypatch.setenv("OKEANOS_MAX_REJECT_RATIO", "0.5")
    assert max_reject_ratio(0.1) == 0.1


@pytest.mark.parametrize("value", ["1.5", "-0.1", "five percent"])
def test_ratio_invalid_setting(monkeypatch, value: str) -> None:
    monkeypatch.setenv("OKEANOS_MAX_REJECT_RATIO", value)
    with pytest.raises(ConfigurationError, match="OKEANOS_MAX_REJECT_RATIO"):
        max_reject_ratio()


# --- writing the sample ---------------------------------------------------------


SAMPLES = [
    RejectedLine(file="/logs/a.log", reason="unparseable", line="garbage é", sha256="0", line_number=3),
    RejectedLine(file="/logs/b.log", reason="bad_status", line="x", sha256="1", line_number=None),
]


def test_write_rejects_local(tmp_path) -> None:
    written = write_rejects(SAMPLES, run_id="run-1", location=str(tmp_path / "rejects"))
    assert written == str(tmp_path / "rejects" / "run-1" / "rejects.jsonl")
    records = [json.loads(line) for line in Path(written).read_text(encoding="utf-8").splitlines()]
    assert records[0] == {"file": "/logs/a.log", "line_number": 3, "reason": "unparseable", "line": "garbage é"}
    assert records[1]["line_number"] is None


def test_write_rejects_default_state_dir(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("OKEANOS_HOME", str(tmp_path))
    written = write_rejects(SAMPLES, run_id="run-2")
    assert written == str(tmp_path / "rejects" / "run-2" / "rejects.jsonl")


def test_write_rejects_s3(monkeypatch) -> None:
    import boto3
    from moto import mock_aws

    for name, value in {
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="okeanos-state")
        written = write_rejects(SAMPLES, run_id="run-3", location="s3://okeanos-state/rejects/", s3_client=client)
        body = client.get_object(Bucket="okeanos-state", Key="rejects/run-3/rejects.jsonl")["Body"].read()
    assert written == "s3://okeanos-state/rejects/run-3/rejects.jsonl"
    assert [json.loads(line)["file"] for line in body.decode("utf-8").splitlines()] == ["/logs/a.log", "/logs/b.log"]


# --- Spark: counting and sampling ----------------------------------------------


@pytest.mark.spark
def test_count_lines_per_file(spark, tmp_path) -> None:
    first = write_lines(tmp_path / "a.log", [GOOD, BAD, GOOD, ""])
    second = write_lines(tmp_path / "b.log.gz", [GOOD, GOOD, GOOD])
    records = read_combined(spark, [first, second])
    accounting = count_lines(records)
    counts = accounting.per_file[file_key(records, first)]
    assert counts.parsed == 2
    assert counts.rejected_by_reason == {"unparseable": 1, "empty_line": 1}
    assert accounting.per_file[file_key(records, second)].parsed == 3
    assert accounting.total.lines_read == 7


@pytest.mark.spark
def test_count_lines_aws_samples(spark) -> None:
    from okeanos_spark.formats.cloudfront import FORMAT

    sample = REAL_DATA / "aws-doc-samples" / "cloudfront_standard.log"
    lines = sample.read_text(encoding="utf-8").splitlines()
    accounting = count_lines(FORMAT.read(spark, [str(sample)]))
    assert accounting.total.lines_read == len(lines)
    assert accounting.total.skipped == sum(1 for line in lines if line.startswith("#"))
    assert accounting.total.rejected == 0


@pytest.mark.spark
def test_count_lines_document(spark, tmp_path) -> None:
    path = write_lines(tmp_path / "a.log", [GOOD, BAD])
    document = count_lines(read_combined(spark, [path])).to_dict()
    assert document["lines_read"] == 2
    assert document["rejected_by_reason"] == [{"reason": "unparseable", "lines": 1}]
    assert document["per_file"][0]["lines_parsed"] == 1


def _combined_at(moment: str) -> str:
    return GOOD.replace("06/Feb/2019:00:00:38 +0000", moment)


@pytest.mark.spark
def test_count_lines_event_times(spark, tmp_path) -> None:
    # 2019-02-06 00:00:38 UTC is 1549411238 s; the +0100 line is an hour earlier in UTC.
    first = write_lines(tmp_path / "a.log", [GOOD, BAD, _combined_at("06/Feb/2019:00:30:00 +0100")])
    second = write_lines(tmp_path / "b.log", [_combined_at("07/Feb/2019:10:00:00 +0000")])
    accounting = count_lines(read_combined(spark, [first, second]), inside=(1549411238, 1549411238 + 3600))
    assert accounting.first_event == 1549411238 - 38 - 1800
    assert accounting.last_event == 1549411238 - 38 + 34 * 3600
    assert accounting.events_inside == 1


@pytest.mark.spark
def test_count_lines_no_events(spark, tmp_path) -> None:
    path = write_lines(tmp_path / "a.log", [BAD, ""])
    accounting = count_lines(read_combined(spark, [path]))
    assert (accounting.first_event, accounting.last_event, accounting.events_inside) == (None, None, None)


@pytest.mark.spark
def test_sample_bounded_per_file(spark, tmp_path) -> None:
    path = write_lines(tmp_path / "a.log", [f"{BAD} {index}" for index in range(25)])
    samples = sample_rejects(read_combined(spark, [path]))
    assert len(samples) == 10


@pytest.mark.spark
def test_sample_bounded_per_run(spark, tmp_path) -> None:
    paths = [write_lines(tmp_path / f"{index}.log", [BAD] * 4) for index in range(5)]
    samples = sample_rejects(read_combined(spark, paths), per_run=7, per_file=3)
    per_file = Counter(sample.file for sample in samples)
    assert len(samples) == 7
    assert max(per_file.values()) == 3


@pytest.mark.spark
def test_sample_cut_to_2_kib(spark, tmp_path) -> None:
    long_line = "é" * (1 << 19)  # 1 MiB of two-byte characters
    path = write_lines(tmp_path / "a.log", [long_line])
    [sample] = sample_rejects(read_combined(spark, [path]))
    assert len(sample.line.encode("utf-8")) == 2048
    assert sample.line == "é" * 1024


@pytest.mark.spark
def test_sample_disabled(spark, tmp_path) -> None:
    path = write_lines(tmp_path / "a.log", [BAD])
    assert sample_rejects(read_combined(spark, [path]), per_run=0) == []


# --- Spark: line numbers ----------------------------------------------------------


def numbered(spark, paths: List[Path]) -> Dict[str, List[int]]:
    """Map each sampled line's text to its line numbers, as find_line_numbers gives them."""
    found: Dict[str, List[int]] = {}
    for sample in find_line_numbers(sample_rejects(read_combined(spark, paths))):
        found.setdefault(sample.line, []).append(sample.line_number)
    return {line: sorted(numbers) for line, numbers in found.items()}


def expected_numbers(lines: List[str], rejected: str) -> List[int]:
    return [index for index, line in enumerate(lines, start=1) if line == rejected]


@pytest.mark.spark
def test_line_numbers_found(spark, tmp_path) -> None:
    lines = [GOOD, GOOD, "bad one", GOOD, "bad two", GOOD]
    found = numbered(spark, [write_lines(tmp_path / "a.log", lines)])
    assert found["bad one"] == expected_numbers(lines, "bad one")
    assert found["bad two"] == expected_numbers(lines, "bad two")


@pytest.mark.spark
def test_line_numbers_repeated_line(spark, tmp_path) -> None:
    lines = [BAD, GOOD, BAD, GOOD, BAD]
    found = numbered(spark, [write_lines(tmp_path / "a.log", lines)])
    assert found[BAD] == expected_numbers(lines, BAD)


@pytest.mark.spark
def test_line_numbers_gzip_crlf_bom(spark, tmp_path) -> None:
    lines = [BAD, GOOD, "bad two"]
    path = write_lines(tmp_path / "a.log.gz", lines, newline="\r\n", prefix="\ufeff".encode("utf-8"))
    found = numbered(spark, [path])
    assert found[BAD] == [1]
    assert found["bad two"] == [3]


@pytest.mark.spark
def test_line_numbers_same_length_lines(spark, tmp_path) -> None:
    # Lines of the sampled line's length are hashed; only the equal one matches.
    lines = ["bad line b", GOOD, "bad line a", "bad line c"]
    path = write_lines(tmp_path / "a.log", lines)
    samples = [s for s in sample_rejects(read_combined(spark, [path])) if s.line == "bad line a"]
    assert samples[0].byte_length == len("bad line a")
    assert [sample.line_number for sample in find_line_numbers(samples)] == [3]


@pytest.mark.spark
def test_line_numbers_without_length(tmp_path) -> None:
    path = write_lines(tmp_path / "a.log", [GOOD, BAD])
    sample = RejectedLine(file=str(path), reason="unparseable", line=BAD, sha256=hashlib.sha256(BAD.encode()).hexdigest())
    assert [found.line_number for found in find_line_numbers([sample])] == [2]


@pytest.mark.spark
def test_line_numbers_file_deleted(spark, tmp_path) -> None:
    path = write_lines(tmp_path / "a.log", [GOOD, BAD])
    samples = sample_rejects(read_combined(spark, [path]))
    path.unlink()
    assert [sample.line_number for sample in find_line_numbers(samples)] == [None]


@pytest.mark.spark
def test_line_numbers_invalid_utf8(spark, tmp_path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"".join([GOOD.encode() + b"\n", b"bad \xff\xfe bytes\n", GOOD.encode() + b"\n"]))
    samples = find_line_numbers(sample_rejects(read_combined(spark, [path])))
    assert [sample.line_number for sample in samples] == [2]


# --- InputPolicy ----------------------------------------------------------------


def test_policy_defaults(tmp_path, monkeypatch) -> None:
    for name in ("OKEANOS_MAX_REJECT_RATIO", "OKEANOS_ON_CORRUPT", "OKEANOS_REJECTS_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OKEANOS_HOME", str(tmp_path))
    policy = InputPolicy().resolve()
    assert policy.max_reject_ratio == 0.05
    assert policy.on_corrupt == "fail"
    assert policy.rejects_location == str(tmp_path / "rejects")
    assert policy.rejects_per_run == 100
    assert policy.rejects_per_file == 10


def test_policy_environment(monkeypatch) -> None:
    monkeypatch.setenv("OKEANOS_ON_CORRUPT", "skip")
    monkeypatch.setenv("OKEANOS_REJECTS_URI", "s3://okeanos-state/rejects")
    policy = InputPolicy().resolve()
    assert policy.on_corrupt == "skip"
    assert policy.rejects_location == "s3://okeanos-state/rejects"


def test_policy_invalid_on_corrupt(monkeypatch) -> None:
    monkeypatch.setenv("OKEANOS_ON_CORRUPT", "ignore")
    with pytest.raises(ConfigurationError, match="on_corrupt: 'ignore' is invalid"):
        InputPolicy().resolve()


@pytest.mark.spark
def test_line_numbers_special_file_name(spark, tmp_path) -> None:
    lines = [GOOD, BAD]
    found = numbered(spark, [write_lines(tmp_path / "access [1] 100%.log", lines)])
    assert found[BAD] == [2]
