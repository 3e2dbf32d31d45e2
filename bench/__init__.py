"""Benchmarks: `make bench` (python -m bench) runs them all, prints one table, writes bench/results/*.json."""
