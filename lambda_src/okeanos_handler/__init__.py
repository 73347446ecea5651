"""The okeanos Lambda handler: task messages in, EMR steps out, step events close the loop.

Entry point: ``okeanos_handler.app.handler``. Modules, by concept:

- :mod:`~okeanos_handler.config`: the environment variables the handler reads;
- :mod:`~okeanos_handler.events`: SNS, SQS and EventBridge events to records;
- :mod:`~okeanos_handler.steps`: step names and ``spark-submit`` arguments;
- :mod:`~okeanos_handler.submission`: the EMR submitter (throttling, capacity);
- :mod:`~okeanos_handler.publishing`: the next cycle, delays and dead letters;
- :mod:`~okeanos_handler.loop`: the loop controller that ties them together.
"""
