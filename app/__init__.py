"""Autofix's web side: webhook ingestion, routing, settings, CLI and the shared Redis wiring."""
