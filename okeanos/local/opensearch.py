"""The local OpenSearch node of local mode and of the tests.

The node runs OpenSearch's ``integ-test-zip`` distribution from Maven Central:
the server with only the transport-netty4 module and no security plugin,
which is all that index templates, bulk writes, searches, scrolls and
aggregations need (it has no ``_delete_by_query``, so okeanos does not use it). ``mvn`` fetches it, so the machine's Maven mirror and
proxy settings apply, and it is extracted once into a cache directory.

Each node has a home directory of its own, with config, data, logs,
temporary files, a pid file and a console log. Several nodes can share one
extracted distribution. OpenSearch does not run as root, so when okeanos runs as
root (as CI does) the node runs as the unprivileged system user ``okeanos``,
which is created when missing.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

from okeanos import settings
from okeanos.exceptions import ConfigurationError
from okeanos.local import _distribution, _node_process
from okeanos.local.exceptions import (
    OpenSearchPortInUseError,
    OpenSearchStartError,
    OpenSearchStopError,
)

logger = logging.getLogger(__name__)

DEFAULT_VERSION = "2.19.3"
DEFAULT_HEAP = "512m"
DEFAULT_START_WAIT_SECONDS = 120.0
DEFAULT_STOP_WAIT_SECONDS = 30.0
HOST = "127.0.0.1"

# Used when root runs okeanos without OKEANOS_HOME: the node's user cannot
# traverse /root, where settings.state_dir() would put the files.
ROOT_BASE_DIR = Path("/var/cache/okeanos")

_HOME_MARKER = ".okeanos-opensearch-node"
_HEAP_PATTERN = re.compile(r"^[1-9][0-9]*[kmgKMG]$")


def opensearch_dir() -> Path:
    """Return the directory of the local OpenSearch files: distributions and the default node.

    ``$OKEANOS_HOME/opensearch`` when ``OKEANOS_HOME`` is set. Otherwise
    ``/var/cache/okeanos/opensearch`` for root, because the node's user cannot
    traverse ``/root``, and ``settings.state_dir() / "opensearch"`` for any
    other user.
    """
    if not os.environ.get("OKEANOS_HOME") and os.geteuid() == 0:
        return ROOT_BASE_DIR / "opensearch"
    return settings.state_dir() / "opensearch"


@dataclass(frozen=True)
class NodeStatus:
    """State of a local node as ``LocalOpenSearch.status`` finds it.

    ``pid`` and ``health`` are None when the node is not running. ``health``
    is also None while a running node does not respond to HTTP requests.
    """

    running: bool
    pid: Optional[int]
    url: str
    version: str
    health: Optional[str]


class LocalOpenSearch:
    """One local single-node OpenSearch cluster, listening on 127.0.0.1 only.

    Parameters
    ----------
    home
        Directory of the node's config, data, logs and pid file; default
        ``opensearch_dir() / "node"``. A new or empty directory, or one that
        an earlier node used.
    port
        HTTP port; default ``settings.local_opensearch_port()``
        (``OKEANOS_OPENSEARCH_PORT``, else 9200).
    heap
        JVM heap size as Java writes it (``512m``, ``1g``); default 512m.
    version
        OpenSearch version; default ``DEFAULT_VERSION``.
    cache_dir
        Directory of extracted distributions, shared by all nodes; default
        ``opensearch_dir() / "distributions"``.
    java_home
        Java 17 or newer to run the node with; default found by
        ``_node_process.find_java_home``.

    Examples
    --------
    >>> node = LocalOpenSearch(port=9201)
    >>> node.install()  # doctest: +SKIP
    >>> node.start()  # doctest: +SKIP
    >>> node.url
    'http://127.0.0.1:9201'
    """

    def __init__(
        self,
        home: str | Path | None = None,
        *,
        port: int | None = None,
        heap: str | None = None,
        version: str | None = None,
        cache_dir: str | Path | None = None,
        java_home: str | Path | None = None,
    ) -> None:
        self.home = Path(home).resolve() if home else opensearch_dir() / "node"
        self.port = _check_port(port if port is not None else settings.local_opensearch_port())
        self.heap = _check_heap(heap or DEFAULT_HEAP)
        self.version = version or DEFAULT_VERSION
        self.cache_dir = (
            Path(cache_dir).resolve() if cache_dir else opensearch_dir() / "distributions"
        )
        self.java_home = Path(java_home) if java_home else None
        self._process: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        """URL of the node's HTTP API."""
        return f"http://{HOST}:{self.port}"

    @property
    def distribution_dir(self) -> Path:
        """Directory of the extracted distribution of ``version``."""
        return self.cache_dir / f"opensearch-{self.version}"

    @property
    def pid_file(self) -> Path:
        """File that contains the pid of the running node."""
        return self.home / "opensearch.pid"

    @property
    def log_file(self) -> Path:
        """File that receives the node's standard output and standard error."""
        return self.home / "opensearch.out"

    @property
    def _state_file(self) -> Path:
        # Port and version of the running node, so that status() and a second
        # start() report where it listens even when called with another port.
        return self.home / "node.json"

    def is_installed(self) -> bool:
        """Return whether the distribution of ``version`` is extracted and complete."""
        return _distribution.is_complete(self.distribution_dir)

    def install(self) -> Path:
        """Fetch the distribution with Maven, verify its SHA-1 and extract it once.

        Returns at once when the distribution is already extracted. The
        archive is extracted into a temporary directory beside the target and
        renamed into place, so an interrupted install leaves no half-extracted
        distribution behind.

        Returns
        -------
        Path
            The distribution directory.

        Raises
        ------
        OpenSearchInstallError
            When Maven is missing, the artifact cannot be resolved, its
            checksum does not match or extraction fails.
        """
        target = self.distribution_dir
        if self.is_installed():
            logger.debug("OpenSearch %s is already installed in %s", self.version, target)
            return target

        archive = _distribution.fetch_archive(self.version)
        digest = _distribution.verify_sha1(archive)
        _distribution.extract(archive, digest, target)
        logger.info("installed OpenSearch %s in %s", self.version, target)
        return target

    def start(self, wait_seconds: float = DEFAULT_START_WAIT_SECONDS) -> bool:
        """Start the node and wait until its cluster health is yellow or green.

        Parameters
        ----------
        wait_seconds
            How long to wait for the cluster to become healthy before the node
            is stopped and an error raised.

        Returns
        -------
        bool
            True when a node was started, False when this home's node was
            already running.

        Raises
        ------
        OpenSearchPortInUseError
            When another process is bound to the port.
        OpenSearchStartError
            When the distribution is not installed, no Java 17+ is found, or
            the node exits or stays unhealthy while starting.
        """
        running = self._running_pid()
        if running is not None:
            logger.info(
                "OpenSearch is already running at %s (pid %d)", self._recorded_url(), running
            )
            return False

        self._check_port_free()
        if not self.is_installed():
            raise OpenSearchStartError(
                f"OpenSearch {self.version} is not installed in {self.distribution_dir}; "
                "run `okeanos local opensearch install` first"
            )
        java_home = _node_process.find_java_home(self.java_home)
        account = _node_process.node_account()
        self._prepare_home(account)
        for path in (self.distribution_dir, java_home):
            _node_process.check_traversable(path, account)

        self._launch(java_home, account)
        self._wait_until_healthy(wait_seconds)
        logger.info(
            "OpenSearch %s started at %s (pid %d)", self.version, self.url, self._process.pid
        )
        return True

    def stop(self, wait_seconds: float = DEFAULT_STOP_WAIT_SECONDS) -> bool:
        """Stop the node with SIGTERM, then SIGKILL after ``wait_seconds``.

        Returns
        -------
        bool
            True when a running node was stopped, False when none was running.

        Raises
        ------
        OpenSearchStopError
            When the process is still alive 10 s after SIGKILL.
        """
        pid = self._running_pid()
        if pid is None:
            self._forget_node()
            return False

        _node_process.signal_process(pid, signal.SIGTERM)
        if not self._wait_for_exit(pid, wait_seconds):
            logger.warning(
                "OpenSearch (pid %d) did not stop within %g s; sending SIGKILL", pid, wait_seconds
            )
            _node_process.signal_process(pid, signal.SIGKILL)
            if not self._wait_for_exit(pid, 10.0):
                raise OpenSearchStopError(
                    f"OpenSearch (pid {pid}) is still running after SIGKILL; "
                    f"check the process and remove {self.pid_file} once it is gone"
                )
        self._forget_node()
        logger.info("OpenSearch (pid %d) in %s stopped", pid, self.home)
        return True

    def status(self) -> NodeStatus:
        """Return whether the node runs, its pid, URL, version and cluster health."""
        pid = self._running_pid()
        if pid is None:
            return NodeStatus(
                running=False, pid=None, url=self.url, version=self.version, health=None
            )

        url = self._recorded_url()
        root = _get_json(f"{url}/")
        health = _get_json(f"{url}/_cluster/health")
        if root:
            version = root["version"]["number"]
        else:
            version = self._recorded_state().get("version", self.version)
        return NodeStatus(
            running=True,
            pid=pid,
            url=url,
            version=version,
            health=health["status"] if health else None,
        )

    # Start steps.

    def _check_port_free(self) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            # SO_REUSEADDR, as OpenSearch sets it, so that connections left in
            # TIME_WAIT by a node that just stopped do not count as a holder.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((HOST, self.port))
            except OSError as exc:
                raise OpenSearchPortInUseError(
                    f"port {self.port} on {HOST} is already in use by another process, not by "
                    f"the okeanos OpenSearch node in {self.home}; stop that process or choose "
                    "another port with --port or OKEANOS_OPENSEARCH_PORT",
                    self.port,
                ) from exc

    def _prepare_home(self, account: Optional[_node_process.Account]) -> None:
        home = self.home
        if home.exists() and any(home.iterdir()) and not (home / _HOME_MARKER).exists():
            # Root chowns the node directories below home, so a directory
            # with other contents is never adopted.
            raise ConfigurationError(
                f"OpenSearch home {home} is not empty and was not created by okeanos; "
                "choose a new or empty directory with --home"
            )
        home.mkdir(parents=True, exist_ok=True)
        (home / _HOME_MARKER).touch()
        _node_process.make_traversable(home)
        _node_process.check_traversable(home, account)

        config = home / "config"
        for name in ("data", "logs", "tmp", "config"):
            (home / name).mkdir(exist_ok=True)
        self._write_config(config)
        if account is not None:
            for name in ("data", "logs", "tmp", "config"):
                _node_process.chown_tree(home / name, account)

    def _write_config(self, config: Path) -> None:
        source = self.distribution_dir / "config"
        shutil.copytree(source, config, dirs_exist_ok=True)
        # The launcher changes into the distribution directory, so the
        # relative gc log, heap dump and error file paths of the stock
        # jvm.options would point into the shared, read-only distribution.
        text = (source / "jvm.options").read_text()
        text = text.replace("file=logs/gc.log", f"file={self.home / 'logs' / 'gc.log'}")
        text = text.replace("-XX:HeapDumpPath=data", f"-XX:HeapDumpPath={self.home / 'data'}")
        text = text.replace("-XX:ErrorFile=logs/", f"-XX:ErrorFile={self.home / 'logs'}/")
        text = re.sub(r"filecount=\d+,filesize=\d+m", "filecount=2,filesize=16m", text)
        (config / "jvm.options").write_text(text)

    def _command(self) -> List[str]:
        node_settings = {
            "cluster.name": "okeanos-local",
            "node.name": "okeanos-local",
            "network.host": HOST,
            "http.port": str(self.port),
            "discovery.type": "single-node",
            "path.data": str(self.home / "data"),
            "path.logs": str(self.home / "logs"),
            # A nearly full disk would otherwise make indices read-only in the
            # middle of a test run.
            "cluster.routing.allocation.disk.threshold_enabled": "false",
        }
        command = [str(self.distribution_dir / "bin" / "opensearch")]
        for key, value in node_settings.items():
            command += ["-E", f"{key}={value}"]
        return command

    def _environment(self, java_home: Path) -> Dict[str, str]:
        env = dict(os.environ)
        env.pop("JAVA_TOOL_OPTIONS", None)
        java_options = f"{env.get('OPENSEARCH_JAVA_OPTS', '')} -Xms{self.heap} -Xmx{self.heap}"
        env.update(
            OPENSEARCH_JAVA_HOME=str(java_home),
            OPENSEARCH_PATH_CONF=str(self.home / "config"),
            OPENSEARCH_TMPDIR=str(self.home / "tmp"),
            OPENSEARCH_JAVA_OPTS=java_options.strip(),
            HOME=str(self.home),
        )
        return env

    def _launch(self, java_home: Path, account: Optional[_node_process.Account]) -> None:
        command = self._command()
        logger.debug("starting OpenSearch: %s", " ".join(command))
        with open(self.log_file, "wb") as log:
            self._process = _node_process.spawn(
                command, env=self._environment(java_home), cwd=self.home, log=log, account=account
            )
        self.pid_file.write_text(f"{self._process.pid}\n")
        state = {"pid": self._process.pid, "port": self.port, "version": self.version}
        self._state_file.write_text(json.dumps(state) + "\n")

    def _wait_until_healthy(self, wait_seconds: float) -> None:
        assert self._process is not None
        deadline = time.monotonic() + wait_seconds
        while True:
            code = self._process.poll()
            if code is not None:
                self._forget_node()
                raise OpenSearchStartError(
                    f"OpenSearch exited with code {code} while starting; last lines of "
                    f"{self.log_file}:\n{_tail(self.log_file)}"
                )
            health = _get_json(f"{self.url}/_cluster/health")
            if health and health.get("status") in ("yellow", "green"):
                return
            if time.monotonic() >= deadline:
                self.stop()
                raise OpenSearchStartError(
                    f"OpenSearch at {self.url} did not reach yellow or green health within "
                    f"{wait_seconds:g} s; last lines of {self.log_file}:\n{_tail(self.log_file)}"
                )
            time.sleep(0.5)

    # Process bookkeeping.

    def _running_pid(self) -> Optional[int]:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        if self._process is not None and self._process.pid == pid:
            return pid if self._process.poll() is None else None
        # The pid may have been reused since the file was written: only a
        # process started with this home's data path counts.
        if _node_process.is_alive(pid) and _node_process.cmdline_contains(
            pid, f"path.data={self.home / 'data'}"
        ):
            return pid
        return None

    def _wait_for_exit(self, pid: int, wait_seconds: float) -> bool:
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            if self._process is not None and self._process.pid == pid:
                if self._process.poll() is not None:
                    return True
            elif not _node_process.is_alive(pid):
                return True
            time.sleep(0.2)
        return False

    def _forget_node(self) -> None:
        for path in (self.pid_file, self._state_file):
            try:
                path.unlink()
            except FileNotFoundError:
                pass

    def _recorded_state(self) -> dict:
        try:
            return json.loads(self._state_file.read_text())
        except (OSError, ValueError):
            return {}

    def _recorded_url(self) -> str:
        port = self._recorded_state().get("port", self.port)
        return f"http://{HOST}:{port}"


def _check_port(port: int) -> int:
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise ConfigurationError(
            f"invalid OpenSearch port {port!r}; use an integer from 1 to 65535"
        )
    return port


def _check_heap(heap: str) -> str:
    if not _HEAP_PATTERN.match(heap):
        raise ConfigurationError(
            f"invalid heap size {heap!r}; use a number with k, m or g, such as 512m"
        )
    return heap


def _get_json(url: str) -> Optional[dict]:
    # An opener without proxies: http_proxy must not capture requests to 127.0.0.1.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2) as response:
            return json.loads(response.read().decode("utf-8"))
    except (OSError, ValueError):
        return None


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(cannot read {path}: {exc})"
    return "\n".join(text.splitlines()[-lines:])
