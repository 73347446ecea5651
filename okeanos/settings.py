"""Settings shared by the CLI and local mode.

Each setting resolves as: explicit argument, then environment variable, then
the documented default.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

DEFAULT_LOCAL_OPENSEARCH_PORT = 9200
DEFAULT_INDEX_PREFIX = "okeanos"


def state_dir(explicit: Optional[str] = None) -> Path:
    """Directory for local state: the OpenSearch node, the task-state database, rejects.

    ``OKEANOS_HOME``, else ``$XDG_CACHE_HOME/okeanos``, else ``~/.cache/okeanos``.
    """
    value = explicit or os.environ.get("OKEANOS_HOME")
    if value:
        return Path(value).expanduser().resolve()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return (Path(cache) / "okeanos").resolve()


def opensearch_url(explicit: Optional[str] = None) -> str:
    """URL of the OpenSearch cluster that stores the views.

    ``OPENSEARCH_URL``, else the local node on 127.0.0.1 at ``OKEANOS_OPENSEARCH_PORT``
    (default 9200).
    """
    if explicit:
        return explicit
    if os.environ.get("OPENSEARCH_URL"):
        return os.environ["OPENSEARCH_URL"]
    return f"http://127.0.0.1:{local_opensearch_port()}"


def local_opensearch_port() -> int:
    """Port of the local OpenSearch node: ``OKEANOS_OPENSEARCH_PORT``, default 9200."""
    return int(os.environ.get("OKEANOS_OPENSEARCH_PORT", DEFAULT_LOCAL_OPENSEARCH_PORT))


def index_prefix(explicit: Optional[str] = None) -> str:
    """Prefix of every okeanos index name: ``OKEANOS_INDEX_PREFIX``, default ``okeanos``."""
    return explicit or os.environ.get("OKEANOS_INDEX_PREFIX") or DEFAULT_INDEX_PREFIX
