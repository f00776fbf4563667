"""Benchmarks of the rendered app: `uv run nox -s bench` (benchmarks/bench.py)."""
