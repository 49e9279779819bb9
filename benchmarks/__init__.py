"""Benchmark of the service against its raw model (issue 7): `python -m benchmarks.run`."""
