"""The NeuroSim presets: their own pulses give A = A_norm(label)·P_max and P_max states."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from labsyn.mock_instruments import presets
from labsyn.mock_instruments.device_model import HFOX, RRAMDevice
from labsyn.mock_instruments.presets_neurosim import NEUROSIM, NEUROSIM_PRESETS, NEUROSIM_TRUTH
from labsyn.station.config import PRESETS


def _formed(preset: presets.RRAMPreset, w: float) -> RRAMDevice:
    device = RRAMDevice(preset.nominal(), np.random.default_rng(0))
    device.formed, device._w = True, w
    return device


@pytest.mark.parametrize("name", sorted(NEUROSIM))
@pytest.mark.parametrize("smu", [False, True])
def test_pulses_reproduce_states_and_a(name: str, smu: bool) -> None:
    truth, preset = NEUROSIM[name], NEUROSIM_PRESETS[name]
    (v_p, t_p), (v_d, t_d) = truth.ltp_pulse, truth.ltd_pulse
    if smu:
        (v_p, t_p), (v_d, t_d) = (truth.smu_ltp_v, 1e-3), (truth.smu_ltd_v, 1e-3)
    up = _formed(preset, 0.0)
    assert 1.0 / (up.switching_rate(v_p) * t_p) == pytest.approx(
        truth.a_norm_ltp * truth.p_max_ltp, rel=1e-6)
    w = up.apply_pulse_train(v_p, t_p, 1e-3, int(1.5 * truth.p_max_ltp)).conductance
    reached = int(np.argmax(w >= preset.g_on * (1 - 1e-4))) + 1
    assert reached == pytest.approx(truth.p_max_ltp, abs=1)
    down = _formed(preset, 1.0)
    g = down.apply_pulse_train(v_d, t_d, 1e-3, int(1.5 * truth.p_max_ltd)).conductance
    reached = int(np.argmax(g <= preset.g_off * (1 + 1e-4))) + 1
    assert reached == pytest.approx(truth.p_max_ltd, abs=1)


def test_scalar_path_clips_at_the_hard_bound_as_the_train_does() -> None:
    preset, truth = NEUROSIM_PRESETS["ag_asi"], NEUROSIM["ag_asi"]
    scalar, train = _formed(preset, 0.0), _formed(preset, 0.0)
    v, t = truth.ltp_pulse
    for _ in range(120):
        scalar.apply(v, t)
        scalar.idle(1e-3)
    train.apply_pulse_train(v, t, 1e-3, 120)
    assert scalar.state == pytest.approx(1.0, abs=1e-4)
    assert train.state == pytest.approx(scalar.state, abs=1e-6)
    assert 0.0 <= scalar._w <= 1.0


def test_additive_c2c_matches_the_table_sigma() -> None:
    preset = dataclasses.replace(NEUROSIM_PRESETS["alox_hfo2"], d2d=False)
    device = RRAMDevice(preset, np.random.default_rng(4))
    device.formed, device._w = True, 0.3
    kicks = []
    for _ in range(300):
        device._w = 0.3
        g = device.apply_pulse_train(0.9, 100e-6, 1e-3, 1).conductance[0]
        kicks.append((g - preset.g_off) / (preset.g_on - preset.g_off))
    step = np.mean(kicks) - 0.3
    assert step > 0
    assert np.std(kicks) == pytest.approx(0.05, rel=0.15)


def test_hfox_keeps_soft_bounds_and_presets_resolve_by_name() -> None:
    assert (HFOX.w_inf_set, HFOX.w_inf_reset, HFOX.c2c_sigma_w) == (1.0, 0.0, 0.0)
    for name in NEUROSIM:
        assert name in PRESETS
        assert getattr(presets, name.upper()) is NEUROSIM_PRESETS[name]
    assert NEUROSIM_TRUTH["ag_asi"][:4] == (97, 100, 2.4, -4.88)
    with pytest.raises(ValueError, match="w_inf_set"):
        dataclasses.replace(HFOX, w_inf_set=0.5)


@pytest.mark.parametrize("name", sorted(NEUROSIM))
def test_no_drift_between_pulses(name: str) -> None:
    """Retention drift would pull w back between pulses: for TaOx/HfOx (k·t = 2.5e-4 per pulse)
    a drift of 1e-4 per 24 ms gap shortened A by 35 %; the presets drift not at all."""
    truth, preset = NEUROSIM[name], NEUROSIM_PRESETS[name]
    assert preset.drift_nu == 0.0
    up = _formed(preset, 0.0)
    w = up.apply_pulse_train(truth.smu_ltp_v, 1e-3, 24e-3, int(1.5 * truth.p_max_ltp))
    reached = int(np.argmax(w.conductance >= preset.g_on * (1 - 1e-4))) + 1
    assert reached == pytest.approx(truth.p_max_ltp, abs=1)
