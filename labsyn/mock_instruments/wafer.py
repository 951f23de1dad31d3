"""A simulated wafer under a prober: one RRAM device per (wafer seed, die, index), probed by die.

`Wafer` draws each device with `RRAMDevice.from_key(preset, wafer_seed, die, index)` the first
time it is asked for and keeps it, so a device formed or cycled earlier is found in that state
when the prober comes back to its die, and a fresh wafer with the same seed holds the same
devices (a resumed batch run meets the devices it left). A seeded fraction of the devices is
dead (`dead_fraction`): they read as an open circuit. Whether a device is dead is drawn from its
own key only, so it does not depend on the order dies are visited, and a device dead at one
fraction is dead at every larger one.

`ProbedDevice` is the DUT the bench wires to the instruments: a `DeviceModel` that delegates to
the wafer's device at the die the prober is on while the chuck is in contact, and is an open
circuit otherwise (separation, hover): the probes touch nothing. The open circuit is a resistance
of `R_OPEN` (1 PΩ: 0.2 fA at 0.2 V); an SMU forcing a current through it reaches its voltage
limit. Not modelled: the chuck's Z-move time (the probes land or lift when the prober receives
the move command), spatial gradients across the wafer, and subsites (one device index per die).

Devices age while the probes are elsewhere: each keeps the bench time it was last brought to and
is idled (0 V: retention drift, volatile decay) over the gap when it is next probed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .device_model import RRAMDevice
from .presets import HFOX, RRAMPreset
from .timeline import DeviceModel, SegmentLike

Die = tuple[int, int]
Locator = Callable[[], tuple[bool, Die]]
R_OPEN = 1e15  # Ω, what the source sees with the probes off the pads (or on a dead device)
_DEAD_STREAM = 0x0DEAD  # spawn key: the dead/alive draw is a stream separate from the device's


@dataclass(frozen=True)
class OpenResult:
    """One segment into an open circuit (the `SegmentLike` the timeline reads)."""

    current: float
    v_device: float
    peak_current: float
    limited: bool
    formed_now: bool = False


class OpenCircuit:
    """Nothing between the probes: a resistance of `R_OPEN`, no state, no noise."""

    def __init__(self, temperature_k: float = 300.0) -> None:
        self.temperature_k = temperature_k

    def apply(self, v: float, duration: float, i_limit: float | None = None,
              r_series: float = 0.0) -> OpenResult:
        i = v / (R_OPEN + r_series)
        if i_limit is not None and abs(i) > i_limit:  # only for limits below femtoamperes
            i = math.copysign(i_limit, v)
            return OpenResult(i, v - i * r_series, i, True)
        return OpenResult(i, v - i * r_series, i, False)

    def apply_current(self, i: float, duration: float, v_limit: float,
                      r_series: float = 0.0) -> OpenResult:
        """The source cannot push `i` through the open: it sits at its voltage limit."""
        reachable = v_limit / (R_OPEN + r_series)
        if abs(i) <= reachable:
            return OpenResult(i, i * R_OPEN, i, False)
        current = math.copysign(reachable, i)
        return OpenResult(current, current * R_OPEN, current, True)

    def idle(self, duration: float) -> None:
        return None

    def read_current(self, v: float) -> float:
        return v / R_OPEN


def _word(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an int, got {value!r}")
    n = int(value)
    return 2 * n if n >= 0 else -2 * n - 1


def dead_draw(wafer_seed: int, die: Die, index: int) -> float:
    """A uniform [0, 1) number keyed by (seed, die, index); the device is dead below the
    wafer's `dead_fraction`."""
    words = [_word("wafer_seed", wafer_seed), _word("die column", die[0]),
             _word("die row", die[1]), _word("device", index)]
    sequence = np.random.SeedSequence(words, spawn_key=(_DEAD_STREAM,))
    return float(np.random.default_rng(sequence).random())


