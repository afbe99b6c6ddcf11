"""Model parameters: frozen dataclasses whose defaults carry Brian units.

A model declares its parameters like this::

    @parameters
    class LIFParams:
        tau_m: Quantity = 10 * ms  # membrane time constant
        n_neurons: int = 100  # population size
        method: Literal["exact", "euler"] = "exact"  # integration method

:func:`parameters` turns the class into a frozen dataclass (Quantity defaults are
allowed), and the trailing comments become the descriptions shown by
``brianlab show MODEL``. :func:`apply_assignments` parses ``--set name=value``
strings, checking the name and the unit against the defaults.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import functools
import inspect
import io
import operator
import re
import tokenize
import typing
from typing import Any

import numpy as np
from brian2 import DimensionMismatchError, Quantity, get_dimensions, have_same_dimensions
from brian2.core.namespace import DEFAULT_UNITS
from brian2.units.fundamentalunits import get_unit, standard_unit_register

from brianlab.errors import BrianlabError

__all__ = [
    "parameters",
    "param",
    "apply_values",
    "describe",
    "apply_assignments",
    "parse_assignments",
    "format_value",
    "parse_quantity",
    "to_json",
    "from_json",
    "structure_key",
]

# Brian's unit names (``volt``, ``mV``, ``cm2``) and display names (``V``, ``S``).
_UNITS = dict(DEFAULT_UNITS)
for _unit in list(DEFAULT_UNITS.values()):
    _UNITS.setdefault(getattr(_unit, "dispname", None) or str(_unit), _unit)

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def param(default: Any, help: str) -> Any:
    """A parameter field with its one-line ``help`` (what ``brianlab show`` prints).

    ``tau_m: Quantity = param(10 * ms, "membrane time constant")`` is the same as
    ``tau_m: Quantity = 10 * ms  # membrane time constant``; use it where the help
    text is not a short comment.
    """
    metadata = {"help": help}
    if isinstance(default, np.ndarray):
        return dataclasses.field(default_factory=functools.partial(copy.copy, default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def parameters(cls: type) -> type:
    """Make ``cls`` a frozen dataclass whose defaults may be Brian quantities.

    Plain dataclasses refuse array-like defaults (a ``Quantity`` is an ndarray);
    each such default is given to the dataclass as a factory returning a copy.
    Each field's help text is kept in its metadata (``field.metadata["help"]``):
    from :func:`param`, else from the comment that follows the field's line.
    """
    comments = _field_comments(cls)
    for name in getattr(cls, "__annotations__", {}):
        default = cls.__dict__.get(name, dataclasses.MISSING)
        if isinstance(default, dataclasses.Field):
            continue
        metadata = {"help": comments.get(name, "")}
        if isinstance(default, np.ndarray):
            field = dataclasses.field(default_factory=functools.partial(copy.copy, default), metadata=metadata)
        elif default is dataclasses.MISSING:
            field = dataclasses.field(metadata=metadata)
        else:
            field = dataclasses.field(default=default, metadata=metadata)
        setattr(cls, name, field)
    return dataclasses.dataclass(frozen=True)(cls)


def _field_comments(cls):
    """Map field name -> the comment that follows its line in the class source."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    comments = {}
    line_field = {}
    for lineno, line in enumerate(source.splitlines(), start=1):
        match = re.match(r"\s+([A-Za-z_]\w*)\s*:", line)
        if match:
            line_field[lineno] = match.group(1)
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT and tok.start[0] in line_field:
            comments[line_field[tok.start[0]]] = tok.string.lstrip("#").strip()
    return comments


def _field_types(cls):
    module = inspect.getmodule(cls)
    namespace = dict(vars(module)) if module else {}
    namespace.setdefault("Quantity", Quantity)
    namespace.setdefault("Literal", typing.Literal)
    return typing.get_type_hints(cls, globalns=namespace)


def describe(cls):
    """Rows ``(name, default_text, kind_text, comment)`` for every parameter of ``cls``."""
    defaults = cls()
    types = _field_types(cls)
    rows = []
    for f in dataclasses.fields(cls):
        value = getattr(defaults, f.name)
        rows.append((f.name, _text(value), _kind(types[f.name], value), f.metadata.get("help", "")))
    return rows


def format_value(value):
    """``value`` as text that ``--set name=TEXT`` reads back (``20*ms``, ``true``, ``500``)."""
    return _text(value)


