"""Sandbox backends: where the repository's code runs (never in the worker itself). See base.py."""
