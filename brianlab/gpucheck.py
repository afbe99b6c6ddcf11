"""``brianlab gpu-check``: the first thing to run on a GPU machine.

It builds one tiny network twice, on ``cuda_standalone`` and on ``cpp_standalone``,
runs both with array ``run_args`` values on capitalised variables (the values
brian2cuda 1.0a7 silently dropped; see ``docs/gpu.md``), and compares the results.

Exit status (as the command line returns it): 0 both devices agree; 1 they differ
(what differs and what to fix is printed); 2 the check cannot run here (no GPU, a
driver too old, no nvcc, ...: the one-line reason and its fix).
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import brian2 as b2
import numpy as np

from brianlab import devices
from brianlab.devices import DeviceOptions, DeviceSession

__all__ = ["CheckResult", "gpu_check"]

#: A leaky unit driven to its own constant input; both capitalised names are set through run_args.
CHECK_EQS = """
dv/dt = (I_Ext - v)/Tau_m : 1
I_Ext : 1 (constant)  # drive, set per neuron through run_args
Tau_m : second (constant)  # time constant, set per neuron through run_args
"""
N_CHECK = 16
DURATION = 20 * b2.ms


class _Monitors(NamedTuple):
    spikes: b2.SpikeMonitor
    group: b2.NeuronGroup


def _build():
    group = b2.NeuronGroup(N_CHECK, CHECK_EQS, threshold="v > 1", reset="v = 0", method="exact",
                           name="Check_Group")
    group.Tau_m = 10 * b2.ms  # compiled in; the run_args values replace both (I_Ext is compiled in as 0)
    spikes = b2.SpikeMonitor(group, name="check_spikes")
    return b2.Network(group, spikes), _Monitors(spikes, group)


def _values():
    return {
        "Check_Group.I_Ext": np.linspace(0.5, 3.0, N_CHECK),
        "Check_Group.Tau_m": np.linspace(2.0, 6.0, N_CHECK) * b2.ms,
    }


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """What the two devices computed, and whether they agree."""

    found: str  #: what the CUDA probe found
    agree: bool
    differences: tuple[str, ...]  #: one line each, with what to fix
    counts: dict  #: device -> spike counts per neuron
    v: dict  #: device -> final v per neuron


def _run_on(name, options, build_root):
    with DeviceSession(name, options, build_root=build_root, progress=False) as session:
        program = session.program(_build, DURATION, dt=0.1 * b2.ms, tag="gpu_check")
        monitors = program.run(_values())
        return np.asarray(monitors.spikes.count[:]), np.asarray(monitors.group.v[:])


def gpu_check(options: DeviceOptions | None = None, log: Callable[[str], None] = print) -> CheckResult:
    """Run the check (see the module docstring).

    Raises
    ------
    BrianlabError
        One line, when cuda_standalone (or cpp_standalone) cannot run here.
    """
    options = dataclasses.replace(options or DeviceOptions(), compile_only=False, threads=0)
    status = devices.require("cuda_standalone", options)
    devices.require("cpp_standalone")
    log(f"cuda_standalone: {status.found}")
    with tempfile.TemporaryDirectory(prefix="brianlab-gpu-check-") as tmp:
        log("building and running the check network on cpp_standalone ...")
        cpp = _run_on("cpp_standalone", DeviceOptions(), Path(tmp, "cpp"))
        log("building and running it on cuda_standalone ...")
        gpu = _run_on("cuda_standalone", options, Path(tmp, "cuda"))
    differences = []
    if cpp[0].sum() == 0:
        differences.append("cpp_standalone produced no spikes: the check network itself is broken (a brianlab bug)")
    if not np.array_equal(cpp[0], gpu[0]):
        k = int(np.flatnonzero(cpp[0] != gpu[0])[0])
        differences.append(
            f"spike counts differ (neuron {k}: cpp {cpp[0][k]}, cuda {gpu[0][k]})"
            + ("; the GPU ran with no drive at all: run_args values did not reach it (brian2cuda's objects.cu "
               "lowercasing, docs/gpu.md)" if gpu[0].sum() == 0 else "; report it with 'brianlab devices' output"))
    if not np.allclose(cpp[1], gpu[1], rtol=1e-6, atol=1e-9):
        differences.append(f"final v differs by up to {np.max(np.abs(cpp[1] - gpu[1])):.3g}")
    return CheckResult(status.found, not differences, tuple(differences),
                       {"cpp_standalone": cpp[0].tolist(), "cuda_standalone": gpu[0].tolist()},
                       {"cpp_standalone": cpp[1].tolist(), "cuda_standalone": gpu[1].tolist()})
