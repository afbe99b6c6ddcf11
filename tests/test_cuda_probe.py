"""The cuda_standalone probe explains before it builds: every branch under a fake nvidia-smi (and nvcc).

The fakes are shell scripts put first on PATH. They answer the queries brianlab
makes as the real tools do (formats copied from nvidia-smi 580 and nvcc 13.0),
so each test states a machine and checks the one-line verdict.
"""

import os
import stat
import textwrap

import pytest

from brianlab import cuda, devices
from brianlab.devices import DeviceOptions
from brianlab.errors import BrianlabError

H100 = ("NVIDIA H100 80GB HBM3", "GPU-8f1e2b7a-0000-0000-0000-000000000001", "9.0")
RTX4090 = ("NVIDIA GeForce RTX 4090", "GPU-4a90c0de-0000-0000-0000-000000000002", "8.9")


def _script(path, body):
    path.write_text("#!/bin/sh\n" + textwrap.dedent(body))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def fake_smi(bin_dir, gpus, driver="580.65.06", cuda_version="13.0", compute_cap=True):
    """An nvidia-smi listing ``gpus`` [(name, uuid, cc)]; none: 'No devices were found' (exit 6)."""
    full = "".join(f"{k}, {n}, {u}, {driver}, {c}\\n" for k, (n, u, c) in enumerate(gpus))
    short = "".join(f"{k}, {n}, {u}, {driver}\\n" for k, (n, u, c) in enumerate(gpus))
    if not gpus:
        body = 'echo "No devices were found"; exit 6\n'
    else:
        cap = f'printf "{full}"; exit 0' if compute_cap else \
            'echo \'Field "compute_cap" is not a valid field to query.\'; exit 2'
        body = f"""\
        case "$1" in
          --query-gpu=*compute_cap*) {cap} ;;
          --query-gpu=*) printf "{short}"; exit 0 ;;
        esac
        echo "| NVIDIA-SMI {driver}    Driver Version: {driver}    CUDA Version: {cuda_version}     |"
        """
    return _script(bin_dir / "nvidia-smi", body)


def fake_nvcc(bin_dir, version="13.0.88", archs=(75, 80, 86, 87, 89, 90, 100, 120), accepts=("g++-13",)):
    """An nvcc of ``version`` that knows ``archs`` and accepts only the host compilers ``accepts``."""
    major_minor = ".".join(version.split(".")[:2])
    listed = "\\n".join(f"compute_{a}" for a in archs)
    allowed = " ".join(accepts)
    return _script(bin_dir / "nvcc", f"""\
    case "$1" in
      --version) printf "nvcc: NVIDIA (R) Cuda compiler driver\\nCuda compilation tools, release {major_minor}, V{version}\\n"; exit 0 ;;
      --list-gpu-arch) printf "{listed}\\n"; exit 0 ;;
      -ccbin) for ok in {allowed}; do [ "$2" = "$ok" ] && exit 0; done
              echo "/usr/include/crt/host_config.h:143:2: error: #error -- unsupported GNU version! gcc versions later than 13 are not supported!" >&2
              exit 1 ;;
    esac
    exit 0
    """)


