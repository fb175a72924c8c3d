"""Benchmarks for FiG Safety: `make bench` (see bench/README.md)."""
