"""okeanos: continuous log aggregation from S3 into OpenSearch views.

This package contains what every runtime shares (the task message, windows,
settings, the OpenSearch client factory) and the ``okeanos`` command-line
interface. It imports neither pyspark nor the CDK at import time.
"""

__version__ = "0.1.0"
