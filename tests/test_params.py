"""Parameter parsing: names and units are checked, values round-trip through JSON."""

from typing import Literal

import pytest
from brian2 import Quantity, cm, ms, mV, uA

from brianlab.errors import BrianlabError
from brianlab.params import apply_assignments, from_json, parameters, parse_quantity, to_json


@parameters
class DemoParams:
    tau: Quantity = 10 * ms  # time constant
    I_app: Quantity = 3 * uA / cm**2  # applied current density
    gain: float = 4.0  # dimensionless factor
    n: int = 100  # count
    shared: bool = False  # a switch
    mode: Literal["explicit", "aggregate"] = "aggregate"  # a choice


def test_parse_quantity_handles_brian_expressions():
    assert parse_quantity("10*ms") == 10 * ms
    assert parse_quantity("-65*mV") == -65 * mV
    assert parse_quantity("3*uA/cm**2") == 3 * uA / cm**2
    assert parse_quantity("0.5") == 0.5


@pytest.mark.parametrize("text", ["__import__('os')", "ms.__class__", "[1, 2]", "foo*ms"])
def test_parse_quantity_refuses_anything_else(text):
    with pytest.raises(ValueError):
        parse_quantity(text)


def test_assignments_convert_to_the_default_types():
    p = apply_assignments(DemoParams, ["tau=20*ms", "I_app=5*uA/cm**2", "gain=2", "n=5e3", "shared=true", "mode=explicit"])
    assert p.tau == 20 * ms and p.I_app == 5 * uA / cm**2
    assert p.gain == 2.0 and p.n == 5000 and isinstance(p.n, int)
    assert p.shared is True and p.mode == "explicit"


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(BrianlabError, match="unknown parameter 'taux'; valid names: tau, I_app, gain, n, shared, mode"):
        apply_assignments(DemoParams, ["taux=1*ms"])


@pytest.mark.parametrize(
    "item, message",
    [
        ("tau=10", "parameter 'tau' needs a unit: it is a time"),
        ("tau=10*mV", "parameter 'tau' has the wrong unit: it is a time"),
        ("I_app=3*amp", "has the wrong unit"),
        ("gain=2*mV", "takes a plain number"),
        ("n=2.5", "whole number"),
        ("shared=maybe", "true or false"),
        ("mode=fast", "must be one of explicit, aggregate"),
        ("tau", "expects name=value"),
        ("tau=10*furlong", "unknown unit 'furlong'"),
    ],
)
def test_bad_values_are_one_clear_error(item, message):
    with pytest.raises(BrianlabError, match=message):
        apply_assignments(DemoParams, [item])


def test_json_round_trip_keeps_units():
    p = apply_assignments(DemoParams, ["tau=0.1*ms", "I_app=7*uA/cm**2", "mode=explicit"])
    data = to_json(p)
    assert data["tau"]["unit"] == "s" and data["tau"]["si"] == pytest.approx(1e-4)
    assert from_json(DemoParams, data) == p


def test_json_with_a_wrong_unit_is_refused():
    data = to_json(DemoParams())
    data["tau"]["unit"] = "V"
    with pytest.raises(BrianlabError, match="is not a value in s"):
        from_json(DemoParams, data)


@pytest.mark.parametrize(
    "item, message",
    [
        ("n=1e999", "not finite"),
        ("n=10**400", "not finite"),
        ("gain=0*1e999", "not finite"),
        ("tau=1e999*ms", "not finite"),
        ("tau=1e308*10*ms", "not finite"),
        ("tau=ms/0", "not finite"),
        ("gain=1/0", "division by zero"),
        ("tau=(-1)**0.5*ms", "complex"),
        ("tau=ms+mV", "different units"),
        ("tau=ms**ms", "an exponent has no unit"),
        ("tau=ms**9", "power is at most"),
        ("tau=9**9**9*ms", "not finite"),
        ("tau=1j*ms", "only numbers, unit names"),
        ("tau=" + "-" * 500 + "1*ms", "too long"),
        ("tau=((ms)", "cannot parse"),
        ("n=1e30", "at most 9223372036854775807"),
        ("tau=", "empty value"),
        ("tau=(10\n*mV)", "wrong unit"),
    ],
)
def test_non_finite_complex_and_malformed_values_are_refused(item, message):
    with pytest.raises(BrianlabError, match=message) as info:
        apply_assignments(DemoParams, [item])
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "data, message",
    [
        ([], "not a JSON object"),
        ({"tau": 5}, "is not a value in s"),
        ({"tau": {"unit": "s", "si": "x"}}, "is not a value in s"),
        ({"tau": {"unit": "s", "si": 10**400}}, "not finite"),
        ({"tau": {"unit": "s", "si": float("nan")}}, "not finite"),
        ({"n": [1]}, "not a number"),
        ({"n": 2.5}, "whole number"),
        ({"shared": "perhaps"}, "true or false"),
        ({"mode": 3}, "must be one of"),
        ({"nope": 1}, "unknown to this version"),
    ],
)
def test_corrupt_saved_parameters_are_one_clear_error(data, message):
    with pytest.raises(BrianlabError, match=message):
        from_json(DemoParams, data)


def test_saved_parameters_missing_a_name_take_its_default():
    data = to_json(apply_assignments(DemoParams, ["gain=2"]))
    del data["tau"]
    assert from_json(DemoParams, data) == apply_assignments(DemoParams, ["gain=2"])
