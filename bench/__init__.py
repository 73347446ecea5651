"""Benchmarks of okeanos: generated web logs, Spark into OpenSearch, and DuckDB as the reference."""
