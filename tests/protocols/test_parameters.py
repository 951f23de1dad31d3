"""Parameter errors name the parameter the user set, and what is allowed; nothing is sent."""

from __future__ import annotations

import time
from typing import Any

import pytest

from labsyn.engine import Runner, RunState
from labsyn.errors import ConfigError, LimitError
from labsyn.protocols import get_protocol
from tests.engine.conftest import open_station

from .conftest import WriteSpy


@pytest.mark.parametrize(("name", "params", "error", "match"), [
    ("iv-sweep", {"v_set": 6.0}, LimitError, r"iv-sweep parameter v_set \(.*TE voltage\) = 6\.0"
                                             r".*allowed \|V\| ≤ 5 V"),
    ("iv-sweep", {"set_compliance": 2e-3}, LimitError,
     r"iv-sweep parameter set_compliance \(.*compliance\) = 0\.002.*≤ 0\.001 A"),
    ("forming", {"mode": "pulsed", "pulse_width": 1e-4}, LimitError,
     r"forming: forming pulse pulse width = '0\.0001 s'.*allowed 0\.001 s.*; set by v_max, "
     r"pulse_width"),
    ("forming", {"v_start": 3.0, "v_max": 2.0}, ConfigError, r"v_start = 3 V must be below"),
    ("forming", {"mode": "pulsed", "r_threshold": "none"}, ConfigError,
     r"pulsed mode needs r_threshold or relative_drop"),
])
def test_refused_parameters_name_themselves_and_send_nothing(
        name: str, params: dict[str, Any], error: type[Exception], match: str) -> None:
    with open_station() as station:
        spy = WriteSpy(station)
        with pytest.raises(error, match=match):
            Runner(station, get_protocol(name), params)
        assert spy.output_commands() == []


def test_none_turns_an_optional_criterion_off() -> None:
    params = get_protocol("forming").parameters({"mode": "pulsed", "r_threshold": "none",
                                                  "relative_drop": "0.5"})
    assert params.r_threshold is None and params.relative_drop == 0.5


def test_an_aborted_run_says_so_in_its_missing_figures() -> None:
    with open_station(clock="paced", speedup=20.0) as station:
        runner = Runner(station, get_protocol("forming"), {"v_step": 0.01, "dwell": 0.05})
        runner.start()
        time.sleep(0.5)
        runner.abort("operator abort")
        result = runner.wait(20)
    assert result is not None and result.status == RunState.ABORTED
    v_form = result.figures["v_form"]
    assert not v_form.ok and v_form.reason.startswith("run aborted (operator abort)")
