"""A form generated from a protocol's parameter model: one editor per parameter (numbers as
free text so bad entries can be marked, Literal as a combo box, bool as a check box), units
as suffix labels, help and bounds as tooltips, defaults filled, invalid fields marked red."""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, Literal, Union

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QWidget,
)

from labsyn.protocols.base import ProtocolParameters, describe_parameters

INVALID_STYLE = "border: 2px solid #d32f2f; border-radius: 2px;"
NONE_WORDS = ("", "none", "null")
_BOUND_SYMBOLS = (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤"))


def field_kind(annotation: Any) -> tuple[str, bool, tuple[Any, ...]]:
    """(kind, optional, choices) of a field annotation; kind is float, int, bool, str or
    choice (a Literal)."""
    optional = False
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        annotation = args[0] if len(args) == 1 else str
        origin = typing.get_origin(annotation)
    if origin is Literal:
        return "choice", optional, typing.get_args(annotation)
    if annotation is bool:
        return "bool", optional, ()
    if annotation is int:
        return "int", optional, ()
    if annotation is float:
        return "float", optional, ()
    return "str", optional, ()


def format_value(value: Any) -> str:
    """A parameter value as editable text (None as 'none')."""
    if value is None:
        return "none"
    return str(value)


def _bounds_text(row: Mapping[str, Any]) -> str:
    parts = [f"{symbol} {row[key]:g}" if isinstance(row[key], int | float) else
             f"{symbol} {row[key]}" for key, symbol in _BOUND_SYMBOLS if key in row]
    return ", ".join(parts)


class ParamForm(QWidget):
    """Editors for one parameter model; `values()` gives what `protocol.parameters` takes."""

    edited = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QFormLayout(self)
        self._layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._editors: dict[str, QWidget] = {}
        self._kinds: dict[str, tuple[str, bool, tuple[Any, ...]]] = {}
        self._defaults: dict[str, Any] = {}
        self._tooltips: dict[str, str] = {}
        self._marked: set[str] = set()
        self.model: type[ProtocolParameters] | None = None

    # -- building -------------------------------------------------------------------------------
    def set_model(self, model: type[ProtocolParameters] | None) -> None:
        """Rebuild the editors for `model` (None: an empty form), filled with its defaults."""
        while self._layout.rowCount():
            self._layout.removeRow(0)
        self._editors.clear()
        self._kinds.clear()
        self._defaults.clear()
        self._tooltips.clear()
        self._marked.clear()
        self.model = model
        if model is None:
            return
        for row in describe_parameters(model):
            name = row["name"]
            kind = field_kind(model.model_fields[name].annotation)
            self._kinds[name] = kind
            self._defaults[name] = row["default"]
            editor = self._make_editor(name, kind)
            tip = self._tooltip(row, kind)
            self._tooltips[name] = tip
            editor.setToolTip(tip)
            self._editors[name] = editor
            label = QLabel(name)
            label.setToolTip(tip)
            field = QWidget()
            box = QHBoxLayout(field)
            box.setContentsMargins(0, 0, 0, 0)
            box.addWidget(editor, 1)
            unit = QLabel(row["unit"])
            unit.setMinimumWidth(24)
            box.addWidget(unit)
            self._layout.addRow(label, field)
        self.reset_defaults()

    def _make_editor(self, name: str, kind: tuple[str, bool, tuple[Any, ...]]) -> QWidget:
        type_name, optional, choices = kind
        if type_name == "choice":
            combo = QComboBox()
            for choice in choices:
                combo.addItem(str(choice), choice)
            if optional:
                combo.addItem("none", None)
            combo.currentIndexChanged.connect(self.edited)
            return combo
        if type_name == "bool":
            box = QCheckBox()
            box.toggled.connect(self.edited)
            return box
        edit = QLineEdit()
        edit.setObjectName(name)
        if optional:
            edit.setPlaceholderText("none")
        edit.textEdited.connect(self.edited)
        return edit

    def _tooltip(self, row: Mapping[str, Any], kind: tuple[str, bool, tuple[Any, ...]]) -> str:
        type_name, optional, choices = kind
        lines = [row["help"] or row["name"]]
        bounds = _bounds_text(row)
        if type_name == "choice":
            bounds = " | ".join(str(c) for c in choices)
        unit = f" {row['unit']}" if row["unit"] and bounds and type_name != "choice" else ""
        if bounds:
            lines.append(f"allowed: {bounds}{unit}" + (" or none" if optional else ""))
        elif optional:
            lines.append("'none' (or empty) turns it off")
        lines.append(f"default: {format_value(row['default'])}")
        return "\n".join(lines)

    # -- values ---------------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return list(self._editors)

    def editor(self, name: str) -> QWidget:
        return self._editors[name]

    def tooltip(self, name: str) -> str:
        return self._tooltips[name]

    def values(self) -> dict[str, Any]:
        """The entries as the model parses them: numbers as their text, None for an empty or
        'none' optional entry."""
        out: dict[str, Any] = {}
        for name, editor in self._editors.items():
            optional = self._kinds[name][1]
            if isinstance(editor, QComboBox):
                out[name] = editor.currentData()
            elif isinstance(editor, QCheckBox):
                out[name] = editor.isChecked()
            else:
                text = editor.text().strip()  # type: ignore[attr-defined]
                out[name] = None if optional and text.lower() in NONE_WORDS else text
        return out

    def set_values(self, values: Mapping[str, Any]) -> list[str]:
        """Fill the editors from `values` (unknown keys are skipped and returned)."""
        unknown = []
        for name, value in values.items():
            editor = self._editors.get(name)
            if editor is None:
                unknown.append(name)
                continue
            editor.blockSignals(True)
            try:
                if isinstance(editor, QComboBox):
                    index = editor.findData(value)
                    editor.setCurrentIndex(index if index >= 0 else editor.findText(str(value)))
                elif isinstance(editor, QCheckBox):
                    editor.setChecked(bool(value) and str(value).lower() not in ("false", "0"))
                else:
                    editor.setText(format_value(value))  # type: ignore[attr-defined]
            finally:
                editor.blockSignals(False)
        self.edited.emit()
        return unknown

    def reset_defaults(self) -> None:
        self.set_values(self._defaults)

    # -- marking --------------------------------------------------------------------------------
    @property
    def marked(self) -> set[str]:
        """Names of the fields marked invalid."""
        return set(self._marked)

    def mark(self, names: Iterable[str]) -> None:
        """Mark exactly `names` invalid (red border); clears the others."""
        wanted = {n for n in names if n in self._editors}
        for name in self._marked | wanted:
            editor = self._editors[name]
            bad = name in wanted
            editor.setProperty("invalid", bad)
            editor.setStyleSheet(INVALID_STYLE if bad else "")
        self._marked = wanted

    def fields_named_in(self, message: str) -> list[str]:
        """The fields an error message names: those after 'parameter', else the first one
        mentioned."""
        if not self._editors:
            return []
        alternatives = "|".join(re.escape(n) for n in sorted(self._editors, key=len,
                                                             reverse=True))
        after = re.findall(rf"parameter '?({alternatives})\b", message)
        if after:
            return list(dict.fromkeys(after))
        first = re.search(rf"\b({alternatives})\b", message)
        return [first.group(1)] if first else []
