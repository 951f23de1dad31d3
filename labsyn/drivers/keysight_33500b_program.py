"""Limits of the 33500B / 33600A and compiling pulse trains into its SCPI: bursts and arbs.

A train of identical pulses is one triggered burst of the pulse function (``BURS:NCYC``); a train
of different amplitudes is one arbitrary waveform (DAC codes at a sample rate on which width and
period fall exactly) played once per trigger. Every message here is chained with ``;`` and each
header starts with ``:`` (after ``;`` a header without it is relative to the previous branch).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from labsyn.errors import LimitError

from .sequence import PulseTrain
from .validators import check_range

OUTPUT_IMPEDANCE = 50.0  # Ω, fixed source impedance
MAX_OPEN_CIRCUIT = 10.0  # V, |level| into high-Z (±5 V into 50 Ω)
MIN_OPEN_CIRCUIT_PP = 2e-3  # V, smallest high - low into high-Z (1 mVpp into 50 Ω)
MIN_WIDTH, MAX_WIDTH = 16e-9, 1e6  # s, FUNC:PULS:WIDT
MIN_PERIOD, MAX_PERIOD = 33e-9, 1e6  # s, FUNC:PULS:PER
MIN_EDGE, MAX_EDGE = 8.4e-9, 1e-6  # s, FUNC:PULS:TRAN:BOTH
EDGE_FRACTION = 0.625  # an edge fits in 0.625 of the pulse and of the gap (width ≥ 1.6·edge)
MIN_GAP = MIN_WIDTH  # s, the low part of a period is at least a minimum-width pulse
MAX_BURST = 99_999  # BURS:NCYC per trigger (pymeasure's validator; the manual's maximum is ?)
ARB_MIN_POINTS, ARB_MAX_POINTS = 8, 65_536  # DATA:ARB:DAC points in one ASCII message
DAC_FULL_SCALE = 32_767  # DAC code of the high level (−32 767: the low level)
MIN_SAMPLE_RATE = 1e-6  # Sa/s, FUNC:ARB:SRAT
TIME_GRID_S = 1e-12  # width and period are matched to sample periods on this grid
ARB_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,11}")


@dataclass(frozen=True)
class Model:
    """What one model of the family has."""

    channels: int
    max_frequency: float  # Hz, sine / pulse repetition
    max_sample_rate: float  # Sa/s, arbitrary waveforms


def model_of(name: str) -> Model | None:
    """33509B…33522B and 33611A…33622A; an odd last digit has one channel, an even one two."""
    match = re.fullmatch(r"33(5[012]\d)B|33(6[12]\d)A", name.strip().upper())
    if match is None:
        return None
    number = int(name.strip()[2:5])
    channels = 2 if number % 2 == 0 else 1
    if name.upper().endswith("A"):
        return Model(channels, 120e6 if number >= 620 else 80e6, 660e6)
    return Model(channels, 30e6 if number >= 519 else 20e6, 250e6 if number >= 519 else 160e6)


def load_factor(load: float) -> float:
    """Open-circuit voltage per programmed volt: 2 into a 50 Ω setting, 1 into high-Z."""
    return 1.0 if math.isinf(load) else (load + OUTPUT_IMPEDANCE) / load


def level_limit(load: float) -> float:
    """Largest |level| programmable into the load setting: 5 V at 50 Ω, 10 V at high-Z."""
    return MAX_OPEN_CIRCUIT / load_factor(load)


def min_amplitude(load: float) -> float:
    """Smallest high - low into the load setting: 1 mV at 50 Ω, 2 mV at high-Z."""
    return MIN_OPEN_CIRCUIT_PP / load_factor(load)


def load_text(load: float) -> str:
    return "INF" if math.isinf(load) else f"{load:g}"


def parse_load(reply: str) -> float:
    """``+5.0E+01`` → 50.0; ``+9.9E+37`` or ``INF`` → math.inf."""
    text = reply.strip().upper()
    if text.startswith("INF"):
        return math.inf
    value = float(text)
    return math.inf if value >= 9.9e37 else value


def check_levels(name: str, high: float, low: float, load: float) -> None:
    """Both levels within ±5 V (50 Ω) / ±10 V (high-Z) and high - low ≥ 1 mV / 2 mV."""
    limit = level_limit(load)
    setting = f"the {load_text(load)} Ω load setting" if not math.isinf(load) else "high-Z"
    for quantity, value in ((f"{name} high level", high), (f"{name} low level", low)):
        check_range(f"{quantity} (into {setting})", value, -limit, limit, "V")
    if high - low < min_amplitude(load) * (1 - 1e-9):
        raise LimitError(f"{name} amplitude (high - low into {setting})",
                         f"{high - low:g} V", f"≥ {min_amplitude(load) * 1e3:g} mV")


def check_timing(name: str, width: float, period: float, edge: float = MIN_EDGE) -> None:
    """Width, period and edge alone, then together: the width leaves a gap of at least 16 ns
    and each edge fits in 0.625 of the pulse and of the gap."""
    check_range(f"{name} pulse width", width, MIN_WIDTH, MAX_WIDTH, "s")
    check_range(f"{name} period", period, MIN_PERIOD, MAX_PERIOD, "s")
    check_range(f"{name} edge time", edge, MIN_EDGE, MAX_EDGE, "s")
    gap = max(MIN_GAP, edge / EDGE_FRACTION)
    if period - width < gap * (1 - 1e-9):
        raise LimitError(f"{name} period", f"{period:g} s with a {width:g} s pulse",
                         f"≥ width + {gap:g} s (a gap of ≥ 16 ns and ≥ 1.6 × the "
                         f"{edge:g} s edge)")
    if width < edge / EDGE_FRACTION * (1 - 1e-9):
        raise LimitError(f"{name} pulse width", f"{width:g} s with a {edge:g} s edge",
                         f"≥ 1.6 × edge = {edge / EDGE_FRACTION:g} s")


def pulse_levels(train: PulseTrain) -> tuple[float, float, bool]:
    """(high, low, inverted) of identical pulses: a pulse below its base is the base as high
    level, the pulse as low level and the output polarity inverted (it idles at the high level)."""
    amplitude = train.amplitudes[0]
    if amplitude >= train.base:
        return amplitude, train.base, False
    return train.base, amplitude, True


@dataclass(frozen=True)
class ArbPlan:
    """The sample grid of a train played as an arbitrary waveform."""

    sample_rate: float
    samples_per_period: int
    samples_per_pulse: int
    points: int

    @property
    def duration(self) -> float:
        return self.points / self.sample_rate


def arb_plan(name: str, train: PulseTrain, max_sample_rate: float) -> ArbPlan:
    """The coarsest sample period on which width and period both fall (their common divisor on
    a 1 ps grid); refused if it needs more than the instrument's sample rate or points."""
    width, period = (round(t / TIME_GRID_S) for t in (train.width, train.period))
    step = math.gcd(width, period)
    per_period, per_pulse = period // step, width // step
    points = per_period * train.points
    if points < ARB_MIN_POINTS:  # a short waveform is padded by finer sampling
        factor = math.ceil(ARB_MIN_POINTS / points)
        step, per_period, per_pulse, points = (step / factor, per_period * factor,
                                               per_pulse * factor, points * factor)
    rate = 1.0 / (step * TIME_GRID_S)
    if rate > max_sample_rate * (1 + 1e-9):
        raise LimitError(f"{name} sample rate (width {train.width:g} s, period "
                         f"{train.period:g} s on one sample grid)", f"{rate:g} Sa/s",
                         f"≤ {max_sample_rate:g} Sa/s: width and period multiples of "
                         f"{1 / max_sample_rate:g} s")
    check_range(f"{name} sample rate", rate, MIN_SAMPLE_RATE, max_sample_rate, "Sa/s")
    if points > ARB_MAX_POINTS:
        raise LimitError(f"{name} arbitrary-waveform points ({train.points} pulses × "
                         f"{per_period} samples per period)", points,
                         f"≤ {ARB_MAX_POINTS}: fewer pulses, or a period that is a small "
                         "multiple of the width")
    return ArbPlan(rate, int(per_period), int(per_pulse), int(points))


