"""``okeanos local opensearch install|start|stop|status``: manage the local OpenSearch node."""

from __future__ import annotations

import argparse
from pathlib import Path

from okeanos import settings
from okeanos.cli import EXIT_FAILED, EXIT_OK
from okeanos.exceptions import ConfigurationError
from okeanos.local.opensearch import (
    DEFAULT_HEAP,
    DEFAULT_START_WAIT_SECONDS,
    DEFAULT_VERSION,
    LocalOpenSearch,
    opensearch_dir,
)


def register(subparsers) -> None:
    """Add the ``opensearch`` command group under ``okeanos local``."""
    group = subparsers.add_parser(
        "opensearch",
        help="install, start, stop or inspect the local OpenSearch node",
        description=(
            f"Manage a single-node OpenSearch {DEFAULT_VERSION} on 127.0.0.1 for local runs. "
            "Run as root, the node runs as the system user 'okeanos'."
        ),
    )
    commands = group.add_subparsers(dest="opensearch_command", metavar="COMMAND")
    commands.required = True

    install = commands.add_parser("install", help="fetch and extract the distribution (once)")
    _add_node_options(install)
    install.set_defaults(handler=_install)

    start = commands.add_parser("start", help="start the node and wait until it is healthy")
    _add_node_options(start)
    start.add_argument(
        "--wait-seconds",
        type=float,
        default=DEFAULT_START_WAIT_SECONDS,
        metavar="SECONDS",
        help=(
            "seconds to wait for green or yellow cluster health "
            f"(default: {DEFAULT_START_WAIT_SECONDS:g})"
        ),
    )
    start.set_defaults(handler=_start)

    stop = commands.add_parser("stop", help="stop the node (SIGTERM, then SIGKILL)")
    _add_node_options(stop)
    stop.set_defaults(handler=_stop)

    status = commands.add_parser(
        "status", help="print the node's state; exit code 1 when it is not running"
    )
    _add_node_options(status)
    status.set_defaults(handler=_status)


def _add_node_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port",
        type=int,
        metavar="PORT",
        help="HTTP port on 127.0.0.1 (default: $OKEANOS_OPENSEARCH_PORT, else 9200)",
    )
    parser.add_argument(
        "--heap",
        metavar="SIZE",
        default=DEFAULT_HEAP,
        help=f"JVM heap size (default: {DEFAULT_HEAP})",
    )
    parser.add_argument(
        "--home",
        metavar="DIR",
        help="directory of the node's config, data and logs (default: <base>/node, see the docs)",
    )


def _node(args: argparse.Namespace) -> LocalOpenSearch:
    port = args.port
    if port is None:
        try:
            port = settings.local_opensearch_port()
        except ValueError as exc:
            raise ConfigurationError(
                f"OKEANOS_OPENSEARCH_PORT: expected an integer port: {exc}"
            ) from exc
    return LocalOpenSearch(args.home, port=port, heap=args.heap)


def _install(args: argparse.Namespace) -> int:
    node = _node(args)
    already = node.is_installed()
    path = node.install()
    state = "is already installed" if already else "installed"
    print(f"OpenSearch {node.version} {state} in {path}")
    return EXIT_OK


def _start(args: argparse.Namespace) -> int:
    node = _node(args)
    node.install()
    started = node.start(wait_seconds=args.wait_seconds)
    url = node.status().url
    print(f"OpenSearch {node.version} {'started' if started else 'is already running'} at {url}")
    print(f"  logs: {node.home / 'logs'}")
    print(f"  stop it with: {_command('stop', args)}")
    if url != settings.opensearch_url():
        print(f"  point okeanos at it with: export OPENSEARCH_URL={url}")
    return EXIT_OK


def _stop(args: argparse.Namespace) -> int:
    node = _node(args)
    if node.stop():
        print(f"OpenSearch in {node.home} stopped")
    else:
        print(f"OpenSearch in {node.home} is not running")
    return EXIT_OK


def _status(args: argparse.Namespace) -> int:
    node = _node(args)
    status = node.status()
    if not status.running:
        print(f"OpenSearch in {node.home} is not running")
        print(f"  start it with: {_command('start', args)}")
        return EXIT_FAILED
    print(f"OpenSearch {status.version} is running at {status.url}")
    print(f"  pid: {status.pid}")
    print(f"  health: {status.health or 'no answer'}")
    print(f"  home: {node.home}")
    return EXIT_OK


def _command(name: str, args: argparse.Namespace) -> str:
    # Repeat --home so that the printed command reaches the same node.
    words = ["okeanos", "local", "opensearch", name]
    if args.home and Path(args.home).resolve() != opensearch_dir() / "node":
        words += ["--home", str(Path(args.home).resolve())]
    return " ".join(words)
