"""Helpers for the tests and the benchmark (bench/): never imported by the running app."""
