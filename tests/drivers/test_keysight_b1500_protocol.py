"""Command-level tests: the exact FLEX exchanges of the B1500 driver (pymeasure's
expected_protocol). Forms follow the Programming Guide as the reference (§1.5) cites them:
``DV ch,range,V,Icomp``, ``WV ch,mode,range,start,stop,step,Icomp``, ``WT hold,delay,sdelay``,
``WM abort,post``, ``PT hold,width,period``, ``PWV ch,mode,range,base,start,stop,step,Icomp``,
``ERRX?`` → ``+0,"No Error."``, data in FMT 1 (``NAI+1.00000E-06``; status C = compliance).
"""

from __future__ import annotations

from typing import Any

import pytest
from pymeasure.test import expected_protocol

from labsyn.clock import SimClock
from labsyn.drivers.keysight_b1500 import KeysightB1500
from labsyn.drivers.sequence import PulseTrain, Sequence, Staircase
from labsyn.errors import (
    ConfigError,
    InstrumentError,
    InstrumentReplyError,
    InstrumentReportedError,
    LimitError,
)

INIT = list(KeysightB1500.init_exchanges)
OK = '+0,"No Error."'
NO_ERROR = ("ERRX?", OK)


def driver(pairs: list[tuple[str | None, str | None]]) -> Any:
    return expected_protocol(KeysightB1500, INIT + pairs, clock=SimClock())


def block(*items: str) -> str:
    return ",".join(items)


def test_modules_become_channels_by_slot_with_their_limits() -> None:
    with driver([]) as analyzer:
        assert analyzer.modules == {1: "B1511B", 2: "B1517A", 3: "B1520A", 4: "B1510A"}
        assert sorted(analyzer.channels_by_number) == [1, 2, 4]  # the CMU in slot 3 is no SMU
        mpsmu, hpsmu = analyzer.channels_by_number[1], analyzer.channels_by_number[4]
        assert (mpsmu.limits.max_voltage, mpsmu.limits.max_current) == (100.0, 0.1)
        assert (hpsmu.limits.max_voltage, hpsmu.limits.max_current) == (200.0, 1.0)
        assert mpsmu.limits.min_pulse_width == 0.5e-3
        with pytest.raises(ConfigError, match="slot 3 holds B1520A"):
            analyzer.channels[3].apply_voltage(1.0, 1e-3)


def test_apply_voltage_switches_on_once_then_forces_limit_and_level_together() -> None:
    with driver([("CN 1;DV 1,0,0.5,0.0001", None), ("DV 1,0,-1.2,0.001", None)]) as analyzer:
        smu = analyzer.channels_by_number[1]
        smu.apply_voltage(0.5, 1e-4)
        smu.apply_voltage(-1.2, 1e-3)


@pytest.mark.parametrize(("slot", "voltage", "limit", "match"), [
    (1, 30.0, 0.08, "0.05 A at that voltage"),  # MPSMU: 50 mA above 20 V
    (1, 150.0, 1e-3, "voltage"),  # MPSMU: 100 V at most
    (2, 5.0, 0.2, "current limit"),  # HRSMU: 100 mA at most
    (4, 150.0, 0.1, "0.05 A at that voltage"),  # HPSMU: 50 mA above 100 V
    (1, 1.0, 0.0, "current limit"),  # compliance must be > 0
])
def test_levels_beyond_the_module_envelope_are_refused_before_sending(
        slot: int, voltage: float, limit: float, match: str) -> None:
    with driver([]) as analyzer:
        with pytest.raises(LimitError, match=match):
            analyzer.channels_by_number[slot].apply_voltage(voltage, limit)


def test_hpsmu_sources_what_an_mpsmu_may_not() -> None:
    with driver([("CN 4;DV 4,0,150,0.04", None)]) as analyzer:
        analyzer.channels_by_number[4].apply_voltage(150.0, 0.04)


def test_measure_reads_current_with_its_status_and_the_voltage_in_one_write() -> None:
    with driver([("CN 1;DV 1,0,0.4,0.0001", None),
                 ("TI 1,0;TV 1,0", "CAI+1.00000E-04"), (None, "NAV+3.87000E-01")]) as analyzer:
        smu = analyzer.channels_by_number[1]
        smu.apply_voltage(0.4, 1e-4)
        reading = smu.measure()
    assert (reading.current, reading.voltage, reading.limited) == (1e-4, 0.387, True)


