"""Read-disturb drift, write-verify summary and multistate separation on synthetic reads."""

from __future__ import annotations

import numpy as np
import pytest

from labsyn.analysis import DRY_RUN_REASON
from labsyn.analysis.states import (
    distinguishable_states,
    read_disturb_drift,
    separated_states,
    write_verify_summary,
)

RNG = np.random.default_rng(7)
V_READ = 0.2


def reads_of(resistance: np.ndarray, noise: float = 0.005) -> np.ndarray:
    return V_READ / resistance * (1 + noise * RNG.standard_normal(resistance.size))


def test_stable_device_passes_with_drift_within_noise() -> None:
    n = np.arange(1, 2001)
    result = read_disturb_drift(n, np.full(n.size, V_READ), reads_of(np.full(n.size, 1e4)),
                                0.02, reads_of(np.full(20, 1e4)))
    assert result.passed.value == 1.0
    assert abs(result.drift.value) < 3 * 0.005
    assert not result.reads_to_fail.ok and "stayed within" in result.reads_to_fail.reason
    assert result.r0.value == pytest.approx(1e4, rel=0.01)
    assert result.read_noise.value == pytest.approx(0.005, rel=0.6)


def test_drifting_device_fails_where_the_drift_crosses_max_drift() -> None:
    n = np.arange(1, 1001)
    truth = 1e4 * (1 + 0.05 * n / 1000)  # +2 % at read 400
    result = read_disturb_drift(n, np.full(n.size, V_READ), reads_of(truth, 0.002), 0.02,
                                reads_of(np.full(10, 1e4), 0.002))
    assert result.passed.value == 0.0
    assert abs(result.reads_to_fail.value - 400) <= 25
    assert result.drift.value == pytest.approx(0.05, abs=0.005)


def test_baseline_reads_set_r0_and_bad_baselines_are_named() -> None:
    n = np.arange(1, 101)
    reads = reads_of(np.full(n.size, 1e4), 0.001)
    lower = read_disturb_drift(n, np.full(n.size, V_READ), reads, 0.02, reads_of(np.full(10, 9e3)))
    assert lower.passed.value == 0.0 and lower.reads_to_fail.value == 1
    dead = read_disturb_drift(n, np.full(n.size, V_READ), reads, 0.02, np.zeros(10))
    assert not dead.drift.ok and dead.drift.reason.startswith("baseline reads: ")


def test_series_resistance_is_removed() -> None:
    n = np.arange(1, 101)
    current = np.full(n.size, V_READ / 1.1e4) * (1 + 1e-3 * RNG.standard_normal(n.size))
    result = read_disturb_drift(n, np.full(n.size, V_READ), current, 0.02, current[:10],
                                series_resistance=1e3)
    assert result.r0.value == pytest.approx(1e4, rel=0.01)


@pytest.mark.parametrize(("current", "words"), [
    (np.zeros(100), "~0 A"),
    (np.full(100, 1e-14), "~0 A"),
    (np.full(100, 2e-5), DRY_RUN_REASON),
    (np.r_[np.full(97, np.nan), 1e-5, 1.1e-5, 1.2e-5], "only 3 finite reads"),
])
def test_degenerate_reads_give_missing_figures_with_reasons(current: np.ndarray, words: str
                                                            ) -> None:
    n = np.arange(1, current.size + 1)
    disturb = read_disturb_drift(n, np.full(n.size, V_READ), current, 0.02, current[-10:])
    states = distinguishable_states(n // 10, np.full(n.size, V_READ), current, min_reads=4)
    for figure in (disturb.drift, disturb.passed, disturb.reads_to_fail, states.n_states):
        assert not figure.ok and words in figure.reason


def test_write_verify_summary() -> None:
    current = V_READ * np.array([1 / 2e4, 1 / 1.3e4, 1 / 1.02e4])
    result = write_verify_summary(np.full(3, V_READ), current, 1e-4, 0.05, reversals=1,
                                  pulses=2)
    assert result.g_final.value == pytest.approx(1 / 1.02e4)
    assert result.error.value == pytest.approx(1 / 1.02 - 1)
    assert (result.converged.value, result.pulses.value, result.reversals.value) == (1, 2, 1)
    far = write_verify_summary(np.full(3, V_READ), current, 2e-4, 0.05, reversals=0)
    assert far.converged.value == 0.0 and far.pulses.value == 3
    dead = write_verify_summary(np.full(2, V_READ), np.zeros(2), 1e-4, 0.05, reversals=0)
    assert not dead.g_final.ok and "~0 A" in dead.g_final.reason
    assert not dead.converged.ok


def test_states_separated_by_k_sigma() -> None:
    means = 1e-5 * 1.04 ** np.arange(40)  # 4 % steps, 1 % σ: a state every second step or so
    reads, steps = 200, np.repeat(np.arange(1, 41), 200)
    current = np.repeat(means * V_READ, reads) * (1 + 0.01 * RNG.standard_normal(steps.size))
    result = distinguishable_states(steps, np.full(steps.size, V_READ), current, k=3)
    expected = len(separated_states(means, 0.01 * means, 3.0))
    assert 15 <= expected <= 25
    assert abs(result.n_states.value - expected) <= 1
    assert result.g_lowest.value == pytest.approx(means[0], rel=0.01)
    assert result.relative_sigma.value == pytest.approx(0.01, rel=0.2)
    bands = result.states
    assert (bands["lower"].to_numpy()[1:] > bands["upper"].to_numpy()[:-1]).all()


def test_monotonicity_ignore_or_stop() -> None:
    means = np.array([1.0, 2.0, 3.0, 1.5, 4.0])
    sigmas = np.full(5, 0.01)
    assert separated_states(means, sigmas, 3.0, "ignore") == [0, 1, 2, 4]
    assert separated_states(means, sigmas, 3.0, "stop") == [0, 1, 2]
    assert separated_states(np.array([1.0, 1.02, 1.05, 1.075]), np.full(4, 0.005), 3.0) == [0, 2]
