"""Tests of the local OpenSearch node, its test fixtures and the client factory."""

from __future__ import annotations

import hashlib
import os
import socket
import stat
import zipfile
from pathlib import Path

import pytest
from opensearchpy import RequestsAWSV4SignerAuth, RequestsHttpConnection, Urllib3HttpConnection

from okeanos.exceptions import ConfigurationError, OpenSearchUnavailableError
from okeanos.local import _distribution
from okeanos.local._node_process import find_java_home
from okeanos.local.exceptions import (
    OpenSearchInstallError,
    OpenSearchJavaError,
    OpenSearchPortInUseError,
    OpenSearchStartError,
)
from okeanos.local.opensearch import DEFAULT_VERSION, LocalOpenSearch
from okeanos.search import make_client, wait_for_cluster
from tests.plugins.opensearch_node import (
    DISTRIBUTIONS_DIR,
    discard_test_node,
    free_port,
    new_test_node,
)

FAKE_VERSION = "0.0.1"


def write_fake_distribution(directory: Path, *, top: str = f"opensearch-{FAKE_VERSION}") -> Path:
    """Write a small zip shaped like the distribution, and its .sha1 as Maven stores it."""
    archive = directory / f"opensearch-{FAKE_VERSION}.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        launcher = zipfile.ZipInfo(f"{top}/bin/opensearch")
        launcher.external_attr = (stat.S_IFREG | 0o755) << 16
        zipped.writestr(launcher, "#!/bin/sh\n")
        zipped.writestr(f"{top}/config/jvm.options", "-Xms1g\n")
    digest = hashlib.sha1(archive.read_bytes()).hexdigest()
    archive.with_name(archive.name + ".sha1").write_text(digest)
    return archive


@pytest.fixture
def fake_maven(tmp_path, monkeypatch):
    """Replace the Maven fetch with a fake archive; the returned list counts the fetches."""
    archive = write_fake_distribution(tmp_path)
    fetches = []

    def fetch(version):
        fetches.append(version)
        return archive

    monkeypatch.setattr(_distribution, "fetch_archive", fetch)
    return fetches


# Install.


def test_install_extracts_archive(tmp_path, fake_maven):
    node = LocalOpenSearch(tmp_path / "home", version=FAKE_VERSION, cache_dir=tmp_path / "cache")

    path = node.install()

    assert path == tmp_path / "cache" / f"opensearch-{FAKE_VERSION}"
    assert os.access(path / "bin" / "opensearch", os.X_OK)
    assert (path / "config" / "jvm.options").read_text() == "-Xms1g\n"
    assert node.is_installed()


def test_install_fetches_once(tmp_path, fake_maven):
    node = LocalOpenSearch(tmp_path / "home", version=FAKE_VERSION, cache_dir=tmp_path / "cache")

    first = node.install()
    second = node.install()

    assert first == second
    assert fake_maven == [FAKE_VERSION]


def test_install_leaves_no_partial_directory(tmp_path, monkeypatch):
    archive = write_fake_distribution(tmp_path, top="something-else")
    monkeypatch.setattr(_distribution, "fetch_archive", lambda version: archive)
    cache = tmp_path / "cache"
    node = LocalOpenSearch(tmp_path / "home", version=FAKE_VERSION, cache_dir=cache)

    with pytest.raises(OpenSearchInstallError, match="expected opensearch-0.0.1/"):
        node.install()

    assert list(cache.iterdir()) == []


def test_install_rejects_sha1_mismatch(tmp_path, fake_maven):
    archive = tmp_path / f"opensearch-{FAKE_VERSION}.zip"
    archive.with_name(archive.name + ".sha1").write_text("0" * 40)
    node = LocalOpenSearch(tmp_path / "home", version=FAKE_VERSION, cache_dir=tmp_path / "cache")

    with pytest.raises(OpenSearchInstallError, match="SHA-1"):
        node.install()

    assert not node.is_installed()


def test_install_real_distribution_is_idempotent(tmp_path, monkeypatch):
    # The shared cache, which `make test` fills before pytest runs.
    node = LocalOpenSearch(tmp_path / "home", cache_dir=DISTRIBUTIONS_DIR)
    path = node.install()
    marker = path / _distribution._INSTALLED_MARKER
    installed_at = marker.stat().st_mtime_ns

    def no_maven(*args, **kwargs):
        raise AssertionError("Maven ran although the distribution is installed")

    monkeypatch.setattr(_distribution, "run_maven", no_maven)

    assert node.install() == path
    assert marker.stat().st_mtime_ns == installed_at
    assert os.access(path / "bin" / "opensearch", os.X_OK)


# Start, status and stop.


