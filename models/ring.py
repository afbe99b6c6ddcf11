"""Recurrent ring attractor with threshold-linear rate dynamics (``ring``).

A published rate model of attention: ``N`` units at positions ``x`` (by default
``linspace(-2, 2, N)``), each receiving a sensory input ``I_S(x)``, an attention
bias ``I_A(x)`` and recurrent input from every unit through the kernel
``J(dx) = J_0 + J_1 exp(-dx^2 / (2 sigma_J^2))`` (0 for ``|dx| >= l``), summed
as ``(1/N) sum_j J(x_i - x_j) R_j``. The self-consistent rates the paper asks
for,

    R_i = [ I_S(x_i) + I_A(x_i) + (1/N) sum_j J(x_i - x_j) R_j - T ]_+,

are the fixed point of the rate dynamics simulated here,

    tau dR_i/dt = -R_i + f(u_i),    u_i = I_S + I_A + I_rec - T,

with ``f`` threshold-linear (``[u]_+``), optionally saturating at ``r_max``
(``min([u]_+, r_max)``, or ``r_max tanh([u]_+/r_max)`` with ``transfer=tanh``).
Solving the equations by recursion or root finding fails when they have no
bounded solution; the dynamics say so instead: the rates either settle (the
residual ``|-R + f(u)|`` falls below ``tol``: ``converged``) or grow without
bound. Growth is caught, never overflowed: ``f`` is clipped at ``R_bound`` inside
the equations, and the first time a unit's drive ``u`` reaches the bound is
recorded in the network (``diverged``, ``t_diverge``). The largest eigenvalue of
the recurrent matrix on the active set (``eig_active``) says why: above 1, the
active units excite each other faster than they decay.

Geometry ``line`` uses the distance ``x_i - x_j`` as published; ``ring`` puts
the units on a circle of circumference 4 (``x = -2 + 4 k/N``) with periodic
distance, the geometry of a ring attractor. Inputs follow a schedule of
TimedArrays (the inputs' gain and the centres of the sensory and attention inputs), so cues
switch off (``input_off``) and a second cue appears (``cue2_*``) inside the
network, on every device. The recurrent weights are computed in the network
from ``(constant, shared)`` variables at the start of every run, as are the
inputs, so sweeps of ``J_0``, ``J_1``, ``sigma_J``, the inputs and the schedule
reuse one compiled project.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, NamedTuple

import brian2 as b2
import numpy as np
from brian2 import Quantity, ms, second
from matplotlib.axes import Axes
from numpy.typing import ArrayLike

from brianlab import plotting
from brianlab.devices import DeviceSession
from brianlab.model import Model, Result, RunRecord
from brianlab.params import parameters
from brianlab.recordings import Trace

# ----------------------------------------------------------------------------
# equations (rates, inputs and positions are dimensionless, as in the paper)
# ----------------------------------------------------------------------------

#: The rate dynamics; ``{transfer}`` and ``{distance}`` are filled in by geometry and transfer.
RATE_EQS = """
dR/dt = (-R + f) / tau : 1  # rate, relaxing to f(u)
f = {transfer} : 1  # transfer function of the drive, never above R_bound
u = I_S + I_A + I_rec - T : 1  # drive: inputs plus recurrent input minus threshold
I_S = input_gain(t) * (S_0 + S_1 * exp(-d_S**2 / (2 * sigma_S**2))) : 1  # sensory input
I_A = input_gain(t) * int(abs(d_A) < l) * (A_1 * exp(-d_A**2 / (2 * sigma_A**2)) + A_0 * exp(-d_A**2 / (2 * sigma_A_prime**2))) : 1  # attention bias
d_S = {distance_S} : 1  # distance from the sensory centre
d_A = {distance_A} : 1  # distance from the attention centre
I_rec : 1  # recurrent input (1/N) sum_j J(x_i - x_j) R_j, summed by syn_rec
x : 1 (constant)  # position of the unit
t_bound : second  # first time the drive reached R_bound (-1 s: never)
tau : second (constant, shared)  # rate time constant
T : 1 (constant, shared)  # threshold
S_0 : 1 (constant, shared)  # sensory input, constant part
S_1 : 1 (constant, shared)  # sensory input, Gaussian amplitude
sigma_S : 1 (constant, shared)  # sensory input width
A_0 : 1 (constant, shared)  # attention bias, broad amplitude
A_1 : 1 (constant, shared)  # attention bias, narrow amplitude
sigma_A : 1 (constant, shared)  # attention bias, narrow width
sigma_A_prime : 1 (constant, shared)  # attention bias, broad width
l : 1 (constant, shared)  # cut-off distance of the attention bias
r_top : 1 (constant, shared)  # r_max, or R_bound when unbounded
R_bound : 1 (constant, shared)  # bound past which the rates count as divergent
"""
#: ``f(u)``: threshold-linear, clipped at r_top (r_max, or R_bound without saturation).
TRANSFER_LINEAR = "clip(u, 0, r_top)"
#: ``f(u)``: r_max tanh([u]_+ / r_max).
TRANSFER_TANH = "r_top * tanh(clip(u, 0, R_bound) / r_top)"
#: Every time step: remember when a unit's drive first reached the bound.
BOUND_CODE = "t_bound = t_bound + int(t_bound/second < 0 and u >= R_bound) * (t - t_bound)"

#: Distances: plain on the line, periodic (circumference ``period``) on the ring.
DISTANCE = {"line": "{a} - {b}", "ring": "(({a} - {b} + period/2) % period) - period/2"}

SYN_EQS = """
w : 1  # J(x_post - x_pre) / N, set at the start of the run from the kernel constants
J_0 : 1 (constant, shared)  # kernel offset (negative: global inhibition)
J_1 : 1 (constant, shared)  # kernel Gaussian amplitude (local excitation)
sigma_J : 1 (constant, shared)  # kernel width
l_J : 1 (constant, shared)  # kernel cut-off distance
"""
SYN_SUMMED = "I_rec_post = w * R_pre : 1 (summed)"
#: The kernel, evaluated once at t=0 of every run (so its constants are run_args).
KERNEL_CODE = """
dx_J = {distance}
w = (J_0 + J_1 * exp(-dx_J**2 / (2 * sigma_J**2))) * int(abs(dx_J) < l_J) / n_units
"""

#: Extent of the positions (the paper's linspace(-2, 2, N)); the ring's circumference.
X_MIN, X_MAX = -2.0, 2.0
PERIOD = X_MAX - X_MIN


@parameters
class RingParams:
    """Parameters of the ``ring`` model (defaults: the published values, threshold-linear, line)."""

    N: int = 512  # number of units (positions)
    geometry: Literal["line", "ring"] = "line"  # line: x = linspace(-2, 2, N); ring: periodic, circumference 4
    transfer: Literal["threshold-linear", "tanh"] = "threshold-linear"  # f(u): min([u]_+, r_max) or r_max*tanh([u]_+/r_max)
    r_max: float = 0.0  # saturation rate (0: none, threshold-linear as published; tanh needs > 0)
    T: float = 1.0  # threshold
    S_0: float = 0.46  # sensory input, constant part
    S_1: float = 0.66  # sensory input, Gaussian amplitude
    x_S: float = 0.0  # sensory input centre
    sigma_S: float = 1.31  # sensory input width
    A_1: float = 0.089  # attention bias, narrow amplitude
    x_A: float = 0.0  # attention bias centre
    sigma_A: float = 0.35  # attention bias, narrow width
    A_0: float = 0.0  # attention bias, broad amplitude
    sigma_A_prime: float = 0.87  # attention bias, broad width
    l: float = 3.14  # cut-off distance of the attention bias and of the kernel J
    J_0: float = -2.5  # kernel offset (negative: global inhibition)
    J_1: float = 8.5  # kernel Gaussian amplitude (local excitation)
    sigma_J: float = 1.31  # kernel width
    tau: Quantity = 10 * ms  # rate time constant
    duration: Quantity = 1 * second  # simulated time
    dt: Quantity = 0.5 * ms  # integration time step (forward Euler: its fixed point is the exact one)
    input_off: Quantity = 0 * second  # sensory input and attention switch off at this time (0: never)
    cue2_x: float = 1.0  # centre of the second cue (sensory input and attention move there)
    cue2_on: Quantity = 0 * second  # second cue starts (0: no second cue)
    cue2_off: Quantity = 0 * second  # second cue ends (0: stays on to the end)
    cue2_gain: float = 1.0  # the second cue's inputs, relative to the first
    schedule_dt: Quantity = 1 * ms  # time step of the input schedule; switching times are multiples of it
    R_bound: float = 1e6  # rates whose drive reaches this count as divergent (f is clipped there)
    tol: float = 1e-8  # converged: residual max|f(u) - R| below tol times the rate scale
    record_dt: Quantity = 5 * ms  # sampling interval of the recorded rates R(t)

    def __post_init__(self) -> None:
        if self.N < 2:
            raise ValueError("N must be at least 2")
        for name in ("sigma_S", "sigma_A", "sigma_A_prime", "sigma_J"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        if self.r_max < 0:
            raise ValueError("r_max cannot be negative (0: no saturation)")
        if self.transfer == "tanh" and self.r_max == 0:
            raise ValueError("transfer=tanh needs a saturation rate: set r_max > 0")
        if not self.R_bound > 0 or self.r_max >= self.R_bound:
            raise ValueError("R_bound must be positive and above r_max")
        if not self.tol > 0:
            raise ValueError("tol must be positive")
        for name in ("tau", "duration", "dt", "schedule_dt", "record_dt"):
            if not getattr(self, name) > 0 * second:
                raise ValueError(f"{name} must be positive")
        if self.dt > self.schedule_dt or self.dt > self.record_dt:
            raise ValueError("dt must not exceed schedule_dt or record_dt")
        if self.dt >= self.tau:
            raise ValueError("dt must be well below tau (forward Euler)")
        for name in ("duration", "input_off", "cue2_on", "cue2_off"):
            value = float(getattr(self, name) / self.schedule_dt)
            if abs(value - round(value)) > 1e-6:
                raise ValueError(f"{name} must be a multiple of schedule_dt ({self.schedule_dt})")
        for name in ("input_off", "cue2_on", "cue2_off"):
            if getattr(self, name) < 0 * second or getattr(self, name) > self.duration:
                raise ValueError(f"{name} must lie between 0 and duration")
        if self.cue2_off > 0 * second and not self.cue2_off > self.cue2_on:
            raise ValueError("cue2_off must be after cue2_on (or 0: on to the end)")
        if self.cue2_on > 0 * second and self.cue2_on < self.input_off:
            raise ValueError("cue2_on must not be before input_off")
        if self.cue2_off > 0 * second and self.cue2_on == 0 * second:
            raise ValueError("cue2_off needs cue2_on > 0")


#: The attractor regime: a cue makes a bump on the ring that outlives it and follows a new cue.
ATTRACTOR = (
    "geometry=ring", "r_max=1", "J_0=-8", "J_1=24", "sigma_J=0.5",
    "duration=2*second", "input_off=0.3*second", "cue2_on=1*second", "cue2_off=1.5*second", "cue2_gain=2",
)


class RingMonitors(NamedTuple):
    """The monitors of a built ``ring`` network."""

    rates: b2.StateMonitor


# ----------------------------------------------------------------------------
# positions, inputs, weights (NumPy: what the network computes, for metrics and figures)
# ----------------------------------------------------------------------------


def positions(params: RingParams) -> np.ndarray:
    """Positions of the units: linspace(-2, 2, N) on the line, -2 + 4k/N on the ring."""
    if params.geometry == "ring":
        return X_MIN + PERIOD * np.arange(params.N) / params.N
    return np.linspace(X_MIN, X_MAX, params.N)


def distance(params: RingParams, a: ArrayLike, b: ArrayLike) -> np.ndarray | float:
    """``a - b``, periodic on the ring (in [-2, 2))."""
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if params.geometry == "ring":
        d = (d + PERIOD / 2) % PERIOD - PERIOD / 2
    return d


def kernel_matrix(params: RingParams) -> np.ndarray:
    """The recurrent matrix ``W[i, j] = J(x_i - x_j) / N``."""
    x = positions(params)
    dx = distance(params, x[:, None], x[None, :])
    return (params.J_0 + params.J_1 * np.exp(-dx**2 / (2 * params.sigma_J**2))) * (np.abs(dx) < params.l) / params.N


def schedule(params: RingParams) -> dict[str, np.ndarray]:
    """The input schedule: ``{TimedArray name: values per schedule_dt slot}``."""
    slots = int(round(float(params.duration / params.schedule_dt)))
    t = np.arange(slots) * float(params.schedule_dt)
    gain = np.ones(slots)
    if params.input_off > 0 * second:
        gain[t >= float(params.input_off) - 1e-12] = 0.0
    centre_S = np.full(slots, params.x_S)
    centre_A = np.full(slots, params.x_A)
    if params.cue2_on > 0 * second:
        on = t >= float(params.cue2_on) - 1e-12
        if params.cue2_off > 0 * second:
            on &= t < float(params.cue2_off) - 1e-12
        gain[on] = params.cue2_gain
        after = t >= float(params.cue2_on) - 1e-12
        centre_S[after] = params.cue2_x
        centre_A[after] = params.cue2_x
    return {"input_gain": gain, "sensory_x": centre_S, "attention_x": centre_A}


def inputs(params: RingParams, at: Quantity | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(I_S, I_A)`` at time ``at`` (default: the first cue, t=0), as the network computes them."""
    x = positions(params)
    plan = schedule(params)
    k = 0 if at is None else min(int(float(at / params.schedule_dt) + 1e-9), len(plan["input_gain"]) - 1)
    d_S = distance(params, x, plan["sensory_x"][k])
    d_A = distance(params, x, plan["attention_x"][k])
    I_S = plan["input_gain"][k] * (params.S_0 + params.S_1 * np.exp(-d_S**2 / (2 * params.sigma_S**2)))
    I_A = plan["input_gain"][k] * (np.abs(d_A) < params.l) * (
        params.A_1 * np.exp(-d_A**2 / (2 * params.sigma_A**2))
        + params.A_0 * np.exp(-d_A**2 / (2 * params.sigma_A_prime**2))
    )
    return I_S, I_A


