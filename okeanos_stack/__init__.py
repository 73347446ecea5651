"""okeanos_stack: the AWS CDK construct library that deploys okeanos.

One module per construct; each is usable on its own::

    from okeanos_stack import OkeanosPipeline
    OkeanosPipeline(stack, "Okeanos")

Runs at ``cdk synth`` time only; the Lambda handler and the Spark job never
import it.
"""

from okeanos_stack.continuous_aggregation import ContinuousAggregation
from okeanos_stack.exceptions import OkeanosPropsError
from okeanos_stack.job_assets import JobAssets
from okeanos_stack.monitoring import Monitoring
from okeanos_stack.pipeline import OUTPUT_KEYS, OkeanosPipeline
from okeanos_stack.spark_cluster import EMR_RELEASE_LABEL, EMR_SPARK_VERSION, SparkCluster
from okeanos_stack.step_submitter import StepSubmitter
from okeanos_stack.task_state_table import TaskStateTable
from okeanos_stack.task_topic import TaskTopic
from okeanos_stack.view_store import ViewStore

__all__ = [
    "ContinuousAggregation",
    "EMR_RELEASE_LABEL",
    "EMR_SPARK_VERSION",
    "JobAssets",
    "Monitoring",
    "OUTPUT_KEYS",
    "OkeanosPipeline",
    "OkeanosPropsError",
    "SparkCluster",
    "StepSubmitter",
    "TaskStateTable",
    "TaskTopic",
    "ViewStore",
]
