"""Presets of the RRAM rate model, and the per-device (D2D) draw keyed by wafer, die and device.

`HFOX` is the default: a bipolar filamentary HfOx cell. Its key figures are listed in the
docstring of `labsyn.mock_instruments.device_model`; the bench script
`bench/bench_device_model.py` re-measures them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import numpy as np

_POSITIVE = (
    "g_on", "g_off", "g_pristine", "v0_hrs", "v0_lrs", "v0_pristine", "v_form_scale",
    "v_form_shape", "tau_form", "v_form_accel", "v_min", "overform_ratio", "v_set_th",
    "v_set_slope", "k0_set", "v_reset_th", "v_reset_slope", "k0_reset", "t_ref_k",
    "ltp_pulse_s", "ltd_pulse_s", "v_vol_th", "v_vol_slope", "k0_vol", "tau1_s", "tau2_s",
    "drift_t0_s", "n_onset",
)


@dataclass(frozen=True)
class RRAMPreset:
    """Nominal parameters of one device type (SI units; rates in 1/s; energies in eV).

    Switching rate above threshold: k(V) = k0·(exp((|V| - V_th)/V_slope) - 1)·Arrhenius(T).
    Temperature scales the SET/RESET rates (ea_switch_ev) and the drift clock (ea_retention_ev);
    forming and the volatile states do not depend on it.
    """

    name: str = "HfOx"
    # Conductance window and sinh I-V, I = G·V0·sinh(V/V0)
    g_on: float = 1 / 3e3  # S, LRS conductance (w = 1): 3 kOhm
    g_off: float = 1 / 60e3  # S, HRS conductance (w = 0): 60 kOhm, on/off 20
    g_pristine: float = 1e-9  # S, unformed oxide, ~1 GOhm
    v0_hrs: float = 0.3  # V, sinh scale at w = 0 (strongly nonlinear HRS)
    v0_lrs: float = 1.5  # V, sinh scale at w = 1 (nearly ohmic LRS)
    v0_pristine: float = 0.4  # V, sinh scale of the pristine oxide
    # Stochastic forming: dD/dt = exp((|V| - V_form)/v_form_accel)/tau_form, forms at D = 1
    v_form_scale: float = 2.8  # V, Weibull scale of V_form across devices
    v_form_shape: float = 8.0  # Weibull shape (modulus) of V_form
    tau_form: float = 0.05  # s, damage time at |V| = V_form (a 2 V/s ramp forms at ~V_form)
    v_form_accel: float = 0.1  # V per e-fold of the damage rate (voltage-time trade-off)
    v_min: float = 0.4  # V, post-forming G = I_avail / v_min (clipped to [g_off, g_on])
    overform_ratio: float = 10.0  # I_avail/v_min above this x g_on: overformed, stuck at LRS
    # Soft-bounded SET (dw/dt = k·(1 - w)) and RESET (dw/dt = -k·w)
    v_set_th: float = 0.75  # V, SET threshold
    v_set_slope: float = 0.03  # V per e-fold of the SET rate
    k0_set: float = 0.34  # 1/s, SET rate prefactor
    v_reset_th: float = 0.85  # V, RESET threshold (magnitude, negative polarity)
    v_reset_slope: float = 0.04  # V per e-fold of the RESET rate
    k0_reset: float = 0.52  # 1/s, RESET rate prefactor
    w_inf_set: float = 1.0  # SET drives w toward this (>= 1; w clipped at 1: hard bound)
    w_inf_reset: float = 0.0  # RESET drives w toward this (<= 0; w clipped at 0)
    ea_switch_ev: float = 0.3  # eV, activation energy of the switching rates
    t_ref_k: float = 300.0  # K, temperature at which rates and drift take their nominal values
    ltp_pulse_v: float = 1.1  # V, identical-pulse LTP write amplitude (k·t_pw = 0.04)
    ltp_pulse_s: float = 1e-6  # s, LTP write width
    ltd_pulse_v: float = -1.3  # V, identical-pulse LTD write amplitude (k·t_pw = 0.04)
    ltd_pulse_s: float = 1e-6  # s, LTD write width
    # Volatile states s1, s2: ds/dt = k_v(V)·(1 - s) - s/tau above v_vol_th, else -s/tau
    v_vol_th: float = 0.3  # V, activation threshold (above reads, below switching)
    v_vol_slope: float = 0.1  # V per e-fold of k_v
    k0_vol: float = 5.5e3  # 1/s, k_v prefactor
    tau1_s: float = 100e-6  # s, fast volatile decay (PPF tau1)
    tau2_s: float = 1e-3  # s, slow volatile decay (PPF tau2)
    dg1_frac: float = 0.05  # fraction of the window (g_on - g_off) carried by s1 = 1
    dg2_frac: float = 0.03  # fraction of the window carried by s2 = 1
    # Retention: w_eff = w·((t + t0)/t0)^(-nu), t accelerated by Arrhenius (ea_retention_ev)
    drift_nu: float = 0.02  # power-law drift exponent
    drift_t0_s: float = 1.0  # s, drift reference time
    ea_retention_ev: float = 1.2  # eV, activation energy of the drift clock
    # Endurance: window closes as closure_per_decade·log10(n/n_onset), then stuck at n_stuck
    n_onset: float = 1e5  # cycles, median onset of window closure
    closure_per_decade: float = 0.25  # fraction of the log-window lost per decade past onset
    stuck_decades: float = 1.5  # median log10(n_stuck/n_onset)
    stuck_decades_sigma: float = 0.3  # spread of log10(n_stuck/n_onset) across devices
    stuck_lrs_probability: float = 0.5  # probability a worn-out device sticks at LRS
    # Device-to-device spreads (drawn once per device key)
    d2d: bool = True  # False: every device gets the nominal values (V_form = Weibull scale)
    sigma_ln_g_on: float = 0.1  # log-normal spread of g_on
    sigma_ln_g_off: float = 0.25  # log-normal spread of g_off
    sigma_ln_k0: float = 0.2  # log-normal spread of k0_set and k0_reset
    sigma_v_th: float = 0.02  # V, normal spread of v_set_th and v_reset_th
    sigma_ln_n_onset: float = 0.3  # log-normal spread of n_onset
    # Cycle-to-cycle and read noise
    noise: bool = True  # False: no C2C and no read noise (exact tests)
    c2c_sigma_v_th: float = 0.01  # V, threshold redraw at each 0.5 crossing (±40 % in k)
    c2c_sigma_ln_level: float = 0.03  # log-normal redraw of g_on / g_off levels per cycle
    c2c_sigma_dw: float = 0.03  # relative noise on each segment's (or pulse's) Δw
    c2c_sigma_w: float = 0.0  # additive N(0, σ) on w per programming segment (NeuroSim C2C)
    read_noise: float = 0.007  # relative Gaussian noise of read_current

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"RRAMPreset.{f.name} must be finite, got {value!r}")
        for name in _POSITIVE:
            if getattr(self, name) <= 0:
                raise ValueError(f"RRAMPreset.{name} must be > 0, got {getattr(self, name)!r}")
        if self.g_off >= self.g_on:
            raise ValueError(f"RRAMPreset.g_off ({self.g_off}) must be below g_on ({self.g_on})")
        if self.w_inf_set < 1.0 or self.w_inf_reset > 0.0:
            raise ValueError(f"RRAMPreset needs w_inf_set >= 1 and w_inf_reset <= 0, got "
                             f"{self.w_inf_set!r}, {self.w_inf_reset!r}")
        if self.c2c_sigma_w < 0.0:
            raise ValueError(f"RRAMPreset.c2c_sigma_w must be >= 0, got {self.c2c_sigma_w!r}")
        if self.v_vol_th >= min(self.v_set_th, self.v_reset_th):
            raise ValueError("RRAMPreset.v_vol_th must be below v_set_th and v_reset_th")

    def noiseless(self) -> RRAMPreset:
        """A copy without C2C and read noise (D2D draws still follow the device key)."""
        return replace(self, noise=False)

    def nominal(self) -> RRAMPreset:
        """A copy without any randomness except the per-device stuck-at mode."""
        return replace(self, noise=False, d2d=False)


HFOX = RRAMPreset()
HFOX_SLOW = replace(HFOX, name="HfOx, slow volatile", tau1_s=10e-3, tau2_s=150e-3)
"""An HfOx cell with a diffusive volatile component on ms time scales, τ2/τ1 = 15: PPF and
relaxation an SMU (1 ms pulses, reads ~1 ms apart) can resolve."""


@dataclass(frozen=True)
class DeviceParams:
    """The parameters drawn for one device (its D2D ground truth)."""

    g_on: float  # S
    g_off: float  # S
    k0_set: float  # 1/s
    k0_reset: float  # 1/s
    v_set_th: float  # V
    v_reset_th: float  # V
    v_form: float  # V, Weibull-drawn forming voltage parameter
    n_onset: float  # cycles
    n_stuck: float  # cycles
    stuck_mode: str  # "LRS" or "HRS"


def draw_device_params(preset: RRAMPreset, rng: np.random.Generator) -> DeviceParams:
    """Draw one device around the preset; always consumes the same number of draws."""
    z = [float(x) for x in rng.standard_normal(8)]
    weibull = float(rng.weibull(preset.v_form_shape))
    lrs = bool(rng.random() < preset.stuck_lrs_probability)
    if not preset.d2d:
        z, weibull = [0.0] * 8, 1.0
    g_on = preset.g_on * math.exp(preset.sigma_ln_g_on * z[0])
    g_off = min(preset.g_off * math.exp(preset.sigma_ln_g_off * z[1]), 0.5 * g_on)
    n_onset = preset.n_onset * math.exp(preset.sigma_ln_n_onset * z[6])
    floor = preset.v_vol_th + 0.05
    return DeviceParams(
        g_on=g_on,
        g_off=g_off,
        k0_set=preset.k0_set * math.exp(preset.sigma_ln_k0 * z[2]),
        k0_reset=preset.k0_reset * math.exp(preset.sigma_ln_k0 * z[3]),
        v_set_th=max(preset.v_set_th + preset.sigma_v_th * z[4], floor),
        v_reset_th=max(preset.v_reset_th + preset.sigma_v_th * z[5], floor),
        v_form=preset.v_form_scale * weibull,
        n_onset=n_onset,
        n_stuck=n_onset * 10 ** max(preset.stuck_decades + preset.stuck_decades_sigma * z[7], 0),
        stuck_mode="LRS" if lrs else "HRS",
    )


def _seed_word(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an int, got {value!r}")
    n = int(value)
    return 2 * n if n >= 0 else -2 * n - 1


def device_rng(wafer_seed: int, die: tuple[int, int], device: int) -> np.random.Generator:
    """Generator keyed by (wafer seed, die column, die row, device index); negatives allowed."""
    if len(die) != 2:
        raise ValueError(f"die must be (column, row), got {die!r}")
    words = [_seed_word("wafer_seed", wafer_seed), _seed_word("die column", die[0]),
             _seed_word("die row", die[1]), _seed_word("device", device)]
    return np.random.default_rng(np.random.SeedSequence(words))


def __getattr__(name: str) -> RRAMPreset:
    """The NeuroSim benchmark presets (`AG_ASI`, `TAOX_HFOX`, ...), loaded on first use."""
    from . import presets_neurosim

    if name.lower() in presets_neurosim.NEUROSIM_PRESETS:
        return presets_neurosim.NEUROSIM_PRESETS[name.lower()]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