def transfer(params: RingParams, u: ArrayLike) -> np.ndarray:
    """``f(u)`` without the divergence bound: [u]_+, min([u]_+, r_max) or r_max tanh([u]_+/r_max)."""
    u = np.maximum(np.asarray(u, dtype=float), 0.0)
    if params.transfer == "tanh":
        return params.r_max * np.tanh(u / params.r_max)
    return np.minimum(u, params.r_max) if params.r_max > 0 else u


def gain(params: RingParams, u: ArrayLike) -> np.ndarray:
    """``f'(u)``: the slope of the transfer function at each drive."""
    u = np.asarray(u, dtype=float)
    if params.transfer == "tanh":
        return np.where(u > 0, 1.0 / np.cosh(np.maximum(u, 0) / params.r_max) ** 2, 0.0)
    slope = (u > 0).astype(float)
    if params.r_max > 0:
        slope[u >= params.r_max] = 0.0
    return slope


def steady_state(
    params: RingParams,
    W: np.ndarray | None = None,
    h: np.ndarray | None = None,
    start: np.ndarray | None = None,
    max_iter: int = 200,
) -> np.ndarray | None:
    """A fixed point of ``R = f(h + W R)`` (NumPy, no Brian): active sets solved exactly.

    Each unit is off (``u <= 0``), linear, or saturated (``u >= r_max``); for
    a guess of these sets the linear units solve ``(I - W_LL) R_L = h_L +
    W_LS r_max`` exactly, and the sets are updated from the resulting drives
    until they repeat. With ``transfer=tanh``, Newton's method on
    ``f(h + W R) - R`` from ``start`` (or from the clipped solution) instead.

    Parameters
    ----------
    W : ndarray, optional
        The recurrent matrix (default :func:`kernel_matrix`).
    h : ndarray, optional
        The external drive ``I_S + I_A - T`` (default: the first cue's).
    start : ndarray, optional
        Rates whose drives give the first guess of the sets (default: R = 0).

    Returns
    -------
    ndarray or None
        The fixed point, or None when the iteration finds no consistent sets
        (there may then be no bounded solution at all).
    """
    W = kernel_matrix(params) if W is None else W
    if h is None:
        I_S, I_A = inputs(params)
        h = I_S + I_A - params.T
    if params.transfer == "tanh":
        R = start if start is not None else _active_sets(W, h, h.copy(), params.r_max, max_iter)
        return None if R is None else _newton(params, W, h, R)
    u = h + (W @ start if start is not None else 0.0)
    return _active_sets(W, h, u, params.r_max if params.r_max > 0 else np.inf, max_iter)


