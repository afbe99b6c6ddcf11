"""The model contract, run on every registered model (as scikit-learn's estimator checks are).

A new model registered under the ``brianlab.models`` entry points is picked up here
with no other edit: with its ``tiny`` parameters, on runtime and cpp_standalone, it
must return a Result, write its figures, declare sweepable names that are parameters,
rerun a compiled program for a new sweepable value without compiling, and give
identical results for the same seed.
"""

from __future__ import annotations

import dataclasses
import math

import brian2 as b2
import numpy as np
import pytest

from brianlab import devices, records
from brianlab.model import Model, Result, get_model, model_names
from brianlab.params import apply_assignments
from brianlab.runner import record_run
from conftest import device_params

MODELS = model_names()


def tiny_params(model):
    return apply_assignments(model.params, [f"{name}={value}" for name, value in model.tiny.items()])


def nudged(value):
    """A different valid-looking value of the same kind: an int plus one, a number a quarter up."""
    if isinstance(value, (int, np.integer)):
        return value + 1
    scale = abs(value) if value != 0 else (b2.Quantity(1, dim=value.dim) if isinstance(value, b2.Quantity) else 1.0)
    return value + 0.25 * scale


def changed_sweepable(model, params):
    """``(name, params with that sweepable value changed)``, the first that changes validly, or (None, None)."""
    for name in model.sweepable_names(params):
        value = getattr(params, name)
        if isinstance(value, (bool, str)) or (isinstance(value, b2.Quantity) and value.ndim):
            continue
        try:
            return name, dataclasses.replace(params, **{name: nudged(value)})
        except (ValueError, TypeError):
            continue
    return None, None


@pytest.mark.parametrize("name", MODELS)
def test_declares_the_contract(name):
    model = get_model(name)
    assert isinstance(model, Model) and model.name == name
    assert model.summary and dataclasses.is_dataclass(model.params)
    assert model.tiny, f"{name} gives no tiny parameters for a quick run"
    params = tiny_params(model)
    fields = {f.name for f in dataclasses.fields(model.params)}
    for p in (model.params(), params):
        names = model.sweepable_names(p)
        assert set(names) <= fields, f"sweepable names that are not parameters: {set(names) - fields}"
    # The program key is the shape: it ignores sweepable values and sees the rest.
    swept, other = changed_sweepable(model, params)
    if swept is not None:
        assert model.program_key(other) == model.program_key(params)


@pytest.mark.parametrize("device", device_params("runtime", "cpp_standalone"))
@pytest.mark.parametrize("name", MODELS)
def test_runs_by_the_contract(name, device, tmp_path):
    model = get_model(name)
    params = tiny_params(model)
    swept, changed = changed_sweepable(model, params)
    options = devices.DeviceOptions(codegen_target="numpy") if device == "runtime" else devices.DeviceOptions()
    runs = []
    with devices.DeviceSession(device, options, build_root=tmp_path / "build", seed=3, progress=False) as session:
        result = model.simulate(params, session)
        # the same seed twice, then one sweepable value changed, all on the compiled program
        for k, p in enumerate([params, params] + ([changed] if changed is not None else [])):
            session.seed = 3
            runs.append(record_run(model, p, session, records.StagedRun(tmp_path / f"run{k}"), figures=(k == 0)))
    assert isinstance(result, Result)
    assert all(isinstance(v, np.ndarray) for v in result.arrays.values())
    assert all(isinstance(v, (int, float, bool, str, type(None))) for v in result.metrics.values())

    (first, m1), (second, m2) = runs[:2]
    figures = sorted((first / records.FIGURES).glob("*.png"))
    assert figures and all(f.stat().st_size > 1000 for f in figures), "no figures written"
    a1, a2 = records.load_run(first, model).arrays, records.load_run(second, model).arrays
    assert a1.keys() == a2.keys()
    for key in a1:
        assert np.array_equal(a1[key], a2[key], equal_nan=True), f"{key} differs between two runs of one seed"
    for key in m1:
        if not (key.endswith("_s") or "_per_s" in key):  # wall times and rates per wall-second differ
            assert m1[key] == m2[key] or (isinstance(m1[key], float) and math.isnan(m1[key]) and math.isnan(m2[key])), key
    if device == "cpp_standalone" and swept is not None:
        _, m3 = runs[2]
        assert m3["n_compiles"] == 0 and m3["n_runs"] >= 1, f"changing {swept} recompiled the program"


@pytest.mark.parametrize("name", model_names())
def test_every_preset_gives_valid_parameters_that_differ_from_the_defaults(name):
    model = get_model(name)
    defaults = model.params()
    for preset, assignments in model.presets.items():
        params = apply_assignments(model.params, list(assignments))
        changed = {f.name for f in dataclasses.fields(params) if getattr(params, f.name) != getattr(defaults, f.name)}
        named = {a.split("=", 1)[0] for a in assignments}
        assert changed and changed <= named, (preset, changed, named)
