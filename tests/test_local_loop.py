"""End to end: the local loop over a directory that keeps receiving files, against a real OpenSearch.

Each cycle runs the real local runner (``spark-submit`` of the venv's
pyspark, the arguments the handler built). Before each cycle one more slice
of the real Apache log lands in the input directory. The window is fixed
(``runasof``) to the data's days, so every cycle recomputes all of it. The
views after the last cycle must equal a one-off batch run over the same files.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from okeanos.indices import view_index
from okeanos.local.loop import LocalLoop
from okeanos.local.runner import LocalRunner, step_status_change_event
from okeanos.search import make_client
from okeanos.state.sqlite import SqliteStateStore
from okeanos.task import parse_task
from okeanos.windows import Window
from okeanos_spark.registry import job_names
from okeanos_spark.run import run_job
from tests import web_reference as ref


JOB = "http_status_hourly"
RUNASOF = "2015-05-19T00:00:00Z"
WINDOW = Window.parse("2015-05-17T00:00:00Z", RUNASOF)
SLICES = 3


def view_documents(client, prefix: str):
    index = view_index(JOB, prefix=prefix)
    client.indices.refresh(index=index)
    hits = client.search(index=index, body={"size": 10000, "query": {"match_all": {}}})["hits"]["hits"]
    documents = {}
    for hit in hits:
        source = dict(hit["_source"])
        source.pop("run_id")
        documents[hit["_id"]] = source
    return documents


@pytest.mark.slow
@pytest.mark.spark
@pytest.mark.opensearch
def test_loop_views_equal_batch_run(tmp_path, spark, opensearch_url):
    lines = ref.APACHE_LOG.read_text(encoding="utf-8").splitlines()
    size = len(lines) // SLICES + 1
    slices = [lines[n * size:(n + 1) * size] for n in range(SLICES)]
    input_dir = tmp_path / "incoming"
    input_dir.mkdir()

    def deliver(cycle: int) -> None:
        part = slices[cycle - 1]
        (input_dir / f"part-{cycle}.log").write_text("".join(line + "\n" for line in part), encoding="utf-8")

    prefix = "loop" + uuid.uuid4().hex[:10]
    store = SqliteStateStore(tmp_path / "tasks.sqlite")
    loop = LocalLoop(
        store=store, runner=LocalRunner(work_dir=tmp_path / "work"), opensearch_url=opensearch_url, index_prefix=prefix
    )
    message = parse_task(
        {
            "version": 1, "task": "web-apache", "job": JOB,
            "input": {"uri": str(input_dir), "format": "combined"},
            "window": {"runasof": RUNASOF, "lastnhours": 48},
            "resubmit": True, "interval_seconds": 0,
        },
        jobs=job_names(),
    )
    cycles = []
    loop.start(message)
    loop.run(max_cycles=SLICES, before_cycle=deliver, on_cycle=cycles.append)

    client = make_client(opensearch_url)
    looped = view_documents(client, prefix)
    totals = sum(document["requests"] for document in looped.values())

    batch_prefix = "batch" + uuid.uuid4().hex[:10]
    run_job(spark, job=JOB, input_path=str(input_dir), input_format="combined", source="web-apache",
            window=WINDOW, opensearch_url=opensearch_url, index_prefix=batch_prefix)
    batch = view_documents(client, batch_prefix)

    state = store.get("web-apache")
    assert [cycle.step.state for cycle in cycles] == ["COMPLETED"] * SLICES, [c.step.output_tail for c in cycles]
    assert state.last_completed == WINDOW
    assert state.consecutive_failures == 0
    assert totals == len(lines)
    assert looped == batch
    assert len(loop.topic) == 1


class InstantRunner(LocalRunner):
    """A local runner whose steps complete at once, without Spark, for the loop's own logic."""

    def run_next(self):
        if not self._pending:
            return None
        step = self.steps[self._pending.popleft()]
        step.state, step.message, step.seconds = "COMPLETED", "completed", 0.0
        self._subscriber(step_status_change_event(step, self.cluster_id), None)
        return step


def instant_loop(tmp_path):
    store = SqliteStateStore(tmp_path / "tasks.sqlite")
    loop = LocalLoop(store=store, runner=InstantRunner(work_dir=tmp_path / "work"))
    message = parse_task(
        {"version": 1, "task": "web-pause", "job": JOB, "input": {"uri": str(tmp_path), "format": "combined"},
         "window": {"runasof": RUNASOF, "lastnhours": 48}, "resubmit": True, "interval_seconds": 0},
        jobs=job_names(),
    )
    loop.start(message)
    return loop, store


def test_loop_stops_when_paused(tmp_path):
    loop, store = instant_loop(tmp_path)

    def pause_during_first(cycle: int) -> None:
        store.set_status("web-pause", "paused", now=WINDOW.end)

    cycles = loop.run(max_cycles=5, before_cycle=pause_during_first)
    assert cycles == 1
    assert len(loop.topic) == 0
    assert store.get("web-pause").status == "paused"