def _active_sets(W: np.ndarray, h: np.ndarray, u: np.ndarray, r_max: float, max_iter: int) -> np.ndarray | None:
    """Fixed point of ``R = clip(h + W R, 0, r_max)`` by active-set iteration from drives ``u``."""
    n = len(h)
    seen = set()
    for _ in range(max_iter):
        saturated = u >= r_max
        linear = (u > 0) & ~saturated
        key = (linear.tobytes(), saturated.tobytes())
        if key in seen:
            return None
        seen.add(key)
        R = np.zeros(n)
        R[saturated] = r_max
        if linear.any():
            rhs = h[linear] + W[np.ix_(linear, saturated)] @ R[saturated]
            try:
                R[linear] = np.linalg.solve(np.eye(int(linear.sum())) - W[np.ix_(linear, linear)], rhs)
            except np.linalg.LinAlgError:
                return None
        u = h + W @ R
        if np.array_equal(u >= r_max, saturated) and np.array_equal((u > 0) & (u < r_max), linear):
            return R
    return None


def _newton(params: RingParams, W: np.ndarray, h: np.ndarray, R: ArrayLike) -> np.ndarray | None:
    """Newton's method on ``f(h + W R) - R`` from ``R``; None if it does not converge."""
    R = np.array(R, dtype=float)
    eye = np.eye(len(h))
    for _ in range(100):
        u = h + W @ R
        residual = transfer(params, u) - R
        if np.max(np.abs(residual)) <= 1e-14 * max(1.0, float(np.max(np.abs(R)))):
            return R
        try:
            R = R - np.linalg.solve(gain(params, u)[:, None] * W - eye, residual)
        except np.linalg.LinAlgError:
            return None
    return None


