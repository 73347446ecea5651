"""Lambda entry point: ``okeanos_handler.app.handler``.

Each record of an event is handled on its own, with the SNS or SQS message
id (or the EventBridge event id) as the correlation id of its log lines.
Invalid messages are sent to the dead-letter queue instead of raising, so
SNS does not retry them. A record that fails for another reason (the state table unreachable,
say) is retried: for SQS through a partial batch response (the event source
mapping needs ``ReportBatchItemFailures``), otherwise by raising after every
other record was handled.

The controller is built once per execution environment from the environment
variables in :mod:`okeanos_handler.config`; local mode and tests install
their own with :func:`use_controller`.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

from okeanos.exceptions import ConfigurationError
from okeanos_handler.config import HandlerConfig
from okeanos_handler.events import OtherEvent, StepStatusChange, TaskRecord, parse_event
from okeanos_handler.loop import LoopController

logger = Logger(service="okeanos")
metrics = Metrics(namespace="okeanos", service="okeanos")
copy_config_to_registered_loggers(source_logger=logger, include={"okeanos_handler", "okeanos"})

_controller: Optional[LoopController] = None


class RecordsFailedError(Exception):
    """Some records of an SNS or EventBridge event failed and must be retried."""


def set_log_level(level: "int | str") -> None:
    """Set the level of the handler's logger and of the module loggers that share its output."""
    import logging

    logger.setLevel(level)
    for name in ("okeanos_handler", "okeanos"):
        logging.getLogger(name).setLevel(level)
        for child in list(logging.Logger.manager.loggerDict):
            if child.startswith(name + "."):
                logging.getLogger(child).setLevel(level)


def use_controller(controller: Optional[LoopController]) -> None:
    """Install the controller the handler uses (``None``: build from the environment on next call)."""
    global _controller
    _controller = controller


def build_controller(config: Optional[HandlerConfig] = None) -> LoopController:
    """Build the AWS controller from ``config`` (default: the environment)."""
    import boto3
    from botocore.config import Config

    from okeanos.state.dynamodb import DynamoDbStateStore
    from okeanos_handler.publishing import AwsPublisher, SqsDeadLetters
    from okeanos_handler.submission import EmrSubmitter

    config = config or HandlerConfig.from_environ()
    missing = [
        name
        for name, value in (
            ("state_table", config.state_table),
            ("topic_arn", config.topic_arn),
            ("delay_queue_url", config.delay_queue_url),
            ("dead_letter_queue_url", config.dead_letter_queue_url),
        )
        if not value
    ]
    if missing:
        raise ConfigurationError(f"handler configuration lacks {', '.join(missing)}; set them for AWS use")
    # SNS and SQS are needed only when a cycle ends or a message is rejected,
    # so their clients are built on first use, off the cold-start path.
    sqs = LazyClient(lambda: boto3.client("sqs"))
    # EmrSubmitter retries throttling itself, with backoff; botocore's own
    # retries are turned off so the two do not multiply.
    emr = boto3.client("emr", config=Config(retries={"max_attempts": 1, "mode": "standard"}))
    return LoopController(
        config=config,
        store=DynamoDbStateStore(config.state_table, client=boto3.client("dynamodb")),
        runner=EmrSubmitter(emr, config.cluster_id),
        publisher=AwsPublisher(
            sns_client=LazyClient(lambda: boto3.client("sns")),
            sqs_client=sqs,
            topic_arn=config.topic_arn,
            delay_queue_url=config.delay_queue_url,
        ),
        dead_letters=SqsDeadLetters(sqs_client=sqs, queue_url=config.dead_letter_queue_url),
        metrics=metrics,
    )


class LazyClient:
    """A boto3 client built by ``factory`` on first attribute access."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._client: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            self._client = self._factory()
        return getattr(self._client, name)


def handler(event: Dict[str, Any], context: Any = None) -> Dict[str, Any]:
    """Handle an SNS, SQS or EventBridge event; return a summary (and SQS batch failures)."""
    global _controller
    if _controller is None:
        _controller = build_controller()
    controller = _controller
    try:
        return _handle(controller, event, context)
    finally:
        # Flushed here rather than with @metrics.log_metrics, which warns on
        # every invocation that recorded no metric (local mode records none).
        if metrics.metric_set:
            metrics.flush_metrics()


def _handle(controller: LoopController, event: Dict[str, Any], context: Any) -> Dict[str, Any]:
    if context is not None:
        logger.append_keys(function_request_id=getattr(context, "aws_request_id", None))

    outcomes: List[str] = []
    failures: List[str] = []
    for record in parse_event(event):
        if isinstance(record, TaskRecord):
            logger.set_correlation_id(record.message_id)
            try:
                outcomes.append(controller.handle_task(record))
            except Exception:
                logger.exception("message %s failed; it will be retried", record.message_id)
                failures.append(record.message_id)
        elif isinstance(record, StepStatusChange):
            logger.set_correlation_id(record.event_id)
            try:
                outcomes.append(controller.handle_step_change(record).outcome)
            except Exception:
                logger.exception("step event %s (step %s) failed; it will be retried", record.event_id, record.step_id)
                failures.append(record.event_id)
        elif isinstance(record, OtherEvent):
            logger.info("ignored %s", record.description)
            outcomes.append("ignored")
    logger.set_correlation_id(None)

    is_sqs = bool(event.get("Records")) and event["Records"][0].get("eventSource") == "aws:sqs"
    if failures and not is_sqs:
        raise RecordsFailedError(f"{len(failures)} record(s) failed: {', '.join(failures)}")
    result: Dict[str, Any] = {"outcomes": outcomes}
    if is_sqs:
        result["batchItemFailures"] = [{"itemIdentifier": message_id} for message_id in failures]
    return result
