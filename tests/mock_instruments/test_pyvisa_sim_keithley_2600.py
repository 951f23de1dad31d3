"""The stock pyvisa-sim model of the 2636B (pyvisa_sim/keithley_2600.yaml) with its driver.

pyvisa-sim splits each message on the YAML's delimiter (LF here: the driver writes one TSP
statement-line per line) and each line must match a dialogue or a setter exactly. A line that
matches nothing, or a setter value outside its spec, gets no reply and queues one entry in the
error queue (``print(errorqueue.count)`` / ``print(errorqueue.next())``) and CME in ``*ESR?``.
So each test ends with `assert_in_step`: no queued entries, ``*ESR?`` 0, ``*IDN?`` answered.

pyvisa caches the pyvisa-sim library per YAML path, devices and pending replies included; each
test starts by re-reading the YAML with ``visalib._init()`` and closes its resource manager
(tests/pyvisa_sim_support.py).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

import pytest
from pyvisa.rname import to_canonical_name

from labsyn.drivers.capabilities import SpotReading
from labsyn.drivers.keithley_2600 import (
    CURRENT_RANGES,
    MAX_CURRENT,
    MAX_VOLTAGE,
    MIN_CURRENT_LIMIT,
    MIN_VOLTAGE_LIMIT,
    VOLTAGE_RANGES,
    Keithley2600,
    Keithley2600Channel,
)
from labsyn.drivers.sequence import PulseTrain, Sequence, Staircase, bipolar_loop
from tests.pyvisa_sim_support import (
    PyvisaSim,
    assert_reads_back,
    assert_spec_matches_limits,
    properties,
    record,
)

IDN = "Keithley Instruments Inc., Model 2636B, 4308079, 3.2.2"
ADDRESSES = ("GPIB0::26::INSTR", "TCPIP0::192.168.1.26::inst0::INSTR",
             "USB0::0x05E6::0x2636::4308079::INSTR", "TCPIP0::192.168.1.26::5025::SOCKET")
BUFFER_READINGS = 5  # what print(smuX.nvbuffer1.n) always says
SIM_ERROR = (-285, "pyvisa-sim: no match, or value out of spec")


SIM = PyvisaSim(Keithley2600, "keithley_2600.yaml", IDN, ADDRESSES[0], dry_run=True)
assert_in_step = SIM.assert_in_step


@pytest.fixture(autouse=True)
def fresh_simulation() -> None:
    SIM.reset()


@pytest.fixture
def smu() -> Iterator[Keithley2600]:
    with SIM.opened() as instrument:
        yield instrument


def test_yaml_lists_the_station_addresses_and_splits_on_lines() -> None:
    data = SIM.data()
    assert data["spec"] == "1.1" and data["devices"]["keithley_2600"]["delimiter"] == "\n"
    assert {to_canonical_name(a) for a in ADDRESSES} <= SIM.listed()


@pytest.mark.parametrize("address", ADDRESSES)
def test_driver_opens_at_every_address(address: str) -> None:
    with SIM.opened(address) as smu:
        assert smu.model == "2636B" and smu.line_frequency == 50.0
        assert smu.serial_number == "4308079"
        assert_in_step(smu)


def test_unmatched_lines_queue_one_error_each_and_no_stale_reply(smu: Keithley2600) -> None:
    smu.write("smua.source.levelv = 1\nsmua.bogus = 1\nsmua.source.output = 2")
    assert smu.ask("*ESR?").strip() == "32"
    assert smu.errors() == [SIM_ERROR, SIM_ERROR]
    assert_in_step(smu)


SETTABLE: dict[str, tuple[Any, ...]] = {
    "source_function": ("current", "voltage"),
    "source_voltage": (-MAX_VOLTAGE, -1.5, 0.0, 2.5e-3, MAX_VOLTAGE),
    "current_limit": (MIN_CURRENT_LIMIT, 1e-3, MAX_CURRENT),
    "voltage_limit": (MIN_VOLTAGE_LIMIT, 20.0, MAX_VOLTAGE),
    "source_voltage_range": tuple(VOLTAGE_RANGES),
    "source_voltage_autorange": (False, True),
    "source_delay": (0.0, 1e-3, 1e4),
    "nplc": (0.001, 1.0, 25.0),
    "current_range": tuple(CURRENT_RANGES),
    "current_autorange": (False, True),
    "autozero": ("off", "once", "auto"),
    "measure_delay": (0.0, 0.5, 1e4),
    "measure_count": (1, 10, 60_000),
    "output_enabled": (True, False),
    "output_off_mode": ("normal", "zero", "high_impedance"),
}
READ_ONLY = {"compliance": False}


def test_every_channel_property_is_covered() -> None:
    assert properties(Keithley2600Channel) == set(SETTABLE) | set(READ_ONLY)


@pytest.mark.parametrize(("name", "values"), SETTABLE.items(), ids=list(SETTABLE))
def test_property_set_and_get_on_both_channels(smu: Keithley2600, name: str,
                                               values: tuple[Any, ...]) -> None:
    for target in (smu.smua, smu.smub):
        assert_reads_back(target, name, values, rel=1e-5)
    assert_in_step(smu)


def test_read_only_properties(smu: Keithley2600) -> None:
    assert smu.smua.compliance is False and smu.smub.compliance is False
    assert_in_step(smu)


# The YAML's specs hold the driver's limits: inside is accepted by both; outside is refused by
# the driver (nothing sent) and, sent raw, by the simulated instrument (one queued error).
RANGES = [
    ("source_voltage", "smua.source.levelv = {:.9g}", -MAX_VOLTAGE, MAX_VOLTAGE),
    ("current_limit", "smua.source.limiti = {:.9g}", MIN_CURRENT_LIMIT, MAX_CURRENT),
    ("voltage_limit", "smua.source.limitv = {:.9g}", MIN_VOLTAGE_LIMIT, MAX_VOLTAGE),
    ("nplc", "smua.measure.nplc = {:.9g}", 0.001, 25.0),
    ("source_delay", "smua.source.delay = {:.9g}", 0.0, 1e4),
    ("measure_count", "smua.measure.count = {:d}", 1, 60_000),
]


@pytest.mark.parametrize(("name", "command", "low", "high"), RANGES, ids=[r[0] for r in RANGES])
def test_specs_match_driver_limits(smu: Keithley2600, name: str, command: str, low: float,
                                   high: float) -> None:
    assert_spec_matches_limits(SIM, smu, smu.smua, name, command, low, high, SIM_ERROR,
                               rel=1e-2)


def test_apply_voltage_then_measure(smu: Keithley2600) -> None:
    sent = record(smu)
    smu.smua.apply_voltage(1.5, 1e-3)
    smu.smub.apply_voltage(0.0, 0.5)  # above 0.1 A: level first
    assert len(sent) == 2 and "smub.source.levelv = 0 smub.source.limiti = 0.5" in sent[1]
    assert smu.smua.measure() == SpotReading(voltage=1.0, current=1e-6, limited=False)
    assert_in_step(smu)


BINARY_VALUE = struct.unpack("<f", b"0000")[0]  # the YAML's #0 block: 20 × b"0000"


@pytest.mark.parametrize(("sequence", "binary"), [
    (bipolar_loop(1.0, 1.0, 0.5, 0.01, 1e-4, 1e-3, nplc=0.1), False),
    (Sequence("TE", (Staircase.ramp(0.0, 4.0, 0.02, 0.01, 1e-4, stop_on_limit=True),)), False),
    (Sequence("TE", (Staircase(tuple(0.01 * (i % 7) for i in range(201)), 0.0, 1e-3),)), False),
    (Sequence("TE", (Staircase.ramp(-1.0, 1.0, 0.001, 0.0, 1e-3),)), True),  # 2001 readings
    (Sequence("TE", (PulseTrain.identical(1.0, 1000, 1e-3, 5e-3, 1e-3, read_level=0.1,
                                          read_delay=1e-4),), nplc=0.01), True),
    (Sequence("TE", (PulseTrain(tuple(0.5 + 0.01 * i for i in range(120)), 1e-3, 5e-3, 1e-3,
                                read_level=0.1, read_delay=1e-4),), nplc=0.01), False),
    (Sequence("TE", (PulseTrain.identical(1.0, 10, 1e-3, 5e-3, 1e-3, read_level=0.1),),
              nplc=0.1), False),  # pulse shorter than the aperture: Lua loop
    (Sequence("TE", (PulseTrain.identical(1.0, 10, 1e-3, 5e-3, 1e-3),), nplc=0.1), False),
], ids=["bipolar", "forming-ramp", "list-201", "linear-2001", "train-1000", "train-120",
        "train-loop", "train-no-read"])
def test_every_script_line_is_accepted_on_both_channels(smu: Keithley2600, sequence: Sequence,
                                                        binary: bool) -> None:
    """Static replies: every buffer holds 5 readings (2 rows of a write/read train)."""
    for channel in (smu.smua, smu.smub):
        data = channel.run(sequence)
        rows = len(data) / len(sequence.segments)
        assert rows in (BUFFER_READINGS, BUFFER_READINGS // 2) and not data.aborted
        if binary:
            assert data.source == pytest.approx([BINARY_VALUE] * len(data))
        else:
            assert set(data.source.tolist()) <= {0.0, 0.5, 1.0}
    assert_in_step(smu)


def test_safe_off_switches_off_and_the_outputs_read_back_off(smu: Keithley2600) -> None:
    smu.smua.output_enabled = True
    sent = record(smu)
    smu.safe_off()  # device clear is not implemented by pyvisa-sim: skipped
    assert sent[0] == "smua.abort()\nsmub.abort()"
    assert smu.smua.output_enabled is False and smu.smua.source_voltage == 0.0
    smu.smub.safe_off()
    assert_in_step(smu)


def test_common_commands_and_transport(smu: Keithley2600) -> None:
    smu.clear()
    smu.reset()
    smu.check_errors()
    assert smu.ask("*OPC?").strip() == "1"
    assert smu.numbers("print(smua.measure.nplc)", expected=1) == [1.0]
    assert smu.next_error[0] == 0
    assert_in_step(smu)
