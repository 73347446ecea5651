"""Deterministic generators of log files at volume, for tests, the demo and benchmarks."""
