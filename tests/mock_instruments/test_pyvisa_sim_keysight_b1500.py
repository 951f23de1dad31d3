"""The stock pyvisa-sim model of the B1500A (pyvisa_sim/keysight_b1500.yaml) with its driver.

pyvisa-sim splits each message on ";" and every piece must match a dialogue or a setter; one that
matches nothing, or a value outside its spec, gets no reply and queues an error in ``ERRX?``. So
each test ends with `assert_in_step`: the error queue is empty and ``*IDN?`` still gets its own
reply. The cached library is reset around each test (pyvisa-sim keeps devices across closes:
tests/pyvisa_sim_support.py).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import pytest
from pyvisa.rname import to_canonical_name

from labsyn.drivers.capabilities import SpotReading
from labsyn.drivers.keysight_b1500 import B1500SMU, KeysightB1500
from labsyn.drivers.sequence import PulseTrain, Sequence, Staircase, bipolar_loop
from labsyn.errors import InstrumentReplyError, LimitError
from tests.pyvisa_sim_support import PyvisaSim, record

IDN = "Agilent Technologies,B1500A,0,A.06.01.2019.0308"
ADDRESSES = ("GPIB0::17::INSTR", "TCPIP0::192.168.1.17::inst0::INSTR",
             "USB0::0x0957::0x0001::0001::0::INSTR")
SIM_ERROR = (100, "Undefined GPIB command. (pyvisa-sim: no match, or value out of spec)")
BLOCK_POINTS = 5  # the XE dialogue's block
SIM = PyvisaSim(KeysightB1500, "keysight_b1500.yaml", IDN, ADDRESSES[0], dry_run=True,
                esr=False)  # the YAML has no *ESR?: its errors are in ERRX? only
assert_in_step = SIM.assert_in_step


@pytest.fixture(autouse=True)
def fresh_simulation() -> None:
    SIM.reset()


@pytest.fixture
def analyzer() -> Iterator[KeysightB1500]:
    with SIM.opened() as opened:
        yield opened


@pytest.fixture
def smu(analyzer: KeysightB1500) -> B1500SMU:
    return analyzer.channels_by_number[1]


def test_yaml_lists_the_station_addresses() -> None:
    assert SIM.data()["spec"] == "1.1"
    assert {to_canonical_name(a) for a in ADDRESSES} <= SIM.listed()


@pytest.mark.parametrize("address", ADDRESSES)
def test_driver_opens_at_every_address_with_its_smu_channels(address: str) -> None:
    with SIM.opened(address) as analyzer:
        assert sorted(analyzer.channels_by_number) == [1, 2, 4]
        assert analyzer.modules[3] == "B1520A"
        assert_in_step(analyzer)


def test_unmatched_or_out_of_spec_commands_queue_errors(analyzer: KeysightB1500) -> None:
    analyzer.write("BOGUS 1")
    analyzer.write("AIT 0,2,101")  # the spec says 1 … 100, as the driver does
    assert analyzer.errors() == [SIM_ERROR, SIM_ERROR]
    assert_in_step(analyzer)


SETTINGS: dict[str, tuple[Any, ...]] = {
    "enabled": (False, True), "adc_type": ("high_speed", "high_resolution"),
    "filter_enabled": (True, False), "series_resistor": (True, False),
    "current_measure_range": (0, 11, -19), "voltage_measure_range": (0, 20, -1000),
    "source_voltage": (-100.0, 0.5), "current_limit": (1e-9, 0.02),
}
MAINFRAME: dict[str, tuple[Any, ...]] = {
    "high_speed_adc_plc": (1, 100), "high_speed_adc_samples": (1, 1023),
    "high_resolution_adc_plc": (1, 100), "auto_calibration": (True, False),
    "autozero": (True, False),
}


def test_every_setting_is_covered() -> None:
    def settable(cls: type) -> set[str]:
        """Properties that send a setting (what the limit meta-test drives too)."""
        found = set()
        for name, attr in inspect.getmembers(cls):
            if not isinstance(attr, property) or attr.fset is None:
                continue
            parameters = inspect.signature(attr.fset).parameters
            command = parameters.get("set_command")
            if hasattr(attr.fset, "limits") or (command is not None and command.default):
                found.add(name)
        return found

    assert settable(B1500SMU) == set(SETTINGS)
    assert settable(KeysightB1500) == set(MAINFRAME)


@pytest.mark.parametrize(("name", "values"), SETTINGS.items(), ids=list(SETTINGS))
def test_channel_settings_are_accepted(analyzer: KeysightB1500, smu: B1500SMU, name: str,
                                       values: tuple[Any, ...]) -> None:
    smu.enabled = True  # DV needs the output switch closed
    for value in values:
        setattr(smu, name, value)
    assert_in_step(analyzer)


@pytest.mark.parametrize(("name", "values"), MAINFRAME.items(), ids=list(MAINFRAME))
def test_mainframe_settings_are_accepted(analyzer: KeysightB1500, name: str,
                                         values: tuple[Any, ...]) -> None:
    for value in values:
        setattr(analyzer, name, value)
    with pytest.raises(LimitError):
        setattr(analyzer, name, "yes" if isinstance(values[0], bool) else values[-1] + 1)
    assert_in_step(analyzer)


def test_apply_voltage_and_measure(analyzer: KeysightB1500, smu: B1500SMU) -> None:
    sent = record(analyzer)
    smu.apply_voltage(1.5, 1e-3)
    assert smu.measure() == SpotReading(voltage=1.0, current=1e-6, limited=False)
    assert sent == ["CN 1;DV 1,0,1.5,0.001", "TI 1,0;TV 1,0"]
    assert_in_step(analyzer)


@pytest.mark.parametrize("sequence", [
    bipolar_loop(1.5, 1.5, 0.02, 0.01, 1e-4, 1e-3, nplc=0.1),  # 4 linear sweeps
    Sequence("TE", (Staircase.ramp(0.0, 2.0, 0.1, 0.01, 1e-4, stop_on_limit=True),)),
    Sequence("TE", (PulseTrain.identical(1.0, 200, 1e-3, 16e-3, 1e-3, read_level=0.1,
                                         read_delay=4e-3),)),
    Sequence("TE", (PulseTrain((1.0, 1.1, 1.2), 1e-3, 6e-3, 1e-3, read_level=0.1,
                               read_delay=4e-3),)),
    Sequence("TE", (PulseTrain.identical(1.0, 20, 1e-3, 10e-3, 1e-3),)),
    Sequence("TE", (PulseTrain((1.0,), 1e-3, 10e-3, 1e-3),)),
], ids=["bipolar", "forming-ramp", "pairs-200", "pairs-varying", "source-only", "single"])
def test_sequences_run_in_dry_run_mode_and_stay_in_step(analyzer: KeysightB1500, smu: B1500SMU,
                                                        sequence: Sequence) -> None:
    data = smu.run(sequence)
    segment = sequence.segments[0]
    if isinstance(segment, PulseTrain):
        assert len(data) == (segment.points if segment.read_level is not None else 0)
    else:
        assert 0 < len(data) <= sequence.points and not data.aborted
    assert_in_step(analyzer)


def test_other_counts_are_reply_errors_outside_dry_run_mode(analyzer: KeysightB1500,
                                                             smu: B1500SMU) -> None:
    analyzer.dry_run = False
    with pytest.raises(InstrumentReplyError, match="returned 5 readings, expected 7"):
        smu.run(Sequence("TE", (Staircase.ramp(0.0, 0.6, 0.1, 0.01, 1e-4, "up"),)))
    assert_in_step(analyzer)


def test_abort_in_dry_run_drains_the_static_replies(analyzer: KeysightB1500,
                                                    smu: B1500SMU) -> None:
    train = PulseTrain.identical(1.0, 200, 1e-3, 16e-3, 1e-3, read_level=0.1, read_delay=4e-3)
    assert smu.run(Sequence("TE", (train,)), should_abort=lambda: True).aborted
    assert_in_step(analyzer)


def test_safe_off_and_reset(analyzer: KeysightB1500, smu: B1500SMU) -> None:
    smu.apply_voltage(30.0, 0.01)
    sent = record(analyzer)
    analyzer.safe_off()  # device clear is skipped: pyvisa-sim has none
    assert sent[:2] == ["AB", "DV 1,0,25,0.01"] and sent[-3:] == ["DZ;CL", "BC", "*LRN? 0"]
    smu.safe_off()
    analyzer.reset()
    assert_in_step(analyzer)
