"""The protocol dock: pick a protocol or recipe, fill its generated form, check it against the
station on every edit (Start stays disabled with the reason shown until it passes), keep
presets per protocol, name the target device, and ask for a start or a place in the queue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from labsyn.batch import Recipe, check_recipe, load_recipe
from labsyn.batch.recipe import recipe_summary
from labsyn.errors import LabsynError
from labsyn.gui.controller import Job
from labsyn.gui.param_form import ParamForm
from labsyn.gui.recipe_files import example_recipe_files
from labsyn.gui.settings import load_json, save_json
from labsyn.protocols import PROTOCOLS, get_protocol
from labsyn.store import DeviceId

RECIPES_KEY = "recipes/files"
LAST_KEY = "protocol_dock/last"
ERROR_STYLE = "color: #d32f2f;"
OK_STYLE = "color: #2e7d32;"


def preset_key(protocol: str) -> str:
    return f"presets/{protocol}"


def _button(text: str, slot: Any) -> QPushButton:
    button = QPushButton(text)
    button.clicked.connect(slot)
    return button


def _row(holder: QWidget, *widgets: QWidget, stretch: int) -> QWidget:
    """Lay `widgets` out in a row on `holder`, the one at index `stretch` taking the space."""
    box = QHBoxLayout(holder)
    box.setContentsMargins(0, 0, 0, 0)
    for index, widget in enumerate(widgets):
        box.addWidget(widget, 1 if index == stretch else 0)
    return holder


class ProtocolDock(QWidget):
    """Protocol / recipe picker, parameter form, presets, device and Start / Add to queue."""

    start_requested = Signal(object)  # Job
    queue_requested = Signal(object)  # Job
    validity_changed = Signal(bool, str)

    def __init__(self, station: Any = None, parent: QWidget | None = None,
                 restore: bool = True) -> None:
        super().__init__(parent)
        self.station = station
        self.protocol: Any = None
        self.recipe: Recipe | None = None
        self._recipe_error = ""
        self._valid = False
        self._reason = "nothing picked"
        self._last_values: dict[str, dict[str, Any]] = {}
        self._build()
        self._fill_picker()
        state = load_json(LAST_KEY) if restore else None
        if isinstance(state, dict):
            self.restore_state(state)
        else:
            self._on_pick()

    # -- layout ---------------------------------------------------------------------------------
    def _build(self) -> None:
        self.picker = QComboBox()
        self.picker.setMinimumContentsLength(24)
        self.picker.currentIndexChanged.connect(self._on_pick)
        self.open_recipe_button = _button("Open recipe…", self._open_recipe_dialog)
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.form = ParamForm()
        self.form.edited.connect(self.validate)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.form)
        self.recipe_view = QPlainTextEdit()
        self.recipe_view.setReadOnly(True)
        self.stack = QStackedWidget()
        self.stack.addWidget(scroll)
        self.stack.addWidget(self.recipe_view)

        self.reset_button = _button("Reset to defaults", self.form.reset_defaults)
        self.preset_box = QComboBox()
        self.preset_box.setEditable(True)
        self.preset_box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.preset_box.lineEdit().setPlaceholderText("preset name")
        self.load_preset_button = _button("Load", lambda: self.load_preset(self._preset_name()))
        self.save_preset_button = _button("Save", lambda: self.save_preset(self._preset_name()))
        self.delete_preset_button = _button(
            "Delete", lambda: self.delete_preset(self._preset_name()))
        self.preset_row = QWidget()
        _row(self.preset_row, QLabel("Preset"), self.preset_box, self.load_preset_button,
             self.save_preset_button, self.delete_preset_button, stretch=1)

        self.wafer_edit, self.die_edit, self.device_edit = QLineEdit(), QLineEdit(), QLineEdit()
        device_box = QGroupBox("Target device")
        device_form = QFormLayout(device_box)
        for label, edit, hint in (("Wafer", self.wafer_edit, "e.g. W12"),
                                  ("Die", self.die_edit, "e.g. 3,4"),
                                  ("Device", self.device_edit, "e.g. 0")):
            edit.setPlaceholderText(hint)
            device_form.addRow(label, edit)

        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.start_button = _button("Start", self.request_start)
        self.queue_button = _button("Add to queue", self.request_queue)

        layout = QVBoxLayout(self)
        layout.addWidget(_row(QWidget(), self.picker, self.open_recipe_button, stretch=0))
        layout.addWidget(self.title)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.preset_row)
        layout.addWidget(device_box)
        layout.addWidget(self.error_label)
        layout.addWidget(_row(QWidget(), self.reset_button, QLabel(), self.queue_button,
                              self.start_button, stretch=1))

    def _fill_picker(self) -> None:
        self.picker.blockSignals(True)
        self.picker.clear()
        for name in PROTOCOLS:
            self.picker.addItem(f"{name} — {get_protocol(name).title}", f"protocol:{name}")
        self.picker.insertSeparator(self.picker.count())
        paths = [*example_recipe_files(), *(Path(p) for p in load_json(RECIPES_KEY, []))]
        seen: set[str] = set()
        for path in paths:
            key = str(path.resolve())
            if key in seen or not path.is_file():
                continue
            seen.add(key)
            self.picker.addItem(f"recipe: {path.stem} ({path.name})", f"recipe:{key}")
        self.picker.blockSignals(False)

    # -- picking --------------------------------------------------------------------------------
    @property
    def selection(self) -> tuple[str, str]:
        """("protocol", name) or ("recipe", path) of the current pick."""
        kind, _, key = str(self.picker.currentData() or "").partition(":")
        return kind, key

    def select(self, kind: str, key: str) -> bool:
        """Pick a protocol by name or a recipe by path; False if it is not in the picker."""
        if kind == "recipe":
            key = str(Path(key).resolve())
        index = self.picker.findData(f"{kind}:{key}")
        if index < 0:
            return False
        self.picker.setCurrentIndex(index)
        return True

    def _on_pick(self) -> None:
        if self.protocol is not None:
            self._last_values[self.protocol.name] = self.form.values()
        kind, key = self.selection
        self.protocol, self.recipe, self._recipe_error = None, None, ""
        if kind == "protocol":
            self.protocol = get_protocol(key)
            self.title.setText(f"<b>{self.protocol.title}</b> ({key})")
            self.form.set_model(self.protocol.Parameters)
            self.form.set_values(self._last_values.get(key, {}))
            self.stack.setCurrentIndex(0)
            self._refresh_presets()
        elif kind == "recipe":
            self.form.set_model(None)
            try:
                self.recipe = load_recipe(key)
                self.title.setText(f"<b>Recipe {self.recipe.name}</b> ({Path(key).name})")
                self.recipe_view.setPlainText(recipe_summary(self.recipe))
            except LabsynError as exc:
                self._recipe_error = str(exc)
                self.title.setText(f"<b>Recipe</b> {Path(key).name}")
                self.recipe_view.setPlainText(f"cannot read this recipe:\n{exc}")
            self.stack.setCurrentIndex(1)
        self.preset_row.setEnabled(kind == "protocol")
        self.reset_button.setEnabled(kind == "protocol")
        self.validate()

    def _open_recipe_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open recipe", str(Path.cwd()),
                                              "Recipes (*.yaml *.yml)")
        if path:
            self.add_recipe_file(path)

    def add_recipe_file(self, path: str | Path) -> bool:
        """Add a recipe file to the picker (remembered in settings) and pick it; a file that
        cannot be read as a recipe is refused with the reason shown."""
        path = Path(path).resolve()
        try:
            load_recipe(path)
        except (LabsynError, OSError) as exc:
            self._show(False, f"recipe refused: {exc}")
            return False
        remembered = [p for p in load_json(RECIPES_KEY, []) if p != str(path)]
        save_json(RECIPES_KEY, [*remembered, str(path)])
        if self.picker.findData(f"recipe:{path}") < 0:
            self.picker.addItem(f"recipe: {path.stem} ({path.name})", f"recipe:{path}")
        self.select("recipe", str(path))
        return True

    # -- station and validation -----------------------------------------------------------------
    def set_station(self, station: Any) -> None:
        """The station parameters are checked against (None: no station open)."""
        self.station = station
        self.validate()

    @property
    def valid(self) -> bool:
        return self._valid

    @property
    def reason(self) -> str:
        """Why Start is disabled ('' when valid)."""
        return "" if self._valid else self._reason

    def validate(self) -> bool:
        """Check the current pick; mark the fields the error names; enable Start if it passes."""
        reason, fields = self._check()
        self.form.mark(fields)
        self._show(not reason, reason)
        return self._valid

    def _check(self) -> tuple[str, list[str]]:
        kind, _ = self.selection
        if kind == "protocol":
            try:
                params = self.protocol.parameters(self.form.values())
            except LabsynError as exc:
                return str(exc), self.form.fields_named_in(str(exc))
            if self.station is None:
                return "no station open: open one to check and run", []
            try:
                self.protocol.check(self.protocol.resolve(params, self.station), self.station)
            except Exception as exc:  # anything check raises keeps Start off, with its text
                return str(exc) or type(exc).__name__, self.form.fields_named_in(str(exc))
            return "", []
        if kind == "recipe":
            if self.recipe is None:
                return self._recipe_error or "no recipe", []
            if self.station is None:
                return "no station open: open one to check and run", []
            try:
                check_recipe(self.recipe, self.station)
            except Exception as exc:
                return str(exc) or type(exc).__name__, []
            return "", []
        return "pick a protocol or a recipe", []

    def _show(self, valid: bool, reason: str) -> None:
        changed = (valid, reason) != (self._valid, self._reason)
        self._valid, self._reason = valid, reason
        self.start_button.setEnabled(valid)
        self.queue_button.setEnabled(valid)
        tip = "" if valid else f"disabled: {reason}"
        self.start_button.setToolTip(tip)
        self.queue_button.setToolTip(tip)
        if valid:
            name = getattr(getattr(self.station, "config", None), "name", "the station")
            self.error_label.setStyleSheet(OK_STYLE)
            self.error_label.setText(f"ready: checked against {name}")
        else:
            self.error_label.setStyleSheet(ERROR_STYLE)
            self.error_label.setText(reason)
        if changed:
            self.validity_changed.emit(valid, "" if valid else reason)

    # -- jobs -----------------------------------------------------------------------------------
    def device_id(self) -> DeviceId:
        return DeviceId(wafer=self.wafer_edit.text().strip(), die=self.die_edit.text().strip(),
                        device=self.device_edit.text().strip())

    def job(self) -> Job | None:
        """The Job for the current pick, or None while it is invalid."""
        if not self.validate():
            return None
        device = self.device_id()
        where = "/".join(p for p in (device.wafer, device.die, device.device) if p)
        if self.recipe is not None:
            kind, name, params = "recipe", self.recipe.name, self.recipe
        else:
            kind, name = "protocol", self.protocol.name
            params = self.protocol.parameters(self.form.values()).model_dump()
        label = f"{name} @ {where}" if where else name
        return Job(kind=kind, name=name, params=params, device=device, label=label)

    def request_start(self) -> None:
        job = self.job()
        if job is not None:
            self.save_state()
            self.start_requested.emit(job)

    def request_queue(self) -> None:
        job = self.job()
        if job is not None:
            self.save_state()
            self.queue_requested.emit(job)

    # -- presets --------------------------------------------------------------------------------
    def _preset_name(self) -> str:
        return self.preset_box.currentText().strip()

    def _presets(self) -> dict[str, Any]:
        return load_json(preset_key(self.protocol.name), {}) if self.protocol else {}

    def preset_names(self) -> list[str]:
        return sorted(self._presets())

    def save_preset(self, name: str) -> bool:
        """Store the current entries under `name` for this protocol."""
        if self.protocol is None or not name:
            return False
        presets = self._presets()
        presets[name] = self.form.values()
        save_json(preset_key(self.protocol.name), presets)
        self._refresh_presets(name)
        return True

    def load_preset(self, name: str) -> bool:
        values = self._presets().get(name)
        if self.protocol is None or values is None:
            return False
        self.form.reset_defaults()
        self.form.set_values(values)
        return True

    def delete_preset(self, name: str) -> bool:
        presets = self._presets()
        if self.protocol is None or presets.pop(name, None) is None:
            return False
        save_json(preset_key(self.protocol.name), presets)
        self._refresh_presets()
        return True

    def _refresh_presets(self, current: str = "") -> None:
        self.preset_box.blockSignals(True)
        self.preset_box.clear()
        self.preset_box.addItems(self.preset_names())
        self.preset_box.setEditText(current)
        self.preset_box.blockSignals(False)

    # -- state ----------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """The pick, the entries per protocol and the device, JSON-able (for settings)."""
        values = dict(self._last_values)
        if self.protocol is not None:
            values[self.protocol.name] = self.form.values()
        return {"selection": list(self.selection), "values": values,
                "device": self.device_id().as_dict()}

    def restore_state(self, state: dict[str, Any]) -> None:
        """Undo `state()`: entries, device fields and the pick."""
        self._last_values.update(state.get("values") or {})
        device = state.get("device") or {}
        self.wafer_edit.setText(device.get("wafer", ""))
        self.die_edit.setText(device.get("die", ""))
        self.device_edit.setText(device.get("device", ""))
        kind, key = [*(state.get("selection") or []), "", ""][:2]
        self.protocol = None  # so the pick below does not overwrite the restored entries
        self.picker.blockSignals(True)
        if kind:
            self.select(kind, key)
        self.picker.blockSignals(False)
        self._on_pick()

    def save_state(self) -> None:
        save_json(LAST_KEY, self.state())
