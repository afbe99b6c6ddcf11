"""``brianlab gpu-check``: stops at 'no GPU' in one line here; its network is sound where it can run."""

import numpy as np
import pytest

from brianlab import devices
from brianlab.gpucheck import N_CHECK, _run_on, _values


def test_gpu_check_without_a_gpu_says_why_in_one_line(brianlab_cli):
    status = devices.probe("cuda_standalone")
    if status.can_run:
        pytest.skip("this machine has a GPU: gpu-check runs for real")
    code, out, err = brianlab_cli("gpu-check")
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("brianlab: error: device cuda_standalone cannot")
    assert status.missing in lines[0]


def test_the_check_network_depends_on_both_capitalised_values(tmp_path):
    """On runtime (same meaning as standalone): drives below threshold never fire, the rest fire more as the drive grows."""
    counts, v = _run_on("runtime", devices.DeviceOptions(codegen_target="numpy"), tmp_path)
    drive = _values()["Check_Group.I_Ext"]
    assert counts.shape == (N_CHECK,) and not counts[drive <= 1].any() and counts[drive > 1.2].all()
    assert np.all(np.diff(counts[drive > 1]) >= 0) and counts.sum() > 3 * N_CHECK


@pytest.mark.skipif(not devices.probe("cuda_standalone").can_run, reason="needs an NVIDIA GPU")
def test_gpu_check_agrees_on_a_gpu(brianlab_cli):
    code, out, err = brianlab_cli("gpu-check")
    assert code == 0, out + err
