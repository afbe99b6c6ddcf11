"""Compile-only builds for cuda_standalone of the configurations no model test compiles.

Every model's default configuration and each structural mode is compiled once in
the suite (one build per mode; ``cuda_compile_only`` in conftest.py also checks that
the binary's libraries resolve without the loader cache):

- lif: tests/test_cli.py
- hh-poisson aggregate inputs + cond_exp synapses: tests/test_hh_poisson.py
- hh-poisson explicit inputs + delta synapses (its default): here
- ring: tests/test_ring.py; ring-spiking: tests/test_ring_spiking.py
- stdp-digits: tests/test_stdp_digits.py
"""

import pytest

from conftest import LOADER, libraries_without_loader_cache


@pytest.mark.slow
def test_hh_poisson_default_explicit_inputs_delta_synapses_compiles(cuda_compile_only):
    project = cuda_compile_only("hh-poisson", "--set", "n_neurons=3", "--set", "N_ex=20", "--set", "N_in=5")
    makefile = (project / "makefile").read_text()
    assert "--disable-new-dtags" in makefile  # DT_RPATH: covers what libcurand itself loads
    import os

    if os.path.exists(LOADER):
        libraries = libraries_without_loader_cache(project / "main")
        cudart = next(path for name, path in libraries.items() if name.startswith("libcudart.so"))
        curand = libraries["libcurand.so.10"]
        assert os.path.dirname(cudart) == os.path.dirname(curand)  # the pinned wheel pair, side by side
