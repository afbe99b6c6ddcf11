"""Dask worker plugin that pins each local sweep worker to its own GPU (imports distributed)."""

from __future__ import annotations

from distributed.diagnostics.plugin import WorkerPlugin

from brianlab import cuda

__all__ = ["PinGpu"]


class PinGpu(WorkerPlugin):
    """Worker named ``k`` (a local cluster names them 0, 1, ...) runs on ``gpus[k % len(gpus)]``.

    A plugin's ``setup`` runs again when a worker is restarted, so a worker that died
    comes back on the same GPU.
    """

    def __init__(self, gpus: tuple[cuda.Gpu, ...]):
        self.gpus = tuple(gpus)

    def setup(self, worker) -> None:
        cuda.pin_gpu(self.gpus[int(worker.name) % len(self.gpus)])