@pytest.fixture
def machine(tmp_path, monkeypatch):
    """A bin directory first on PATH, with CUDA_VISIBLE_DEVICES and CXX unset."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("CUDA_PATH", raising=False)
    monkeypatch.delenv("CXX", raising=False)
    return bin_dir


@pytest.fixture(autouse=True)
def _needs_cuda_build():
    setup = cuda.inspect()
    if not setup.can_build:
        pytest.skip(f"cuda_standalone cannot build here: {setup.build_problem}")


def test_h100_with_a_cuda13_driver_runs_sm90(machine):
    fake_smi(machine, [H100])
    status = devices.probe("cuda_standalone")
    assert status.can_build and status.can_run, status.missing
    assert "H100" in status.found and "sm_90" in status.found and "driver 580.65.06 (CUDA 13.0)" in status.found
    setup = cuda.inspect()
    assert setup.compute_capability == 9.0 and setup.gpu_id == 0 and setup.gpu.uuid == H100[1]


def test_rtx4090_compiles_for_its_own_architecture(machine, tmp_path):
    fake_smi(machine, [RTX4090])
    setup = cuda.inspect()
    assert setup.can_run and setup.compute_capability == 8.9
    import brian2 as b2
    import brian2cuda  # noqa: F401

    prefs = cuda.brian_prefs(setup, tmp_path / "build", b2.prefs)
    assert prefs["devices.cuda_standalone.cuda_backend.compute_capability"] == 8.9
    assert prefs["devices.cuda_standalone.cuda_backend.gpu_id"] == 0


def test_old_driver_is_refused_before_the_build_with_its_fix(machine):
    fake_smi(machine, [H100], driver="535.104.05", cuda_version="12.2")
    status = devices.probe("cuda_standalone")
    assert status.can_build and not status.can_run
    assert "driver 535.104.05 supports CUDA 12.2, but nvcc is 13.0: CUDA 13 needs driver >= 580" in status.missing
    assert "update the driver" in status.missing
    with pytest.raises(BrianlabError, match="cannot run here: driver 535.104.05"):
        devices.require("cuda_standalone")
    devices.require("cuda_standalone", DeviceOptions(compile_only=True))  # building is still fine


def test_old_driver_without_a_cuda_version_line_is_judged_by_its_number(machine):
    fake_smi(machine, [H100], driver="570.86.15", cuda_version="")
    (machine / "nvidia-smi").write_text((machine / "nvidia-smi").read_text().replace("CUDA Version: ", ""))
    assert "CUDA 13 needs driver >= 580" in cuda.inspect().run_problem


def test_no_gpu_listed_means_compile_only(machine):
    fake_smi(machine, [])
    status = devices.probe("cuda_standalone")
    assert status.can_build and not status.can_run
    assert status.missing.startswith("no NVIDIA GPU here (nvidia-smi failed: No devices were found)")
    assert "--compile-only" in status.missing


def test_two_gpus_gpu_id_picks_the_second(machine):
    fake_smi(machine, [H100, RTX4090])
    first, second = cuda.inspect(), cuda.inspect(gpu_id=1)
    assert (first.gpu.name, first.compute_capability) == (H100[0], 9.0)
    assert (second.gpu.name, second.compute_capability) == (RTX4090[0], 8.9) and second.can_run
    assert "no GPU with id 2: --gpu-id counts the visible GPUs, and there are 2" in cuda.inspect(gpu_id=2).run_problem


def test_cuda_visible_devices_is_what_gpu_id_counts(machine, monkeypatch):
    fake_smi(machine, [H100, RTX4090])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    setup = cuda.inspect()
    assert setup.can_run and setup.gpu_id == 0 and setup.gpu.index == 1 and setup.compute_capability == 8.9
    assert "GPU 0 = nvidia-smi 1 NVIDIA GeForce RTX 4090" in setup.describe()
    problem = cuda.inspect(gpu_id=1).run_problem
    assert "no GPU with id 1: --gpu-id counts the visible GPUs, and there are 1: 0 (nvidia-smi 1" in problem
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", f"{RTX4090[1][:12]},0")  # a UUID prefix, then an index
    assert [g.index for g in cuda.inspect().visible] == [1, 0]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert "CUDA_VISIBLE_DEVICES='' hides every GPU" in cuda.inspect().run_problem
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,7,1")  # CUDA stops at the first that names no GPU
    assert [g.index for g in cuda.inspect().visible] == [0]


def test_compute_capability_works_without_nvidia_smis_compute_cap(machine):
    fake_smi(machine, [H100], compute_cap=False)
    setup = cuda.inspect()
    assert setup.gpu.name == H100[0] and setup.gpu.compute_capability is None
    assert not setup.can_run and "pass --compute-capability 9.0" in setup.run_problem
    given = cuda.inspect(compute_capability=9.0)
    assert given.can_run and given.compute_capability == 9.0
    assert devices.probe("cuda_standalone", DeviceOptions(compute_capability=9.0)).can_run


def test_architecture_must_be_one_nvcc_lists(machine):
    fake_smi(machine, [H100])
    problem = cuda.inspect(compute_capability=7.0).build_problem
    assert problem.startswith("nvcc 13.0 cannot compile for sm_70") and "CUDA 13 dropped" in problem
    with pytest.raises(BrianlabError, match="cannot build here: nvcc 13.0 cannot compile for sm_70"):
        devices.require("cuda_standalone", DeviceOptions(compute_capability=7.0, compile_only=True))
    fake_nvcc(machine, version="12.4.131", archs=(50, 60, 70, 75, 80, 86, 89, 90), accepts=("g++",))
    newer = cuda.inspect(compute_capability=12.0).build_problem
    assert newer.startswith("nvcc 12.4 cannot compile for sm_120") and "newer CUDA toolkit" in newer


def test_compute_capability_above_the_gpus_would_not_load(machine):
    fake_smi(machine, [RTX4090])
    assert "'no kernel image'" in cuda.inspect(compute_capability=9.0).run_problem


def test_host_compiler_nvcc_refuses_gets_a_one_line_fix(machine, monkeypatch):
    fake_smi(machine, [H100])
    fake_nvcc(machine, accepts=("g++-13",))
    _script(machine / "g++-13", "exec g++ \"$@\"\n")
    status = devices.probe("cuda_standalone")
    assert not status.can_build
    assert "nvcc 13.0 refuses host compiler g++: unsupported GNU version!" in status.missing
    assert status.missing.endswith("fix: export CXX=g++-13 (nvcc accepts it)")
    monkeypatch.setenv("CXX", "g++-13")  # the fix, as printed
    assert devices.probe("cuda_standalone").can_run
    monkeypatch.setenv("CXX", "g++-99")
    assert "host compiler 'g++-99' (from $CXX) not found" in cuda.inspect().build_problem


def test_a_cuda12_driver_runs_a_cuda12_toolkit(machine):
    fake_smi(machine, [H100], driver="535.104.05", cuda_version="12.2")
    fake_nvcc(machine, version="12.2.140", archs=(50, 60, 70, 75, 80, 86, 89, 90), accepts=("g++",))
    setup = cuda.inspect()
    assert setup.can_run and setup.toolkit == "12.2.140", setup.run_problem


def test_the_sweep_spreads_over_visible_gpus_and_pins_each_worker(machine, monkeypatch):
    fake_smi(machine, [H100, RTX4090])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1,0")
    gpus = cuda.sweep_gpus()
    assert [g.index for g in gpus] == [1, 0]
    env = {}
    cuda.pin_gpu(gpus[0], env)
    assert env == {"CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": RTX4090[1]}
    assert [g.index for g in cuda.visible_gpus(cuda.query_driver().gpus, env)] == [1]


def test_the_sweep_cache_key_holds_the_resolved_architecture_and_nvcc(machine):
    from brianlab.sweep.cache import options_key as _options_key

    fake_smi(machine, [H100])
    h100 = _options_key("cuda_standalone", DeviceOptions())
    fake_smi(machine, [RTX4090])
    rtx = _options_key("cuda_standalone", DeviceOptions())
    assert (h100["compute_capability"], rtx["compute_capability"]) == (9.0, 8.9)  # not None: never shared
    assert h100["nvcc"] == rtx["nvcc"] == ".".join(map(str, cuda.nvcc_version(cuda.find_nvcc())))
    assert "nvcc" not in _options_key("cpp_standalone", DeviceOptions())


def test_a_pinned_worker_plugin_gives_each_local_worker_its_gpu(machine, monkeypatch):
    from brianlab.cuda_workers import PinGpu

    gpus = (cuda.Gpu(0, *H100[:2], 9.0), cuda.Gpu(1, *RTX4090[:2], 8.9))
    plugin = PinGpu(gpus)
    monkeypatch.setenv("CUDA_DEVICE_ORDER", "FASTEST_FIRST")  # restored after the test
    seen = []
    for name in ("0", "1", "2"):
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
        plugin.setup(type("Worker", (), {"name": name})())
        seen.append(os.environ["CUDA_VISIBLE_DEVICES"])
    assert seen == [H100[1], RTX4090[1], H100[1]] and os.environ["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"


def test_each_session_compiles_its_own_gpu_id_into_the_program(machine, tmp_path):
    """brian2cuda keeps the first GPU it selects for the process; brianlab clears that per session."""
    import brian2 as b2

    fake_smi(machine, [H100, RTX4090])
    compiled = []
    for gpu_id in (0, 1):
        options = DeviceOptions(gpu_id=gpu_id, compile_only=True)
        with devices.DeviceSession("cuda_standalone", options, build_root=tmp_path / f"b{gpu_id}",
                                   progress=False) as session:
            directory = session.new_project("gpu")
            b2.Network(b2.NeuronGroup(2, "dv/dt = -v/(10*ms) : 1", name="g")).run(1 * b2.ms)
            b2.device.build(directory=str(directory), compile=False, run=False, with_output=False)
            main = (directory / "main.cu").read_text()
            compiled.append(int(main.split("cudaSetDevice(")[1].split(")")[0]))
            assert "-arch=sm_89" in (directory / "makefile").read_text() or gpu_id == 0
            assert b2.get_device().run_environment_variables["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    assert compiled == [0, 1]