def test_loop_runs_until_cycle_limit(tmp_path):
    loop, store = instant_loop(tmp_path)
    cycles = loop.run(max_cycles=4)
    assert cycles == 4
    assert len(loop.runner.steps) == 4
    assert store.get("web-pause").last_completed == WINDOW


def test_loop_interrupt_ends_step_cancelled(tmp_path, monkeypatch):
    # Ctrl-C during spark-submit: the step is reported CANCELLED, so the task keeps no step in flight.
    store = SqliteStateStore(tmp_path / "tasks.sqlite")
    loop = LocalLoop(store=store, runner=LocalRunner(work_dir=tmp_path / "work", spark_submit="spark-submit"))
    loop.start(
        parse_task(
            {"version": 1, "task": "web-stop", "job": JOB, "input": {"uri": str(tmp_path), "format": "combined"},
             "window": {"runasof": RUNASOF, "lastnhours": 48}, "resubmit": True, "interval_seconds": 0},
            jobs=job_names(),
        )
    )

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("okeanos.local.runner.subprocess.run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        loop.run(max_cycles=3)

    [step] = loop.runner.steps.values()
    assert step.state == "CANCELLED"
    state = store.get("web-stop")
    assert state.step_id is None
    assert state.consecutive_failures == 1
    assert state.recent_failures[-1].step_id == step.step_id


def test_local_command_drops_cluster_options(tmp_path):
    runner = LocalRunner(spark_submit="/opt/spark-submit", work_dir=tmp_path)
    args = ["spark-submit", "--deploy-mode", "cluster", "--master", "yarn", "--conf", "spark.yarn.maxAppAttempts=1",
            "--conf", "spark.sql.shuffle.partitions=4", "--py-files", "s3://a/okeanos-jobs.zip", "s3://a/okeanos_main.py",
            "--task", "eyJ9", "--opensearch-url", "http://127.0.0.1:9200"]
    command = runner.local_command(args)
    assert command == [
        "/opt/spark-submit", "--master", "local[2]", "--deploy-mode", "client",
        "--conf", "spark.sql.shuffle.partitions=4",
        "--py-files", str(tmp_path / "okeanos-jobs.zip"), str(Path(__file__).resolve().parents[1] / "spark" / "okeanos_main.py"),
        "--task", "eyJ9", "--opensearch-url", "http://127.0.0.1:9200",
    ]


def test_local_step_event_shaped_like_emr():
    from okeanos.local.runner import LocalStep
    from tests.loop_support import DOCUMENTED_STEP_EVENT

    event = step_status_change_event(LocalStep("s-1", "okeanos:web:2015-05-17T00:00:00Z", [], state="FAILED"), "j-X")
    assert set(event) == set(DOCUMENTED_STEP_EVENT)
    assert set(event["detail"]) == set(DOCUMENTED_STEP_EVENT["detail"])
    assert event["detail"]["state"] == "FAILED"


def test_local_topic_event_shaped_like_sns():
    from okeanos.local.topic import sns_event
    from tests.loop_support import DOCUMENTED_SNS_EVENT

    record = sns_event(["{}"])["Records"][0]
    documented = DOCUMENTED_SNS_EVENT["Records"][0]
    assert set(record) == set(documented)
    assert set(record["Sns"]) == set(documented["Sns"])
    assert record["Sns"]["Message"] == "{}"


def test_backfill_locally_runs_every_chunk(tmp_path):
    from datetime import timedelta

    from okeanos import control
    from okeanos.cli import tasks as tasks_cli
    from okeanos.environments import Environment

    store = SqliteStateStore(tmp_path / "tasks.sqlite")
    env = Environment(name="local", store=store)
    loop = LocalLoop(store=store, runner=InstantRunner(work_dir=tmp_path / "work"))
    messages = control.backfill_messages(
        env, JOB, Window.parse("2015-05-17T00:00:00Z", "2015-05-17T12:00:00Z"), timedelta(hours=4),
        task="web-apache", input_uri=str(tmp_path), input_format="combined",
    )
    failed = tasks_cli.backfill_locally(env, messages, max_concurrent=2, loop=loop)
    keys = [state.key for state in store.list()]
    assert failed == []
    assert len(loop.runner.steps) == 3
    assert keys == [f"web-apache@2015-05-17T{hour:02d}:00:00Z" for hour in (0, 4, 8)]


def test_local_loop_command_prints_cycles(tmp_path, monkeypatch, capsys):
    import okeanos.local.loop as local_loop
    from okeanos.cli import main

    monkeypatch.setenv("OKEANOS_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(local_loop, "LocalRunner", lambda: InstantRunner(work_dir=tmp_path / "work"))
    code = main(["local", "loop", JOB, "--input", str(tmp_path), "--format", "combined",
                 "--runasof", RUNASOF, "--lastnhours", "48", "--interval", "0", "--cycles", "2"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert lines[1].startswith("cycle 1: COMPLETED in 0.0 s, window [2015-05-17T00:00:00Z, 2015-05-19T00:00:00Z)")
    assert lines[2].startswith("cycle 2: COMPLETED")
    assert lines[-1] == "loop http-status-hourly stopped after 2 cycle(s)"
