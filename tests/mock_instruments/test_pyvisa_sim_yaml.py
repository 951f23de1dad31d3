"""The stock pyvisa-sim model of the Keithley 2450 (pyvisa_sim/keithley_2450.yaml) with its driver.

Every message `Keithley2450` sends is split by pyvisa-sim on ";" and each piece must match a
dialogue or a setter exactly. A piece that matches nothing, or a setter value outside its spec,
gets no reply and queues an error in `:SYST:ERR?` (and CME in `*ESR?`); an unanswered query times
out. So each test ends with `assert_in_step`: the error queue is empty, `*ESR?` is 0 and `*IDN?`
still gets its own reply.

pyvisa caches the pyvisa-sim library object per YAML path for the whole process, and with it every
device's settings and pending replies: closing the resource manager does not reset them (pyvisa
1.16, pyvisa-sim 0.7.1). Each test closes its resource manager and re-reads the YAML with
`visalib._init()` (what QCoDeS does), before and after: see tests/pyvisa_sim_support.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import pyvisa
from pyvisa.rname import to_canonical_name

from labsyn.drivers.capabilities import SpotReading
from labsyn.drivers.keithley_2450 import (
    MAX_CURRENT,
    MAX_VOLTAGE,
    MIN_CURRENT_LIMIT,
    Keithley2450,
)
from labsyn.drivers.sequence import PulseTrain, Sequence, Staircase, bipolar_loop
from labsyn.errors import InstrumentReplyError, InstrumentTimeout, LimitError
from tests.pyvisa_sim_support import (
    PyvisaSim,
    assert_reads_back,
    assert_spec_matches_limits,
    pieces,
    properties,
    record,
)

IDN = "KEITHLEY INSTRUMENTS,MODEL 2450,04488850,1.7.3c"
ADDRESSES = (
    "GPIB0::24::INSTR",
    "TCPIP0::192.168.1.24::inst0::INSTR",
    "USB0::0x05E6::0x2450::04488850::INSTR",
)
SOCKET = "TCPIP0::192.168.1.24::5025::SOCKET"
BUFFER_POINTS = 5  # the YAML's :TRAC:ACT? count; its :TRAC:DATA? holds these rows
SIM_ERROR = (-100, "Command error (pyvisa-sim: no match, or value out of spec)")
LIMITS = Keithley2450.limits
SIM = PyvisaSim(Keithley2450, "keithley_2450.yaml", IDN, ADDRESSES[0], dry_run=True)
assert_in_step = SIM.assert_in_step


@pytest.fixture(autouse=True)
def fresh_simulation() -> None:
    SIM.reset()


@pytest.fixture
def smu() -> Iterator[Keithley2450]:
    with SIM.opened() as instrument:
        yield instrument


# -- the file and its addresses ----------------------------------------------------------------
def test_yaml_lists_the_station_addresses() -> None:
    data = SIM.data()
    assert data["spec"] == "1.1"
    assert set(ADDRESSES) | {SOCKET} <= set(data["resources"])
    assert {to_canonical_name(a) for a in (*ADDRESSES, SOCKET)} <= SIM.listed()
    manager = pyvisa.ResourceManager(f"{SIM.yaml}@sim")
    try:
        assert {to_canonical_name(a) for a in ADDRESSES} <= set(manager.list_resources())
    finally:
        manager.close()


@pytest.mark.parametrize("address", [*ADDRESSES, SOCKET, "TCPIP::192.168.1.24::INSTR"])
def test_driver_opens_at_every_address(address: str) -> None:
    with SIM.opened(address) as smu:
        assert smu.language == "SCPI"
        assert smu.line_frequency == 50.0
        assert_in_step(smu)


def test_unmatched_command_queues_an_error_and_no_stale_reply(smu: Keithley2450) -> None:
    smu.write(":BOGUS 1")
    smu.write(":OUTP:SMOD OFF")
    assert smu.ask("*ESR?").strip() == "32"
    assert smu.errors() == [SIM_ERROR, SIM_ERROR]
    assert_in_step(smu)


def test_close_smu_resets_the_simulated_device() -> None:
    with SIM.opened() as smu:
        smu.current_nplc = 0.5
    with SIM.opened() as smu:
        assert smu.current_nplc == 1.0


# -- properties --------------------------------------------------------------------------------
BOTH = (True, False)
SETTABLE: dict[str, tuple[Any, ...]] = {
    "source_function": ("current", "voltage"),
    "source_voltage_range": (0.02, 2.0, MAX_VOLTAGE),
    "source_voltage_range_auto": BOTH,
    "source_delay": (0.0, 1e-3, 1e4),
    "source_delay_auto": BOTH,
    "voltage_limit": (0.02, 21.0, MAX_VOLTAGE),
    "current_nplc": (LIMITS.min_nplc, 1.0, LIMITS.max_nplc),
    "current_range": (1e-8, 1e-4, MAX_CURRENT),
    "current_range_auto": BOTH,
    "autozero": BOTH,
    "sense_count": (1, 10, 300_000),
    "output_enabled": BOTH,
    "output_off_mode": ("normal", "high_impedance", "zero", "guard"),
    "source_voltage": (-MAX_VOLTAGE, -1.5, 0.0, 2.5e-3, MAX_VOLTAGE),
    "current_limit": (MIN_CURRENT_LIMIT, 1e-3, 0.105, MAX_CURRENT),
}
READ_ONLY: dict[str, Any] = {
    "id": IDN,
    "language": "SCPI",
    "line_frequency": 50.0,
    "current_limit_tripped": False,
    "status": "0",
    "complete": "1",
}
# Getters that fail in the driver whatever the reply: a string reply meets labsyn's strict
# `values()` with pymeasure's default cast=float (pymeasure's own `values()` falls back to str).
BROKEN_GETTERS = {"source_function": ":SOUR:FUNC?", "output_off_mode": ":OUTP:SMOD?"}
NOT_TESTED_HERE = {"next_error", "options"}  # see their own tests below


def test_every_driver_property_is_covered() -> None:
    assert properties(Keithley2450) == set(SETTABLE) | set(READ_ONLY) | NOT_TESTED_HERE


@pytest.mark.parametrize(("name", "values"), SETTABLE.items(), ids=list(SETTABLE))
def test_property_set_and_get(smu: Keithley2450, name: str, values: tuple[Any, ...]) -> None:
    if name in BROKEN_GETTERS:
        for value in values:
            setattr(smu, name, value)
    else:
        assert_reads_back(smu, name, values)
    assert_in_step(smu)


@pytest.mark.parametrize(("name", "expected"), READ_ONLY.items(), ids=list(READ_ONLY))
def test_read_only_property(smu: Keithley2450, name: str, expected: Any) -> None:
    assert getattr(smu, name) == expected
    assert_in_step(smu)


@pytest.mark.parametrize(("name", "value", "reply"), [
    ("source_function", "current", "CURR"), ("output_off_mode", "high_impedance", "HIMP")])
def test_string_setting_reaches_the_device(smu: Keithley2450, name: str, value: str,
                                           reply: str) -> None:
    setattr(smu, name, value)
    assert smu.ask(BROKEN_GETTERS[name]).strip() == reply
    assert_in_step(smu)


@pytest.mark.parametrize("name", sorted(BROKEN_GETTERS))
def test_string_getter(smu: Keithley2450, name: str) -> None:
    assert isinstance(getattr(smu, name), str)


def test_next_error(smu: Keithley2450) -> None:
    assert smu.next_error[0] == 0


def test_options_is_not_a_2450_command(smu: Keithley2450) -> None:
    """*OPT? (inherited from SCPIMixin) is not in the 2450's common commands: no reply."""
    smu.adapter.connection.timeout = 50
    with pytest.raises(InstrumentTimeout):
        smu.options  # noqa: B018
    assert smu.errors() == [SIM_ERROR]
    assert smu.ask("*ESR?").strip() == "32"
    assert_in_step(smu)