class Wafer:
    """The devices of one simulated wafer, drawn lazily per (die, index) and kept."""

    def __init__(self, preset: RRAMPreset = HFOX, wafer_seed: int = 1,
                 dead_fraction: float = 0.0, temperature_k: float = 300.0) -> None:
        if not 0.0 <= dead_fraction <= 1.0:
            raise ValueError(f"dead_fraction {dead_fraction!r} must be 0 … 1")
        self.preset = preset
        self.wafer_seed = wafer_seed
        self.dead_fraction = dead_fraction
        self._temperature_k = temperature_k
        self.devices: dict[tuple[Die, int], DeviceModel] = {}
        self.synced: dict[tuple[Die, int], float] = {}  # bench time each device was brought to

    def is_dead(self, die: Die, index: int = 0) -> bool:
        return dead_draw(self.wafer_seed, die, index) < self.dead_fraction

    def device(self, die: Die, index: int = 0) -> DeviceModel:
        """The device at (die, index): an `RRAMDevice`, or an `OpenCircuit` if it is dead."""
        key = (tuple(die), index)
        if key not in self.devices:
            if self.is_dead(key[0], index):
                self.devices[key] = OpenCircuit(self._temperature_k)
            else:
                self.devices[key] = RRAMDevice.from_key(self.preset, self.wafer_seed, key[0],
                                                        index, self._temperature_k)
        return self.devices[key]

    @property
    def temperature_k(self) -> float:
        return self._temperature_k

    @temperature_k.setter
    def temperature_k(self, value: float) -> None:
        for device in self.devices.values():
            device.temperature_k = value
        self._temperature_k = value


class ProbedDevice:
    """The DUT under the probes: the wafer's device at the prober's die while in contact,
    an open circuit otherwise. `locate()` returns (in contact, die) from the prober twin."""

    def __init__(self, wafer: Wafer, locate: Locator, index: int = 0) -> None:
        self.wafer = wafer
        self.locate = locate
        self.index = index
        self.elapsed = 0.0  # bench time integrated so far
        self._open = OpenCircuit(wafer.temperature_k)

    @property
    def temperature_k(self) -> float:
        return self.wafer.temperature_k

    @temperature_k.setter
    def temperature_k(self, value: float) -> None:
        for key in list(self.wafer.devices):
            self._bring_up(key)  # age every device at the old temperature first
        self.wafer.temperature_k = value
        self._open.temperature_k = value

    def under_probes(self) -> DeviceModel | None:
        """The device the probes touch now (None when the chuck is not in contact)."""
        in_contact, die = self.locate()
        return self.wafer.device(die, self.index) if in_contact else None

    def _bring_up(self, key: tuple[Die, int]) -> DeviceModel:
        device = self.wafer.devices[key]
        lag = self.elapsed - self.wafer.synced.get(key, self.elapsed)
        if lag > 0.0:
            device.idle(lag)
        self.wafer.synced[key] = self.elapsed
        return device

    def _target(self) -> tuple[DeviceModel, tuple[Die, int] | None]:
        in_contact, die = self.locate()
        if not in_contact:
            return self._open, None
        key = (tuple(die), self.index)
        fresh = key not in self.wafer.devices
        self.wafer.device(*key)
        if fresh:
            self.wafer.synced[key] = self.elapsed  # drawn pristine now: nothing to catch up
        return self._bring_up(key), key

    def _advance(self, key: tuple[Die, int] | None, duration: float) -> None:
        self.elapsed += duration
        if key is not None:
            self.wafer.synced[key] = self.elapsed

    def apply(self, v: float, duration: float, i_limit: float | None = None,
              r_series: float = 0.0) -> SegmentLike:
        device, key = self._target()
        result = device.apply(v, duration, i_limit, r_series)
        self._advance(key, duration)
        return result

    def apply_current(self, i: float, duration: float, v_limit: float,
                      r_series: float = 0.0) -> SegmentLike:
        device, key = self._target()
        result = device.apply_current(i, duration, v_limit, r_series)
        self._advance(key, duration)
        return result

    def idle(self, duration: float) -> None:
        """Terminals open or off: every device just ages (caught up when next probed)."""
        self.elapsed += duration

    def read_current(self, v: float) -> float:
        device, _key = self._target()
        return device.read_current(v)
