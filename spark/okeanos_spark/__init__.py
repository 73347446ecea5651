"""The Spark runtime of okeanos: input formats, aggregation jobs, the OpenSearch sink.

Importing this package, its registry and its job modules needs no pyspark:
the Lambda handler imports the registry to validate job names. Modules that
build DataFrames import pyspark inside their functions.
"""
