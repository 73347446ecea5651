"""The job-board event generator: determinism, its reported counts, and the events format over it."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List

import pytest

from okeanos.cli import main
from okeanos.exceptions import ConfigurationError, WindowError
from okeanos.generate.events import EventsSummary, generate_events

SPEC = {"seed": 7, "start": "2026-01-05T22:00:00Z", "hours": 3, "events_per_hour": 600, "jobs": 20, "files": 3}


def _lines(summary: EventsSummary) -> List[str]:
    lines = []
    for name in summary.files:
        opener = gzip.open if name.endswith(".gz") else open
        with opener(name, "rt", encoding="utf-8") as handle:
            lines.extend(handle.read().splitlines())
    return lines


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(timezone.utc)


def _bytes_of(summary: EventsSummary) -> List[bytes]:
    return [Path(name).read_bytes() for name in summary.files]


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> EventsSummary:
    return generate_events(tmp_path_factory.mktemp("events"), **SPEC)


def test_generate_same_seed_same_bytes(generated, tmp_path: Path) -> None:
    again = generate_events(tmp_path, **SPEC)
    assert _bytes_of(again) == _bytes_of(generated)


def test_generate_same_seed_same_gzip_bytes(tmp_path: Path) -> None:
    first = generate_events(tmp_path / "a", compress=True, **SPEC)
    second = generate_events(tmp_path / "b", compress=True, **SPEC)
    assert _bytes_of(first) == _bytes_of(second)


def test_generate_gzip_same_lines(generated, tmp_path: Path) -> None:
    packed = generate_events(tmp_path, compress=True, **SPEC)
    assert _lines(packed) == _lines(generated)


def test_generate_other_seed_other_bytes(generated, tmp_path: Path) -> None:
    other = generate_events(tmp_path, **{**SPEC, "seed": 8})
    assert _bytes_of(other) != _bytes_of(generated)


def test_generate_file_names(generated) -> None:
    assert [Path(name).name for name in generated.files] == [
        "events-00000.jsonl",
        "events-00001.jsonl",
        "events-00002.jsonl",
    ]


def test_generate_total(generated) -> None:
    assert len(_lines(generated)) == SPEC["hours"] * SPEC["events_per_hour"]


def test_generate_counts_per_hour_and_type(generated) -> None:
    counted: Dict = Counter()
    for line in _lines(generated):
        record = json.loads(line)
        moment = _instant(record["timestamp"])
        counted[(moment.replace(minute=0, second=0, microsecond=0), record["event_type"])] += 1
    assert dict(counted) == generated.counts


def test_generate_funnel(generated) -> None:
    types = Counter(json.loads(line)["event_type"] for line in _lines(generated))
    assert types["impression"] > 5 * types["click"] > 10 * types["apply"] > 0


def test_generate_offsets(generated) -> None:
    offsets = {json.loads(line)["timestamp"][-6:] for line in _lines(generated)}
    assert offsets == {"+00:00", "+02:00", "-05:00"}


def test_generate_out_of_order(generated) -> None:
    instants = [_instant(json.loads(line)["timestamp"]) for line in _lines(generated)]
    steps_back = sum(1 for before, after in zip(instants, instants[1:]) if after < before)
    assert 0 < steps_back < len(instants) // 2


def test_generate_invalid_hours(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="hours must be a whole number of at least 1, got 0"):
        generate_events(tmp_path, **{**SPEC, "hours": 0})


def test_generate_start_not_utc(tmp_path: Path) -> None:
    with pytest.raises(WindowError, match="not in UTC"):
        generate_events(tmp_path, **{**SPEC, "start": "2026-01-05T00:00:00+02:00"})


def test_cli_generate_events(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["generate", "events", "--out", str(tmp_path), "--hours", "1", "--rate", "50", "--gzip"])
    assert (code, sorted(path.name for path in tmp_path.iterdir())) == (0, ["events-00000.jsonl.gz"])


@pytest.mark.spark
def test_events_format_over_generated(spark, generated) -> None:
    from okeanos_spark import transforms
    from okeanos_spark.formats import get_format
    from okeanos_spark.registry import get_job
    from tests.spark_rows import rows

    records = get_format("events").read(spark, list(generated.files))
    job = get_job("job_performance")
    output = rows(job.transform(transforms.add_bucket(transforms.parsed_rows(records), job.granularity)))
    totals: Dict = Counter()
    for row in output:
        for metric, event_type in (("impressions", "impression"), ("clicks", "click"), ("applies", "apply")):
            if row[metric]:
                totals[(row["bucket"], event_type)] += row[metric]
    assert dict(totals) == generated.counts
