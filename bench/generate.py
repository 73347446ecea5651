"""Command-line entry of the web log generator.

``python -m bench.generate web --format combined --lines 1000000 --out DIR``
writes the files and ``DIR.summary.json``; ``python -m bench.generate web
--help`` lists the options (see :mod:`okeanos.cli.generate_web`).
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from okeanos.cli import generate_web
from okeanos.exceptions import OkeanosError


def main(argv: Optional[List[str]] = None) -> int:
    """Parse the arguments, generate, and return the exit code (2 for invalid options)."""
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description="Generate synthetic logs.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    generate_web.add_parser(commands)
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except OkeanosError as exc:
        print(f"bench.generate: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