# ----------------------------------------------------------------------------
# the network
# ----------------------------------------------------------------------------


def build(params: RingParams) -> tuple[b2.Network, RingMonitors]:
    """Build the ``ring`` network (on the default clock; see :class:`~brianlab.simulation.Program`).

    Returns
    -------
    network : brian2.Network
    monitors : RingMonitors
    """
    plan = schedule(params)
    timed = {name: b2.TimedArray(values, dt=params.schedule_dt, name=name) for name, values in plan.items()}
    geometry = DISTANCE[params.geometry]
    equations = RATE_EQS.format(
        transfer=TRANSFER_TANH if params.transfer == "tanh" else TRANSFER_LINEAR,
        distance_S=geometry.format(a="x", b="sensory_x(t)"),
        distance_A=geometry.format(a="x", b="attention_x(t)"),
    )
    units = b2.NeuronGroup(
        params.N, equations, method="euler", namespace={**timed, "period": PERIOD}, name="units"
    )
    units.x = positions(params)
    units.t_bound = -1 * second
    units.run_regularly(BOUND_CODE, name="units_bound")
    for name, value in shared_values(params, "units").items():
        setattr(units, name, value)
    rec = b2.Synapses(units, units, SYN_EQS + SYN_SUMMED, namespace={"n_units": params.N, "period": PERIOD},
                      name="syn_rec")
    rec.connect()  # every pair, i = j included; weights beyond l are 0, so l changes no shape
    for name, value in shared_values(params, "syn_rec").items():
        setattr(rec, name, value)
    rec.run_regularly(
        KERNEL_CODE.format(distance=geometry.format(a="x_post", b="x_pre")),
        dt=params.duration, when="start", name="syn_rec_kernel",
    )
    rates = b2.StateMonitor(units, "R", record=True, dt=params.record_dt, name="rate_monitor")
    network = b2.Network(units, rec, rates, name="ring")
    return network, RingMonitors(rates)


