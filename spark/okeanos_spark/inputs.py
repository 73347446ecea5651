"""Input discovery: the files a run reads, from one file or a directory tree.

:func:`list_files` takes a local path (a file or a directory, searched
recursively) or an ``s3://bucket/prefix`` URI and returns the files to read,
sorted, so a rerun reads the same files in the same order.

Left out of a listing, as Hadoop and Spark leave them out:

- hidden files and directories, whose names start with ``.`` or ``_``
  (``_SUCCESS``, ``_temporary/``, ``.part.crc``);
- folder markers: S3 keys ending in ``/``, and files or keys ending in
  ``_$folder$`` (which Hadoop's S3 file systems write, and copies keep);
- files compressed with a codec okeanos does not read (``.zip``, ``.bz2``,
  ``.xz``, ``.zst``, ...), with a warning. Plain files and gzip (``.gz``)
  are read; Spark decompresses gzip by the file extension;
- symbolic links to a missing file, with a warning;
- a second path to the same file (a symbolic link to a file the listing
  already contains), so no file is read twice. The first path in sorted
  order is kept.

A file named explicitly is always returned, whatever its name.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, List, Optional, Tuple

from okeanos.exceptions import OkeanosError

logger = logging.getLogger(__name__)

# Suffixes of archives and codecs that would be read as garbage lines.
UNSUPPORTED_SUFFIXES: Tuple[str, ...] = (
    ".zip",
    ".bz2",
    ".xz",
    ".zst",
    ".lz4",
    ".snappy",
    ".7z",
    ".tar",
    ".tgz",
)
_FOLDER_MARKER = "_$folder$"


class InputListingError(OkeanosError):
    """Listing an S3 input failed for a reason other than a missing prefix (access denied, say)."""


class InputNotFoundError(OkeanosError, FileNotFoundError):
    """The input of a run does not exist: no such file, directory or S3 prefix."""

    def __init__(self, location: str, detail: str) -> None:
        super().__init__(f"input {location!r} {detail}")
        self.location = location


def list_files(location: str, *, s3_client: Optional[Any] = None) -> List[str]:
    """List the files to read at ``location``, sorted.

    Parameters
    ----------
    location
        A local file or directory (absolute or relative, ``file://`` allowed),
        or an ``s3://bucket/prefix`` URI. A directory or prefix is searched
        recursively.
    s3_client
        boto3 S3 client for ``s3://`` locations; a new client from the
        default session when omitted.

    Returns
    -------
    list of str
        Absolute local paths, or ``s3://bucket/key`` URIs. An existing
        directory without readable files gives an empty list.

    Raises
    ------
    InputNotFoundError
        If the local path or the S3 bucket does not exist, or no S3 object
        has the prefix (S3 cannot tell a missing prefix from an empty one).
    InputListingError
        If S3 rejects the listing for another reason, such as access denied.
    """
    if location.startswith("s3://"):
        return _list_s3(location, s3_client)
    if location.startswith("file://"):
        location = location[len("file://") :]
    return _list_local(location)


def is_hidden(name: str) -> bool:
    """Return whether a file or directory name is hidden from listings (``.`` or ``_`` first)."""
    return name.startswith(".") or name.startswith("_")


def is_readable(name: str) -> bool:
    """Return whether a file name has no suffix of an unsupported archive or codec."""
    return not name.lower().endswith(UNSUPPORTED_SUFFIXES)


def _list_local(location: str) -> List[str]:
    path = Path(location).expanduser()
    if path.is_file():
        return [str(path.resolve())]
    if not path.is_dir():
        raise InputNotFoundError(
            location, "does not exist; give an existing log file or a directory of log files"
        )

    found: List[str] = []
    for directory, subdirectories, names in os.walk(path.resolve()):
        subdirectories[:] = [name for name in subdirectories if not is_hidden(name)]
        for name in names:
            if is_hidden(name) or name.endswith(_FOLDER_MARKER):
                continue
            if not is_readable(name):
                logger.warning("skipping %s: compressed with an unsupported codec", name)
                continue
            file_path = os.path.join(directory, name)
            if os.path.isfile(file_path):
                found.append(file_path)
            elif os.path.islink(file_path) and not os.path.exists(file_path):
                logger.warning("skipping %s: a symbolic link to a missing file", file_path)
    found.sort()

    unique: List[str] = []
    seen = set()
    for file_path in found:
        real_path = os.path.realpath(file_path)
        if real_path in seen:
            logger.info("skipping %s: the same file as a path listed before it (%s)", file_path, real_path)
            continue
        seen.add(real_path)
        unique.append(file_path)
    logger.debug("found %d file(s) under %s", len(unique), path)
    return unique


def _list_s3(location: str, s3_client: Optional[Any]) -> List[str]:
    bucket, _, prefix = location[len("s3://") :].partition("/")
    if not bucket:
        raise InputNotFoundError(location, "names no bucket; write it as s3://bucket/prefix")
    if s3_client is None:
        import boto3

        s3_client = boto3.client("s3")

    # A prefix is a directory: s3://b/logs/apache must not pick up
    # logs/apache-old/..., unless logs/apache is itself an object (a file).
    directory = prefix if prefix == "" or prefix.endswith("/") else prefix + "/"
    from botocore.exceptions import BotoCoreError, ClientError

    keys: List[str] = []
    seen = False
    paginator = s3_client.get_paginator("list_objects_v2")
    try:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                key = item["Key"]
                seen = seen or key.startswith(directory)
                if key == prefix and not key.endswith("/"):
                    return [f"s3://{bucket}/{key}"]
                if key.startswith(directory) and _is_listed_s3_key(key[len(directory) :]):
                    keys.append(key)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "NoSuchBucket":
            raise InputNotFoundError(location, f"names bucket {bucket!r}, which does not exist") from exc
        raise InputListingError(f"listing {location} failed ({code}): {exc}") from exc
    except BotoCoreError as exc:
        raise InputListingError(f"listing {location} failed: {exc}") from exc
    if not seen:
        raise InputNotFoundError(location, "contains no object; check the bucket and prefix")
    return sorted(f"s3://{bucket}/{key}" for key in keys)


def _is_listed_s3_key(relative: str) -> bool:
    if relative == "" or relative.endswith("/") or relative.endswith(_FOLDER_MARKER):
        return False
    if any(is_hidden(part) for part in relative.split("/")):
        return False
    if not is_readable(relative):
        logger.warning("skipping S3 object %s: compressed with an unsupported codec", relative)
        return False
    return True
