"""Benchmarks that print ratios side by side in one run (never timed asserts)."""
