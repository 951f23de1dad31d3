"""Keysight B2901A / B2902A Precision Source/Measure Unit (SCPI with channel suffixes).

Neither pymeasure nor QCoDeS has a B2900 driver; this one speaks the B2900's SCPI
(``:SOUR1:…``, ``:SENS1:CURR:PROT``, ``(@1)`` channel lists), reads the model from ``*IDN?``
(B2901A: one channel, B2902A: two) and gives each channel as a `B2900Channel` that implements
`SourceMeter` (``channels_by_number``). Validators are strict; the per-channel power envelope and
the B2902A's shared-supply rule are checked on the whole configuration. Sequences run
instrument-side in four transactions per piece: the configure message, an error check,
``:INIT (@n);*OPC?`` (its reply read once a serial poll shows MAV, after a clock-sliced wait that
an abort interrupts) and ``:FETC:ARR? (@n)``; one error check ends the run
(keysight_b2900_program.py maps staircases and pulse trains onto the trigger model).
``stop_on_limit`` staircases run with ``:OUTP:PROT`` on: the output switches off at the first
reading in compliance, and the data end there.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pymeasure.instruments import Instrument
from pyvisa.errors import VisaIOError

from labsyn.errors import InstrumentError, InstrumentReplyError

from .base import LabsynInstrument
from .keysight_b2900_channel import (
    MODELS,
    STB_MAV,
    B2900Channel,
)


class KeysightB2900(LabsynInstrument):
    """Keysight B2901A/B2902A; its channels (``channels_by_number``) implement `SourceMeter`."""

    channels = Instrument.MultiChannelCreator(B2900Channel, (1, 2))
    init_exchanges: ClassVar[list[tuple[str, str | None]]] = [  # for tests
        ("*IDN?", "Keysight Technologies,B2902A,MY51141234,3.4.2011.5100"),
        (":SYST:LFR?", "50")]

    def __init__(self, adapter: Any, name: str = "Keysight B2900", **kwargs: Any) -> None:
        kwargs.setdefault("read_termination", "\n")
        kwargs.setdefault("write_termination", "\n")
        super().__init__(adapter, name, **kwargs)
        idn = self.ask("*IDN?").strip()
        fields = [f.strip() for f in idn.split(",")]
        self.model = fields[1].upper() if len(fields) > 1 else ""
        if self.model not in MODELS:
            raise InstrumentError(self.name, "*IDN?", f"{idn!r} is not a B2900 this driver "
                                  f"knows ({', '.join(MODELS)})")
        if MODELS[self.model] == 1:  # a B2901A has no channel 2: nothing may address it
            delattr(self, self.channels.pop(2)._name)
        self.channels_by_number: dict[int, B2900Channel] = dict(self.channels)
        self.line_frequency = self.number(":SYST:LFR?")
        if self.line_frequency not in (50.0, 60.0):
            raise InstrumentReplyError(self.name, ":SYST:LFR?", f"line frequency "
                                       f"{self.line_frequency:g} Hz is not 50 or 60 Hz")

    def channel_list(self, channels: list[B2900Channel] | None = None) -> str:
        numbers = [c.number for c in (channels or self.channels_by_number.values())]
        return "(@" + ",".join(map(str, numbers)) + ")"

    def reset(self) -> None:
        """``*RST``: instrument defaults; forget what the channels knew of the settings."""
        super().reset()
        for channel in self.channels_by_number.values():
            channel._known.clear()

    def reply_waiting(self) -> bool:
        """Serial poll (no message): does a reply wait (MAV)? Backends without serial poll
        (stock pyvisa-sim, whose replies are there at once) count as ready."""
        with self.lock:
            try:
                return bool(self.adapter.connection.read_stb() & STB_MAV)
            except NotImplementedError:
                return True
            except (VisaIOError, OSError) as exc:
                raise self._translate("serial poll", exc) from exc

    def discard_reply(self) -> None:
        """Drop a reply still pending (``*OPC?`` of an aborted run): device clear, or read it
        where the backend has no device clear (stock pyvisa-sim answers at once)."""
        with self.lock:
            try:
                self.adapter.connection.clear()
            except NotImplementedError:
                self.read()
            except (VisaIOError, OSError) as exc:
                raise self._translate("device clear", exc) from exc

    def safe_off(self) -> None:
        """From any state: stop every channel, sources to 0, outputs off, verified; outputs
        are then held off until `rearm()`."""
        self.switch_off(list(self.channels_by_number.values()))

    def switch_off(self, channels: list[B2900Channel]) -> None:
        """Latch the safe state, abort, zero and switch off `channels`, check each is off."""
        self.safed.set()
        problems = self.safe_steps((
            lambda: self.write(f":ABOR {self.channel_list(channels)}"),
            *(channel.zero_and_off for channel in channels),
            *(lambda n=channel.number: self._check_output_off(n) for channel in channels)))
        if problems:
            raise problems[0]

    def _check_output_off(self, number: int) -> None:
        command = f":OUTP{number}?"
        if self.ask(command).strip() not in ("0", "OFF"):
            raise InstrumentError(self.name, command, "output still on")

__all__ = ["B2900Channel", "KeysightB2900"]
