"""The 33500B driver on the simulated bench: what the device sees, for how long, how often."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from labsyn.cli import main
from labsyn.drivers.capabilities import PulseGenerator
from labsyn.drivers.keysight_33500b import Keysight33500B
from labsyn.drivers.sequence import PulseTrain, Sequence
from labsyn.errors import InstrumentError, InstrumentReportedError
from labsyn.mock_instruments.bench import Bench
from labsyn.mock_instruments.device_model import RRAMDevice
from labsyn.mock_instruments.keysight_33500b import SimKeysight33500B
from labsyn.mock_instruments.presets import HFOX
from labsyn.mock_instruments.resistor import Resistor, ResistorSegment
from labsyn.station import Station

ADDRESS = "GPIB0::10::INSTR"
SERIES = 1000.0
STATIONS = "examples/stations/"


class RecordingResistor(Resistor):
    """A resistor that keeps (start, end, V across it) of every constant segment."""

    def __init__(self, resistance: float) -> None:
        super().__init__(resistance)
        self.history: list[tuple[float, float, float]] = []

    def apply(self, v: float, duration: float, i_limit: float | None = None,
              r_series: float = 0.0) -> ResistorSegment:
        segment = super().apply(v, duration, i_limit, r_series)
        self._record(duration, segment.v_device)
        return segment

    def idle(self, duration: float) -> None:
        self._record(duration, 0.0)
        super().idle(duration)

    def _record(self, duration: float, volts: float) -> None:
        start = self.time_s
        if self.history and self.history[-1][2] == volts:
            self.history[-1] = (self.history[-1][0], start + duration, volts)
        elif duration > 0:
            self.history.append((start, start + duration, volts))

    def pulses(self, after: float = 0.0) -> list[tuple[float, float, float]]:
        """(start, width, V) of each nonzero stretch that starts at or after `after`."""
        return [(s, e - s, v) for s, e, v in self.history if v != 0.0 and s >= after]


@dataclass
class Rig:
    bench: Bench
    sim: SimKeysight33500B
    device: Any
    pg: Keysight33500B


def make_rig(device: Any, series: float = SERIES, model: str = "33522B") -> Rig:
    bench = Bench()
    sim = bench.add_instrument(ADDRESS, SimKeysight33500B(model=model))
    dut = bench.add_dut("dut", device, series_resistance=series)
    bench.wire(dut, "TE", sim.channels_by_number[1])
    bench.wire(dut, "BE", "ground")
    pg = Keysight33500B(ADDRESS, visa_library=bench.visa_library(), clock=bench.clock)
    return Rig(bench, sim, device, pg)


@pytest.fixture
def rig() -> Rig:
    return make_rig(RecordingResistor(10e3))


def divider(v_open: float, resistance: float = 10e3, series: float = SERIES) -> float:
    return v_open * resistance / (50.0 + series + resistance)


def train(*args: Any, **kwargs: Any) -> Sequence:
    return Sequence("TE", (PulseTrain.identical(*args, **kwargs),))


def test_channels_are_pulse_generators_by_model() -> None:
    rig = make_rig(Resistor(1e3))
    assert all(isinstance(ch, PulseGenerator) for ch in rig.pg.channels_by_number.values())
    assert list(rig.pg.channels_by_number) == [1, 2]
    assert list(make_rig(Resistor(1e3), model="33511B").pg.channels_by_number) == [1]


@pytest.mark.parametrize(("load", "doubling"), [(50.0, 2.0), (math.inf, 1.0)])
def test_the_device_sees_every_pulse_at_the_divided_open_circuit_voltage(
        rig: Rig, load: float, doubling: float) -> None:
    rig.pg.ch_1.load = load
    data = rig.pg.ch_1.run(train(0.8, 50, 2e-6, 20e-6, 1e-3))
    assert len(data) == 0 and not data.aborted
    pulses = rig.device.pulses()
    assert len(pulses) == 50
    starts, widths, volts = (np.array(column) for column in zip(*pulses, strict=True))
    assert np.allclose(widths, 2e-6, rtol=0, atol=1e-12)
    assert np.allclose(np.diff(starts), 20e-6, rtol=0, atol=1e-12)
    assert np.allclose(volts, divider(0.8 * doubling), rtol=1e-9)
    assert rig.pg.errors() == []


def test_pulses_below_the_base_invert_the_polarity_and_rest_at_the_base(rig: Rig) -> None:
    rig.pg.ch_1.load = math.inf
    rig.pg.ch_1.run(train(-1.0, 10, 1e-6, 10e-6, 1e-3, base=0.5))
    levels = sorted({round(v, 9) for _, _, v in rig.device.history})
    assert levels == pytest.approx(sorted({0.0, divider(0.5), divider(-1.0)}))
    pulses = [p for p in rig.device.pulses() if p[2] < 0]
    assert len(pulses) == 10 and all(w == pytest.approx(1e-6, abs=1e-12) for _, w, _ in pulses)
    assert rig.device.history[-1][2] == pytest.approx(divider(0.5))  # idles at the base


def test_different_amplitudes_play_as_an_arbitrary_waveform_in_order(rig: Rig) -> None:
    amplitudes = (0.2, 0.4, 0.6, 0.8, -0.5)
    rig.pg.ch_1.load = math.inf
    rig.pg.ch_1.run(Sequence("TE", (PulseTrain(amplitudes, 1e-6, 4e-6, 1e-3),)))
    pulses = rig.device.pulses()
    assert [v for _, _, v in pulses] == pytest.approx([divider(a) for a in amplitudes],
                                                      rel=1e-4)
    assert all(w == pytest.approx(1e-6, abs=1e-12) for _, w, _ in pulses)
    assert np.allclose(np.diff([s for s, _, _ in pulses]), 4e-6, atol=1e-12)
    assert rig.sim.outputs[1].function == "ARB"


def test_a_loaded_waveform_is_the_shaped_spike_the_device_sees(rig: Rig) -> None:
    spike = np.concatenate([np.zeros(4), np.linspace(1.0, 0.25, 4), -0.5 * np.ones(2)])
    channel = rig.pg.ch_1
    channel.load = math.inf
    channel.load_waveform("STDP_PRE", spike, 1e5)
    assert rig.sim.outputs[1].arb == "STDP_PRE" and not rig.sim.outputs[1].on
    channel.burst_ncycles = 1
    channel.trigger_source = "BUS"
    channel.burst_state = True
    channel.output = True
    rig.pg.trigger()
    assert rig.pg.ask("*OPC?") == "1"
    seen = [v for _, _, v in rig.device.pulses()]
    assert seen == pytest.approx([divider(v) for v in (1.0, 0.75, 0.5, 0.25, -0.5)], rel=1e-4)
    assert rig.device.pulses()[-1][1] == pytest.approx(2e-5, abs=1e-12)  # two samples of 10 µs


def test_identical_pulses_potentiate_and_depress_an_rram_cell() -> None:
    device = RRAMDevice.from_key(HFOX, 1, (0, 0), 0)
    for _ in range(5):
        device.apply(3.5, 1e-3, i_limit=1e-4)
    assert device.formed
    device.apply(-1.6, 0.05)  # reset to a low state
    rig = make_rig(device, series=0.0)
    channel = rig.pg.ch_1
    channel.load = 50.0  # 0.55 V programmed = 1.1 V open circuit, ≈1.1 V at a kΩ device
    g0 = device.conductance()
    channel.run(train(0.55, 100, 1e-6, 10e-6, 1e-3))
    g_ltp = device.conductance()
    channel.run(train(-0.65, 100, 1e-6, 10e-6, 1e-3))
    g_ltd = device.conductance()
    assert g_ltp > 1.5 * g0
    assert g_ltd < 0.7 * g_ltp
    assert rig.pg.errors() == []


def count_transactions(pg: Keysight33500B, sequence: Sequence) -> int:
    writes: list[str] = []
    original = pg.adapter.write
    pg.adapter.write = lambda command, **kw: (writes.append(command), original(command, **kw))[1]
    try:
        pg.ch_1.run(sequence)
    finally:
        pg.adapter.write = original
    return len(writes)


def test_1000_identical_pulses_cost_at_most_5_transactions(rig: Rig) -> None:
    assert count_transactions(rig.pg, train(1.0, 1000, 1e-6, 10e-6, 1e-3)) == 5  # + load query
    assert count_transactions(rig.pg, train(1.0, 1000, 1e-6, 10e-6, 1e-3)) == 4
    assert len(rig.device.pulses()) == 2000


def test_1000_different_pulses_cost_6_transactions(rig: Rig) -> None:
    rig.pg.ch_1.load = 50.0
    amplitudes = tuple(0.5 + 0.0005 * i for i in range(1000))
    sequence = Sequence("TE", (PulseTrain(amplitudes, 1e-6, 10e-6, 1e-3),))
    assert count_transactions(rig.pg, sequence) == 6
    assert len(rig.device.pulses()) == 1000


def test_abort_stops_the_burst_within_100_ms_of_clock_time(rig: Rig) -> None:
    clock = rig.bench.clock
    stop_at = clock.now() + 0.3
    data = rig.pg.ch_1.run(train(1.0, 50_000, 1e-6, 20e-6, 1e-3),
                           should_abort=lambda: clock.now() >= stop_at)
    assert data.aborted
    last_start = rig.device.pulses()[-1][0]
    assert stop_at - 0.05 <= last_start <= stop_at + 0.1
    assert rig.sim.outputs[1].burst_end is None


def test_safe_off_mid_burst_turns_every_output_off_and_holds_them_off(rig: Rig) -> None:
    clock = rig.bench.clock
    stop_at = clock.now() + 0.2

    def emergency() -> bool:
        if clock.now() >= stop_at:
            rig.pg.safe_off()
        return False

    data = rig.pg.ch_1.run(train(1.0, 50_000, 1e-6, 20e-6, 1e-3), should_abort=emergency)
    assert data.aborted
    assert not any(o.on for o in rig.sim.outputs.values())
    assert rig.sim.channels_by_number[1].state_at(clock.now()).floating
    seen = len(rig.device.pulses())
    assert rig.pg.ch_1.run(train(1.0, 5, 1e-6, 20e-6, 1e-3)).aborted  # held off: nothing sent
    with pytest.raises(InstrumentError, match="rearm"):
        rig.pg.trigger()
    rig.pg.rearm()
    assert not rig.pg.ch_1.run(train(1.0, 5, 1e-6, 20e-6, 1e-3)).aborted
    assert len(rig.device.pulses()) == seen + 5


def test_an_instrument_error_surfaces_with_its_code_and_text(rig: Rig) -> None:
    rig.pg.write("SOUR1:VOLT:HIGH 7")  # past the validators: the twin refuses it
    with pytest.raises(InstrumentReportedError) as info:
        rig.pg.ch_1.run(train(1.0, 5, 1e-6, 20e-6, 1e-3))
    code, text = info.value.errors[0]
    assert code == -222 and text.startswith("Data out of range")
    assert not rig.sim.outputs[1].on  # nothing was triggered: the output went back off
    assert rig.device.pulses() == []


def test_a_channel_run_does_not_fire_the_other_channel() -> None:
    bench = Bench()
    sim = bench.add_instrument(ADDRESS, SimKeysight33500B())
    devices = [RecordingResistor(10e3), RecordingResistor(10e3)]
    for n, device in enumerate(devices, 1):
        dut = bench.add_dut(f"dut{n}", device, series_resistance=SERIES)
        bench.wire(dut, "TE", sim.channels_by_number[n])
        bench.wire(dut, "BE", "ground")
    pg = Keysight33500B(ADDRESS, visa_library=bench.visa_library(), clock=bench.clock)
    pg.ch_2.run(train(1.0, 3, 1e-6, 10e-6, 1e-3))
    pg.ch_1.run(train(1.0, 4, 1e-6, 10e-6, 1e-3))
    pg.ch_2.run(train(1.0, 5, 1e-6, 10e-6, 1e-3))
    assert [len(d.pulses()) for d in devices] == [4, 8]
    assert sim.outputs[1].trigger_source == "EXT" and sim.outputs[2].trigger_source == "BUS"


def test_the_example_station_drives_its_resistor_through_the_declared_series_resistor(
        capsys: pytest.CaptureFixture[str]) -> None:
    with Station.open(STATIONS + "keysight_33500b_sim.yaml") as station:
        binding = station.terminal("TE")
        assert binding.driver.load == 50.0  # set from the station file
        binding.driver.run(train(1.0, 10, 1e-6, 10e-6, 1e-3))
        device = station.bench.timeline.duts[0].device
        expected = 10 * 1e-6 * divider(2.0) ** 2 / 10e3
        assert device.energy_j == pytest.approx(expected, rel=1e-9)
    assert main(["instruments", "--station", STATIONS + "keysight_33500b_sim.yaml"]) == 0
    assert "keysight_33500b" in capsys.readouterr().out
