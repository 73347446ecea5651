"""A class-data archive for local Spark JVMs, which makes their start-up shorter.

Every local run and loop cycle starts a new JVM that loads Spark's classes
from its jars. A dynamic class-data sharing archive (``-XX:SharedArchiveFile``,
used here with JDK 17) keeps those classes parsed and verified in a file
that the next JVM maps into memory instead. On a two-core machine, reading
and counting 200,000 lines in a new process then took 5.6 to 6.2 s instead
of 8.0 to 8.7 s, session start included (see docs/benchmarks.md).

How it is used:

- :func:`java_options` returns the JVM options of a local driver: the
  archive when it exists, nothing otherwise. ``build_session`` adds them for
  a ``local`` master, and the local step runner for its ``spark-submit``;
- an archive is written only by a JVM that ends normally with
  ``-XX:ArchiveClassesAtExit``, to a temporary file that the caller then
  moves into place (:func:`creation_options`, :func:`finish_creation`). The
  local step runner does this on its first step, and :func:`ensure` runs a
  small training job for callers that need the archive before their first
  step (the benchmark);
- the archive lives in ``<state_dir>/jvm`` (about 120 MB), named after the
  pyspark version and the Java executable, so another JDK or pyspark gets
  its own. A JVM that cannot use an archive (another build, a damaged file)
  runs without it, and the options silence its warnings about that.

``OKEANOS_CLASS_ARCHIVE=off`` disables the archive. Runs on EMR never use it:
only local masters do.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import List, Optional

logger = logging.getLogger(__name__)

DISABLE_ENV = "OKEANOS_CLASS_ARCHIVE"
# Warnings of a JVM that cannot map the archive would go to the driver's
# standard output, which some commands print.
_QUIET = ("-Xlog:cds=off", "-Xlog:cds+dynamic=off")


def enabled() -> bool:
    """Return whether the archive is used: unless ``OKEANOS_CLASS_ARCHIVE`` is ``off``."""
    return os.environ.get(DISABLE_ENV, "").strip().lower() not in ("off", "0", "false", "no")


def java_executable() -> Optional[str]:
    """Return the ``java`` that Spark starts: ``$JAVA_HOME/bin/java``, else the one on ``PATH``."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        return str(Path(java_home) / "bin" / "java")
    return shutil.which("java")


def archive_path(state_dir: Optional[Path] = None) -> Optional[Path]:
    """Return where the archive of this pyspark and Java is, or None when the path cannot be used.

    Spark splits the driver's Java options at whitespace, so a state
    directory whose path contains whitespace or quotes gets no archive.
    """
    import pyspark

    java = java_executable()
    if java is None:
        return None
    if state_dir is None:
        from okeanos.settings import state_dir as default_state_dir

        state_dir = default_state_dir()
    digest = hashlib.sha256(os.path.realpath(java).encode("utf-8")).hexdigest()[:12]
    path = Path(state_dir) / "jvm" / f"spark-{pyspark.__version__}-java-{digest}.jsa"
    if any(character.isspace() or character in "\"'" for character in str(path)):
        logger.debug("no class archive: the path %s contains whitespace or quotes", path)
        return None
    return path


def java_options(state_dir: Optional[Path] = None) -> List[str]:
    """Return the JVM options that use the archive, or an empty list when there is none to use."""
    if not enabled():
        return []
    path = archive_path(state_dir)
    if path is None or not path.is_file():
        return []
    return [f"-XX:SharedArchiveFile={path}", *_QUIET]


def creation_options(state_dir: Optional[Path] = None) -> Optional[List[str]]:
    """Return the options of a JVM that writes a new archive, or None when none is needed.

    The JVM writes a temporary file next to the archive when it exits; pass
    the same ``state_dir`` to :func:`finish_creation` after it ended.
    """
    if not enabled():
        return None
    path = archive_path(state_dir)
    if path is None or path.is_file():
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    return [f"-XX:ArchiveClassesAtExit={temporary}", *_QUIET]


def finish_creation(options: List[str], succeeded: bool) -> Optional[Path]:
    """Move the archive written by a JVM started with ``options`` into place, or delete it.

    ``succeeded`` is whether that JVM ended normally. Returns the archive's
    path when it was put in place.
    """
    temporary = Path(options[0].split("=", 1)[1])
    final = temporary.with_name(temporary.name.rsplit(".", 2)[0])
    if succeeded and temporary.is_file() and temporary.stat().st_size > 0:
        os.replace(temporary, final)
        logger.info("wrote the class archive %s", final)
        return final
    temporary.unlink(missing_ok=True)
    return None


def ensure(state_dir: Optional[Path] = None, *, timeout_seconds: int = 600) -> Optional[Path]:
    """Create the archive with a small training run unless it exists; return its path.

    The training run is a separate Python process that parses a few
    generated combined lines and aggregates them, so the archive contains
    the classes of reading, parsing, caching and aggregating. Returns None when
    the archive is disabled or its path cannot be used, or when the run failed.
    """
    options = creation_options(state_dir)
    if options is None:
        path = archive_path(state_dir) if enabled() else None
        return path if path is not None and path.is_file() else None
    spark_dir = Path(__file__).resolve().parents[1]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(spark_dir), str(spark_dir.parent), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "okeanos_spark.class_archive", " ".join(options)]
    try:
        completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout_seconds, check=False)
    except subprocess.TimeoutExpired:
        logger.warning("the class archive training run timed out after %d s", timeout_seconds)
        return finish_creation(options, succeeded=False)
    if completed.returncode != 0:
        logger.warning(
            "the class archive training run failed, so local runs start without it: %s", completed.stderr[-2000:]
        )
    return finish_creation(options, succeeded=completed.returncode == 0)


def _train(java_option_text: str) -> None:
    """Run a small job in a JVM started with ``java_option_text``; its classes go to the archive."""
    import tempfile

    from okeanos.generate.web import WebLogSpec, generate_web_logs
    from okeanos_spark import transforms
    from okeanos_spark.accounting import count_lines
    from okeanos_spark.formats import get_format
    from okeanos_spark.inputs import list_files
    from okeanos_spark.registry import get_job
    from okeanos_spark.session import build_session

    spark = build_session(
        "okeanos-class-archive",
        master="local[1]",
        config={"spark.driver.extraJavaOptions": java_option_text},
        log_level="ERROR",
    )
    job = get_job("http_status_hourly")
    with tempfile.TemporaryDirectory(prefix="okeanos-class-archive-") as directory:
        generate_web_logs(WebLogSpec(format="combined", lines=2000, hours=1, files_per_hour=2), Path(directory))
        records = get_format("combined").read(spark, list_files(directory), columns=job.columns).cache()
        count_lines(records)
        job.transform(transforms.add_bucket(transforms.parsed_rows(records), job.granularity)).collect()
    spark.stop()


if __name__ == "__main__":
    _train(sys.argv[1])
