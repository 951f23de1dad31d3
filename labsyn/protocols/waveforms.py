"""Spike waveforms for STDP: piecewise-linear (t, V) shapes, built in or from a CSV file, and the
device-frame difference V_pre(t) − V_post(t − Δt) sampled on an instrument's time grid."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from labsyn.errors import ConfigError

SHAPES = ("rectangular", "triangular", "biphasic")


@dataclass(frozen=True)
class Waveform:
    """V(t) through the points (t, v), linear between them, 0 V outside [0, duration]. Equal
    consecutive times make a vertical edge."""

    t: tuple[float, ...]
    v: tuple[float, ...]
    name: str = "spike"

    def __post_init__(self) -> None:
        t, v = np.asarray(self.t, float), np.asarray(self.v, float)
        if t.ndim != 1 or t.shape != v.shape or len(t) < 2:
            raise ConfigError(f"{self.name}: a waveform needs ≥ 2 (t, V) points of equal count")
        if not (np.all(np.isfinite(t)) and np.all(np.isfinite(v))):
            raise ConfigError(f"{self.name}: every t and V must be finite numbers")
        if t[0] != 0.0 or np.any(np.diff(t) < 0) or t[-1] <= 0:
            raise ConfigError(f"{self.name}: times must start at 0 s and never decrease, and the "
                              "waveform must last > 0 s")

    @property
    def duration(self) -> float:
        return float(self.t[-1])

    @property
    def peak(self) -> float:
        """The largest |V| (signed)."""
        return float(max(self.v, key=abs))

    def at(self, times: np.ndarray) -> np.ndarray:
        """V at `times` (s); 0 V before the start and after the end."""
        times = np.asarray(times, float)
        values = np.interp(times, self.t, self.v)
        return np.where((times < 0) | (times > self.duration), 0.0, values)

    def scaled(self, voltage: float = 1.0, time: float = 1.0) -> Waveform:
        """V × `voltage`, t × `time`."""
        if not (math.isfinite(voltage) and math.isfinite(time) and time > 0):
            raise ConfigError(f"{self.name}: scale factors must be finite, the time factor > 0")
        return Waveform(tuple(time * x for x in self.t), tuple(voltage * x for x in self.v),
                        self.name)


def rectangular(amplitude: float, width: float) -> Waveform:
    """A flat pulse of `amplitude` V for `width` s."""
    return Waveform((0.0, 0.0, width, width), (0.0, amplitude, amplitude, 0.0), "rectangular")


def triangular(amplitude: float, width: float) -> Waveform:
    """A linear rise to `amplitude` at width/2 and back to 0 V at `width`."""
    return Waveform((0.0, width / 2, width), (0.0, amplitude, 0.0), "triangular")


def biphasic(amplitude: float, width: float, positive_fraction: float = 0.05,
             negative_ratio: float = 1.0) -> Waveform:
    """The ArC-like spike: a short flat lobe at +`amplitude` for `positive_fraction` of `width`,
    then a negative lobe jumping to −`negative_ratio`·`amplitude` and ramping linearly back to
    0 V at `width`. Overlapping the long ramp of one spike with the short lobe of the other gives
    a device voltage that falls off with |Δt|, hence an exponential-like STDP window."""
    if not 0 < positive_fraction < 1:
        raise ConfigError(f"biphasic: positive_fraction = {positive_fraction:g} must be in (0, 1)")
    edge = positive_fraction * width
    return Waveform((0.0, 0.0, edge, edge, width),
                    (0.0, amplitude, amplitude, -negative_ratio * amplitude, 0.0), "biphasic")


def built_in(shape: str, amplitude: float, width: float) -> Waveform:
    """One of `SHAPES` with its peak `amplitude` (V) and total `width` (s)."""
    makers = {"rectangular": rectangular, "triangular": triangular, "biphasic": biphasic}
    if shape not in makers:
        raise ConfigError(f"unknown spike shape {shape!r}; shapes: {', '.join(SHAPES)}, file")
    return makers[shape](amplitude, width)


def load_csv(path: str | Path) -> Waveform:
    """Two columns, t (s) and V (V), comma- or whitespace-separated; `#` comments and a header
    line are skipped. Times are shifted to start at 0 s."""
    file = Path(path)
    try:
        lines = file.read_text().splitlines()
    except OSError as exc:
        raise ConfigError(f"spike file {file}: cannot read it ({exc.strerror or exc})") from None
    rows: list[tuple[float, float]] = []
    for number, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].replace(",", " ").replace(";", " ").split()
        if not text:
            continue
        try:
            values = [float(x) for x in text]
        except ValueError:
            if not rows:
                continue  # a header
            raise ConfigError(f"spike file {file} line {number}: {line.strip()!r} is not two "
                              "numbers t (s), V (V)") from None
        if len(values) != 2:
            raise ConfigError(f"spike file {file} line {number}: expected 2 columns t (s), V (V);"
                              f" found {len(values)}")
        rows.append((values[0], values[1]))
    if len(rows) < 2:
        raise ConfigError(f"spike file {file}: needs ≥ 2 rows of t (s), V (V); found {len(rows)}")
    t0 = rows[0][0]
    return Waveform(tuple(t - t0 for t, _ in rows), tuple(v for _, v in rows), f"spike file {file}")


def difference(pre: Waveform, post: Waveform, delta_t: float, interval: float
               ) -> tuple[np.ndarray, np.ndarray]:
    """V_pre(t) − V_post(t − Δt) as levels held `interval` s each, covering both spikes: the
    sample start times (pre starts at 0 s) and the levels, taken at each sample's midpoint."""
    start = min(0.0, delta_t)
    end = max(pre.duration, delta_t + post.duration)
    count = max(1, math.ceil((end - start) / interval - 1e-9))
    starts = start + interval * np.arange(count)
    middle = starts + interval / 2
    return starts, pre.at(middle) - post.at(middle - delta_t)


def delta_ts(dt_min: float, dt_max: float, points: int, spacing: str) -> np.ndarray:
    """`points` delays per sign from `dt_min` to `dt_max` (log or linear), negative ones first."""
    if spacing == "log":
        side = np.geomspace(dt_min, dt_max, points)
    else:
        side = np.linspace(dt_min, dt_max, points)
    return np.concatenate([-side[::-1], side])
