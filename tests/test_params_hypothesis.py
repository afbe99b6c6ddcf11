"""Property: for any ``--set`` text, every registered model's parameters parse or refuse in one line.

For any text given to any parameter of any model, :func:`brianlab.params.apply_assignments`
either returns parameters whose value has the kind of the default (the same dimension, finite
and real; a whole number; a bool; one of the choices), or raises ``BrianlabError`` with a
one-line message. Nothing else (an OverflowError, a RecursionError, a NaN accepted) may happen.
"""

import dataclasses
import math
import typing

import numpy as np
import pytest
from brian2 import Quantity, have_same_dimensions

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from brianlab.errors import BrianlabError  # noqa: E402
from brianlab.model import get_model, model_names  # noqa: E402
from brianlab.params import _field_types, apply_assignments, format_value  # noqa: E402

MODELS = model_names()
UNITS = ["ms", "second", "mV", "volt", "Hz", "kHz", "nS", "psiemens", "pA", "uA", "cm", "meter", "pF",
         "nfarad", "ohm", "mM", "kg", "metre", "furlong", "x", "e", "inf", "nan", "pi"]
NUMBERS = st.one_of(
    st.integers(min_value=-10**30, max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["0", "1", "-1", "0.5", "1e999", "1e-999", "1e308", "2", "0.0", "1_0", "0x1f", "1j", ".5e3", "1" + "0" * 400]),
)
ATOMS = st.one_of(NUMBERS, st.sampled_from(UNITS))


def _combine(children):
    binary = st.tuples(children, st.sampled_from(["+", "-", "*", "/", "**"]), children).map(
        lambda t: f"{t[0]}{t[1]}{t[2]}")
    return st.one_of(binary, children.map(lambda c: f"({c})"), children.map(lambda c: f"-{c}"))


#: Brian-like expressions (the grammar, with huge, tiny, infinite and complex parts), and any text.
EXPRESSIONS = st.recursive(ATOMS, _combine, max_leaves=12)
TEXTS = st.one_of(EXPRESSIONS, EXPRESSIONS, st.text(max_size=40),
                  st.text(alphabet="0123456789.e+-*/() msVHz", max_size=30))


def _check_value(value, default, annotation):
    """The parsed value has the kind of the default."""
    if typing.get_origin(annotation) is typing.Literal:
        assert value in typing.get_args(annotation)
    elif isinstance(default, bool):
        assert isinstance(value, bool)
    elif isinstance(default, str):  # text parameters (a path, a weights source) keep the text
        assert isinstance(value, str)
    elif isinstance(default, Quantity):
        assert isinstance(value, Quantity) and have_same_dimensions(value, default)
        assert np.isfinite(float(value)) and not np.iscomplexobj(value)
    elif isinstance(default, int):
        assert isinstance(value, int) and not isinstance(value, bool)
    else:
        assert isinstance(value, float) and math.isfinite(value)


@pytest.mark.parametrize("model_name", MODELS)
@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data(), text=TEXTS)
def test_any_text_parses_to_the_right_kind_or_is_one_line_refusal(model_name, data, text):
    cls = get_model(model_name).params
    name = data.draw(st.sampled_from([f.name for f in dataclasses.fields(cls)]), label="parameter")
    default, annotation = getattr(cls(), name), _field_types(cls)[name]
    try:
        params = apply_assignments(cls, [f"{name}={text}"])
    except BrianlabError as exc:
        message = str(exc)
        assert message and "\n" not in message and "Traceback" not in message
        return
    _check_value(getattr(params, name), default, annotation)


@pytest.mark.parametrize("model_name", MODELS)
def test_every_default_reads_back_from_its_own_text(model_name):
    """``format_value`` of each default is a ``--set`` text that gives the default back."""
    cls = get_model(model_name).params
    defaults = cls()
    for f in dataclasses.fields(cls):
        value = getattr(apply_assignments(cls, [f"{f.name}={format_value(getattr(defaults, f.name))}"]), f.name)
        expected = getattr(defaults, f.name)
        if isinstance(expected, Quantity):
            assert have_same_dimensions(value, expected)
            assert float(value) == pytest.approx(float(expected), rel=1e-5)
        else:
            assert value == expected
