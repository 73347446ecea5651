"""Operating-system helpers of the local OpenSearch node: Java, its user, processes, files."""

from __future__ import annotations

import hashlib
import logging
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import zipfile
from pathlib import Path
from typing import BinaryIO, Dict, List, NamedTuple, Optional, Tuple

from okeanos.local.exceptions import (
    OpenSearchInstallError,
    OpenSearchJavaError,
    OpenSearchStartError,
    OpenSearchStopError,
)

logger = logging.getLogger(__name__)

MINIMUM_JAVA_VERSION = 17
NODE_USER = "okeanos"
_JAVA_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')


class Account(NamedTuple):
    """Unprivileged user that runs the node when okeanos runs as root."""

    name: str
    uid: int
    gid: int


def find_java_home(explicit: Optional[Path] = None) -> Path:
    """Return a Java home of version 17 or newer.

    Tries, in order: ``explicit``, ``OPENSEARCH_JAVA_HOME``, ``JAVA_HOME``, and
    the JDK that ``java`` on PATH resolves to.

    Raises
    ------
    OpenSearchJavaError
        When none of them is Java 17 or newer; the message lists what was found.
    """
    candidates: List[Tuple[str, Path]] = []
    if explicit is not None:
        candidates.append(("java_home", Path(explicit)))
    for variable in ("OPENSEARCH_JAVA_HOME", "JAVA_HOME"):
        if os.environ.get(variable):
            candidates.append((variable, Path(os.environ[variable])))
    on_path = shutil.which("java")
    if on_path:
        candidates.append(("java on PATH", Path(os.path.realpath(on_path)).parent.parent))

    findings = []
    for origin, home in candidates:
        version = java_major_version(home / "bin" / "java")
        if version is not None and version >= MINIMUM_JAVA_VERSION:
            return home
        found = f"Java {version}" if version is not None else "no usable java"
        findings.append(f"{origin} ({home}) has {found}")

    detail = "; ".join(findings) if findings else "JAVA_HOME is unset and no java is on PATH"
    raise OpenSearchJavaError(
        f"OpenSearch needs Java {MINIMUM_JAVA_VERSION} or newer, but {detail}; install a JDK "
        f"(apt-get install openjdk-{MINIMUM_JAVA_VERSION}-jdk-headless) and set JAVA_HOME to it"
    )


