"""brianlab: classic spiking-network models on Brian2, one flag from CPU to GPU.

The pieces:

- :mod:`brianlab.devices` -- the one module that selects a Brian2 device
  (``runtime``, ``cpp_standalone``, ``cuda_standalone``, ``genn``) and sets its
  preferences;
- :mod:`brianlab.simulation` -- :class:`~brianlab.simulation.Program`, a network
  compiled once and rerun with new values through ``run_args``;
- :mod:`brianlab.params` -- parameter dataclasses with units, and ``--set`` parsing;
- :mod:`brianlab.records` -- run directories (``config.json``, ``metrics.json``,
  ``data.npz``, figures);
- :mod:`brianlab.cli` -- the ``brianlab`` command line.
"""

__version__ = "0.1.0"
