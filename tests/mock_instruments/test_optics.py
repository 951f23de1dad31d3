"""Gaussian-mode coupling formulas and the photonic-synapse DUT."""

from __future__ import annotations

import math

import numpy as np
import pytest

from labsyn.mock_instruments.optics import (
    PhotonicSynapse,
    angular_coupling,
    axial_coupling,
    coupling,
    lateral_coupling,
    max_coupling,
)

W0 = 5.2e-3  # mm
LAMBDA = 1.55e-3  # mm
Z_R = math.pi * W0 ** 2 / LAMBDA


def eta(dx: float = 0.0, dy: float = 0.0, dz: float = 0.0, tx: float = 0.0,
        ty: float = 0.0, w_device: float | None = None) -> float:
    return coupling(dx, dy, dz, tx, ty, W0, LAMBDA, w_device)


def test_perfect_alignment_couples_everything() -> None:
    assert eta() == pytest.approx(1.0, abs=1e-12)
    assert max_coupling(W0) == 1.0


def test_mismatched_modes_peak_below_one_at_the_closed_form() -> None:
    assert eta(w_device=3e-3) == pytest.approx(max_coupling(W0, 3e-3), rel=1e-12)
    assert max_coupling(W0, 3e-3) < 0.8


def test_lateral_offset_falls_to_1_over_e_squared_at_root_2_mode_radii() -> None:
    assert eta(dx=W0) == pytest.approx(math.exp(-1), rel=1e-9)
    assert eta(dx=math.sqrt(2) * W0) == pytest.approx(math.exp(-2), rel=1e-9)
    for d in (0.5e-3, 2e-3, 9e-3):
        assert eta(dx=d) == pytest.approx(lateral_coupling(d, W0), rel=1e-9)
    assert eta(dx=0.05) < 1e-30  # 50 µm off: no light


def test_coupling_is_symmetric_in_sign_and_axis() -> None:
    for kwargs in ({"dx": 3e-3}, {"tx": 0.02}, {"dx": 2e-3, "dz": 0.03, "tx": 0.01}):
        mirrored = {k: v if k == "dz" else -v for k, v in kwargs.items()}  # x -> -x
        assert eta(**kwargs) == pytest.approx(eta(**mirrored), rel=1e-12)
    assert eta(dz=0.04) == pytest.approx(eta(dz=-0.04), rel=1e-12)
    assert eta(dx=3e-3, tx=0.01) == pytest.approx(eta(dy=3e-3, ty=0.01), rel=1e-12)
    assert eta(dx=3e-3, dy=2e-3) == pytest.approx(eta(dx=3e-3) * eta(dy=2e-3), rel=1e-12)


def test_axial_separation_halves_the_coupling_at_twice_the_rayleigh_range() -> None:
    assert eta(dz=2 * Z_R) == pytest.approx(0.5, rel=1e-9)
    for dz in (0.01, 0.1):
        assert eta(dz=dz) == pytest.approx(axial_coupling(dz, W0, LAMBDA), rel=1e-9)


def test_angular_term_matches_the_closed_form() -> None:
    theta = math.radians(2.0)
    assert eta(tx=theta) == pytest.approx(angular_coupling(theta, W0, LAMBDA), rel=1e-3)
    assert 1 - eta(tx=math.radians(0.2)) == pytest.approx(1.35e-3, rel=0.01)  # SMF: 0.135 %
    one_over_e = LAMBDA / (math.pi * W0)  # the 1/e angle
    assert angular_coupling(one_over_e, W0, LAMBDA) == pytest.approx(math.exp(-1))


def test_a_tilt_across_a_gap_walks_the_beam_off() -> None:
    dz, theta = 0.05, 0.02
    walked = eta(dz=dz, tx=theta)
    assert walked < eta(dz=dz) * angular_coupling(theta, W0, LAMBDA)
    assert eta(dx=-dz * math.tan(theta), dz=dz, tx=theta) > walked  # tip moved back: better


def test_synapse_reads_the_pose_with_the_pivot_at_the_fibre_tip() -> None:
    pose = {"X": 0.0, "Y": 0.0, "Z": 0.0, "U": 1.0, "V": 0.0, "W": 0.0}
    device = PhotonicSynapse(lambda: pose, noise_a=0.0)
    dx, dy, dz, tx, ty = device.misalignment()
    assert (dx, dy, dz, tx) == pytest.approx((0.0, 0.0, 0.0, 0.0), abs=1e-15)
    assert ty == pytest.approx(-math.radians(1.0))
    lever = PhotonicSynapse(lambda: pose, noise_a=0.0, tip_from_pivot=(0.0, 0.0, -10.0))
    assert lever.misalignment()[1] == pytest.approx(10.0 * math.sin(math.radians(1.0)))
    assert lever.coupling() < 1e-6 < device.coupling()


def test_photocurrent_noise_leak_and_compliance() -> None:
    pose = {"X": 0.01, "Y": -0.02}
    device = PhotonicSynapse(lambda: pose, optimum={"x": 0.01, "y": -0.02}, noise_a=5e-8,
                             seed=3)
    assert device.coupling() == pytest.approx(1.0)
    clean = 1e-9 + 0.5 * 1e-4 + 0.1 / 1e9
    reads = np.array([device.read_current(0.1) for _ in range(2000)])
    assert reads.mean() == pytest.approx(clean, abs=5e-9)
    assert reads.std() == pytest.approx(5e-8, rel=0.1)
    again = PhotonicSynapse(lambda: pose, optimum={"x": 0.01, "y": -0.02}, seed=3)
    assert again.read_current(0.1) == reads[0]
    limited = device.apply(0.1, 1e-3, i_limit=1e-5)
    assert limited.limited and limited.current == pytest.approx(1e-5)
    free = device.apply(0.1, 1e-3, i_limit=1e-3, r_series=100.0)
    assert not free.limited and free.current == pytest.approx(clean, rel=1e-6)
    pose["X"] = 0.06  # 50 µm off: the dark current and the leak only
    assert device.photocurrent() == pytest.approx(1e-9)


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="mode_radius_mm"):
        PhotonicSynapse(mode_radius_mm=0.0)
    with pytest.raises(ValueError, match="noise_a"):
        PhotonicSynapse(noise_a=-1.0)
