"""LTP/LTD on the default soft-bounded HfOx cell (no hard bound, no kink): A comes back from
the model's own curve, and the states are counted to within one read σ of the asymptote."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from labsyn.engine import RunState
from tests.engine.conftest import open_station

from .conftest import run, run_with_data

V_LTP, V_LTD, WIDTH, SERIES = 0.9, -1.0, 1e-3, 100.0


def model_a(device, volts: float, pulses: int) -> float:  # type: ignore[no-untyped-def]
    """Pulses per e-fold of the model's own approach to its bound, noise off, from a copy."""
    twin = copy.deepcopy(device)
    twin.preset = twin.preset.nominal()
    g = []
    for _ in range(pulses):
        twin.apply(volts, WIDTH, 1e-3, SERIES)
        twin.idle(0.79)
        g.append(twin.conductance())
    g = np.asarray(g)
    gap = np.abs(g[-1] - g[: pulses // 3])  # the well-resolved first third
    slope = np.polyfit(np.arange(len(gap)), np.log(gap), 1)[0]
    return -1.0 / slope


def test_a_soft_bounded_cell_reports_states_and_nonlinearity() -> None:
    station = open_station()
    assert run(station, "forming").figures["v_form"].ok
    device = station.bench.timeline.duts[0].device
    device.apply(-1.3, 0.05)  # start from HRS, as the preconditioning branch does
    a_true = model_a(device, V_LTP, 300)
    result, data = run_with_data(station, "ltp-ltd", v_ltp=V_LTP, v_ltd=V_LTD, pulses=400,
                                 cycles=2, read_delay=0.75, period=0.8)
    assert result.status == RunState.COMPLETED, result.message
    details = result.details.set_index("branch")
    assert list(details["bound"]) == ["soft", "soft"]
    f = result.figures
    a_fit = details.loc["LTP", "a_pulses"]
    assert a_fit == pytest.approx(a_true, rel=0.15)
    # the states: pulses until the remaining change falls below one read σ of the read noise
    g = data[(data["branch"] == 0) & (data["cycle"] == 1)]["conductance"].to_numpy()
    read_sigma = device.preset.read_noise * g[-20:].mean()
    window = g[-20:].mean() - g[:3].mean()
    expected = a_true * math.log(window / read_sigma)
    assert f["states_ltp"].value == pytest.approx(expected, rel=0.15)
    assert f["a_norm_ltp"].value == pytest.approx(a_true / expected, rel=0.2)
    assert f["nl_ltp"].ok and f["nl_ltd"].ok and f["nl_ltd"].value < 0


def test_too_few_pulses_for_a_soft_bound_say_so() -> None:
    station = open_station()
    assert run(station, "forming").figures["v_form"].ok
    result = run(station, "ltp-ltd", v_ltp=V_LTP, v_ltd=V_LTD, pulses=60, cycles=2,
                 read_delay=0.75, period=0.8)
    for key in ("states_ltp", "nl_ltp", "a_norm_ltp"):
        assert result.figures[key].value is None
        assert "never saturated within 60 pulses" in result.figures[key].reason