def _text(value):
    """``value`` as text that :func:`parse_quantity` (or the bool/str parsers) reads back."""
    if isinstance(value, Quantity):
        if value.is_dimensionless:
            return f"{float(value):g}"
        if value.shape == ():
            return _scalar_quantity_text(float(value), value.dim)
        return _quantity_text(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@functools.lru_cache(maxsize=4096)
def _scalar_quantity_text(si, dim):
    # Brian's choice of the best unit is slow (a few ms), and a sweep asks for the
    # same few values at every point: remember each answer.
    return _quantity_text(Quantity(si, dim=dim))


def _quantity_text(value):
    number, _, unit = str(value).partition(" ")
    if re.fullmatch(r"[A-Za-z]+", unit):
        return f"{float(number):g}*{unit}"
    return repr(value).replace(" ", "")


def _kind(annotation, default):
    if typing.get_origin(annotation) is typing.Literal:
        return "one of " + "|".join(str(a) for a in typing.get_args(annotation))
    if isinstance(default, Quantity):
        return _dimension_name(default)
    if annotation is bool:
        return "true|false"
    return getattr(annotation, "__name__", str(annotation))


_NAMED_DIMENSIONS = {
    "s": "time",
    "V": "voltage",
    "Hz": "rate",
    "A": "current",
    "S": "conductance",
    "F": "capacitance",
    "m": "length",
    "ohm": "resistance",
}


def _dimension_name(quantity):
    dim = get_dimensions(quantity)
    unit = get_unit(dim)
    label = _NAMED_DIMENSIONS.get(str(unit), None)
    if quantity.is_dimensionless:
        return "dimensionless"
    return f"{label} ({unit})" if label else f"quantity in {unit}"


# ----------------------------------------------------------------------------
# parsing Brian-style quantity expressions without eval()
# ----------------------------------------------------------------------------

_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}

#: Longest value text :func:`parse_quantity` reads (a value, not a program).
MAX_TEXT = 200
#: Largest power a quantity with a unit may be raised to (``cm**2``, ``m**-4``).
MAX_UNIT_POWER = 8
#: Largest magnitude of a whole-number parameter (it must fit a 64-bit integer).
MAX_INT = 2**63 - 1


