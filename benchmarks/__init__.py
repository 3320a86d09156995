"""Benchmarks run by ``make bench`` (``python -m benchmarks``).

Each ``benchmarks/bench_*.py`` module exposes ``run() -> list[dict]``; every dict is one figure,
printed as one JSON line, carrying the baseline it is compared with, measured in the same run.
"""
