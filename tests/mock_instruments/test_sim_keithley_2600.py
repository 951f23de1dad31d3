"""The simulated Keithley 2636B on its own: TSP parsing and errors, scripts, print formats,
the trigger model's timing on the bench, device clear, and the two channels as two terminals."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import pyvisa

from labsyn.mock_instruments.bench import Bench
from labsyn.mock_instruments.keithley_2600 import SimKeithley2600
from labsyn.mock_instruments.resistor import Resistor

ADDRESS = "GPIB0::26::INSTR"
OHMS = 10e3


@dataclass
class Twin:
    bench: Bench
    sim: SimKeithley2600
    visa: Any

    def ask(self, command: str) -> str:
        return self.visa.query(command)

    def write(self, command: str) -> None:
        self.visa.write(command)

    def errors(self) -> list[tuple[int, str]]:
        found = []
        while int(float(self.ask("print(errorqueue.count)"))):
            code, message, _, _ = self.ask("print(errorqueue.next())").split("\t")
            found.append((int(float(code)), message))
        return found

    def level(self, channel: int) -> float:
        """What the channel drives right now (0 V when its output is off)."""
        self.bench.sync()
        return self.sim.channels_by_number[channel].state_at(self.bench.clock.now()) \
            .effective().level


def make_twin(be: str = "smub") -> Twin:
    bench = Bench()
    sim = bench.add_instrument(ADDRESS, SimKeithley2600())
    dut = bench.add_dut("dut", Resistor(OHMS))
    bench.wire(dut, "TE", sim.channels_by_number[1])
    bench.wire(dut, "BE", sim.channels_by_number[2] if be == "smub" else "ground")
    visa = pyvisa.ResourceManager(bench.visa_library()).open_resource(
        ADDRESS, read_termination="\n", write_termination="\n")
    return Twin(bench, sim, visa)


@pytest.fixture
def twin() -> Iterator[Twin]:
    made = make_twin()
    yield made
    made.visa.close()


def test_identity_and_model(twin: Twin) -> None:
    assert twin.ask("*IDN?") == "Keithley Instruments Inc., Model 2636B, 4308079, 3.2.2"
    assert twin.ask("print(localnode.model)") == "2636B"
    assert twin.ask("print(localnode.linefreq)") == "5.00000e+01"


def test_print_joins_values_with_tabs_and_numbers_follow_the_ascii_precision(twin: Twin
                                                                             ) -> None:
    assert twin.ask("print(1, 'a', true, nil, 2.5e-3)") == "1.00000e+00\ta\ttrue\tnil\t2.50000e-03"
    twin.write("format.asciiprecision = 3")
    assert twin.ask("print(1/3)") == "3.33e-01"


@pytest.mark.parametrize(("command", "code", "text"), [
    ("smua.source.levelv = *", -285, "unexpected symbol near `*'"),
    ("print(#levels)", -285, "near `#'"),
    ("smua.source.foo = 1", -286, "unknown attribute `foo' of smua.source"),
    ("print(smua.sauce.levelv)", -286, "unknown attribute `sauce' of smua"),
    ("smuc.source.levelv = 1", -286, "attempt to index global `smuc' (a nil value)"),
    ("nosuchfunction()", -286, "attempt to call global `nosuchfunction' (a nil value)"),
    ("smua.source.levelv = 'high'", -286, "number expected"),
    ("smua.source.compliance = true", -286, "read-only attribute `compliance'"),
    ("smua.source.levelv = 300", -222, "Parameter data out of range"),
    ("smua.measure.nplc = 30", -222, "Parameter data out of range"),
    ("smua.source.limiti = 1 smua.source.levelv = 25", 5007, "safe operating area"),
])
def test_what_a_2636b_rejects_is_an_error_with_its_code(twin: Twin, command: str, code: int,
                                                       text: str) -> None:
    twin.write(command)
    (error,) = twin.errors()
    assert error[0] == code and text in error[1]


def test_error_queue_entries_are_code_message_severity_node(twin: Twin) -> None:
    twin.write("foo(")
    assert twin.ask("print(errorqueue.count)") == "1.00000e+00"
    code, message, severity, node = twin.ask("print(errorqueue.next())").split("\t")
    assert (code, severity) == ("-2.85000e+02", "2.00000e+01")
    assert message.startswith("TSP Syntax error at line 1:") and float(node) >= 0
    assert twin.ask("print(errorqueue.next())") == \
        "0.00000e+00\tQueue Is Empty\t0.00000e+00\t0.00000e+00"


def test_each_line_is_a_chunk_an_error_stops_only_its_own_line(twin: Twin) -> None:
    twin.write("x = 1 smua.source.foo = 2 x = 3\ny = 4")
    assert twin.ask("print(x, y)") == "1.00000e+00\t4.00000e+00"
    assert [code for code, _ in twin.errors()] == [-286]


def test_loadscript_defines_a_named_script_run_by_call_or_run(twin: Twin) -> None:
    twin.write("loadscript counter\ncount = (count or 0) + 1\nendscript")
    assert twin.ask("print(count)") == "nil"  # loading does not run it
    twin.write("counter()\ncounter.run()")
    assert twin.ask("print(count)") == "2.00000e+00"
    twin.write("loadandrunscript\nprint('ran')\nendscript")
    assert twin.visa.read() == "ran"
    assert twin.errors() == []


def test_a_script_with_a_syntax_error_is_not_created_and_a_runtime_error_stops_it(twin: Twin
                                                                                ) -> None:
    twin.write("loadscript broken\nfor k = 1, 3 do\nendscript")
    twin.write("loadscript halts\nstep = 1\nsmua.source.nothing = 1\nstep = 2\nendscript\nhalts()")
    assert twin.ask("print(broken, step)") == "nil\t1.00000e+00"
    (syntax, runtime) = twin.errors()
    assert syntax[0] == -285 and "`end' expected" in syntax[1]
    assert runtime[0] == -286 and runtime[1].startswith("TSP Runtime error at line 2:")


def test_delay_runs_on_virtual_time_and_the_reply_waits_for_it(twin: Twin) -> None:
    start = twin.bench.clock.now()
    twin.visa.timeout = 10_000
    assert twin.ask("delay(2.5) print('done')") == "done"
    assert twin.bench.clock.now() - start == pytest.approx(2.5, abs=1e-3)
    twin.visa.timeout = 1_000
    with pytest.raises(pyvisa.errors.VisaIOError):  # not ready within the VISA timeout
        twin.ask("delay(2.5) print('late')")


def test_printbuffer_ascii_and_binary_framing(twin: Twin) -> None:
    twin.write("smua.source.limiti = 1e-3 smua.source.levelv = 1 smua.source.output = 1")
    twin.write("smua.nvbuffer1.clear() smua.nvbuffer1.appendmode = 1")
    twin.write("for k = 1, 3 do smua.measure.i(smua.nvbuffer1) end")
    ascii_reply = twin.ask("printbuffer(1, 3, smua.nvbuffer1.readings)").split(", ")
    assert [float(v) for v in ascii_reply] == pytest.approx([1e-4] * 3, rel=1e-3)
    twin.write("format.data = format.REAL32 format.byteorder = format.LITTLEENDIAN "
               "printbuffer(1, 3, smua.nvbuffer1.readings, smua.nvbuffer1.statuses)")
    raw = twin.visa.read_bytes(2 + 6 * 4 + 1)
    assert raw[:2] == b"#0" and raw[-1:] == b"\n"
    values = struct.unpack("<6f", raw[2:-1])
    assert values[0::2] == pytest.approx([1e-4] * 3, rel=1e-3) and values[1::2] == (0.0,) * 3
    twin.write("format.data = format.REAL64 format.byteorder = format.BIGENDIAN "
               "printnumber(0.5)")
    assert twin.visa.read_bytes(11) == b"#0" + struct.pack(">d", 0.5) + b"\n"
    twin.write("printbuffer(1, 4, smua.nvbuffer1.readings)")
    assert twin.errors()[0][0] == -286  # beyond the 3 readings held


def test_two_channels_are_two_terminals_the_device_sees_te_minus_be(twin: Twin) -> None:
    twin.write("smua.source.limiti = 1e-3 smua.source.levelv = 0 smua.source.output = 1")
    twin.write("smub.source.limiti = 1e-3 smub.source.levelv = 0.5 smub.source.output = 1")
    te_current, _ = (float(v) for v in twin.ask("print(smua.measure.iv())").split("\t"))
    be_current, be_voltage = (float(v) for v in twin.ask("print(smub.measure.iv())").split("\t"))
    assert te_current == pytest.approx(-0.5 / OHMS, rel=1e-3)  # V_TE − V_BE = −0.5 V
    assert be_current == pytest.approx(+0.5 / OHMS, rel=1e-3)
    assert be_voltage == pytest.approx(0.5, abs=1e-5)
    assert twin.sim.timeline.duts[0].last_v_device == pytest.approx(-0.5)


def test_compliance_limits_the_device_and_raises_the_flag(twin: Twin) -> None:
    twin.write("smua.source.limiti = 1e-5 smua.source.levelv = 1 smua.source.output = 1")
    twin.write("smub.source.output = 1")
    current, voltage, flag = twin.ask("local i, v = smua.measure.iv() "
                                      "print(i, v, smua.source.compliance)").split("\t")
    assert float(current) == pytest.approx(1e-5, rel=1e-9) and flag == "true"
    assert float(voltage) == pytest.approx(0.1, rel=1e-4)  # the source sags to I·R


def test_high_impedance_output_off_floats_the_device(twin: Twin) -> None:
    twin.write("smua.source.limiti = 1e-3 smua.source.levelv = 1 smua.source.output = 1")
    twin.write("smub.source.offmode = smub.OUTPUT_HIGH_Z")
    assert float(twin.ask("print(smua.measure.i())")) == pytest.approx(0.0, abs=1e-12)
    twin.write("smub.source.offmode = smub.OUTPUT_NORMAL")  # off, normal: 0 V
    assert float(twin.ask("print(smua.measure.i())")) == pytest.approx(1e-4, rel=1e-3)


SWEEP = ("smua.source.limiti = 1e-3 smua.measure.nplc = 0.01 smua.measure.autozero = "
         "smua.AUTOZERO_ONCE smua.measure.delay = 0.01 smua.nvbuffer1.clear() "
         "smua.nvbuffer1.collecttimestamps = 1 smua.trigger.source.linearv(0, 1, 5) "
         "smua.trigger.source.action = smua.ENABLE smua.trigger.measure.iv(smua.nvbuffer1, "
         "smua.nvbuffer2) smua.trigger.measure.action = smua.ENABLE smua.trigger.count = 5 "
         "smub.source.output = 1 smua.source.output = 1")


def test_a_linear_sweep_steps_every_measure_delay_plus_aperture(twin: Twin) -> None:
    twin.write(SWEEP + " smua.trigger.initiate()")
    step = 0.01 + 0.01 / 50 + 60e-6
    assert twin.ask("waitcomplete() print(smua.nvbuffer1.n)") == "5.00000e+00"
    times = [float(v) for v in twin.ask("printbuffer(1, 5, smua.nvbuffer1.timestamps)")
             .split(",")]
    currents = [float(v) for v in twin.ask("printbuffer(1, 5, smua.nvbuffer1.readings)")
                .split(",")]
    assert times == pytest.approx([k * step for k in range(5)], abs=2e-6)
    assert currents == pytest.approx([k * 0.25 / OHMS for k in range(5)], abs=1e-8)
    assert twin.level(1) == 0.0  # endsweep SOURCE_IDLE: back to the idle level


def test_timers_pace_pulses_and_place_the_reads(twin: Twin) -> None:
    """A period timer with pass-through and a delay list, an end-pulse timer and a
    measure timer: 1 ms pulses at 0.8 V every 4 ms, read at 0.2 V 0.3 ms after each."""
    twin.write("\n".join([
        "smua.source.limiti = 1e-3 smua.source.rangev = 2 smua.source.levelv = 0",
        "smua.measure.nplc = 0.01 smua.measure.autozero = smua.AUTOZERO_ONCE",
        "smua.measure.delay = 0 smua.nvbuffer1.clear() smua.nvbuffer1.appendmode = 1",
        "smua.trigger.source.listv({0.8, 0.2, 0.8, 0.2, 0.8, 0.2})",
        "smua.trigger.source.action = smua.ENABLE smua.trigger.count = 6",
        "smua.trigger.measure.iv(smua.nvbuffer1, smua.nvbuffer2)",
        "smua.trigger.measure.action = smua.ENABLE",
        "smua.trigger.endpulse.action = smua.SOURCE_IDLE",
        "trigger.timer[1].delaylist = {1e-3, 3e-3} trigger.timer[1].count = 5",
        "trigger.timer[1].passthrough = true",
        "trigger.timer[1].stimulus = smua.trigger.ARMED_EVENT_ID",
        "trigger.timer[2].delaylist = {0.7e-3, 0.3e-3}",
        "trigger.timer[2].stimulus = smua.trigger.SOURCE_COMPLETE_EVENT_ID",
        "trigger.timer[3].delaylist = {1e-3, 0.6e-3}",
        "trigger.timer[3].stimulus = smua.trigger.SOURCE_COMPLETE_EVENT_ID",
        "smua.trigger.source.stimulus = trigger.timer[1].EVENT_ID",
        "smua.trigger.measure.stimulus = trigger.timer[2].EVENT_ID",
        "smua.trigger.endpulse.stimulus = trigger.timer[3].EVENT_ID",
        "smub.source.output = 1 smua.source.output = 1 smua.trigger.initiate()"]))
    plan = twin.sim.smua.plan
    assert plan is not None and twin.errors() == []
    t0 = plan.changes[0][0]
    changes = [(round(t - t0, 7), level) for t, level in plan.changes]
    assert changes[:4] == [(0.0, 0.8), (0.001, 0.0), (0.001, 0.2), (0.0016, 0.0)]
    assert [round(t - t0, 7) for t, _ in plan.changes[::4]] == [0.0, 0.004, 0.008]
    tm = 0.01 / 50 + 60e-6
    assert [round(m - t0, 7) for m in plan.measures[:2]] == [round(0.7e-3 + tm, 7),
                                                              round(1.3e-3 + tm, 7)]
    reads = twin.ask("waitcomplete() printbuffer(1, 6, smua.nvbuffer1.readings)").split(",")
    assert [float(v) for v in reads[1::2]] == pytest.approx([0.2 / OHMS] * 3, rel=1e-3)


def test_device_clear_abandons_a_running_script_but_not_a_sweep(twin: Twin) -> None:
    twin.write("smua.source.limiti = 1e-3 smua.source.output = 1 smub.source.output = 1")
    twin.write("for k = 1, 100 do smua.source.levelv = k / 100 delay(0.01) end")
    twin.bench.clock.sleep(0.305)
    twin.visa.clear()
    assert twin.level(1) == pytest.approx(0.31)
    twin.bench.clock.sleep(0.5)
    assert twin.level(1) == pytest.approx(0.31)  # the loop stopped at the clear
    twin.write(SWEEP.replace("smua.measure.delay = 0.01", "smua.measure.delay = 0.1")
               + " smua.trigger.initiate()")
    twin.bench.clock.sleep(0.25)
    twin.visa.clear()
    twin.bench.clock.sleep(0.1)
    assert twin.sim.smua.running and twin.level(1) == pytest.approx(0.75)
    twin.write("smua.abort()")
    assert not twin.sim.smua.running  # back at the idle level (levelv, left by the loop)
    assert twin.level(1) == pytest.approx(0.31)
    assert twin.ask("print(smua.source.output, smua.nvbuffer1.n)") == \
        "1.00000e+00\t3.00000e+00"


def test_messages_queue_behind_a_running_script(twin: Twin) -> None:
    twin.write("delay(1.0) x = 1")
    twin.write("x = (x or 0) + 10")
    assert twin.ask("print(x)") == "1.10000e+01"
