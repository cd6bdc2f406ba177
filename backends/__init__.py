"""Runnable storage back ends for development, tests, benchmarks and examples."""