def test_measure_with_the_output_off_sends_nothing() -> None:
    with driver([]) as analyzer:
        with pytest.raises(InstrumentError, match="apply_voltage first"):
            analyzer.channels_by_number[1].measure()


def staircase_setup(abort: str, levels: str, limit: str = "0.0001") -> str:
    return (f"CN 1;FMT 1,0;MM 2,1;AIT 0,1,13;WT 0,0.0078,0;{abort};WV 1,1,0,{levels},{limit};"
            "ERRX?")


def test_linear_staircase_is_one_checked_setup_one_trigger_one_block() -> None:
    step = Staircase.ramp(0.0, 1.0, 0.25, 0.01, 1e-4)
    data = block("NAI+0.00000E+00", "NAI+2.50000E-05", "NAI+5.00000E-05", "NAI+7.50000E-05",
                 "CAI+1.00000E-04")
    with driver([(staircase_setup("WM 1,2", "0,1,5"), OK), ("XE", data), NO_ERROR]) as analyzer:
        result = analyzer.channels_by_number[1].run(Sequence("TE", (step,), nplc=0.1))
    assert list(result.source) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert list(result.limited) == [False, False, False, False, True]
    assert result.current[-1] == 1e-4 and result.labels == [""]
    # each step is held the dwell, to the 0.1 ms grid of the WT delay
    assert list(result.time) == pytest.approx([0.01 * (k + 1) for k in range(5)], abs=2e-4)


def test_stop_on_limit_aborts_instrument_side_and_keeps_rows_up_to_the_trip() -> None:
    step = Staircase.ramp(0.0, 1.0, 0.25, 0.01, 1e-4, stop_on_limit=True)
    data = block("NAI+0.00000E+00", "NAI+2.50000E-05", "CAI+1.00000E-04", "VAI+199.999E+99",
                 "VAI+199.999E+99")
    with driver([(staircase_setup("WM 2,2", "0,1,5"), OK), ("XE", data), NO_ERROR]) as analyzer:
        result = analyzer.channels_by_number[1].run(Sequence("TE", (step,), nplc=0.1))
    assert list(result.source) == [0.0, 0.25, 0.5]
    assert list(result.limited) == [False, False, True]


def test_non_linear_staircase_runs_as_consecutive_linear_sweeps() -> None:
    step = Staircase((0.0, 0.5, 1.0, 0.5, 0.0), 0.01, 1e-4, "SET")
    up, down = block(*["NAI+1.00000E-06"] * 3), block(*["NAI+1.00000E-06"] * 2)
    with driver([(staircase_setup("WM 1,2", "0,1,3"), OK), ("XE", up),
                 (staircase_setup("WM 1,2", "0.5,0,2").replace("CN 1;", ""), OK), ("XE", down),
                 NO_ERROR]) as analyzer:
        result = analyzer.channels_by_number[1].run(Sequence("TE", (step,), nplc=0.1))
    assert list(result.source) == [0.0, 0.5, 1.0, 0.5, 0.0]
    assert result.labels == ["SET"]


def test_setup_error_stops_the_run_before_the_trigger() -> None:
    step = Staircase.ramp(0.0, 1.0, 0.25, 0.01, 1e-4)
    with driver([(staircase_setup("WM 1,2", "0,1,5"), '+120,"Parameter value out of range."'),
                 NO_ERROR]) as analyzer:
        with pytest.raises(InstrumentReportedError, match="120, Parameter value out of range"):
            analyzer.channels_by_number[1].run(Sequence("TE", (step,), nplc=0.1))


def test_short_block_is_a_reply_error_naming_the_segment() -> None:
    step = Staircase.ramp(0.0, 1.0, 0.25, 0.01, 1e-4, "up")
    with driver([(staircase_setup("WM 1,2", "0,1,5"), OK),
                 ("XE", block("NAI+0.00000E+00", "NAI+2.50000E-05"))]) as analyzer:
        with pytest.raises(InstrumentReplyError, match="segment up returned 2 readings, "
                                                       "expected 5"):
            analyzer.channels_by_number[1].run(Sequence("TE", (step,), nplc=0.1))


def test_garbled_datum_is_a_reply_error() -> None:
    with driver([("CN 1;DV 1,0,0.4,0.0001", None), ("TI 1,0;TV 1,0", "7#k@!~%")]) as analyzer:
        smu = analyzer.channels_by_number[1]
        smu.apply_voltage(0.4, 1e-4)
        with pytest.raises(InstrumentReplyError, match="not an FMT 1 datum"):
            smu.measure()