# The YAML specs hold the driver's limits: inside is accepted by both, outside is refused by the
# driver (nothing sent) and, sent raw, by the simulated instrument (one queued error).
RANGES = [
    ("source_voltage", ":SOUR:VOLT {:.9g}", -MAX_VOLTAGE, MAX_VOLTAGE),
    ("current_limit", ":SOUR:VOLT:ILIM {:.9g}", MIN_CURRENT_LIMIT, MAX_CURRENT),
    ("source_voltage_range", ":SOUR:VOLT:RANG {:.9g}", 0.02, MAX_VOLTAGE),
    ("source_delay", ":SOUR:VOLT:DEL {:.9g}", 0.0, 1e4),
    ("voltage_limit", ":SOUR:CURR:VLIM {:.9g}", 0.02, MAX_VOLTAGE),
    ("current_nplc", ":SENS:CURR:NPLC {:.9g}", LIMITS.min_nplc, LIMITS.max_nplc),
    ("current_range", ":SENS:CURR:RANG {:.9g}", 1e-8, MAX_CURRENT),
    ("sense_count", ":SENS:COUN {:d}", 1, 300_000),
]


@pytest.mark.parametrize(("name", "command", "low", "high"), RANGES,
                         ids=[r[0] for r in RANGES])
def test_specs_match_driver_limits(smu: Keithley2450, name: str, command: str, low: float,
                                   high: float) -> None:
    assert_spec_matches_limits(SIM, smu, smu, name, command, low, high, SIM_ERROR)


