"""Functional tests of the loop: EMR step events against moto, resubmission, pause, backoff."""

from __future__ import annotations

import json

from okeanos.state.base import ACTIVE, FAILING
from okeanos.windows import Window
from okeanos_handler import app
from okeanos_handler.loop import COMPLETED, FAILED, IGNORED
from tests.loop_support import NOW, aws, body_json, sns_event, sqs_event, step_event  # noqa: F401


def submit(aws, body=None):
    app.handler(sns_event(body or body_json()), None)
    return aws.steps()[-1]


def test_completed_records_window(aws):
    step = submit(aws)
    aws.clock.advance(300)
    result = aws.finish(step, "COMPLETED")
    state = aws.store.get("web-apache")
    assert result["outcomes"] == [COMPLETED]
    assert state.last_completed == Window.last_n_hours(NOW, 2)
    assert state.step_id is None
    assert state.last_completed_step == step.id


def test_completed_publishes_next_cycle(aws):
    step = submit(aws, body_json(interval_seconds=0))
    aws.finish(step, "COMPLETED")
    published = aws.published()
    assert [json.loads(body)["task"] for body in published] == ["web-apache"]
    assert aws.delayed() == []


def test_completed_waits_rest_of_interval(aws):
    step = submit(aws, body_json(interval_seconds=600))
    aws.clock.advance(200)
    aws.finish(step, "COMPLETED")
    delayed = aws.delayed()
    assert aws.published() == []
    assert delayed[0]["delay_seconds"] == 400


def test_next_cycle_submits_next_window(aws):
    step = submit(aws, body_json(interval_seconds=0))
    aws.clock.advance(3600)
    aws.finish(step, "COMPLETED")
    app.handler(sns_event(aws.published()[0]), None)
    state = aws.store.get("web-apache")
    assert len(aws.steps()) == 2
    assert state.step_window == Window.last_n_hours(aws.clock.now, 2)


def test_no_resubmit_publishes_nothing(aws):
    step = submit(aws, body_json(resubmit=False))
    aws.finish(step, "COMPLETED")
    assert aws.published() == []
    assert aws.delayed() == []


def test_pause_during_run_stops_loop(aws):
    step = submit(aws, body_json(interval_seconds=0))
    aws.store.set_status("web-apache", "paused", now=NOW)
    result = aws.finish(step, "COMPLETED")
    state = aws.store.get("web-apache")
    assert result["outcomes"] == [COMPLETED]
    assert aws.published() == []
    assert aws.delayed() == []
    assert state.status == "paused"
    assert state.last_completed == Window.last_n_hours(NOW, 2)


def test_resume_catches_up_from_last_window(aws):
    step = submit(aws, body_json(interval_seconds=0))
    aws.store.set_status("web-apache", "paused", now=NOW)
    aws.finish(step, "COMPLETED")
    aws.clock.advance(5 * 3600)
    aws.store.set_status("web-apache", "active", now=aws.clock.now)
    app.handler(sns_event(body_json(interval_seconds=0)), None)
    state = aws.store.get("web-apache")
    assert state.step_window == Window(NOW, aws.clock.now)


def test_duplicate_completed_event_ignored(aws):
    step = submit(aws, body_json(interval_seconds=0))
    aws.finish(step, "COMPLETED", event_id="e-1")
    second = aws.finish(step, "COMPLETED", event_id="e-1")
    assert second["outcomes"] == [IGNORED]
    assert len(aws.published()) == 1


def test_running_event_ignored(aws):
    step = submit(aws)
    result = aws.finish(step, "RUNNING")
    assert result["outcomes"] == [IGNORED]
    assert aws.store.get("web-apache").step_id == step.id


def test_foreign_step_ignored(aws):
    result = app.handler(step_event(cluster_id=aws.cluster_id, step_id="s-OTHER", name="CustomJAR", state="FAILED"), None)
    assert result["outcomes"] == [IGNORED]


def test_other_cluster_event_ignored(aws):
    step = submit(aws)
    event = step_event(cluster_id="j-ELSEWHERE", step_id=step.id, name=step.name, state="COMPLETED")
    result = app.handler(event, None)
    assert result["outcomes"] == [IGNORED]
    assert aws.store.get("web-apache").step_id == step.id


def test_other_source_ignored(aws):
    event = step_event(cluster_id=aws.cluster_id, step_id="s-1", name="okeanos:web-apache:2015-05-18T10:00:00Z", state="COMPLETED")
    event["source"] = "aws.ec2"
    assert app.handler(event, None)["outcomes"] == ["ignored"]


def test_failed_resubmits_with_backoff(aws):
    step = submit(aws)
    result = aws.finish(step, "FAILED")
    state = aws.store.get("web-apache")
    delayed = aws.delayed()
    assert result["outcomes"] == [FAILED]
    assert state.consecutive_failures == 1
    assert state.recent_failures[0].step_id == step.id
    assert delayed[0]["delay_seconds"] == aws.controller.config.retry_base_seconds


def test_failures_mark_failing_then_success_resets(aws):
    aws.build(max_consecutive_failures=3, retry_base_seconds=10)
    delays = []
    body = body_json()
    for attempt in range(3):
        app.handler(sqs_event(body, message_id=f"m-{attempt}", attempt=0), None)
        aws.clock.advance(60)
        aws.finish(aws.steps()[-1], "FAILED" if attempt < 2 else "CANCELLED", event_id=f"e-{attempt}")
        delayed = aws.delayed()
        delays.append(delayed[-1]["delay_seconds"])
    failing = aws.store.get("web-apache")
    assert delays == [10, 20, 40]
    assert failing.status == FAILING
    assert failing.consecutive_failures == 3

    app.handler(sqs_event(body, message_id="m-3", attempt=0), None)
    aws.finish(aws.steps()[-1], "COMPLETED", event_id="e-3")
    recovered = aws.store.get("web-apache")
    assert recovered.status == ACTIVE
    assert recovered.consecutive_failures == 0
    assert len(recovered.recent_failures) == 3


def test_backoff_capped(aws):
    aws.build(retry_base_seconds=60, retry_max_seconds=600)
    assert [aws.controller.backoff_seconds(n) for n in (1, 2, 3, 4, 5, 10)] == [60, 120, 240, 480, 600, 600]


def test_backfill_gives_up_after_max_failures(aws):
    aws.build(max_consecutive_failures=2)
    body = body_json(window={"from": "2015-05-01T00:00:00Z", "to": "2015-05-02T00:00:00Z"}, resubmit=False)
    app.handler(sns_event(body), None)
    aws.finish(aws.steps()[-1], "FAILED", event_id="e-1")
    app.handler(sqs_event(aws.delayed()[-1]["body"], message_id="m-2", attempt=0), None)
    aws.finish(aws.steps()[-1], "FAILED", event_id="e-2")
    state = aws.store.get("web-apache@2015-05-01T00:00:00Z")
    assert state.status == FAILING
    assert len(aws.delayed()) == 1


def test_paused_failure_not_retried(aws):
    step = submit(aws)
    aws.store.set_status("web-apache", "paused", now=NOW)
    aws.finish(step, "FAILED")
    assert aws.delayed() == []
    assert aws.store.get("web-apache").status == "paused"
