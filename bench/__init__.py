"""Benchmarks of migration_kit against the plain pandas way: ``python -m bench.run``.

See ``bench/README.md`` for the cases, the goals and the latest results.
"""
