"""Benchmarks: each figure is measured against its ceiling in the same run (``make bench``)."""
