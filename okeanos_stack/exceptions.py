"""Errors raised while constructs are defined (at ``cdk synth`` time)."""

from __future__ import annotations

from typing import Sequence

from okeanos.exceptions import OkeanosError


class OkeanosPropsError(OkeanosError, ValueError):
    """The props of an okeanos construct are invalid or conflict with each other.

    Every problem found in one construct's props is collected and reported
    together, one per line, so a single synth run shows all of them.
    ``problems`` keeps the individual messages for callers and tests.
    """

    def __init__(self, construct: str, problems: Sequence[str]) -> None:
        self.construct = construct
        self.problems = list(problems)
        listing = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"{construct}: invalid props:\n{listing}")
