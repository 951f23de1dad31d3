"""The wafer report: heat maps of the figures present (absent ones named), status colours per
device cell, distributions, the worst devices, summary counts, `labsyn report WAFER`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from labsyn.analysis import Estimate
from labsyn.batch.results import device_table
from labsyn.cli import main
from labsyn.report.wafer_maps import STATUS_COLOURS, draw_status_map, map_figure
from labsyn.report.wafer_report import summary, wafer_report, worst_devices
from labsyn.store import Store
from tests.batch.test_results import add_run

DIES = [(c, r) for c in range(-2, 3) for r in range(-2, 3) if c * c + r * r <= 4]


def wafer(root: Path) -> Store:
    """13 dies x 2 devices: V_form rises with the column; die (0,0) D2 failed, (1,1) D1 dead."""
    store = Store(root)
    for c, r in DIES:
        for k, device in enumerate(("D1", "D2")):
            die = f"{c},{r}"
            if (c, r, device) == (1, 1, "D1"):
                add_run(store, die, device, "forming", "failed", message="reads open")
                continue
            add_run(store, die, device, "forming",
                    figures={"v_form": Estimate(2.0 + 0.2 * c + 0.01 * k, 0.02, "V")})
            status = "failed" if (c, r, device) == (0, 0, "D2") else "completed"
            add_run(store, die, device, "iv-sweep", status, message="compliance hit" if
                    status == "failed" else "", figures={
                        "on_off": Estimate(10.0 ** (1 + (r + 2) / 2 + k), None, "")})
    return store


def test_maps_for_present_figures_and_the_absent_ones_named(tmp_path: Path) -> None:
    store = wafer(tmp_path / "data")
    report = wafer_report(device_table(store, "W1"), "W1", tmp_path / "report")
    names = sorted(p.name for p in report.images)
    assert names == ["distributions.png", "map-on_off.png", "map-v_form.png", "map-yield.png"]
    assert [m.split(":")[0] for m in report.missing] == [
        "NL label (LTP)", "NL label (LTD)", "PPF τ1", "PPF τ2"]
    info = report.summary
    assert (info["devices"], info["passed"], info["failed"], info["dies"]) == (26, 24, 2, 13)
    assert abs(info["yield"] - 24 / 26) < 1e-12
    page = report.page.read_text()
    assert "reads open" in page and "compliance hit" in page and "PPF τ1" in page
    assert "92.3 %" in page and all(f"src='{p.name}'" in page for p in report.images)
    assert all(p.exists() for p in report.table_files)
    width, height = Image.open(tmp_path / "report" / "map-v_form.png").size
    assert (width, height) == (640, 560)


def test_status_cells_sit_at_their_die_in_their_colour(tmp_path: Path) -> None:
    table = device_table(wafer(tmp_path), "W1")
    _, axes = map_figure()
    draw_status_map(axes, table)
    cells = {(round(p.get_x() + p.get_width() / 2, 3), round(p.get_y() + p.get_height() / 2, 3)):
             p.get_facecolor() for p in axes.patches if p.get_width() < 1}
    assert len(cells) == 26
    failed_cell = cells[(0.235, 0.0)]  # die (0,0), D2 on the right half
    passed_cell = cells[(-0.235, 0.0)]
    red = np.array(Image.new("RGB", (1, 1), STATUS_COLOURS["failed"]).getpixel((0, 0))) / 255
    green = np.array(Image.new("RGB", (1, 1), STATUS_COLOURS["passed"]).getpixel((0, 0))) / 255
    assert np.allclose(failed_cell[:3], red) and np.allclose(passed_cell[:3], green)


def test_worst_devices_come_from_passed_devices_only(tmp_path: Path) -> None:
    table = device_table(wafer(tmp_path), "W1")
    lists = worst_devices(table, count=3)
    highest = lists["highest V_form (forming.v_form)"]
    assert highest["column"].tolist() == [2, 2, 1]  # (2,0) D1/D2, then column 1
    lowest = lists["lowest on/off ratio (iv-sweep.on_off)"]
    assert (lowest["column"].iloc[0], lowest["row"].iloc[0]) == (0, -2)
    assert (lowest["device"] == "D1").all() and lowest["iv-sweep.on_off"].is_monotonic_increasing
    bad = lists["failed and dead devices"]
    assert sorted(bad["reason"]) == ["forming failed: reads open",
                                     "iv-sweep failed: compliance hit"]
    assert summary(table)["measured"] == 26


def test_labsyn_report_command(tmp_path: Path, capsys: object) -> None:
    wafer(tmp_path / "data")
    assert main(["report", "W1", "--data", str(tmp_path / "data")]) == 0
    assert (tmp_path / "data" / "reports" / "W1" / "index.html").exists()
    assert main(["report", "W9", "--data", str(tmp_path / "data")]) == 2