#: The ``(constant, shared)`` variables of each group and the parameter that sets each.
SHARED = {
    "units": ("tau", "T", "S_0", "S_1", "sigma_S", "A_0", "A_1", "sigma_A", "sigma_A_prime", "l", "r_top",
              "R_bound"),
    "syn_rec": ("J_0", "J_1", "sigma_J", "l_J"),
}

#: Parameters that reach a compiled network as run_args values (no rebuild): the
#: shared constants, the schedule's TimedArray contents, and ``tol`` (used only
#: on the final state). N, geometry, transfer, duration, dt, schedule_dt and
#: record_dt change the network's shape.
SWEEPABLE = (
    "r_max", "T", "S_0", "S_1", "x_S", "sigma_S", "A_1", "x_A", "sigma_A", "A_0", "sigma_A_prime", "l",
    "J_0", "J_1", "sigma_J", "tau", "input_off", "cue2_x", "cue2_on", "cue2_off", "cue2_gain", "R_bound", "tol",
)


def shared_values(params: RingParams, group: str) -> dict[str, float | Quantity]:
    """``{variable: value}`` of one group's ``(constant, shared)`` variables."""
    special = {"r_top": params.r_max if params.r_max > 0 else params.R_bound, "l_J": params.l}
    return {name: special[name] if name in special else getattr(params, name) for name in SHARED[group]}


