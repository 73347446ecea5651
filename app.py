"""CDK app: one okeanos stack, ``okeanos-<env>``, for the environment named by ``-c env=<name>``.

Environments are defined in cdk.json under the context key
``okeanos:environments``; see :mod:`okeanos_stack.environments` for the keys.
cdk-nag's AwsSolutions rules run on every synth as a policy-validation
plugin, so a finding that is not acknowledged with a reason fails synth.

    npx cdk synth -c env=dev
"""

from __future__ import annotations

import sys

from aws_cdk import App

from okeanos.exceptions import ConfigurationError
from okeanos_stack.environments import ENV_CONTEXT_KEY, load_environment
from okeanos_stack.nag import add_checks
from okeanos_stack.stack import OkeanosStack


def main() -> int:
    """Build and synthesize the app; return the process exit code."""
    app = App()
    add_checks(app)
    name = app.node.try_get_context(ENV_CONTEXT_KEY)
    context = {"okeanos:environments": app.node.try_get_context("okeanos:environments")}
    try:
        config = load_environment(context, name)
    except ConfigurationError as exc:
        print(f"app.py: {exc}", file=sys.stderr)
        return 2
    OkeanosStack(app, config)
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