def java_major_version(java: Path) -> Optional[int]:
    """Return the major version that ``java -version`` reports, or None if it cannot run."""
    try:
        result = subprocess.run(
            [str(java), "-version"],
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _JAVA_VERSION.search(result.stderr + result.stdout)
    if result.returncode != 0 or match is None:
        return None
    major = int(match.group(1))
    # Java 8 and older report "1.8.0_392".
    if major == 1 and match.group(2):
        return int(match.group(2))
    return major


def node_account() -> Optional[Account]:
    """Return the user that runs the node: None unless root runs okeanos.

    As root, returns the system user ``okeanos``, created with ``useradd``
    when missing, because OpenSearch does not run as root. Falls back to
    ``nobody`` (with a warning) where ``useradd`` does not exist.
    """
    if os.geteuid() != 0:
        return None
    existing = _lookup(NODE_USER)
    if existing is not None:
        return existing

    useradd = shutil.which("useradd")
    if useradd is None:
        logger.warning(
            "useradd not found; the OpenSearch node runs as 'nobody' instead of '%s'", NODE_USER
        )
        fallback = _lookup("nobody")
        if fallback is None:
            raise OpenSearchStartError(
                f"OpenSearch cannot run as root, and neither useradd nor the user 'nobody' exists; "
                f"create a system user named '{NODE_USER}'"
            )
        return fallback

    command = [
        useradd,
        "--system",
        "--no-create-home",
        "--home-dir",
        "/nonexistent",
        "--shell",
        "/usr/sbin/nologin",
        NODE_USER,
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )
    created = _lookup(NODE_USER)
    # A concurrent start may have created the user first, which useradd reports as a failure.
    if created is None:
        raise OpenSearchStartError(
            f"creating the system user '{NODE_USER}' that runs OpenSearch failed "
            f"(useradd exit code {result.returncode}): {result.stderr.strip()}"
        )
    if result.returncode == 0:
        logger.info(
            "created system user '%s' to run OpenSearch, which does not run as root", NODE_USER
        )
    return created


def _lookup(name: str) -> Optional[Account]:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    return Account(entry.pw_name, entry.pw_uid, entry.pw_gid)


def check_traversable(path: Path, account: Optional[Account]) -> None:
    """Raise OpenSearchStartError when ``account`` cannot traverse every directory down to ``path``.

    Does nothing when ``account`` is None: the node then runs as the current user.
    """
    if account is None:
        return
    for directory in [path, *path.parents]:
        try:
            info = directory.stat()
        except OSError:
            continue
        if info.st_uid == account.uid:
            allowed = info.st_mode & stat.S_IXUSR
        elif info.st_gid == account.gid:
            allowed = info.st_mode & stat.S_IXGRP
        else:
            allowed = info.st_mode & stat.S_IXOTH
        if not allowed:
            raise OpenSearchStartError(
                f"the OpenSearch node runs as user '{account.name}', which cannot enter "
                f"{directory} (on the way to {path}); set OKEANOS_HOME (or --home) to a "
                "directory outside it, such as /var/cache/okeanos"
            )


def chown_tree(root: Path, account: Account) -> None:
    """Give ``root`` and everything below it to ``account``, without following symbolic links."""
    os.lchown(root, account.uid, account.gid)
    for directory, subdirectories, files in os.walk(root):
        for name in subdirectories + files:
            os.lchown(os.path.join(directory, name), account.uid, account.gid)


def spawn(
    command: List[str],
    *,
    env: Dict[str, str],
    cwd: Path,
    log: BinaryIO,
    account: Optional[Account],
) -> subprocess.Popen:
    """Start ``command`` in a new session, as ``account`` when given, with output to ``log``.

    The new session keeps the node running after the command line that
    started it exits, and away from that terminal's Ctrl-C.
    """
    options = {}
    if account is not None:
        options = {"user": account.uid, "group": account.gid, "extra_groups": []}
    try:
        return subprocess.Popen(
            command,
            env=env,
            cwd=str(cwd),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            **options,
        )
    except OSError as exc:
        raise OpenSearchStartError(f"starting {command[0]} failed: {exc}") from exc


def signal_process(pid: int, signum: signal.Signals) -> None:
    """Send ``signum`` to the process group that ``pid`` leads, or to ``pid`` alone."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)
    except ProcessLookupError:
        pass
    except PermissionError as exc:
        raise OpenSearchStopError(
            f"not permitted to send {signum.name} to OpenSearch (pid {pid}); "
            "run the command as the user that started the node"
        ) from exc


def is_alive(pid: int) -> bool:
    """Return whether ``pid`` is a live process; a zombie that awaits its parent counts as dead."""
    try:
        with open(f"/proc/{pid}/stat") as stat_file:
            # The state follows the command name, which is in parentheses and may contain spaces.
            state = stat_file.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except FileNotFoundError:
        return False
    except OSError:
        pass
    # Without /proc (macOS), signal 0 checks that the pid exists.
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cmdline_contains(pid: int, text: str) -> bool:
    """Return whether one of ``pid``'s arguments contains ``text``; True where /proc is missing."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            arguments = cmdline.read().split(b"\0")
    except FileNotFoundError:
        return not os.path.isdir("/proc")
    except OSError:
        return False
    needle = text.encode()
    return any(needle in argument for argument in arguments)


def sha1_of(path: Path) -> str:
    """Return the hex SHA-1 of a file."""
    digest = hashlib.sha1()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def extract_zip(archive: Path, destination: Path) -> Path:
    """Extract ``archive`` below ``destination`` and return its single top-level directory.

    Keeps the executable bits stored in the archive and makes every file
    readable and every directory traversable by all users, so that the node's
    user can run a distribution that root extracted.
    """
    with zipfile.ZipFile(archive) as zipped:
        names = {name.split("/", 1)[0] for name in zipped.namelist()}
        if len(names) != 1:
            raise OpenSearchInstallError(
                f"{archive} has {len(names)} top-level entries ({', '.join(sorted(names)[:5])}); "
                "expected one directory"
            )
        for entry in zipped.infolist():
            extracted = Path(zipped.extract(entry, destination))
            if not entry.is_dir():
                stored_mode = (entry.external_attr >> 16) & 0o777
                extracted.chmod((stored_mode or 0o644) | 0o444)

    top = destination / names.pop()
    # Parent directories that the archive does not list get the umask's mode.
    top.chmod(0o755)
    for directory, subdirectories, _files in os.walk(top):
        for name in subdirectories:
            os.chmod(os.path.join(directory, name), 0o755)
    return top


def make_traversable(path: Path) -> None:
    """Add read and search permission for group and others to a directory, where allowed.

    ``mkdir`` applies the umask, which may hide the directory from the node's user.
    """
    mode = path.stat().st_mode & 0o777
    if mode & 0o055 == 0o055:
        return
    try:
        path.chmod(mode | 0o055)
    except PermissionError:
        pass  # Not ours to change: check_traversable reports it if the node needs it.
