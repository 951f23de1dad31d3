"""The run browser over a tmp Store filled by real runs on the simulated demo station."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView

from labsyn.engine.runner import Runner
from labsyn.gui.browser import RunBrowser
from labsyn.gui.spec_plot import select_rows
from labsyn.gui.station_holder import demo_station_path
from labsyn.protocols import get_protocol
from labsyn.station import Station
from labsyn.store import Store
from labsyn.store.schema import DeviceId


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """forming on W1/d1, then two short iv-sweeps on W2/d2 and W2/d3."""
    store = Store(tmp_path_factory.mktemp("runs"))
    with Station.open(demo_station_path()) as station:
        for name, params, device in (("forming", {}, DeviceId("W1", "0,0", "d1")),
                                     ("iv-sweep", {"cycles": 2}, DeviceId("W2", "0,1", "d2")),
                                     ("iv-sweep", {"cycles": 1, "v_set": 1.2},
                                      DeviceId("W2", "0,1", "d3"))):
            result = Runner(station, get_protocol(name), params, store=store,
                            device=device).run()
            assert result.status == "completed", result.message
    return store


@pytest.fixture
def browser(qtbot, store: Store) -> RunBrowser:
    widget = RunBrowser(store)
    qtbot.addWidget(widget)
    widget.resize(1000, 750)
    return widget


def run_ids(store: Store, protocol: str) -> list[str]:
    frame = store.runs()
    return list(frame.loc[frame["protocol"] == protocol, "run_id"])


def test_lists_runs_and_filters(browser: RunBrowser, store: Store) -> None:
    assert browser.model.rowCount() == 3
    assert browser.model.columns[:8] == ["run_id", "protocol", "status", "started", "wafer",
                                         "die", "device", "rows"]
    assert {"v_form", "v_set", "on_off"} <= set(browser.model.figure_columns)
    assert set(browser.visible_run_ids()) == set(store.runs()["run_id"])
    browser.filter_edit.setText("W1")  # wafer
    assert browser.visible_run_ids() == run_ids(store, "forming")
    browser.filter_edit.setText("d3")  # device
    assert len(browser.visible_run_ids()) == 1
    browser.filter_edit.setText("complet")  # status substring
    assert len(browser.visible_run_ids()) == 3
    browser.filter_edit.clear()
    browser.protocol_combo.setCurrentText("iv-sweep")
    assert sorted(browser.visible_run_ids()) == sorted(run_ids(store, "iv-sweep"))
    v_form = browser.model.columns.index("v_form")
    assert browser.table.isColumnHidden(v_form)  # another protocol's figure
    assert not browser.table.isColumnHidden(browser.model.columns.index("v_set"))
    browser.protocol_combo.setCurrentText("all protocols")
    assert len(browser.visible_run_ids()) == 3 and not browser.table.isColumnHidden(v_form)


def test_figure_cells_and_sorting(browser: RunBrowser, store: Store) -> None:
    frame = store.runs()
    forming_row = frame.index[frame["protocol"] == "forming"][0]
    col = browser.model.columns.index("v_form")
    text = browser.model.index(int(forming_row), col).data()
    assert text == f"{frame.at[forming_row, 'v_form']:.4g}"
    iv_row = frame.index[frame["protocol"] == "iv-sweep"][0]
    assert browser.model.index(int(iv_row), col).data() == ""  # NaN shown blank
    browser.table.sortByColumn(browser.model.columns.index("rows"), Qt.SortOrder.AscendingOrder)
    shown = [int(browser.proxy.index(r, 7).data()) for r in range(3)]
    assert shown == sorted(shown)


def test_open_iv_run_fills_plot_params_snapshot_figures(browser: RunBrowser,
                                                        store: Store, qtbot) -> None:
    run_id = run_ids(store, "iv-sweep")[0]
    row = browser.visible_run_ids().index(run_id)
    index = browser.proxy.index(row, 0)
    with qtbot.waitSignal(browser.run_opened, timeout=5000):
        browser.table.doubleClicked.emit(index)
    loaded = store.load(run_id)
    spec = get_protocol("iv-sweep").plots[0]
    (plot,) = browser.plots
    expected = select_rows(loaded.data, spec)
    positive = (expected[spec.y].abs() > 0).sum()  # log |I| axis hides exact zeros
    assert plot.point_count() == positive and positive > 0.9 * len(expected)
    assert sorted(plot.curves) == sorted(expected[spec.group].unique())
    params = {browser.parameters.item(r, 0).text(): browser.parameters.item(r, 1).text()
              for r in range(browser.parameters.rowCount())}
    assert params["cycles"] == "2" and params["v_set"] == "1.5 V"
    top = [browser.snapshot.topLevelItem(i).text(0)
           for i in range(browser.snapshot.topLevelItemCount())]
    assert {"station", "instruments", "terminals", "limits"} <= set(top)
    figures = browser.figures.rows()
    assert set(get_protocol("iv-sweep").figures) <= set(figures)
    assert figures["v_set"].endswith(" V") and "±" in figures["v_set"]
    browser.grab().save("/tmp/browser.png")


def test_overlay_second_run_of_same_protocol(browser: RunBrowser, store: Store) -> None:
    first, second = run_ids(store, "iv-sweep")
    rows = [browser.visible_run_ids().index(r) for r in (first, second)]
    selection = browser.table.selectionModel()
    browser.table.setSelectionMode(QAbstractItemView.SelectionMode.MultiSelection)
    for row in rows:
        browser.table.selectRow(row)
    assert sorted(browser.selected_run_ids()) == sorted([first, second])
    assert selection.hasSelection()
    base, other = browser.selected_run_ids()
    qtbot_click = browser.overlay_button.click
    qtbot_click()
    (plot,) = browser.plots
    curves = plot.overlay_curves[other]
    other_data = select_rows(store.load(other).data, plot.spec)
    assert len(curves) == other_data["cycle"].nunique()
    assert sum(len(c.getOriginalDataset()[0]) for c in curves) == \
        (other_data["current"].abs() > 0).sum()
    assert browser.loaded.run_id == base and browser.overlaid == [other]
    browser.grab().save("/tmp/browser_overlay.png")
    forming = run_ids(store, "forming")[0]
    assert browser.overlay(base, forming) is False  # another protocol: refused, said why
    assert "protocols differ" in browser.status.text()


def test_export_from_context_menu(browser: RunBrowser, store: Store) -> None:
    run_id = run_ids(store, "forming")[0]
    menu = browser.context_menu(run_id)
    actions = {a.text(): a for a in menu.actions() if a.text()}
    assert {"Open", "Export CSV", "Export Parquet"} <= set(actions)
    paths: list[str] = []
    browser.exported.connect(paths.append)
    actions["Export CSV"].trigger()
    actions["Export Parquet"].trigger()
    csv, parquet = map(Path, paths)
    assert csv.suffix == ".csv" and parquet.suffix == ".parquet"
    assert str(parquet) in browser.status.text()
    rows = len(store.load(run_id).data)
    assert len(pd.read_parquet(parquet)) == rows
    assert csv.stat().st_size > 0


def test_refresh_picks_up_new_runs(qtbot, tmp_path: Path) -> None:
    store = Store(tmp_path)
    browser = RunBrowser(store)
    qtbot.addWidget(browser)
    assert browser.model.rowCount() == 0
    with Station.open(demo_station_path()) as station:
        Runner(station, get_protocol("forming"), {}, store=store).run()
    qtbot.mouseClick(browser.refresh_button, Qt.MouseButton.LeftButton)
    assert browser.model.rowCount() == 1
    assert browser.open_run("no-such-run") is False
    assert "no-such-run" in browser.status.text()
