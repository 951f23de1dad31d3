"""The main window against the simulated bench: Start runs a protocol to completion, the live
plot fills with the stored run's rows, the figures appear; pause / resume / abort / emergency
off from the toolbar; layout and last station persist."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import Qt

from labsyn.gui.main_window import MainWindow
from labsyn.gui.spec_plot import select_rows, split_groups

WindowFactory = Callable[[Path], MainWindow]


@pytest.fixture
def make_window(qtbot: Any, tmp_path: Path) -> Iterator[WindowFactory]:
    def make(station_file: Path) -> MainWindow:
        window = MainWindow(str(station_file), tmp_path / "data")
        qtbot.addWidget(window)  # closed after the test: closeEvent aborts and waits
        window.show()
        qtbot.waitExposed(window)
        return window
    yield make


def outputs(window: MainWindow) -> set[str]:
    return {s["output"] for s in window.holder.station.bench.status().values()}


def pick(window: MainWindow, name: str, valid: bool = True, **values: Any) -> None:
    dock: Any = window.protocol_dock
    assert dock.select("protocol", name)
    if values:
        dock.form.set_values(values)
    assert dock.validate() == valid, dock.reason


def test_start_runs_forming_fills_the_plot_and_shows_figures(qtbot: Any, make_window: Any,
                                                             sim_station_file: Path) -> None:
    window = make_window(sim_station_file)
    assert window.holder.station is not None
    pick(window, "forming")
    assert window.start_action.isEnabled()
    with qtbot.waitSignal(window.controller.queue_stopped, timeout=20_000) as stopped:
        window.start_action.trigger()
    assert stopped.args == ["done"]
    result = window.last_result
    assert result.status == "completed"
    data = window.store.load(result.run_id).data
    spec = window.protocol.plots[0]
    plot = window.live.plots[spec.name]
    qtbot.waitUntil(lambda: plot.point_count() > 0, timeout=2000)
    expected = dict(split_groups(select_rows(data, spec), spec))
    assert set(plot.curves) == set(expected)
    for key, rows in expected.items():
        x, y = plot.curves[key].getOriginalDataset()
        stored = rows[spec.y].to_numpy(float)
        stored = np.abs(stored) if spec.abs_y else stored
        keep = stored > 0 if spec.y_log else slice(None)
        assert len(x) > 0
        np.testing.assert_allclose(x, rows[spec.x].to_numpy(float)[keep])
        np.testing.assert_allclose(y, stored[keep])
    shown = window.analysis.rows()  # the AnalysisPanel
    assert shown["v_form"].endswith("V") and shown["v_form"][0].isdigit()
    assert window.progress_bar.value() == 1000
    assert window.state_label.text().startswith("completed")
    assert outputs(window) == {"OFF"}


def test_controls_and_shortcuts(make_window: Any, sim_station_file: Path) -> None:
    window = make_window(sim_station_file)
    keys = {a.text(): a.shortcut().toString() for a in
            (window.start_action, window.pause_action, window.abort_action,
             window.emergency_action)}
    assert keys == {"Start": "F5", "Pause": "F6", "Abort": "Esc",
                    "EMERGENCY OFF": "Ctrl+Shift+E"}
    assert not window.pause_action.isEnabled() and not window.abort_action.isEnabled()
    assert window.emergency_action.isEnabled() and window.emergency_button.isVisible()
    pick(window, "forming", valid=False, v_max=9.0)  # above the station's 5 V limit
    dock: Any = window.protocol_dock
    assert "v_max" in dock.reason
    assert not window.start_action.isEnabled()
    pick(window, "forming", v_max=4.0)
    assert window.start_action.isEnabled()


@pytest.mark.parametrize("sim_station_file", [{"clock": "paced", "speedup": 20.0}],
                         indirect=True)
def test_pause_resume_and_abort_from_the_toolbar(qtbot: Any, make_window: Any,
                                                 sim_station_file: Path) -> None:
    window = make_window(sim_station_file)
    pick(window, "iv-sweep", cycles=60)
    window.start_action.trigger()
    buffers = window.live.buffers["iv"]
    qtbot.waitUntil(lambda: buffers.total > 0, timeout=10_000)
    assert window.pause_action.isEnabled() and not window.start_action.isEnabled()
    window.pause_action.trigger()
    qtbot.waitUntil(lambda: window.controller.state == "paused", timeout=10_000)
    assert window.pause_action.text() == "Resume"
    assert window.state_label.text() == "paused"
    held = buffers.total
    qtbot.wait(700)
    assert buffers.total == held
    window.pause_action.trigger()
    qtbot.waitUntil(lambda: buffers.total > held, timeout=10_000)
    assert outputs(window) == {"ON"}
    with qtbot.waitSignal(window.controller.queue_stopped, timeout=15_000):
        qtbot.keyClick(window, Qt.Key.Key_Escape)  # Abort's shortcut
    assert window.last_result.status == "aborted"
    assert outputs(window) == {"OFF"}
    assert window.start_action.isEnabled()


@pytest.mark.parametrize("sim_station_file", [{"clock": "paced", "speedup": 20.0}],
                         indirect=True)
def test_emergency_off_idle_and_running(qtbot: Any, make_window: Any,
                                        sim_station_file: Path) -> None:
    window = make_window(sim_station_file)
    smu = window.holder.station.instruments["smu"]
    smu.rearm()
    smu.write(":OUTP ON")
    assert outputs(window) == {"ON"}
    window.emergency_action.trigger()
    assert outputs(window) == {"OFF"}
    pick(window, "iv-sweep", cycles=60)
    window.start_action.trigger()
    qtbot.waitUntil(lambda: outputs(window) == {"ON"}, timeout=10_000)
    window.emergency_action.trigger()
    assert outputs(window) == {"OFF"}
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=15_000)
    assert window.last_result.status == "aborted"
    assert outputs(window) == {"OFF"}


def test_layout_and_last_station_persist(qtbot: Any, tmp_path: Path, settings_file: Path,
                                         sim_station_file: Path) -> None:
    first = MainWindow(str(sim_station_file), tmp_path / "data")
    qtbot.addWidget(first)
    first.show()
    qtbot.waitExposed(first)
    assert first.docks["queue"].isVisible()
    first.docks["queue"].hide()
    first.close()
    assert "geometry" in settings_file.read_text()
    again = MainWindow(None, tmp_path / "data")  # no --station: the last one
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    assert again.holder.path == str(sim_station_file)
    assert again.holder.station is not None
    assert not again.docks["queue"].isVisible()  # the dock layout came back
    assert again.docks["analysis"].isVisible()


def test_a_bad_station_file_is_reported_not_fatal(qtbot: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ninstruments: {}\nterminals: {TE: {instrument: nope, channel: 1}}\n")
    window = MainWindow(str(bad), tmp_path / "data")
    qtbot.addWidget(window)
    assert window.holder.station is None
    assert not window.start_action.isEnabled()
    assert "could not open station" in window.statusBar().currentMessage()
