"""The ``spark`` fixture: one local SparkSession shared by every test of a run.

Starting a JVM takes seconds, so the session is built once, on first use,
and stopped when the run ends. Tests that use it are marked ``spark``.
"""

from __future__ import annotations

from typing import Iterator

import pytest

# Small and fixed, so results do not depend on the machine: two cores, two
# shuffle partitions (the test inputs are tiny), and a driver heap that
# leaves room for the OpenSearch node that other tests start.
SPARK_TEST_CONFIG = {
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.driver.memory": "768m",
}


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """Return the shared local SparkSession (``local[2]``, UTC, UI disabled)."""
    from okeanos_spark.session import build_session

    session = build_session("okeanos-tests", master="local[2]", config=SPARK_TEST_CONFIG, log_level="ERROR")
    yield session
    session.stop()
