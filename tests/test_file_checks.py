"""Checks on input files: markers, empty files, corrupt gzip, and read errors."""

from __future__ import annotations

import gzip
import io
import logging
from pathlib import Path

import pytest

from okeanos.exceptions import ConfigurationError
from okeanos_spark.file_checks import (
    CorruptInputError,
    InputAccessError,
    InputReadError,
    check_files,
    check_gzip_stream,
    is_marker,
    open_input,
)

LINES = b"".join(b"192.0.2.%d - - [06/Feb/2019:00:00:38 +0000] \"GET / HTTP/1.1\" 200 10\n" % n for n in range(200))


def write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def truncated_gzip() -> bytes:
    whole = gzip.compress(LINES)
    return whole[: len(whole) // 2]


def flipped_gzip() -> bytes:
    damaged = bytearray(gzip.compress(LINES))
    damaged[len(damaged) // 2] ^= 0xFF
    return bytes(damaged)


# --- check_gzip_stream -------------------------------------------------------


def test_gzip_stream_valid() -> None:
    assert check_gzip_stream(io.BytesIO(gzip.compress(LINES))) is None


def test_gzip_stream_several_members() -> None:
    assert check_gzip_stream(io.BytesIO(gzip.compress(LINES) + gzip.compress(LINES))) is None


def test_gzip_stream_zero_padding() -> None:
    assert check_gzip_stream(io.BytesIO(gzip.compress(LINES) + b"\x00" * 512)) is None


def test_gzip_stream_truncated() -> None:
    problem = check_gzip_stream(io.BytesIO(truncated_gzip()))
    assert problem is not None
    assert problem.startswith("truncated")


def test_gzip_stream_cut_before_trailer() -> None:
    # Only the 8-byte CRC and size trailer is missing: every line is there,
    # but the data cannot be verified.
    problem = check_gzip_stream(io.BytesIO(gzip.compress(LINES)[:-8]))
    assert problem is not None
    assert problem.startswith("truncated")


def test_gzip_stream_damaged_byte() -> None:
    problem = check_gzip_stream(io.BytesIO(flipped_gzip()))
    assert problem is not None
    assert problem.startswith("invalid gzip data")


def test_gzip_stream_trailing_garbage() -> None:
    problem = check_gzip_stream(io.BytesIO(gzip.compress(LINES) + b"not gzip"))
    assert problem is not None
    assert problem.startswith("invalid gzip data")


def test_gzip_stream_plain_text() -> None:
    problem = check_gzip_stream(io.BytesIO(LINES))
    assert problem is not None
    assert problem.startswith("invalid gzip data")


def test_gzip_stream_large_output() -> None:
    # Output of several chunks (1 MiB each) from one small input chunk.
    assert check_gzip_stream(io.BytesIO(gzip.compress(b"A" * (5 << 20)))) is None


# --- markers and empty files -------------------------------------------------


@pytest.mark.parametrize(
    "uri",
    ["/logs/_SUCCESS", "s3://b/logs/2019_$folder$", "s3://b/AWSLogs/123456789012/ELBAccessLogTestFile"],
    ids=["success", "folder", "elb-test-file"],
)
def test_marker_recognised(uri: str) -> None:
    assert is_marker(uri)


def test_marker_not_log_file() -> None:
    assert not is_marker("/logs/access_SUCCESS.log")


def test_check_files_sorts_files(tmp_path) -> None:
    plain = write(tmp_path / "a.log", LINES)
    packed = write(tmp_path / "b.log.gz", gzip.compress(LINES))
    empty = write(tmp_path / "c.log", b"")
    empty_gzip = write(tmp_path / "d.log.gz", b"")
    marker = write(tmp_path / "_SUCCESS", b"")
    test_file = write(tmp_path / "ELBAccessLogTestFile", b"Enable AccessLog for ELB: x")
    result = check_files([plain, packed, empty, empty_gzip, marker, test_file])
    assert result.readable == [plain, packed]
    assert result.empty == [empty, empty_gzip]
    assert result.markers == [marker, test_file]
    assert result.corrupt == {}
    assert result.complete


def test_check_files_warns_empty(tmp_path, caplog) -> None:
    empty = write(tmp_path / "c.log", b"")
    with caplog.at_level(logging.WARNING, logger="okeanos_spark.file_checks"):
        check_files([empty])
    assert any(empty in record.getMessage() for record in caplog.records)


def test_check_files_summary_counts(tmp_path) -> None:
    plain = write(tmp_path / "a.log", LINES)
    empty = write(tmp_path / "c.log", b"")
    bad = write(tmp_path / "e.log.gz", truncated_gzip())
    summary = check_files([plain, empty, bad], on_corrupt="skip").to_dict()
    assert summary["files_read"] == 1
    assert summary["files_empty"] == 1
    assert summary["files_corrupt"] == 1
    assert summary["corrupt_files"][0]["file"] == bad
    assert summary["complete"] is False


# --- corrupt gzip ---------------------------------------------------------------


def test_corrupt_fails_by_default(tmp_path) -> None:
    good = write(tmp_path / "a.log.gz", gzip.compress(LINES))
    truncated = write(tmp_path / "b.log.gz", truncated_gzip())
    damaged = write(tmp_path / "c.log.gz", flipped_gzip())
    with pytest.raises(CorruptInputError) as caught:
        check_files([good, truncated, damaged])
    assert sorted(caught.value.problems) == [truncated, damaged]
    assert truncated in str(caught.value)
    assert damaged in str(caught.value)


def test_corrupt_message_names_variable(tmp_path) -> None:
    truncated = write(tmp_path / "b.log.gz", truncated_gzip())
    with pytest.raises(CorruptInputError, match="set OKEANOS_ON_CORRUPT=skip"):
        check_files([truncated])


def test_corrupt_skipped_marks_incomplete(tmp_path) -> None:
    good = write(tmp_path / "a.log.gz", gzip.compress(LINES))
    truncated = write(tmp_path / "b.log.gz", truncated_gzip())
    result = check_files([good, truncated], on_corrupt="skip")
    assert result.readable == [good]
    assert list(result.corrupt) == [truncated]
    assert not result.complete


def test_colon_name_fails_by_default(tmp_path) -> None:
    colon = write(tmp_path / "colon:x.log", LINES)
    with pytest.raises(CorruptInputError, match="colon:x.log: the file name contains ':'.*rename") as caught:
        check_files([colon])
    assert "OKEANOS_ON_CORRUPT=skip" in str(caught.value)


def test_colon_name_skipped_incomplete(tmp_path) -> None:
    good = write(tmp_path / "a.log", LINES)
    colon = write(tmp_path / "colon:x.log", LINES)
    result = check_files([good, colon], on_corrupt="skip")
    assert result.readable == [good]
    assert list(result.corrupt) == [colon]
    assert not result.complete


def test_not_gzip_with_gz_suffix(tmp_path) -> None:
    fake = write(tmp_path / "a.log.gz", LINES)
    result = check_files([fake], on_corrupt="skip")
    assert list(result.corrupt) == [fake]


def test_on_corrupt_invalid(tmp_path) -> None:
    with pytest.raises(ConfigurationError, match="on_corrupt: 'ignore' is invalid"):
        check_files([], on_corrupt="ignore")


# --- read errors are not corruption ----------------------------------------------


def test_missing_local_file_read_error(tmp_path) -> None:
    with pytest.raises(InputReadError, match="gone.log"):
        check_files([str(tmp_path / "gone.log")])


def test_local_permission_denied(tmp_path, monkeypatch) -> None:
    path = write(tmp_path / "a.log.gz", gzip.compress(LINES))

    def deny(*args, **kwargs):
        raise PermissionError(13, "Permission denied", path)

    # Tests run as root, which chmod cannot lock out, so open() is replaced.
    monkeypatch.setattr("builtins.open", deny)
    with pytest.raises(InputAccessError, match="access denied"):
        check_files([path])


def s3_client():
    import boto3

    return boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )


@pytest.fixture
def stubbed_s3(monkeypatch):
    from botocore.stub import Stubber

    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    client = s3_client()
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_s3_access_denied(stubbed_s3) -> None:
    client, stubber = stubbed_s3
    stubber.add_client_error("head_object", service_error_code="AccessDenied", http_status_code=403)
    with pytest.raises(InputAccessError, match="s3://logs/a.log.gz"):
        check_files(["s3://logs/a.log.gz"], s3_client=client)


def test_s3_throttled_read_error(stubbed_s3) -> None:
    client, stubber = stubbed_s3
    stubber.add_response("head_object", {"ContentLength": 10}, {"Bucket": "logs", "Key": "a.log.gz"})
    stubber.add_client_error("get_object", service_error_code="SlowDown", http_status_code=503)
    with pytest.raises(InputReadError, match="rerun the task"):
        check_files(["s3://logs/a.log.gz"], s3_client=client)


def test_s3_stream_timeout_read_error(stubbed_s3) -> None:
    from botocore.exceptions import ReadTimeoutError

    class TimingOutBody(io.BytesIO):
        def read(self, *args):
            raise ReadTimeoutError(endpoint_url="https://logs.s3.amazonaws.com")

    client, stubber = stubbed_s3
    stubber.add_response("head_object", {"ContentLength": 10}, {"Bucket": "logs", "Key": "a.log.gz"})
    stubber.add_response("get_object", {"Body": TimingOutBody()}, {"Bucket": "logs", "Key": "a.log.gz"})
    with pytest.raises(InputReadError, match="a.log.gz"):
        check_files(["s3://logs/a.log.gz"], s3_client=client)


def test_s3_objects_checked(monkeypatch) -> None:
    from moto import mock_aws

    for name, value in {
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = s3_client()
        client.create_bucket(Bucket="logs-bucket")
        objects = {
            "alb/a.log.gz": gzip.compress(LINES),
            "alb/b.log.gz": truncated_gzip(),
            "alb/c.log": b"",
            "alb/ELBAccessLogTestFile": b"x",
        }
        for key, body in objects.items():
            client.put_object(Bucket="logs-bucket", Key=key, Body=body)
        uris = [f"s3://logs-bucket/{key}" for key in objects]
        result = check_files(uris, on_corrupt="skip", s3_client=client)
    assert result.readable == ["s3://logs-bucket/alb/a.log.gz"]
    assert list(result.corrupt) == ["s3://logs-bucket/alb/b.log.gz"]
    assert result.empty == ["s3://logs-bucket/alb/c.log"]
    assert result.markers == ["s3://logs-bucket/alb/ELBAccessLogTestFile"]


# --- open_input -----------------------------------------------------------------


def test_open_input_gunzips(tmp_path) -> None:
    path = write(tmp_path / "a.log.gz", gzip.compress(LINES))
    with open_input(path) as stream:
        assert stream.read() == LINES


def test_open_input_plain(tmp_path) -> None:
    path = write(tmp_path / "a.log", LINES)
    with open_input(path) as stream:
        assert stream.read() == LINES
