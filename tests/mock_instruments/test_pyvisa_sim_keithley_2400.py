"""The stock pyvisa-sim model of the Keithley 2400 (pyvisa_sim/keithley_2400.yaml) with its driver.

pyvisa-sim splits every message on ";" and matches each piece exactly; a piece that matches
nothing, or a setter value outside its spec, queues an error (and CME in `*ESR?`) and an unanswered
query times out. So each test ends with `assert_in_step`: empty error queue, `*ESR?` 0, and
`*IDN?` still answered with its own reply. The library object (and every device's settings) is
cached per YAML path for the process; each test resets it with `visalib._init()`
(tests/pyvisa_sim_support.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from labsyn.drivers.keithley_2400 import IDN, Keithley2400
from labsyn.drivers.sequence import PulseTrain, Sequence, Staircase, bipolar_loop
from labsyn.errors import InstrumentReplyError
from tests.pyvisa_sim_support import PyvisaSim, assert_reads_back, properties

ADDRESSES = ("GPIB0::24::INSTR", "ASRL1::INSTR", "TCPIP0::192.168.1.24::1234::SOCKET")
SIM_ERROR = (-100, "Command error (pyvisa-sim: no match, or value out of spec)")
SIM = PyvisaSim(Keithley2400, "keithley_2400.yaml", IDN, ADDRESSES[0])
assert_in_step = SIM.assert_in_step


@pytest.fixture(autouse=True)
def fresh_simulation() -> None:
    SIM.reset()


@pytest.fixture
def smu() -> Iterator[Keithley2400]:
    with SIM.opened() as instrument:
        yield instrument


def test_yaml_lists_the_addresses_and_the_driver_opens_at_each() -> None:
    data = SIM.data()
    assert data["spec"] == "1.1" and set(ADDRESSES) <= set(data["resources"])
    for address in ADDRESSES:
        with SIM.opened(address) as smu:
            assert smu.line_frequency == 50.0
            assert_in_step(smu)


def test_unmatched_command_queues_an_error_and_no_stale_reply(smu: Keithley2400) -> None:
    smu.write(":BOGUS 1")
    smu.write(":SENS:CURR:PROT 5")  # outside the spec
    assert smu.ask("*ESR?").strip() == "32"
    assert smu.errors() == [SIM_ERROR, SIM_ERROR]
    assert_in_step(smu)


BOTH = (True, False)
SETTABLE: dict[str, tuple[Any, ...]] = {
    "output_enabled": BOTH,
    "source_function": ("current", "voltage"),
    "source_delay": (0.0, 1e-3, 9999.998),
    "source_delay_auto": BOTH,
    "source_voltage_range": (0.2, 20.0, 210.0),
    "source_voltage_range_auto": BOTH,
    "current_range": (1e-6, 1e-3, 1.05),
    "current_range_auto": BOTH,
    "current_nplc": (0.01, 1.0, 10.0),
    "autozero": BOTH,
    "output_off_mode": ("normal", "high_impedance", "zero", "guard"),
    "output_auto_off": BOTH,
    "wires": (4, 2),
    "front_terminals": (False, True),
    "buffer_points": (1, 100, 2500),
    "trigger_delay": (0.0, 0.5, 999.9999),
    "arm_timer": (0.001, 1.0, 99999.99),
    "current_limit": (1e-9, 1e-3, 1.05),
    "source_voltage": (-21.0, 2.5e-3, 21.0),
    "voltage_limit": (2e-4, 21.0),
    "source_current": (-1.05, 1e-6, 1.05),
}
READ_ONLY: dict[str, Any] = {"id": IDN, "line_frequency": 50.0, "status": "0", "complete": "1"}
NOT_TESTED_HERE = {"next_error", "options"}


def test_every_driver_property_is_covered() -> None:
    assert properties(Keithley2400) == set(SETTABLE) | set(READ_ONLY) | NOT_TESTED_HERE


def test_every_setting_round_trips_at_its_limits(smu: Keithley2400) -> None:
    for name, values in SETTABLE.items():
        assert_reads_back(smu, name, values)
    assert_in_step(smu)


def test_read_only_properties(smu: Keithley2400) -> None:
    for name, value in READ_ONLY.items():
        got = getattr(smu, name)
        assert (got.strip() if isinstance(got, str) else got) == value, name
    assert_in_step(smu)


SEQUENCES = {
    "linear staircase": Sequence("TE", (Staircase.ramp(0.0, 1.0, 0.01, 0.01, 1e-4),), 0.1),
    "stop on limit": Sequence("TE", (Staircase.ramp(0.0, 4.0, 0.02, 0.01, 1e-4,
                                                    stop_on_limit=True),), 0.1),
    "bipolar loop": bipolar_loop(1.5, 1.6, 0.02, 0.01, 5e-4, 1e-3),
    "long list": Sequence("TE", (Staircase(tuple([0.1, 0.2, 0.3] * 900), 0.0, 1e-3),), 0.01),
    "identical train": Sequence("TE", (PulseTrain.identical(
        1.0, 1000, 1e-3, 5e-3, 1e-3, read_level=0.1, read_delay=0.2e-3),), 0.01),
    "stepped train": Sequence("TE", (PulseTrain(
        tuple(0.5 + 0.01 * k for k in range(60)), 2e-3, 10e-3, 1e-3, read_level=0.1),), 0.01),
    "write-only train": Sequence("TE", (PulseTrain.identical(-1.0, 20, 1e-3, 3e-3, 1e-3),),
                                 0.01),
}


@pytest.mark.parametrize("sequence", SEQUENCES.values(), ids=list(SEQUENCES))
def test_sequences_spot_readings_and_safe_off_stay_in_step(smu: Keithley2400,
                                                           sequence: Sequence) -> None:
    smu.dry_run = True
    smu.apply_voltage(0.0, 1e-4)
    data = smu.run(sequence)
    assert not data.aborted
    assert smu.measure().current == 1e-6
    smu.safe_off()
    assert_in_step(smu)


def test_static_buffer_is_refused_outside_a_dry_run(smu: Keithley2400) -> None:
    with pytest.raises(InstrumentReplyError, match="stored 5 readings, expected 11"):
        smu.run(Sequence("TE", (Staircase.ramp(0.0, 1.0, 0.1, 0.0, 1e-4),)))
