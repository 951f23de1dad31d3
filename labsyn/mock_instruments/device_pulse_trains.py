"""Trains of identical pulses on the simulated RRAM device, in closed form with numpy
(`RRAMDevice` takes these methods from `PulseTrains`)."""

from __future__ import annotations

import math
import operator

import numpy as np

from .device_model_physics import (
    _ARG_MAX,
    PulseTrainResult,
    _checked,
    _sinh,
    _sinh_iv,
    _volatile_train,
)


class PulseTrains:
    """`RRAMDevice.apply_pulse_train` and the two closed-form blocks it is made of: pulses on a
    pristine device that surely do not form, and pulses on a formed device up to the first one
    that crosses w = 0.5."""

    def apply_pulse_train(self, v_pulse: float, t_pulse: float, t_gap: float, n: int,
                          v_read: float | None = None) -> PulseTrainResult:
        """n identical pulses (no limit, no series R), each followed by t_gap at 0 V.

        Equivalent to n x (apply(v_pulse, t_pulse); idle(t_gap); read_current(v_read)), computed
        with numpy in closed form; only a forming or 0.5-crossing pulse takes the scalar path.
        """
        v_pulse = _checked("v_pulse", v_pulse)
        t_pulse = _checked("t_pulse", t_pulse, 0.0)
        t_gap = _checked("t_gap", t_gap, 0.0)
        if isinstance(n, bool):
            raise TypeError(f"n must be an int, got {n!r}")
        n = operator.index(n)
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        if v_read is not None:
            v_read = _checked("v_read", v_read)
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        done = 0
        while done < n:
            block = self._train_formed if self.formed else self._train_pristine
            part = block(v_pulse, t_pulse, t_gap, n - done)
            if part[0].size == 0:
                peak = self.apply(v_pulse, t_pulse).peak_current
                self.idle(t_gap)
                g_now, v0_now = self._g_v0()
                part = (np.array([g_now]), np.array([v0_now]), np.array([peak]))
            parts.append(part)
            done += part[0].size
        g, v0, peaks = (np.concatenate([q[j] for q in parts]) for j in range(3))
        reads = None
        if v_read is not None:
            reads = _sinh_iv(g, v0, v_read)
            if self.preset.noise:
                reads *= 1.0 + self.preset.read_noise * self._rng.standard_normal(n)
        return PulseTrainResult(reads, g, peaks, self.state)

    def _train_pristine(self, v: float, tp: float, tg: float,
                        n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(G, V0) after each gap and peak current for pulses that surely do not form."""
        p = self.preset
        rate_p = math.exp(min((abs(v) - self.truth.v_form) / p.v_form_accel, _ARG_MAX))
        per_pulse = (rate_p * tp + math.exp(-self.truth.v_form / p.v_form_accel) * tg) / p.tau_form
        to_form = (1.0 - self._damage) / per_pulse if per_pulse > 0.0 else math.inf
        m = n if to_form > n + 2 else max(0, math.ceil(to_form) - 2)
        self._damage += m * per_pulse
        self.time_s += m * (tp + tg)
        peak = p.g_pristine * p.v0_pristine * _sinh(v / p.v0_pristine)
        if m:
            self.truth.peak_current = max(self.truth.peak_current, abs(peak))
        return np.full(m, p.g_pristine), np.full(m, p.v0_pristine), np.full(m, peak)

    def _train_formed(self, v: float, tp: float, tg: float,
                      n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(G, V0) after each gap and peak current, up to the first pulse crossing w = 0.5."""
        p = self.preset
        k, w_inf = self._switch_rate(v)
        accel = self._drift_accel
        w0 = self._w
        if k > 0.0:
            alpha = -math.expm1(-k * tp)
            f_gap = self._drift(tg * accel)
            a = np.full(n, 1.0 - alpha)
            if p.noise:
                noise = 1.0 + p.c2c_sigma_dw * self._rng.standard_normal(n)
                a = np.clip(1.0 - alpha * noise, 0.0, 1.0)
            x0 = w0 * self._drift(self._t_prog)
            y1 = w_inf - a[0] * (w_inf - x0)
            den = 1.0 - (1.0 - alpha) * f_gap
            y_star = alpha * w_inf / den if den > 0.0 else y1
            c = a * f_gap
            c[0] = 1.0
            if p.noise and p.c2c_sigma_w > 0.0:
                y = _additive_c2c_train(x0, w_inf, a, f_gap,
                                        p.c2c_sigma_w * self._rng.standard_normal(n))
            else:
                with np.errstate(divide="ignore"):
                    y = y_star + (y1 - y_star) * np.exp(np.cumsum(np.log(c)))
                y = np.clip(y, 0.0, 1.0)  # hard bounds: exact for a monotone recursion
            w_start = np.empty(n)
            w_start[0] = x0
            w_start[1:] = y[:-1] * f_gap
            w_end, w_read = y, y * f_gap
        else:
            t0, nu = p.drift_t0_s, p.drift_nu
            t_start = self._t_prog + np.arange(n) * ((tp + tg) * accel)
            w_start = w0 * ((t_start + t0) / t0) ** -nu
            w_end = w0 * ((t_start + tp * accel + t0) / t0) ** -nu
            w_read = w0 * ((t_start + (tp + tg) * accel + t0) / t0) ** -nu
            y = np.full(n, w0)
        prev = np.concatenate(([w0], y[:-1]))
        crossed = ((prev < 0.5) & (y >= 0.5)) | ((prev >= 0.5) & (y < 0.5))
        m = int(np.argmax(crossed)) if crossed.any() else n
        if m == 0:
            return np.empty(0), np.empty(0), np.empty(0)
        w_start, w_end, w_read = w_start[:m], w_end[:m], w_read[:m]
        kv = self._vol_rate(v)
        s1 = _volatile_train(self._s1, kv, p.tau1_s, tp, tg, m)
        s2 = _volatile_train(self._s2, kv, p.tau2_s, tp, tg, m)
        window = self._g_on - self._g_off
        dv0 = p.v0_lrs - p.v0_hrs

        def level(w: np.ndarray, s1_: np.ndarray, s2_: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            g = self._g_off + window * (w + p.dg1_frac * s1_ + p.dg2_frac * s2_)
            return g, p.v0_hrs + w * dv0

        currents = []
        for w, s1_, s2_ in ((w_start, s1[0], s2[0]), (w_end, s1[1], s2[1])):
            g, v0 = level(w, s1_, s2_)
            currents.append(_sinh_iv(g, v0, v))
        peak = np.where(np.abs(currents[1]) > np.abs(currents[0]), currents[1], currents[0])
        g_read, v0_read = level(w_read, s1[2], s2[2])
        self._w = float(y[m - 1])
        self._t_prog = tg * accel if k > 0.0 else self._t_prog + m * (tp + tg) * accel
        self._s1, self._s2 = float(s1[2][-1]), float(s2[2][-1])
        self.time_s += m * (tp + tg)
        self.truth.peak_current = max(self.truth.peak_current, float(np.max(np.abs(peak))))
        return g_read, v0_read, peak


def _additive_c2c_train(x0: float, w_inf: float, a: np.ndarray, f_gap: float,
                        kicks: np.ndarray) -> np.ndarray:
    """w after each pulse with NeuroSim's additive C2C kick and the [0, 1] clip at every pulse
    (no closed form: one step per pulse)."""
    y = np.empty(a.size)
    w = x0
    for i in range(a.size):
        w = min(max(w_inf - a[i] * (w_inf - w) + kicks[i], 0.0), 1.0)
        y[i] = w
        w *= f_gap
    return y
