"""Spiking bump attractor for spatial working memory (``ring-spiking``).

Compte, Brunel, Goldman-Rakic & Wang (2000) with neurodynex3's parameters:
``n_exc`` excitatory cells on a ring and ``n_inh`` interneurons, conductance-based
LIF; external AMPA Poisson drive; E->E NMDA with a Gaussian angular kernel,
E->I NMDA and I->E/I->I GABA all to all; a cue current (TimedArray) from
``t_cue_start`` for ``cue_duration``, then ``delay``. The remembered angle is the
population vector of the excitatory spikes in the last ``decode_window``.

The E->E sum runs in equation strings through ``2*n_modes + 1`` Fourier-mode
units (summed variables into a ``modes`` group, read back as linked variables),
GABA through a one-unit spike pool, so every device runs it; conductances are
scaled from the published 2048 + 512 cells. On cpp_standalone without OpenMP the
state updates use :mod:`brianlab.simd`.

The derivation of the mode sum, its error bound, and the measured exactness and
speed are in ``docs/models/ring-spiking.md``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, NamedTuple

import brian2 as b2
import numpy as np
from brian2 import Hz, Quantity, kHz, ms, mV, nA, nF, nS, second
from matplotlib.axes import Axes
from numpy.typing import ArrayLike
from scipy.special import erf

from brianlab import plotting
from brianlab.devices import DeviceSession
from brianlab.model import Model, Result, RunRecord
from brianlab.params import parameters
from brianlab.recordings import SpikeTrains
from brianlab.simd import simd_function

# ----------------------------------------------------------------------------
# equations
# ----------------------------------------------------------------------------

NMDA_BLOCK = "1 / (1 + exp(-0.062 * v / mV) / 3.57)"  # Mg2+ block (Jahr & Stevens 1990), v in mV

EXC_EQS = f"""
dv/dt = (- g_L_e * (v - E_L) - G_ext_e * s_ampa * (v - E_ampa) - G_ie * s_gaba * (v - E_gaba)
         - G_ee * s_rec * (v - E_nmda) * {NMDA_BLOCK} + I_cue * cue_on(t)) / C_e : volt (unless refractory)
ds_ampa/dt = -s_ampa / tau_ampa : 1  # external AMPA gating (Poisson drive)
ds_gaba/dt = -s_gaba / tau_gaba : 1  # GABA gating, summed over the interneurons
n_inh_spikes : 1 (linked)  # interneuron spikes in this time step (the GABA pool)
ds_nmda/dt = -s_nmda / tau_nmda_s + alpha_nmda * x * (1 - s_nmda) : 1  # NMDA gating this cell sends
dx/dt = -x / tau_nmda_x : 1  # NMDA rise variable
s_rec : 1  # structured NMDA input sum_j W(theta - theta_j) s_nmda_j (computed from the modes)
theta : 1 (constant)  # preferred angle (radian)
I_cue : amp (constant)  # cue current into this cell while the cue is on
G_ee : siemens (constant, shared)  # E->E NMDA conductance (already scaled by 2048/n_exc)
G_ie : siemens (constant, shared)  # I->E GABA conductance (scaled by 512/n_inh)
G_ext_e : siemens (constant, shared)  # external AMPA conductance
"""

INH_EQS = f"""
dv/dt = (- g_L_i * (v - E_L) - G_ext_i * s_ampa * (v - E_ampa) - G_ii * s_gaba * (v - E_gaba)
         - G_ei * s_nmda_sum * (v - E_nmda) * {NMDA_BLOCK}) / C_i : volt (unless refractory)