def test_choice_specs_refuse_other_values(smu: Keithley2450) -> None:
    for command in (":SOUR:FUNC RES", ":OUTP 2", ":SENS:CURR:AZER 2", ":OUTP:SMOD OFF",
                    ':SENS:FUNC "TEMP"'):
        smu.write(command)
    assert smu.errors() == [SIM_ERROR] * 5
    assert smu.ask("*ESR?").strip() == "32"
    assert_in_step(smu)


# -- SourceMeter capability --------------------------------------------------------------------
def test_apply_voltage_then_measure(smu: Keithley2450) -> None:
    sent = record(smu)
    smu.apply_voltage(1.5, 1e-3)
    assert pieces(sent) == [":SOUR:FUNC VOLT", ":SOUR:VOLT:RANG:AUTO 1",
                            ":SOUR:VOLT:ILIM 0.001", ":SOUR:VOLT 1.5", ":OUTP ON"]
    assert smu.source_voltage == 1.5
    assert smu.current_limit == 1e-3
    assert smu.source_voltage_range_auto is True
    assert smu.measure() == SpotReading(voltage=1.0, current=1e-6, limited=False)
    assert smu.ask(":SENS:FUNC?").strip() == "CURR:DC"
    assert_in_step(smu)


def test_apply_voltage_outside_the_envelope_sends_nothing(smu: Keithley2450) -> None:
    sent = record(smu)
    with pytest.raises(LimitError):
        smu.apply_voltage(30.0, 0.5)
    assert sent == []
    assert_in_step(smu)


def check_rows(data: Any, segments: int) -> None:
    assert len(data) == segments * BUFFER_POINTS
    assert not data.aborted
    assert list(data.source[:BUFFER_POINTS]) == [0.0, 0.5, 1.0, 0.5, 0.0]
    assert list(data.current[:BUFFER_POINTS]) == [1e-12, 5e-7, 1e-6, 5e-7, 1e-12]
    assert not data.limited.any()


def test_run_bipolar_loop(smu: Keithley2450) -> None:
    sequence = bipolar_loop(1.0, 1.0, 0.5, dwell=0.01, set_limit=1e-4, reset_limit=1e-3,
                            nplc=0.1)
    assert [s.points for s in sequence.segments] == [BUFFER_POINTS, BUFFER_POINTS]
    sent = record(smu)
    data = smu.run(sequence)
    check_rows(data, 2)
    assert data.labels == ["SET", "RESET"]
    assert list(data.segment) == [0] * BUFFER_POINTS + [1] * BUFFER_POINTS
    assert ":SOUR:LIST:VOLT 0, -0.5, -1, -0.5, 0" in pieces(sent)
    assert sent.count(":INIT") == 2
    assert_in_step(smu)


def test_run_linear_staircase(smu: Keithley2450) -> None:
    sent = record(smu)
    data = smu.run(Sequence("TE", (Staircase.ramp(0.0, 1.0, 0.25, 0.01, 1e-3, "up"),)))
    check_rows(data, 1)
    assert any(m.startswith(":SOUR:SWE:VOLT:LIN 0, 1, 5, ") for m in pieces(sent))
    assert_in_step(smu)


def pulse_train(points: int = BUFFER_POINTS, **kwargs: Any) -> Sequence:
    kwargs.setdefault("read_level", 0.1)
    amplitudes = tuple(0.5 + 0.1 * i for i in range(points))
    train = PulseTrain(amplitudes, width=1e-3, period=0.01, current_limit=1e-3,
                       read_delay=1e-4, label="pot", **kwargs)
    return Sequence("TE", (train,), nplc=0.01)


def test_run_pulse_train_twice(smu: Keithley2450) -> None:
    sent = record(smu)
    check_rows(smu.run(pulse_train()), 1)
    check_rows(smu.run(pulse_train()), 1)  # the second run deletes the first run's lists
    messages = pieces(sent)
    assert sum(m.startswith(":SOUR:CONF:LIST:DEL ") for m in messages) == 2
    assert ":TRIG:TIM1:COUN 5" in messages
    assert ":TRIG:BLOC:BRAN:COUN 13, 5, 6" in messages
    assert_in_step(smu)


