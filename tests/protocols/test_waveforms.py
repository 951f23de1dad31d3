"""Spike shapes, CSV spikes, and the sampled difference waveform."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from labsyn.errors import ConfigError
from labsyn.protocols.waveforms import (
    Waveform,
    biphasic,
    built_in,
    delta_ts,
    difference,
    load_csv,
    rectangular,
    triangular,
)


def test_built_in_shapes() -> None:
    rect = rectangular(0.4, 2e-3)
    assert rect.at(np.array([-1e-4, 1e-3, 1.9e-3, 2.1e-3])) == pytest.approx([0, 0.4, 0.4, 0])
    tri = triangular(0.6, 4e-3)
    assert tri.at(np.array([1e-3, 2e-3, 3e-3])) == pytest.approx([0.3, 0.6, 0.3])
    spike = biphasic(0.5, 0.1)
    assert spike.at(np.array([2e-3, 6e-3, 0.0525, 0.099])) == pytest.approx(
        [0.5, -0.5 * 94 / 95, -0.25, -0.5 * 1 / 95])
    assert spike.duration == pytest.approx(0.1) and spike.peak == pytest.approx(0.5)
    assert built_in("biphasic", -0.5, 0.1).peak == pytest.approx(-0.5)
    with pytest.raises(ConfigError, match="unknown spike shape 'square'"):
        built_in("square", 1, 1)


def test_scaling() -> None:
    scaled = triangular(1.0, 1.0).scaled(voltage=0.3, time=1e-2)
    assert scaled.duration == pytest.approx(1e-2)
    assert scaled.at(np.array([5e-3])) == pytest.approx([0.3])
    with pytest.raises(ConfigError, match="time factor"):
        scaled.scaled(time=0)


def test_load_csv(tmp_path: Path) -> None:
    file = tmp_path / "spike.csv"
    file.write_text("t (s), V (V)\n# ArC-like\n0.001, 0\n0.002, 0.5\n0.003, -0.5\n0.005, 0\n")
    spike = load_csv(file)
    assert spike.t == pytest.approx((0, 1e-3, 2e-3, 4e-3))
    assert spike.v == pytest.approx((0, 0.5, -0.5, 0))
    file.write_text("0 0\n1e-3 0.2 7\n")
    with pytest.raises(ConfigError, match="line 2: expected 2 columns"):
        load_csv(file)
    file.write_text("0 0\n2e-3 0.2\n1e-3 0\n")
    with pytest.raises(ConfigError, match="never decrease"):
        load_csv(file)
    file.write_text("0 0\n1e-3 abc\n")
    with pytest.raises(ConfigError, match="line 2"):
        load_csv(file)
    with pytest.raises(ConfigError, match="cannot read"):
        load_csv(tmp_path / "missing.csv")
    with pytest.raises(ConfigError, match="finite"):
        Waveform((0.0, 1.0), (0.0, float("nan")))


def test_difference_is_pre_minus_delayed_post() -> None:
    spike = rectangular(0.5, 2e-3)
    starts, levels = difference(spike, spike, 3e-3, 1e-3)
    assert starts == pytest.approx([0, 1e-3, 2e-3, 3e-3, 4e-3])
    assert levels == pytest.approx([0.5, 0.5, 0, -0.5, -0.5])
    starts, levels = difference(spike, spike, -1e-3, 1e-3)  # post first, overlapping
    assert starts[0] == pytest.approx(-1e-3)
    assert levels == pytest.approx([-0.5, 0, 0.5])


def test_biphasic_overlap_exceeds_each_spike_alone() -> None:
    spike = biphasic(0.5, 0.1)
    for delta_t in (-10e-3, 10e-3):
        _, levels = difference(spike, spike, delta_t, 1e-3)
        assert np.max(np.abs(levels)) > 1.8 * abs(spike.peak)
    _, plus = difference(spike, spike, 10e-3, 1e-3)
    _, minus = difference(spike, spike, -10e-3, 1e-3)
    assert plus.min() == pytest.approx(-minus.max())  # identical spikes: a mirrored overlap


def test_delta_ts() -> None:
    log = delta_ts(1e-3, 100e-3, 3, "log")
    assert log == pytest.approx([-0.1, -0.01, -0.001, 0.001, 0.01, 0.1])
    assert delta_ts(1e-3, 3e-3, 3, "linear") == pytest.approx([-3e-3, -2e-3, -1e-3,
                                                                1e-3, 2e-3, 3e-3])
