"""layernet's benchmark suite: ``python -m benchmarks`` (``--quick`` for a smoke run)."""