def run_values(params: RingParams) -> dict[str, float | Quantity | np.ndarray]:
    """The run_args values that carry the :data:`SWEEPABLE` parameters."""
    values = {f"{group}.{name}": value for group in SHARED for name, value in shared_values(params, group).items()}
    values.update(schedule(params))
    return values


# ----------------------------------------------------------------------------
# simulation and analysis
# ----------------------------------------------------------------------------

#: Regimes, by ``regime_code``: settled to a fixed point (or, cue removed, back to
#: rest); a localized bump outliving the cue; rates past R_bound, or (no r_max)
#: still growing at the end along a mode with eigenvalue above 1 (``growing``);
#: activity that outlives the cue everywhere; none of these by the end.
REGIMES = ("stable", "bump", "divergent", "uniform", "unsettled")


def simulate(params: RingParams, session: DeviceSession, previous: RunRecord | None = None) -> Result:
    """Run the ``ring`` model on ``session``'s device and collect its results."""
    program = MODEL.program(session, params)
    monitors = program.run(run_values(params))
    units = program.network["units"]
    R = np.array(units.R[:], dtype=float)
    t_bound = np.array(units.t_bound[:] / second, dtype=float)
    t = np.array(monitors.rates.t[:] / second, dtype=float)
    R_t = np.array(monitors.rates.R[:], dtype=float).T  # samples x units
    metrics, extra = analyse(params, R, t_bound, t, R_t)
    I_S, I_A = inputs(params)
    arrays = {"x": positions(params), "R": R, "t": t, "R_t": R_t, "I_S": I_S, "I_A": I_A,
              "t_bound": t_bound, **extra}
    return Result(metrics=metrics, arrays=arrays)


def recordings(params, arrays):
    """The rate monitor, as arrays of ``data.npz`` (see :mod:`brianlab.recordings`)."""
    return (Trace("R", "units", data="R_t", times="t", unit="1", indices=range(params.N), layout="time_neuron",
                  description="rate of each unit (dimensionless, as in the model's equations)"),)


def bump_shape(params: RingParams, R: np.ndarray) -> tuple[float, float, bool]:
    """``(centre, width, localized)`` of the activity profile ``R``.

    The centre is the R-weighted mean position of the units above half the peak
    (circular on the ring); the width is their number times the spacing (the
    full width at half maximum); ``localized``: they cover at most half the
    network. NaN and False when R is 0 everywhere.
    """
    peak = float(np.max(R)) if len(R) else 0.0
    if not peak > 0:
        return math.nan, math.nan, False
    x = positions(params)
    top = R >= peak / 2
    spacing = PERIOD / params.N if params.geometry == "ring" else PERIOD / (params.N - 1)
    if params.geometry == "ring":
        angle = 2 * np.pi * (x[top] - X_MIN) / PERIOD
        z = np.sum(R[top] * np.exp(1j * angle))
        centre = float(distance(params, X_MIN + np.angle(z) * PERIOD / (2 * np.pi), 0.0))
    else:
        centre = float(np.sum(R[top] * x[top]) / np.sum(R[top]))
    return centre, float(top.sum() * spacing), bool(top.mean() <= 0.5)


def _sample(t: np.ndarray, time: float) -> int:
    """Index of the last recorded sample at or before ``time`` (s)."""
    return int(max(0, np.searchsorted(t, time + 1e-12, side="right") - 1))


