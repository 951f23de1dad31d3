"""Benchmark and calibration figures of the RRAM rate model (run on demand).

    python bench/bench_device_model.py [--repeat N]

Prints pulse-train throughput (pulses/s), scalar `apply()` cost, and the preset's key figures
re-measured through the model: Weibull V_form, DC SET/RESET voltages, NeuroSim A of the LTP/LTD
trains, PPF time constants, drift exponent and on/off ratio.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy import optimize, stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labsyn.mock_instruments.device_model import HFOX, RRAMDevice, RRAMPreset

STEP, DWELL, I_FORM = 0.02, 0.01, 100e-6


def best_of(repeat: int, run: Callable[[], object]) -> float:
    """Shortest wall time of `repeat` runs, s."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def staircase(device: RRAMDevice, v_end: float, i_limit: float | None = None,
              stop_when_formed: bool = False) -> None:
    n = round(abs(v_end) / STEP)
    for v in math.copysign(STEP, v_end) * np.arange(1, n + 1):
        if device.apply(float(v), DWELL, i_limit).formed_now and stop_when_formed:
            return
    for v in math.copysign(STEP, v_end) * np.arange(n, 0, -1):
        device.apply(float(v), DWELL, i_limit)


def formed_hrs(preset: RRAMPreset = HFOX, device: int = 0) -> RRAMDevice:
    d = RRAMDevice.from_key(preset, 1, (0, 0), device)
    staircase(d, 5.0, I_FORM, stop_when_formed=True)
    d.apply(0.0, DWELL)
    staircase(d, -1.5)
    d.idle(1000.0)
    return d


def bench_throughput(repeat: int) -> None:
    print("== throughput (noise on) ==")
    cases = [("LTP", HFOX.ltp_pulse_v, HFOX.ltp_pulse_s), ("LTD", HFOX.ltd_pulse_v,
             HFOX.ltd_pulse_s), ("sub-threshold 0.5 V", 0.5, 1e-5)]
    for n in (10**5, 10**6):
        for label, v, width in cases:
            d = formed_hrs()

            def train(d: RRAMDevice = d, v: float = v, width: float = width, n: int = n) -> None:
                d.apply_pulse_train(v, width, 1e-6, n, 0.1)

            seconds = best_of(repeat, train)
            print(f"apply_pulse_train n={n:>8,d} {label:<20s} {n / seconds:12.3g} pulses/s")
    d = formed_hrs()
    calls = 20_000
    scalar = [
        ("apply(0.1 V, 1 ms) read-like", lambda: d.apply(0.1, 1e-3)),
        ("apply(LTP pulse) programming", lambda: d.apply(HFOX.ltp_pulse_v, HFOX.ltp_pulse_s)),
        ("idle(1 ms)", lambda: d.idle(1e-3)),
        ("apply(0.5 V, 1 ms, 100 uA, 50 Ohm)", lambda: d.apply(0.5, 1e-3, 1e-4, 50.0)),
        ("read_current(0.1 V)", lambda: d.read_current(0.1)),
    ]
    for label, call in scalar:
        def run(call: Callable[[], object] = call) -> None:
            for _ in range(calls):
                call()
        seconds = best_of(repeat, run)
        print(f"{label:<40s} {calls / seconds:12.3g} calls/s  {seconds / calls * 1e6:6.2f} us")
    steps = 75
    set_sweep = formed_hrs()

    def dc_set() -> None:
        staircase(set_sweep, 1.5, 200e-6)
        staircase(set_sweep, -1.5)

    seconds = best_of(repeat, dc_set)
    print(f"{'DC loop +-1.5 V, 200 uA SET compliance':<40s} "
          f"{4 * steps / seconds:12.3g} steps/s  {seconds / (4 * steps) * 1e6:6.2f} us")


