"""The ``okeanos`` command-line interface.

Each command group lives in its own module with a ``register(subparsers)``
function that adds its commands; a command's handler is stored as the
``handler`` default of its parser and returns the process exit code. Exit
codes are decided here, in one place:

- 0: success;
- 1: the operation ran and failed (a run with failed documents, say);
- 2: invalid usage or input, reported before anything ran;
- 130: interrupted with Ctrl-C;
- 141: stdout was closed early (``okeanos views show --json | head``), as a
  shell reports a process ended by SIGPIPE (128 + 13). Nothing is printed.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from typing import List, Optional, Sequence

from okeanos.exceptions import ConfigurationError, OkeanosError, TaskMessageError, WindowError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141

# Options whose value may start with '-' (``--chunk -1d``), which argparse
# would otherwise take for an option and report as a missing value. The value
# is then rejected by the option's own check, with a message about it.
_DASH_VALUE_OPTIONS = ("--chunk",)

# Loggers of the OpenSearch client, which log a traceback per retried
# connection; the command reports the failure itself.
_QUIET_LOGGERS = ("opensearch", "urllib3")

# Modules that add top-level commands, and modules that add "okeanos local ..." commands.
_COMMAND_MODULES = (
    "okeanos.cli.jobs",
    "okeanos.cli.views",
    "okeanos.cli.tasks",
    "okeanos.cli.generate",
)
_LOCAL_COMMAND_MODULES = (
    "okeanos.cli.local_run",
    "okeanos.cli.local_opensearch",
    "okeanos.cli.local_loop",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every command group that is installed."""
    parser = argparse.ArgumentParser(
        prog="okeanos",
        description="Continuous log aggregation from S3 (or local files) into OpenSearch views.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages to stderr")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    local = commands.add_parser("local", help="run okeanos on this machine: Spark local, local OpenSearch")
    local_commands = local.add_subparsers(dest="local_command", metavar="COMMAND")
    local_commands.required = True

    for name in _COMMAND_MODULES:
        _register(name, commands)
    for name in _LOCAL_COMMAND_MODULES:
        _register(name, local_commands)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Run the CLI and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(_join_dash_values(sys.argv[1:] if argv is None else argv))
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        for name in _QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.ERROR)
    try:
        code = int(args.handler(args) or EXIT_OK)
        # Flush here so that a closed stdout is caught below, not at exit.
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # The reader went away: point stdout at devnull so that the flush at
        # interpreter exit does not raise a second time.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (TaskMessageError, WindowError, ConfigurationError) as exc:
        print(f"okeanos: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OkeanosError as exc:
        print(f"okeanos: failed: {exc}", file=sys.stderr)
        return EXIT_FAILED


def _join_dash_values(argv: Sequence[str]) -> List[str]:
    """Join ``--chunk -1d`` into ``--chunk=-1d`` so that argparse takes ``-1d`` as the value."""
    joined: List[str] = []
    index = 0
    while index < len(argv):
        current = argv[index]
        following = argv[index + 1] if index + 1 < len(argv) else None
        if current in _DASH_VALUE_OPTIONS and following is not None and following.startswith("-") and following != "--":
            joined.append(f"{current}={following}")
            index += 2
            continue
        joined.append(current)
        index += 1
    return joined


def _register(module_name: str, subparsers) -> None:
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # A command module that is not written yet is skipped; any other
        # missing import inside an existing module is a real error.
        if exc.name == module_name:
            return
        raise
    module.register(subparsers)


if __name__ == "__main__":
    sys.exit(main())
