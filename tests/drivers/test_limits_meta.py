"""Meta-test: every setter of every driver, driven out of range, raises before anything is sent."""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from pymeasure.instruments.common_base import CommonBase
from pymeasure.test import expected_protocol

from labsyn.clock import SimClock
from labsyn.drivers.keithley_2450 import Keithley2450
from labsyn.drivers.sequence import PulseTrain, Sequence, Staircase
from labsyn.errors import LimitError
from labsyn.station.registry import DRIVERS


def init_exchanges(cls: type) -> list[tuple[str, str | None]]:
    """What the driver's constructor asks (each driver class declares it)."""
    return list(cls.init_exchanges)  # type: ignore[attr-defined]


def bad_values(values: Any) -> list[Any]:
    if isinstance(values, Mapping) or (isinstance(values, (list, set)) and values):
        return ["not-a-member", 12345, None]
    low, high = values
    span = max(abs(high - low), 1.0)
    return [high + 0.01 * span, low - 0.01 * span, math.nan, math.inf, "1.0"]


def setters(cls: type) -> Iterator[tuple[str, Any]]:
    for name, attr in inspect.getmembers(cls):
        if not isinstance(attr, property) or attr.fset is None:
            continue
        limits = getattr(attr.fset, "limits", None)
        if limits is None:
            parameters = inspect.signature(attr.fset).parameters
            if "values" not in parameters or parameters["set_command"].default is None:
                continue
            limits = parameters["values"].default
        yield name, limits


def channels(cls: type) -> Iterator[tuple[Any, type]]:
    """(channel id, channel class) of every pymeasure channel the driver creates."""
    for _, attr in inspect.getmembers(cls):
        if isinstance(attr, CommonBase.BaseChannelCreator):
            yield from ((cid, child) for child, cid in attr.pairs)


def targets(cls: type) -> Iterator[tuple[Any, type]]:
    """The instrument itself (channel None) and each of its channels."""
    yield None, cls
    yield from channels(cls)


CASES = [(entry.driver_class(), channel, name, value)
         for entry in DRIVERS.values()
         for channel, target in targets(entry.driver_class())
         for name, limits in setters(target)
         for value in bad_values(limits)]


def test_every_driver_has_setters_to_check() -> None:
    assert {cls for cls, _, _, _ in CASES} == {e.driver_class() for e in DRIVERS.values()}
    assert len({name for _, _, name, _ in CASES}) >= 10


@pytest.mark.parametrize(("cls", "channel", "name", "value"), CASES,
                         ids=[f"{c.__name__}{'' if ch is None else '.' + str(ch)}.{n}={v!r}"
                              for c, ch, n, v in CASES])
def test_out_of_range_setter_raises_before_sending(cls: type, channel: Any, name: str,
                                                   value: Any) -> None:
    with expected_protocol(cls, init_exchanges(cls), clock=SimClock()) as instrument:
        target = instrument if channel is None else instrument.channels[channel]
        with pytest.raises(LimitError) as info:
            setattr(target, name, value)
    assert "allowed" in str(info.value)


@pytest.mark.parametrize(("voltage", "limit"), [(25.0, 0.5), (-30.0, 0.2), (21.5, 0.106)])
def test_power_envelope_refuses_more_than_105_ma_above_21_v(voltage: float, limit: float) -> None:
    with expected_protocol(Keithley2450, init_exchanges(Keithley2450), clock=SimClock()) as smu:
        with pytest.raises(LimitError, match="0.105 A above 21 V"):
            smu.apply_voltage(voltage, limit)


def test_power_envelope_is_checked_against_the_present_level() -> None:
    pairs = [*init_exchanges(Keithley2450), (":SOUR:VOLT?", "3.0E+01")]
    with expected_protocol(Keithley2450, pairs, clock=SimClock()) as smu:
        with pytest.raises(LimitError, match="0.105 A above 21 V"):
            smu.current_limit = 0.5


@pytest.mark.parametrize(("segment", "match"), [
    (PulseTrain.identical(1.0, 10, 50e-9, 1e-3, 1e-3), "pulse width"),
    (PulseTrain.identical(1.0, 10, 2e-3, 2.1e-3, 1e-3, read_level=0.1, read_delay=1e-3),
     "period"),
    (Staircase((0.0, 250.0), 0.01, 1e-3), "level"),
    (Staircase((0.0, 30.0), 0.01, 0.5), "0.105 A above 21 V"),
    (Staircase((0.0, 1.0), 0.01, 2.0), "current limit"),
])
def test_sequences_beyond_the_2450_are_refused_before_sending(segment: Any, match: str) -> None:
    pairs = init_exchanges(Keithley2450) + ([(":SYST:LFR?", "50")] if match == "period" else [])
    with expected_protocol(Keithley2450, pairs, clock=SimClock()) as smu:
        with pytest.raises(LimitError, match=match):
            smu.check_sequence(Sequence("TE", (segment,)))
