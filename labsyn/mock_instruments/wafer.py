"""A simulated wafer under a prober: RRAM devices keyed by (wafer seed, die, index), probed by die.

`Wafer` draws each device from the random stream of (wafer_seed, die, index) the first time it
is asked for and keeps it, so a device formed or cycled earlier is found in that state when the
prober comes back to its die within one process. A fresh wafer with the same seed (a new
process: a resumed batch run) holds the same devices, all pristine again: a device already
formed in the earlier process is fresh in the new one (a simulator's licence; a real resumed
wafer would carry the stress). A seeded fraction of the devices is dead (`dead_fraction`): they
read as an open circuit. Whether a device is dead is drawn from its own key only, so it does not
depend on the order dies are visited, and a device dead at one fraction is dead at every larger
one.

Spatial structure (`Gradient`): the Weibull scale of V_form and the conductance window (G_on;
the window G_on − G_off and the on/off ratio follow) are multiplied per die by
1 + edge·(r/R)² + tilt·(d/R), r the die's distance from the centre, d its offset along a tilt
direction (drawn from the wafer seed unless given), R `radius_dies`; each device's own draw is on
top, so a wafer-map heat map shows a centre-to-edge trend and a tilt.

Sites (`sites`, `contact_test`): a die holds several device sites, site i at device index
i + subsite·len(sites), each an independent device; the contact-test site is a resistor.
`true_forming_voltage(die, site)` and `is_dead(die, site)` give the ground truth.

`ProbedDevice` is the DUT the bench wires to the instruments: a `DeviceModel` that delegates to
the wafer's device at the die the prober is on while the chuck is in contact, and is an open
circuit otherwise (separation, hover): the probes touch nothing. With a `site` callable (the
switch-matrix twin's closed crosspoints, see station/simulated.py) it reaches the site that
returns, and an open circuit when it returns None. The open circuit is a resistance of `R_OPEN`
(1 PΩ: 0.2 fA at 0.2 V); an SMU forcing a current through it reaches its voltage limit. Not
modelled: the chuck's Z-move time (the probes land or lift when the prober receives the move
command), and two sites reached at once (the lowest-index one is measured).

Devices age while the probes are elsewhere: each keeps the bench time it was last brought to and
is idled (0 V: retention drift, volatile decay) over the gap when it is next probed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from .device_model import RRAMDevice
from .presets import HFOX, RRAMPreset, device_rng, draw_device_params
from .resistor import Resistor
from .timeline import DeviceModel, SegmentLike

Die = tuple[int, int]
Locator = Callable[[], tuple[bool, Die]]
SiteLocator = Callable[[], int | None]
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


_TILT_STREAM = 0x71E7  # spawn key of the tilt direction drawn from the wafer seed
MIN_FACTOR = 0.2  # a gradient factor never goes below this (no zero or negative V_form)


@dataclass(frozen=True)
class Gradient:
    """Smooth variation across the wafer, relative to the centre: at the edge (r = R) V_form's
    Weibull scale is (1 + v_form_edge) times the centre's; the tilt adds ±v_form_tilt at
    ±R along `tilt_deg` (None: drawn from the wafer seed). The same for the window (G_on)."""

    v_form_edge: float = 0.0
    v_form_tilt: float = 0.0
    window_edge: float = 0.0
    window_tilt: float = 0.0
    radius_dies: float = 5.0
    tilt_deg: float | None = None

    def __post_init__(self) -> None:
        if not self.radius_dies > 0:
            raise ValueError(f"Gradient.radius_dies {self.radius_dies!r} must be > 0")

    def direction(self, wafer_seed: int) -> float:
        """The tilt direction (radians from the +column axis)."""
        if self.tilt_deg is not None:
            return math.radians(self.tilt_deg)
        sequence = np.random.SeedSequence([_word("wafer_seed", wafer_seed)],
                                          spawn_key=(_TILT_STREAM,))
        return float(np.random.default_rng(sequence).uniform(0.0, 2.0 * math.pi))

    def factors(self, die: Die, wafer_seed: int) -> tuple[float, float]:
        """(V_form factor, window factor) at `die`."""
        r2 = (die[0] ** 2 + die[1] ** 2) / self.radius_dies ** 2
        angle = self.direction(wafer_seed) if (self.v_form_tilt or self.window_tilt) else 0.0
        d = (die[0] * math.cos(angle) + die[1] * math.sin(angle)) / self.radius_dies
        return (max(1.0 + self.v_form_edge * r2 + self.v_form_tilt * d, MIN_FACTOR),
                max(1.0 + self.window_edge * r2 + self.window_tilt * d, MIN_FACTOR))


class Wafer:
    """The devices of one simulated wafer, drawn lazily per (die, index) and kept."""

    def __init__(self, preset: RRAMPreset = HFOX, wafer_seed: int = 1,
                 dead_fraction: float = 0.0, temperature_k: float = 300.0,
                 gradient: Gradient | None = None, sites: Sequence[str] = (),
                 contact_test: tuple[str, float] | None = None) -> None:
        if not 0.0 <= dead_fraction <= 1.0:
            raise ValueError(f"dead_fraction {dead_fraction!r} must be 0 … 1")
        names = list(sites) + ([contact_test[0]] if contact_test else [])
        if len(set(names)) != len(names):
            raise ValueError(f"site names must be distinct, got {names!r}")
        self.preset = preset
        self.wafer_seed = wafer_seed
        self.dead_fraction = dead_fraction
        self.gradient = gradient or Gradient()
        self.sites: tuple[str, ...] = tuple(names)  # the contact test, if any, is last
        self.contact_test = contact_test
        self._temperature_k = temperature_k
        self._presets: dict[Die, RRAMPreset] = {}
        self.devices: dict[tuple[Die, int], DeviceModel] = {}
        self.synced: dict[tuple[Die, int], float] = {}  # bench time each device was brought to

    # -- keys -----------------------------------------------------------------------------------
    def index(self, site: str | int, subsite: int = 0) -> int:
        """The device index of a site (its name or position) at a subsite."""
        if isinstance(site, str):
            if site not in self.sites:
                raise KeyError(f"site {site!r} is not one of {', '.join(self.sites) or 'none'}")
            site = self.sites.index(site)
        return site + subsite * max(len(self.sites), 1)

    def is_contact_test(self, index: int) -> bool:
        return self.contact_test is not None and index % len(self.sites) == len(self.sites) - 1

    def preset_at(self, die: Die) -> RRAMPreset:
        """The preset with this die's gradient applied (V_form scale and G_on)."""
        die = (int(die[0]), int(die[1]))
        if die not in self._presets:
            f_v, f_g = self.gradient.factors(die, self.wafer_seed)
            p = self.preset
            self._presets[die] = p if (f_v, f_g) == (1.0, 1.0) else replace(
                p, v_form_scale=p.v_form_scale * f_v, g_on=max(p.g_on * f_g, 1.01 * p.g_off))
        return self._presets[die]

    # -- ground truth ---------------------------------------------------------------------------
    def is_dead(self, die: Die, index: str | int = 0, subsite: int = 0) -> bool:
        key = self.index(index, subsite)
        if self.is_contact_test(key):
            return False
        return dead_draw(self.wafer_seed, die, key) < self.dead_fraction

    def true_forming_voltage(self, die: Die, site: str | int = 0, subsite: int = 0) -> float:
        """The Weibull-drawn V_form (gradient applied) of a device; NaN for a dead device or the
        contact test. Drawn afresh from the key: asking never creates or changes a device."""
        key = self.index(site, subsite)
        if self.is_contact_test(key) or self.is_dead(die, key):
            return math.nan
        rng = device_rng(self.wafer_seed, tuple(die), key)
        return draw_device_params(self.preset_at(tuple(die)), rng).v_form

    # -- devices --------------------------------------------------------------------------------
    def device(self, die: Die, index: int = 0) -> DeviceModel:
        """The device at (die, index): an `RRAMDevice`, an `OpenCircuit` if it is dead, or the
        contact-test `Resistor`."""
        key = (tuple(die), index)
        if key not in self.devices:
            if self.is_contact_test(index):
                resistor = Resistor(self.contact_test[1])  # type: ignore[index]
                resistor.temperature_k = self._temperature_k
                self.devices[key] = resistor
            elif self.is_dead(key[0], index):
                self.devices[key] = OpenCircuit(self._temperature_k)
            else:
                self.devices[key] = RRAMDevice(self.preset_at(key[0]), device_rng(
                    self.wafer_seed, key[0], index), self._temperature_k)
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
    an open circuit otherwise. `locate()` returns (in contact, die) from the prober twin;
    `site()`, if given, the device index the source reaches (None: nothing, open)."""

    def __init__(self, wafer: Wafer, locate: Locator, index: int = 0,
                 site: SiteLocator | None = None) -> None:
        self.wafer = wafer
        self.locate = locate
        self.index = index
        self.site = site
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

    def _reached(self) -> tuple[Die, int] | None:
        """(die, device index) the source reaches now, or None (open)."""
        in_contact, die = self.locate()
        if not in_contact:
            return None
        index = self.index if self.site is None else self.site()
        return None if index is None else ((int(die[0]), int(die[1])), index)

    def under_probes(self) -> DeviceModel | None:
        """The device the source reaches now (None when the chuck is not in contact or the
        matrix connects no site)."""
        key = self._reached()
        return None if key is None else self.wafer.device(*key)

    def _bring_up(self, key: tuple[Die, int]) -> DeviceModel:
        device = self.wafer.devices[key]
        lag = self.elapsed - self.wafer.synced.get(key, self.elapsed)
        if lag > 0.0:
            device.idle(lag)
        self.wafer.synced[key] = self.elapsed
        return device

    def _target(self) -> tuple[DeviceModel, tuple[Die, int] | None]:
        key = self._reached()
        if key is None:
            return self._open, None
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
