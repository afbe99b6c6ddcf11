"""The device switch: honest detection, clear refusals, and a reset between builds."""

import brian2 as b2
import pytest

from brianlab import devices
from brianlab.devices import DeviceOptions, DeviceSession
from brianlab.errors import BrianlabError


def test_devices_json_lists_the_four_devices(brianlab_cli):
    import json

    code, out, _ = brianlab_cli("devices", "--json")
    assert code == 0
    listed = json.loads(out)
    assert [d["name"] for d in listed] == list(devices.DEVICE_NAMES)
    runtime = listed[0]
    assert runtime["can_build"] and runtime["can_run"] and runtime["missing"] == ""
    for entry in listed:
        # a device that cannot run says why
        assert entry["can_run"] or entry["missing"]


def test_genn_is_reported_honestly():
    status = devices.probe("genn")
    if status.can_build:
        pytest.skip("brian2genn and GeNN are installed here")
    assert not status.can_run
    assert "brian2genn" in status.missing or "GeNN" in status.missing
    with pytest.raises(BrianlabError, match="device genn cannot build here"):
        devices.require("genn")


def test_cuda_without_gpu_refuses_to_run_but_may_compile():
    status = devices.probe("cuda_standalone")
    if status.can_run:
        pytest.skip("this machine has a GPU")
    with pytest.raises(BrianlabError, match="device cuda_standalone cannot (run|build) here: .+"):
        devices.require("cuda_standalone")
    if status.can_build:
        assert "GPU" in status.missing
        devices.require("cuda_standalone", DeviceOptions(compile_only=True))


def test_unknown_device_and_environment_variable(monkeypatch):
    with pytest.raises(BrianlabError, match="unknown device 'gpu'.*runtime, cpp_standalone, cuda_standalone, genn"):
        devices.resolve_name("gpu")
    monkeypatch.setenv(devices.ENV_VAR, "cpp_standalone")
    assert devices.resolve_name(None) == "cpp_standalone"
    assert devices.resolve_name("runtime") == "runtime"
    monkeypatch.setenv(devices.ENV_VAR, "nonsense")
    with pytest.raises(BrianlabError, match=r"from \$BRIANLAB_DEVICE"):
        devices.resolve_name(None)


def test_options_that_do_not_fit_the_device_are_refused():
    with pytest.raises(BrianlabError, match="--compile-only needs a standalone device"):
        devices.require("runtime", DeviceOptions(compile_only=True))
    with pytest.raises(BrianlabError, match="--threads applies to cpp_standalone only"):
        devices.require("runtime", DeviceOptions(threads=2))


def test_session_restores_brian_after_a_standalone_build(tmp_path):
    before = b2.prefs["devices.cpp_standalone.openmp_threads"]
    with DeviceSession("cpp_standalone", DeviceOptions(threads=2), build_root=tmp_path) as session:
        first = session.new_project("a")
        second = session.new_project("b")
        assert first != second and first.parent == second.parent == tmp_path
        assert type(b2.get_device()).__name__ == "CPPStandaloneDevice"
        assert b2.prefs["devices.cpp_standalone.openmp_threads"] == 2
    assert type(b2.get_device()).__name__ == "RuntimeDevice"
    assert b2.prefs["devices.cpp_standalone.openmp_threads"] == before


def test_two_sessions_cannot_share_a_build_directory(tmp_path):
    with DeviceSession("cpp_standalone", DeviceOptions(build_dir=tmp_path), progress=False):
        with pytest.raises(BrianlabError, match="is in use by another run; choose another --build-dir"):
            DeviceSession("cpp_standalone", DeviceOptions(build_dir=tmp_path), progress=False).__enter__()
    # released on exit: the directory can be used again
    with DeviceSession("cpp_standalone", DeviceOptions(build_dir=tmp_path), progress=False) as session:
        assert session.build_root == tmp_path.resolve()
