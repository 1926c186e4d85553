"""Benchmarks behind `llmedge bench`: each module exposes `run(...)` and prints figures side by side."""
