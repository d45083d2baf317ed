"""Benchmark scenarios, one module per kind of infrastructure."""