def test_start_rejects_held_port(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        node = LocalOpenSearch(tmp_path / "home", port=port)

        with pytest.raises(OpenSearchPortInUseError) as caught:
            node.start(wait_seconds=5)

    assert caught.value.port == port
    assert f"port {port} " in str(caught.value)
    assert "OKEANOS_OPENSEARCH_PORT" in str(caught.value)
    assert not node.pid_file.exists()


def test_start_reports_node_exit():
    # The JVM rejects a 1 KB heap at once, so the node exits while starting.
    node = new_test_node(heap="1k")
    try:
        with pytest.raises(OpenSearchStartError) as caught:
            node.start(wait_seconds=60)
    finally:
        discard_test_node(node)

    assert "exited with code" in str(caught.value)
    assert "Too small maximum heap" in str(caught.value)
    assert not node.pid_file.exists()


def test_java_lookup_rejects_java_11(tmp_path, monkeypatch):
    java = tmp_path / "jdk-11" / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text("#!/bin/sh\necho 'openjdk version \"11.0.2\" 2019-01-15' >&2\n")
    java.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk-11"))
    monkeypatch.setenv("PATH", str(java.parent))
    monkeypatch.delenv("OPENSEARCH_JAVA_HOME", raising=False)

    with pytest.raises(OpenSearchJavaError) as caught:
        find_java_home()

    assert "JAVA_HOME" in str(caught.value)
    assert "Java 11" in str(caught.value)


def test_status_of_stopped_node(tmp_path):
    node = LocalOpenSearch(tmp_path / "home", port=free_port())

    status = node.status()

    assert status.running is False
    assert status.pid is None
    assert status.url == f"http://127.0.0.1:{node.port}"


def test_invalid_heap_rejected(tmp_path):
    with pytest.raises(ConfigurationError, match="'lots'"):
        LocalOpenSearch(tmp_path / "home", heap="lots")


@pytest.mark.opensearch
@pytest.mark.slow
def test_node_round_trip(spare_opensearch_node):
    node = spare_opensearch_node()

    running = node.status()
    assert running.running is True
    assert running.pid == int(node.pid_file.read_text())
    assert running.url == f"http://127.0.0.1:{node.port}"
    assert running.version == DEFAULT_VERSION
    assert running.health in ("yellow", "green")
    assert node.start() is False

    assert node.stop() is True
    stopped = node.status()
    assert stopped.running is False
    assert not node.pid_file.exists()
    assert node.stop() is False


@pytest.mark.opensearch
def test_session_node_serves_client(opensearch_url, opensearch_client):
    health = opensearch_client.cluster.health()

    assert os.environ["OPENSEARCH_URL"] == opensearch_url
    assert health["status"] in ("yellow", "green")


# Client factory.


@pytest.fixture
def aws_credentials(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("OKEANOS_OPENSEARCH_AUTH", raising=False)
    monkeypatch.delenv("OKEANOS_OPENSEARCH_VERIFY_CERTS", raising=False)


def test_client_signs_aws_endpoint(aws_credentials):
    client = make_client("https://search-logs-abc123.eu-west-1.es.amazonaws.com")
    connection = client.transport.get_connection()

    assert isinstance(connection, RequestsHttpConnection)
    assert isinstance(connection.session.auth, RequestsAWSV4SignerAuth)
    assert connection.session.auth.signer.region == "eu-west-1"
    assert connection.session.auth.service == "es"
    assert connection.host == "https://search-logs-abc123.eu-west-1.es.amazonaws.com:443"


def test_client_signs_when_forced(aws_credentials, monkeypatch):
    monkeypatch.setenv("OKEANOS_OPENSEARCH_AUTH", "sigv4")
    monkeypatch.setenv("AWS_REGION", "us-west-2")

    client = make_client("https://search.example.com")
    auth = client.transport.get_connection().session.auth

    assert isinstance(auth, RequestsAWSV4SignerAuth)
    assert auth.signer.region == "us-west-2"


def test_client_plain_for_local_url(aws_credentials):
    client = make_client("http://127.0.0.1:9200")
    connection = client.transport.get_connection()

    assert isinstance(connection, Urllib3HttpConnection)
    assert connection.host == "http://127.0.0.1:9200"
    assert client.transport.kwargs.get("http_auth") is None


def test_client_basic_auth_from_url(aws_credentials):
    client = make_client("https://admin:s%40cret@localhost:9200")

    assert client.transport.kwargs["http_auth"] == ("admin", "s@cret")


def test_client_rejects_unverified_aws(aws_credentials, monkeypatch):
    monkeypatch.setenv("OKEANOS_OPENSEARCH_VERIFY_CERTS", "false")

    with pytest.raises(ConfigurationError, match="local container"):
        make_client("https://search-logs-abc123.eu-west-1.es.amazonaws.com")


def test_client_without_credentials(aws_credentials):
    class NoCredentialsSession:
        region_name = None

        def get_credentials(self):
            return None

    with pytest.raises(ConfigurationError, match="no AWS credentials"):
        make_client(
            "https://search-logs-abc123.eu-west-1.es.amazonaws.com", session=NoCredentialsSession()
        )


def test_wait_names_unreachable_url():
    url = f"http://127.0.0.1:{free_port()}"
    client = make_client(url)

    with pytest.raises(OpenSearchUnavailableError, match=f"OpenSearch at {url} is not available"):
        wait_for_cluster(client, timeout_seconds=1)
