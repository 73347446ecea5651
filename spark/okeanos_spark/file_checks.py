"""Checks on the input files of a run, before Spark reads them.

:func:`check_files` sorts the listed files into:

1. marker and test objects, ignored: ``_SUCCESS``, S3 console folder markers
   (``*_$folder$``) and ``ELBAccessLogTestFile``, which Elastic Load
   Balancing writes when access logging is turned on;
2. zero-byte files, skipped with a warning (a zero-byte ``.gz`` file is not
   valid gzip, but it contains no lines either);
3. corrupt or truncated gzip files, found by decompressing each ``.gz``
   file in full, in a streaming loop on the driver, and files whose name
   contains ``:``. Hadoop cannot read those, because its paths are URIs:
   the name of a local file's checksum file, ``.name.crc``, parses as a
   relative path with a scheme and fails. With ``on_corrupt="fail"``
   (the default) the run fails with :class:`CorruptInputError` naming every
   one; with ``"skip"`` they are left out and the result marks the input
   incomplete. Either way no corrupt file is counted in part: Spark's gzip
   reader may return the lines before the damage and then fail, or return
   them and stop silently when ``spark.sql.files.ignoreCorruptFiles`` is on;
4. the files to read.

A file that cannot be read at all is not corrupt: permission errors raise
:class:`InputAccessError` and other read errors (network, throttling, a
file deleted since the listing) raise :class:`InputReadError`, so that a
rerun can succeed, while a corrupt file stays corrupt.

Cost of the gzip check: every ``.gz`` file is read and decompressed once
more than Spark does. Measured on a shared 2-core development machine, the
loop in :func:`check_gzip_stream` took 0.75 s for 103 MB of access-log
lines (the Apache sample repeated 100 times, 9.3 MB as gzip), about 140 MB
of output per second, while ``spark.read.text(...).count()`` of the same
file took 2.9 s (``local[2]``, warm JVM). So the check adds about a quarter
of a plain Spark read; zlib releases the GIL, so the driver's threads check
several files at once. On S3 it also costs one more GET of each object.
"""

from __future__ import annotations

import gzip
import logging
import os
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO, Any, Dict, List, Optional, Sequence, Tuple

from okeanos.exceptions import ConfigurationError, OkeanosError
from okeanos_spark.accounting import ON_CORRUPT_ENV

logger = logging.getLogger(__name__)

ON_CORRUPT_FAIL = "fail"
ON_CORRUPT_SKIP = "skip"
ON_CORRUPT_CHOICES = (ON_CORRUPT_FAIL, ON_CORRUPT_SKIP)

MARKER_NAMES = ("_SUCCESS", "ELBAccessLogTestFile")
MARKER_SUFFIXES = ("_$folder$",)

COLON_PROBLEM = "the file name contains ':', which Hadoop cannot read; rename the file"

_CHUNK_BYTES = 1 << 20
_DEFAULT_WORKERS = 4
# S3 error codes that mean "not allowed", as opposed to "failed this time".
_ACCESS_DENIED_CODES = ("AccessDenied", "403", "AllAccessDisabled", "InvalidAccessKeyId")


class InputFileError(OkeanosError):
    """Base class of the errors about an input file of a run."""


class CorruptInputError(InputFileError):
    """Gzip files of the input are corrupt or truncated, or have names Hadoop cannot read.

    ``problems`` maps each file to its problem.
    """

    def __init__(self, problems: Dict[str, str]) -> None:
        listed = "; ".join(f"{name}: {problem}" for name, problem in sorted(problems.items()))
        super().__init__(
            f"{len(problems)} input file(s) are corrupt or unreadable: {listed}. "
            "Replace, rename or remove them, "
            f"or set {ON_CORRUPT_ENV}={ON_CORRUPT_SKIP} (on_corrupt={ON_CORRUPT_SKIP!r} from Python) "
            "to leave them out and mark the run incomplete"
        )
        self.problems = dict(problems)


class InputAccessError(InputFileError):
    """An input file exists but this process may not read it."""


