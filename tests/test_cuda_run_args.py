"""run_args values reach a cuda_standalone program unchanged (brian2cuda 1.0a7 lowercased them).

For every model, the values its simulate() passes to the compiled program are
captured, its network is generated for cuda_standalone (no nvcc: generation only),
and the generated argument parser, compiled for the host
(:mod:`brianlab.cuda_args`), is run through Brian's own ``device.run`` with those
values. Each variable the program set must equal the value passed, byte for byte.
With brian2cuda's template as shipped, capitalised variables (``neurons.I_app``,
``exc.I_cue``, ``outputs.I_inp``) are not set: that control is tested too.
"""

import shutil

import brian2 as b2
import numpy as np
import pytest

from brianlab import cuda
from brianlab.cuda_args import build_host_parser, parsed_names
from brianlab.devices import DeviceOptions, DeviceSession
from brianlab.model import get_model
from brianlab.params import apply_assignments
from brianlab.simulation import Program

#: Small configurations of every model; each structural mode that changes which values are passed.
CASES = {
    "lif": ["n_neurons=10", "duration=10*ms", "k_conn=1"],
    "hh-poisson-explicit": ["n_neurons=3", "N_ex=20", "N_in=5", "duration=10*ms"],
    "hh-poisson-aggregate": ["n_neurons=3", "input_mode=aggregate", "synapse=cond_exp", "duration=10*ms"],
    "ring": ["N=32", "geometry=ring", "duration=20*ms"],
    "ring-spiking": ["n_exc=64", "n_inh=16", "cue_duration=20*ms", "delay=20*ms", "decode_window=10*ms"],
    "stdp-digits": ["n_class=2", "n_per_class=1", "n_train=4", "n_test=4", "chunk=4"],
}


def _all_cases():
    """CASES, and every other registered model at its contract ``tiny`` configuration (new models)."""
    from brianlab.model import model_names

    cases = {name: (name.split("-explicit")[0].split("-aggregate")[0], assignments)
             for name, assignments in CASES.items()}
    for name in model_names():
        if not any(model == name for model, _ in cases.values()):
            tiny = getattr(get_model(name), "tiny", None)
            cases[name] = (name, [f"{k}={v}" for k, v in tiny.items()] if tiny else None)
    return cases


ALL_CASES = _all_cases()


class _Captured(Exception):
    pass


def captured_run(model_name, assignments, monkeypatch):
    """(build, duration, dt, tag, values) of the first program.run of ``model_name``'s simulate."""
    model = get_model(model_name)
    params = apply_assignments(model.params, assignments)
    seen = {}

    def record(program, values=None, seed=None, results="results"):
        seen.update(build=program._build, duration=program.duration, dt=program.dt, tag=program.tag,
                    values=dict(values or {}))
        raise _Captured

    with monkeypatch.context() as patch:
        patch.setattr(Program, "run", record)
        with DeviceSession("runtime", progress=False) as session:
            with pytest.raises(_Captured):
                model.simulate(params, session)
    return seen


def _needs_cuda_build():
    setup = cuda.inspect()
    if not setup.can_build:
        pytest.skip(f"cuda_standalone cannot build here: {setup.build_problem}")


def generate_and_parse(captured, build_root, fixed=True):
    """Generate the captured network for CUDA, run its host parser with the values; return {name: (sent, set)}."""
    options = DeviceOptions(compile_only=True)
    with DeviceSession("cuda_standalone", options, build_root=build_root, progress=False) as session:
        if not fixed:
            cuda.fix_run_args_template(False)
        try:
            program = Program(session, captured["build"], captured["duration"], dt=captured["dt"],
                              tag=captured["tag"])
            program._construct(session.build_seed)
            program.network.run(program.duration)
            b2.device.build(directory=str(program.directory), compile=False, run=False, with_output=False)
        finally:
            cuda.fix_run_args_template(True)
        targets = {key: program._resolve(key) for key in captured["values"]}
        names = {key: (f"{t.name}.values" if isinstance(t, b2.TimedArray) else f"{t.group_name}.{t.name}")
                 for key, t in targets.items()}
        sizes = {names[k]: np.size(v) if np.size(v) > 1 else 4 for k, v in captured["values"].items()}
        parser = build_host_parser(program.directory, sizes)
        shutil.copy(parser, program.directory / "main")
        failed = None
        try:
            b2.device.run(directory=str(program.directory), results_directory="results", with_output=False,
                          run_args={targets[k]: v for k, v in captured["values"].items()})
        except RuntimeError as exc:  # the fixed template stops on a file it cannot read
            failed = str(exc)
        except FileNotFoundError:  # the parser ran (exit 0); Brian's check of the state after it finds
            assert b2.get_device().has_been_run  # no state files: this stand-in writes none
        results = program.directory / "results"
        out = {}
        for key, value in captured["values"].items():
            target = targets[key]
            dtype = target.values.dtype if isinstance(target, b2.TimedArray) else target.dtype
            path = results / f"{names[key]}.bin"
            got = np.fromfile(path, dtype=dtype) if path.exists() else np.array([], dtype)
            sent = np.asarray(value, dtype=dtype).ravel()
            out[names[key]] = (np.broadcast_to(sent, got.shape) if sent.size == 1 and got.size else sent, got)
        return out, failed, parsed_names(program.directory), program.directory


