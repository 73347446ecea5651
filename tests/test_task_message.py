"""Unit tests for okeanos.task: the task message shared by every runtime."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

import pytest

from okeanos.exceptions import TaskMessageError
from okeanos.task import (
    MAX_MESSAGE_BYTES,
    TaskMessage,
    TaskWindow,
    from_argument,
    json_schema,
    parse_task,
)

JOBS = {"http_status_hourly", "top_paths_daily"}


def message(**overrides):
    body = {
        "version": 1,
        "task": "web-apache",
        "job": "http_status_hourly",
        "input": {"uri": "s3://example-logs/apache/", "format": "combined"},
        "window": {"runasof": "2015-05-18T00:00:00Z", "lastnhours": 2},
        "resubmit": True,
        "interval_seconds": 60,
    }
    body.update(overrides)
    return body


def rejected_field(body, **kwargs) -> str:
    with pytest.raises(TaskMessageError) as caught:
        parse_task(body, **kwargs)
    return caught.value.field


def test_parse_valid_relative_window():
    task = parse_task(json.dumps(message()), jobs=JOBS)
    assert task.task == "web-apache"
    assert task.source == "web-apache"
    assert task.window.lastnhours == 2
    assert task.window.runasof == datetime(2015, 5, 18, tzinfo=timezone.utc)


def test_resolve_relative_window():
    window = parse_task(message()).window.resolve()
    assert window.start == datetime(2015, 5, 17, 22, tzinfo=timezone.utc)
    assert window.end == datetime(2015, 5, 18, tzinfo=timezone.utc)


def test_runasof_now_resolves_at_call():
    task = parse_task(message(window={"runasof": "now", "lastnhours": 1}))
    now = datetime(2020, 1, 1, 12, tzinfo=timezone.utc)
    assert task.window.resolve(now).end == now


def test_parse_fixed_window():
    body = message(window={"from": "2015-05-17T00:00:00Z", "to": "2015-05-18T00:00:00Z"})
    window = parse_task(body).window.resolve()
    assert (window.end - window.start).days == 1


def test_round_trip_json():
    task = parse_task(message(deployment={"cluster_id": "j-ABC123", "state_table": "okeanos-dev-state"}))
    assert parse_task(task.to_json()) == task


def test_round_trip_argument():
    task = parse_task(message())
    argument = task.to_argument()
    assert from_argument(argument) == task


def test_argument_has_no_shell_or_split_characters():
    task = parse_task(message(input={"uri": "s3://example-logs/a{b}*?#~%20=/", "format": "combined"}))
    argument = task.to_argument()
    assert all(c.isalnum() or c in "-_=" for c in argument)


def test_from_argument_rejects_garbage():
    with pytest.raises(TaskMessageError):
        from_argument("not base64 !!")


def test_unknown_top_field():
    assert rejected_field(message(jar="s3://evil/x.jar")) == "jar"


def test_unknown_nested_field():
    body = message(input={"uri": "s3://example-logs/a/", "format": "combined", "class": "Main"})
    assert rejected_field(body) == "input.class"


def test_missing_field():
    body = message()
    del body["job"]
    assert rejected_field(body) == "job"


@pytest.mark.parametrize(
    "field,value",
    [("task", 5), ("task", "Has Spaces"), ("job", ["x"]), ("resubmit", "yes"),
     ("interval_seconds", -1), ("interval_seconds", 1.5), ("version", 2), ("version", True)],
)
def test_wrong_types(field, value):
    assert rejected_field(message(**{field: value})) == field


def test_unregistered_job():
    with pytest.raises(TaskMessageError, match="not a registered job"):
        parse_task(message(job="run_anything"), jobs=JOBS)


def test_unknown_format():
    body = message(input={"uri": "s3://example-logs/a/", "format": "xml"})
    assert rejected_field(body, formats={"combined"}) == "input.format"


def test_non_utc_window():
    body = message(window={"from": "2015-05-17T00:00:00+02:00", "to": "2015-05-18T00:00:00Z"})
    assert rejected_field(body) == "window.from"


def test_reversed_window():
    body = message(window={"from": "2015-05-18T00:00:00Z", "to": "2015-05-17T00:00:00Z"})
    assert rejected_field(body) == "window.to"


def test_mixed_window_kinds():
    body = message(window={"lastnhours": 2, "from": "2015-05-18T00:00:00Z"})
    assert rejected_field(body) == "window.from"


@pytest.mark.parametrize("hours", [0, 100000, "2", None])
def test_bad_lastnhours(hours):
    assert rejected_field(message(window={"lastnhours": hours})) == "window.lastnhours"


def test_oversized_message():
    body = json.dumps(message()) + " " * MAX_MESSAGE_BYTES
    assert rejected_field(body) == "message"


def test_not_json():
    assert rejected_field(b"\xff\xfe not json") == "message"


def test_not_object():
    assert rejected_field("[1, 2]") == "message"


def test_nan_rejected():
    assert rejected_field('{"version": NaN}') == "message"


@pytest.mark.parametrize(
    "uri", ["http://example.com/x", "relative/path", "s3://Bad_Bucket/x", "/tmp/with space", "s3://b/\nx"]
)
def test_bad_input_uri(uri):
    assert rejected_field(message(input={"uri": uri, "format": "combined"})) == "input.uri"


@pytest.mark.parametrize("uri", ["/tmp/x|id", "/tmp/$(id)", "s3://example-logs/a;b", "/tmp/`id`"])
def test_shell_metacharacters_rejected(uri):
    with pytest.raises(TaskMessageError, match="shell metacharacters") as caught:
        parse_task(message(input={"uri": uri, "format": "combined"}))
    assert caught.value.field == "input.uri"


@pytest.mark.parametrize("uri", ["/tmp/a\x7f", "/tmp/\ud800"])
def test_control_and_surrogate_rejected(uri):
    assert rejected_field(message(input={"uri": uri, "format": "combined"})) == "input.uri"


def test_duplicate_keys_rejected():
    body = '{"version": 1, "task": "Bad Name", "task": "good"}'
    with pytest.raises(TaskMessageError, match="duplicate key 'task'"):
        parse_task(body)


def test_deep_nesting_rejected():
    with pytest.raises(TaskMessageError, match="nested too deeply"):
        parse_task("[" * 2000 + "]" * 2000)


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "1969-12-31T23:00:00Z"])
def test_window_outside_supported_range(moment):
    body = message(window={"runasof": moment, "lastnhours": 1})
    assert rejected_field(body) == "window.runasof"


def test_minus_zero_offset_is_not_utc():
    body = message(window={"from": "2015-05-17T00:00:00-00:00", "to": "2015-05-18T00:00:00Z"})
    assert rejected_field(body) == "window.from"


def test_bad_cluster_id():
    assert rejected_field(message(deployment={"cluster_id": "i-123"})) == "deployment.cluster_id"


def test_to_dict_of_backfill_window():
    window = TaskWindow(start=datetime(2015, 5, 17, tzinfo=timezone.utc),
                        end=datetime(2015, 5, 18, tzinfo=timezone.utc))
    assert window.to_dict() == {"from": "2015-05-17T00:00:00Z", "to": "2015-05-18T00:00:00Z"}


def test_schema_rejects_unknown_fields():
    schema = json_schema()
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"version", "task", "job", "input", "window"}


def test_schema_validates_example():
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(message(), json_schema())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(message(jar="x"), json_schema())


def test_argument_is_base64_of_json():
    task = TaskMessage(
        task="t1", job="top_paths_daily", input_uri="/data/logs", input_format="combined",
        window=TaskWindow(lastnhours=1),
    )
    decoded = json.loads(base64.urlsafe_b64decode(task.to_argument()))
    assert decoded["window"] == {"runasof": "now", "lastnhours": 1}
