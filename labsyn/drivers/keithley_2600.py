"""Keithley 2600B System SourceMeter (2636B first) in its TSP (Lua) language: two channels.

smua and smub are pymeasure `Channel`s (``channels_by_number = {1: smua, 2: smub}``), each a
`SourceMeter` for one DUT terminal, with strict validators from the 2636B: V ranges 0.2/2/20/200 V,
limiti 100 pA–1.5 A, limitv 20 mV–200 V, NPLC 0.001–25, and the power envelope (at most 0.1 A
where more than 20 V is sourced) checked on the whole configuration. Queries are ``print(...)``;
errors come from ``errorqueue`` (``code\\tmessage\\tseverity\\tnode``). A `Sequence` segment is one
loaded script (``loadscript labsynSeq<token>`` … ``endscript``), one run, a wait on the clock in
≤ 50 ms slices and one query that waits on the instrument and returns the buffer
(`keithley_2600_script`): four transactions per segment, whatever its length.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from pymeasure.instruments import Instrument

from labsyn.errors import InstrumentError, InstrumentReplyError

from .base import MAX_ERROR_READS, LabsynInstrument
from .keithley_2600_channel import (
    ABORT_SLICE_S,
    CURRENT_RANGES,
    HIGH_VOLTAGE,
    HIGH_VOLTAGE_MAX_CURRENT,
    KNOWN_MODELS,
    MAX_CURRENT,
    MAX_NPLC,
    MAX_READINGS,
    MAX_VOLTAGE,
    MIN_CURRENT_LIMIT,
    MIN_NPLC,
    MIN_PULSE_WIDTH,
    MIN_VOLTAGE_LIMIT,
    PERIOD_MARGIN_S,
    RAMP_ABOVE_V,
    TIMERS,
    VOLTAGE_RANGES,
    Keithley2600Channel,
    check_power_envelope,
    tsp_on_off,
)
from .keithley_2600_script import staircase_script

__all__ = ["ABORT_SLICE_S", "CURRENT_RANGES", "HIGH_VOLTAGE", "HIGH_VOLTAGE_MAX_CURRENT",
           "KNOWN_MODELS", "MAX_CURRENT", "MAX_NPLC", "MAX_READINGS", "MAX_VOLTAGE",
           "MIN_CURRENT_LIMIT", "MIN_NPLC", "MIN_PULSE_WIDTH", "MIN_VOLTAGE_LIMIT",
           "PERIOD_MARGIN_S", "RAMP_ABOVE_V", "TIMERS", "VOLTAGE_RANGES", "Keithley2600",
           "Keithley2600Channel", "check_power_envelope", "parse_tsp_error", "staircase_script",
           "tsp_on_off"]


class Keithley2600(LabsynInstrument):
    """Keithley 2600B (2634B/2635B/2636B) SourceMeter; its channels are the `SourceMeter`s."""

    channels = Instrument.MultiChannelCreator(Keithley2600Channel, ("a", "b"), prefix="smu")
    model = Instrument.measurement("print(localnode.model)", "Get the model number.", cast=str)
    serial_number = Instrument.measurement("print(localnode.serialno)", "Get the serial "
                                           "number.", cast=str)

    init_exchanges: ClassVar[list[tuple[str, str | None]]] = [
        ("print(localnode.model)", "2636B")]  # for tests

    def __init__(self, adapter: Any, name: str = "Keithley 2636B", **kwargs: Any) -> None:
        kwargs.setdefault("read_termination", "\n")
        kwargs.setdefault("write_termination", "\n")
        super().__init__(adapter, name, **kwargs)
        self._line_frequency: float | None = None
        model = self.ask("print(localnode.model)").strip()
        if model not in KNOWN_MODELS:
            raise InstrumentError(self.name, "print(localnode.model)", f"model {model!r} is "
                                  f"not one of {', '.join(KNOWN_MODELS)} (2636B limits)")
        self.channels_by_number: dict[int, Keithley2600Channel] = {1: self.smua}
        if model != "2635B":  # the 2635B has smua only
            self.channels_by_number[2] = self.smub

    @property
    def line_frequency(self) -> float:
        if self._line_frequency is None:
            self._line_frequency = self.number("print(localnode.linefreq)")
        return self._line_frequency

    def reset(self) -> None:
        """``reset()``: both channels to defaults; forget what the driver knew of them."""
        self.write("reset()")
        for channel in self.channels_by_number.values():
            channel._known.clear()

    # -- error queue (TSP) ------------------------------------------------------------------------
    @property
    def next_error(self) -> tuple[int, str]:
        """Get the oldest ``errorqueue`` entry as (code, message); (0, ...) when empty."""
        return parse_tsp_error(self.name, self.ask("print(errorqueue.next())"))

    def errors(self) -> list[tuple[int, str]]:
        """Read and empty the error queue: ``[(code, message), ...]``."""
        found: list[tuple[int, str]] = []
        with self.lock:
            for _ in range(MAX_ERROR_READS):
                count = self.number("print(errorqueue.count)")
                if not count > 0:
                    break
                for _ in range(int(count)):
                    code, message = self.next_error
                    if code != 0:
                        found.append((code, message))
                if len(found) >= MAX_ERROR_READS:
                    break
        return found

    # -- safe state -------------------------------------------------------------------------------
    def safe_off(self, channels: tuple[Keithley2600Channel, ...] | None = None) -> None:
        """From any state: device clear (ends a running script), ``smuX.abort()``, levels to
        0, outputs off, verified with one ``print(smua.source.output, smub.source.output)``.
        Outputs then stay off until `rearm()` (the latch holds for both channels)."""
        self.safed.set()
        chosen = channels or tuple(self.channels_by_number.values())
        names = [c.smu for c in chosen]
        steps = [lambda: self.write("\n".join(f"{x}.abort()" for x in names))]
        steps += [lambda c=c: self._ramp_down(c) for c in chosen]
        steps.append(lambda: self.write("\n".join(
            line for x in names for line in (f"{x}.source.levelv = 0",
                                             f"{x}.source.leveli = 0",
                                             f"{x}.source.output = 0"))))
        steps.append(lambda: self._check_outputs_off(names))
        # the device clear before the lock also ends a script a worker's read waits on
        problems = self.safe_steps(steps)
        for channel in chosen:
            channel._known.pop("levelv", None)
        if problems:
            raise problems[0]

    def _check_outputs_off(self, names: list[str]) -> None:
        query = f"print({', '.join(f'{x}.source.output' for x in names)})"
        try:
            states = self.ask(query).strip().split("\t")
            still_on = len(states) != len(names) or any(float(s) != 0 for s in states)
        except ValueError:
            raise InstrumentReplyError(self.name, query, "output states are not numbers"
                                       ) from None
        if still_on:
            raise InstrumentError(self.name, query, f"output still on: {' '.join(states)}")

    def _ramp_down(self, channel: Keithley2600Channel) -> None:
        level = channel._known.get("levelv", 0.0)
        if abs(level) > RAMP_ABOVE_V:
            for value in np.linspace(level, 0.0, int(math.ceil(abs(level) / 5.0)) + 1)[1:-1]:
                self.write(f"{channel.smu}.source.levelv = {value:.6g}")
                self.clock.sleep(0.01)


def parse_tsp_error(instrument: str, reply: str) -> tuple[int, str]:
    """``-2.86000e+02\\tTSP Runtime error …\\t2.0e+01\\t1.0e+00`` → ``(-286, "TSP Runtime…")``."""
    fields = reply.strip("\r\n").split("\t")
    try:
        code = int(float(fields[0]))
    except ValueError:
        raise InstrumentReplyError(instrument, "print(errorqueue.next())",
                                   f"reply {reply[:80]!r} is not 'code<TAB>message<TAB>"
                                   "severity<TAB>node'") from None
    return code, fields[1].strip() if len(fields) > 1 else ""
