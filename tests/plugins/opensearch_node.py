"""Pytest fixtures for tests that need OpenSearch.

``opensearch_url`` starts one node for the whole test run, on a free port of
127.0.0.1, unless ``OPENSEARCH_URL`` already names a cluster to use. The node
runs the distribution that ``okeanos local opensearch install`` extracted
(``make test`` runs it first), so only the node's config, data and logs are
new for each run. ``spare_opensearch_node`` starts further nodes that a test
may stop and restart.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Callable, Iterator, List

import pytest

from okeanos.local.opensearch import LocalOpenSearch, opensearch_dir
from okeanos.search import make_client, wait_for_cluster

logger = logging.getLogger(__name__)

TEST_HEAP = "256m"

# Resolved when pytest loads the plugin, before any test changes OKEANOS_HOME,
# so that every test node uses the distribution that `make test` installed.
DISTRIBUTIONS_DIR = opensearch_dir() / "distributions"


def free_port() -> int:
    """Return a TCP port of 127.0.0.1 that nothing is bound to at the time of the call."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def new_test_node(*, heap: str = TEST_HEAP) -> LocalOpenSearch:
    """Return an installed, not yet started node with a new temporary home and a free port."""
    # Under the system temporary directory, not pytest's tmp_path: pytest
    # makes its base directory private to the current user, which the node's
    # user (okeanos, when tests run as root) could not enter.
    home = Path(tempfile.mkdtemp(prefix="okeanos-test-opensearch-"))
    node = LocalOpenSearch(home, port=free_port(), heap=heap, cache_dir=DISTRIBUTIONS_DIR)
    node.install()
    return node


def discard_test_node(node: LocalOpenSearch) -> None:
    """Stop a node from ``new_test_node`` and delete its home."""
    try:
        node.stop()
    finally:
        shutil.rmtree(node.home, ignore_errors=True)


@pytest.fixture(scope="session")
def opensearch_url() -> Iterator[str]:
    """URL of the OpenSearch cluster for this test run, also set as ``OPENSEARCH_URL``.

    The cluster in ``OPENSEARCH_URL`` when that is set; otherwise a node
    started for the session and stopped at its end, whether tests failed or not.
    """
    existing = os.environ.get("OPENSEARCH_URL")
    if existing:
        yield existing
        return

    node = new_test_node()
    try:
        node.start()
        os.environ["OPENSEARCH_URL"] = node.url
        yield node.url
    finally:
        os.environ.pop("OPENSEARCH_URL", None)
        discard_test_node(node)


@pytest.fixture(scope="session")
def opensearch_client(opensearch_url: str):
    """OpenSearch client for ``opensearch_url``, once the cluster is yellow or green."""
    client = make_client(opensearch_url)
    wait_for_cluster(client, timeout_seconds=60)
    yield client
    client.close()


@pytest.fixture
def spare_opensearch_node() -> Iterator[Callable[..., LocalOpenSearch]]:
    """Factory of started nodes, separate from the session's, that a test may stop and restart.

    Each call returns a started ``LocalOpenSearch`` with its own port and
    data. Every node it made is stopped and its home deleted at teardown.

    Examples
    --------
    >>> def test_resumes_after_restart(spare_opensearch_node):
    ...     node = spare_opensearch_node()
    ...     node.stop()
    ...     node.start()
    """
    nodes: List[LocalOpenSearch] = []

    def start_node(*, heap: str = TEST_HEAP) -> LocalOpenSearch:
        node = new_test_node(heap=heap)
        nodes.append(node)
        node.start()
        return node

    yield start_node

    for node in nodes:
        try:
            discard_test_node(node)
        except Exception:
            # Keep stopping the other nodes; the failure is still in the log.
            logger.exception("stopping the spare OpenSearch node in %s failed", node.home)
