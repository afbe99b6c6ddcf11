"""brianlab: classic spiking-network models on Brian2, one flag from CPU to GPU.

As a library::

    import brianlab
    record = brianlab.run("lif", device="cpp_standalone", n_neurons=10)
    record.metrics["mean_rate"]
    again = brianlab.load(record.path)

The pieces:

- :mod:`brianlab.runner` -- :func:`run` and :func:`load`, and the run-and-record
  steps the command line and the sweeps share;
- :mod:`brianlab.model` -- the model contract and the plugin registry (entry-point
  group ``brianlab.models``);
- :mod:`brianlab.devices` -- the one module that selects a Brian2 device
  (``runtime``, ``cpp_standalone``, ``cuda_standalone``, ``genn``) and sets its
  preferences;
- :mod:`brianlab.simulation` -- :class:`~brianlab.simulation.Program`, a network
  compiled once and rerun with new values through ``run_args``;
- :mod:`brianlab.params` -- parameter dataclasses with units, and ``--set`` parsing;
- :mod:`brianlab.records` -- run directories (``config.json``, ``metrics.json``,
  ``data.npz``, figures);
- :mod:`brianlab.sweep` -- parameter sweeps on Dask;
- :mod:`brianlab.recordings` -- which saved arrays are spike trains and traces (``Model.recordings``);
- :mod:`brianlab.nwb` -- a run (or a sweep's points) as an NWB file;
- :mod:`brianlab.progress` -- the one progress bar of a run;
- :mod:`brianlab.catalog` -- finding, tabulating and comparing past runs;
- :mod:`brianlab.cli` -- the ``brianlab`` command line (only ``__main__`` imports it).
"""

__version__ = "0.1.0"

__all__ = ["run", "load", "__version__"]


def __getattr__(name):
    # run and load import Brian; keep 'import brianlab' itself light.
    if name in ("run", "load"):
        from brianlab import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'brianlab' has no attribute {name!r}")
