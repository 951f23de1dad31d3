"""Wafer maps: grids in serpentine order, radius and skip lists, the CSV form, errors that name
the line and key, and pads checked against the station's matrix cabling."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from labsyn.batch.wafer_map import check_wafer_map, connections, load_wafer_map, parse_wafer_map
from labsyn.errors import ConfigError
from labsyn.station import load_station_config

ROOT = Path(__file__).resolve().parents[2]
STATION = load_station_config(ROOT / "examples" / "stations" / "wafer_probe_sim.yaml")
DEVICES = [{"name": "D1", "pads": {"TE": "D1.TE", "BE": "D1.BE"}}]


def test_a_grid_is_probed_row_by_row_serpentine_within_the_radius_minus_skips() -> None:
    wafer = parse_wafer_map({"wafer": "W", "dies": {"grid": {"columns": [-1, 1],
                                                             "rows": [-1, 1]},
                                                    "within_radius": 1.0},
                             "skip": [[0, 0]], "devices": DEVICES})
    assert wafer.dies == ((0, 1), (1, 0), (0, 0), (-1, 0), (0, -1))
    assert wafer.probed_dies == ((0, 1), (1, 0), (-1, 0), (0, -1))
    assert wafer.device_count == 4


def test_the_demo_map_loads_and_routes_on_the_demo_station() -> None:
    wafer = load_wafer_map(ROOT / "examples" / "wafer_maps" / "demo_wafer.yaml")
    assert len(wafer.probed_dies) >= 49 and [d.name for d in wafer.devices] == ["D1", "D2"]
    station = SimpleNamespace(config=STATION)
    check_wafer_map(wafer, station)
    assert connections(wafer.devices[1], station) == {"D2.TE": "smu.1", "D2.BE": "gnd"}
    assert wafer.contact_test is not None and wafer.contact_test.accepts(12e3)
    assert not wafer.contact_test.accepts(1e15)


def test_the_csv_form_takes_dies_from_rows_and_the_rest_from_its_header(tmp_path: Path
                                                                        ) -> None:
    path = tmp_path / "w.csv"
    path.write_text("# wafer: W07\n# devices: [{name: D1, pads: {TE: D1.TE, BE: D1.BE}}]\n"
                    "column,row,skip\n0,0\n1,0,1\n1,1,0\n")
    wafer = load_wafer_map(path)
    assert (wafer.wafer, wafer.dies, wafer.probed_dies) == ("W07", ((0, 0), (1, 0), (1, 1)),
                                                            ((0, 0), (1, 1)))
    path.write_text("# wafer: W07\n# devices: [{name: D1, pads: {TE: D1.TE}}]\n0,zero\n")
    with pytest.raises(ConfigError, match=r"w.csv:3: '0,zero' is not column,row"):
        load_wafer_map(path)


@pytest.mark.parametrize("text, message", [
    ("wafer: W\ndies: [[0, 0]]\ndevice: []\n", r"m.yaml:3: device: unknown key"),
    ("wafer: W\ndies: [[0, 0], [0, 0]]\ndevices: []\n", r"die \[0, 0\] is listed twice"),
    ("wafer: W\ndies: [[0, 0]]\nskip: [[5, 5]]\ndevices: []\n", r"skip: die \[5, 5\] is not"),
    ("wafer: W\ndies: [[0, 0]]\ndevices:\n  - {name: D1, pad: {TE: X}}\n",
     r"m.yaml:4: devices.0: a mapping with name and pads"),
    ("wafer: W\ndies: [[0, 0]]\ndevices: [{name: D1, pads: {TE: a}}]\n"
     "contact_test: {name: R1, pads: {TE: b}, resistance: -1}\n",
     r"contact_test.resistance: -1"),
])
def test_bad_maps_name_the_line_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_wafer_map(path)


def test_a_pad_the_matrix_does_not_reach_is_refused() -> None:
    wafer = parse_wafer_map({"wafer": "W", "dies": [[0, 0]],
                             "devices": [{"name": "D9", "pads": {"TE": "D9.TE"}}]})
    with pytest.raises(ConfigError, match=r"device 'D9' pad 'D9.TE' \(TE\): not cabled"):
        check_wafer_map(wafer, SimpleNamespace(config=STATION))