def test_write_read_pulses_are_two_step_pulsed_sweeps_repeated_by_xe() -> None:
    train = PulseTrain.identical(1.5, 3, 1e-3, 16e-3, 1e-3, read_level=0.1, read_delay=4e-3)
    pair = "CAI+1.00000E-03,NAI{}E-05\r\n"
    reply = "".join(pair.format(v) for v in ("+1.00000", "+2.00000", "+3.00000"))
    setup = "CN 1;FMT 1,0;MM 4,1;PT 0.01,0.001,0.005;WM 1,1;PWV 1,1,0,0,1.5,0.1,2,0.001;ERRX?"
    with driver([(setup, OK), ("XE;XE;XE", reply), NO_ERROR]) as analyzer:
        result = analyzer.channels_by_number[1].run(Sequence("TE", (train,)))
    assert list(result.current) == [1e-5, 2e-5, 3e-5]
    assert not result.limited.any()  # the write pulses were in compliance, the reads were not
    assert list(result.source) == [0.1] * 3
    assert list(result.time) == pytest.approx([0.016, 0.032, 0.048])


def test_a_change_of_amplitude_adds_one_pulsed_sweep_command() -> None:
    train = PulseTrain((1.0, 1.0, 1.2), 1e-3, 6e-3, 1e-3, read_level=0.1, read_delay=4e-3)
    reply = "NAI+1.00000E-03,NAI+1.00000E-05\r\n" * 3
    setup = "CN 1;FMT 1,0;MM 4,1;PT 0,0.001,0.005;WM 1,1;PWV 1,1,0,0,1,0.1,2,0.001;ERRX?"
    with driver([(setup, OK), ("XE;XE;PWV 1,1,0,0,1.2,0.1,2,0.001;XE", reply),
                 NO_ERROR]) as analyzer:
        assert len(analyzer.channels_by_number[1].run(Sequence("TE", (train,)))) == 3


def test_source_only_train_is_one_pulsed_sweep_and_a_single_pulse_a_pulsed_spot() -> None:
    train = PulseTrain.identical(2.0, 4, 1e-3, 10e-3, 1e-3)
    single = PulseTrain((2.0,), 1e-3, 10e-3, 1e-3)
    with driver([("CN 1;FMT 1,0;MM 4,1;PT 0,0.001,0.01;WM 1,1;PWV 1,1,0,0,2,2,4,0.001;ERRX?",
                  OK), ("XE", block(*["NAI+2.00000E-04"] * 4)), NO_ERROR,
                 ("FMT 1,0;MM 3,1;PT 0,0.001;PV 1,0,0,2,0.001;ERRX?", OK),
                 ("XE", "NAI+2.00000E-04"), NO_ERROR]) as analyzer:
        smu = analyzer.channels_by_number[1]
        assert len(smu.run(Sequence("TE", (train,)))) == 0  # no read asked: no rows
        assert len(smu.run(Sequence("TE", (single,)))) == 0


@pytest.mark.parametrize(("segment", "match"), [
    (PulseTrain.identical(1.0, 10, 0.2e-3, 10e-3, 1e-3), "pulse width"),
    (PulseTrain.identical(1.0, 10, 1e-3, 2e-3, 1e-3), "period"),
    (PulseTrain.identical(1.0, 10, 1e-3, 10e-3, 1e-3, read_level=0.1, read_delay=1e-3),
     "read delay"),
    (PulseTrain.identical(1.0, 10, 1e-3, 10e-3, 1e-3, read_level=0.1, read_delay=4e-3),
     "10 ms grid"),
    (PulseTrain.identical(-1.0, 10, 1e-3, 16e-3, 1e-3, read_level=0.1, read_delay=4e-3),
     "one polarity"),
    (Staircase((0.0, 30.0), 0.01, 0.08), "0.05 A at that voltage"),
    (Staircase((0.0, 1.0), 100.0, 1e-3), "dwell"),
])
def test_sequences_beyond_the_smu_are_refused_before_sending(segment: Any, match: str) -> None:
    with driver([]) as analyzer:
        with pytest.raises(LimitError, match=match):
            analyzer.channels_by_number[1].check_sequence(Sequence("TE", (segment,)))


