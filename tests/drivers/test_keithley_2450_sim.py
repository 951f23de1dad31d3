"""The 2450 driver on the simulated bench: the same code path as on a real instrument."""

from __future__ import annotations

import numpy as np
import pytest

from labsyn.drivers.sequence import PulseTrain, Sequence, Staircase
from labsyn.errors import (
    InstrumentCommunicationError,
    InstrumentReplyError,
    InstrumentReportedError,
    InstrumentTimeout,
)
from tests.conftest import (
    ADDRESS,
    COMPLIANCE,
    Rig,
    assert_bipolar_loops_switch_at_the_device_thresholds,
    assert_spot_compliance_reads_the_limit,
    forming_ramp,
    hfox_cell,
    make_rig,
)


@pytest.fixture
def rram_rig() -> Rig:
    return make_rig(hfox_cell(), series_resistance=100.0)


def form(rig: Rig) -> np.ndarray:
    return rig.smu.run(forming_ramp(stop_on_limit=False))


def test_forming_ramp_trips_compliance_and_reads_at_the_limit(rram_rig: Rig) -> None:
    data = form(rram_rig)
    truth = rram_rig.device.truth
    assert rram_rig.device.formed
    first = int(np.argmax(data.limited))
    assert data.limited[first] and not data.limited[:first].any()
    programmed = np.linspace(0.0, 4.0, 201)
    assert abs(programmed[first] - truth.forming_voltage) <= 0.1
    assert np.all(np.abs(data.current) <= COMPLIANCE * (1 + 1e-12))
    assert np.all(data.current[data.limited] == pytest.approx(COMPLIANCE, rel=1e-12))
    assert np.all(np.abs(data.current[:first]) < 0.01 * COMPLIANCE)
    assert np.all(data.source[data.limited] < programmed[data.limited])


def test_bipolar_loops_switch_at_the_device_thresholds(rram_rig: Rig) -> None:
    form(rram_rig)
    assert_bipolar_loops_switch_at_the_device_thresholds(rram_rig.smu.run, rram_rig.device)


def test_pulse_train_reads_after_every_pulse_and_potentiates(rram_rig: Rig) -> None:
    form(rram_rig)
    rram_rig.smu.run(Sequence("TE", (Staircase.ramp(0.0, -1.6, 0.02, 0.01, 1e-2),)))
    train = PulseTrain.identical(0.85, 40, 1e-3, 5e-3, 1e-3, read_level=0.1, read_delay=0.5e-3)
    data = rram_rig.smu.run(Sequence("TE", (train,), nplc=0.05))
    assert len(data) == 40
    assert np.allclose(np.diff(data.time), 5e-3, atol=1e-6)
    assert np.allclose(data.source, 0.1, atol=1e-6)
    assert data.current[-10:].mean() > 1.2 * data.current[:10].mean()


def test_spot_compliance_on_a_resistor_reads_the_limit_and_the_real_voltage(resistor_rig: Rig
                                                                            ) -> None:
    assert_spot_compliance_reads_the_limit(resistor_rig.smu)
    assert resistor_rig.smu.current_limit_tripped


def test_thousand_point_sweep_is_one_trigger_and_one_buffer_read(resistor_rig: Rig) -> None:
    sent: list[str] = []
    adapter = resistor_rig.smu.adapter
    original = adapter.write
    adapter.write = lambda command, **kw: (sent.append(command), original(command, **kw))[1]
    step = Staircase.ramp(-1.0, 1.0, 2.0 / 999, 0.0, 1e-3)
    data = resistor_rig.smu.run(Sequence("TE", (step,), nplc=0.01))
    assert len(data) == 1000
    assert sent.count(":INIT") == 1
    assert sum(c.startswith(":TRAC:DATA?") for c in sent) == 1
    assert np.allclose(data.current, data.source / 10e3, rtol=1e-3, atol=1e-9)


def test_timeout_surfaces_naming_instrument_and_command_and_clear_recovers(resistor_rig: Rig
                                                                          ) -> None:
    resistor_rig.bench.faults.inject(ADDRESS, ":SOUR:VOLT?", "timeout")
    with pytest.raises(InstrumentTimeout) as info:
        _ = resistor_rig.smu.source_voltage
    assert info.value.instrument == "Keithley 2450" and info.value.command == ":SOUR:VOLT?"
    resistor_rig.smu.clear_interface()
    assert resistor_rig.smu.source_voltage == 0.0


def test_garbled_and_truncated_replies_are_reply_errors(resistor_rig: Rig) -> None:
    resistor_rig.smu.apply_voltage(0.5, 1e-3)
    for kind in ("garbled", "truncated"):
        resistor_rig.bench.faults.inject(ADDRESS, ":READ?", kind)  # type: ignore[arg-type]
        with pytest.raises(InstrumentReplyError, match=":READ"):
            resistor_rig.smu.measure()
    assert resistor_rig.smu.measure().current == pytest.approx(5e-5, rel=1e-3)


