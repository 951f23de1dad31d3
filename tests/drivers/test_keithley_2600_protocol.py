"""Command-level tests: the exact TSP the 2600B driver sends and how it reads the replies.

Strings follow the 2600B Reference Manual (2600BS-901-01): queries are ``print(...)`` with
TAB-separated values, the error queue is ``errorqueue.count`` / ``errorqueue.next()`` (code,
message, severity, node), sweeps are ``smuX.trigger.*`` in a ``loadscript`` … ``endscript``
script, and binary buffers are ``#0`` + IEEE-754 float32 (little-endian) + LF.
"""

from __future__ import annotations

import itertools
import struct
from typing import Any

import pytest
from pymeasure.test import expected_protocol

from labsyn.clock import SimClock
from labsyn.drivers import keithley_2600, keithley_2600_channel
from labsyn.drivers.capabilities import SpotReading
from labsyn.drivers.keithley_2600 import Keithley2600
from labsyn.drivers.sequence import PulseTrain, Sequence, Staircase
from labsyn.errors import (
    InstrumentError,
    InstrumentReplyError,
    InstrumentReportedError,
    LimitError,
)

INIT = [("print(localnode.model)", "2636B")]
LINE_FREQUENCY = ("print(localnode.linefreq)", "5.00000e+01")
NO_ERRORS = ("print(errorqueue.count)", "0.00000e+00")
BUFFERS = ("smu{x}.nvbuffer1.readings, smu{x}.nvbuffer2.readings, smu{x}.nvbuffer1.timestamps, "
           "smu{x}.nvbuffer1.statuses")


def driver(pairs: list[tuple[str | None, Any]]):  # type: ignore[no-untyped-def]
    return expected_protocol(Keithley2600, INIT + pairs, clock=SimClock())


