"""Station files: validation with file/line/key errors, wiring, limits, snapshot, safe state."""

from __future__ import annotations

from pathlib import Path

import pytest

from labsyn.errors import ConfigError, InstrumentCommunicationError, LimitError
from labsyn.station import Station, load_station_config

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "stations"
GOOD = (EXAMPLES / "keithley_2450_sim.yaml").read_text()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "station.yaml"
    path.write_text(text)
    return path


def test_example_stations_load() -> None:
    for path in EXAMPLES.glob("*.yaml"):
        assert load_station_config(path).instruments


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("driver: keithley_2450", "driver: keithley2450",
     r":7: instruments\.smu\.driver: 'keithley2450' is not one of .*keithley_2450"),
    ("address: GPIB0::24::INSTR", "address: GPIB-24",
     r":8: instruments\.smu\.address: 'GPIB-24' is not a VISA resource name"),
    ("clock: instant ", "clock: fast ", r":4: clock: .*'instant', 'paced' or 'real'"),
    ("  TE: {instrument: smu, channel: 1,", "  TE: {instrument: smx, channel: 1,",
     r"terminals\.TE\.instrument 'smx' is not one of the instruments: smu"),
    ("  max_current_limit: 1.0e-3", "  max_current_limit: 5.0",
     r"limits\.max_current_limit: Input should be less than or equal to 1.05"),
    ("sim:\n", "sim:\n  colour: red\n", r"sim\.colour: Extra inputs are not permitted"),
    ("series_resistance: 100.0}", "series_resistance: -5}",
     r":11: terminals\.TE\.series_resistance: Input should be greater than or equal to 0"),
])
def test_bad_station_files_name_file_line_key_and_what_is_allowed(
        tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(ConfigError, match=expected) as info:
        load_station_config(path)
    assert str(path) in str(info.value)


def test_unreadable_and_non_mapping_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_station_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="mapping"):
        load_station_config(write(tmp_path, "- just\n- a list\n"))


def test_terminals_limits_and_snapshot_of_the_simulated_station() -> None:
    with Station.open(EXAMPLES / "keithley_2450_sim.yaml") as station:
        te = station.terminal("TE")
        assert te.instrument == "smu" and te.max_voltage == 5.0
        assert station.terminal("BE").grounded
        station.check_voltage("TE", 4.9)
        with pytest.raises(LimitError, match=r"TE voltage.*5 V"):
            station.check_voltage("TE", -5.1)
        with pytest.raises(LimitError, match="compliance"):
            station.check_current_limit(2e-3)
        with pytest.raises(ConfigError, match="gate"):
            station.terminal("gate")
        snapshot = station.snapshot()
        assert snapshot["instruments"]["smu"]["idn"].startswith("KEITHLEY")
        assert snapshot["instruments"]["smu"]["simulated"] is True
        te.driver.apply_voltage(0.2, 1e-4)
        sim = station.bench.instruments["GPIB0::24::INSTR"]
        assert sim.channel.state_at(station.clock.now()).on
    assert not sim.channel.state_at(station.clock.now()).on


def test_same_station_twice_measures_the_same_simulated_device() -> None:
    readings = []
    for _ in range(2):
        with Station.open(EXAMPLES / "keithley_2450_sim.yaml") as station:
            station.terminal("TE").driver.apply_voltage(2.0, 1e-4)
            readings.append(station.bench.timeline.duts[0].device.truth.v_form)
    assert readings[0] == readings[1]


def test_a_station_whose_instrument_cannot_be_opened_says_which_and_why(tmp_path: Path) -> None:
    text = (EXAMPLES / "keithley_2450_lab.yaml").read_text()
    text = text.replace('visa_library: ""', 'visa_library: "@py"')
    text = text.replace("address: GPIB0::24::INSTR", "address: TCPIP0::127.0.0.1::9::SOCKET")
    with pytest.raises(InstrumentCommunicationError, match=r"smu: command .*refused"):
        Station.open(write(tmp_path, text))

