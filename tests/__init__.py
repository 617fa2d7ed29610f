"""fairdicom's tests: a regular package, so that `tests.servers`, `tests.conftest` are ours even
when an installed distribution ships a top-level `tests` package (fairdatapoint-client 0.1.0 does).
"""
