"""Differential tests: the same statements on hati and on a real PostgreSQL, compared.

Run ``python -m difftest run`` (the everyday corpus of ``tests/differential/corpus``) or
``python -m difftest run --full`` (also PostgreSQL's own regression files); the report
goes to ``docs/compatibility.md``.
"""