def analyse(
    params: RingParams, R: np.ndarray, t_bound: np.ndarray, t: np.ndarray, R_t: np.ndarray
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Metrics of a run from its final rates, bound-crossing times and recorded rates.

    Returns
    -------
    metrics : dict
        ``converged``, ``diverged``, ``regime`` first; rates; the residual; the
        eigenvalues; the bump's shape, persistence and drift.
    arrays : dict
        ``u`` (final drive), ``h`` (final external drive), ``R_solver`` when the
        NumPy solver found a fixed point.
    """
    W = kernel_matrix(params)
    I_S, I_A = inputs(params, at=params.duration - params.dt)
    h = I_S + I_A - params.T
    u = h + W @ R
    target = transfer(params, u)
    residual = float(np.max(np.abs(target - R)))
    scale = max(float(np.max(np.abs(R))), float(np.max(target)), abs(params.T), 1e-12)
    crossed = t_bound >= 0
    diverged = bool(crossed.any()) or not np.all(np.isfinite(R))
    converged = (not diverged) and residual / scale < params.tol
    active = u > 0
    eig_active = float(np.linalg.eigvalsh(W[np.ix_(active, active)])[-1]) if active.any() else math.nan
    root_gain = np.sqrt(gain(params, u))
    eig_effective = float(np.linalg.eigvalsh(root_gain[:, None] * W * root_gain[None, :])[-1])
    solved = steady_state(params, W, h, start=None if diverged else R)
    centre, width, localized = bump_shape(params, R)
    metrics = {
        "converged": bool(converged),
        "diverged": diverged,
        "t_diverge": float(t_bound[crossed].min()) if crossed.any() else None,
        "peak_rate": float(np.max(R)),
        "mean_rate": float(np.mean(R)),
        "active_fraction": float(np.mean(active)),
        "residual": residual,
        "residual_rel": residual / scale,
        "eig_active": eig_active,
        "eig_effective": eig_effective,
        "solver_found": solved is not None,
        "solver_rel_error": (float(np.max(np.abs(R - solved)) / max(float(np.max(np.abs(solved))), 1e-12))
                             if solved is not None and not diverged else None),
        "bump_centre": centre,
        "bump_width": width,
        "bump_localized": localized,
    }
    # Unbounded and still growing along a mode with eigenvalue > 1: divergent, only slower than the run.
    k_before = _sample(t, t[-1] - 10 * float(params.tau))
    growing = (not diverged and params.r_max == 0 and eig_effective > 1
               and float(np.max(R_t[-1])) > (1 + 1e-6) * float(np.max(R_t[k_before])) > 0)
    metrics["growing"] = bool(growing)
    regime = "divergent" if diverged or growing else ("stable" if converged else "unsettled")
    if params.input_off > 0 * second and not (diverged or growing):
        delay_end = float(params.cue2_on) if params.cue2_on > 0 * second else float(params.duration)
        k_off, k_end = _sample(t, float(params.input_off)), _sample(t, delay_end - 1e-9)
        settle = min(10 * float(params.tau), (delay_end - float(params.input_off)) / 2)
        k_settled = _sample(t, float(params.input_off) + settle)
        peak_off, peak_end = float(np.max(R_t[k_off])), float(np.max(R_t[k_end]))
        persistence = peak_end / peak_off if peak_off > 0 else 0.0
        c_settled, _, _ = bump_shape(params, R_t[k_settled])
        c_end, w_end, localized_end = bump_shape(params, R_t[k_end])
        span = t[k_end] - t[k_settled]
        drift = abs(float(distance(params, c_end, c_settled))) / span if span > 0 and np.isfinite(c_end) else math.nan
        persistent = persistence > 0.5
        metrics.update({
            "persistence": persistence,
            "persistent": bool(persistent),
            "delay_bump_centre": c_end,
            "delay_bump_width": w_end,
            "drift_per_second": drift,
        })
        if persistent:
            regime = "bump" if localized_end else "uniform"
        elif peak_end < 1e-6 * max(peak_off, 1e-300) or peak_end < 1e-9:
            regime = "stable"
        else:
            regime = "unsettled"
        if params.cue2_on > 0 * second:
            metrics["cue2_error"] = abs(float(distance(params, centre, params.cue2_x))) if np.isfinite(centre) else None
    metrics = {"converged": metrics.pop("converged"), "diverged": metrics.pop("diverged"), "regime": regime,
               "regime_code": REGIMES.index(regime), **metrics}
    extra = {"u": u, "h": h}
    if solved is not None:
        extra["R_solver"] = solved
    return metrics, extra


# ----------------------------------------------------------------------------
# figures
# ----------------------------------------------------------------------------


def _state_text(metrics: Mapping[str, Any]) -> str:
    if metrics.get("diverged"):
        when = metrics.get("t_diverge")
        return "diverged" + (f" at t = {when * 1e3:.1f} ms" if when is not None else "")
    regime = metrics.get("regime", "")
    if regime == "bump":
        return "persistent bump"
    if regime == "uniform":
        return "persistent everywhere"
    if metrics.get("converged"):
        return "converged"
    return "back to rest after the cue" if regime == "stable" else f"not converged ({regime})"


def plot_profile(record: RunRecord, ax: Axes | None = None) -> Axes:
    """Final rates R(x), with the first cue's inputs and the NumPy fixed point overlaid."""
    ax = plotting.new_axes(ax)
    data, params = record.arrays, record.params
    x = data["x"]
    ax.plot(x, data["R"], "-", color="C0", lw=2, label="R (final, Brian2)")
    if "R_solver" in data:
        ax.plot(x[::8], data["R_solver"][::8], "o", color="k", ms=3, mfc="none", label="fixed point (NumPy)")
    ax.plot(x, data["I_S"], "--", color="C1", label="sensory input I_S (first cue)")
    ax.plot(x, data["I_A"], ":", color="C2", label="attention bias I_A (first cue)")
    ax.axhline(params.T, color="0.6", lw=0.8, label=f"threshold T = {params.T:g}")
    if record.metrics.get("diverged"):
        ax.set_yscale("symlog", linthresh=1.0)
    ax.set_xlabel("position x")
    ax.set_ylabel("rate R, input (dimensionless)")
    ax.set_title(f"{params.geometry}, {params.transfer}{f', r_max={params.r_max:g}' if params.r_max else ''}, "
                 f"J_1={params.J_1:g}, J_0={params.J_0:g}: {_state_text(record.metrics)}", fontsize="medium")
    ax.legend(frameon=False, fontsize="small")
    return ax


def plot_heatmap(record: RunRecord, ax: Axes | None = None) -> Axes:
    """Rates over time and position; the schedule's switching times marked."""
    ax = plotting.new_axes(ax)
    data, params = record.arrays, record.params
    values = data["R_t"]
    label = "R"
    if record.metrics.get("diverged"):
        values, label = np.log10(1 + np.maximum(values, 0)), "log10(1 + R)"
    image = ax.imshow(values.T, origin="lower", aspect="auto", interpolation="nearest", cmap="viridis",
                      extent=(data["t"][0] * 1e3, data["t"][-1] * 1e3, data["x"][0], data["x"][-1]))
    ax.figure.colorbar(image, ax=ax, label=label)
    for name in ("input_off", "cue2_on", "cue2_off"):
        when = getattr(params, name)
        if when > 0 * second:
            ax.axvline(float(when) * 1e3, color="w", ls="--", lw=0.8)
            ax.text(float(when) * 1e3, data["x"][-1], f" {name}", color="w", va="top", fontsize="small")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("position x")
    ax.set_title(f"R over time: {_state_text(record.metrics)}")
    return ax


def figures(record: RunRecord, out_dir: Path) -> list[Path]:
    """Write the final profile and the heat map of the rates into ``out_dir``."""
    return [
        plotting.save(plot_profile(record), out_dir / "profile.png"),
        plotting.save(plot_heatmap(record), out_dir / "rates.png"),
    ]


MODEL = Model(
    name="ring",
    summary="recurrent ring attractor, threshold-linear rates: self-consistent solution, divergence, persistent bumps",
    params=RingParams,
    simulate=simulate,
    figures=figures,
    sweepable=SWEEPABLE,
    build=build,
    run_values=run_values,
    tiny={"N": "64", "duration": "100*ms"},
    recordings=recordings,
)