def train_samples(train: PulseTrain, plan: ArbPlan) -> np.ndarray:
    """Each period as its gap at the base level, then its pulse: the waveform starts (and idles
    between triggers) at the base level."""
    gap = plan.samples_per_period - plan.samples_per_pulse
    period = np.concatenate([np.zeros(gap), np.ones(plan.samples_per_pulse)])
    amplitudes = np.asarray(train.amplitudes, dtype=float)[:, None]
    return (train.base + (amplitudes - train.base) * period[None, :]).ravel()


def dac_levels(samples: np.ndarray, anchor: float | None, load: float) -> tuple[float, float]:
    """(high, low) of the DAC range: centred on `anchor` (the base, or 0 V) when that fits the
    load setting, so the anchor is DAC code 0 exactly; else the samples' own extremes."""
    top, bottom = float(np.max(samples)), float(np.min(samples))
    if anchor is not None and bottom <= anchor <= top:
        half = max(top - anchor, anchor - bottom)
        if abs(anchor) + half <= level_limit(load):
            return anchor + half, anchor - half
    return top, bottom


def dac_codes(samples: np.ndarray, high: float, low: float) -> np.ndarray:
    """Volts → DAC codes, ±32 767 at the high and low levels."""
    middle, half = (high + low) / 2.0, (high - low) / 2.0
    codes = np.rint((np.asarray(samples, dtype=float) - middle) / half * DAC_FULL_SCALE)
    return np.clip(codes, -DAC_FULL_SCALE, DAC_FULL_SCALE).astype(int)


