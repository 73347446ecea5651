"""Local mode: okeanos on one machine, with local Spark and a local OpenSearch node.

Nothing here runs in AWS. ``okeanos.local.opensearch`` installs, starts and
stops the OpenSearch node that local runs and the tests write to.
"""
