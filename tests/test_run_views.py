"""End-to-end runs on the real web logs: local Spark, a real OpenSearch node, exact views.

Every view is compared, bucket by bucket, with tests/web_reference.py, which
reads the same files in plain Python. Each test writes under its own index
prefix, so tests do not see each other's documents.
"""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path
from typing import Any, Dict, List

import pytest

from okeanos.cli import main
from okeanos.indices import runs_index, view_index
from okeanos.search import make_client
from okeanos.views import query_view
from okeanos.windows import Window
from okeanos_spark.bulk import BulkSettings
from okeanos_spark.exceptions import SinkItemError, SinkUnavailableError
from okeanos_spark.registry import get_job
from okeanos_spark.run import run_job
from tests import web_reference as ref

pytestmark = [pytest.mark.spark, pytest.mark.opensearch, pytest.mark.slow]

SOURCES = {
    "web-apache": (ref.APACHE_LOG, "combined", ref.read_combined),
    "web-nginx": (ref.NGINX_LOG, "nginx-json", ref.read_nginx_json),
}
STATUS = get_job("http_status_hourly").dimensions[0]
REFERENCES = {"http_status_hourly": ref.status_hourly, "top_paths_daily": ref.paths_daily}


def new_prefix() -> str:
    return "t" + uuid.uuid4().hex[:12]


def run(spark, client, url: str, prefix: str, **arguments: Any):
    return run_job(spark, client=client, opensearch_url=url, index_prefix=prefix, **arguments)


def stored_documents(client, job: str, prefix: str) -> Dict[str, Dict[str, Any]]:
    """Return every document of a view index by id, with ``run_id`` removed from ``_source``."""
    client.indices.refresh(index=view_index(job, prefix=prefix))
    response = client.search(index=view_index(job, prefix=prefix), body={"size": 10000, "query": {"match_all": {}}})
    documents = {}
    for hit in response["hits"]["hits"]:
        source = dict(hit["_source"])
        source.pop("run_id")
        documents[hit["_id"]] = source
    return documents