ds_ampa/dt = -s_ampa / tau_ampa : 1  # external AMPA gating (Poisson drive)
ds_gaba/dt = -s_gaba / tau_gaba : 1  # GABA gating, summed over the other interneurons
n_inh_spikes : 1 (linked)  # interneuron spikes in this time step (the GABA pool)
s_nmda_sum : 1  # unstructured NMDA input sum_j s_nmda_j (mode k = 0)
G_ei : siemens (constant, shared)  # E->I NMDA conductance (scaled by 2048/n_exc)
G_ii : siemens (constant, shared)  # I->I GABA conductance (scaled by 512/n_inh)
G_ext_i : siemens (constant, shared)  # external AMPA conductance
"""

EXC_RESET = "v = v_reset; x += 1"
INH_RESET = "v = v_reset; s_gaba -= 1"  # the pool counted this cell's own spike: no autapse

MODES_EQS = """
c : 1  # projection of the NMDA gating onto this Fourier basis function
k : 1 (constant)  # wave number
phase : 1 (constant)  # 0 for a cosine unit, pi/2 for a sine unit
"""

#: E -> modes: c_m = sum_j basis_m(theta_j) s_nmda_j.
SYN_EXC_MODES_EQS = """
basis : 1 (constant)  # cos(k_m theta_j - phase_m)
c_post = basis * s_nmda_pre : 1 (summed)
"""
#: modes -> E, per cell and wave number k = 1..K (filled in by :func:`recurrent_equations`):
#: the cell's basis functions, the kernel coefficient, and the projections read from the modes.
EXC_MODE_K_EQS = """
cos{k} : 1 (constant)  # cos(k theta) of this cell
sin{k} : 1 (constant)  # sin(k theta) of this cell
a{k} : 1 (constant, shared)  # kernel coefficient of wave number k
C{k} : 1 (linked)  # sum_j cos(k theta_j) s_nmda_j (mode unit 2k-1)
S{k} : 1 (linked)  # sum_j sin(k theta_j) s_nmda_j (mode unit 2k)
"""
EXC_MODE_0_EQS = """
a0 : 1 (constant, shared)  # kernel coefficient of k = 0 (its mean)
C0 : 1 (linked)  # sum_j s_nmda_j (mode unit 0)
"""
#: The projections gathered into one unit (``mode_values``, filled in by :func:`mode_value_equations`):
#: variable ``C0``/``C{k}``/``S{k}`` holds mode unit ``m`` (0, 2k-1, 2k), copied once per step from its
#: link ``{name}_unit``. The cells link to these single values (Brian's index "0"), which costs each
#: cell one load per mode instead of an index-array lookup and a gather.
MODE_VALUE_EQS = """
{name} : 1  # projection of mode unit {m}, copied from modes.c
{name}_unit : 1 (linked)  # modes.c of unit {m}
"""
MODE_VALUE_COPY = "{name} = {name}_unit"
#: s_rec_i = a_0 C_0 + sum_k a_k [cos(k theta_i) C_k + sin(k theta_i) S_k], once per step.
RECURRENT_SUM = "s_rec = a0 * C0{terms}"
RECURRENT_TERM = " + a{k} * (cos{k} * C{k} + sin{k} * S{k})"
#: mode 0 -> I: the unstructured E->I NMDA input.
SYN_MODES_INH_EQS = "s_nmda_sum_post = c_pre : 1 (summed)"
BASIS = "cos(k_{m} * theta_{n} - phase_{m})"

#: GABA, all to all without delays: every cell gets +1 per interneuron spike, so the
#: spikes are counted once in a one-unit pool and added to every cell in one pass
#: (the same sums as n_inh * (n_exc + n_inh) synapses, without their memory).
GABA_POOL_EQS = "n_spikes : 1  # interneuron spikes in this time step"
SYN_INH_POOL_ON_PRE = "n_spikes_post += 1"
GABA_RECEIVE = "s_gaba += n_inh_spikes"
GABA_POOL_CLEAR = "n_spikes = 0"

#: cpp_standalone only: the loops that call ``simd_exp`` (the Mg block in the state updates)
#: or ``simd_loop`` (an identity around the recurrent sum) are vectorised, with glibc's
#: vector exp and ``GCC ivdep`` loops (:mod:`brianlab.simd`; without OpenMP). libmvec's exp
#: can differ from the scalar exp in the last bit, so spikes are statistically, not
#: bitwise, the same as with plain ``exp`` (see docs/models/ring-spiking.md).
SIMD_EXP_CPP = "static inline double simd_exp(double x) { return exp(x); }\n"
SIMD_LOOP_CPP = "static inline double simd_loop(double x) { return x; }\n"


def _vector_functions() -> dict[str, b2.Function]:
    """``simd_exp`` (Brian's exp) and ``simd_loop`` (identity), vectorising on cpp_standalone."""
    return {
        "simd_exp": simd_function("simd_exp", np.exp, SIMD_EXP_CPP, ivdep=True),
        "simd_loop": simd_function("simd_loop", lambda x: x, SIMD_LOOP_CPP, ivdep=True),
    }


#: Time step of the cue schedule (TimedArray).
CUE_DT = 1 * ms


def recurrent_equations(n_modes: int) -> tuple[str, str]:
    """The excitatory cells' mode variables and the code that sums the recurrent input, for K = ``n_modes``."""
    ks = range(1, n_modes + 1)
    return (EXC_MODE_0_EQS + "".join(EXC_MODE_K_EQS.format(k=k) for k in ks),
            RECURRENT_SUM.format(terms="".join(RECURRENT_TERM.format(k=k) for k in ks)))


def mode_names(n_modes: int) -> list[str]:
    """The names of the ``2 n_modes + 1`` projections in mode-unit order: C0, C1, S1, C2, S2, ..."""
    return ["C0"] + [f"{cs}{k}" for k in range(1, n_modes + 1) for cs in "CS"]


def mode_value_equations(n_modes: int) -> tuple[str, str]:
    """The ``mode_values`` unit's equations and the code that copies the projections into it."""
    names = mode_names(n_modes)
    return ("".join(MODE_VALUE_EQS.format(name=name, m=m) for m, name in enumerate(names)),
            "\n".join(MODE_VALUE_COPY.format(name=name) for name in names))


# ----------------------------------------------------------------------------
# parameters
# ----------------------------------------------------------------------------


@parameters
class RingSpikingParams:
    """Parameters of the ``ring-spiking`` model (Compte et al. 2000, as in neurodynex3)."""

    n_exc: int = 2048  # excitatory cells, preferred angles evenly spaced on the ring
    n_inh: int = 512  # inhibitory interneurons
    cue_angle: float = 180.0  # cue position (degrees)
    cue_width: float = 40.0  # the cue drives the cells within +-cue_width/2 of cue_angle (degrees)
    cue_strength: Quantity = 0.2 * nA  # cue current into those cells (0: no cue)
    t_cue_start: Quantity = 100 * ms  # cue onset
    cue_duration: Quantity = 250 * ms  # how long the cue is on
    delay: Quantity = 1000 * ms  # delay after the cue; the angle is decoded at its end
    decode_window: Quantity = 200 * ms  # spikes this long before the end (and after the cue) are decoded
    J_pos: float = 1.6  # E->E kernel peak (same angle), relative to its mean of 1
    sigma_weight: float = 20.0  # E->E kernel width (degrees)
    n_modes: int = 12  # Fourier modes of the E->E kernel kept (2K+1 mode units)
    G_ee: Quantity = 0.381 * nS  # E->E NMDA conductance at 2048 E (scaled by 2048/n_exc)
    G_ei: Quantity = 0.292 * nS  # E->I NMDA conductance at 2048 E (scaled by 2048/n_exc)
    G_ie: Quantity = 1.336 * nS  # I->E GABA conductance at 512 I (scaled by 512/n_inh)
    G_ii: Quantity = 1.024 * nS  # I->I GABA conductance at 512 I (scaled by 512/n_inh)
    G_ext_e: Quantity = 3.1 * nS  # external AMPA conductance onto E
    G_ext_i: Quantity = 2.38 * nS  # external AMPA conductance onto I
    n_ext: int = 1000  # external Poisson sources per neuron
    rate_ext: Quantity = 1.4 * Hz  # rate of each external source
    C_e: Quantity = 0.5 * nF  # E membrane capacitance
    g_L_e: Quantity = 25 * nS  # E leak conductance
    t_ref_e: Quantity = 2 * ms  # E refractory period
    C_i: Quantity = 0.2 * nF  # I membrane capacitance
    g_L_i: Quantity = 20 * nS  # I leak conductance
    t_ref_i: Quantity = 1 * ms  # I refractory period
    E_L: Quantity = -70 * mV  # leak reversal potential
    v_thresh: Quantity = -50 * mV  # spike threshold
    v_reset: Quantity = -60 * mV  # reset potential
    E_ampa: Quantity = 0 * mV  # AMPA reversal potential
    E_nmda: Quantity = 0 * mV  # NMDA reversal potential
    E_gaba: Quantity = -70 * mV  # GABA reversal potential
    tau_ampa: Quantity = 1.8 * ms  # AMPA decay
    tau_gaba: Quantity = 10 * ms  # GABA decay
    tau_nmda_s: Quantity = 65 * ms  # NMDA decay
    tau_nmda_x: Quantity = 1.88 * ms  # NMDA rise
    alpha_nmda: Quantity = 0.5 * kHz  # NMDA saturation rate
    activity_bin: Quantity = 25 * ms  # time bin of the recorded activity and the decoded angle over time
    n_angle_bins: int = 64  # angle bins of the recorded activity
    max_saved_spikes: int = 400000  # excitatory spikes saved; above it, every k-th cell's are kept
    dt: Quantity = 0.1 * ms  # integration time step (neurodynex3: 0.05-0.1 ms)

    def __post_init__(self) -> None:
        if self.n_exc < 8 or self.n_inh < 1:
            raise ValueError("n_exc must be at least 8 and n_inh at least 1")
        if not 0 <= self.n_modes < self.n_exc // 2:
            raise ValueError(f"n_modes must be in 0..{self.n_exc // 2 - 1} (below n_exc/2)")
        if not 0 < self.cue_width <= 360:
            raise ValueError("cue_width must be in (0, 360] degrees")
        if not 0 < self.sigma_weight <= 180:
            raise ValueError("sigma_weight must be in (0, 180] degrees")
        if self.J_pos < 1:
            raise ValueError("J_pos must be at least 1 (the kernel averages to 1)")
        if self.dt <= 0 * ms or self.cue_duration < 0 * ms or self.t_cue_start < 0 * ms:
            raise ValueError("dt must be positive, t_cue_start and cue_duration not negative")
        if not 0 * ms < self.decode_window <= self.delay:
            raise ValueError("decode_window must be positive and at most the delay")
        if not self.v_reset < self.v_thresh:
            raise ValueError("v_reset must be below v_thresh")
        if self.activity_bin < self.dt or self.n_angle_bins < 4:
            raise ValueError("activity_bin must be at least dt and n_angle_bins at least 4")

    @property
    def duration(self) -> Quantity:
        """Simulated time: before the cue, the cue, the delay."""
        return self.t_cue_start + self.cue_duration + self.delay

    @property
    def t_cue_end(self) -> Quantity:
        return self.t_cue_start + self.cue_duration


#: Parameters that reach a compiled network as run_args values: per-cell cue
#: currents, the kernel's Fourier coefficients and the conductances.
SWEEPABLE = ("cue_angle", "cue_width", "cue_strength", "J_pos", "sigma_weight",
             "G_ee", "G_ei", "G_ie", "G_ii", "G_ext_e", "G_ext_i")


# ----------------------------------------------------------------------------
# the kernel and its Fourier modes
# ----------------------------------------------------------------------------


def preferred_angles(n_exc: int) -> np.ndarray:
    """Preferred angle of every excitatory cell (radian): ``2 pi i / n_exc``."""
    return 2 * np.pi * np.arange(n_exc) / n_exc


def kernel(params: RingSpikingParams) -> np.ndarray:
    """The E->E weight profile ``W`` over the index difference ``0 .. n_exc-1`` (dimensionless).

    As neurodynex3: ``J_neg`` makes the continuous profile average to 1 over the ring.
    """
    sigma = params.sigma_weight
    tmp = math.sqrt(2 * math.pi) * sigma * erf(180 / math.sqrt(2) / sigma) / 360
    j_neg = (1 - params.J_pos * tmp) / (1 - tmp)
    n = params.n_exc
    d = 360 * np.minimum(np.arange(n), n - np.arange(n)) / n
    return j_neg + (params.J_pos - j_neg) * np.exp(-0.5 * d**2 / sigma**2)


def mode_table(params: RingSpikingParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(k, phase, a) of the ``2 n_modes + 1`` mode units.

    Unit 0 is ``k = 0``; units ``2k-1`` and ``2k`` are cosine and sine of ``k``.
    ``a`` are the kernel's discrete Fourier coefficients: ``a_0 = W^_0 / N``,
    ``a_k = 2 W^_k / N`` (``W^ = rfft(W)``, real for a symmetric kernel).
    """
    spectrum = np.fft.rfft(kernel(params)).real / params.n_exc
    k = np.concatenate([[0], np.repeat(np.arange(1, params.n_modes + 1), 2)])
    phase = np.concatenate([[0.0], np.tile([0.0, np.pi / 2], params.n_modes)])
    a = np.where(k == 0, 1.0, 2.0) * spectrum[k]
    return k.astype(float), phase, a


def truncated_kernel(params: RingSpikingParams) -> np.ndarray:
    """The kernel the ``n_modes`` Fourier modes represent, over the index difference."""
    k, phase, a = mode_table(params)
    d = preferred_angles(params.n_exc)
    return np.sum(a[:, None] * np.cos(k[:, None] * d[None, :]) * (phase[:, None] == 0), axis=0)


def kernel_truncation_error(params: RingSpikingParams) -> float:
    """Largest ``|W - W_K|`` relative to ``J_pos`` (the truncation of the E->E kernel)."""
    return float(np.max(np.abs(kernel(params) - truncated_kernel(params))) / params.J_pos)


def recurrent_input_exact(params: RingSpikingParams, s_nmda: ArrayLike) -> np.ndarray:
    """``sum_j W(theta_i - theta_j) s_j`` by FFT, as neurodynex3's network_operation computes it."""
    return np.fft.irfft(np.fft.rfft(kernel(params)) * np.fft.rfft(s_nmda), n=params.n_exc)


# ----------------------------------------------------------------------------
# network
# ----------------------------------------------------------------------------


class RingSpikingMonitors(NamedTuple):
    """The monitors of a built ``ring-spiking`` network."""

    spikes_exc: b2.SpikeMonitor
    spikes_inh: b2.SpikeMonitor


def wrap_deg(angle: ArrayLike) -> np.ndarray | float:
    """Angles (degrees) wrapped into ``[-180, 180)``."""
    return (np.asarray(angle) + 180.0) % 360.0 - 180.0


def cue_currents(params: RingSpikingParams) -> Quantity:
    """Cue current of every excitatory cell (amp): ``cue_strength`` within ``+-cue_width/2``."""
    distance = wrap_deg(np.degrees(preferred_angles(params.n_exc)) - params.cue_angle)
    return np.where(np.abs(distance) <= params.cue_width / 2, float(params.cue_strength), 0.0) * b2.amp


def cue_schedule(params: RingSpikingParams) -> np.ndarray:
    """The cue switch on a ``CUE_DT`` grid over the whole run (1 while the cue is on)."""
    n = int(math.ceil(float(params.duration / CUE_DT))) + 1
    t = np.arange(n) * float(CUE_DT)
    return ((t >= float(params.t_cue_start) - 1e-12) & (t < float(params.t_cue_end) - 1e-12)).astype(float)


def scaled_conductances(params: RingSpikingParams) -> dict[str, Quantity]:
    """The six conductances as they enter the equations (scaled to the network size)."""
    scale_e, scale_i = 2048 / params.n_exc, 512 / params.n_inh
    return {
        "exc.G_ee": params.G_ee * scale_e, "exc.G_ie": params.G_ie * scale_i, "exc.G_ext_e": params.G_ext_e,
        "inh.G_ei": params.G_ei * scale_e, "inh.G_ii": params.G_ii * scale_i, "inh.G_ext_i": params.G_ext_i,
    }


def run_values(params: RingSpikingParams) -> dict[str, Quantity | float]:
    """The run_args values that carry the :data:`SWEEPABLE` parameters."""
    k, _, a = mode_table(params)
    coefficients = {f"exc.a{int(wave)}": value for wave, value in zip(k, a)}  # cos and sin units share a_k
    return {**scaled_conductances(params), "exc.I_cue": cue_currents(params), **coefficients}


def build(params: RingSpikingParams, simd: bool = False) -> tuple[b2.Network, RingSpikingMonitors]:
    """Build the ``ring-spiking`` network (on the default clock; see :class:`~brianlab.simulation.Program`).

    Parameters
    ----------
    params : RingSpikingParams
    simd : bool
        cpp_standalone only: the Mg block calls ``simd_exp`` and the recurrent sum
        ``simd_loop`` (:data:`VECTOR_LOOP_CPP`), so that GCC vectorises the state
        updates and the recurrent sum.

    Returns
    -------
    network : brian2.Network
    monitors : RingSpikingMonitors
    """
    cue_on = b2.TimedArray(cue_schedule(params), dt=CUE_DT, name="cue_on")
    common = {
        "E_L": params.E_L, "E_ampa": params.E_ampa, "E_nmda": params.E_nmda, "E_gaba": params.E_gaba,
        "tau_ampa": params.tau_ampa, "tau_gaba": params.tau_gaba,
        "v_thresh": params.v_thresh, "v_reset": params.v_reset,
    }
    mode_eqs, recurrent_sum = recurrent_equations(params.n_modes)
    exc_eqs, inh_eqs, vector = EXC_EQS, INH_EQS, {}
    if simd:
        exc_eqs, inh_eqs = (eqs.replace("exp(", "simd_exp(") for eqs in (EXC_EQS, INH_EQS))
        name, value = recurrent_sum.split(" = ", 1)
        recurrent_sum = f"{name} = simd_loop({value})"
        vector = _vector_functions()
    exc = b2.NeuronGroup(
        params.n_exc, exc_eqs + mode_eqs, threshold="v > v_thresh", reset=EXC_RESET, refractory=params.t_ref_e,
        method="rk2", name="exc",
        namespace={**common, **vector, "g_L_e": params.g_L_e, "C_e": params.C_e, "cue_on": cue_on,
                   "tau_nmda_s": params.tau_nmda_s, "tau_nmda_x": params.tau_nmda_x, "alpha_nmda": params.alpha_nmda},
    )
    inh = b2.NeuronGroup(
        params.n_inh, inh_eqs, threshold="v > v_thresh", reset=INH_RESET, refractory=params.t_ref_i,
        method="rk2", name="inh", namespace={**common, **vector, "g_L_i": params.g_L_i, "C_i": params.C_i},
    )
    # The summed updaters of a group run at its order - 1 in the "groups" slot:
    # E -> modes at -3, their copy into mode_values at -2, then modes -> I (summed) and -> E
    # (exc_recurrent) at -1, then the cells at 0.
    modes = b2.NeuronGroup(2 * params.n_modes + 1, MODES_EQS, name="modes", order=-2)
    k, phase, _ = mode_table(params)
    modes.k, modes.phase = k, phase
    theta = preferred_angles(params.n_exc)
    exc.theta = theta
    value_eqs, value_copy = mode_value_equations(params.n_modes)
    mode_values = b2.NeuronGroup(1, value_eqs, name="mode_values")
    for m, name in enumerate(mode_names(params.n_modes)):
        setattr(mode_values, f"{name}_unit", b2.linked_var(modes, "c", index=np.array([m])))
        setattr(exc, name, b2.linked_var(mode_values, name))  # one value for every cell: index "0"
    for wave in range(1, params.n_modes + 1):
        setattr(exc, f"cos{wave}", np.cos(wave * theta))
        setattr(exc, f"sin{wave}", np.sin(wave * theta))
    # after the modes' summed variables (order -3), before the cells are integrated (order 0)
    mode_values.run_regularly(value_copy, when="groups", order=-2, name="mode_values_copy")
    exc.run_regularly(recurrent_sum, when="groups", order=-1, name="exc_recurrent")
    for group in (exc, inh):
        group.v = "v_reset + rand() * (v_thresh - v_reset)"  # as neurodynex3: uniform in [v_reset, v_thresh)
    for key, value in run_values(params).items():
        group, variable = key.split(".")
        setattr({"exc": exc, "inh": inh, "modes": modes}[group], variable, value)

    syn_exc_modes = b2.Synapses(exc, modes, SYN_EXC_MODES_EQS, name="syn_exc_modes")
    syn_exc_modes.connect()
    syn_exc_modes.basis = BASIS.format(m="post", n="pre")
    syn_modes_inh = b2.Synapses(modes, inh, SYN_MODES_INH_EQS, name="syn_modes_inh")
    syn_modes_inh.connect(i=0, j=np.arange(params.n_inh))
    # GABA: spikes counted in the synapses slot, added to every cell right after (as
    # on_pre synapses would add them), the cell's own spike taken back at its reset
    gaba_pool = b2.NeuronGroup(1, GABA_POOL_EQS, name="gaba_pool")
    syn_inh_pool = b2.Synapses(inh, gaba_pool, on_pre=SYN_INH_POOL_ON_PRE, name="syn_inh_pool")
    syn_inh_pool.connect(i=np.arange(params.n_inh), j=np.zeros(params.n_inh, dtype=int))
    for group in (exc, inh):  # run_regularly operations run with their group
        group.n_inh_spikes = b2.linked_var(gaba_pool, "n_spikes", index=np.zeros(len(group), dtype=int))
        group.run_regularly(GABA_RECEIVE, when="synapses", order=1, name=f"{group.name}_gaba")
    gaba_pool.run_regularly(GABA_POOL_CLEAR, when="end", name="gaba_pool_clear")
    # PoissonInput takes no name (Brian 2.8): it is named poissoninput, poissoninput_1
    ext_exc = b2.PoissonInput(exc, "s_ampa", params.n_ext, params.rate_ext, 1.0)
    ext_inh = b2.PoissonInput(inh, "s_ampa", params.n_ext, params.rate_ext, 1.0)
    spikes_exc = b2.SpikeMonitor(exc, name="spikes_exc")
    spikes_inh = b2.SpikeMonitor(inh, name="spikes_inh")
    network = b2.Network(
        exc, inh, modes, mode_values, syn_exc_modes, syn_modes_inh, gaba_pool, syn_inh_pool,
        ext_exc, ext_inh, spikes_exc, spikes_inh, name="ring_spiking",
    )
    return network, RingSpikingMonitors(spikes_exc, spikes_inh)


# ----------------------------------------------------------------------------
# analysis (plain NumPy on the recorded spikes)
# ----------------------------------------------------------------------------


#: The activity in the final window is a bump (metric ``bump_held``) when its
#: population vector is at least this long... Activity spread evenly over the ring
#: gives about 1/sqrt(spikes) (0.06-0.2 for the quiet state of a 512-cell ring,
#: whose ~15 spikes per 200 ms are few); a bump 50-80 degrees wide gives 0.85-0.9.
BUMP_MIN_LENGTH = 0.5
#: ... and its highest angle bin fires at least this fast (the quiet state: below 2 Hz; a bump: 10-45 Hz).
BUMP_MIN_PEAK_HZ = 5.0


def population_vector(weights: ArrayLike, theta: ArrayLike) -> tuple[np.ndarray | float, np.ndarray]:
    """Decoded angle (degrees, in [0, 360)) and normalised length (0..1) of activity ``weights``.

    ``weights[..., j]`` is the activity (spike count or rate) of cells at ``theta[j]`` (radian).
    The length is ``|sum_j r_j e^{i theta_j}| / sum_j r_j``: about 0 for activity spread evenly
    over the ring (``1/sqrt(spikes)`` from counting noise), near 1 for one narrow bump.
    """
    weights = np.asarray(weights, dtype=float)
    vector = weights @ np.exp(1j * np.asarray(theta))
    total = weights.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        length = np.where(total > 0, np.abs(vector) / np.where(total > 0, total, 1), 0.0)
    return np.degrees(np.angle(vector)) % 360.0, length


def window_counts(spike_i: np.ndarray, spike_t: np.ndarray, n: int, t_start: float, t_end: float) -> np.ndarray:
    """Spikes per cell with ``t_start <= t < t_end`` (seconds)."""
    keep = (spike_t >= t_start) & (spike_t < t_end)
    return np.bincount(spike_i[keep], minlength=n)


def angle_binned(values: np.ndarray, n_bins: int) -> np.ndarray:
    """Average ``values`` (one per excitatory cell, in ring order) into ``n_bins`` angle bins."""
    n = values.shape[-1]
    which = (np.arange(n) * n_bins) // n
    sums = np.stack([values[..., which == b].sum(axis=-1) for b in range(n_bins)], axis=-1)
    return sums / np.bincount(which, minlength=n_bins)


def bump_width(profile: np.ndarray, centre_deg: float) -> float:
    """Full width at half maximum (degrees) of an angle-binned rate ``profile`` around ``centre_deg``.

    The half level is half-way between the profile's minimum and maximum; the
    width is the contiguous run of bins above it that contains the bin nearest
    the centre (0 if that bin is below it).
    """
    n = len(profile)
    level = (profile.min() + profile.max()) / 2
    above = profile > level
    centre = int(round(centre_deg / 360 * n)) % n
    if not above[centre] or above.all():
        return 360.0 if above.all() else 0.0
    width = 1
    for step in (1, -1):
        j = (centre + step) % n
        while above[j] and width < n:
            width += 1
            j = (j + step) % n
    return 360.0 * width / n


def analyse(
    params: RingSpikingParams, spike_i: np.ndarray, spike_t: np.ndarray, inh_count: int
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Metrics and arrays from the excitatory spikes and the interneurons' spike count."""
    theta = preferred_angles(params.n_exc)
    duration, t_end_cue = float(params.duration), float(params.t_cue_end)
    window, n = float(params.decode_window), params.n_exc
    final = window_counts(spike_i, spike_t, n, duration - window, duration)
    after_cue = window_counts(spike_i, spike_t, n, t_end_cue, t_end_cue + window)
    angle_end, length_end = population_vector(final, theta)
    angle_early, _ = population_vector(after_cue, theta)
    profile = angle_binned(final / window, params.n_angle_bins)
    drift = float(wrap_deg(angle_end - angle_early))
    span = duration - window - t_end_cue
    delay_counts = window_counts(spike_i, spike_t, n, t_end_cue, duration)
    metrics = {
        "decoded_angle_deg": float(angle_end),
        "angle_error_deg": float(wrap_deg(angle_end - params.cue_angle)),
        "abs_angle_error_deg": float(abs(wrap_deg(angle_end - params.cue_angle))),
        "bump_amplitude": float(length_end),
        "drift_deg": drift,
        "drift_deg_per_sec": drift / span if span > 0 else 0.0,
        "bump_width_deg": bump_width(profile, angle_end),
        "bump_peak_rate_hz": float(profile.max()),
        "rate_exc_hz": float(len(spike_i) / n / duration),
        "rate_exc_delay_hz": float(delay_counts.sum() / n / float(params.delay)),
        "rate_exc_before_cue_hz": float(window_counts(spike_i, spike_t, n, 0, float(params.t_cue_start)).sum()
                                        / n / float(params.t_cue_start)) if params.t_cue_start > 0 * ms else 0.0,
        "rate_inh_hz": float(inh_count / params.n_inh / duration),
        "kernel_truncation_error": kernel_truncation_error(params),
    }
    # activity over time by angle, and the angle decoded in each time bin
    edges = np.arange(0, duration + 1e-12, float(params.activity_bin))
    if edges[-1] < duration - 1e-12:
        edges = np.append(edges, duration)
    t_bin = np.clip(np.searchsorted(edges, spike_t, side="right") - 1, 0, len(edges) - 2)
    counts = np.zeros((len(edges) - 1, n))
    np.add.at(counts, (t_bin, spike_i), 1)
    activity = angle_binned(counts, params.n_angle_bins) / np.diff(edges)[:, None]
    decoded, length = population_vector(counts, theta)
    arrays = {
        "theta_deg": np.degrees(theta),
        "rate_final_hz": final / window,
        "profile_final_hz": profile,
        "angle_bins_deg": (np.arange(params.n_angle_bins) + 0.5) * 360 / params.n_angle_bins,
        "activity_t": (edges[:-1] + edges[1:]) / 2,
        "activity_hz": activity,
        "decoded_angle_deg": decoded,
        "decoded_length": length,
        "cue": np.array([params.cue_angle, params.cue_width, float(params.t_cue_start), float(params.t_cue_end),
                         float(params.cue_strength)]),
    }
    return metrics, arrays


def saved_spikes(
    params: RingSpikingParams, spike_i: np.ndarray, spike_t: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int]:
    """The excitatory spikes to save: all, or every k-th cell's above ``max_saved_spikes``."""
    step = max(1, int(math.ceil(len(spike_i) / max(params.max_saved_spikes, 1))))
    keep = spike_i % step == 0
    return spike_i[keep], spike_t[keep], step


def simulate(params: RingSpikingParams, session: DeviceSession, previous: RunRecord | None = None) -> Result:
    """Run the ``ring-spiking`` model on ``session``'s device and decode the remembered angle."""
    program = MODEL.program(session, params, simd=session.simd)
    monitors = program.run(run_values(params))
    spike_i = np.asarray(monitors.spikes_exc.i[:], dtype=np.int64)
    spike_t = np.asarray(monitors.spikes_exc.t[:] / second)
    inh_i = np.asarray(monitors.spikes_inh.i[:], dtype=np.int64)
    inh_t = np.asarray(monitors.spikes_inh.t[:] / second)
    metrics, arrays = analyse(params, spike_i, spike_t, len(inh_i))
    metrics["bump_held"] = bool(metrics["bump_amplitude"] >= BUMP_MIN_LENGTH and metrics["bump_peak_rate_hz"] >= BUMP_MIN_PEAK_HZ)
    kept_i, kept_t, step = saved_spikes(params, spike_i, spike_t)
    arrays.update({"spike_exc_i": kept_i, "spike_exc_t": kept_t, "spike_exc_step": np.array(step),
                   "spike_inh_i": inh_i, "spike_inh_t": inh_t})
    return Result(metrics=metrics, arrays=arrays)


def recordings(params, arrays):
    """The two spike monitors, as arrays of ``data.npz`` (see :mod:`brianlab.recordings`)."""
    step = int(arrays["spike_exc_step"])
    kept = "every spike" if step == 1 else f"spikes of every {step}th cell (max_saved_spikes)"
    return (
        SpikeTrains("exc", times="spike_exc_t", indices="spike_exc_i", n_neurons=params.n_exc,
                    covered=range(0, params.n_exc, step), description=f"excitatory cells: {kept}"),
        SpikeTrains("inh", times="spike_inh_t", indices="spike_inh_i", n_neurons=params.n_inh,
                    description="interneurons: every spike"),
    )


# ----------------------------------------------------------------------------
# figures
# ----------------------------------------------------------------------------


def _cue(record: RunRecord) -> tuple[float, float, float, float, float]:
    angle, width, t_on, t_off, strength = record.arrays["cue"]
    return angle, width, t_on, t_off, strength


def plot_raster(record: RunRecord, ax: Axes | None = None) -> Axes:
    """Excitatory spikes, cells sorted by preferred angle, with the cue marked."""
    data = record.arrays
    ax = plotting.new_axes(ax, figsize=(8.0, 4.5))
    angle = data["theta_deg"][data["spike_exc_i"]]
    ax.plot(data["spike_exc_t"] * 1e3, angle, ",", color="k", alpha=0.6)
    cue_angle, width, t_on, t_off, strength = _cue(record)
    if strength > 0 and t_off > t_on:
        for shift in (-360, 0, 360):
            ax.fill_between([t_on * 1e3, t_off * 1e3], cue_angle - width / 2 + shift, cue_angle + width / 2 + shift,
                            color="C1", alpha=0.25, lw=0, label="cue" if shift == 0 else None)
        ax.legend(loc="upper right", frameon=False)
    ax.set_ylim(0, 360)
    ax.set_xlim(0, data["activity_t"][-1] * 1e3 + 0.5e3 * (data["activity_t"][1] - data["activity_t"][0]))
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("preferred angle (deg)")
    step = int(data["spike_exc_step"])
    ax.set_title("excitatory spikes" + (f" (every {step}th cell)" if step > 1 else ""))
    return ax


def plot_decoded(record: RunRecord, ax: Axes | None = None) -> Axes:
    """The population-vector angle in each time bin, with the cue angle and the cue period."""
    data = record.arrays
    ax = plotting.new_axes(ax)
    cue_angle, width, t_on, t_off, strength = _cue(record)
    t = data["activity_t"] * 1e3
    strong = data["decoded_length"] >= BUMP_MIN_LENGTH
    ax.plot(t[strong], data["decoded_angle_deg"][strong], "o", ms=3, color="C0", label="decoded (bump)")
    ax.plot(t[~strong], data["decoded_angle_deg"][~strong], "o", ms=3, color="0.7",
            label=f"decoded (length < {BUMP_MIN_LENGTH})")
    ax.axhline(cue_angle, color="C1", lw=1, label="cue angle")
    if t_off > t_on:
        ax.axvspan(t_on * 1e3, t_off * 1e3, color="C1", alpha=0.15, lw=0)
    ax.set_ylim(0, 360)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("decoded angle (deg)")
    m = record.metrics
    ax.set_title(f"remembered angle {m['decoded_angle_deg']:.1f} deg (error {m['angle_error_deg']:+.1f} deg)")
    ax.legend(frameon=False, fontsize="small")
    return ax


def plot_profile(record: RunRecord, ax: Axes | None = None) -> Axes:
    """Rate against preferred angle in the final decoding window (binned and per cell)."""
    data = record.arrays
    ax = plotting.new_axes(ax)
    ax.plot(data["theta_deg"], data["rate_final_hz"], ".", ms=2, color="0.7", label="cells")
    ax.plot(data["angle_bins_deg"], data["profile_final_hz"], "-", color="C0", lw=2, label="angle bins")
    cue_angle, *_ = _cue(record)
    ax.axvline(cue_angle, color="C1", lw=1, label="cue angle")
    ax.axvline(record.metrics["decoded_angle_deg"], color="C0", lw=1, ls="--", label="decoded")
    ax.set_xlim(0, 360)
    ax.set_xlabel("preferred angle (deg)")
    ax.set_ylabel("rate at the end of the delay (Hz)")
    m = record.metrics
    ax.set_title(f"bump width {m['bump_width_deg']:.0f} deg, peak {m['bump_peak_rate_hz']:.0f} Hz")
    ax.legend(frameon=False, fontsize="small")
    return ax


def plot_activity(record: RunRecord, ax: Axes | None = None) -> Axes:
    """Excitatory rate over time and preferred angle (heat map)."""
    data = record.arrays
    ax = plotting.new_axes(ax, figsize=(8.0, 4.0))
    t = data["activity_t"]
    half = (t[1] - t[0]) / 2 if len(t) > 1 else 0.0
    image = ax.imshow(data["activity_hz"].T, origin="lower", aspect="auto", cmap="viridis",
                      extent=[(t[0] - half) * 1e3, (t[-1] + half) * 1e3, 0, 360])
    ax.figure.colorbar(image, ax=ax, label="rate (Hz)")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("preferred angle (deg)")
    ax.set_title("excitatory activity")
    return ax


def figures(record: RunRecord, out_dir: Path) -> list[Path]:
    """Write the raster, the decoded angle, the final profile and the activity map into ``out_dir``."""
    return [
        plotting.save(plot_raster(record), out_dir / "raster.png"),
        plotting.save(plot_decoded(record), out_dir / "decoded_angle.png"),
        plotting.save(plot_profile(record), out_dir / "bump_profile.png"),
        plotting.save(plot_activity(record), out_dir / "activity.png"),
    ]


MODEL = Model(
    name="ring-spiking",
    summary="spiking bump attractor (Compte et al. 2000): a cue held through a delay, decoded by population vector",
    params=RingSpikingParams,
    simulate=simulate,
    figures=figures,
    sweepable=SWEEPABLE,
    build=build,
    run_values=run_values,
    tiny={"n_exc": "128", "n_inh": "32", "n_ext": "100", "t_cue_start": "20*ms", "cue_duration": "30*ms", "delay": "50*ms", "decode_window": "40*ms"},
    recordings=recordings,
)
