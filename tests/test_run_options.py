"""Unit tests of what a run checks before Spark starts: ids, sources, windows, options."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from okeanos.cli import EXIT_BROKEN_PIPE, EXIT_FAILED, EXIT_USAGE, main
from okeanos.cli.local_run import parse_runasof, resolve_window
from okeanos.exceptions import ConfigurationError, WindowError
from okeanos.task import MAX_LASTNHOURS
from okeanos.windows import Window
from okeanos_spark.documents import document_id, format_bucket
from okeanos_spark.run import data_span, resolve_source

NOW = datetime(2015, 5, 18, 13, 25, 7, tzinfo=timezone.utc)


def test_document_id_is_sha256_of_json() -> None:
    parts = ["http_status_hourly", "web", "2015-05-17T10:00:00Z", "200"]
    expected = hashlib.sha256(json.dumps(parts, separators=(",", ":")).encode()).hexdigest()
    assert document_id("http_status_hourly", "web", "2015-05-17T10:00:00Z", ["200"]) == expected


def test_document_id_long_path_stays_64() -> None:
    doc_id = document_id("top_paths_daily", "web", "2015-05-17T00:00:00Z", ["/" + "a" * 20000])
    assert len(doc_id) == 64


def test_document_id_keeps_parts_apart() -> None:
    first = document_id("j", "a-b", "2015-05-17T00:00:00Z", ["c"])
    second = document_id("j", "a", "2015-05-17T00:00:00Z", ["b-c"])
    assert first != second


def test_format_bucket_is_utc_z() -> None:
    epoch = int(datetime(2015, 5, 17, 10, tzinfo=timezone.utc).timestamp())
    assert format_bucket(epoch) == "2015-05-17T10:00:00Z"


@pytest.mark.parametrize(
    "path, expected",
    [
        ("/logs/apache_combined_2015-05-17_18.log", "apache_combined_2015-05-17_18"),
        ("/logs/nginx_json_2015-05-17_18.jsonl", "nginx_json_2015-05-17_18"),
        ("/logs/access.log.gz", "access"),
        ("/logs/Web Server/", "web-server"),
        ("s3://bucket/logs/alb/", "alb"),
    ],
)
def test_source_from_input(path: str, expected: str) -> None:
    assert resolve_source(path) == expected


def test_source_underivable_raises() -> None:
    with pytest.raises(ConfigurationError, match="--source"):
        resolve_source("/logs/___.log")


def test_source_explicit_invalid_raises() -> None:
    with pytest.raises(ConfigurationError, match="'Web Apache'"):
        resolve_source("/logs/a.log", "Web Apache")


def test_data_span_covers_first_and_last() -> None:
    first = int(datetime(2015, 5, 17, 10, 5, tzinfo=timezone.utc).timestamp())
    last = int(datetime(2015, 5, 17, 12, 0, tzinfo=timezone.utc).timestamp())
    span = data_span(first, last, "hour")
    assert span == Window(
        datetime(2015, 5, 17, 10, tzinfo=timezone.utc), datetime(2015, 5, 17, 13, tzinfo=timezone.utc)
    )


def test_runasof_today_is_midnight() -> None:
    assert parse_runasof("today", now=NOW) == datetime(2015, 5, 18, tzinfo=timezone.utc)


def test_runasof_now_is_now() -> None:
    assert parse_runasof("now", now=NOW) == NOW


def test_window_lastnhours_before_runasof() -> None:
    window = resolve_window(None, None, "today", 2, now=NOW)
    assert window == Window(datetime(2015, 5, 17, 22, tzinfo=timezone.utc), datetime(2015, 5, 18, tzinfo=timezone.utc))


def test_window_fixed() -> None:
    window = resolve_window("2015-05-17T10:00:00Z", "2015-05-17T14:00:00Z", None, None)
    assert window.end - window.start == timedelta(hours=4)


def test_window_none_means_all() -> None:
    assert resolve_window(None, None, None, None) is None


def test_window_mixed_groups_raises() -> None:
    with pytest.raises(ConfigurationError, match="--from and --lastnhours"):
        resolve_window("2015-05-17T10:00:00Z", None, None, 2)


def test_window_from_without_to_raises() -> None:
    with pytest.raises(ConfigurationError, match="--from needs --to"):
        resolve_window("2015-05-17T10:00:00Z", None, None, None)


def test_window_runasof_without_hours_raises() -> None:
    with pytest.raises(ConfigurationError, match="--runasof today: needs --lastnhours"):
        resolve_window(None, None, "today", None)


def test_window_zero_hours_raises() -> None:
    with pytest.raises(ConfigurationError, match="--lastnhours"):
        resolve_window(None, None, "now", 0)


def test_window_not_utc_raises() -> None:
    with pytest.raises(WindowError, match="--from"):
        resolve_window("2015-05-17T10:00:00+02:00", "2015-05-17T14:00:00Z", None, None)


def test_cli_unknown_job_is_usage_error(capsys) -> None:
    code = main(["local", "run", "--job", "no_such_job", "--format", "combined", "--input", "/"])
    assert code == EXIT_USAGE
    assert "no_such_job" in capsys.readouterr().err


def test_cli_wrong_format_lists_formats(capsys) -> None:
    code = main(["local", "run", "--job", "http_status_hourly", "--format", "events", "--input", "/"])
    assert code == EXIT_USAGE
    assert "--format: 'events'" in capsys.readouterr().err


def test_cli_missing_input_is_usage_error(capsys, tmp_path) -> None:
    missing = tmp_path / "missing.log"
    code = main(["local", "run", "--job", "http_status_hourly", "--format", "combined", "--input", str(missing)])
    assert code == EXIT_USAGE
    assert str(missing) in capsys.readouterr().err


def test_cli_views_bad_from_is_usage_error(capsys) -> None:
    code = main(["views", "show", "http_status_hourly", "--from", "yesterday"])
    assert code == EXIT_USAGE
    assert "--from: 'yesterday'" in capsys.readouterr().err


def test_top_documents_per_bucket_and_source() -> None:
    from okeanos.cli.views import top_documents

    documents = [
        {"bucket": "2015-05-17T00:00:00Z", "source": "a", "path": "/1", "requests": 1},
        {"bucket": "2015-05-17T00:00:00Z", "source": "a", "path": "/2", "requests": 5},
        {"bucket": "2015-05-17T00:00:00Z", "source": "a", "path": "/3", "requests": 3},
        {"bucket": "2015-05-17T00:00:00Z", "source": "b", "path": "/1", "requests": 2},
        {"bucket": "2015-05-18T00:00:00Z", "source": "a", "path": "/1", "requests": 4},
    ]
    top = top_documents(documents, 2, "requests")
    assert [(d["bucket"][:10], d["source"], d["path"]) for d in top] == [
        ("2015-05-17", "a", "/2"),
        ("2015-05-17", "a", "/3"),
        ("2015-05-17", "b", "/1"),
        ("2015-05-18", "a", "/1"),
    ]


def test_cli_views_unknown_metric_is_usage_error(capsys) -> None:
    code = main(["views", "show", "top_paths_daily", "--top", "3", "--by", "clients"])
    assert code == EXIT_USAGE
    assert "--by: 'clients' is not a metric of top_paths_daily" in capsys.readouterr().err


def test_window_hours_over_max_raises() -> None:
    with pytest.raises(ConfigurationError, match=f"--lastnhours: .* 1 to {MAX_LASTNHOURS}"):
        resolve_window(None, None, "2015-05-18T00:00:00Z", 99999999999999999999999)


@pytest.mark.parametrize("value", ["", " "])
def test_cli_blank_input_is_usage_error(capsys, value: str) -> None:
    code = main(["local", "run", "--job", "http_status_hourly", "--format", "combined", "--input", value])
    assert code == EXIT_USAGE
    assert "--input: " in capsys.readouterr().err


def test_cli_views_bad_source_is_usage_error(capsys) -> None:
    code = main(["views", "show", "http_status_hourly", "--source", "Has Space"])
    assert code == EXIT_USAGE
    assert "--source: 'Has Space'" in capsys.readouterr().err


def free_port() -> int:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        return listener.getsockname()[1]


def test_cli_views_no_node_suggests_start(capsys, monkeypatch) -> None:
    monkeypatch.delenv("OPENSEARCH_URL", raising=False)
    monkeypatch.setenv("OKEANOS_OPENSEARCH_PORT", str(free_port()))
    code = main(["views", "show", "http_status_hourly"])
    assert code == EXIT_FAILED
    assert "okeanos local opensearch start" in capsys.readouterr().err


def test_cli_quiets_client_loggers(capsys) -> None:
    main(["task-schema"])
    assert logging.getLogger("opensearch").level == logging.ERROR


def test_cli_closed_stdout_exits_quietly() -> None:
    reader, writer = os.pipe()
    os.close(reader)
    script = "import sys; from okeanos.cli import main; sys.exit(main(['task-schema']))"
    try:
        result = subprocess.run([sys.executable, "-c", script], stdout=writer, stderr=subprocess.PIPE, timeout=120)
    finally:
        os.close(writer)
    assert result.returncode == EXIT_BROKEN_PIPE
    assert result.stderr == b""
