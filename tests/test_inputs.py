"""Input discovery: local files and directory trees, and S3 prefixes through moto."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from okeanos_spark.inputs import InputListingError, InputNotFoundError, list_files


def _touch(path: Path, text: str = "x\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "logs"
    _touch(root / "b.log")
    _touch(root / "a.log")
    (root / "2015" / "05").mkdir(parents=True)
    with gzip.open(root / "2015" / "05" / "c.log.gz", "wt") as handle:
        handle.write("x\n")
    _touch(root / "2015" / "d.log")
    _touch(root / "_SUCCESS", "")
    _touch(root / ".a.log.crc")
    _touch(root / "2015_$folder$", "")
    _touch(root / "_temporary" / "part-0.log")
    _touch(root / ".hidden" / "e.log")
    _touch(root / "archive.zip")
    return root


def test_list_files_single_file(tree: Path) -> None:
    assert list_files(str(tree / "a.log")) == [str(tree / "a.log")]


def test_list_files_directory_tree(tree: Path) -> None:
    expected = [
        str(tree / "2015" / "05" / "c.log.gz"),
        str(tree / "2015" / "d.log"),
        str(tree / "a.log"),
        str(tree / "b.log"),
    ]
    assert list_files(str(tree)) == expected


def test_list_files_hidden_file_named_explicitly(tree: Path) -> None:
    assert list_files(str(tree / "_SUCCESS")) == [str(tree / "_SUCCESS")]


def test_list_files_file_uri(tree: Path) -> None:
    assert list_files(f"file://{tree / 'a.log'}") == [str(tree / "a.log")]


def test_list_files_relative_path(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree)
    assert list_files("b.log") == [str(tree / "b.log")]


def test_list_files_empty_directory(tmp_path: Path) -> None:
    assert list_files(str(tmp_path)) == []


def test_list_files_unsupported_codec_warns(tree: Path, caplog: pytest.LogCaptureFixture) -> None:
    list_files(str(tree))
    assert "archive.zip" in caplog.text


def test_list_files_missing_path(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope")
    with pytest.raises(InputNotFoundError, match="nope.*does not exist") as caught:
        list_files(missing)
    assert caught.value.location == missing


def test_list_files_missing_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        list_files(str(tmp_path / "nope"))


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch):
    for name, value in {
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="logs-bucket")
        for key in (
            "apache/2015/a.log",
            "apache/2015/b.log.gz",
            "apache/_SUCCESS",
            "apache/2015_$folder$",
            "apache/empty/",
            "apache/_temporary/0/c.log",
            "apache/.d.log",
            "apache/e.zip",
            "apache-old/f.log",
        ):
            client.put_object(Bucket="logs-bucket", Key=key, Body=b"x\n")
        yield client


def test_list_files_s3_prefix(s3) -> None:
    expected = ["s3://logs-bucket/apache/2015/a.log", "s3://logs-bucket/apache/2015/b.log.gz"]
    assert list_files("s3://logs-bucket/apache", s3_client=s3) == expected


def test_list_files_s3_prefix_with_slash(s3) -> None:
    expected = ["s3://logs-bucket/apache/2015/a.log", "s3://logs-bucket/apache/2015/b.log.gz"]
    assert list_files("s3://logs-bucket/apache/", s3_client=s3) == expected


def test_list_files_s3_object(s3) -> None:
    assert list_files("s3://logs-bucket/apache-old/f.log", s3_client=s3) == ["s3://logs-bucket/apache-old/f.log"]


def test_list_files_s3_missing_prefix(s3) -> None:
    with pytest.raises(InputNotFoundError, match="s3://logs-bucket/nginx.*no object"):
        list_files("s3://logs-bucket/nginx", s3_client=s3)


def test_list_files_s3_missing_bucket(s3) -> None:
    with pytest.raises(InputNotFoundError, match="names bucket 'no-such-bucket', which does not exist"):
        list_files("s3://no-such-bucket/apache/", s3_client=s3)


def test_list_files_s3_without_bucket() -> None:
    with pytest.raises(InputNotFoundError, match="names no bucket"):
        list_files("s3:///apache")


def test_list_files_broken_symlink(tmp_path: Path) -> None:
    os.symlink(tmp_path / "gone.log", tmp_path / "link.log")
    assert list_files(str(tmp_path)) == []


def test_list_files_broken_symlink_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    os.symlink(tmp_path / "gone.log", tmp_path / "link.log")
    list_files(str(tmp_path))
    assert "link.log: a symbolic link to a missing file" in caplog.text


def test_list_files_symlink_duplicate(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text("line\n")
    (tmp_path / "sub").mkdir()
    os.symlink(Path("..") / "a.log", tmp_path / "sub" / "link.log")
    assert list_files(str(tmp_path)) == [str((tmp_path / "a.log").resolve())]


def test_list_files_s3_access_denied(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    import boto3
    from botocore.stub import Stubber

    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    stubber = Stubber(client)
    stubber.add_client_error("list_objects_v2", service_error_code="AccessDenied", http_status_code=403)
    with stubber, pytest.raises(InputListingError, match="listing s3://logs-bucket/apache failed \\(AccessDenied\\)"):
        list_files("s3://logs-bucket/apache", s3_client=client)
    stubber.assert_no_pending_responses()