def test_nplc_outside_the_adc_is_refused() -> None:
    with driver([]) as analyzer:
        for nplc in (0.005, 8.5, 120.0):
            with pytest.raises(LimitError, match="NPLC"):
                analyzer.channels_by_number[1].check_sequence(
                    Sequence("TE", (Staircase((0.0,), 0.0, 1e-3),), nplc=nplc))


def test_error_queue_entries_carry_code_and_text() -> None:
    with driver([("ERRX?", '+305,"Excess current in HPSMU.; SLOT4"'), NO_ERROR]) as analyzer:
        with pytest.raises(InstrumentReportedError) as info:
            analyzer.check_errors("DV 4,0,10,1")
    assert info.value.errors == [(305, "Excess current in HPSMU.; SLOT4")]


def test_safe_off_stops_zeroes_switches_off_and_verifies() -> None:
    with driver([("AB", None), ("DZ;CL", None), ("BC", None), ("*LRN? 0", "CL")]) as analyzer:
        analyzer.safe_off()


def test_safe_off_reports_a_channel_still_on() -> None:
    with driver([("AB", None), ("DZ;CL", None), ("BC", None), ("*LRN? 0", "CN1,2")]) as analyzer:
        with pytest.raises(InstrumentError, match=r"output still on: channel\(s\) \[1, 2\]"):
            analyzer.safe_off()


def test_channel_safe_off_switches_off_that_channel_only() -> None:
    with driver([("AB", None), ("DZ 2;CL 2", None), ("BC", None),
                 ("*LRN? 0", "CN1")]) as analyzer:
        analyzer.channels_by_number[2].safe_off()


def test_safe_off_ramps_down_above_20_v() -> None:
    with driver([("CN 4;DV 4,0,30,0.01", None), ("AB", None), ("DV 4,0,25,0.01", None),
                 ("DV 4,0,20,0.01", None), ("DV 4,0,15,0.01", None), ("DV 4,0,10,0.01", None),
                 ("DV 4,0,5,0.01", None), ("DZ;CL", None),
                 ("BC", None), ("*LRN? 0", "CL")]) as analyzer:
        analyzer.channels_by_number[4].apply_voltage(30.0, 0.01)
        analyzer.safe_off()


@pytest.mark.parametrize(("name", "value", "command"), [
    ("enabled", True, "CN 1"), ("enabled", False, "CL 1"),
    ("adc_type", "high_resolution", "AAD 1,1"), ("filter_enabled", True, "FL 1,1"),
    ("series_resistor", False, "SSR 1,0"), ("current_measure_range", -11, "RI 1,-11"),
    ("voltage_measure_range", 20, "RV 1,20"),
])
def test_channel_settings_send_one_command(name: str, value: Any, command: str) -> None:
    with driver([(command, None)]) as analyzer:
        setattr(analyzer.channels_by_number[1], name, value)


def test_source_settings_need_the_output_switch_and_keep_the_other_value() -> None:
    with driver([("CN 1", None), ("DV 1,0,2,0.0001", None), ("DV 1,0,2,0.08", None),
                 ("CL 1", None)]) as analyzer:
        smu = analyzer.channels_by_number[1]
        with pytest.raises(InstrumentError, match="output switch is open"):
            smu.source_voltage = 2.0
        smu.enabled = True
        smu.source_voltage = 2.0  # at the default 100 µA compliance
        smu.current_limit = 0.08
        assert (smu.source_voltage, smu.current_limit) == (2.0, 0.08)
        with pytest.raises(LimitError, match="0.05 A at that voltage"):
            smu.source_voltage = 30.0  # 80 mA is allowed only up to 20 V: checked together
        smu.enabled = False


def test_range_indices_follow_the_module_type() -> None:
    with driver([("RI 4,20", None)]) as analyzer:
        analyzer.channels_by_number[4].current_measure_range = 20  # 1 A range: HPSMU only
        with pytest.raises(LimitError, match="on a MPSMU"):
            analyzer.channels_by_number[1].current_measure_range = 20


@pytest.mark.parametrize(("name", "value", "command"), [
    ("high_speed_adc_plc", 2, "AIT 0,2,2"), ("high_speed_adc_samples", 13, "AIT 0,1,13"),
    ("high_resolution_adc_plc", 1, "AIT 1,2,1"), ("auto_calibration", False, "CM 0"),
    ("autozero", True, "AZ 1"),
])
def test_mainframe_settings_send_one_command(name: str, value: Any, command: str) -> None:
    with driver([(command, None)]) as analyzer:
        setattr(analyzer, name, value)
