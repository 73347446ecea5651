"""Tests of the task-state stores: SQLite (local) and DynamoDB (moto), the same contract."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from okeanos.state.base import ACTIVE, FAILING, MAX_RECENT_FAILURES, PAUSED
from okeanos.state.exceptions import TaskNotFoundError
from okeanos.state.sqlite import SqliteStateStore
from okeanos.windows import Window
from tests.loop_support import NOW

WINDOW = Window.last_n_hours(NOW, 2)


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(request, tmp_path):
    if request.param == "sqlite":
        yield SqliteStateStore(tmp_path / "tasks.sqlite")
        return
    import boto3
    from moto import mock_aws

    from okeanos.state.dynamodb import DynamoDbStateStore

    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="okeanos-state",
            KeySchema=[{"AttributeName": "task", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "task", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield DynamoDbStateStore("okeanos-state", client=client)


def test_second_claim_rejected(store):
    first = store.claim("web", "a", now=NOW, lease_seconds=60)
    second = store.claim("web", "b", now=NOW, lease_seconds=60)
    assert first.claim_token == "a"
    assert second is None


def test_claim_after_lease_expiry(store):
    store.claim("web", "a", now=NOW, lease_seconds=60)
    later = store.claim("web", "b", now=NOW + timedelta(seconds=61), lease_seconds=60)
    assert later.claim_token == "b"


def test_claim_rejected_while_step_recorded(store):
    store.claim("web", "a", now=NOW, lease_seconds=60)
    store.record_step("web", "a", step_id="s-1", window=WINDOW, message="{}", now=NOW)
    later = store.claim("web", "b", now=NOW + timedelta(hours=1), lease_seconds=60)
    assert later is None


def test_claim_rejected_when_paused(store):
    store.save_message("web", "{}", status=PAUSED, now=NOW)
    assert store.claim("web", "a", now=NOW, lease_seconds=60) is None


def test_record_step_needs_the_claim(store):
    store.claim("web", "a", now=NOW, lease_seconds=60)
    assert not store.record_step("web", "b", step_id="s-1", window=WINDOW, message="{}", now=NOW)


def test_release_frees_the_claim(store):
    store.claim("web", "a", now=NOW, lease_seconds=60)
    store.release("web", "a", now=NOW)
    assert store.claim("web", "b", now=NOW, lease_seconds=60) is not None


def test_complete_records_window(store):
    store.claim("web", "a", now=NOW, lease_seconds=60)
    store.record_step("web", "a", step_id="s-1", window=WINDOW, message="{}", now=NOW)
    state = store.complete_step("web", "s-1", now=NOW)
    assert state.last_completed == WINDOW
    assert state.step_id is None
    assert store.complete_step("web", "s-1", now=NOW) is None


def test_older_window_does_not_move_back(store):
    later = Window(WINDOW.end, WINDOW.end + timedelta(hours=1))
    for step_id, window in (("s-1", later), ("s-2", WINDOW)):
        store.claim("web", step_id, now=NOW, lease_seconds=60)
        store.record_step("web", step_id, step_id=step_id, window=window, message="{}", now=NOW)
        store.complete_step("web", step_id, now=NOW)
    assert store.get("web").last_completed == later


def test_failures_counted_and_bounded(store):
    for n in range(MAX_RECENT_FAILURES + 2):
        store.claim("web", f"t{n}", now=NOW, lease_seconds=60)
        store.record_step("web", f"t{n}", step_id=f"s-{n}", window=WINDOW, message="{}", now=NOW)
        store.fail_step("web", f"s-{n}", reason=f"boom {n}", now=NOW, max_failures=5)
    state = store.get("web")
    assert state.consecutive_failures == MAX_RECENT_FAILURES + 2
    assert state.status == FAILING
    assert len(state.recent_failures) == MAX_RECENT_FAILURES
    assert state.recent_failures[-1].reason == f"boom {MAX_RECENT_FAILURES + 1}"


def test_set_status_unknown_task(store):
    with pytest.raises(TaskNotFoundError):
        store.set_status("nobody", PAUSED, now=NOW)


def test_save_message_active_resets_failures(store):
    store.claim("web", "a", now=NOW, lease_seconds=60)
    store.record_step("web", "a", step_id="s-1", window=WINDOW, message="{}", now=NOW)
    store.fail_step("web", "s-1", reason="x", now=NOW, max_failures=1)
    state = store.save_message("web", '{"v": 2}', status=ACTIVE, now=NOW)
    assert state.consecutive_failures == 0
    assert state.status == ACTIVE


def test_list_sorted(store):
    for key in ("b", "a", "c@2015-05-17T00:00:00Z"):
        store.save_message(key, "{}", now=NOW)
    assert [state.key for state in store.list()] == ["a", "b", "c@2015-05-17T00:00:00Z"]


def test_dynamodb_race_one_winner():
    """Two stores (two invocations) claim the same task; the conditional write lets one win."""
    import boto3
    from moto import mock_aws

    from okeanos.state.dynamodb import DynamoDbStateStore

    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="t", KeySchema=[{"AttributeName": "task", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "task", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        )
        first, second = DynamoDbStateStore("t", client=client), DynamoDbStateStore("t", client=client)
        original_load = second._load

        def stale_load(key):
            # The second invocation read the record before the first one wrote its claim.
            state = original_load(key)
            if not hasattr(stale_load, "raced"):
                stale_load.raced = True
                first.claim(key, "first", now=NOW, lease_seconds=60)
            return state

        second._load = stale_load
        won = second.claim("web", "second", now=NOW, lease_seconds=60)
        assert won is None
        assert first.get("web").claim_token == "first"


def test_sqlite_claims_across_threads(tmp_path):
    path = tmp_path / "tasks.sqlite"
    winners = []

    def claim(token):
        store = SqliteStateStore(path)
        if store.claim("web", token, now=NOW, lease_seconds=60) is not None:
            winners.append(token)
        store.close()

    SqliteStateStore(path).close()
    threads = [threading.Thread(target=claim, args=(f"t{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1


def test_sqlite_dead_letters(tmp_path):
    store = SqliteStateStore(tmp_path / "tasks.sqlite")
    store.add_dead_letter(message_id="m-1", reason="task: invalid", body="{}", now=NOW)
    assert store.dead_letters() == [{"time": "2015-05-18T12:00:30Z", "message_id": "m-1", "reason": "task: invalid", "body": "{}"}]