def figures() -> None:
    print("== preset figures (HFOX) ==")
    v_form = []
    for index in range(200):
        d = RRAMDevice.from_key(HFOX.noiseless(), 99, (index % 10, index // 10), index)
        staircase(d, 6.0, I_FORM, stop_when_formed=True)
        v_form.append(d.truth.forming_voltage)
    shape, _, scale = stats.weibull_min.fit(v_form, floc=0.0)
    print(f"V_form (200 devices, 20 mV / 10 ms ramp): Weibull scale {scale:.3f} V, "
          f"shape {shape:.2f}")
    d = RRAMDevice.from_key(HFOX.nominal(), 1, (0, 0), 0)
    staircase(d, 5.0, I_FORM, stop_when_formed=True)
    d.apply(0.0, DWELL)
    print(f"post-forming R at 0.1 V (100 uA): {0.1 / d.current(0.1) / 1e3:.2f} kOhm")
    staircase(d, -1.5)
    staircase(d, 1.5)
    staircase(d, -1.5)
    d.idle(1.0)
    print(f"DC sweep, nominal device, no compliance: SET {d.truth.set_crossings[-1]:+.2f} V, "
          f"RESET {d.truth.reset_crossings[-1]:+.2f} V")
    g_hrs, i_hrs = d.conductance(), d.current(0.1)
    for label, v, width in (("LTP", HFOX.ltp_pulse_v, HFOX.ltp_pulse_s),
                            ("LTD", HFOX.ltd_pulse_v, HFOX.ltd_pulse_s)):
        k = d.switching_rate(v)
        g = d.apply_pulse_train(v, width, 10e-3, 200, 0.1).conductance
        progress = (g - g[0]) / (g[-1] - g[0])
        print(f"{label} {v:+.2f} V / {width * 1e6:.1f} us: A = 1/(k t_pw) = {1 / (k * width):.1f}"
              f" pulses; 98 % of the swing after {int(np.argmax(progress >= 0.98)) + 1} pulses")
        d.idle(1.0)
    d.apply(1.5, 1e-3)
    d.idle(1.0)
    print(f"on/off 1 s after SET: {d.current(0.1) / i_hrs:.1f} at 0.1 V, "
          f"{d.conductance() / g_hrs:.1f} at 0 V")
    ppf_device = formed_hrs(HFOX.nominal())
    ppf_device.idle(1e5)
    intervals = np.logspace(-5.5, -1.7, 24)
    ppf = []
    for interval in intervals:
        ppf_device.apply(0.5, 1e-5)
        ppf_device.idle(1e-6)
        a1 = ppf_device.conductance()
        ppf_device.idle(interval - 1e-6)
        ppf_device.apply(0.5, 1e-5)
        ppf_device.idle(1e-6)
        ppf.append(ppf_device.conductance() / a1 - 1.0)
        ppf_device.idle(0.05)

    def double_exp(t: np.ndarray, c1: float, t1: float, c2: float, t2: float) -> np.ndarray:
        return c1 * np.exp(-t / t1) + c2 * np.exp(-t / t2)

    popt, _ = optimize.curve_fit(double_exp, intervals, ppf, p0=(0.1, 5e-5, 0.1, 2e-3))
    print(f"PPF (0.5 V / 10 us pairs, HRS): PPF(3 us) = {100 * ppf[0]:.1f} %, "
          f"tau1 {min(popt[1], popt[3]) * 1e6:.1f} us, tau2 {max(popt[1], popt[3]) * 1e3:.3f} ms")
    times = np.logspace(0, 5, 11)
    retention = RRAMDevice.from_key(HFOX.nominal(), 1, (0, 0), 0)
    staircase(retention, 5.0, I_FORM, stop_when_formed=True)
    retention.apply(1.5, 1e-3)
    g, elapsed = [], 0.0
    for t in times:
        retention.idle(t - elapsed)
        elapsed = t
        g.append(retention.conductance() - retention.truth.params.g_off)
    nu = -np.polyfit(np.log(times + HFOX.drift_t0_s), np.log(g), 1)[0]
    print(f"retention: nu = {nu:.4f}; (G - G_off) at 1e5 s / at 1 s = {g[-1] / g[0]:.3f}, 300 K")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timing repeats (best is shown)")
    args = parser.parse_args()
    bench_throughput(args.repeat)
    figures()


if __name__ == "__main__":
    main()