#: Cases whose generation takes over ~30 s here (stdp-digits: ~45 s on the shared machine).
SLOW_CASES = {"stdp-digits"}


@pytest.mark.parametrize("case", [pytest.param(c, marks=[pytest.mark.slow] if c in SLOW_CASES else [])
                                  for c in ALL_CASES])
def test_every_run_args_value_reaches_the_program_unchanged(case, tmp_path, monkeypatch):
    _needs_cuda_build()
    model_name, assignments = ALL_CASES[case]
    if assignments is None:
        pytest.skip(f"{model_name} has no 'tiny' configuration (the model contract's) to generate")
    captured = captured_run(model_name, assignments, monkeypatch)
    assert captured["values"], f"{model_name} passes no run_args values"
    results, failed, parseable, project = generate_and_parse(captured, tmp_path / "build")
    assert failed is None, failed
    for name, (sent, got) in results.items():
        assert name in parseable
        assert got.shape == sent.shape and np.array_equal(got, sent), f"{name}: sent {sent[:4]}, program has {got[:4]}"
    assert "tolower" not in (project / "objects.cu").read_text()


#: The capitalised variables the issue found silently dropped.
CAPITALISED = {
    "hh-poisson-explicit": "neurons.I_app",
    "ring-spiking": "exc.I_cue",
    "stdp-digits": "outputs.I_inp",
}


@pytest.mark.parametrize("case", ["hh-poisson-explicit"])
def test_brian2cuda_template_as_shipped_drops_capitalised_array_values(case, tmp_path, monkeypatch, capfd):
    """The control: without the fix, the program does not get neurons.I_app (and says so only on stderr)."""
    _needs_cuda_build()
    captured = captured_run(case.split("-explicit")[0], CASES[case], monkeypatch)
    results, failed, _, project = generate_and_parse(captured, tmp_path / "build", fixed=False)
    assert "tolower" in (project / "objects.cu").read_text()
    sent, got = results[CAPITALISED[case]]
    assert failed is None  # the shipped program exits 0 ...
    assert not np.array_equal(got, sent) and not got.any()  # ... with the value never set
    lowered = CAPITALISED[case].split(".")[1].lower()
    assert f"_{lowered}_" in capfd.readouterr().err  # its only sign: the lowercased file name, on stderr


def test_the_fixed_template_keeps_everything_else():
    """The fix removes the lowercasing and makes an unreadable file fatal; nothing else changes."""
    from pathlib import Path

    import brian2cuda

    shipped = Path(brian2cuda.__file__).parent.joinpath("templates", "objects.cu").read_text()
    fixed = cuda.fixed_objects_template(shipped)
    assert "tolower" in shipped and "tolower" not in fixed
    assert fixed.count("exit(1)") == shipped.count("exit(1)") + 3
    assert 's_value == "True"' in fixed and 's_value == "False"' in fixed
    assert cuda.fixed_objects_template(fixed) == fixed  # idempotent
    untouched = [ln for ln in shipped.splitlines() if "tolower" not in ln and "set_variable_from_file" not in ln]
    missing = [ln for ln in untouched if ln.strip() and ln not in fixed]
    assert len(missing) < 25, missing  # only the lines of the replaced loop and file reader
    with pytest.raises(RuntimeError, match="cannot fix this brian2cuda's objects.cu"):
        cuda.fixed_objects_template(shipped.replace('if (s_value == "true")', 'if (s_value == "yes")'))
