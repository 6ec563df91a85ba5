"""Benchmarks: ``make bench`` (or ``python -m bench.run NAME``); figures go to ``bench/RESULTS.md``."""
