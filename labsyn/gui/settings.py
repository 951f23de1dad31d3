"""One QSettings for the GUI: an INI file from $LABSYN_GUI_SETTINGS, else the user config dir."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, QStandardPaths

ENV = "LABSYN_GUI_SETTINGS"


def settings_path() -> Path:
    """Where the GUI's settings live (the env variable wins; tests point it at a tmp file)."""
    override = os.environ.get(ENV)
    if override:
        return Path(override)
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericConfigLocation)
    return Path(base or Path.home() / ".config") / "labsyn" / "gui.ini"


def settings() -> QSettings:
    """The GUI's settings, INI format; read fresh each call (cheap), so the env is honoured."""
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    return QSettings(str(path), QSettings.Format.IniFormat)


def save_json(key: str, value: Any) -> None:
    """Store a JSON-able value under `key` (QSettings' own types differ per backend)."""
    store = settings()
    store.setValue(key, json.dumps(value, default=str))
    store.sync()


def load_json(key: str, default: Any = None) -> Any:
    """A value stored by `save_json`, or `default` when absent or unreadable."""
    raw = settings().value(key)
    if raw is None:
        return default
    try:
        return json.loads(str(raw))
    except ValueError:
        return default
