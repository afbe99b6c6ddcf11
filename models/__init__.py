"""brianlab's own models, installed as ``brianlab.models`` (each module defines ``MODEL``).

They are registered by the entry-point group ``brianlab.models`` in ``pyproject.toml``.
"""