def write_lines(path: Path, lines: List[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


APACHE_LINES = ref.APACHE_LOG.read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def web_views(spark, opensearch_client, opensearch_url) -> str:
    """Run both web jobs over both real logs once, without a window; return the index prefix."""
    prefix = new_prefix()
    for source, (path, input_format, _) in SOURCES.items():
        for job in REFERENCES:
            run(spark, opensearch_client, opensearch_url, prefix,
                job=job, input_path=str(path), input_format=input_format, source=source)
    return prefix


@pytest.mark.parametrize("job", sorted(REFERENCES))
@pytest.mark.parametrize("source", sorted(SOURCES))
def test_view_matches_reference(web_views, opensearch_client, job: str, source: str) -> None:
    path, _, read = SOURCES[source]
    expected = REFERENCES[job](read(path), source)
    actual = query_view(opensearch_client, job, source=source, prefix=web_views)
    assert len(actual) == len(expected)
    assert actual == expected


@pytest.mark.parametrize("job", sorted(REFERENCES))
def test_sources_kept_apart(web_views, opensearch_client, job: str) -> None:
    expected = []
    for source, (path, _, read) in sorted(SOURCES.items()):
        expected += REFERENCES[job](read(path), source)
    actual = query_view(opensearch_client, job, prefix=web_views)
    assert sorted(actual, key=_order) == sorted(expected, key=_order)


def test_show_json_no_match_notes_on_stderr(web_views, opensearch_url, capsys) -> None:
    main(["views", "show", "http_status_hourly", "--json", "--source", "no-such-source",
          "--opensearch-url", opensearch_url, "--index-prefix", web_views])
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no documents" in captured.err


def _order(document: Dict[str, Any]):
    return tuple(str(value) for value in document.values())


def test_run_summary_counts(spark, opensearch_client, opensearch_url) -> None:
    prefix = new_prefix()
    summary = run(spark, opensearch_client, opensearch_url, prefix,
                  job="http_status_hourly", input_path=str(ref.APACHE_LOG), input_format="combined")
    expected_rows = ref.status_hourly(ref.read_combined(ref.APACHE_LOG), summary.source)
    stored = opensearch_client.get(index=runs_index(prefix=prefix), id=summary.run_id)["_source"]
    assert summary.source == "apache_combined_2015-05-17_18"
    assert summary.events_read == len(ref.read_combined(ref.APACHE_LOG))
    assert summary.documents_written == len(expected_rows)
    assert stored["status"] == "succeeded"
    assert stored["documents_written"] == len(expected_rows)
    assert stored["events_read"] == summary.events_read


def test_rerun_gives_identical_documents(spark, opensearch_client, opensearch_url) -> None:
    prefix = new_prefix()
    window = Window(*ref.hours("2015-05-17T10:00:00Z", 6))
    arguments = dict(job="http_status_hourly", input_path=str(ref.APACHE_LOG), input_format="combined",
                     source="web", window=window)
    first = run(spark, opensearch_client, opensearch_url, prefix, **arguments)
    view_before = query_view(opensearch_client, "http_status_hourly", prefix=prefix)
    documents_before = stored_documents(opensearch_client, "http_status_hourly", prefix)
    second = run(spark, opensearch_client, opensearch_url, prefix, **arguments)
    assert second.run_id != first.run_id
    assert query_view(opensearch_client, "http_status_hourly", prefix=prefix) == view_before
    assert stored_documents(opensearch_client, "http_status_hourly", prefix) == documents_before
    assert second.documents_deleted == 0


def test_overlapping_windows_not_double_counted(spark, opensearch_client, opensearch_url) -> None:
    arguments = dict(job="http_status_hourly", input_path=str(ref.APACHE_LOG), input_format="combined", source="web")
    split_prefix, whole_prefix = new_prefix(), new_prefix()
    run(spark, opensearch_client, opensearch_url, split_prefix,
        window=Window(*ref.hours("2015-05-17T10:00:00Z", 4)), **arguments)
    run(spark, opensearch_client, opensearch_url, split_prefix,
        window=Window(*ref.hours("2015-05-17T12:00:00Z", 4)), **arguments)
    run(spark, opensearch_client, opensearch_url, whole_prefix,
        window=Window(*ref.hours("2015-05-17T10:00:00Z", 6)), **arguments)
    start, end = ref.hours("2015-05-17T10:00:00Z", 6)
    expected = ref.status_hourly(ref.in_window(ref.read_combined(ref.APACHE_LOG), start, end), "web")
    split = query_view(opensearch_client, "http_status_hourly", prefix=split_prefix)
    assert split == query_view(opensearch_client, "http_status_hourly", prefix=whole_prefix)
    assert split == expected


def test_late_data_counted_on_rerun(spark, opensearch_client, opensearch_url, tmp_path) -> None:
    prefix = new_prefix()
    start, end = ref.hours("2015-05-17T10:00:00Z", 3)
    arguments = dict(job="http_status_hourly", input_path=str(tmp_path), input_format="combined",
                     source="web", window=Window(start, end))
    # Every third line arrives late, in a file that appears after the first run.
    late = [line for index, line in enumerate(APACHE_LINES) if index % 3 == 0]
    on_time = [line for index, line in enumerate(APACHE_LINES) if index % 3 != 0]
    write_lines(tmp_path / "part-1.log", on_time)
    run(spark, opensearch_client, opensearch_url, prefix, **arguments)
    before = query_view(opensearch_client, "http_status_hourly", prefix=prefix)

    write_lines(tmp_path / "part-2.log", late)
    run(spark, opensearch_client, opensearch_url, prefix, **arguments)
    expected = ref.status_hourly(ref.in_window(ref.read_combined(ref.APACHE_LOG), start, end), "web")
    assert before == ref.status_hourly(ref.in_window(ref.read_combined(tmp_path / "part-1.log"), start, end), "web")
    assert before != expected
    assert query_view(opensearch_client, "http_status_hourly", prefix=prefix) == expected


def test_stale_dimension_deleted(spark, opensearch_client, opensearch_url, tmp_path) -> None:
    prefix = new_prefix()
    log = tmp_path / "web.log"
    write_lines(log, APACHE_LINES)
    arguments = dict(job="http_status_hourly", input_path=str(log), input_format="combined", source="web")
    run(spark, opensearch_client, opensearch_url, prefix, **arguments)
    statuses_before = {row[STATUS] for row in query_view(opensearch_client, "http_status_hourly", prefix=prefix)}

    write_lines(log, [line for line in APACHE_LINES if '" 404 ' not in line])
    summary = run(spark, opensearch_client, opensearch_url, prefix, **arguments)
    expected = ref.status_hourly(ref.read_combined(log), "web")
    actual = query_view(opensearch_client, "http_status_hourly", prefix=prefix)
    assert "404" in statuses_before
    assert "404" not in {row[STATUS] for row in actual}
    assert actual == expected
    assert summary.documents_deleted == len([row for row in ref.status_hourly(
        ref.read_combined(ref.APACHE_LOG), "web") if row[STATUS] == "404"])


def test_long_path_keeps_64_char_id(spark, opensearch_client, opensearch_url, tmp_path) -> None:
    prefix = new_prefix()
    long_path = "/" + "p" * 19999
    line = f'10.0.0.9 - - [17/May/2015:10:05:03 +0000] "GET {long_path} HTTP/1.1" 200 42 "-" "curl/8.0"'
    log = tmp_path / "long.log"
    write_lines(log, APACHE_LINES[:50] + [line])
    run(spark, opensearch_client, opensearch_url, prefix,
        job="top_paths_daily", input_path=str(log), input_format="combined", source="web")
    documents = stored_documents(opensearch_client, "top_paths_daily", prefix)
    long_documents = [doc_id for doc_id, document in documents.items() if document["path"] == long_path]
    assert len(long_documents) == 1
    assert {len(doc_id) for doc_id in documents} == {64}
    assert query_view(opensearch_client, "top_paths_daily", prefix=prefix) == ref.paths_daily(
        ref.read_combined(log), "web")


def test_small_bulk_requests_write_everything(spark, opensearch_client, opensearch_url) -> None:
    prefix = new_prefix()
    bulk = BulkSettings(max_actions=10, max_bytes=2048)
    summary = run(spark, opensearch_client, opensearch_url, prefix, bulk=bulk,
                  job="top_paths_daily", input_path=str(ref.APACHE_LOG), input_format="combined", source="web")
    expected = ref.paths_daily(ref.read_combined(ref.APACHE_LOG), "web")
    assert summary.bulk_requests >= len(expected) / 10
    assert summary.bulk_retries == 0
    assert query_view(opensearch_client, "top_paths_daily", prefix=prefix) == expected


def test_item_failure_fails_run(spark, opensearch_client, opensearch_url) -> None:
    prefix = new_prefix()
    index = view_index("http_status_hourly", prefix=prefix)
    # An index created before the template, without the clients metric:
    # the strict mapping rejects every document.
    properties = {name: {"type": "keyword"} for name in ("job", "source", "bucket", "run_id", "status")}
    properties.update(requests={"type": "long"}, bytes={"type": "long"})
    opensearch_client.indices.create(index=index, body={"mappings": {"dynamic": "strict", "properties": properties}})
    with pytest.raises(SinkItemError) as caught:
        run(spark, opensearch_client, opensearch_url, prefix, run_id="item-failure",
            job="http_status_hourly", input_path=str(ref.APACHE_LOG), input_format="combined", source="web")
    assert caught.value.status == 400
    assert "strict_dynamic_mapping_exception" in caught.value.reason
    assert len(caught.value.doc_id) == 64
    assert caught.value.doc_id in str(caught.value)
    stored = opensearch_client.get(index=runs_index(prefix=prefix), id="item-failure")["_source"]
    assert stored["status"] == "failed"
    assert "strict_dynamic_mapping_exception" in stored["error"]


def test_opensearch_stopped_fails_then_rerun(spark, spare_opensearch_node) -> None:
    node = spare_opensearch_node()
    client = make_client(node.url)
    prefix = new_prefix()
    arguments = dict(job="http_status_hourly", input_path=str(ref.APACHE_LOG), input_format="combined",
                     source="web", bulk=BulkSettings(max_attempts=3, initial_backoff_seconds=0.2))
    stopped = threading.Event()

    def stop_before_writing(message: str) -> None:
        if message.startswith("writing") and not stopped.is_set():
            node.stop()
            stopped.set()

    with pytest.raises(SinkUnavailableError) as caught:
        run(spark, client, node.url, prefix, progress=stop_before_writing, **arguments)
    assert stopped.is_set()
    assert node.url in str(caught.value)

    node.start()
    run(spark, client, node.url, prefix, **arguments)
    expected = ref.status_hourly(ref.read_combined(ref.APACHE_LOG), "web")
    assert query_view(client, "http_status_hourly", prefix=prefix) == expected
    client.close()


def test_cli_run_then_show_json(spark, opensearch_url, capsys) -> None:
    from okeanos.cli import EXIT_OK, main

    prefix = new_prefix()
    start, end = ref.hours("2015-05-17T10:00:00Z", 4)
    code = main(["local", "run", "--job", "http_status_hourly", "--format", "nginx-json",
                 "--input", str(ref.NGINX_LOG), "--source", "cli", "--index-prefix", prefix,
                 "--from", "2015-05-17T10:00:00Z", "--to", "2015-05-17T14:00:00Z"])
    printed = capsys.readouterr().out
    assert code == EXIT_OK
    assert "http_status_hourly [cli] run " in printed
    assert ": succeeded" in printed

    code = main(["views", "show", "http_status_hourly", "--index-prefix", prefix, "--json"])
    lines = capsys.readouterr().out.splitlines()
    expected = ref.status_hourly(ref.in_window(ref.read_nginx_json(ref.NGINX_LOG), start, end), "cli")
    assert code == EXIT_OK
    assert [json.loads(line) for line in lines] == expected
    assert list(json.loads(lines[0])) == ["bucket", "source", STATUS, "requests", "bytes", "clients"]