def level_commands(ch: int, high: float, low: float, load: float) -> list[str]:
    """Levels whatever the present ones: offset 0 and full amplitude first (always valid),
    then low before high (output off meanwhile)."""
    return [f":SOUR{ch}:VOLT:UNIT VPP", f":SOUR{ch}:VOLT:OFFS 0",
            f":SOUR{ch}:VOLT {2 * level_limit(load):.9g}",
            f":SOUR{ch}:VOLT:LOW {low:.9g}", f":SOUR{ch}:VOLT:HIGH {high:.9g}"]


def pulse_commands(ch: int, width: float, period: float, edge: float = MIN_EDGE) -> list[str]:
    """Edge and width to their minimum (valid with any period), then period, width, edge."""
    return [f":SOUR{ch}:FUNC PULS", f":SOUR{ch}:FUNC:PULS:HOLD WIDT",
            f":SOUR{ch}:FUNC:PULS:TRAN:BOTH {MIN_EDGE:.9g}",
            f":SOUR{ch}:FUNC:PULS:WIDT {MIN_WIDTH:.9g}",
            f":SOUR{ch}:FUNC:PULS:PER {period:.9g}", f":SOUR{ch}:FUNC:PULS:WIDT {width:.9g}",
            f":SOUR{ch}:FUNC:PULS:TRAN:BOTH {edge:.9g}"]


def burst_commands(ch: int, count: int, inverted: bool, park: tuple[int, ...] = (),
                   source: str = "BUS", delay: float = 0.0) -> list[str]:
    """Polarity, a burst of `count` cycles triggered from `source` (BUS, or EXT: the rear Ext
    Trig input) after `delay`, other bus-armed channels parked on the external trigger
    (``*TRG`` would fire them too), then the output on: it idles at the base."""
    return [f":OUTP{ch}:POL {'INV' if inverted else 'NORM'}", f":SOUR{ch}:BURS:MODE TRIG",
            f":SOUR{ch}:BURS:NCYC {count:d}", f":TRIG{ch}:SOUR {source}",
            f":TRIG{ch}:DEL {delay:.9g}" if delay else f":TRIG{ch}:DEL 0",
            f":SOUR{ch}:BURS:STAT ON", *(f":TRIG{other}:SOUR EXT" for other in park),
            f":OUTP{ch} ON"]


def train_commands(ch: int, train: PulseTrain, load: float, count: int,
                   park: tuple[int, ...], source: str = "BUS", delay: float = 0.0) -> list[str]:
    """Identical pulses as a burst of `count`: output off, load, timing, levels, burst, on."""
    high, low, inverted = pulse_levels(train)
    return [f":OUTP{ch} OFF", f":OUTP{ch}:LOAD {load_text(load)}",
            *pulse_commands(ch, train.width, train.period),
            *level_commands(ch, high, low, load),
            *burst_commands(ch, count, inverted, park, source, delay)]


def check_waveform(name: str, samples: np.ndarray, sample_rate: float, max_sample_rate: float
                   ) -> np.ndarray:
    """Name, point count, finite samples and sample rate of an arbitrary waveform."""
    samples = np.asarray(samples, dtype=float).ravel()
    if not isinstance(name, str) or not ARB_NAME.fullmatch(name):
        raise LimitError("arbitrary waveform name", name,
                         "a letter, then up to 11 letters, digits or _")
    check_range("arbitrary waveform points", len(samples), ARB_MIN_POINTS, ARB_MAX_POINTS)
    if not np.all(np.isfinite(samples)):
        raise LimitError("arbitrary waveform samples", "non-finite", "finite volts")
    check_range("arbitrary waveform sample rate", sample_rate, MIN_SAMPLE_RATE,
                max_sample_rate, "Sa/s")
    return samples


def arb_select_commands(ch: int, name: str, sample_rate: float) -> list[str]:
    """Play `name` at `sample_rate`, sample and hold (no interpolation between points)."""
    return [f":SOUR{ch}:FUNC:ARB {name}", f":SOUR{ch}:FUNC ARB",
            f":SOUR{ch}:FUNC:ARB:SRAT {sample_rate:.12g}", f":SOUR{ch}:FUNC:ARB:FILT OFF"]


def bursts(train: PulseTrain) -> list[int]:
    """Burst sizes of an identical train: at most MAX_BURST cycles per trigger."""
    full, rest = divmod(train.points, MAX_BURST)
    return [MAX_BURST] * full + ([rest] if rest else [])