def test_run_abort(smu: Keithley2450) -> None:
    sent = record(smu)
    sequence = bipolar_loop(1.0, 1.0, 0.5, 0.01, 1e-4, 1e-3, nplc=0.1)
    asked: list[bool] = []
    data = smu.run(sequence, should_abort=lambda: asked.append(True) or len(asked) > 1)
    assert data.aborted
    assert len(data) == BUFFER_POINTS  # the buffer is still read after :ABOR
    assert sent.count(":ABOR") == 1 and sent.count(":INIT") == 1
    assert_in_step(smu)


def test_abort_before_a_piece_sends_nothing(smu: Keithley2450) -> None:
    sent = record(smu)
    data = smu.run(bipolar_loop(1.0, 1.0, 0.5, 0.01, 1e-4, 1e-3), should_abort=lambda: True)
    assert data.aborted and len(data) == 0
    assert sent == [":SYST:LFR?"]


def test_check_sequence_sends_only_the_line_frequency_query(smu: Keithley2450) -> None:
    sent = record(smu)
    smu.check_sequence(pulse_train())
    smu.check_sequence(bipolar_loop(1.0, 1.0, 0.5, 0.01, 1e-4, 1e-3))
    assert sent == [":SYST:LFR?"]
    assert_in_step(smu)


# Replies are static: :TRAC:ACT? says 5 whatever ran. In dry-run mode the driver takes the count
# the instrument reports, so every sequence runs, every command is accepted and the driver stays
# in step; out of dry-run mode the count mismatch is a reply error naming the segment.
@pytest.mark.parametrize("sequence", [
    bipolar_loop(1.5, 1.5, 0.5, 0.01, 1e-4, 1e-3, nplc=0.1),  # 7 points per segment
    Sequence("TE", (Staircase(tuple(0.01 * (i % 7) for i in range(201)), 0.0, 1e-3),)),
    pulse_train(120),  # stores chunked 50 per message
    pulse_train(read_level=None),  # source-only: expects 0 readings
], ids=["bipolar-7", "list-201", "train-120", "train-no-read"])
def test_other_counts_run_in_dry_run_mode_and_stay_in_step(smu: Keithley2450,
                                                           sequence: Sequence) -> None:
    data = smu.run(sequence)
    assert len(data) == BUFFER_POINTS * len(sequence.segments)
    assert_in_step(smu)


def test_other_counts_are_reply_errors_outside_dry_run_mode(smu: Keithley2450) -> None:
    smu.dry_run = False
    smu._state_and_count = lambda: ("IDLE", 5)  # pyvisa-sim cannot join the chained replies
    with pytest.raises(InstrumentReplyError, match="segment SET stored 5 readings, expected 7"):
        smu.run(bipolar_loop(1.5, 1.5, 0.5, 0.01, 1e-4, 1e-3, nplc=0.1))
    assert_in_step(smu)


# -- safe state and device clear ---------------------------------------------------------------
def test_safe_off_ramps_down_and_turns_off(smu: Keithley2450) -> None:
    smu.apply_voltage(30.0, 0.01)
    sent = record(smu)
    try:
        smu.safe_off()
    except NotImplementedError:  # clear_interface() under @sim: every other step still ran
        pass
    assert sent == [":ABOR", ":SOUR:VOLT 25", ":SOUR:VOLT 20", ":SOUR:VOLT 15", ":SOUR:VOLT 10",
                    ":SOUR:VOLT 5", ":SOUR:VOLT 0;:SOUR:CURR 0", ":OUTP OFF", ":OUTP?"]
    assert smu.source_voltage == 0.0
    assert smu.ask(":SOUR:CURR?").strip() == "0.000000E+00"
    assert smu.output_enabled is False
    assert_in_step(smu)


def test_safe_off_succeeds_under_sim(smu: Keithley2450) -> None:
    smu.safe_off()


def test_clear_interface_under_sim(smu: Keithley2450) -> None:
    smu.clear_interface()


# -- inherited SCPI and transport methods ------------------------------------------------------
def test_common_commands_and_transport(smu: Keithley2450) -> None:
    smu.clear()
    smu.reset()
    smu.check_errors()
    smu.check_get_errors()
    smu.check_set_errors()
    assert smu.ask("*IDN?").strip() == IDN
    smu.write(":SOUR:VOLT:ILIM?")
    assert float(smu.read()) == 1.05e-4
    assert smu.values(":SENS:CURR:NPLC?") == [1.0]
    assert smu.numbers(":SOUR:VOLT?", expected=1) == [0.0]
    smu.write("*STB?")
    assert smu.read_bytes(2) == b"0\n"
    smu.clock.sleep(1.0)
    smu.wait_for(0.0)
    smu.shutdown()
    assert_in_step(smu)
