"""GUI fixtures: a private settings file (always), simulated station files, a tmp Store."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
import yaml

from labsyn.store import Store

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# a safety net for module-scoped widgets made before `settings_file` runs: never the user's file
os.environ.setdefault("LABSYN_GUI_SETTINGS",
                      str(Path(tempfile.mkdtemp(prefix="labsyn-gui-")) / "gui.ini"))
DEMO_STATION = Path(str(files("labsyn.station") / "demo_station.yaml"))


def make_station_file(directory: Path, clock: str = "instant", speedup: float = 100.0,
                      **changes: Any) -> Path:
    """A copy of the demo station with `clock`, `speedup` (and any top-level key) changed."""
    config = yaml.safe_load(DEMO_STATION.read_text())
    config.update({"clock": clock, "speedup": speedup, **changes})
    path = directory / f"demo_{clock}_{speedup:g}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture(autouse=True)
def settings_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """LABSYN_GUI_SETTINGS -> a tmp INI file, so no test reads or writes the user's settings."""
    path = tmp_path / "settings" / "gui.ini"
    monkeypatch.setenv("LABSYN_GUI_SETTINGS", str(path))
    return path


@pytest.fixture
def sim_station_file(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """The demo station copied to tmp_path; parametrize indirectly with a dict to change it,
    e.g. ``@pytest.mark.parametrize("sim_station_file", [{"clock": "paced", "speedup": 20}],
    indirect=True)``."""
    options = dict(getattr(request, "param", None) or {})
    return make_station_file(tmp_path, **options)


@pytest.fixture
def paced_station_file(tmp_path: Path) -> Path:
    """The demo station on the paced clock (virtual time x20), so pause / abort land mid-run."""
    return make_station_file(tmp_path, clock="paced", speedup=20.0)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    yield Store(tmp_path / "data")
