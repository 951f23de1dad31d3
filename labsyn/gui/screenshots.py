"""Screenshots of the real widgets on the simulated bench, for the docs:

    QT_QPA_PLATFORM=offscreen python -m labsyn.gui.screenshots docs/screenshots

Forms the demo cell, runs I-V loops on a paced clock and grabs the main window mid-run, then
LTP/LTD: the run browser with that run opened and the analysis panel with its fits. Settings and
run files go to a temporary directory, never the user's.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

PRESET = "hfox_slow"
LTP_LTD = {"v_ltp": 0.92, "v_ltd": -1.05, "pulses": 300, "cycles": 2, "read_delay": 0.25,
           "period": 0.3}


def _station_file(directory: Path, clock: str, speedup: float) -> Path:
    config = yaml.safe_load(Path(str(files("labsyn.station") / "demo_station.yaml")).read_text())
    config.update({"clock": clock, "speedup": speedup})
    config["sim"]["preset"] = PRESET
    path = directory / f"station_{clock}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _wait(app: Any, condition: Any, timeout: float) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("the simulated run did not get there in time")
        app.processEvents()
        time.sleep(0.01)


def make_screenshots(dest: Path) -> list[Path]:
    """main-window-run.png, run-browser.png and analysis-panel.png in `dest`."""
    work = Path(tempfile.mkdtemp(prefix="labsyn-screens-"))
    os.environ["LABSYN_GUI_SETTINGS"] = str(work / "gui.ini")
    from PySide6.QtWidgets import QApplication

    from labsyn.gui.controller import Job
    from labsyn.gui.main_window import MainWindow
    from labsyn.store import DeviceId

    app = QApplication.instance() or QApplication(sys.argv[:1])
    dest.mkdir(parents=True, exist_ok=True)
    window = MainWindow(str(_station_file(work, "paced", 40.0)), work / "data")
    window.resize(1600, 1000)
    window.show()
    device = DeviceId("W01", "3,4", "7")
    controller = window.controller
    controller.start(Job("protocol", "forming", {}, device, "forming"))
    controller.enqueue(Job("protocol", "iv-sweep", {"cycles": 12}, device, "iv-sweep"))
    controller.enqueue(Job("protocol", "ltp-ltd", dict(LTP_LTD), device, "ltp-ltd"))
    _wait(app, lambda: window.protocol is not None and window.protocol.name == "iv-sweep"
          and len(window.live.plots["iv"].curves) >= 5, 300)
    _settle(app)
    paths = [_grab(window, dest / "main-window-run.png")]
    _wait(app, lambda: not controller.busy and not controller.queue, 600)
    _settle(app)
    browser, dock = window.browser, window.docks["browser"]
    browser.refresh()
    browser.open_run(window.last_result.run_id)
    dock.setFloating(True)
    dock.resize(1300, 820)
    _settle(app)
    paths.append(_grab(browser, dest / "run-browser.png"))
    window.analysis.resize(520, 620)
    paths.append(_grab(window.analysis, dest / "analysis-panel.png"))
    window.close()
    return paths


def _settle(app: Any) -> None:
    for _ in range(20):
        app.processEvents()
        time.sleep(0.02)


def _grab(widget: Any, path: Path) -> Path:
    if not widget.grab().save(str(path)):
        raise OSError(f"could not write {path}")
    return path


def main() -> int:
    dest = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/screenshots")
    for path in make_screenshots(dest):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
