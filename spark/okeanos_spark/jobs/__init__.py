"""Aggregation jobs. Importing this package registers every job listed here."""