def parse_quantity(text):
    """Evaluate a Brian-style expression such as ``10*ms`` or ``3*uA/cm**2``.

    Only numbers, Brian unit names, parentheses and ``+ - * / **`` are allowed.
    Every number, and every intermediate result, must be real and finite.

    Returns
    -------
    float or Quantity

    Raises
    ------
    ValueError
        If the text is not such an expression, names an unknown unit, adds
        quantities of different dimensions, or any part of it is infinite,
        not a number, or complex. The message is one line.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected text, got {type(text).__name__}")
    stripped = text.strip()
    if len(stripped) > MAX_TEXT:
        raise ValueError(f"value of {len(stripped)} characters is too long (at most {MAX_TEXT})")
    if not stripped:
        raise ValueError("empty value")
    try:
        tree = ast.parse(stripped, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise ValueError(f"cannot parse {text!r} as a quantity") from None
    try:
        with np.errstate(all="ignore"):
            return _evaluate(tree.body, text)
    except RecursionError:
        raise ValueError(f"cannot parse {text!r}: nested too deeply") from None


def _checked(value, text):
    """``value`` if it is a real, finite number or quantity; else ValueError."""
    if isinstance(value, complex) or (isinstance(value, np.ndarray) and np.iscomplexobj(value)):
        raise ValueError(f"{text!r} is a complex number; parameters are real")
    array = np.asarray(value)
    if array.shape != () or not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"{text!r} is not a single number")
    if not np.isfinite(array):
        raise ValueError(f"{text!r} is not finite (infinite or not a number)")
    return value


def _evaluate(node, text):
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        try:
            return _checked(float(node.value), text)
        except OverflowError:
            raise ValueError(f"{text!r} is not finite (a number too large)") from None
    if isinstance(node, ast.Name):
        if node.id in _UNITS:  # as a Quantity: Brian's Unit arithmetic registers new units
            unit = _UNITS[node.id]
            return Quantity(float(unit), dim=get_dimensions(unit))
        raise ValueError(f"unknown unit {node.id!r} in {text!r}")
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _evaluate(node.left, text), _evaluate(node.right, text)
        if isinstance(node.op, ast.Pow):
            if isinstance(right, Quantity) and not right.is_dimensionless:
                raise ValueError(f"cannot parse {text!r}: an exponent has no unit")
            if isinstance(left, Quantity) and not left.is_dimensionless and abs(float(right)) > MAX_UNIT_POWER:
                raise ValueError(f"cannot parse {text!r}: a unit's power is at most {MAX_UNIT_POWER}")
            right = float(right)
        try:
            value = _BINOPS[type(node.op)](left, right)
        except DimensionMismatchError:
            raise ValueError(f"cannot parse {text!r}: it adds or subtracts quantities of different units") from None
        except ZeroDivisionError:
            raise ValueError(f"cannot parse {text!r}: division by zero") from None
        except TypeError:
            raise ValueError(f"cannot parse {text!r}: it combines values that do not combine") from None
        except OverflowError:
            raise ValueError(f"{text!r} is not finite (a number too large)") from None
        return _checked(value, text)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _checked(_UNARY[type(node.op)](_evaluate(node.operand, text)), text)
    raise ValueError(f"cannot parse {text!r}: only numbers, unit names and + - * / ** are allowed")


def _convert(name, text, default, annotation):
    """Convert ``text`` (command-line text, or a Python value) to the type of ``default``.

    Raises
    ------
    BrianlabError
        One line naming the parameter, what it takes and what was given.
    """
    if typing.get_origin(annotation) is typing.Literal:
        choices = typing.get_args(annotation)
        for choice in choices:
            if isinstance(text, (str, type(choice))) and str(choice) == str(text):
                return choice
        raise BrianlabError(
            f"parameter {name!r} must be one of {', '.join(map(str, choices))}; got {_shown(text)}"
        )
    if isinstance(default, bool) or annotation is bool:
        if isinstance(text, (bool, np.bool_)):
            return bool(text)
        lowered = str(text).strip().lower() if isinstance(text, str) else None
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise BrianlabError(f"parameter {name!r} is true or false; got {_shown(text)}")
    if isinstance(default, str) or annotation is str:
        if not isinstance(text, str):
            raise BrianlabError(f"parameter {name!r} is text; got {_shown(text)}")
        return text
    try:
        if isinstance(text, str):
            value = parse_quantity(text)
        elif isinstance(text, (bool, np.bool_)) or not isinstance(text, (int, float, np.number, Quantity)):
            raise ValueError(f"{_shown(text)} is not a number or a quantity")
        else:
            with np.errstate(all="ignore"):
                value = _checked(text if isinstance(text, Quantity) else float(text), _shown(text))
    except OverflowError:
        raise BrianlabError(f"parameter {name!r}: {_shown(text)} is not finite (a number too large)") from None
    except ValueError as exc:
        raise BrianlabError(f"parameter {name!r}: {exc}") from None
    if isinstance(default, Quantity) and not default.is_dimensionless:
        expected = _dimension_name(default)
        example = _text(default)
        if not isinstance(value, Quantity) or value.is_dimensionless:
            raise BrianlabError(
                f"parameter {name!r} needs a unit: it is a {expected}, e.g. {name}={example}"
            )
        if not have_same_dimensions(value, default):
            raise BrianlabError(
                f"parameter {name!r} has the wrong unit: it is a {expected}, e.g. "
                f"{name}={example}; got {_shown(text)} ({_dimension_text(value)})"
            )
        return Quantity(float(value), dim=get_dimensions(default))
    if isinstance(value, Quantity) and not value.is_dimensionless:
        raise BrianlabError(f"parameter {name!r} takes a plain number (no unit); got {_shown(text)}")
    value = float(value)
    if isinstance(default, (int, np.integer)) and not isinstance(default, bool) or annotation is int:
        if value != int(value):
            raise BrianlabError(f"parameter {name!r} takes a whole number; got {_shown(text)}")
        if abs(value) > MAX_INT:
            raise BrianlabError(f"parameter {name!r} takes a whole number of at most {MAX_INT}; got {_shown(text)}")
        return int(value)
    return value


def _shown(text):
    """``text`` for an error message: quoted, on one line, and not too long."""
    shown = repr(text) if isinstance(text, str) else repr(text).replace("\n", " ")
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _dimension_text(value):
    """The dimension of ``value`` as a one-line text that never fails."""
    try:
        return _dimension_name(value)
    except Exception:  # an odd dimension (ms**0.5) that Brian has no unit for
        return f"dimension {get_dimensions(value)}"


def apply_assignments(cls, assignments, base=None):
    """Return ``base`` (default: ``cls()``) with ``name=value`` assignments applied.

    Parameters
    ----------
    cls : type
        A class made by :func:`parameters`.
    assignments : iterable of str
        Strings such as ``"tau_m=20*ms"`` or ``"n_neurons=5000"``.
    base : instance of ``cls``, optional
        The starting values.

    Raises
    ------
    BrianlabError
        For a malformed assignment, an unknown name (the message lists the valid
        ones), a missing or wrong unit, or a value the model rejects.
    """
    base = cls() if base is None else base
    changes = parse_assignments(cls, assignments, base)
    try:
        return dataclasses.replace(base, **changes)
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise BrianlabError(f"invalid parameters: {exc}") from None


def apply_values(cls, values, base=None):
    """Return ``base`` (default: ``cls()``) with ``{name: value}`` applied, as :func:`apply_assignments`.

    A value may be a string, read as on the command line (``"20*ms"``), or a
    Python value (a Brian quantity, a number, a bool); either is checked for its
    name, dimension and kind.

    Raises
    ------
    BrianlabError
        For an unknown name, a wrong unit or kind, or a value the model rejects.
    """
    base = cls() if base is None else base
    texts = [f"{name}={value}" for name, value in values.items() if isinstance(value, str)]
    changes = parse_assignments(cls, texts, base)
    for name, value in values.items():
        if not isinstance(value, str):
            changes[name] = _convert(name, value, getattr(base, name), _field_types(cls)[name]) \
                if name in _field_types(cls) else parse_assignments(cls, [f"{name}=0"], base)
    try:
        return dataclasses.replace(base, **changes)
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise BrianlabError(f"invalid parameters: {exc}") from None


def parse_assignments(cls, assignments, base=None):
    """``{name: value}`` for ``name=value`` strings, each checked alone.

    Names and units are checked as in :func:`apply_assignments`, but the values
    are not combined into a parameter set, so checks that involve several
    parameters (``v_reset < v_thresh``) are left to :func:`apply_assignments`.

    Raises
    ------
    BrianlabError
        For a malformed assignment, an unknown name or a missing or wrong unit.
    """
    base = cls() if base is None else base
    names = [f.name for f in dataclasses.fields(cls)]
    types = _field_types(cls)
    changes = {}
    for item in assignments or ():
        if "=" not in item:
            raise BrianlabError(f"--set expects name=value (e.g. {names[0]}=...), got {item!r}")
        name, text = (part.strip() for part in item.split("=", 1))
        if name not in names:
            raise BrianlabError(
                f"unknown parameter {name!r}; valid names: {', '.join(names)}"
            )
        changes[name] = _convert(name, text, getattr(base, name), types[name])
    return changes


# ----------------------------------------------------------------------------
# JSON round trip
# ----------------------------------------------------------------------------


def _unit_text(dim):
    """The name of the unscaled unit of ``dim`` (``V``, ``m^-2 A``).

    Only Brian's standard units are looked up: ``get_unit`` also finds units that
    Brian registers while it builds a network (``amp/meter**2`` becomes
    ``A/(m^2)`` once some equations used it), so its answer depends on what ran
    before and a saved run would not read back.
    """
    units = standard_unit_register.units_for_dimensions[dim]
    return str(units[1.0]) if 1.0 in units else str(dim)


def to_json(params):
    """A JSON-able dict of every parameter; quantities keep value and unit."""
    out = {}
    for f in dataclasses.fields(params):
        value = getattr(params, f.name)
        if isinstance(value, Quantity):
            out[f.name] = {
                "value": _text(value),
                "si": float(value),
                "unit": _unit_text(get_dimensions(value)),
            }
        elif isinstance(value, np.generic):
            out[f.name] = value.item()
        else:
            out[f.name] = value
    return out


def from_json(cls, data):
    """Rebuild parameters saved by :func:`to_json`, checking names, units and values.

    A parameter missing from ``data`` takes its default (a run saved before the
    parameter existed); every saved value is checked as a ``--set`` value is.

    Raises
    ------
    BrianlabError
        If ``data`` is not a dict, a name is unknown to ``cls``, a unit does not
        match its default, or a value is of the wrong kind or not finite.
    """
    if not isinstance(data, dict):
        raise BrianlabError(f"saved parameters are not a JSON object: {_shown(data)}")
    defaults = cls()
    types = _field_types(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise BrianlabError(
            f"saved parameters {', '.join(map(str, unknown))} are unknown to this version of the model"
        )
    values = {}
    for name, saved in data.items():
        default = getattr(defaults, name)
        if isinstance(default, Quantity):
            unit = _unit_text(get_dimensions(default))
            units = {unit, str(get_unit(get_dimensions(default)))}  # the latter: runs saved before _unit_text
            si = saved.get("si") if isinstance(saved, dict) else None
            if not isinstance(saved, dict) or saved.get("unit") not in units or \
                    isinstance(si, bool) or not isinstance(si, (int, float)):
                raise BrianlabError(f"saved parameter {name!r} is not a value in {unit}: {_shown(saved)}")
            try:
                saved_value = Quantity(float(si), dim=get_dimensions(default))
            except OverflowError:
                raise BrianlabError(f"saved parameter {name!r} is not finite: {_shown(saved)}") from None
            values[name] = _convert(name, saved_value, default, types[name])
        else:
            values[name] = _convert(name, saved, default, types[name])
    try:
        return dataclasses.replace(defaults, **values)
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise BrianlabError(f"saved parameters are invalid: {exc}") from None


def structure_key(params, sweepable=()):
    """A hashable key of every parameter not in ``sweepable``.

    Two parameter sets with the same key build the same network shape; the
    ``sweepable`` ones reach the compiled network as ``run_args`` values.
    """
    data = to_json(params)
    return tuple(sorted((name, repr(value)) for name, value in data.items() if name not in sweepable))
