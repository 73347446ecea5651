"""Shared pytest fixtures, provided by the plug-in modules listed here."""

pytest_plugins = [
    "tests.plugins.opensearch_node",
    "tests.plugins.spark_session",
]
