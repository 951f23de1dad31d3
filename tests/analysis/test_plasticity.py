"""NeuroSim nonlinearity analysis on synthetic LTP/LTD data with known A and P_max."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from labsyn.analysis.device_export import aihwkit_config, neurosim_cell_text, to_json
from labsyn.analysis.plasticity import (
    a_norm_from_label,
    energy_per_pulse,
    fit_branch,
    label_from_a_norm,
)
from labsyn.analysis.result import Estimate

ANCHORS = [(0.5, 2.520), (1, 1.252), (2, 0.609), (2.4, 0.499), (3, 0.387), (4, 0.269),
           (4.88, 0.200), (6, 0.136), (7, 0.090), (9, 0.023), (0.01, 126.268958)]


@pytest.mark.parametrize(("label", "a_norm"), ANCHORS)
def test_label_mapping_reproduces_the_neurosim_anchors(label: float, a_norm: float) -> None:
    assert a_norm_from_label(label) == pytest.approx(a_norm, rel=0.01)
    assert label_from_a_norm(-a_norm) == pytest.approx(-label, rel=0.01)


def _branch(p_max: int, label: float, pulses: int, cycles: int = 3, noise: float = 0.005,
            seed: int = 1) -> np.ndarray:
    """Hard-bounded NeuroSim curve (G from 1 nS to 11 nS) with relative read noise."""
    a = a_norm_from_label(label) * p_max
    w_inf = 1.0 / -np.expm1(-p_max / a)
    n = np.arange(1, pulses + 1)
    g = 1e-9 + 1e-8 * np.minimum(w_inf * -np.expm1(-n / a), 1.0)
    rng = np.random.default_rng(seed)
    return g[None, :] * (1.0 + noise * rng.standard_normal((cycles, pulses)))


@pytest.mark.parametrize(("p_max", "label"), [(97, 2.4), (50, 3.68), (64, 0.5), (40, 1.94)])
def test_fit_recovers_a_norm_and_states(p_max: int, label: float) -> None:
    fit = fit_branch(_branch(p_max, label, int(1.6 * p_max)), +1)
    assert fit.saturated
    assert fit.p_max.value == pytest.approx(p_max, rel=0.10)
    assert fit.a_norm.value == pytest.approx(a_norm_from_label(label), rel=0.15)
    assert fit.g_end.value == pytest.approx(1.1e-8, rel=0.02)


def test_depression_is_mirrored_with_negative_label() -> None:
    table = 1.2e-8 - _branch(100, 4.88, 160)
    fit = fit_branch(table, -1)
    assert fit.label.value < 0 and fit.a_norm.value < 0
    assert abs(fit.a_norm.value) == pytest.approx(0.2003, rel=0.15)
    assert fit.p_max.value == pytest.approx(100, rel=0.10)


def test_too_few_pulses_is_flagged_unsaturated() -> None:
    fit = fit_branch(_branch(97, 2.4, 60), +1)
    assert not fit.saturated and "never saturated" in fit.reason


@pytest.mark.parametrize(("table", "reason"), [
    (np.zeros((3, 100)), "no switching"),
    (np.full((3, 100), 4.2e-6), "no switching"),
    (np.full((3, 100), np.nan), "only 0 finite reads"),
    (1e-12 * np.random.default_rng(0).standard_normal((3, 100)), "no switching"),
])
def test_degenerate_data_gives_reasons_not_numbers(table: np.ndarray, reason: str) -> None:
    fit = fit_branch(table, +1)
    assert not fit.ok and fit.p_max.value is None and reason in fit.p_max.reason


def test_wrong_direction_is_refused() -> None:
    fit = fit_branch(_branch(97, 2.4, 150)[:, ::-1], +1)
    assert not fit.ok and "wrong way" in fit.reason


def test_c2c_from_step_residuals() -> None:
    rng = np.random.default_rng(3)
    p_max, a = 100, 0.5 * 100
    w_inf = 1.0 / -np.expm1(-p_max / a)
    rows = []
    for _ in range(6):
        w, row = 0.0, []
        for _ in range(160):
            w = min(max(w_inf - np.exp(-1 / a) * (w_inf - w) + 0.01 * rng.standard_normal(),
                        0.0), 1.0)
            row.append(1e-9 + 1e-8 * w)
        rows.append(row)
    fit = fit_branch(np.array(rows), +1)
    assert fit.c2c.value == pytest.approx(0.01, rel=0.3)


def test_energy_needs_pulse_top_current() -> None:
    missing = energy_per_pulse(np.array([1.0]), None, 1e-3)
    assert missing.value is None and "pulse top" in missing.reason
    energy = energy_per_pulse(np.full(10, 2.0), np.full(10, 1e-4), 1e-3)
    assert energy.value == pytest.approx(2e-7)


def test_export_round_trips_the_fit() -> None:
    fit = fit_branch(_branch(97, 2.4, 150), +1)
    figures = {"states_ltp": fit.p_max, "a_norm_ltp": fit.a_norm, "g_min": fit.g_start,
               "g_max": fit.g_end, "states_ltd": Estimate.missing("", "x")}
    config = json.loads(to_json({"aihwkit": aihwkit_config(figures)}))["aihwkit"]
    assert config["p_max"] == round(fit.p_max.value)
    assert 1.0 / (config["alpha"] * config["p_max"]) == pytest.approx(fit.a_norm.value, rel=0.01)
    assert config["conductance_range"] == [fit.g_start.value, fit.g_end.value]
    assert config["alpha_ltd"] is None
    assert "not measured" in neurosim_cell_text({"NL_LTD": None, "sigmaCtoC": 0.03})


def test_near_linear_branch_recovers_its_label() -> None:
    """TaOx/HfOx-like (label 0.04, A/P_max 31.6): a sharp kink, curvature ~0.4 % of the window."""
    fit = fit_branch(_branch(128, 0.04, 200, cycles=3), +1)
    assert fit.p_max.value == pytest.approx(128, rel=0.02)
    assert fit.a_norm.value == pytest.approx(a_norm_from_label(0.04), rel=0.15)


def test_per_cycle_levels_do_not_bias_the_fit() -> None:
    """Each cycle's own G0 and window (the levels drift cycle to cycle) are fitted jointly."""
    table = _branch(64, 0.5, 110, cycles=4) * np.array([[0.97], [1.0], [1.02], [1.05]])
    fit = fit_branch(table, +1)
    assert fit.p_max.value == pytest.approx(64, rel=0.05)
    assert fit.a_norm.value == pytest.approx(a_norm_from_label(0.5), rel=0.15)


def test_soft_kink_is_counted_to_the_read_noise() -> None:
    """|label| 6.76: e^(-P_max/A) ~ 5e-5, the last pulses move G far less than 0.5 % read
    noise, so no hard bound is in view: the states are the pulses that still move G by more
    than one read σ, A·ln(W/σ); a quiet read resolves the hard bound at 50."""
    fit = fit_branch(1.2e-8 - _branch(50, 6.76, 90, cycles=10), -1)
    a = a_norm_from_label(6.76) * 50
    assert fit.ok and fit.saturated and fit.bound == "soft"
    assert fit.a.value == pytest.approx(-a, rel=0.15)
    window = abs(fit.g_end.value - fit.g_start.value)
    assert fit.p_max.value == pytest.approx(a * math.log(window / fit.read_sigma), rel=0.15)
    assert "within one read σ" in fit.p_max.reason
    quiet = fit_branch(1.2e-8 - _branch(50, 6.76, 90, cycles=3, noise=1e-6), -1)
    assert quiet.saturated and quiet.bound == "hard"
    assert quiet.p_max.value == pytest.approx(50, rel=0.05)
