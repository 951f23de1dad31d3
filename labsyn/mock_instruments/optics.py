"""Fibre-to-device optical coupling and a photonic-synapse DUT read as a photocurrent.

Coupling is the overlap of two fundamental Gaussian modes: the fibre's (1/e² intensity radius
`w_fibre`, waist at its tip) and the device's (radius `w_device`, waist at its surface), with a
lateral offset (dx, dy), an axial separation dz and a tilt of the fibre axis. It is computed
exactly (a closed-form complex Gaussian integral per transverse axis; the two axes separate for
circular modes) and reduces, for one misalignment at a time and identical modes, to the usual
closed forms (Joyce & DeLoach 1984; Marcuse 1977):

* lateral  η = exp(−d² / w0²)                  (1/e² at d = √2·w0)
* axial    η = 1 / (1 + (λ·dz / (2π·w0²))²)    (dz = 2·z_R halves it)
* angular  η = exp(−(π·w0·θ / λ)²)

Lengths in any one unit (the DUT model uses mm, the hexapod's unit), angles in radians.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import numpy as np

PoseSource = Callable[[], Mapping[str, float]]
AXES = ("X", "Y", "Z", "U", "V", "W")


def lateral_coupling(d: float, w0: float) -> float:
    """Identical modes offset by `d` (no gap, no tilt)."""
    return math.exp(-(d / w0) ** 2)


def axial_coupling(dz: float, w0: float, wavelength: float) -> float:
    """Identical modes whose waists are `dz` apart along the axis."""
    return 1.0 / (1.0 + (wavelength * dz / (2 * math.pi * w0 ** 2)) ** 2)


def angular_coupling(theta: float, w0: float, wavelength: float) -> float:
    """Identical modes whose axes cross at angle `theta` (rad) at the waist."""
    return math.exp(-(math.pi * w0 * theta / wavelength) ** 2)


def overlap_1d(offset: float, tilt: float, dz: float, w_fibre: float, w_device: float,
               wavelength: float) -> float:
    """One transverse axis: |∫E_f E_d*|² / (∫|E_f|² ∫|E_d|²).

    The fibre beam, waist at its tip, propagates `dz` to the device's waist plane: there it has
    the complex parameter a₁ = ik/(2q), q = dz + i·z_R, is centred at offset + dz·tan(tilt) and
    carries the tilt phase exp(−ik·sin(tilt)·x); the device mode is exp(−x²/w_device²)."""
    k = 2 * math.pi / wavelength
    z_r = math.pi * w_fibre ** 2 / wavelength
    a1 = 1j * k / (2 * complex(dz, z_r))
    a2 = 1.0 / w_device ** 2
    centre = offset + dz * math.tan(tilt)
    b = -k * math.sin(tilt)
    big_a = a1 + a2
    exponent = (2 * a1 * centre + 1j * b) ** 2 / (4 * big_a) - a1 * centre ** 2
    return 2 * math.sqrt(a1.real * a2) / abs(big_a) * math.exp(2 * exponent.real)


def coupling(dx: float, dy: float, dz: float, tilt_x: float, tilt_y: float, w_fibre: float,
             wavelength: float, w_device: float | None = None) -> float:
    """Power coupling 0 … 1 of the fibre mode into the device mode (tilts in rad)."""
    w_dev = w_fibre if w_device is None else w_device
    return (overlap_1d(dx, tilt_x, dz, w_fibre, w_dev, wavelength)
            * overlap_1d(dy, tilt_y, dz, w_fibre, w_dev, wavelength))


def max_coupling(w_fibre: float, w_device: float | None = None) -> float:
    """The best coupling at perfect alignment: (2·w_f·w_d / (w_f² + w_d²))²."""
    w_dev = w_fibre if w_device is None else w_device
    return (2 * w_fibre * w_dev / (w_fibre ** 2 + w_dev ** 2)) ** 2


def _rotation(u: float, v: float, w: float) -> np.ndarray:
    """Rz(W)·Ry(V)·Rx(U), degrees (hexapod U V W about X Y Z)."""
    cu, su = math.cos(math.radians(u)), math.sin(math.radians(u))
    cv, sv = math.cos(math.radians(v)), math.sin(math.radians(v))
    cw, sw = math.cos(math.radians(w)), math.sin(math.radians(w))
    rx = np.array([[1, 0, 0], [0, cu, -su], [0, su, cu]])
    ry = np.array([[cv, 0, sv], [0, 1, 0], [-sv, 0, cv]])
    rz = np.array([[cw, -sw, 0], [sw, cw, 0], [0, 0, 1]])
    return rz @ ry @ rx


@dataclass(frozen=True)
class PhotonicSegment:
    current: float
    v_device: float
    peak_current: float
    limited: bool
    formed_now: bool = False


class PhotonicSynapse:
    """A photodetecting synapse under a fibre held by the hexapod.

    I(V) = I_dark + responsivity · P_in · η(pose) + V / R_leak, plus Gaussian detector noise
    (`noise_a` rms, seeded) on each read. The pose (X Y Z mm, U V W deg) comes from
    `pose_source` — on the bench, the simulated hexapod's pose at the reading's time. The
    pivot is assumed at the fibre tip (U V tilt the fibre without moving it) unless
    `tip_from_pivot` (mm) says where the tip sits relative to the pivot. `optimum` is the
    truth: the pose at which the fibre's waist meets the device's, on axis.
    """

    def __init__(self, pose_source: PoseSource | None = None, *,
                 optimum: Mapping[str, float] | None = None, mode_radius_mm: float = 5.2e-3,
                 device_mode_radius_mm: float | None = None, wavelength_mm: float = 1.55e-3,
                 optical_power_w: float = 1e-4, responsivity_a_per_w: float = 0.5,
                 dark_current_a: float = 1e-9, leak_resistance: float = 1e9,
                 noise_a: float = 5e-8, seed: int = 0,
                 tip_from_pivot: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> None:
        for name, value in (("mode_radius_mm", mode_radius_mm), ("wavelength_mm", wavelength_mm),
                            ("leak_resistance", leak_resistance)):
            if not value > 0:
                raise ValueError(f"{name} {value!r} must be > 0")
        if device_mode_radius_mm is not None and not device_mode_radius_mm > 0:
            raise ValueError(f"device_mode_radius_mm {device_mode_radius_mm!r} must be > 0")
        if optical_power_w < 0 or responsivity_a_per_w < 0 or noise_a < 0:
            raise ValueError("optical_power_w, responsivity_a_per_w and noise_a must be >= 0")
        self.pose_source: PoseSource = pose_source or (lambda: dict.fromkeys(AXES, 0.0))
        self.optimum = {a: float((optimum or {}).get(a, (optimum or {}).get(a.lower(), 0.0)))
                        for a in AXES}
        self.mode_radius_mm = mode_radius_mm
        self.device_mode_radius_mm = device_mode_radius_mm
        self.wavelength_mm = wavelength_mm
        self.optical_power_w = optical_power_w
        self.responsivity_a_per_w = responsivity_a_per_w
        self.dark_current_a = dark_current_a
        self.leak_resistance = leak_resistance
        self.noise_a = noise_a
        self.tip_from_pivot = np.asarray(tip_from_pivot, dtype=float)
        self.temperature_k = 300.0
        self.time_s = 0.0
        self.energy_j = 0.0
        self._rng = np.random.default_rng(seed)

    # -- optics ---------------------------------------------------------------------------------
    def misalignment(self, pose: Mapping[str, float] | None = None
                     ) -> tuple[float, float, float, float, float]:
        """(dx, dy, dz mm, tilt_x, tilt_y rad) of the fibre relative to the optimum."""
        p = self.pose_source() if pose is None else pose
        d = {a: float(p.get(a, 0.0)) - self.optimum[a] for a in AXES}
        rotation = _rotation(d["U"], d["V"], d["W"])
        tip = rotation @ self.tip_from_pivot - self.tip_from_pivot
        axis = rotation @ np.array([0.0, 0.0, 1.0])
        return (d["X"] + tip[0], d["Y"] + tip[1], d["Z"] + tip[2],
                math.atan2(axis[0], axis[2]), math.atan2(axis[1], axis[2]))

    def coupling(self, pose: Mapping[str, float] | None = None) -> float:
        """η at `pose` (default: the pose now)."""
        dx, dy, dz, tx, ty = self.misalignment(pose)
        return coupling(dx, dy, dz, tx, ty, self.mode_radius_mm, self.wavelength_mm,
                        self.device_mode_radius_mm)

    def max_coupling(self) -> float:
        return max_coupling(self.mode_radius_mm, self.device_mode_radius_mm)

    def photocurrent(self, pose: Mapping[str, float] | None = None) -> float:
        """I_dark + responsivity · P_in · η (noise-free), A."""
        return (self.dark_current_a
                + self.responsivity_a_per_w * self.optical_power_w * self.coupling(pose))

    # -- DeviceModel ----------------------------------------------------------------------------
    def read_current(self, v: float) -> float:
        i = self.photocurrent() + v / self.leak_resistance
        return i + (float(self._rng.normal(0.0, self.noise_a)) if self.noise_a else 0.0)

    def apply(self, v: float, duration: float, i_limit: float | None = None,
              r_series: float = 0.0) -> PhotonicSegment:
        current = (self.photocurrent() + v / self.leak_resistance) / (
            1 + r_series / self.leak_resistance)
        limited = i_limit is not None and abs(current) > i_limit
        if limited:
            current = math.copysign(i_limit, current)  # type: ignore[arg-type]
        return self._book(current, v - current * r_series, duration, limited)

    def apply_current(self, i: float, duration: float, v_limit: float,
                      r_series: float = 0.0) -> PhotonicSegment:
        v_device = (i - self.photocurrent()) * self.leak_resistance
        limited = abs(v_device + i * r_series) > v_limit
        if limited:
            v_total = math.copysign(v_limit, v_device + i * r_series)
            return replace(self.apply(v_total, duration, None, r_series), limited=True)
        return self._book(i, v_device, duration, False)

    def idle(self, duration: float) -> None:
        self.time_s += duration

    def _book(self, current: float, v_device: float, duration: float,
              limited: bool) -> PhotonicSegment:
        self.time_s += duration
        self.energy_j += v_device * current * duration
        return PhotonicSegment(current, v_device, abs(current), limited)

    @property
    def truth(self) -> dict[str, float]:
        """Tests only: the optimum pose, the coupling now and at best."""
        return {"coupling": self.coupling(), "max_coupling": self.max_coupling(),
                **{f"optimum_{a.lower()}": v for a, v in self.optimum.items()}}


__all__ = ["PhotonicSynapse", "angular_coupling", "axial_coupling", "coupling",
           "lateral_coupling", "max_coupling", "overlap_1d"]
