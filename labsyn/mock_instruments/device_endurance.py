"""Long alternating SET/RESET trains on the simulated RRAM device, in closed form with numpy
(`RRAMDevice` takes these methods from `BipolarCycles`).

The fast path covers the endurance regime: every SET pulse drives w to its upper bound and
every RESET pulse to its lower bound (checked: rate x width > `SATURATION` at the least
favourable C2C threshold and level). Per pulse it applies the same physics as the scalar path:
the multiplicative C2C noise on each pulse's Δw, the redraw of thresholds and levels at each
0.5 crossing, the cycle count, the window closure past n_onset, stuck-at at n_stuck, the
volatile states, retention drift between pulses, the series-resistance drop and read noise,
for presets with soft bounds only (w_inf 1 / 0, no additive C2C noise on w, as HFOX).
It does not record each crossing voltage in `truth.set_crossings` / `reset_crossings` (that
list would grow without bound); `truth.cycles` and `truth.stuck` are kept. Where the regime
does not hold (compliance engaged, pulses too weak, reads above a threshold) it returns None
and the caller takes the scalar path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .device_model_physics import _ARG_MAX, SegmentResult

SATURATION = 12.0  # k·t_pulse a pulse must reach to count as fully switching (e^-12 left)
_SIGMAS = 4.0  # C2C excursion of thresholds and levels the saturation check allows for


@dataclass(frozen=True)
class BipolarCyclesResult:
    """Reads after each SET and each RESET pulse (A, read noise included; None without reads),
    the device time the train took (s) and the cycles the device counted."""

    read_set: np.ndarray | None
    read_reset: np.ndarray | None
    duration: float
    cycles: int


class BipolarCycles:
    """`RRAMDevice.apply_bipolar_cycles` and the prepaid-time hook the simulated SMU uses to
    let the bench timeline pass over a span the fast path already integrated."""

    _prepaid_s: float = 0.0

    def prepay(self, seconds: float) -> None:
        """The next `seconds` of drive were already integrated: segments skip them."""
        self._prepaid_s = max(0.0, float(seconds))

    def _consume_prepaid(self, v_emf: float, duration: float, i_limit: float | None,
                         r_series: float) -> tuple[SegmentResult, bool] | None:
        """The prepaid part of a segment (None once nothing is left to skip)."""
        self: Any
        if self._prepaid_s <= 1e-12:
            self._prepaid_s = 0.0
            return None
        take = min(duration, self._prepaid_s)
        self._prepaid_s -= take
        if take < duration:
            return self._segment(v_emf, duration - take, i_limit, r_series)
        g, v0 = self._g_v0()
        v_dev, i, clamped = self._solve(v_emf, g, v0, i_limit, r_series)
        return SegmentResult(i, v_dev, i, clamped, False), not clamped

    def apply_bipolar_cycles(self, v_set: float, v_reset: float, t_pulse: float,
                             t_read: float, period: float, n: int, v_read: float | None = None,
                             i_limit: float | None = None, r_series: float = 0.0,
                             lead: float = 0.0) -> BipolarCyclesResult | None:
        """`lead` s at 0 V, then n cycles of (+v_set pulse, read, -|v_reset| pulse, read), one
        pulse every `period` s, each read `t_read` s after its pulse ends at `v_read` (0 V
        without reads). Ends at the last read. None if the regime does not hold."""
        self: Any
        p, prm, truth = self.preset, self.truth.params, self.truth
        v_reset = -abs(v_reset)
        gap = period - t_pulse
        soft_bounds_only = (getattr(p, "w_inf_set", 1.0) == 1.0
                            and getattr(p, "w_inf_reset", 0.0) == 0.0
                            and getattr(p, "c2c_sigma_w", 0.0) == 0.0)
        if (not soft_bounds_only or not self.formed or n < 1 or gap < t_read or v_set <= 0.0
                or (v_read is not None and abs(v_read) >= min(p.v_vol_th, prm.v_set_th))):
            return None
        accel = self._drift_accel
        pulses = 2 * n
        total = lead + (pulses - 1) * period + t_pulse + t_read
        sig = p.c2c_sigma_ln_level * _SIGMAS if p.noise else 0.0
        sig_v = p.c2c_sigma_v_th * _SIGMAS if p.noise else 0.0
        g_lrs = max(prm.g_on, self._g_on) * math.exp(sig)
        v_dev_set, i_set, clamp_set = self._solve(v_set, g_lrs, p.v0_lrs, i_limit, r_series)
        v_dev_rs, i_rs, clamp_rs = self._solve(v_reset, g_lrs, p.v0_lrs, i_limit, r_series)
        if clamp_set or clamp_rs:
            return None
        g_hrs = min(prm.g_off, self._g_off) * math.exp(-sig)
        v_dev_hrs = self._solve(v_reset, g_hrs, p.v0_hrs, None, r_series)[0]
        stuck0 = truth.stuck is not None
        if not stuck0:
            k_set = prm.k0_set * self._rate_factor * math.expm1(
                min((v_dev_set - prm.v_set_th - sig_v) / p.v_set_slope, _ARG_MAX))
            k_rs = prm.k0_reset * self._rate_factor * math.expm1(
                min((-v_dev_rs - prm.v_reset_th - sig_v) / p.v_reset_slope, _ARG_MAX))
            if min(k_set, k_rs) * t_pulse < SATURATION or self.state >= 0.5:
                return None
        rng = self._rng
        z = rng.standard_normal((n, 6)) if p.noise and not stuck0 else np.zeros((n, 6))
        # volatile states: one affine map per cycle, s -> A·s + B
        s_reads = [self._volatile_reads(s, tau, self._vol_rate(v_dev_set),
                                        self._vol_rate(v_dev_hrs), t_pulse, t_read, gap, lead, n)
                   for s, tau in ((self._s1, p.tau1_s), (self._s2, p.tau2_s))]
        if stuck0:
            j_s, w_stuck = -1, self._w
            t_prog0 = self._t_prog
        else:
            w_stuck = 1.0 if prm.stuck_mode == "LRS" else 0.0
            inc0 = 1 if self._last_crossing < 0 else 0
            counts = truth.cycles + inc0 + np.arange(n)
            hit = np.flatnonzero(counts >= prm.n_stuck)
            j_s = int(hit[0]) if hit.size else n
            m = min(n, j_s + 1)
            d_gap = self._drift(gap * accel)
            c_set = np.clip(1.0 + p.c2c_sigma_dw * z[:m, 4], 0.0, 1.0)
            c_rs = np.clip(1.0 + p.c2c_sigma_dw * z[:m, 5], 0.0, 1.0)
            w_set, w_rs = np.empty(m), np.empty(m)
            wb = self._w * self._drift(self._t_prog + lead * accel)
            for j, (a, b) in enumerate(zip(c_set.tolist(), c_rs.tolist(), strict=True)):
                ws = wb + (1.0 - wb) * a
                wr = ws * d_gap * (1.0 - b)
                w_set[j], w_rs[j] = ws, wr
                wb = wr * d_gap
            on_lvl = np.exp(p.c2c_sigma_ln_level * z[:m, 1])
            off_lvl = np.exp(p.c2c_sigma_ln_level * z[:m, 3])
            off_prev = np.concatenate(([self._off_level], off_lvl[:-1]))
            g_on_s, g_off_s = self._closed_levels(on_lvl, off_prev, counts[:m])
            g_on_r, g_off_r = self._closed_levels(on_lvl, off_lvl, counts[:m])
            d_read = self._drift(t_read * accel)
            weff_set, weff_rs = w_set * d_read, w_rs * d_read
            if j_s < n:
                weff_set[-1] = w_stuck * d_read
                weff_rs = weff_rs[:-1]
                g_on_r, g_off_r = g_on_r[:-1], g_off_r[:-1]
            t_prog0 = -(2 * j_s * period + t_pulse + lead) * accel  # elapsed is counted from 0
        # pulses after the device stuck (or all of them if it was stuck before)
        q = np.arange(2 * n)
        tail = q[q > 2 * j_s] if j_s < n else q[:0]
        weff_tail = w_stuck * self._drift(t_prog0 + (lead + tail * period + t_pulse + t_read)
                                          * accel) if tail.size else np.empty(0)
        if stuck0:
            g_on_set = g_on_rs = np.full(n, self._g_on)
            g_off_set = g_off_rs = np.full(n, self._g_off)
            weff_set, weff_rs = weff_tail[0::2], weff_tail[1::2]
        else:
            g_last_on, g_last_off = (g_on_s[-1], g_off_s[-1]) if j_s < n else (0.0, 0.0)
            t_set, t_rs = tail[tail % 2 == 0], tail[tail % 2 == 1]
            weff_set = np.concatenate((weff_set, weff_tail[tail % 2 == 0]))
            weff_rs = np.concatenate((weff_rs, weff_tail[tail % 2 == 1]))
            g_on_set = np.concatenate((g_on_s, np.full(t_set.size, g_last_on)))
            g_off_set = np.concatenate((g_off_s, np.full(t_set.size, g_last_off)))
            g_on_rs = np.concatenate((g_on_r, np.full(t_rs.size, g_last_on)))
            g_off_rs = np.concatenate((g_off_r, np.full(t_rs.size, g_last_off)))
        reads: list[np.ndarray | None] = [None, None]
        if v_read is not None:
            for k, (weff, g_on, g_off) in enumerate(((weff_set, g_on_set, g_off_set),
                                                      (weff_rs, g_on_rs, g_off_rs))):
                vol = p.dg1_frac * s_reads[0][k] + p.dg2_frac * s_reads[1][k]
                g = g_off + (g_on - g_off) * (weff + vol)
                v0 = p.v0_hrs + weff * (p.v0_lrs - p.v0_hrs)
                i = _read_through(v_read, g, v0, r_series)
                if p.noise:
                    i = i * (1.0 + p.read_noise * rng.standard_normal(n))
                reads[k] = i
        self._finish_cycles(n, j_s, stuck0, z, counts if not stuck0 else None,
                            (g_on_s, g_off_s, g_on_r, g_off_r) if not stuck0 else None,
                            w_rs if not stuck0 else None, w_stuck, t_prog0, total, lead,
                            t_pulse, t_read, period, [s[2] for s in s_reads])
        self.time_s += total
        peak = max(abs(i_set), abs(i_rs))
        truth.peak_current = max(truth.peak_current, peak)
        return BipolarCyclesResult(reads[0], reads[1], total, truth.cycles)

    def _closed_levels(self, on_lvl: np.ndarray, off_lvl: np.ndarray,
                       counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """G_on, G_off after a crossing at `counts` cycles: C2C levels, then window closure."""
        self: Any
        p, prm = self.preset, self.truth.params
        g_on, g_off = prm.g_on * on_lvl, prm.g_off * off_lvl
        with np.errstate(divide="ignore"):
            c = np.where(counts > prm.n_onset, np.minimum(
                p.closure_per_decade * np.log10(np.maximum(counts, 1) / prm.n_onset), 1.0), 0.0)
        mean_c = np.sqrt(g_on * g_off) ** c
        g_on, g_off = g_on ** (1.0 - c) * mean_c, g_off ** (1.0 - c) * mean_c
        return g_on, np.minimum(g_off, g_on)

    def _volatile_reads(self, s0: float, tau: float, kv_set: float, kv_reset: float, tp: float,
                        t_read: float, gap: float, lead: float,
                        n: int) -> tuple[np.ndarray, np.ndarray, float]:
        """A volatile state at the SET reads, at the RESET reads, and after the last read."""
        def step(kv: float) -> tuple[float, float]:
            lam = kv + 1.0 / tau
            a = math.exp(-lam * tp)
            return a, kv / lam * (1.0 - a)

        (a1, b1), (a2, b2) = step(kv_set), step(kv_reset)
        eg, er = math.exp(-gap / tau), math.exp(-t_read / tau)
        big_a, big_b = a1 * eg * a2 * eg, (b1 * eg * a2 + b2) * eg
        start0 = s0 * math.exp(-lead / tau)
        fixed = big_b / (1.0 - big_a) if big_a < 1.0 else start0
        powers = np.exp(np.arange(n) * math.log(big_a)) if big_a > 0.0 else \
            np.concatenate(([1.0], np.zeros(n - 1)))
        start = fixed + (start0 - fixed) * powers
        after_set = a1 * start + b1
        after_reset = a2 * after_set * eg + b2
        return after_set * er, after_reset * er, float(after_reset[-1] * er)

    def _finish_cycles(self, n: int, j_s: int, stuck0: bool, z: np.ndarray,
                       counts: np.ndarray | None, levels: tuple[np.ndarray, ...] | None,
                       w_rs: np.ndarray | None, w_stuck: float, t_prog0: float, total: float,
                       lead: float, tp: float, t_read: float, period: float,
                       s_end: list[float]) -> None:
        """The device state after the train (what the scalar path would leave)."""
        self: Any
        p, prm, truth = self.preset, self.truth.params, self.truth
        self._s1, self._s2 = s_end
        accel = self._drift_accel
        if stuck0:
            self._t_prog += total * accel
            return
        assert counts is not None and levels is not None and w_rs is not None
        floor = p.v_vol_th + 0.05
        last = min(n, j_s + 1) - 1
        self._v_reset_th = max(prm.v_reset_th + p.c2c_sigma_v_th * z[last, 0], floor)
        self._on_level = math.exp(p.c2c_sigma_ln_level * z[last, 1])
        truth.cycles = int(counts[last])
        g_on_s, g_off_s, g_on_r, g_off_r = levels
        if j_s < n:
            truth.stuck = prm.stuck_mode
            self._w = w_stuck
            self._t_prog = ((2 * n - 1 - 2 * j_s) * period + t_read) * accel
            self._g_on, self._g_off = float(g_on_s[-1]), float(g_off_s[-1])
            if last > 0:
                self._v_set_th = max(prm.v_set_th + p.c2c_sigma_v_th * z[last - 1, 2], floor)
                self._off_level = math.exp(p.c2c_sigma_ln_level * z[last - 1, 3])
            self._last_crossing = 1
            return
        self._v_set_th = max(prm.v_set_th + p.c2c_sigma_v_th * z[last, 2], floor)
        self._off_level = math.exp(p.c2c_sigma_ln_level * z[last, 3])
        self._w = float(w_rs[-1])
        self._t_prog = t_read * accel
        self._g_on, self._g_off = float(g_on_r[-1]), float(g_off_r[-1])
        self._last_crossing = -1


def _read_through(v_read: float, g: np.ndarray, v0: np.ndarray, r_series: float) -> np.ndarray:
    """Device current at a read of `v_read` through `r_series` (Newton on the sinh I-V)."""
    v = np.full(g.shape, float(v_read)) / (1.0 + r_series * g)
    if r_series > 0.0:
        for _ in range(4):
            u = np.clip(v / v0, -_ARG_MAX, _ARG_MAX)
            f = v + r_series * g * v0 * np.sinh(u) - v_read
            v = v - f / (1.0 + r_series * g * np.cosh(u))
    return g * v0 * np.sinh(np.clip(v / v0, -_ARG_MAX, _ARG_MAX))


__all__ = ["SATURATION", "BipolarCycles", "BipolarCyclesResult"]
