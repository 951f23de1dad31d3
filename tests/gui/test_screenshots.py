"""The docs' screenshot script runs on the real widgets and writes its three pictures."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QImage

from labsyn.gui.screenshots import make_screenshots


def test_the_screenshot_script_grabs_the_window_mid_run_the_browser_and_the_panel(
        qtbot: object, tmp_path: Path) -> None:
    paths = make_screenshots(tmp_path / "shots")
    names = [p.name for p in paths]
    assert names == ["main-window-run.png", "run-browser.png", "analysis-panel.png"]
    sizes = [QImage(str(p)).size() for p in paths]
    assert (sizes[0].width(), sizes[0].height()) == (1600, 1000)
    assert all(s.width() >= 500 and s.height() >= 500 for s in sizes)
