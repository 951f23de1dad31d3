"""The 81150A/81160A driver on the simulated bench: what the device really sees.

The bench DUT sees the generator's open-circuit voltage through its 50 Ω source and the declared
series resistance, so V_dev = V_oc · R / (50 + 1000 + R), with V_oc = 2 × the programmed level at
a 50 Ω load setting and = the level at high-Z.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from labsyn.drivers.keysight_81160a import Keysight81160A
from labsyn.drivers.sequence import PulseTrain, Sequence
from labsyn.mock_instruments.bench import Bench
from labsyn.mock_instruments.device_model import RRAMDevice
from labsyn.mock_instruments.keysight_81160a import SimKeysight81160A
from labsyn.mock_instruments.presets import HFOX
from labsyn.mock_instruments.resistor import Resistor, ResistorSegment
from labsyn.station import Station
from tests.pyvisa_sim_support import PYVISA_SIM, reset_library

ADDRESS = "GPIB0::10::INSTR"
SERIES = 1000.0
R_DUT = 10e3
YAML = PYVISA_SIM / "keysight_81160a.yaml"
STATIONS = Path(__file__).resolve().parents[2] / "examples" / "stations"


class RecordingResistor(Resistor):
    """A resistor that remembers every constant-drive interval: (start, emf, duration, r)."""

    def __init__(self, resistance: float) -> None:
        super().__init__(resistance)
        self.history: list[tuple[float, float, float, float]] = []

    def apply(self, v: float, duration: float, i_limit: float | None = None,
              r_series: float = 0.0) -> ResistorSegment:
        self.history.append((self.time_s, v, duration, r_series))
        return super().apply(v, duration, i_limit, r_series)

    def pulses(self, base: float = 0.0) -> list[tuple[float, float, float]]:
        """(start, emf, duration) of each stretch away from `base`, adjacent intervals joined."""
        found: list[list[float]] = []
        for start, v, duration, _ in self.history:
            if duration <= 0 or abs(v - base) < 1e-12:
                continue
            if found and found[-1][1] == v and abs(found[-1][0] + found[-1][2] - start) < 1e-12:
                found[-1][2] += duration
            else:
                found.append([start, v, duration])
        return [(s, v, d) for s, v, d in found]


@dataclass
class Rig:
    bench: Bench
    sim: SimKeysight81160A
    device: Any
    pg: Keysight81160A

    def channel(self, number: int = 1) -> Any:
        return self.pg.channels_by_number[number]


def make_rig(device: Any, series_resistance: float = SERIES, output: int = 1) -> Rig:
    bench = Bench()
    sim = bench.add_instrument(ADDRESS, SimKeysight81160A())
    dut = bench.add_dut("dut", device, series_resistance=series_resistance)
    bench.wire(dut, "TE", sim.channels_by_number[output])
    bench.wire(dut, "BE", "ground")
    pg = Keysight81160A(ADDRESS, visa_library=bench.visa_library(), clock=bench.clock)
    return Rig(bench, sim, device, pg)


@pytest.fixture
def rig() -> Any:
    rig = make_rig(RecordingResistor(R_DUT))
    yield rig
    rig.pg.adapter.close()


def burst(amplitude: float, count: int, width: float, period: float, **kwargs: Any) -> Sequence:
    return Sequence("TE", (PulseTrain.identical(amplitude, count, width, period, 1e-3,
                                                **kwargs),))


@pytest.mark.parametrize(("load", "emf_per_volt"), [(50.0, 2.0), (math.inf, 1.0)])
def test_the_device_sees_every_pulse_at_the_divided_open_circuit_voltage(
        rig: Rig, load: float, emf_per_volt: float) -> None:
    rig.channel().load = load
    data = rig.channel().run(burst(0.8, 200, 2e-6, 10e-6))
    assert len(data) == 0 and not data.aborted
    pulses = rig.device.pulses()
    assert len(pulses) == 200
    starts, emfs, widths = (np.array(column) for column in zip(*pulses, strict=True))
    assert np.allclose(emfs, 0.8 * emf_per_volt, rtol=1e-12)
    assert np.allclose(widths, 2e-6, rtol=1e-9, atol=1e-15)
    assert np.allclose(np.diff(starts), 10e-6, rtol=1e-9, atol=1e-15)
    assert {r for _, v, _, r in rig.device.history if v} == {SERIES + 50.0}
    v_device = 0.8 * emf_per_volt * R_DUT / (R_DUT + SERIES + 50.0)
    assert rig.device.energy_j == pytest.approx(200 * 2e-6 * v_device ** 2 / R_DUT, rel=1e-9)
    assert rig.pg.errors() == []


def test_a_negative_burst_from_a_base_idles_at_the_base(rig: Rig) -> None:
    rig.channel().load = 50.0
    rig.channel().run(burst(-1.3, 30, 1e-6, 5e-6, base=0.2))
    rig.bench.clock.sleep(1e-3)
    rig.bench.sync()
    levels = {round(v, 9) for _, v, d, _ in rig.device.history if d > 0}
    assert levels == {0.0, 0.4, -2.6}  # off, base (2 × 0.2 V), pulse (2 × −1.3 V)
    stretches = rig.device.pulses(base=0.4)  # away from the base: off before the run, pulses
    assert [round(v, 9) for _, v, _ in stretches] == [0.0] + [-2.6] * 30
    assert rig.device.history[-1][1] == pytest.approx(0.4)  # the base is held after the burst


def test_two_outputs_are_independent_channels() -> None:
    rig = make_rig(RecordingResistor(R_DUT), output=2)
    rig.channel(1).load = 50.0
    rig.channel(1).run(burst(1.0, 10, 1e-6, 5e-6))
    assert rig.device.pulses() == []
    rig.channel(2).load = math.inf
    rig.channel(2).run(burst(1.0, 10, 1e-6, 5e-6))
    assert [round(v, 9) for _, v, _ in rig.device.pulses()] == [1.0] * 10


def test_a_burst_on_one_output_does_not_retrigger_the_other() -> None:
    device = RecordingResistor(R_DUT)
    bench = Bench()
    sim = bench.add_instrument(ADDRESS, SimKeysight81160A())
    dut = bench.add_dut("dut", device, series_resistance=SERIES)
    bench.wire(dut, "TE", sim.channels_by_number[1])
    bench.wire(dut, "BE", sim.channels_by_number[2])
    pg = Keysight81160A(ADDRESS, visa_library=bench.visa_library(), clock=bench.clock)
    pg.channels_by_number[1].load = 50.0
    pg.channels_by_number[2].load = math.inf
    pg.channels_by_number[1].run(burst(1.0, 10, 1e-6, 5e-6))
    pg.channels_by_number[2].run(burst(0.5, 10, 1e-6, 5e-6))
    pg.channels_by_number[1].run(burst(1.0, 3, 1e-6, 5e-6))
    assert [round(v, 9) for _, v, _ in device.pulses()] == [2.0] * 10 + [-0.5] * 10 + [2.0] * 3
    assert pg.errors() == []


def count_transactions(pg: Keysight81160A, channel: Any, sequence: Sequence) -> int:
    """Every write starts one transaction (a write, or a write and its read)."""
    writes: list[str] = []
    original = pg.adapter.write
    pg.adapter.write = lambda command, **kw: (writes.append(command), original(command, **kw))[1]
    try:
        channel.run(sequence)
    finally:
        pg.adapter.write = original
    return len(writes)


def test_a_1000_pulse_identical_burst_costs_at_most_5_transactions(rig: Rig) -> None:
    rig.channel().load = 50.0
    transactions = count_transactions(rig.pg, rig.channel(), burst(1.0, 1000, 1e-6, 10e-6))
    assert transactions <= 5
    assert len(rig.device.pulses()) == 1000


def test_a_sequence_of_trains_costs_4_transactions_per_train(rig: Rig) -> None:
    rig.channel().load = 50.0
    trains = tuple(PulseTrain.identical(a, 100, 1e-6, 10e-6, 1e-3) for a in (1.0, -1.0, 0.5))
    transactions = count_transactions(rig.pg, rig.channel(), Sequence("TE", trains))
    assert transactions == 3 * 3 + 1  # configure, ON + *TRG, *OPC? per train; one error check
    assert [round(v, 9) for _, v, _ in rig.device.pulses()] == [2.0] * 100 + [-2.0] * 100 + [
        1.0] * 100


def test_abort_lands_within_100_ms_of_clock_time(rig: Rig) -> None:
    rig.channel().load = 50.0
    t_abort = rig.bench.clock.now() + 0.3
    data = rig.channel().run(burst(1.0, 1000, 1e-4, 1e-3),
                             should_abort=lambda: rig.bench.clock.now() >= t_abort)
    assert data.aborted
    rig.bench.clock.sleep(1.0)
    rig.bench.sync()
    pulses = rig.device.pulses()
    end = pulses[-1][0] + pulses[-1][2]
    assert 0.3 - 0.001 <= end - pulses[0][0] and end <= t_abort + 0.1
    assert 290 <= len(pulses) <= 400
    assert rig.sim.outputs[1].on is False


def test_safe_off_after_a_run_leaves_every_output_off(rig: Rig) -> None:
    rig.channel().load = 50.0
    rig.channel().run(burst(1.0, 10, 1e-6, 5e-6))
    assert rig.sim.outputs[1].on
    rig.pg.safe_off()
    assert not any(o.on for o in rig.sim.outputs.values())
    assert rig.sim.channels_by_number[1].state_at(rig.bench.clock.now()).on is False
    assert rig.pg.errors() == []


def rram() -> RRAMDevice:
    device = RRAMDevice.from_key(HFOX, 1, (0, 0), 0)
    for _ in range(20):
        if device.formed:
            break
        device.apply(3.5, 1e-3, i_limit=1e-4)
    assert device.formed
    return device


def level_for(device: RRAMDevice, v_device: float, series: float) -> float:
    """The programmed level (50 Ω setting) that puts `v_device` across the device now."""
    current = float(device.current(v_device))
    return (v_device + current * (series + 50.0)) / 2.0


def test_100_pulses_of_1v1_potentiate_and_of_minus_1v3_depress_an_rram_cell() -> None:
    """No series resistor here: the switching rate is steep in V, so the device should see the
    preset's 1.1 V / −1.3 V, not what a 1 kΩ divider leaves of them."""
    device = rram()
    rig = make_rig(device, series_resistance=0.0)
    channel = rig.channel()
    channel.load = 50.0

    def run(v_device: float, count: int) -> float:
        channel.run(burst(level_for(device, v_device, 0.0), count, 1e-6, 10e-6))
        rig.bench.clock.sleep(0.05)  # volatile part decays; the long-term state stays
        rig.bench.sync()
        return device.state

    start = device.state
    depressed = run(-1.3, 100)
    assert depressed < start - 0.1
    first, second = run(1.1, 50), run(1.1, 50)
    assert depressed < first < second
    assert second - first < first - depressed  # soft bound: the steps shrink
    assert second > depressed + 0.3
    low = run(-1.3, 100)
    assert low < second - 0.3
    assert rig.pg.errors() == []


def test_the_example_station_runs_a_burst_on_the_simulated_resistor() -> None:
    with Station.open(STATIONS / "keysight_81160a_sim.yaml") as station:
        binding = station.terminal("TE")
        assert binding.driver.load == 50.0
        binding.driver.run(burst(1.0, 100, 1e-6, 10e-6))
        dut = station.bench.timeline.duts[0]
        assert dut.series_resistance == SERIES
        v_device = 2.0 * R_DUT / (R_DUT + SERIES + 50.0)
        assert dut.device.energy_j == pytest.approx(100 * 1e-6 * v_device ** 2 / R_DUT,
                                                    rel=1e-9)
        assert binding.driver.errors() == []


def test_the_pyvisa_sim_station_runs_the_same_burst_dry() -> None:
    reset_library(YAML)
    try:
        with Station.open(STATIONS / "keysight_81160a_pyvisa_sim.yaml") as station:
            binding = station.terminal("TE")
            assert station.dry_run and binding.driver.parent.dry_run
            data = binding.driver.run(burst(1.0, 1000, 1e-6, 10e-6))
            assert not data.aborted
            assert binding.driver.errors() == []
    finally:
        reset_library(YAML)