def test_lost_connection_names_the_instrument(resistor_rig: Rig) -> None:
    resistor_rig.bench.faults.inject(ADDRESS, ":OUTP ON", "disconnect")
    with pytest.raises(InstrumentCommunicationError, match="Keithley 2450.*:OUTP ON.*lost"):
        resistor_rig.smu.apply_voltage(0.5, 1e-3)


def test_instrument_error_during_configuration_stops_the_run(resistor_rig: Rig) -> None:
    resistor_rig.bench.faults.inject(ADDRESS, ":SOUR:SWE:VOLT:LIN", "error",
                                     error=(-221, "Settings conflict"))
    with pytest.raises(InstrumentReportedError, match="-221"):
        resistor_rig.smu.run(Sequence("TE", (Staircase.ramp(0, 1, 0.1, 0.0, 1e-3),)))
    assert not resistor_rig.sim.running


def output_is_off(rig: Rig) -> bool:
    return not rig.sim.channel.state_at(rig.bench.clock.now()).on and not rig.sim.running


def test_safe_off_from_idle(resistor_rig: Rig) -> None:
    resistor_rig.smu.apply_voltage(0.8, 1e-3)
    resistor_rig.smu.safe_off()
    assert output_is_off(resistor_rig)


def test_safe_off_mid_sweep_stops_the_output_and_keeps_what_was_measured(resistor_rig: Rig
                                                                         ) -> None:
    smu, sim = resistor_rig.smu, resistor_rig.sim
    smu.write(':SOUR:VOLT:ILIM 1e-3;:SOUR:SWE:VOLT:LIN 0, 1, 200, 0.01, 1, BEST, OFF, OFF, '
              '"defbuffer1"')
    smu.write(":INIT")
    resistor_rig.bench.clock.sleep(0.5)
    smu.safe_off()
    taken = len(sim.buffers.get("defbuffer1"))
    assert 0 < taken < 200
    assert output_is_off(resistor_rig)
    resistor_rig.bench.clock.sleep(5.0)
    resistor_rig.bench.sync()
    assert len(sim.buffers.get("defbuffer1")) == taken
    assert resistor_rig.bench.timeline.duts[0].last_current == 0.0


def test_abort_mid_pulse_train_returns_partial_data_then_safe_off(resistor_rig: Rig) -> None:
    checks = iter(range(1000))
    train = PulseTrain.identical(1.0, 200, 1e-3, 10e-3, 1e-3, read_level=0.1)
    data = resistor_rig.smu.run(Sequence("TE", (train,), nplc=0.05),
                                should_abort=lambda: next(checks) >= 10)
    assert data.aborted and 0 < len(data) < 200
    resistor_rig.smu.safe_off()
    assert output_is_off(resistor_rig)


def test_back_to_back_steps_read_back_their_own_level(resistor_rig) -> None:  # type: ignore[no-untyped-def]
    """Each reading belongs to the step it ends, also with no dwell between readings (the
    timeline forgets finished pieces as it goes, never the one a reading looks back to)."""
    ramp = Staircase.ramp(0.0, 1.0, 0.1, 0.0, 1e-3)
    data = resistor_rig.smu.run(Sequence("TE", (ramp,), nplc=0.01))
    assert np.allclose(data.source, ramp.levels)
    assert np.allclose(data.current, np.asarray(ramp.levels) / 10e3, rtol=1e-3, atol=1e-9)


def test_pulse_top_sampling_reads_the_current_at_each_pulse_level(resistor_rig: Rig) -> None:
    amplitudes = (1.0, 2.0, 1.5, -1.0)
    kwargs = {"read_level": 0.1, "read_delay": 1e-3}
    sampled = PulseTrain(amplitudes, 1e-3, 5e-3, 1e-3, measure_pulse=True, **kwargs)
    data = resistor_rig.smu.run(Sequence("TE", (sampled,), nplc=0.01))
    assert list(data.pulse_top) == [True, False] * 4
    top, read = data.rows(data.pulse_top), data.rows(~data.pulse_top)
    assert top.current == pytest.approx(np.asarray(amplitudes) / 10e3, rel=1e-3)
    assert top.source == pytest.approx(amplitudes)
    assert read.current == pytest.approx([0.1 / 10e3] * 4, rel=1e-3)
    reading = 0.01 / 50 + 250e-6
    assert read.time - top.time == pytest.approx([1e-3 + reading] * 4, abs=1e-9)
    plain = resistor_rig.smu.run(Sequence("TE", (PulseTrain(amplitudes, 1e-3, 5e-3, 1e-3,
                                                             **kwargs),), nplc=0.01))
    assert not plain.pulse_top.any() and len(plain) == 4
    assert plain.current == pytest.approx(read.current, rel=1e-3)
    assert np.diff(plain.time) == pytest.approx(np.diff(read.time), abs=1e-9)


def test_pulse_top_sampling_without_reads_stores_one_row_per_pulse(resistor_rig: Rig) -> None:
    train = PulseTrain.identical(0.5, 6, 1e-3, 3e-3, 1e-3, measure_pulse=True)
    data = resistor_rig.smu.run(Sequence("TE", (train,), nplc=0.01))
    assert len(data) == 6 and data.pulse_top.all()
    assert data.current == pytest.approx([0.5 / 10e3] * 6, rel=1e-3)
