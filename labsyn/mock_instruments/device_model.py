"""Physics-backed bipolar filamentary RRAM (HfOx) rate model for the simulated bench.

State: forming damage D (pristine device), long-term filament state w in [0, 1] with a power-law
drift clock, two volatile states s1, s2, and a cycle counter. Every rate is constant while the
device voltage is, so each constant-voltage segment is integrated in closed form; a DC sweep, a
pulse and a pulse train share one physics. With a series resistor or a current limit the segment
is sub-stepped (Δw <= 0.02, Δs <= 0.1 per sub-step) and the device voltage re-solved each time.

- Forming: dD/dt = exp((|V| - V_form)/V_accel)/tau_form (either polarity); at D = 1 the device
  forms with G = clip(I_avail/V_min, G_off, G_on), I_avail = min(i_limit, |V_emf|/r_series). With
  I_avail/V_min > 10·G_on the device is overformed: stuck at LRS (truth.stuck = "LRS").
- SET (V > V_set): dw/dt = k·(w_inf_set - w); RESET (V < -V_reset): dw/dt = k·(w_inf_reset - w),
  w clipped to [0, 1] (hard bounds; HFOX: w_inf 1 / 0, soft bounds only, as NeuroSim's devices
  need w_inf beyond the bounds: see presets_neurosim);
  k = k0·(exp((|V| - V_th)/V_slope) - 1)·exp(-Ea/k_B·(1/T - 1/T0)).
- G = G_off + w_eff·(G_on - G_off) + (dG1·s1 + dG2·s2); I = G·V0·sinh(V/V0), V0 linear in w.
- Volatile: ds_i/dt = k_v(V)·(1 - s_i) - s_i/tau_i above V_vol, else -s_i/tau_i.
- Retention: w_eff = w·((t + t0)/t0)^(-nu), t counted since the last segment that drove the device
  beyond a switching threshold, accelerated by exp(Ea_ret/k_B·(1/T0 - 1/T)).
- Endurance: a cycle is an upward 0.5 crossing after a downward one; past n_onset the
  log-levels close towards their geometric mean by p·log10(n/n_onset); at n_stuck the device
  sticks at LRS or HRS (per device).
- Noise: D2D draw per device key; C2C redraw of thresholds and levels at each 0.5 crossing and
  multiplicative noise on each segment's Δw; relative read noise in `read_current`.

Default preset `HFOX` (nominal device, 300 K):
- 3 kOhm / 60 kOhm (on/off 20) at 0 V; V0 0.3 V (HRS) to 1.5 V (LRS); pristine ~1 GOhm.
- V_form Weibull, scale 2.8 V, shape 8; a 20 mV / 10 ms ramp forms at ~V_form; post-forming
  R ≈ 0.4 V / I_cc (4 kOhm at 100 µA).
- 20 mV / 10 ms DC sweep: SET (w crosses 0.5) at ~+0.90 V, RESET at ~-1.02 V without
  compliance; under a SET compliance the LRS settles where V_dev falls to ~V_set = 0.75 V.
- Identical pulses: LTP +1.1 V / 1 µs and LTD -1.3 V / 1 µs, k·t_pw = 0.04, i.e. NeuroSim
  A = 25 pulses (98 % of the window after 100 pulses).
- PPF: tau1 = 100 µs, tau2 = 1 ms; dG1, dG2 = 5 %, 3 % of the window; active above 0.3 V.
  Two identical sub-switching pulses read at a fixed delay give exactly
  PPF(dt) = C1·exp(-dt/tau1) + C2·exp(-dt/tau2), dt = gap between the pulses (~20 % at 3 µs
  for 0.5 V / 10 µs pulses on HRS).
- Retention nu = 0.02 (t0 = 1 s, Ea 1.2 eV); endurance onset 1e5 cycles, stuck ~3e6.
- C2C 3 % on Δw, 3 % on levels, 10 mV on thresholds; read noise 0.7 %. D2D 20 mV on thresholds,
  10 % / 25 % log-normal on G_on / G_off, 20 % on k0.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from labsyn.mock_instruments.presets import (
    HFOX,
    DeviceParams,
    RRAMPreset,
    device_rng,
    draw_device_params,
)

from .device_endurance import BipolarCycles
from .device_model_physics import (
    _ARG_MAX,
    _DS_STEP,
    _DW_STEP,
    _MAX_SUBSTEPS,
    K_B_EV,
    GroundTruth,
    PulseTrainResult,
    SegmentResult,
    _checked,
    _crossing,
    _sinh,
    _sinh_iv,
)
from .device_pulse_trains import PulseTrains

__all__ = [
    "HFOX", "DeviceParams", "GroundTruth", "PulseTrainResult", "RRAMDevice", "RRAMPreset",
    "SegmentResult", "device_rng",
]

class RRAMDevice(PulseTrains, BipolarCycles):
    """One bipolar filamentary RRAM cell driven by constant-voltage (or current) segments."""

    def __init__(self, preset: RRAMPreset = HFOX, rng: np.random.Generator | None = None,
                 temperature_k: float = 300.0) -> None:
        self.preset = preset
        self._rng = rng if rng is not None else np.random.default_rng()
        params = draw_device_params(preset, self._rng)
        self.truth = GroundTruth(params=params, v_form=params.v_form)
        self.formed = False
        self.time_s = 0.0
        self._damage = 0.0
        self._w = 0.0
        self._t_prog = 0.0
        self._s1 = 0.0
        self._s2 = 0.0
        self._v_set_th = params.v_set_th
        self._v_reset_th = params.v_reset_th
        self._on_level = 1.0
        self._off_level = 1.0
        self._last_crossing = 0
        self._g_on = params.g_on
        self._g_off = params.g_off
        self.temperature_k = temperature_k

    @classmethod
    def from_key(cls, preset: RRAMPreset, wafer_seed: int, die: tuple[int, int], device: int,
                 temperature_k: float = 300.0) -> RRAMDevice:
        """The device at (wafer seed, die, index): same key, same device and same noise."""
        return cls(preset, device_rng(wafer_seed, die, device), temperature_k)

    @property
    def temperature_k(self) -> float:
        return self._temperature_k

    @temperature_k.setter
    def temperature_k(self, value: float) -> None:
        t = _checked("temperature_k", value, 0.0, strict=True)
        inv = 1.0 / self.preset.t_ref_k - 1.0 / t
        self._temperature_k = t
        self._rate_factor = math.exp(self.preset.ea_switch_ev / K_B_EV * inv)
        self._drift_accel = math.exp(self.preset.ea_retention_ev / K_B_EV * inv)

    @property
    def state(self) -> float:
        """Long-term state w including retention drift (0 for a pristine device)."""
        return self._w * self._drift(self._t_prog) if self.formed else 0.0

    def _drift(self, t_eff: float) -> float:
        t0 = self.preset.drift_t0_s
        return ((t_eff + t0) / t0) ** -self.preset.drift_nu

    def _g_v0(self) -> tuple[float, float]:
        p = self.preset
        if not self.formed:
            return p.g_pristine, p.v0_pristine
        w = self._w * self._drift(self._t_prog)
        window = self._g_on - self._g_off
        g = self._g_off + window * (w + p.dg1_frac * self._s1 + p.dg2_frac * self._s2)
        return g, p.v0_hrs + w * (p.v0_lrs - p.v0_hrs)

    def conductance(self) -> float:
        """Small-signal conductance at 0 V, volatile part and drift included (S)."""
        return self._g_v0()[0]

    def current(self, v: float | np.ndarray) -> float | np.ndarray:
        """Deterministic current at device voltage v for the present state."""
        g, v0 = self._g_v0()
        if isinstance(v, np.ndarray):
            return _sinh_iv(g, v0, v)
        return g * v0 * _sinh(_checked("v", v) / v0)

    def read_current(self, v: float) -> float:
        """`current(v)` with relative Gaussian read noise; takes no device time."""
        i = self.current(_checked("v", v))
        if self.preset.noise:
            i *= 1.0 + self.preset.read_noise * self._rng.standard_normal()
        return i

    def switching_rate(self, v: float) -> float:
        """SET or RESET rate k (1/s) at device voltage v in the present state; 0 below threshold."""
        return self._switch_rate(_checked("v", v))[0]

    def _switch_rate(self, v_dev: float) -> tuple[float, float]:
        if self.truth.stuck is not None or not self.formed:
            return 0.0, 0.0
        p, prm = self.preset, self.truth.params
        if v_dev > self._v_set_th:
            x = (v_dev - self._v_set_th) / p.v_set_slope
            return prm.k0_set * self._rate_factor * math.expm1(min(x, _ARG_MAX)), p.w_inf_set
        if v_dev < -self._v_reset_th:
            x = (-v_dev - self._v_reset_th) / p.v_reset_slope
            return (prm.k0_reset * self._rate_factor * math.expm1(min(x, _ARG_MAX)),
                    p.w_inf_reset)
        return 0.0, 0.0

    def _vol_rate(self, v_dev: float) -> float:
        p = self.preset
        x = (abs(v_dev) - p.v_vol_th) / p.v_vol_slope
        return p.k0_vol * math.expm1(min(x, _ARG_MAX)) if x > 0.0 else 0.0

    def _evolve(self, k: float, w_inf: float, kv: float, dt: float) -> float | None:
        """Advance w and s over dt at constant rates; returns the drift-folded w if programming."""
        folded = None
        if k > 0.0:
            folded = self._w * self._drift(self._t_prog)
            self._w = min(max(w_inf + (folded - w_inf) * math.exp(-k * dt), 0.0), 1.0)
            self._t_prog = 0.0
        else:
            self._t_prog += dt * self._drift_accel
        p = self.preset
        if kv > 0.0:
            lam1, lam2 = kv + 1.0 / p.tau1_s, kv + 1.0 / p.tau2_s
            s1_inf, s2_inf = kv / lam1, kv / lam2
            self._s1 = s1_inf + (self._s1 - s1_inf) * math.exp(-lam1 * dt)
            self._s2 = s2_inf + (self._s2 - s2_inf) * math.exp(-lam2 * dt)
        else:
            self._s1 *= math.exp(-dt / p.tau1_s)
            self._s2 *= math.exp(-dt / p.tau2_s)
        return folded

    def _max_step(self, k: float, w_inf: float, kv: float) -> float:
        dt = math.inf
        gap = abs(w_inf - self.state)
        if k > 0.0 and gap > _DW_STEP:
            dt = -math.log1p(-_DW_STEP / gap) / k
        for s, tau in ((self._s1, self.preset.tau1_s), (self._s2, self.preset.tau2_s)):
            lam = kv + 1.0 / tau
            gap = abs(kv / lam - s)
            if gap > _DS_STEP:
                dt = min(dt, -math.log1p(-_DS_STEP / gap) / lam)
        return dt

    @staticmethod
    def _solve(v_emf: float, g: float, v0: float, i_limit: float | None,
               r_series: float) -> tuple[float, float, bool]:
        """Device voltage and current for an EMF through r_series with an optional limit."""
        a = abs(v_emf)
        if a == 0.0:
            return 0.0, 0.0, False
        x = a
        if r_series > 0.0:
            rg = r_series * g
            x = min(a / (1.0 + rg), v0 * math.asinh(a / (rg * v0)))
            for _ in range(100):
                u = min(x / v0, _ARG_MAX)
                step = (x + rg * v0 * math.sinh(u) - a) / (1.0 + rg * math.cosh(u))
                x -= step
                if step <= 1e-13 * a:
                    break
        i = g * v0 * _sinh(x / v0)
        if i_limit is not None and i > i_limit:
            return math.copysign(v0 * math.asinh(i_limit / (g * v0)), v_emf), \
                math.copysign(i_limit, v_emf), True
        return math.copysign(x, v_emf), math.copysign(i, v_emf), False

    def _form(self, v_emf: float, v_dev: float, i_limit: float | None, r_series: float,
              time: float) -> None:
        p, truth = self.preset, self.truth
        i_avail = math.inf if i_limit is None else i_limit
        if r_series > 0.0:
            i_avail = min(i_avail, abs(v_emf) / r_series)
        g_after = i_avail / p.v_min
        self.formed = True
        truth.forming_voltage, truth.forming_time = abs(v_dev), time
        self._t_prog = self._s1 = self._s2 = 0.0
        if g_after > p.overform_ratio * self._g_on:
            truth.overformed, truth.stuck = True, "LRS"
            self._w = 1.0
        else:
            g = min(max(g_after, self._g_off), self._g_on)
            self._w = (g - self._g_off) / (self._g_on - self._g_off)

    def _on_crossing(self, direction: int, v_dev: float) -> None:
        """Bookkeeping at a 0.5 crossing: cycles, C2C redraws, window closure, stuck-at."""
        p, truth, prm = self.preset, self.truth, self.truth.params
        floor = p.v_vol_th + 0.05
        if direction > 0:
            truth.set_crossings.append(v_dev)
            if self._last_crossing < 0:
                truth.cycles += 1
            if p.noise:
                z = self._rng.standard_normal(2)
                self._v_reset_th = max(prm.v_reset_th + p.c2c_sigma_v_th * z[0], floor)
                self._on_level = math.exp(p.c2c_sigma_ln_level * z[1])
        else:
            truth.reset_crossings.append(v_dev)
            if p.noise:
                z = self._rng.standard_normal(2)
                self._v_set_th = max(prm.v_set_th + p.c2c_sigma_v_th * z[0], floor)
                self._off_level = math.exp(p.c2c_sigma_ln_level * z[1])
        self._last_crossing = direction
        g_on, g_off = prm.g_on * self._on_level, prm.g_off * self._off_level
        if truth.cycles > prm.n_onset:
            c = min(p.closure_per_decade * math.log10(truth.cycles / prm.n_onset), 1.0)
            mean_c = math.sqrt(g_on * g_off) ** c
            g_on, g_off = g_on ** (1.0 - c) * mean_c, g_off ** (1.0 - c) * mean_c
        self._g_on, self._g_off = g_on, min(g_off, g_on)
        if truth.cycles >= prm.n_stuck and truth.stuck is None:
            truth.stuck = prm.stuck_mode
            self._w = 1.0 if prm.stuck_mode == "LRS" else 0.0
            self._t_prog = 0.0

    def _finish_programming(self, w_start: float, w_inf: float) -> None:
        """C2C noise: multiplicative on the segment's Δw (kept between w_start and w_inf), then
        NeuroSim's additive N(0, c2c_sigma_w) on w; w stays within the hard bounds [0, 1]."""
        p = self.preset
        dw = self._w - w_start
        if dw != 0.0 and p.noise:
            m = 1.0 + p.c2c_sigma_dw * self._rng.standard_normal()
            self._w = w_start + dw * min(max(m, 0.0), (w_inf - w_start) / dw)
            if p.c2c_sigma_w > 0.0:
                self._w += p.c2c_sigma_w * self._rng.standard_normal()
            self._w = min(max(self._w, 0.0), 1.0)

    def _segment(self, v_emf: float, duration: float, i_limit: float | None,
                 r_series: float) -> tuple[SegmentResult, bool]:
        """Integrate a constant source drive; also reports whether the limit ever let go."""
        if self._prepaid_s > 0.0 and (skipped := self._consume_prepaid(
                v_emf, duration, i_limit, r_series)) is not None:
            return skipped
        p = self.preset
        direct = i_limit is None and r_series == 0.0
        t = peak = 0.0
        clamped_any = free_any = formed_now = finished = crossed = False
        w_before = self._w
        w_start: float | None = None
        w_inf = v_cross = v_prog = 0.0
        steps = 0
        while True:
            g, v0 = self._g_v0()
            if direct:
                v_dev, i, clamped = v_emf, g * v0 * _sinh(v_emf / v0), False
            else:
                v_dev, i, clamped = self._solve(v_emf, g, v0, i_limit, r_series)
            if abs(i) > abs(peak):
                peak = i
            clamped_any, free_any = clamped_any or clamped, free_any or not clamped
            remaining = duration - t
            if remaining <= 0.0:
                if finished or w_start is None:
                    break
                finished = True
                self._finish_programming(w_start, w_inf)
                direction = _crossing(w_before, self._w)
                if direction:
                    self._on_crossing(direction, v_cross if crossed else v_prog)
                continue
            if not self.formed:
                rate = math.exp(min((abs(v_dev) - self.truth.v_form) / p.v_form_accel,
                                    _ARG_MAX)) / p.tau_form
                if self._damage + rate * remaining < 1.0:
                    self._damage += rate * remaining
                    t = duration
                else:
                    t = min(t + (1.0 - self._damage) / rate, duration)
                    self._damage = 1.0
                    self._form(v_emf, v_dev, i_limit, r_series, self.time_s + t)
                    formed_now, w_before = True, self._w
                continue
            k, target = self._switch_rate(v_dev)
            kv = self._vol_rate(v_dev)
            dt = remaining
            if not direct and steps < _MAX_SUBSTEPS:
                dt = min(dt, self._max_step(k, target, kv))
            w_prev = self._w
            folded = self._evolve(k, target, kv, dt)
            if folded is not None:
                if w_start is None:
                    w_start, w_inf = folded, target
                v_prog = v_dev
                if not crossed and _crossing(w_prev, self._w):
                    crossed, v_cross = True, v_dev
            t = duration if dt >= remaining else t + dt
            steps += 1
        self.time_s += duration
        self.truth.peak_current = max(self.truth.peak_current, abs(peak))
        return SegmentResult(i, v_dev, peak, clamped_any, formed_now), free_any

    def apply(self, v: float, duration: float, i_limit: float | None = None,
              r_series: float = 0.0) -> SegmentResult:
        """Hold source EMF v for duration (s) through r_series (Ohm), current limited to i_limit."""
        v = _checked("v", v)
        duration = _checked("duration", duration, 0.0)
        if i_limit is not None:
            i_limit = _checked("i_limit", i_limit, 0.0, strict=True)
        r_series = _checked("r_series", r_series, 0.0)
        return self._segment(v, duration, i_limit, r_series)[0]

    def apply_current(self, i: float, duration: float, v_limit: float,
                      r_series: float = 0.0) -> SegmentResult:
        """Source current i for duration; `limited` means the source hit v_limit (V compliance)."""
        i = _checked("i", i)
        duration = _checked("duration", duration, 0.0)
        v_limit = _checked("v_limit", v_limit, 0.0, strict=True)
        r_series = _checked("r_series", r_series, 0.0)
        if i == 0.0:
            return self._segment(0.0, duration, None, 0.0)[0]
        result, free_any = self._segment(math.copysign(v_limit, i), duration, abs(i), r_series)
        return replace(result, limited=free_any)

    def idle(self, duration: float) -> None:
        """0 V (or open) for duration: volatile decay and drift time only."""
        self._segment(0.0, _checked("duration", duration, 0.0), None, 0.0)
