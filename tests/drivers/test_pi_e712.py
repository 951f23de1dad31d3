"""PIE712 command-level tests: the exact GCS exchanges (pymeasure's expected_protocol)."""

from __future__ import annotations

import pytest
from pymeasure.test import expected_protocol

from labsyn.clock import SimClock
from labsyn.drivers.pi_e712 import PIE712
from labsyn.errors import InstrumentError, InstrumentReportedError, LimitError

INIT = PIE712.init_exchanges
POS = "1=50.000000 \n2=50.000000 \n3=50.000000"


def test_align_defines_both_routines_in_one_write_and_runs_them() -> None:
    pairs = [*INIT,
             ("FDR AREA 1 100 2 100 F 50 MP1 50 MP2 50\nFDG GRAD 1 2 MAA 3 F 10", None),
             ("ERR?", "0"), ("FRS AREA", None), ("ERR?", "0"), ("FRP? AREA", "AREA=2"),
             ("FRP? AREA", "AREA=0"), ("FRS GRAD", None), ("ERR?", "0"),
             ("FRP? GRAD", "GRAD=0"), ("FRR? GRAD 2", "GRAD 2=0.998"), ("POS?", POS),
             ("FRR? GRAD 1", "GRAD 1=1")]
    with expected_protocol(PIE712, pairs, clock=SimClock()) as nano:
        result = nano.align(100.0, 100.0, F=50, MP1=50, MP2=50, GMAA=3)
    assert result.success and result.signal == pytest.approx(0.998)
    assert result.position == {"1": 50.0, "2": 50.0, "3": 50.0}


def test_ranges_axes_and_options_are_refused_before_sending() -> None:
    with expected_protocol(PIE712, INIT, clock=SimClock()) as nano:
        with pytest.raises(LimitError, match="scan range"):
            nano.align(150.0, 10.0)
        with pytest.raises(LimitError, match="axis"):
            nano.align(10.0, 10.0, axes=("1", "4"))
        with pytest.raises(LimitError, match="option"):
            nano.align(10.0, 10.0, XX=1)
        with pytest.raises(LimitError, match="allowed"):
            nano.frequency = 5000.0


def test_controller_error_surfaces_with_its_code() -> None:
    pairs = [*INIT, ("MOV 1 20", None), ("ERR?", "73")]
    with expected_protocol(PIE712, pairs, clock=SimClock()) as nano:
        with pytest.raises(InstrumentReportedError, match="73, Wave generator or fast"):
            nano.move_to({"1": 20.0})


def test_safe_off_stops_all_and_latches() -> None:
    pairs = [*INIT, ("\x18", None), ("ERR?", "10")]
    with expected_protocol(PIE712, pairs, clock=SimClock()) as nano:
        nano.safe_off()
        with pytest.raises(InstrumentError, match="rearm"):
            nano.move_to({"1": 20.0})
