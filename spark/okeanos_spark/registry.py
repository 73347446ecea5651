"""The registry of aggregation jobs.

A job is one module in :mod:`okeanos_spark.jobs` that declares an
:class:`AggregationJob` named ``JOB`` and, at import, passes it to
:func:`register`. Adding an aggregation means adding that one module and
listing it in ``okeanos_spark.jobs.__init__``.

Importable without pyspark: the Lambda handler and the CLI use
:func:`job_names` and :func:`get_job` to validate task messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, Tuple

# Common schemas that input formats parse into. A job reads one of them.
WEB_REQUEST = "web_request"
APP_EVENT = "app_event"


@dataclass(frozen=True)
class Metric:
    """One metric of a view: its field name, OpenSearch type and meaning."""

    name: str
    type: str  # "long" or "double"
    description: str


@dataclass(frozen=True)
class AggregationJob:
    """A registered aggregation: what it reads, how it buckets, what it writes.

    ``transform`` takes a DataFrame in the job's ``schema`` (already limited to
    the buckets being recomputed, with a ``bucket`` timestamp column added)
    and returns one row per bucket and dimension values, with the columns
    ``bucket``, each dimension and each metric.

    ``columns`` names the columns of the schema that ``transform`` reads,
    besides ``ts``. A run then caches only those between its passes over the
    parsed lines; empty, the default, caches every column of the schema.
    """

    name: str
    description: str
    schema: str  # WEB_REQUEST or APP_EVENT
    formats: Tuple[str, ...]
    granularity: str  # "hour" or "day"
    dimensions: Tuple[str, ...]
    metrics: Tuple[Metric, ...]
    transform: Callable = field(repr=False, compare=False)
    columns: Tuple[str, ...] = ()

    @property
    def metric_names(self) -> Tuple[str, ...]:
        """Names of the metrics, in declaration order."""
        return tuple(metric.name for metric in self.metrics)

    def mapping(self) -> Dict[str, object]:
        """Return the explicit OpenSearch mapping of this job's view documents."""
        properties: Dict[str, object] = {
            "job": {"type": "keyword"},
            "source": {"type": "keyword"},
            "bucket": {"type": "date", "format": "strict_date_time_no_millis||strict_date_optional_time"},
            "run_id": {"type": "keyword"},
        }
        # Lucene limits a term to 32,766 bytes; 8,191 characters stay under
        # it even when every character takes four bytes in UTF-8.
        for name in self.dimensions:
            properties[name] = {"type": "keyword", "ignore_above": 8191}
        for metric in self.metrics:
            properties[metric.name] = {"type": metric.type}
        return {"dynamic": "strict", "properties": properties}


_JOBS: Dict[str, AggregationJob] = {}


def register(job: AggregationJob) -> AggregationJob:
    """Add ``job`` to the registry; a second job with the same name is an error."""
    if job.name in _JOBS and _JOBS[job.name] is not job:
        raise ValueError(f"job {job.name!r} is already registered")
    _JOBS[job.name] = job
    return job


def _load() -> Mapping[str, AggregationJob]:
    import okeanos_spark.jobs  # noqa: F401  (each job module registers itself)

    return _JOBS


def get_job(name: str) -> AggregationJob:
    """Return the registered job ``name``, or raise ``KeyError`` listing the registered ones."""
    jobs = _load()
    if name not in jobs:
        raise KeyError(f"job {name!r} is not registered; registered jobs: {', '.join(sorted(jobs))}")
    return jobs[name]


def job_names() -> List[str]:
    """Return the names of every registered job, sorted."""
    return sorted(_load())


def all_jobs() -> List[AggregationJob]:
    """Return every registered job, sorted by name."""
    jobs = _load()
    return [jobs[name] for name in sorted(jobs)]
