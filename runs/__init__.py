"""Experiment scripts, installed as ``brianlab.runs`` (``python -m brianlab.runs.NAME --help``)."""
