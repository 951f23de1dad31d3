"""The station dock against the simulated demo bench, through the real StationHolder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from labsyn.gui.station_dock import StationDock
from labsyn.gui.station_holder import StationHolder, demo_station_path


@pytest.fixture
def holder(qtbot) -> Iterator[StationHolder]:
    holder = StationHolder()
    yield holder
    holder.close()


def table_texts(table) -> list[list[str]]:
    return [[table.item(r, c).text() for c in range(table.columnCount())]
            for r in range(table.rowCount())]


def test_lists_the_demo_instrument_with_idn_and_simulated_badge(qtbot, holder) -> None:
    dock = StationDock(holder)
    qtbot.addWidget(dock)
    assert dock.instruments.rowCount() == 0 and dock.connect_button.isEnabled()
    qtbot.mouseClick(dock.connect_button, Qt.MouseButton.LeftButton)  # no file: the demo bench
    assert holder.station is not None
    (row,) = dock.instrument_rows()
    assert row["Role"] == "smu" and row["Driver"] == "keithley_2450"
    assert row["Address"] == "GPIB0::24::INSTR"
    assert row["IDN"] == holder.station.instruments["smu"].id and "2450" in row["IDN"]
    assert row["State"] == "connected" and row["Badge"] == "simulated"
    assert "simulated: labsyn-sim" in dock.header.text()
    assert not dock.connect_button.isEnabled() and dock.reconnect_button.isEnabled()
    assert table_texts(dock.terminals) == [["TE", "smu.1", "100 Ω", "", ""],
                                           ["BE", "ground", "", "", ""]]
    limits = dict(map(tuple, table_texts(dock.limits)))
    assert limits["max |V| at TE"] == "5 V"
    assert limits["max compliance"] == "1 mA"
    dock.resize(700, 500)
    dock.grab().save("/tmp/station_dock.png")


def test_reconnect_opens_a_fresh_station(qtbot, holder) -> None:
    dock = StationDock(holder)
    qtbot.addWidget(dock)
    assert dock.open_file(demo_station_path())
    first = holder.station
    with qtbot.waitSignal(holder.changed, timeout=5000,
                          check_params_cb=lambda station: station is not None):
        qtbot.mouseClick(dock.reconnect_button, Qt.MouseButton.LeftButton)
    assert holder.station is not None and holder.station is not first
    assert dock.instrument_rows()[0]["State"] == "connected"


def test_bad_station_file_shows_the_error_and_clears(qtbot, holder, tmp_path: Path,
                                                     monkeypatch) -> None:
    dock = StationDock(holder)
    qtbot.addWidget(dock)
    dock.connect_station()
    assert dock.instruments.rowCount() == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ninstruments:\n"
                   "  smu: {driver: keithley2450, address: GPIB0::1::INSTR}\n"
                   "terminals: {TE: {instrument: smu}}\n")
    monkeypatch.setattr(dock, "choose_file", lambda: str(bad))
    qtbot.mouseClick(dock.open_button, Qt.MouseButton.LeftButton)
    assert holder.station is None
    assert dock.instruments.rowCount() == 0
    assert "keithley2450" in dock.message.text()  # the validation error names the bad value
    assert "No station open" in dock.header.text()
    monkeypatch.setattr(dock, "choose_file", lambda: "")  # cancelled dialog: nothing happens
    assert dock.open_file() is False
