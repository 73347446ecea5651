"""Creation of the SparkSession, in one place for tests, local runs and EMR steps.

Every okeanos session runs with ``spark.sql.session.timeZone=UTC`` and
``spark.sql.legacy.timeParserPolicy=CORRECTED``. The second makes a
timestamp that Spark 3's parser rejects come out as null (a rejected line)
instead of failing the whole job with ``SparkUpgradeException``, which
Spark 3.5 raises by default when the pre-3.0 parser would have accepted it.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, Dict, Mapping, Optional

from okeanos.exceptions import ConfigurationError

logger = logging.getLogger(__name__)

REQUIRED_CONFIG: Dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
}

# Applied when the master is local: no web UI, no console progress bar, the
# driver's ports bound to the loopback interface only, and sizing for one
# machine with a few cores:
# - Spark lists more than 32 input paths with a Spark job of one task per
#   path. okeanos_spark.inputs has listed the files already, so that job
#   only adds time: about 1 s for 96 files, measured with bench.run.
# - 64 MB file splits instead of 128 MB give several splits per core for
#   inputs of a few hundred MB, so the last wave of tasks leaves no core idle
#   for long.
# - A view has at most a few thousand rows per run, far too few for Spark's
#   200 shuffle partitions. Adaptive execution coalesces them, but each map
#   task still writes a block for every one of them.
LOCAL_CONFIG: Dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.host": "127.0.0.1",
    "spark.sql.sources.parallelPartitionDiscovery.threshold": "100000",
    "spark.sql.files.maxPartitionBytes": "64m",
    "spark.sql.shuffle.partitions": "8",
    # A run caches its parsed records once and reads them in a few passes.
    # Without compressing the cache, building it over 10M combined lines took
    # 45 s instead of 62 s (bench.run, two cores at load 1 to 2), and the
    # peak RSS stayed at 1.47 GB.
    "spark.sql.inMemoryColumnarStorage.compressed": "false",
}


_DRIVER_JAVA_OPTIONS = "spark.driver.extraJavaOptions"


def build_session(
    app_name: str,
    *,
    master: Optional[str] = None,
    config: Optional[Mapping[str, str]] = None,
    log_level: Optional[str] = None,
) -> Any:
    """Create the SparkSession of an okeanos run, or return the running one.

    Parameters
    ----------
    app_name
        Application name, shown by the Spark UI and YARN.
    master
        Spark master such as ``local[2]``. When omitted, spark-submit's
        ``--master`` (or the cluster's default) applies. A local master
        also gets the local defaults and, when it exists, the class archive
        of :mod:`okeanos_spark.class_archive`.
    config
        Extra Spark settings, applied after the local defaults
        (:data:`LOCAL_CONFIG`) and before :data:`REQUIRED_CONFIG`. Settings
        such as ``spark.driver.memory`` only take effect if no JVM is
        running yet in this process.
    log_level
        Log level of the Spark JVM (``ERROR``, ``WARN``, ``INFO``); Spark's
        own default (``WARN``) when omitted.

    Raises
    ------
    ConfigurationError
        If ``config`` sets a required setting to another value.
    """
    from pyspark.sql import SparkSession

    settings: Dict[str, str] = {}
    if master is not None and master.startswith("local"):
        settings.update(LOCAL_CONFIG)
        # Python workers run $PYSPARK_PYTHON, else the first python3 on PATH,
        # which may lack opensearch-py. PySpark 3.5.6 does not read the
        # spark.pyspark.python setting in local mode, so the variable is set.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    for key, value in (config or {}).items():
        required = REQUIRED_CONFIG.get(key)
        if required is not None and str(value) != required:
            raise ConfigurationError(
                f"Spark setting {key}={value!r} conflicts with okeanos, which needs {key}={required}"
            )
        settings[key] = str(value)
    settings.update(REQUIRED_CONFIG)
    if master is not None and master.startswith("local"):
        from okeanos_spark import class_archive

        archive_options = class_archive.java_options()
        if archive_options:
            configured = settings.get(_DRIVER_JAVA_OPTIONS, "")
            settings[_DRIVER_JAVA_OPTIONS] = " ".join([*archive_options, configured]).strip()

    builder = SparkSession.builder.appName(app_name)
    if master is not None:
        builder = builder.master(master)
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    if log_level is not None:
        session.sparkContext.setLogLevel(log_level)
    logger.debug("Spark session %s ready (master %s)", app_name, session.sparkContext.master)
    return session


def check_session(spark: Any) -> None:
    """Apply :data:`REQUIRED_CONFIG` to a session that was not built by :func:`build_session`.

    Both settings are runtime SQL settings, so they can change on a running
    session; a changed value is logged.
    """
    for key, value in REQUIRED_CONFIG.items():
        current = spark.conf.get(key, None)
        if current != value:
            logger.info("setting %s=%s (was %s)", key, value, current)
            spark.conf.set(key, value)
