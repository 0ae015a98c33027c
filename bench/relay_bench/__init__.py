"""Relay's benchmarks: run with `make bench`; results go to docs/benchmarks.md."""
