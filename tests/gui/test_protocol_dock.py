"""The protocol dock: generated form, inline validation against the demo station, presets,
recipes, device ids and the Jobs it asks to start or queue."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest

from labsyn.batch import Recipe
from labsyn.gui.controller import Job
from labsyn.gui.param_form import INVALID_STYLE, ParamForm, field_kind
from labsyn.gui.protocol_dock import ProtocolDock, example_recipe_files
from labsyn.gui.settings import load_json
from labsyn.gui.station_holder import demo_station_path
from labsyn.protocols import PROTOCOLS, get_protocol
from labsyn.station import Station
from labsyn.store import DeviceId


@pytest.fixture(scope="module")
def station() -> Iterator[Station]:
    station = Station.open(demo_station_path())
    yield station
    station.close()


@pytest.fixture
def dock(qtbot, station: Station) -> ProtocolDock:
    dock = ProtocolDock(station)
    qtbot.addWidget(dock)
    assert dock.select("protocol", "forming")
    return dock


def type_into(qtbot, dock: ProtocolDock, name: str, text: str) -> None:
    editor = dock.form.editor(name)
    editor.clear()
    qtbot.keyClicks(editor, text)


def test_form_has_one_editor_per_parameter_with_units_defaults_and_tooltips(dock) -> None:
    names = list(dock.protocol.Parameters.model_fields)
    assert dock.form.names == names
    assert dock.form.editor("v_max").text() == "4.0"
    assert dock.form.editor("mode").currentText() == "dc"  # a Literal is a combo box
    assert [dock.form.editor("mode").itemText(i) for i in range(2)] == ["dc", "pulsed"]
    assert dock.form.editor("relative_drop").text() == "none"  # Optional, default None
    tip = dock.form.editor("v_max").toolTip()
    assert "never goes beyond" in tip and "> 0" in tip and "≤ 200 V" in tip
    assert "default: 4.0" in tip
    assert dock.valid, dock.reason
    assert dock.start_button.isEnabled() and dock.queue_button.isEnabled()


def test_field_kinds_and_every_protocols_defaults_pass_its_model(qtbot) -> None:
    assert field_kind(float) == ("float", False, ())
    assert field_kind(float | None) == ("float", True, ())
    assert field_kind(bool) == ("bool", False, ())
    assert field_kind(Literal["a", "b"]) == ("choice", False, ("a", "b"))
    form = ParamForm()
    qtbot.addWidget(form)
    for name in PROTOCOLS:
        protocol = get_protocol(name)
        form.set_model(protocol.Parameters)
        assert form.names == list(protocol.Parameters.model_fields)
        protocol.parameters(form.values())


def test_voltage_above_station_limit_disables_start_until_fixed(qtbot, dock) -> None:
    with qtbot.waitSignal(dock.validity_changed, timeout=2000) as blocker:
        type_into(qtbot, dock, "v_max", "9")
    assert blocker.args[0] is False and "v_max" in blocker.args[1]
    assert not dock.valid
    assert not dock.start_button.isEnabled() and not dock.queue_button.isEnabled()
    assert "v_max" in dock.error_label.text() and "5 V" in dock.error_label.text()
    assert "v_max" in dock.start_button.toolTip()
    assert dock.form.marked == {"v_max"}
    assert dock.form.editor("v_max").styleSheet() == INVALID_STYLE
    with qtbot.assertNotEmitted(dock.start_requested):
        dock.start_button.click()

    type_into(qtbot, dock, "v_max", "4.5")
    assert dock.valid and dock.start_button.isEnabled()
    assert dock.form.marked == set() and dock.form.editor("v_max").styleSheet() == ""
    assert "ready" in dock.error_label.text()


def test_non_numeric_and_out_of_bounds_entries_are_marked(qtbot, dock) -> None:
    type_into(qtbot, dock, "dwell", "1O ms")
    assert not dock.valid and dock.form.marked == {"dwell"}
    assert "dwell" in dock.error_label.text() and "number" in dock.error_label.text()
    type_into(qtbot, dock, "dwell", "0.01")
    assert dock.valid
    type_into(qtbot, dock, "compliance", "-1")  # the model's own bound (> 0)
    assert dock.form.marked == {"compliance"} and "> 0" in dock.reason
    type_into(qtbot, dock, "compliance", "1e-4")
    type_into(qtbot, dock, "v_start", "4.5")  # a cross-field check names v_start first
    assert not dock.valid and "v_start" in dock.form.marked and "below" in dock.reason
    dock.reset_button.click()
    assert dock.valid and dock.form.editor("v_start").text() == "0.0"


def test_optional_field_takes_none_and_a_value(qtbot, dock) -> None:
    type_into(qtbot, dock, "relative_drop", "0.5")
    assert dock.valid
    assert dock.job().params["relative_drop"] == 0.5
    type_into(qtbot, dock, "relative_drop", "none")
    assert dock.valid and dock.job().params["relative_drop"] is None
    type_into(qtbot, dock, "relative_drop", "2")  # lt 1
    assert not dock.valid and dock.form.marked == {"relative_drop"}


def test_without_station_start_is_disabled_with_the_reason(qtbot, dock, station) -> None:
    dock.set_station(None)
    assert not dock.valid and "no station" in dock.error_label.text()
    dock.set_station(station)
    assert dock.valid


def test_start_and_queue_emit_a_job_with_params_and_device(qtbot, dock) -> None:
    type_into(qtbot, dock, "v_max", "3.5")
    dock.form.editor("mode").setCurrentIndex(1)  # pulsed
    qtbot.keyClicks(dock.wafer_edit, "W7")
    qtbot.keyClicks(dock.die_edit, "2,3")
    qtbot.keyClicks(dock.device_edit, "11")
    with qtbot.waitSignal(dock.start_requested, timeout=2000) as started:
        dock.start_button.click()
    job = started.args[0]
    assert isinstance(job, Job) and job.kind == "protocol" and job.name == "forming"
    assert job.params["v_max"] == 3.5 and job.params["mode"] == "pulsed"
    assert job.device == DeviceId(wafer="W7", die="2,3", device="11")
    assert job.label == "forming @ W7/2,3/11"
    with qtbot.waitSignal(dock.queue_requested, timeout=2000) as queued:
        dock.queue_button.click()
    assert queued.args[0].params == job.params


def test_preset_round_trips_through_settings(qtbot, dock, station, settings_file) -> None:
    type_into(qtbot, dock, "v_max", "3.3")
    dock.form.editor("polarity").setCurrentIndex(1)
    assert dock.save_preset("gentle")
    assert settings_file.is_file()
    assert load_json("presets/forming")["gentle"]["v_max"] == "3.3"

    other = ProtocolDock(station, restore=False)  # a fresh dock reads the same settings
    qtbot.addWidget(other)
    other.select("protocol", "forming")
    assert other.preset_names() == ["gentle"]
    assert other.form.editor("v_max").text() == "4.0"
    assert other.load_preset("gentle")
    assert other.form.editor("v_max").text() == "3.3"
    assert other.form.editor("polarity").currentText() == "negative"
    assert other.valid
    other.select("protocol", "iv-sweep")  # presets are per protocol
    assert other.preset_names() == []
    other.select("protocol", "forming")
    assert other.delete_preset("gentle") and other.preset_names() == []
    assert load_json("presets/forming") == {}


def test_last_entries_persist_across_docks(qtbot, dock, station) -> None:
    type_into(qtbot, dock, "v_max", "3.1")
    qtbot.keyClicks(dock.wafer_edit, "W9")
    dock.request_queue()
    again = ProtocolDock(station)
    qtbot.addWidget(again)
    assert again.selection == ("protocol", "forming")
    assert again.form.editor("v_max").text() == "3.1"
    assert again.wafer_edit.text() == "W9"


def test_every_protocol_and_the_example_recipes_are_in_the_picker(dock) -> None:
    items = [str(dock.picker.itemData(i) or ":").split(":", 1)
             for i in range(dock.picker.count())]
    assert [key for kind, key in items if kind == "protocol"] == list(PROTOCOLS)
    recipes = {Path(key).name for kind, key in items if kind == "recipe"}
    assert {"form_and_cycle.yaml", "demo_recipe.yaml"} <= recipes
    assert {p.name for p in example_recipe_files()} <= recipes


def test_a_recipe_validates_and_shows_its_steps(qtbot, dock) -> None:
    path = next(p for p in example_recipe_files() if p.name == "form_and_cycle.yaml")
    assert dock.select("recipe", str(path))
    assert dock.stack.currentWidget() is dock.recipe_view
    summary = dock.recipe_view.toPlainText()
    assert "1. forming (forming): v_max=4.0" in summary
    assert "2. iv-sweep (iv-sweep)" in summary and "${forming.i_form * 5}" in summary
    assert dock.valid, dock.reason
    assert not dock.preset_row.isEnabled()
    with qtbot.waitSignal(dock.queue_requested, timeout=2000) as queued:
        dock.queue_button.click()
    job = queued.args[0]
    assert job.kind == "recipe" and job.name == "form-and-cycle"
    assert isinstance(job.params, Recipe)


def test_a_recipe_over_the_station_limit_is_refused_with_step_and_key(qtbot, dock,
                                                                      tmp_path) -> None:
    path = tmp_path / "too_hot.yaml"
    path.write_text("name: too-hot\nsteps:\n  - protocol: iv-sweep\n    params: {cycles: 2}\n"
                    "  - name: zap\n    protocol: forming\n    params: {v_max: 9.0}\n")
    assert dock.add_recipe_file(path)
    assert dock.selection == ("recipe", str(path.resolve()))
    assert not dock.valid and not dock.start_button.isEnabled()
    assert "step 'zap'" in dock.reason and "v_max" in dock.reason
    assert load_json("recipes/files") == [str(path.resolve())]  # remembered

    fresh = ProtocolDock(dock.station, restore=False)  # and back in the picker next time
    qtbot.addWidget(fresh)
    assert fresh.select("recipe", str(path))


def test_an_unreadable_recipe_is_refused_naming_the_step_and_key(qtbot, dock,
                                                                 tmp_path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text("name: typo\nsteps:\n  - protocol: forming\n  - protocol: iv-sweep\n"
                    "    params: {cycels: 3}\n")
    count = dock.picker.count()
    assert not dock.add_recipe_file(path)
    assert dock.picker.count() == count
    text = dock.error_label.text()
    assert "recipe refused" in text and "steps.1.params" in text and "cycels" in text
    assert "iv-sweep" in text and "did you mean 'cycles'" in text
    assert load_json("recipes/files", []) == []


def test_screenshot(qtbot, dock) -> None:
    dock.resize(460, 820)
    type_into(qtbot, dock, "v_max", "9")
    pixmap = dock.grab()
    assert not pixmap.isNull()
    pixmap.save("/tmp/protocol_dock.png")
