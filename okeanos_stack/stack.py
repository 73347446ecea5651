"""OkeanosStack: the stack ``app.py`` deploys, one per environment."""

from __future__ import annotations

from typing import Any, List

from aws_cdk import Fn, Stack
from constructs import Construct

from okeanos_stack.environments import EnvironmentConfig
from okeanos_stack.pipeline import OkeanosPipeline

# Availability zones a new VPC spans.
AVAILABILITY_ZONE_COUNT = 2


class OkeanosStack(Stack):
    """A stack named ``okeanos-<env>`` holding one :class:`OkeanosPipeline`.

    Its availability zones are CloudFormation's ``Fn::GetAZs`` of the stack's
    region, not a context lookup, so synth needs no AWS credentials. (A
    stack with an explicit account and region otherwise looks its zones up
    with the AWS SDK.)
    """

    def __init__(self, scope: Construct, config: EnvironmentConfig, **kwargs: Any) -> None:
        super().__init__(
            scope,
            f"okeanos-{config.name}",
            stack_name=f"okeanos-{config.name}",
            env=config.cdk_environment(),
            description=f"okeanos continuous log aggregation ({config.name})",
            **kwargs,
        )
        self.config = config
        self.pipeline = OkeanosPipeline(self, "Okeanos", **config.pipeline_kwargs(self))

    @property
    def availability_zones(self) -> List[str]:
        """Return the first zones of ``Fn::GetAZs``, resolved by CloudFormation at deploy time."""
        return [Fn.select(index, Fn.get_azs()) for index in range(AVAILABILITY_ZONE_COUNT)]
