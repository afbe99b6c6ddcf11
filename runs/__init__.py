"""Experiment scripts: ``python -m runs.NAME --help``."""