class InputReadError(InputFileError):
    """Reading an input file failed for a reason that may pass.

    Network errors, throttling and a file deleted since the listing are examples.
    """


@dataclass
class FileCheckResult:
    """The listed files of a run, sorted by what :func:`check_files` found.

    Attributes
    ----------
    readable
        Files to read, in the listed order.
    markers
        Marker and test objects, ignored.
    empty
        Zero-byte files, skipped.
    corrupt
        Corrupt or truncated gzip files and files with a ``:`` in their
        name, left out (``on_corrupt="skip"``), each with its problem.
    """

    readable: List[str] = field(default_factory=list)
    markers: List[str] = field(default_factory=list)
    empty: List[str] = field(default_factory=list)
    corrupt: Dict[str, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """Whether every file with data is read, so no corrupt file was left out."""
        return not self.corrupt

    def to_dict(self) -> Dict[str, Any]:
        """Return the counts and names for the run summary."""
        return {
            "files_read": len(self.readable),
            "files_ignored": len(self.markers),
            "files_empty": len(self.empty),
            "files_corrupt": len(self.corrupt),
            "empty_files": list(self.empty),
            "corrupt_files": [
                {"file": name, "problem": problem} for name, problem in sorted(self.corrupt.items())
            ],
            "complete": self.complete,
        }


def is_marker(uri: str) -> bool:
    """Return whether ``uri`` names a marker or test object rather than a log file."""
    name = _file_name(uri)
    return name in MARKER_NAMES or name.endswith(MARKER_SUFFIXES)


def _file_name(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1]


def check_files(
    files: Sequence[str],
    *,
    on_corrupt: str = ON_CORRUPT_FAIL,
    s3_client: Optional[Any] = None,
    workers: Optional[int] = None,
) -> FileCheckResult:
    """Sort ``files`` into markers, empty, corrupt and readable files.

    Parameters
    ----------
    files
        Local paths or ``s3://`` URIs, as :func:`okeanos_spark.inputs.list_files`
        returns them.
    on_corrupt
        ``"fail"`` raises :class:`CorruptInputError` when any gzip file is
        corrupt or any file name contains ``:``. ``"skip"`` leaves such
        files out of ``readable``.
    s3_client
        boto3 S3 client for ``s3://`` files; a new client from the default
        session if not given.
    workers
        Files checked at once; 4 if not given.

    Raises
    ------
    ConfigurationError
        If ``on_corrupt`` is neither ``"fail"`` nor ``"skip"``.
    CorruptInputError
        If a gzip file is corrupt or truncated, or a file name contains
        ``:``, and ``on_corrupt`` is ``"fail"``.
    InputAccessError, InputReadError
        If a file cannot be read (see the module docstring).
    """
    if on_corrupt not in ON_CORRUPT_CHOICES:
        raise ConfigurationError(
            f"on_corrupt: {on_corrupt!r} is invalid; use one of {', '.join(ON_CORRUPT_CHOICES)}"
        )
    if s3_client is None and any(name.startswith("s3://") for name in files):
        import boto3

        s3_client = boto3.client("s3")

    result = FileCheckResult()
    candidates = []
    for name in files:
        if is_marker(name):
            logger.info("ignoring %s: a marker or test object, not a log file", name)
            result.markers.append(name)
        elif ":" in _file_name(name):
            logger.error("unreadable input file %s: %s", name, COLON_PROBLEM)
            result.corrupt[name] = COLON_PROBLEM
        else:
            candidates.append(name)

    with ThreadPoolExecutor(max_workers=workers or _DEFAULT_WORKERS) as pool:
        outcomes = list(pool.map(lambda name: _check_one(name, s3_client), candidates))

    for name, outcome in zip(candidates, outcomes):
        if outcome == _EMPTY:
            logger.warning("skipping %s: the file is empty (0 bytes)", name)
            result.empty.append(name)
        elif outcome is not None:
            logger.error("corrupt input file %s: %s", name, outcome)
            result.corrupt[name] = outcome
        else:
            result.readable.append(name)

    if result.corrupt and on_corrupt == ON_CORRUPT_FAIL:
        raise CorruptInputError(result.corrupt)
    if result.corrupt:
        logger.warning(
            "leaving out %d corrupt file(s); the run is incomplete", len(result.corrupt)
        )
    return result


def check_gzip_stream(stream: IO[bytes]) -> Optional[str]:
    """Decompress a gzip stream in full and return its problem, or None when it is valid.

    Files of several gzip members (``cat a.gz b.gz``) are valid, as are zero
    bytes after the last member (some writers pad). At most one chunk of
    input and one of output (1 MiB each) are in memory at a time.
    """
    decompressor = zlib.decompressobj(wbits=31)
    pending = b""
    while True:
        if not pending:
            pending = stream.read(_CHUNK_BYTES)
            if not pending:
                break
        if decompressor.eof:
            if not pending.strip(b"\x00"):
                pending = b""
                continue
            decompressor = zlib.decompressobj(wbits=31)
        try:
            decompressor.decompress(pending, _CHUNK_BYTES)
        except zlib.error as exc:
            return f"invalid gzip data ({exc})"
        # Input left over is either past the end of a member (the next one
        # starts there) or input held back by the output limit.
        pending = decompressor.unused_data if decompressor.eof else decompressor.unconsumed_tail
    if decompressor.eof:
        return None
    return "truncated: the gzip data ends inside a member"


def open_input(uri: str, *, s3_client: Optional[Any] = None, decompress: bool = True) -> IO[bytes]:
    """Open a local file or ``s3://`` object for reading bytes, gunzipping ``.gz`` files.

    Raises
    ------
    InputAccessError, InputReadError
        If the file cannot be opened.
    """
    raw = _open_raw(uri, s3_client)
    if decompress and uri.lower().endswith(".gz"):
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


_EMPTY = "\0empty"


def _check_one(uri: str, s3_client: Optional[Any]) -> Optional[str]:
    if _size(uri, s3_client) == 0:
        return _EMPTY
    if not uri.lower().endswith(".gz"):
        return None
    try:
        with _open_raw(uri, s3_client) as stream:
            return check_gzip_stream(stream)
    except InputFileError:
        raise
    except Exception as exc:
        raise _classify(uri, exc) from exc


def _size(uri: str, s3_client: Optional[Any]) -> int:
    try:
        if uri.startswith("s3://"):
            bucket, key = _split_s3(uri)
            return int(s3_client.head_object(Bucket=bucket, Key=key)["ContentLength"])
        return os.stat(uri).st_size
    except Exception as exc:
        raise _classify(uri, exc) from exc


def _open_raw(uri: str, s3_client: Optional[Any]) -> IO[bytes]:
    try:
        if uri.startswith("s3://"):
            if s3_client is None:
                import boto3

                s3_client = boto3.client("s3")
            bucket, key = _split_s3(uri)
            return s3_client.get_object(Bucket=bucket, Key=key)["Body"]
        return open(uri, "rb")
    except Exception as exc:
        raise _classify(uri, exc) from exc


def _split_s3(uri: str) -> Tuple[str, str]:
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def _classify(uri: str, exc: Exception) -> Exception:
    """Return the error to raise for a failure to read ``uri``.

    Access denied gives :class:`InputAccessError`, and other OS and botocore
    errors give :class:`InputReadError`. Anything else is returned as it is.
    """
    code = ""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = str(response.get("Error", {}).get("Code", ""))
    if isinstance(exc, PermissionError) or code in _ACCESS_DENIED_CODES:
        return InputAccessError(
            f"cannot read input file {uri}: access denied ({code or exc}); grant read "
            "access (s3:GetObject on S3) to the identity that runs okeanos"
        )
    if isinstance(exc, OSError) or type(exc).__module__.startswith("botocore"):
        return InputReadError(f"reading input file {uri} failed: {exc}; rerun the task")
    return exc