@pytest.fixture(autouse=True)
def script_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scripts are numbered per process; start at 7 so the exchanges are exact."""
    monkeypatch.setattr(keithley_2600_channel, "_TOKENS", itertools.count(7))


def setup(x: str, limit: str, rangev: str, nplc: str, delay: str) -> list[str]:
    return [f"smu{x}.abort()", f"smu{x}.source.func = smu{x}.OUTPUT_DCVOLTS",
            f"smu{x}.source.levelv = 0", f"smu{x}.source.limiti = {limit}",
            f"smu{x}.source.autorangev = smu{x}.AUTORANGE_OFF", f"smu{x}.source.rangev = {rangev}",
            f"smu{x}.source.delay = 0", f"smu{x}.measure.autorangei = smu{x}.AUTORANGE_ON",
            f"smu{x}.measure.autozero = smu{x}.AUTOZERO_ONCE", f"smu{x}.measure.nplc = {nplc}",
            f"smu{x}.measure.delay = {delay}", f"smu{x}.measure.count = 1",
            f"smu{x}.nvbuffer1.clear()", f"smu{x}.nvbuffer1.appendmode = 1",
            f"smu{x}.nvbuffer2.clear()", f"smu{x}.nvbuffer2.appendmode = 1",
            f"smu{x}.nvbuffer1.collecttimestamps = 1"]


def model(x: str, count: int, measure: str, endpulse: str) -> list[str]:
    return [f"smu{x}.trigger.source.action = smu{x}.ENABLE",
            f"smu{x}.trigger.measure.iv(smu{x}.nvbuffer1, smu{x}.nvbuffer2)",
            f"smu{x}.trigger.measure.action = smu{x}.{measure}",
            f"smu{x}.trigger.endpulse.action = smu{x}.{endpulse}",
            f"smu{x}.trigger.endsweep.action = smu{x}.SOURCE_IDLE",
            f"smu{x}.trigger.count = {count}", f"smu{x}.trigger.arm.count = 1",
            f"smu{x}.trigger.arm.stimulus = 0"]


def load(name: str, lines: list[str]) -> str:
    return "\n".join([f"loadscript {name}", *lines, "endscript"])


def read(x: str, name: str, binary: bool = False) -> str:
    dump = (f"if smu{x}.nvbuffer1.n > 0 then printbuffer(1, smu{x}.nvbuffer1.n, "
            f"{BUFFERS.format(x=x)}) end")
    if binary:
        dump = f"format.data = format.REAL32 format.byteorder = format.LITTLEENDIAN {dump}"
    return "\n".join(["waitcomplete()", "format.data = format.ASCII", f"print(smu{x}.nvbuffer1.n)",
                      dump, f'script.delete("{name}")', f"{name} = nil"])


def rows(*readings: tuple[float, float, float, float]) -> str:
    return ", ".join(f"{v:.5e}" for reading in readings for v in reading)


def test_init_refuses_a_model_outside_the_263xb() -> None:
    with pytest.raises(InstrumentError, match="'2602B' is not one of 2634B, 2635B, 2636B"):
        with expected_protocol(Keithley2600, [("print(localnode.model)", "2602B")]):
            pass


def test_two_channels_serve_two_terminals_and_the_2635b_has_one() -> None:
    with driver([]) as smu:
        assert smu.channels_by_number == {1: smu.smua, 2: smu.smub}
        assert smu.smub.name == "Keithley 2636B smub"
    with expected_protocol(Keithley2600, [("print(localnode.model)", "2635B")]) as smu:
        assert list(smu.channels_by_number) == [1]


def test_apply_voltage_is_one_chunk_limit_then_level_then_output() -> None:
    line = ("smub.source.func = smub.OUTPUT_DCVOLTS smub.source.autorangev = smub.AUTORANGE_ON "
            "smub.source.limiti = 0.0001 smub.source.levelv = -0.5 smub.source.output = "
            "smub.OUTPUT_ON")
    with driver([(line, None)]) as smu:
        smu.smub.apply_voltage(-0.5, 1e-4)


def test_raising_the_limit_above_100_ma_sets_the_level_first() -> None:
    line = ("smua.source.func = smua.OUTPUT_DCVOLTS smua.source.autorangev = smua.AUTORANGE_ON "
            "smua.source.levelv = 2 smua.source.limiti = 1 smua.source.output = smua.OUTPUT_ON")
    with driver([(line, None)]) as smu:
        smu.smua.apply_voltage(2.0, 1.0)


@pytest.mark.parametrize(("voltage", "limit"), [(25.0, 0.5), (-30.0, 0.2), (20.5, 0.101)])
def test_power_envelope_refuses_more_than_100_ma_above_20_v(voltage: float, limit: float
                                                             ) -> None:
    with driver([]) as smu:
        with pytest.raises(LimitError, match="0.1 A above 20 V"):
            smu.smua.apply_voltage(voltage, limit)


def test_power_envelope_is_checked_against_the_present_limit() -> None:
    with driver([("print(smua.source.limiti)", "1.00000e+00")]) as smu:
        with pytest.raises(LimitError, match="0.1 A above 20 V"):
            smu.smua.source_voltage = 25.0


def test_measure_reads_current_voltage_and_compliance_in_one_query() -> None:
    query = "local i, v = smua.measure.iv() print(i, v, smua.source.compliance)"
    with driver([(query, "1.00000e-04\t4.00000e-01\ttrue")]) as smu:
        assert smu.smua.measure() == SpotReading(voltage=0.4, current=1e-4, limited=True)


@pytest.mark.parametrize("reply", ["1.00000e-04\t4.00000e-01", "7#k@!~%", "1e-4\t0.4\tmaybe"])
def test_a_malformed_spot_reply_is_a_reply_error(reply: str) -> None:
    query = "local i, v = smua.measure.iv() print(i, v, smua.source.compliance)"
    with driver([(query, reply)]) as smu:
        with pytest.raises(InstrumentReplyError, match="smua"):
            smu.smua.measure()


def test_linear_staircase_is_one_script_one_run_one_read() -> None:
    step = Staircase.ramp(0.0, 1.0, 0.5, 0.01, 1e-4)
    script = [
        *setup("a", "0.0001", "2", "0.1", "0.00794"),
        "smua.trigger.source.linearv(0, 1, 3)", "smua.trigger.source.limiti = 0.0001",
        *model("a", 3, "ENABLE", "SOURCE_HOLD"), "smua.trigger.source.stimulus = 0",
        "smua.trigger.measure.stimulus = 0", "smua.trigger.endpulse.stimulus = 0",
        "smua.source.output = smua.OUTPUT_ON", "smua.trigger.initiate()"]
    data = rows((0.0, 0.0, 0.0, 0), (5e-5, 0.5, 0.01, 0), (1e-4, 0.98, 0.02, 64))
    with driver([LINE_FREQUENCY, (load("labsynSeq7", script), None), ("labsynSeq7()", None),
                 (read("a", "labsynSeq7"), "3.00000e+00"), (None, data), NO_ERRORS]) as smu:
        result = smu.smua.run(Sequence("TE", (step,), nplc=0.1))
    assert list(result.limited) == [False, False, True]
    assert list(result.source) == [0.0, 0.5, 0.98] and result.current[-1] == 1e-4
    assert list(result.time - result.time[0]) == pytest.approx([0.0, 0.01, 0.02])


def test_a_list_staircase_builds_its_table_fifty_values_per_line() -> None:
    levels = tuple(float(v) for v in [0.1, 0.3, 0.2] * 40)
    step = Staircase(levels, 0.0, 1e-3)
    chunks = [", ".join(f"{v:.9g}" for v in levels[i:i + 50]) for i in (0, 50, 100)]
    script = [
        *setup("b", "0.001", "2", "1", "0"),
        "local levels = {}", "local function extend(t, v) for i = 1, table.getn(v) do "
        "t[table.getn(t) + 1] = v[i] end end", *(f"extend(levels, {{{c}}})" for c in chunks),
        "smub.trigger.source.listv(levels)", "smub.trigger.source.limiti = 0.001",
        *model("b", 120, "ENABLE", "SOURCE_HOLD"), "smub.trigger.source.stimulus = 0",
        "smub.trigger.measure.stimulus = 0", "smub.trigger.endpulse.stimulus = 0",
        "smub.source.output = smub.OUTPUT_ON", "smub.trigger.initiate()"]
    with driver([LINE_FREQUENCY, (load("labsynSeq7", script), None), ("labsynSeq7()", None),
                 (read("b", "labsynSeq7"), "1.20000e+02"),
                 (None, rows(*[(1e-6, 0.1, 0.0, 0)] * 120)), NO_ERRORS]) as smu:
        assert len(smu.smub.run(Sequence("BE", (step,)))) == 120


def test_forming_ramp_is_a_lua_loop_that_breaks_at_compliance() -> None:
    step = Staircase((0.0, 0.5, 1.0, 1.5), 0.01, 1e-4, "forming", stop_on_limit=True)
    script = [
        *setup("a", "0.0001", "2", "0.1", "0"),
        "local levels = {0, 0.5, 1, 1.5}", "smua.source.levelv = levels[1]",
        "smua.source.output = smua.OUTPUT_ON", "for k = 1, 4 do",
        "smua.source.levelv = levels[k]", "delay(0.00794)",
        "smua.measure.iv(smua.nvbuffer1, smua.nvbuffer2)",
        "if smua.source.compliance then break end", "end", "smua.source.levelv = 0"]
    data = rows((0.0, 0.0, 0.0, 0), (2e-5, 0.5, 0.01, 0), (1e-4, 0.7, 0.02, 64))
    with driver([LINE_FREQUENCY, (load("labsynSeq7", script), None), ("labsynSeq7()", None),
                 (read("a", "labsynSeq7"), "3.00000e+00"), (None, data), NO_ERRORS]) as smu:
        result = smu.smua.run(Sequence("TE", (step,), nplc=0.1))
    assert len(result) == 3 and list(result.limited) == [False, False, True]


def test_identical_pulses_are_a_timer_paced_trigger_model_built_by_a_loop() -> None:
    train = PulseTrain.identical(1.0, 2, 1e-3, 5e-3, 1e-3, read_level=0.1, read_delay=0.5e-3)

    def timer(n: int, delays: str, count: int, passthrough: str, stimulus: str) -> list[str]:
        t = f"trigger.timer[{n}]"
        return [f"{t}.reset()", f"{t}.delaylist = {{{delays}}}", f"{t}.count = {count}",
                f"{t}.passthrough = {passthrough}", f"{t}.stimulus = {stimulus}"]

    script = [
        *setup("b", "0.001", "2", "0.01", "0"),
        "local levels = {}", "for k = 1, 2 do levels[2 * k - 1] = 1 levels[2 * k] = 0.1 end",
        "smub.trigger.source.listv(levels)", "smub.trigger.source.limiti = 0.001",
        *model("b", 4, "ENABLE", "SOURCE_IDLE"),
        *timer(4, "0.001, 0.004", 3, "true", "smub.trigger.ARMED_EVENT_ID"),
        *timer(5, "0.00072, 0.0005", 1, "false", "smub.trigger.SOURCE_COMPLETE_EVENT_ID"),
        *timer(6, "0.001, 0.00078", 1, "false", "smub.trigger.SOURCE_COMPLETE_EVENT_ID"),
        "smub.trigger.source.stimulus = trigger.timer[4].EVENT_ID",
        "smub.trigger.measure.stimulus = trigger.timer[5].EVENT_ID",
        "smub.trigger.endpulse.stimulus = trigger.timer[6].EVENT_ID",
        "smub.source.output = smub.OUTPUT_ON", "smub.trigger.initiate()"]
    data = rows((1e-4, 1.0, 0.0, 0), (1e-5, 0.1, 1e-3, 0), (2e-4, 1.0, 5e-3, 0),
                (2e-5, 0.1, 6e-3, 0))
    with driver([LINE_FREQUENCY, (load("labsynSeq7", script), None), ("labsynSeq7()", None),
                 (read("b", "labsynSeq7"), "4.00000e+00"), (None, data), NO_ERRORS]) as smu:
        result = smu.smub.run(Sequence("BE", (train,), nplc=0.01))
    assert list(result.current) == [1e-5, 2e-5]  # the reads, not the writes
    assert list(result.source) == [0.1, 0.1]


def test_more_than_a_thousand_readings_come_back_as_float32() -> None:
    step = Staircase.ramp(0.0, 1.0, 0.001, 0.0, 1e-3)
    values = [v for k in range(1001) for v in (k * 1e-7, k * 1e-3, k * 1e-4, 0.0)]
    block = b"#0" + struct.pack("<4004f", *values) + b"\n"
    script = keithley_2600.staircase_script("smua", step, 1.0, 50.0).lines
    with driver([LINE_FREQUENCY, (load("labsynSeq7", script), None), ("labsynSeq7()", None),
                 (read("a", "labsynSeq7", binary=True), "1.00100e+03"), (None, block),
                 NO_ERRORS]) as smu:
        result = smu.smua.run(Sequence("TE", (step,)))
    assert len(result) == 1001
    assert result.source[-1] == pytest.approx(1.0) and result.current[500] == pytest.approx(5e-5)


@pytest.mark.parametrize(("count", "reply", "match"), [
    ("2.00000e+00", rows((1e-6, 0.1, 0.0, 0)), "not 2 readings"),
    ("two", "", "reading count 'two'"),
])
def test_a_buffer_reply_of_the_wrong_shape_is_a_reply_error(count: str, reply: str,
                                                            match: str) -> None:
    step = Staircase((0.1, 0.2), 0.0, 1e-3)
    pairs: list[tuple[str | None, Any]] = [
        (load("labsynSeq7", keithley_2600.staircase_script("smua", step, 1.0, 50.0).lines),
         None), ("labsynSeq7()", None), (read("a", "labsynSeq7"), count)]
    if reply:
        pairs.append((None, reply))
    with driver([LINE_FREQUENCY, *pairs]) as smu:
        with pytest.raises(InstrumentReplyError, match=match):
            smu.smua.run(Sequence("TE", (step,)))


def test_a_short_buffer_names_the_segment_unless_dry_run(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    step = Staircase((0.1, 0.2, 0.3), 0.0, 1e-3, "SET")
    pairs: list[tuple[str | None, Any]] = [
        LINE_FREQUENCY,
        (load("labsynSeq7", keithley_2600.staircase_script("smua", step, 1.0, 50.0).lines),
         None), ("labsynSeq7()", None), (read("a", "labsynSeq7"), "1.00000e+00"),
        (None, rows((1e-6, 0.1, 0.0, 0))), NO_ERRORS]
    with driver(pairs) as smu:
        with pytest.raises(InstrumentReplyError, match="segment SET stored 1 readings, "
                           "expected 3"):
            smu.smua.run(Sequence("TE", (step,)))
    monkeypatch.setattr(keithley_2600_channel, "_TOKENS", itertools.count(7))
    with driver(pairs) as smu:
        smu.dry_run = True
        assert len(smu.smua.run(Sequence("TE", (step,)))) == 1


ERRORS = [("print(errorqueue.count)", "2.00000e+00"),
          ("print(errorqueue.next())", "-2.86000e+02\tTSP Runtime error at line 3: attempt to "
           "index global `smuc' (a nil value)\t2.00000e+01\t1.00000e+00"),
          ("print(errorqueue.next())", "5.00700e+03\tOperation would exceed safe operating "
           "area of the instrument\t2.00000e+01\t1.00000e+00"),
          NO_ERRORS]


def test_errors_empties_the_queue_with_the_instruments_codes_and_text() -> None:
    with driver(ERRORS) as smu:
        found = smu.smub.errors()  # a channel reads the instrument's one queue
    assert [code for code, _ in found] == [-286, 5007]
    assert found[0][1] == "TSP Runtime error at line 3: attempt to index global `smuc' (a nil " \
        "value)"


def test_check_errors_raises_naming_instrument_command_and_entries() -> None:
    with driver(ERRORS) as smu:
        with pytest.raises(InstrumentReportedError, match=r"Keithley 2636B.*'labsynSeq3'.*-286"
                           r".*5007") as info:
            smu.check_errors("labsynSeq3")
    assert [code for code, _ in info.value.errors] == [-286, 5007]


def test_safe_off_clears_aborts_zeroes_and_verifies_both_outputs() -> None:
    off = "\n".join(f"smu{x}.source.{a} = 0" for x in "ab" for a in ("levelv", "leveli",
                                                                       "output"))
    with driver([("smua.abort()\nsmub.abort()", None), (off, None),
                 ("print(smua.source.output, smub.source.output)", "0.00000e+00\t0.00000e+00")
                 ]) as smu:
        smu.safe_off()
        assert smu.safed.is_set()


def test_after_safe_off_outputs_stay_off_until_rearmed() -> None:
    off = "\n".join(f"smu{x}.source.{a} = 0" for x in "ab" for a in ("levelv", "leveli",
                                                                       "output"))
    apply = ("smua.source.func = smua.OUTPUT_DCVOLTS smua.source.autorangev = smua.AUTORANGE_ON "
             "smua.source.limiti = 0.001 smua.source.levelv = 0.2 smua.source.output = "
             "smua.OUTPUT_ON")
    with driver([("smua.abort()\nsmub.abort()", None), (off, None),
                 ("print(smua.source.output, smub.source.output)", "0.00000e+00\t0.00000e+00"),
                 (apply, None)]) as smu:
        smu.safe_off()
        with pytest.raises(InstrumentError, match="held off after safe_off"):
            smu.smua.apply_voltage(0.2, 1e-3)
        held = smu.smub.run(Sequence("BE", (Staircase((0.1, 0.2), 0.0, 1e-3),)))
        assert held.aborted and len(held) == 0  # nothing was sent
        smu.smub.rearm()
        smu.smua.apply_voltage(0.2, 1e-3)


def test_safe_off_reports_an_output_that_stays_on() -> None:
    with driver([("smua.abort()", None), ("smua.source.levelv = 0\nsmua.source.leveli = 0\n"
                                          "smua.source.output = 0", None),
                 ("print(smua.source.output)", "1.00000e+00")]) as smu:
        with pytest.raises(InstrumentError, match="output still on"):
            smu.smua.safe_off()


@pytest.mark.parametrize(("channel", "name", "value", "command"), [
    ("smua", "nplc", 0.5, "smua.measure.nplc = 0.5"),
    ("smub", "current_range", 1e-6, "smub.measure.rangei = 1e-06"),
    ("smua", "source_voltage_range", 20.0, "smua.source.rangev = 20"),
    ("smub", "output_off_mode", "high_impedance", "smub.source.offmode = 2"),
    ("smua", "autozero", "once", "smua.measure.autozero = 1"),
    ("smua", "source_function", "current", "smua.source.func = 0"),
    ("smub", "output_enabled", False, "smub.source.output = 0"),
    ("smua", "voltage_limit", 40.0, "smua.source.limitv = 40"),
    ("smua", "measure_count", 3, "smua.measure.count = 3"),
])
def test_in_range_settings_send_one_assignment(channel: str, name: str, value: object,
                                               command: str) -> None:
    with driver([(command, None)]) as smu:
        setattr(getattr(smu, channel), name, value)


@pytest.mark.parametrize(("name", "reply", "expected"), [
    ("source_voltage", "1.50000e+00", 1.5), ("output_enabled", "1.00000e+00", True),
    ("compliance", "true", True), ("output_off_mode", "2.00000e+00", "high_impedance"),
    ("measure_count", "3.00000e+00", 3),
])
def test_getters_parse_print_replies(name: str, reply: str, expected: object) -> None:
    query = {"source_voltage": "print(smub.source.levelv)",
             "output_enabled": "print(smub.source.output)",
             "compliance": "print(smub.source.compliance)",
             "output_off_mode": "print(smub.source.offmode)",
             "measure_count": "print(smub.measure.count)"}[name]
    with driver([(query, reply)]) as smu:
        assert getattr(smu.smub, name) == expected


def test_garbled_number_is_a_reply_error() -> None:
    with driver([("print(smua.source.levelv)", "7#k@!~%")]) as smu:
        with pytest.raises(InstrumentReplyError, match=r"print\(smua.source.levelv\)"):
            _ = smu.smua.source_voltage


@pytest.mark.parametrize(("segment", "match"), [
    (PulseTrain.identical(1.0, 10, 50e-6, 1e-3, 1e-3), "pulse width"),
    (PulseTrain.identical(1.0, 10, 1e-3, 1.5e-3, 1e-3, read_level=0.1, read_delay=1e-3),
     "period"),
    (Staircase((0.0, 250.0), 0.01, 1e-3), "level"),
    (Staircase((0.0, 30.0), 0.01, 0.5), "0.1 A above 20 V"),
    (Staircase((0.0, 1.0), 0.01, 2.0), "current limit"),
])
def test_sequences_beyond_the_2636b_are_refused_before_sending(segment: Any, match: str
                                                                ) -> None:
    pairs = [LINE_FREQUENCY] if isinstance(segment, PulseTrain) else []
    with driver(pairs) as smu:
        with pytest.raises(LimitError, match=match):
            smu.smua.check_sequence(Sequence("TE", (segment,)))
