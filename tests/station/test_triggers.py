"""Trigger links in the station file: declared, validated against each driver's trigger lines,
linked on the simulated bench."""

from __future__ import annotations

from pathlib import Path

import pytest

from labsyn.errors import ConfigError
from labsyn.station import Station
from labsyn.station.config import load_station_config

EXAMPLE = Path("examples/stations/pulser_smu_sim.yaml")


def with_triggers(tmp_path: Path, triggers: str) -> Path:
    text = EXAMPLE.read_text()
    start = text.index("triggers:")
    end = text.index("limits:")
    path = tmp_path / "station.yaml"
    path.write_text(text[:start] + triggers + "\n" + text[end:])
    return path


def test_the_example_station_links_the_smu_digital_line_to_the_pulser_input() -> None:
    with Station.open(EXAMPLE) as station:
        link = station.trigger_link("smu", "pg")
        assert (link.source_line, link.target_line, link.delay_s) == ("DIG1", "EXT", 0.0)
        [bench_link] = station.bench.links
        assert bench_link.source.name == "smu" and bench_link.target.name == "pg"
        assert (bench_link.source_line, bench_link.target_line) == ("DIG1", "EXT")
        assert station.snapshot()["triggers"] == [{"from": "smu.DIG1", "to": "pg.EXT",
                                                   "delay_s": 0.0}]
        with pytest.raises(ConfigError, match="no trigger link from 'pg' to 'smu'"):
            station.trigger_link("pg", "smu")


def test_line_names_are_case_insensitive_and_a_cable_delay_is_kept(tmp_path: Path) -> None:
    path = with_triggers(tmp_path, "triggers:\n  - {from: smu.dig1, to: pg.ext, delay_s: 1.0e-7}")
    with Station.open(path) as station:
        assert station.bench.links[0].delay == pytest.approx(1e-7)
        assert station.trigger_link("smu", "pg").target == "pg.EXT"


@pytest.mark.parametrize(("triggers", "message"), [
    ("  - {from: smu.DIG1, to: scope.EXT}",
     r"station.yaml:\d+: triggers\.0\.to: instrument 'scope' is not one of the instruments"),
    ("  - {from: smu.DIG1, to: pg.TRIG2}",
     r"triggers\.0\.to: 'pg' \(keysight_33500b\) has no trigger input line 'TRIG2'; "
     "its trigger inputs: EXT"),
    ("  - {from: smu.DIG9, to: pg.EXT}",
     r"triggers\.0\.from: 'smu' \(keithley_2450\) has no trigger output line 'DIG9'"),
    ("  - {from: pg.EXT, to: smu.DIG1}",
     r"triggers\.0\.from: 'pg' \(keysight_33500b\) has no trigger output line 'EXT'; "
     "its trigger outputs: none"),
    ("  - {from: smu, to: pg.EXT}", r"triggers\.0\.from: 'smu' is not instrument\.line"),
    ("  - {from: smu.DIG1, to: pg.EXT, cable: 2}", r"triggers\.0\.cable"),
])
def test_a_trigger_to_an_unknown_instrument_or_line_is_refused_naming_it(
        tmp_path: Path, triggers: str, message: str) -> None:
    path = with_triggers(tmp_path, "triggers:\n" + triggers)
    with pytest.raises(ConfigError, match=message):
        load_station_config(path)


def test_a_station_without_triggers_has_none(tmp_path: Path) -> None:
    config = load_station_config(with_triggers(tmp_path, ""))
    assert config.triggers == []
