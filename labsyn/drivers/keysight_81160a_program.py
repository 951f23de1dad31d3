"""Limits of the 81150A/81160A and the compilation of a pulse train into one triggered burst.

Levels are programmed in terms of the output-load setting (`:OUTP:LOAD`): the generator has a
fixed 50 Ω source, so a 50 Ω setting means "volts at a 50 Ω load", half the open-circuit voltage.
The physical window is ±10 V open circuit, i.e. ±5 V into 50 Ω, with an amplitude of 50 mV … 5 V
into 50 Ω (0.1 … 10 V into high-Z) — pymeasure's validators for the 81160A (~); the reference has
no level table for either model, so the 81150A gets the same (conservative) window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from labsyn.errors import LimitError

from .sequence import PulseTrain
from .validators import check_range, strict_integer_range

MAX_PERIOD = MAX_WIDTH = 1e6  # s (✔ period; width ~ pymeasure)
MAX_EDGE = 1e3  # s (~ pymeasure)
MAX_PULSES = 2_147_483_647  # :TRIG:COUN / :BURS:NCYC (~ pymeasure)
MIN_BURST_CYCLES = 2  # :BURS:NCYC; a single pulse is a triggered pulse with burst off (~)
EDGE_FACTOR = 1.6  # period ≥ width + 1.6 · edge (✔ manual, "Pulse Period")
OPEN_CIRCUIT_WINDOW = 10.0  # V, |level| at an open circuit (2 × 5 V into 50 Ω, ~)
OPEN_CIRCUIT_AMPLITUDE = (0.1, 10.0)  # V, high − low at an open circuit (~)
SOURCE_IMPEDANCE = 50.0  # Ω


@dataclass(frozen=True)
class ModelLimits:
    """What differs between the two models (timing)."""

    model: str
    min_period: float  # s (✔ manual: 8.33 ns / 3.03 ns)
    min_width: float  # s (81160A ~ pymeasure; 81150A ? datasheet)
    min_edge: float  # s (81160A ~ pymeasure; 81150A ? datasheet)


MODELS: dict[str, ModelLimits] = {
    "81150A": ModelLimits("81150A", 8.33e-9, 4.1e-9, 2.5e-9),
    "81160A": ModelLimits("81160A", 3.03e-9, 1.5e-9, 1.0e-9),
}


def load_scale(load: float) -> float:
    """Programmed level per open-circuit volt for a load setting (0.5 at 50 Ω, 1 at high-Z)."""
    return 1.0 if math.isinf(load) else load / (load + SOURCE_IMPEDANCE)


def level_window(load: float) -> float:
    """Largest |high| or |low| that can be programmed for the load setting, V."""
    return OPEN_CIRCUIT_WINDOW * load_scale(load)


def amplitude_range(load: float) -> tuple[float, float]:
    """Smallest and largest high − low for the load setting, V."""
    low, high = OPEN_CIRCUIT_AMPLITUDE
    return low * load_scale(load), high * load_scale(load)


def check_levels(name: str, high: float, low: float, load: float) -> None:
    """High and low levels together, as the instrument couples them (window and amplitude)."""
    window = level_window(load)
    setting = "high-Z" if math.isinf(load) else f"{load:g} Ω"
    check_range(f"{name} high level", high, -window, window, f"V (load {setting})")
    check_range(f"{name} low level", low, -window, window, f"V (load {setting})")
    smallest, largest = amplitude_range(load)
    check_range(f"{name} amplitude (high − low)", round(high - low, 12), smallest, largest,
                f"V (load {setting})")


@dataclass(frozen=True)
class BurstPlan:
    """One identical-pulse train as the generator runs it."""

    high: float
    low: float
    inverted: bool  # pulses go from the high level (base) down to the low level
    width: float
    period: float
    edge: float
    count: int

    @property
    def duration(self) -> float:
        """From the trigger to the end of the last pulse, s."""
        return (self.count - 1) * self.period + self.width


def plan_burst(train: PulseTrain, limits: ModelLimits, load: float, edge: float) -> BurstPlan:
    """Check `train` against the instrument and turn it into a burst; raises `LimitError`."""
    name = train.label or "pulse train"
    if train.read_level is not None:
        raise LimitError(f"{name} read level", train.read_level,
                         "None: a pulse generator cannot read; wire an SMU for the reads")
    amplitudes = np.asarray(train.amplitudes)
    if not np.all(amplitudes == amplitudes[0]):
        raise LimitError(f"{name} amplitudes", "not all equal",
                         "identical amplitudes: one burst repeats one level (the 81150A/81160A "
                         "pattern and arbitrary modes are not supported by this driver)")
    amplitude, base = float(amplitudes[0]), float(train.base)
    if amplitude == base:
        raise LimitError(f"{name} amplitude", amplitude, f"different from the base {base:g} V")
    high, low = max(amplitude, base), min(amplitude, base)
    check_levels(name, high, low, load)
    check_range(f"{name} pulse width", train.width, limits.min_width, MAX_WIDTH, "s")
    check_range(f"{name} edge time", edge, limits.min_edge, MAX_EDGE, "s")
    minimum = max(limits.min_period, train.width + EDGE_FACTOR * edge)
    check_range(f"{name} period (≥ width + 1.6 × edge {edge:g} s)", train.period, minimum,
                MAX_PERIOD, "s")
    strict_integer_range(f"{name} pulse count")(train.points, (1, MAX_PULSES))
    return BurstPlan(high, low, amplitude < base, train.width, train.period, edge,
                     train.points)


def burst_commands(ch: int, plan: BurstPlan, limits: ModelLimits, load: float) -> list[str]:
    """The configuration of one burst, in an order valid from any previous state.

    The output goes off first (no half-programmed level reaches the device). Levels go through
    amplitude and offset with the amplitude at its minimum in between, and timing through the
    minimum edge and width, so that no intermediate step breaks the window, the amplitude range
    or period ≥ width + 1.6 × edge, whatever was programmed before.
    """
    smallest, _ = amplitude_range(load)
    commands = [
        f":OUTP{ch} OFF", f":ARM:SOUR{ch} MAN", f":FUNC{ch} PULS",
        f":OUTP{ch}:POL {'INV' if plan.inverted else 'NORM'}",
        f":VOLT{ch} {_g(smallest)}", f":VOLT{ch}:OFFS {_g((plan.high + plan.low) / 2)}",
        f":VOLT{ch} {_g(plan.high - plan.low)}",
        f":PULS:TRAN{ch} {_g(limits.min_edge)}", f":PULS:WIDT{ch} {_g(limits.min_width)}",
        f":PULS:PER{ch} {_g(plan.period)}", f":PULS:WIDT{ch} {_g(plan.width)}",
    ]
    if plan.edge != limits.min_edge:
        commands.append(f":PULS:TRAN{ch} {_g(plan.edge)}")
    if plan.count == 1:
        commands += [f":BURS{ch}:STAT OFF", f":TRIG{ch}:COUN 1"]
    else:
        commands += [f":BURS{ch}:NCYC {plan.count}", f":BURS{ch}:STAT ON"]
    return commands


def _g(value: float) -> str:
    return f"{value:.9g}"
