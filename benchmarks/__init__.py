"""Side-by-side benchmarks: hati against PostgreSQL, plain DuckDB and the SDK's local engine.

Run ``python -m benchmarks run --quick`` (under 3 minutes) or ``--full``.
"""
