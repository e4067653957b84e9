"""Runnable example workflows; each one shows one feature and runs in the test suite."""
