"""The OpenSearch distribution of the local node: fetched with Maven, checked, extracted once."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import List

from okeanos.local import _node_process
from okeanos.local.exceptions import OpenSearchInstallError

logger = logging.getLogger(__name__)

GROUP_ID = "org.opensearch.distribution.integ-test-zip"
ARTIFACT_ID = "opensearch"
_INSTALLED_MARKER = ".okeanos-installed"
_STALE_PARTIAL_SECONDS = 3600
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def is_complete(target: Path) -> bool:
    """Return whether ``target`` is a distribution that ``extract`` finished."""
    return (target / _INSTALLED_MARKER).is_file()


def fetch_archive(version: str) -> Path:
    """Resolve the distribution zip with ``mvn`` and return its path in the local Maven repository.

    Raises
    ------
    OpenSearchInstallError
        When Maven is missing or fails, or the zip is not where Maven put it.
    """
    mvn = shutil.which("mvn")
    if mvn is None:
        raise OpenSearchInstallError(
            "Maven (mvn) is not on PATH; install Maven 3 (apt-get install maven) "
            "so that okeanos can fetch the OpenSearch distribution"
        )
    artifact = f"{GROUP_ID}:{ARTIFACT_ID}:{version}:zip"
    # NOTE: no fallback exists if Maven Central stops serving the
    # integ-test-zip. The intended one assembles a node from
    # org.opensearch:opensearch and the module artifacts.
    run_maven(
        [mvn, "-B", "-q", "dependency:get", f"-Dartifact={artifact}", "-Dtransitive=false"],
        f"resolve {artifact}",
    )
    output = run_maven(
        [
            mvn,
            "-B",
            "-q",
            "help:evaluate",
            "-Dexpression=settings.localRepository",
            "-DforceStdout",
        ],
        "find the local Maven repository",
    )
    lines = [line.strip() for line in _ANSI_ESCAPE.sub("", output).splitlines() if line.strip()]
    if not lines:
        raise OpenSearchInstallError("`mvn help:evaluate` printed no local repository path")
    archive = (
        Path(lines[-1])
        / Path(*GROUP_ID.split("."))
        / ARTIFACT_ID
        / version
        / f"{ARTIFACT_ID}-{version}.zip"
    )
    if not archive.is_file():
        raise OpenSearchInstallError(f"Maven resolved {artifact}, but {archive} does not exist")
    return archive


def run_maven(command: List[str], operation: str) -> str:
    """Run ``mvn`` and return its standard output; ``operation`` names the step in errors."""
    logger.debug("running %s", " ".join(command))
    try:
        result = subprocess.run(
            command, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
        )
    except OSError as exc:
        raise OpenSearchInstallError(f"running Maven to {operation} failed: {exc}") from exc
    if result.returncode != 0:
        output = _ANSI_ESCAPE.sub("", result.stdout + result.stderr).strip().splitlines()
        raise OpenSearchInstallError(
            f"Maven could not {operation} (exit code {result.returncode}); check that the "
            "configured Maven repositories serve it and that mvn can reach them. Maven's output:\n"
            + "\n".join(output[-15:])
        )
    return result.stdout


def verify_sha1(archive: Path) -> str:
    """Compare the archive's SHA-1 with the ``.sha1`` file beside it and return the digest."""
    checksum_file = archive.with_name(archive.name + ".sha1")
    try:
        expected = checksum_file.read_text().split()[0].lower()
    except (OSError, IndexError) as exc:
        raise OpenSearchInstallError(
            f"checksum file {checksum_file} is missing or empty; delete {archive.parent} "
            "and run the install again so that Maven fetches both files"
        ) from exc
    actual = _node_process.sha1_of(archive)
    if actual != expected:
        raise OpenSearchInstallError(
            f"SHA-1 of {archive} is {actual}, but {checksum_file.name} contains {expected}; "
            f"delete {archive.parent} and run the install again"
        )
    return actual


def extract(archive: Path, digest: str, target: Path) -> None:
    """Extract ``archive`` into a temporary directory beside ``target``, then rename it into place.

    An interrupted extraction leaves only a ``.partial`` directory, which a
    later install removes once it is an hour old.
    """
    cache_dir = target.parent
    cache_dir.mkdir(parents=True, exist_ok=True)
    _node_process.make_traversable(cache_dir)
    _remove_stale_partials(cache_dir, target.name)

    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=cache_dir))
    try:
        root = _node_process.extract_zip(archive, staging)
        if root.name != target.name:
            raise OpenSearchInstallError(
                f"{archive} contains {root.name}/, expected {target.name}/"
            )
        (root / _INSTALLED_MARKER).write_text(f"{digest}  {archive.name}\n")
        try:
            os.rename(root, target)
        except OSError:
            # Another install finished first: keep its copy when it is complete.
            if not is_complete(target):
                raise
    except OSError as exc:
        raise OpenSearchInstallError(
            f"extracting {archive} into {cache_dir} failed: {exc}"
        ) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _remove_stale_partials(cache_dir: Path, name: str) -> None:
    # A recent .partial directory may belong to an install that is still running.
    for partial in cache_dir.glob(f".{name}.*.partial"):
        try:
            age = time.time() - partial.stat().st_mtime
        except OSError:
            continue
        if age > _STALE_PARTIAL_SECONDS:
            shutil.rmtree(partial, ignore_errors=True)
