"""Write-and-read trains with pulse-top sampling (`WriteRead.sample_pulse`): on the demo 2450
station the current measured inside each pulse is the simulated device's own current at the pulse
voltage; the reads, the transactions and the other SMU families behave as stated."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from labsyn.drivers.sequence import SequenceData
from labsyn.errors import LimitError
from labsyn.protocols.pulsing import PulsePath, PulseReads, WriteRead, _reads
from labsyn.station import Station

from .conftest import WriteSpy, formed_station
from .truth_checks import STATIONS, open_sim_station

SERIES_R = 100.0  # Ω, the demo station's declared TE series resistance (sim adds none)
READ_NOISE = 0.007  # the HfOx preset's relative read noise
# Sub-threshold pulses, a RESET ramp, then a SET ramp: the state moves during the train.
AMPLITUDES = tuple(float(v) for v in np.r_[np.full(3, 0.25), np.linspace(-0.7, -1.2, 6),
                                           np.linspace(0.7, 1.1, 6)])


def write_read(sample: bool, amplitudes: tuple[float, ...] = AMPLITUDES, width: float = 1e-3,
               nplc: float = 0.01) -> WriteRead:
    return WriteRead(amplitudes, width, 5e-3, 0.1, 0.5e-3, 1e-3, nplc=nplc, sample_pulse=sample)


@pytest.fixture
def station() -> Iterator[Station]:
    station = formed_station(0)
    station.arm()  # the forming run ended in the safe state
    yield station
    station.close()


def device_of(station: Station) -> Any:
    return station.bench.timeline.duts[0].device


def record_true_currents(device: Any) -> list[tuple[float, float]]:
    """(device voltage, noise-free current) of every reading the simulator takes, in order."""
    seen: list[tuple[float, float]] = []
    noisy = device.read_current

    def read_current(v: float) -> float:
        seen.append((v, float(device.current(v))))
        return noisy(v)

    device.read_current = read_current
    return seen


def adapter_writes(station: Station) -> list[str]:
    sent: list[str] = []
    adapter = station.terminal("TE").driver.adapter
    original = adapter.write
    adapter.write = lambda command, **kw: (sent.append(command), original(command, **kw))[1]
    return sent


def test_pulse_currents_are_the_device_current_at_the_pulse_voltage(station: Station) -> None:
    truth = record_true_currents(device_of(station))
    reads = PulsePath(station, "test").run(write_read(True))
    assert len(reads) == len(AMPLITUDES) and reads.pulse_current is not None
    train_truth = truth[-2 * len(AMPLITUDES):]  # pulse top, read, per pulse
    v_top, i_top = np.array(train_truth[0::2]).T
    amplitude = np.asarray(AMPLITUDES)
    assert v_top + i_top * SERIES_R == pytest.approx(amplitude, abs=1e-6)  # at the pulse level
    assert np.abs(reads.pulse_current / i_top - 1).max() < 5 * READ_NOISE
    assert np.abs(np.mean(reads.pulse_current / i_top) - 1) < 2 * READ_NOISE
    assert reads.pulse_voltage == pytest.approx(amplitude, abs=1e-6)
    # the state really moved (RESET then SET), and the reads saw the same device
    g_read = reads.current / 0.1
    after_reset = 8
    assert g_read[after_reset] < 0.8 * g_read[0] and g_read[-1] > 1.5 * g_read[after_reset]
    v_read, i_read = np.array(train_truth[1::2]).T
    assert v_read == pytest.approx(0.1 - i_read * SERIES_R, abs=1e-6)
    assert reads.current == pytest.approx(i_read, rel=5 * READ_NOISE)


def test_reads_and_transactions_are_unchanged_by_sampling() -> None:
    results: dict[bool, tuple[PulseReads, int]] = {}
    for sample in (False, True):
        station = formed_station(0)
        station.arm()
        device = device_of(station)
        device.preset = device.preset.noiseless()  # same physics, no C2C / read-noise draws
        sent = adapter_writes(station)
        results[sample] = PulsePath(station, "test").run(write_read(sample)), len(sent)
        station.close()
    (plain, plain_sent), (sampled, sampled_sent) = results[False], results[True]
    assert plain.pulse_current is None and sampled.pulse_current is not None
    assert sampled.current == pytest.approx(plain.current, rel=1e-3)
    assert np.diff(sampled.time) == pytest.approx(np.diff(plain.time), abs=1e-9)
    assert sampled_sent == plain_sent <= 5


def test_a_pulse_too_short_for_the_reading_is_refused_before_anything_is_sent(
        station: Station) -> None:
    spy = WriteSpy(station)
    with pytest.raises(LimitError, match=r"pulse width.*0\.001 s.*≥ 0\.00225 s.*NPLC 0\.1"):
        PulsePath(station, "test").run(write_read(True, nplc=0.1))
    assert spy.output_commands() == []
    PulsePath(station, "test").check(write_read(False, nplc=0.1))  # unsampled: fine


@pytest.mark.parametrize(("station_file", "model", "read_delay"), [
    ("keithley_2400_sim.yaml", "Keithley 2400", 1e-3),
    ("keithley_2636b_sim.yaml", "Keithley 2600", 1e-3),
    ("keysight_b2902a_sim.yaml", "Keysight B2900", 1e-3),
    ("keysight_b1500a_sim.yaml", "Keysight B1500", 2e-3),
])
def test_other_smu_families_refuse_pulse_top_sampling_by_name(station_file: str, model: str,
                                                               read_delay: float) -> None:
    with open_sim_station(STATIONS / station_file) as station:
        path = PulsePath(station, "test")
        assert path.kind == "smu" and not path.can_sample_pulse
        train = WriteRead((0.3,) * 3, 5e-3, 52e-3, 0.1, read_delay, 1e-4)
        path.check(train)
        with pytest.raises(LimitError, match=f"pulse-top sampling is not supported on {model}"):
            path.check(WriteRead(**{**train.__dict__, "sample_pulse": True}))


def test_pulser_and_smu_path_cannot_sample_and_returns_no_pulse_current() -> None:
    with open_sim_station(STATIONS / "pulser_smu_sim.yaml") as station:
        path = PulsePath(station, "test")
        assert path.kind == "pulser+smu" and not path.can_sample_pulse
        reads = path.run(WriteRead((1.0,) * 4, 1e-6, 2e-3, 0.1, 10e-6, 1e-3, sample_pulse=True))
    assert len(reads) == 4 and reads.pulse_current is None and reads.pulse_voltage is None


def test_unsampled_trains_on_the_2450_have_no_pulse_current(station: Station) -> None:
    path = PulsePath(station, "test")
    assert path.can_sample_pulse
    reads = path.run(write_read(False, amplitudes=(0.25, 0.25)))
    assert len(reads) == 2 and reads.pulse_current is None


def test_dry_run_sampled_train_completes_on_stock_pyvisa_sim() -> None:
    with Station.open(STATIONS / "keithley_2450_pyvisa_sim.yaml") as station:
        reads = PulsePath(station, "test").run(write_read(True, amplitudes=(0.5,) * 5))
        errors = station.terminal("TE").driver.errors()
    assert errors == []
    assert reads.pulse_current is not None and len(reads.pulse_current) == len(reads) >= 1


def rows(top: list[bool], aborted: bool = False) -> SequenceData:
    n = len(top)
    current = np.arange(n, dtype=float)
    return SequenceData(np.zeros(n, int), current, current, current, np.zeros(n, bool),
                        aborted, pulse_top=np.asarray(top))


def test_an_aborted_train_drops_a_pulse_top_sample_without_its_read() -> None:
    reads = _reads(np.array([1.0, 2.0, 3.0]), rows([True, False, True, False, True], True),
                   sampled=True)
    assert reads.aborted and len(reads) == 2
    assert list(reads.current) == [1.0, 3.0] and list(reads.pulse_current) == [0.0, 2.0]


def test_an_aborted_sampled_train_with_no_rows_has_empty_pulse_currents() -> None:
    reads = _reads(np.array([1.0, 2.0]), rows([], True), sampled=True)
    assert len(reads) == 0 and reads.pulse_current is not None and len(reads.pulse_current) == 0
